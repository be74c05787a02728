//! PostgreSQL store: production. Many replicas share one database; a run is changed under
//! its row lock, and claims skip rows other replicas hold.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

use super::sql::{DefinitionCache, Dialect};
use super::{DatabaseTarget, StoreError, StoreKind};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

pub struct PostgresStore {
    pool: PgPool,
    definitions: DefinitionCache,
}

impl PostgresStore {
    const KIND: StoreKind = StoreKind::Postgres;

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
            .bind(uuid::Uuid::now_v7())
            .execute(&pool)
            .await?;
        Ok(PostgresStore {
            pool,
            definitions: DefinitionCache::default(),
        })
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    async fn close_pools(&self) {
        self.pool.close().await;
    }
}

impl Dialect for PostgresStore {
    const FOR_UPDATE: &'static str = " FOR NO KEY UPDATE";
    const SKIP_LOCKED: &'static str = " FOR NO KEY UPDATE OF t, r SKIP LOCKED";
    // Quota checks count the leases of a kind, then insert: the table lock makes that atomic.
    const LOCK_LEASES: &'static str = "LOCK TABLE leases IN SHARE ROW EXCLUSIVE MODE";
    const LOCK_ADMISSION: &'static str = "SELECT pg_advisory_xact_lock(7301)";
}

sql_store!(PostgresStore, sqlx::Postgres);
