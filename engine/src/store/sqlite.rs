//! SQLite store: the embedded default. WAL mode so readers never wait for the writer, and a
//! single writer connection, so writes never race (SQLite allows one writer at a time).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::sql::{DefinitionCache, Dialect};
use super::{StoreError, StoreKind};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    definitions: DefinitionCache,
}

impl SqliteStore {
    const KIND: StoreKind = StoreKind::Sqlite;

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
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(open_err)?;
        MIGRATOR
            .run(&writer)
            .await
            .map_err(|source| StoreError::Migrate {
                target: format!("sqlite:{}", path.display()),
                source,
            })?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await
            .map_err(open_err)?;
        sqlx::query(
            "INSERT INTO installation (singleton, id, created_at) VALUES (1, $1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(Utc::now())
        .execute(&writer)
        .await?;
        Ok(SqliteStore {
            writer,
            reader,
            definitions: DefinitionCache::default(),
        })
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    async fn close_pools(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// One writer connection: every write transaction is already exclusive, so nothing is
/// locked explicitly.
impl Dialect for SqliteStore {
    const FOR_UPDATE: &'static str = "";
    const SKIP_LOCKED: &'static str = "";
    const LOCK_LEASES: &'static str = "";
    const LOCK_ADMISSION: &'static str = "";
}

sql_store!(SqliteStore, sqlx::Sqlite);
