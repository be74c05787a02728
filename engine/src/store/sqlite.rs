//! SQLite store: the embedded default. WAL mode so readers never wait for the writer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use uuid::Uuid;

use super::{Installation, Store, StoreError, StoreKind};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::OpenSqlite {
            path: PathBuf::from(path),
            source,
        };
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(open_err)?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                target: format!("sqlite:{}", path.display()),
                source,
            })?;
        let store = SqliteStore { pool };
        store.ensure_installation().await?;
        Ok(store)
    }

    async fn ensure_installation(&self) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO installation (singleton, id, created_at) VALUES (1, ?, ?) ON CONFLICT DO NOTHING")
            .bind(Uuid::now_v7())
            .bind(Utc::now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Sqlite
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
