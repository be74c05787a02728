//! Durable storage for the engine: one [`Store`] trait, two implementations (SQLite for the
//! embedded default, PostgreSQL for production) that pass the same conformance suite.

#[macro_use]
mod sql;
mod facets;
mod postgres;
mod sqlite;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::model::{
    AttemptResult, ChildOf, Millis, RunId, RunStatus, TaskId, TaskStatus, WorkerId,
};

pub use self::facets::{
    DispatchStore, LeaseStore, OutputStore, ReadStore, RecordStore, RunStore, ScheduleStore,
    TokenStore,
};
pub use self::postgres::PostgresStore;
pub use self::sqlite::SqliteStore;

/// Which database a store runs on; shown by `/readyz` and the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

impl std::fmt::Display for StoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
        })
    }
}

/// The identity of one Ratchet installation: created by the first start on a database and
/// kept for its lifetime, so a restart can prove it found its earlier data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Installation {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "DATABASE_URL is not a valid database URL ({0}); expected postgres://user:password@host:port/database or sqlite://path/to/file.db"
    )]
    InvalidUrl(String),
    #[error("cannot open the SQLite database {path}: {source}")]
    OpenSqlite { path: PathBuf, source: sqlx::Error },
    #[error(
        "cannot connect to PostgreSQL at {target}: {source}; check DATABASE_URL and that the server is running"
    )]
    ConnectPostgres { target: String, source: sqlx::Error },
    #[error("cannot apply the database migrations on {target}: {source}")]
    Migrate {
        target: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The request itself is wrong (names an unknown task, say).
    #[error("{0}")]
    Invalid(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// Where the store lives, parsed from `DATABASE_URL` (or its absence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    Sqlite(PathBuf),
    /// The full URL (it may hold a password: never print it, use [`DatabaseTarget::describe`]).
    Postgres(String),
}

impl DatabaseTarget {
    /// `None` means the embedded default: a SQLite file inside the data dir.
    pub fn from_url(url: Option<&str>, data_dir: &Path) -> Result<Self, StoreError> {
        let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(DatabaseTarget::Sqlite(data_dir.join("ratchet.db")));
        };
        let Some((scheme, rest)) = url.split_once(':') else {
            return Err(StoreError::InvalidUrl("it has no scheme".into()));
        };
        match scheme {
            "postgres" | "postgresql" => {
                sqlx::postgres::PgConnectOptions::from_str(url)
                    .map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
                Ok(DatabaseTarget::Postgres(url.to_string()))
            }
            "sqlite" => {
                let path = rest.trim_start_matches("//");
                let path = path.split('?').next().unwrap_or_default();
                if path.is_empty() {
                    return Err(StoreError::InvalidUrl(
                        "the sqlite URL has no file path".into(),
                    ));
                }
                Ok(DatabaseTarget::Sqlite(PathBuf::from(path)))
            }
            other => Err(StoreError::InvalidUrl(format!(
                "unsupported scheme '{other}'"
            ))),
        }
    }

    /// A description safe for logs and error messages: no password, no query string.
    pub fn describe(&self) -> String {
        match self {
            DatabaseTarget::Sqlite(path) => format!("sqlite:{}", path.display()),
            DatabaseTarget::Postgres(url) => {
                match sqlx::postgres::PgConnectOptions::from_str(url) {
                    Ok(o) => format!(
                        "{}:{}/{}",
                        o.get_host(),
                        o.get_port(),
                        o.get_database().unwrap_or("(default database)")
                    ),
                    Err(_) => "(invalid PostgreSQL URL)".into(),
                }
            }
        }
    }
}

/// The engine's durable state, every facet of it. Everything a replica needs to carry on
/// lives behind this trait; parts of the system hold only the facets they need.
#[async_trait]
pub trait Store:
    RunStore
    + DispatchStore
    + OutputStore
    + ReadStore
    + LeaseStore
    + TokenStore
    + ScheduleStore
    + RecordStore
    + 'static
{
    fn kind(&self) -> StoreKind;

    /// A cheap round trip to the database; `/readyz` is ready when this succeeds.
    async fn ping(&self) -> Result<(), StoreError>;

    /// This installation's identity (created by the first start).
    async fn installation(&self) -> Result<Installation, StoreError>;

    /// Close the connections, waiting for in-flight queries.
    async fn close(&self);
}

/// Which runs to list. Run ids are UUIDv7, so they sort by creation time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFilter {
    pub workflow: Option<String>,
    pub status: Option<RunStatus>,
    pub parent_task: Option<TaskId>,
    /// Created at or after (epoch ms).
    pub since: Option<Millis>,
    /// Created before (epoch ms).
    pub until: Option<Millis>,
    /// Only runs older than this one (the cursor).
    pub before: Option<RunId>,
    pub limit: i64,
}

/// A held resource: a network block, a machine, a share of a quota.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lease {
    pub kind: String,
    pub key: String,
    /// Who holds it (e.g. a run id).
    pub holder: String,
    /// What it counts against its kind's limit (cores, ...).
    pub amount: i64,
    /// What the holder needs to give it back (a process id, a work dir, ...).
    pub data: Option<Value>,
}

/// A named document of a [`RecordStore`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub namespace: String,
    pub key: String,
    pub value: Value,
    pub updated_at: Millis,
}

/// The most leases of a kind, and the most `amount` they may add up to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeaseLimit {
    pub count: i64,
    pub amount: i64,
}

/// How an attempt ended, as a worker reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub task_id: TaskId,
    pub attempt: i32,
    pub result: AttemptResult,
}

/// What an admission pass did, and the cancellations it asks for (made by the engine, which
/// also cancels child runs and tells the workers).
#[derive(Debug, Default)]
pub struct Admission {
    pub changes: Vec<Change>,
    pub cancel_runs: Vec<(RunId, String)>,
    pub cancel_tasks: Vec<(TaskId, String)>,
}

/// A run to create.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub id: RunId,
    pub workflow: String,
    pub version: String,
    pub input: Value,
    /// For a child run: its parent task and key (an existing child with that key is
    /// answered instead of creating another).
    pub parent: Option<ChildOf>,
}

/// What a state change did to one run, so the engine can publish it and wake workers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change {
    pub run_id: Option<RunId>,
    pub run_status: Option<RunStatus>,
    /// Tasks whose status changed, with their new status.
    pub tasks: Vec<(TaskId, String, TaskStatus)>,
    /// Some task became QUEUED: wake the workers.
    pub queued: bool,
    /// Some RUNNING attempt must stop (cancelled or timed out), with its worker.
    pub stop: Vec<(TaskId, i32, Option<WorkerId>)>,
    /// Running attempts that ended (for the observer's metrics and spans).
    pub ended: Vec<crate::observe::AttemptEnded>,
    /// The run, if this change ended it.
    pub run_ended: Option<crate::observe::RunEnded>,
    /// A run or task under a concurrency rule changed status: a slot may be free or wanted.
    pub concurrency: bool,
}

impl Change {
    pub fn is_empty(&self) -> bool {
        self.run_status.is_none() && self.tasks.is_empty()
    }
}

/// Open the store for `target` and run its migrations.
pub async fn connect(target: &DatabaseTarget) -> Result<Arc<dyn Store>, StoreError> {
    let store: Arc<dyn Store> = match target {
        DatabaseTarget::Sqlite(path) => Arc::new(SqliteStore::open(path).await?),
        DatabaseTarget::Postgres(url) => Arc::new(PostgresStore::connect(url).await?),
    };
    tracing::info!(store = %store.kind(), target = %target.describe(), "store ready");
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_url_means_sqlite_in_the_data_dir() {
        let t = DatabaseTarget::from_url(None, Path::new("/var/lib/ratchet")).unwrap();
        assert_eq!(
            t,
            DatabaseTarget::Sqlite("/var/lib/ratchet/ratchet.db".into())
        );
        let t = DatabaseTarget::from_url(Some("  "), Path::new("d")).unwrap();
        assert_eq!(t, DatabaseTarget::Sqlite("d/ratchet.db".into()));
    }

    #[test]
    fn sqlite_and_postgres_urls_are_recognised() {
        let d = Path::new("d");
        assert_eq!(
            DatabaseTarget::from_url(Some("sqlite:///tmp/x.db"), d).unwrap(),
            DatabaseTarget::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            DatabaseTarget::from_url(Some("sqlite://rel.db?mode=rwc"), d).unwrap(),
            DatabaseTarget::Sqlite("rel.db".into())
        );
        let pg =
            DatabaseTarget::from_url(Some("postgresql://u:secret@db:6432/ratchet"), d).unwrap();
        assert_eq!(pg.describe(), "db:6432/ratchet");
        assert!(!pg.describe().contains("secret"));
    }

    #[test]
    fn malformed_urls_are_refused_with_the_reason() {
        let d = Path::new("d");
        let e = DatabaseTarget::from_url(Some("mysql://x/y"), d)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unsupported scheme 'mysql'"), "{e}");
        let e = DatabaseTarget::from_url(Some("not a url"), d)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no scheme"), "{e}");
        let e = DatabaseTarget::from_url(Some("postgres://u@host:notaport/db"), d)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("DATABASE_URL is not a valid database URL"),
            "{e}"
        );
        let e = DatabaseTarget::from_url(Some("sqlite://"), d)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no file path"), "{e}");
    }
}
