//! The store's facets: narrow traits, one concern each, so every part of the system holds
//! only what it needs — the API and the domain get [`ReadStore`], [`LeaseStore`],
//! [`TokenStore`] and [`ScheduleStore`]; the run mutations ([`RunStore`],
//! [`DispatchStore`], [`OutputStore`]) stay with the engine, which publishes what they
//! change. [`super::Store`] is all of them, for the engine and the composition root.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use uuid::Uuid;

use crate::definition::WorkflowDef;
use crate::model::{
    Assignment, AttemptResult, CronRecord, LogLine, Millis, ProgressRow, RateLimit, RunId,
    RunState, ScheduledRun, StoredLogLine, TaskEvent, TaskId, TaskState, TokenRecord, UserEvent,
    WorkerId, WorkerInfo, WorkerRecord,
};
use crate::planner::Fence;

use super::{Admission, Change, Lease, LeaseLimit, NewRun, Record, Report, RunFilter, StoreError};

/// The runs' state machine: creating, reconciling, cancelling, reporting, replaying. Only the engine calls it: every change it makes is published and cascaded by the engine (child runs, stops, admission).
#[async_trait]
pub trait RunStore: Send + Sync {
    /// Store a validated definition. The same name and version again must be identical:
    /// a changed workflow needs a new version, so runs of the old one are not disturbed.
    async fn put_workflow(&self, def: &WorkflowDef, now: Millis) -> Result<(), StoreError>;

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

    /// Store a user event and re-evaluate the runs waiting for its key. Returns the event
    /// and the changes (tasks whose conditions now hold).
    async fn push_event(
        &self,
        key: &str,
        payload: &Value,
        metadata: &Value,
        now: Millis,
    ) -> Result<(UserEvent, Vec<Change>), StoreError>;

    /// The admission pass of concurrency rules (see [`crate::concurrency`]): under one lock
    /// for all replicas, admit what fits and say what must be cancelled to make room.
    async fn admit(&self, now: Millis) -> Result<Admission, StoreError>;

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

    /// Run the named tasks of an ended run again, with everything downstream of them and
    /// the child runs they spawned; upstream outputs are kept.
    async fn replay(
        &self,
        run_id: RunId,
        tasks: &[String],
        now: Millis,
    ) -> Result<Vec<Change>, StoreError>;
}

/// Workers and their claims: registration, heart-beats, claiming tasks under labels and rate limits. The engine's dispatcher calls it (for in-process workers and remote agents alike).
#[async_trait]
pub trait DispatchStore: Send + Sync {
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

    /// Assign up to `capacity` QUEUED tasks the worker can run (its actions, its labels).
    async fn claim(
        &self,
        worker: &WorkerInfo,
        capacity: u32,
        now: Millis,
    ) -> Result<Vec<Assignment>, StoreError>;

    /// Create or change a static rate limit.
    async fn put_rate_limit(&self, limit: &RateLimit, now: Millis) -> Result<(), StoreError>;
}

/// What running attempts write: log lines, progress points, memos.
#[async_trait]
pub trait OutputStore: Send + Sync {
    /// Store log lines; a line already stored (same task, attempt, seq) is ignored.
    async fn append_logs(&self, lines: &[LogLine]) -> Result<(), StoreError>;

    /// Store progress points; a point already stored (same task, attempt, seq) is ignored.
    async fn append_progress(&self, points: &[ProgressRow]) -> Result<(), StoreError>;

    async fn memo_get(&self, task_id: TaskId, key: &str) -> Result<Option<Value>, StoreError>;

    /// Record `value` unless a value is already recorded; returns the recorded one.
    async fn memo_put(
        &self,
        task_id: TaskId,
        key: &str,
        value: &Value,
    ) -> Result<Value, StoreError>;
}

/// Reads, for the API, the dashboard and the domain: nothing here changes state.
#[async_trait]
pub trait ReadStore: Send + Sync {
    async fn workflow(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<Arc<WorkflowDef>>, StoreError>;

    /// Every registered workflow version: (name, version, registered at), by name then age.
    async fn workflows(&self) -> Result<Vec<(String, String, Millis)>, StoreError>;

    async fn run(&self, run_id: RunId) -> Result<Option<RunState>, StoreError>;

    /// How many runs each workflow has in each status: (workflow, status, count).
    async fn run_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError>;

    /// The tasks a worker could claim now, by action: (action, how many, since when the
    /// oldest could be claimed).
    async fn queues(&self, now: Millis) -> Result<Vec<(String, i64, Option<Millis>)>, StoreError>;

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

    /// Every worker, newest first, with the attempts it runs.
    async fn workers(&self) -> Result<Vec<WorkerRecord>, StoreError>;

    async fn worker(&self, worker_id: WorkerId) -> Result<Option<WorkerRecord>, StoreError>;

    /// The worker that was assigned this attempt (from its ASSIGNED event), if any.
    async fn attempt_worker(
        &self,
        task_id: TaskId,
        attempt: i32,
    ) -> Result<Option<WorkerId>, StoreError>;

    /// A run's log lines after position `after`, optionally of one task, oldest first.
    async fn logs(
        &self,
        run_id: RunId,
        task_id: Option<TaskId>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StoredLogLine>, StoreError>;

    /// A run's progress points after position `after`, optionally of one task, oldest first,
    /// each with its position.
    async fn progress(
        &self,
        run_id: RunId,
        task_id: Option<TaskId>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, ProgressRow)>, StoreError>;

    async fn rate_limits(&self) -> Result<Vec<RateLimit>, StoreError>;
}

/// Leases on shared resources (network blocks, machines, quota shares): exclusive per key, and counted against limits.
#[async_trait]
pub trait LeaseStore: Send + Sync {
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
}

/// Bearer tokens, stored as their SHA-256.
#[async_trait]
pub trait TokenStore: Send + Sync {
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

/// Crons and one-off scheduled runs; a tick or a scheduled run is taken by exactly one replica.
#[async_trait]
pub trait ScheduleStore: Send + Sync {
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
}

/// Small named documents the server keeps for itself (e.g. named baselines), by namespace
/// and key. Written whole; the last write wins.
#[async_trait]
pub trait RecordStore: Send + Sync {
    /// Create or replace the record `key` of `namespace`.
    async fn put_record(
        &self,
        namespace: &str,
        key: &str,
        value: &Value,
        now: Millis,
    ) -> Result<(), StoreError>;

    async fn record(&self, namespace: &str, key: &str) -> Result<Option<Record>, StoreError>;

    /// Every record of `namespace`, by key.
    async fn records(&self, namespace: &str) -> Result<Vec<Record>, StoreError>;

    /// False when there was none.
    async fn delete_record(&self, namespace: &str, key: &str) -> Result<bool, StoreError>;
}
