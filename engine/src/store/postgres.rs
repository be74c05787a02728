//! PostgreSQL store: production. Many replicas share one database.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool, Row};
use uuid::Uuid;

use super::{DatabaseTarget, Installation, Store, StoreError, StoreKind};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let target = DatabaseTarget::Postgres(url.to_string()).describe();
        let options =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
        let connect_err = |source| StoreError::ConnectPostgres {
            target: target.clone(),
            source,
        };
        // One plain connection first: the pool would retry a refused connection until its
        // acquire timeout, and a wrong DATABASE_URL deserves an answer at once.
        options
            .connect()
            .await
            .map_err(connect_err)?
            .close()
            .await?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(connect_err)?;
        // Several replicas may start at once: the migrator takes an advisory lock.
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate { target, source })?;
        sqlx::query("INSERT INTO installation (id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(Uuid::now_v7())
            .execute(&pool)
            .await?;
        Ok(PostgresStore { pool })
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Postgres
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn installation(&self) -> Result<Installation, StoreError> {
        let row = sqlx::query("SELECT id, created_at FROM installation")
            .fetch_one(&self.pool)
            .await?;
        Ok(Installation {
            id: row.try_get("id")?,
            created_at: row.try_get("created_at")?,
        })
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
