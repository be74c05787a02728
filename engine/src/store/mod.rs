//! Durable storage for the engine: one [`Store`] trait, two implementations (SQLite for the
//! embedded default, PostgreSQL for production) that pass the same conformance suite.

#[macro_use]
mod sql_flow;
#[macro_use]
mod sql;
mod postgres;
mod sqlite;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::definition::WorkflowDef;
use crate::model::{
    Assignment, AttemptResult, ChildOf, CronRecord, LogLine, Millis, ProgressRow, RateLimit, RunId,
    RunState, RunStatus, ScheduledRun, StoredLogLine, TaskEvent, TaskId, TaskState, TaskStatus,
    TokenRecord, UserEvent, WorkerId, WorkerInfo, WorkerRecord,
};
use crate::planner::Fence;

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

/// The engine's durable state. Everything a replica needs to carry on lives behind this trait.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn kind(&self) -> StoreKind;

    /// A cheap round trip to the database; `/readyz` is ready when this succeeds.
    async fn ping(&self) -> Result<(), StoreError>;

    /// This installation's identity (created by the first start).
    async fn installation(&self) -> Result<Installation, StoreError>;

    /// Close the connections, waiting for in-flight queries.
    async fn close(&self);

    // --- workflows ---------------------------------------------------------------------

    /// Store a validated definition. The same name and version again must be identical:
    /// a changed workflow needs a new version, so runs of the old one are not disturbed.
    async fn put_workflow(&self, def: &WorkflowDef, now: Millis) -> Result<(), StoreError>;

    async fn workflow(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<Arc<WorkflowDef>>, StoreError>;

    /// Every registered workflow version: (name, version, registered at), by name then age.
    async fn workflows(&self) -> Result<Vec<(String, String, Millis)>, StoreError>;

    // --- runs --------------------------------------------------------------------------

    /// Create runs of stored workflows and queue their first tasks, all in one transaction
    /// (many runs cost one commit: a fan-out of thousands of children, or busy clients).
    async fn create_runs(
        &self,
        runs: Vec<NewRun>,
        now: Millis,
    ) -> Result<Vec<RunState>, StoreError>;

    /// Re-evaluate a run (conditions, timeouts, lost workers, its end) under its lock.
    async fn reconcile(
        &self,
        run_id: RunId,
        now: Millis,
        lost_workers: &HashSet<WorkerId>,
    ) -> Result<Change, StoreError>;

    /// Cancel a whole run (cooperative for RUNNING tasks; the on-failure task still runs).
    async fn cancel_run(
        &self,
        run_id: RunId,
        reason: &str,
        now: Millis,
    ) -> Result<Change, StoreError>;

    /// Cancel one task and what depends on it.
    async fn cancel_task(
        &self,
        task_id: TaskId,
        reason: &str,
        now: Millis,
    ) -> Result<Change, StoreError>;

    async fn run(&self, run_id: RunId) -> Result<Option<RunState>, StoreError>;

    /// How many runs each workflow has in each status: (workflow, status, count).
    async fn run_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError>;

    /// Runs, newest first, filtered; page with `before` (the last id of the previous page).
    async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunState>, StoreError>;

    /// The child runs of a run (of one of its tasks, if given), by task and spawn order.
    async fn child_runs(
        &self,
        parent_run: RunId,
        parent_task: Option<TaskId>,
    ) -> Result<Vec<RunState>, StoreError>;

    async fn tasks(&self, run_id: RunId) -> Result<Vec<TaskState>, StoreError>;

    async fn task(&self, task_id: TaskId) -> Result<Option<TaskState>, StoreError>;

    /// The run's timeline after event `after` (0 for all), oldest first.
    async fn events(&self, run_id: RunId, after: i64) -> Result<Vec<TaskEvent>, StoreError>;

    // --- dispatch ----------------------------------------------------------------------

    /// Register (or re-register) a worker; it is live while it heart-beats.
    async fn register_worker(&self, worker: &WorkerInfo, now: Millis) -> Result<(), StoreError>;

    /// The worker is alive and runs `running`; answers the attempts among them it must
    /// stop (cancelled, timed out, reassigned). Attempts assigned to it long ago that it
    /// does not list are handed to other workers.
    async fn heartbeat(
        &self,
        worker_id: WorkerId,
        running: &[(TaskId, i32)],
        now: Millis,
    ) -> Result<Vec<(TaskId, i32)>, StoreError>;

    /// A worker leaves gracefully: its RUNNING attempts are handed back and queued again at
    /// once (a reassignment, not a retry). Returns the changes.
    async fn deregister_worker(
        &self,
        worker_id: WorkerId,
        now: Millis,
    ) -> Result<Vec<Change>, StoreError>;

    /// Every worker, newest first, with the attempts it runs.
    async fn workers(&self) -> Result<Vec<WorkerRecord>, StoreError>;

    async fn worker(&self, worker_id: WorkerId) -> Result<Option<WorkerRecord>, StoreError>;

    /// The worker that was assigned this attempt (from its ASSIGNED event), if any.
    async fn attempt_worker(
        &self,
        task_id: TaskId,
        attempt: i32,
    ) -> Result<Option<WorkerId>, StoreError>;

    /// From now on, the run's agent tasks go only to agents enrolled for this run (its own
    /// machines); an agent that is not bound to it never claims them.
    async fn bind_run_agents(&self, run_id: RunId) -> Result<(), StoreError>;

    /// Assign up to `capacity` QUEUED tasks the worker can run (its actions, its labels).
    async fn claim(
        &self,
        worker: &WorkerInfo,
        capacity: u32,
        now: Millis,
    ) -> Result<Vec<Assignment>, StoreError>;

    /// A worker reports how an attempt ended; a late answer from an old attempt is refused.
    async fn report(
        &self,
        task_id: TaskId,
        attempt: i32,
        result: AttemptResult,
        now: Millis,
    ) -> Result<(Fence, Change), StoreError>;

    /// Many reports in one transaction (one commit instead of one per report); answers in
    /// the order given, each with its own outcome (one bad report fails alone).
    async fn report_many(
        &self,
        reports: &[Report],
        now: Millis,
    ) -> Result<Vec<Result<(Fence, Change), StoreError>>, StoreError>;

    /// Extend a running attempt's deadline by `by` milliseconds from now.
    async fn refresh_timeout(
        &self,
        task_id: TaskId,
        attempt: i32,
        by: Millis,
        now: Millis,
    ) -> Result<Fence, StoreError>;

    /// Time-driven work: mark workers that stopped heart-beating lost, and reconcile the runs
    /// with a due timeout, a lost worker or a due sleep. Returns the changes.
    async fn sweep(&self, now: Millis, worker_timeout: Millis) -> Result<Vec<Change>, StoreError>;

    // --- logs and memos ----------------------------------------------------------------

    /// Store log lines; a line already stored (same task, attempt, seq) is ignored.
    async fn append_logs(&self, lines: &[LogLine]) -> Result<(), StoreError>;

    /// A run's log lines after position `after`, optionally of one task, oldest first.
    async fn logs(
        &self,
        run_id: RunId,
        task_id: Option<TaskId>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StoredLogLine>, StoreError>;

    async fn memo_get(&self, task_id: TaskId, key: &str) -> Result<Option<Value>, StoreError>;

    /// Record `value` unless a value is already recorded; returns the recorded one.
    async fn memo_put(
        &self,
        task_id: TaskId,
        key: &str,
        value: &Value,
    ) -> Result<Value, StoreError>;

    /// Store progress points; a point already stored (same task, attempt, seq) is ignored.
    async fn append_progress(&self, points: &[ProgressRow]) -> Result<(), StoreError>;

    /// A run's progress points after position `after`, optionally of one task, oldest first,
    /// each with its position.
    async fn progress(
        &self,
        run_id: RunId,
        task_id: Option<TaskId>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, ProgressRow)>, StoreError>;

    // --- user events ------------------------------------------------------------------

    /// Store a user event and re-evaluate the runs waiting for its key. Returns the event
    /// and the changes (tasks whose conditions now hold).
    async fn push_event(
        &self,
        key: &str,
        payload: &Value,
        metadata: &Value,
        now: Millis,
    ) -> Result<(UserEvent, Vec<Change>), StoreError>;

    // --- flow control -------------------------------------------------------------------

    /// The admission pass of concurrency rules (see [`crate::concurrency`]): under one lock
    /// for all replicas, admit what fits and say what must be cancelled to make room.
    async fn admit(&self, now: Millis) -> Result<Admission, StoreError>;

    /// Create or change a static rate limit.
    async fn put_rate_limit(&self, limit: &RateLimit, now: Millis) -> Result<(), StoreError>;

    async fn rate_limits(&self) -> Result<Vec<RateLimit>, StoreError>;

    // --- durable waits of handlers ---------------------------------------------------------

    /// Register (once) the task's `seq`-th durable event wait; the payload of the event that
    /// satisfied it, if one has arrived since it was first registered.
    async fn wait_for_event(
        &self,
        task_id: TaskId,
        seq: i32,
        key: &str,
        expression: Option<&str>,
        now: Millis,
    ) -> Result<Option<Value>, StoreError>;

    // --- replay ---------------------------------------------------------------------------

    /// Run the named tasks of an ended run again, with everything downstream of them and
    /// the child runs they spawned; upstream outputs are kept.
    async fn replay(
        &self,
        run_id: RunId,
        tasks: &[String],
        now: Millis,
    ) -> Result<Vec<Change>, StoreError>;

    // --- schedules ------------------------------------------------------------------------

    /// Create or replace (by name) a cron.
    async fn put_cron(&self, cron: &CronRecord) -> Result<(), StoreError>;

    async fn crons(&self) -> Result<Vec<CronRecord>, StoreError>;

    async fn delete_cron(&self, id: Uuid) -> Result<bool, StoreError>;

    /// Take the due tick `tick` of a cron and move it to `next_at`; true for exactly one
    /// caller per tick, however many replicas try.
    async fn claim_cron_tick(
        &self,
        cron_id: Uuid,
        tick: Millis,
        next_at: Millis,
    ) -> Result<bool, StoreError>;

    async fn put_scheduled_run(&self, run: &ScheduledRun) -> Result<(), StoreError>;

    async fn scheduled_runs(&self) -> Result<Vec<ScheduledRun>, StoreError>;

    async fn delete_scheduled_run(&self, id: Uuid) -> Result<bool, StoreError>;

    /// Take a due scheduled run for the run `run_id` (true for exactly one caller).
    async fn claim_scheduled_run(&self, id: Uuid, run_id: RunId) -> Result<bool, StoreError>;

    // --- leases on shared resources -------------------------------------------------------

    /// Take `lease` unless its (kind, key) is held by someone else, or `limit` (over all
    /// leases of the kind) would be exceeded. True when held by `lease.holder` afterwards
    /// (taking it again is harmless).
    async fn acquire_lease(
        &self,
        lease: &Lease,
        limit: Option<LeaseLimit>,
        now: Millis,
    ) -> Result<bool, StoreError>;

    async fn update_lease_data(
        &self,
        kind: &str,
        key: &str,
        data: &Value,
    ) -> Result<(), StoreError>;

    /// Leases, optionally of one kind and/or one holder.
    async fn leases(
        &self,
        kind: Option<&str>,
        holder: Option<&str>,
    ) -> Result<Vec<Lease>, StoreError>;

    /// Give a lease up; false when it was not held.
    async fn release_lease(&self, kind: &str, key: &str) -> Result<bool, StoreError>;

    // --- tokens --------------------------------------------------------------------------

    async fn put_token(&self, token: &TokenRecord) -> Result<(), StoreError>;

    /// The token with this SHA-256, revoked or not (the caller decides).
    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// Tokens of one kind, newest first.
    async fn tokens(&self, kind: &str) -> Result<Vec<TokenRecord>, StoreError>;

    /// Revoke a token; false when there is no such live token.
    async fn revoke_token(&self, id: Uuid, now: Millis) -> Result<bool, StoreError>;

    /// Revoke every live token bound to a run (its machines' enrollment and session
    /// tokens); answers how many.
    async fn revoke_run_tokens(&self, run_id: RunId, now: Millis) -> Result<u64, StoreError>;

    /// Move a live token's expiry (a session in use is kept alive).
    async fn extend_token(&self, id: Uuid, expires_at: Millis) -> Result<bool, StoreError>;
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
