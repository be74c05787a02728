//! The engine's state as rows: runs, tasks, events, workers, assignments. Times are
//! milliseconds since the Unix epoch (UTC) in both stores.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

pub use protocol::{Assignment, AttemptResult, Millis, RunId, TaskFailure, TaskId, WorkerId};

macro_rules! status_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

status_enum! {
    /// PENDING waits for parents and conditions; the rest are DESIGN.md's task statuses.
    TaskStatus {
        Pending => "PENDING",
        Queued => "QUEUED",
        Running => "RUNNING",
        Completed => "COMPLETED",
        Failed => "FAILED",
        Cancelled => "CANCELLED",
        Skipped => "SKIPPED",
    }
}

impl TaskStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed
                | TaskStatus::Failed
                | TaskStatus::Cancelled
                | TaskStatus::Skipped
        )
    }
}

status_enum! {
    RunStatus {
        Queued => "QUEUED",
        Running => "RUNNING",
        Completed => "COMPLETED",
        Failed => "FAILED",
        Cancelled => "CANCELLED",
    }
}

impl RunStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

status_enum! {
    /// One row of a run's timeline.
    EventKind {
        Queued => "QUEUED",
        Waiting => "WAITING",
        Assigned => "ASSIGNED",
        Started => "STARTED",
        Retrying => "RETRYING",
        TimedOut => "TIMED_OUT",
        Reassigned => "REASSIGNED",
        TimeoutRefreshed => "TIMEOUT_REFRESHED",
        Completed => "COMPLETED",
        Failed => "FAILED",
        Cancelled => "CANCELLED",
        Skipped => "SKIPPED",
        CancelRequested => "CANCEL_REQUESTED",
        RunCompleted => "RUN_COMPLETED",
        RunFailed => "RUN_FAILED",
        RunCancelled => "RUN_CANCELLED",
        // ADMITTED: given a concurrency slot. REQUEUED: a claim passed it over (a rate
        // limit is used up), it waits in the queue. SUSPENDED: its handler parked on a
        // durable sleep or event wait, holding no slot.
        Admitted => "ADMITTED",
        Requeued => "REQUEUED",
        Suspended => "SUSPENDED",
        Replayed => "REPLAYED",
    }
}

/// A workflow run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunState {
    pub id: RunId,
    pub workflow: String,
    pub version: String,
    pub status: RunStatus,
    pub input: Value,
    /// Outputs of the completed tasks by name, once the run has ended.
    pub output: Option<Value>,
    pub error: Option<String>,
    /// Someone cancelled the run: nothing new starts but the on-failure task.
    pub cancel_requested: bool,
    /// When a sleep condition of a waiting task comes due.
    pub wake_at: Option<Millis>,
    pub created_at: Millis,
    pub finished_at: Option<Millis>,
    /// Set for a child run: the task that spawned it, under which key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ChildOf>,
    /// The run's key under its workflow's concurrency rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_key: Option<String>,
    /// Not admitted yet: its key has `max_runs` active runs (nothing of it runs meanwhile).
    #[serde(default)]
    pub waiting_for_slot: bool,
}

/// Where a child run comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChildOf {
    pub run_id: RunId,
    pub task_id: TaskId,
    /// Unique among the task's children: spawning the same key again finds this run.
    pub key: String,
    /// Position in the spawn request (outputs come back in this order).
    pub index: i64,
}

/// A task of a run, with the bookkeeping of its current attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskState {
    pub id: TaskId,
    pub run_id: RunId,
    pub name: String,
    pub action: String,
    pub status: TaskStatus,
    pub is_on_failure: bool,
    /// Cancelled by request: like a failure, it makes the on-failure task run.
    pub cancel_requested: bool,
    /// The current (or next) attempt, from 1. Completions must name it.
    pub attempt: i32,
    /// Retries spent (reassignments after a lost worker do not count).
    pub retry_count: i32,
    /// When all parents had ended: sleep conditions count from here.
    pub ready_at: Option<Millis>,
    pub queued_at: Option<Millis>,
    /// Not to be claimed before this (retry backoff).
    pub not_before: Option<Millis>,
    /// QUEUED past this → CANCELLED (schedule timeout).
    pub schedule_deadline: Option<Millis>,
    pub started_at: Option<Millis>,
    /// RUNNING past this → the attempt times out (execution timeout).
    pub deadline: Option<Millis>,
    pub finished_at: Option<Millis>,
    pub worker_id: Option<WorkerId>,
    pub output: Option<Value>,
    pub error: Option<String>,
    /// The task's key under its concurrency rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_key: Option<String>,
    /// QUEUED but not claimable yet: its key has `max_runs` tasks admitted.
    #[serde(default)]
    pub waiting_for_slot: bool,
}

/// A row of the timeline, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskEvent {
    pub id: i64,
    pub run_id: RunId,
    pub task_id: Option<TaskId>,
    pub task_name: Option<String>,
    pub attempt: Option<i32>,
    pub kind: EventKind,
    pub message: Option<String>,
    pub data: Option<Value>,
    pub at: Millis,
}

/// A timeline row about to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub task_id: Option<TaskId>,
    pub task_name: Option<String>,
    pub attempt: Option<i32>,
    pub kind: EventKind,
    pub message: Option<String>,
    pub data: Option<Value>,
}

impl NewEvent {
    pub fn task(task: &TaskState, kind: EventKind, message: impl Into<Option<String>>) -> NewEvent {
        NewEvent {
            task_id: Some(task.id),
            task_name: Some(task.name.clone()),
            attempt: Some(task.attempt),
            kind,
            message: message.into(),
            data: None,
        }
    }

    pub fn run(kind: EventKind, message: impl Into<Option<String>>) -> NewEvent {
        NewEvent {
            task_id: None,
            task_name: None,
            attempt: None,
            kind,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: Value) -> NewEvent {
        self.data = Some(data);
        self
    }
}

/// `WorkerInfo::kind` of an edge agent (a remote worker, reached over HTTP).
pub const WORKER_AGENT: &str = "agent";
/// `WorkerInfo::kind` of a worker whose handlers run inside the engine's process.
pub const WORKER_IN_PROCESS: &str = "in-process";

/// A worker as it presents itself to the dispatcher: in-process handlers and remote agents
/// alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkerInfo {
    pub id: WorkerId,
    pub name: String,
    /// `in-process` or `agent`.
    pub kind: String,
    pub actions: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, Value>,
    pub slots: u32,
    /// An agent enrolled for one run claims only that run's tasks.
    #[serde(default)]
    pub run_scope: Option<RunId>,
    /// What a remote agent told about itself (version, host facts).
    #[serde(default)]
    pub host: Option<Value>,
}

impl WorkerInfo {
    pub fn is_agent(&self) -> bool {
        self.kind == WORKER_AGENT
    }

    /// Does it implement `action`, and may it work for this run (an agent enrolled for one
    /// run works only for that one)? Labels are the task's to judge.
    pub fn can_take(&self, action: &str, run_id: RunId) -> bool {
        self.actions.iter().any(|a| a == action) && self.run_scope.is_none_or(|r| r == run_id)
    }
}

/// A cron: runs of a workflow on a schedule (5 or 6 fields, UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CronRecord {
    pub id: Uuid,
    /// Unique; `on_crons` of a workflow definition are named `<workflow>: <expression>`.
    pub name: String,
    pub workflow: String,
    pub version: String,
    pub expression: String,
    pub input: Value,
    /// The next tick that will fire.
    pub next_at: Millis,
    pub created_at: Millis,
}

/// A run to start once, at a given time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduledRun {
    pub id: Uuid,
    pub workflow: String,
    pub version: String,
    pub input: Value,
    pub at: Millis,
    /// Set once its run exists.
    pub run_id: Option<RunId>,
    pub created_at: Millis,
}

/// A static rate limit: at most `limit` units in any window of `duration`; tasks name it in
/// their `rate_limits` with the units one run of them uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub key: String,
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub limit: i64,
    pub duration: crate::definition::Dur,
}

/// An event pushed by a user or a system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserEvent {
    pub id: i64,
    pub key: String,
    pub payload: Value,
    pub metadata: Value,
    pub at: Millis,
}

status_enum! {
    /// A worker is ACTIVE while it heart-beats, LOST once it stopped (its attempts go to
    /// others), STOPPED after it left gracefully.
    WorkerStatus {
        Active => "ACTIVE",
        Lost => "LOST",
        Stopped => "STOPPED",
    }
}

/// A worker row, for listings.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkerRecord {
    #[serde(flatten)]
    pub info: WorkerInfo,
    pub status: WorkerStatus,
    pub registered_at: Millis,
    pub last_heartbeat: Millis,
    /// The attempts it runs now.
    pub running: Vec<protocol::AttemptRef>,
}

/// A bearer token as stored: only its SHA-256 is kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenRecord {
    pub id: Uuid,
    /// `api`, `enrollment` or `agent`.
    pub kind: String,
    pub name: String,
    #[serde(skip)]
    pub token_hash: String,
    /// For API tokens: `read`, `write`, `admin`.
    pub scopes: Vec<String>,
    /// For enrollment tokens: labels given to the agents that enroll with it.
    pub labels: BTreeMap<String, Value>,
    /// For enrollment and agent tokens: the run they are bound to.
    pub run_id: Option<RunId>,
    /// For agent tokens: the agent's worker id.
    pub worker_id: Option<WorkerId>,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

/// One progress point of a task attempt, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProgressRow {
    pub run_id: RunId,
    pub task_id: TaskId,
    pub attempt: i32,
    pub seq: i64,
    pub at: Millis,
    pub values: BTreeMap<String, f64>,
}

/// One log line of a task attempt. `seq` counts from 0 within the attempt, so a re-sent
/// batch is recognised and not stored twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogLine {
    pub run_id: RunId,
    pub task_id: TaskId,
    pub attempt: i32,
    pub seq: i64,
    pub at: Millis,
    pub line: String,
}

/// A stored log line with its position in the run's log.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredLogLine {
    pub id: i64,
    pub run_id: RunId,
    pub task_id: TaskId,
    pub task_name: String,
    pub attempt: i32,
    pub seq: i64,
    pub at: Millis,
    pub line: String,
}
