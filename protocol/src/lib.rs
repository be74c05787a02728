//! The agent protocol: wire types shared by the server, the engine and the edge agent
//! (`ratchet-agent`), which depends on this crate alone — no database, no server code on
//! the machines. `actions` holds the benchmark actions' inputs and outputs; `settings` the
//! policy on database settings both sides enforce.
//!
//! The agent protocol is JSON over HTTP, every call started by the agent (so agents behind
//! NAT work): register with an enrollment token for a session token, then long-poll for
//! assignments and cancellations (the poll is the heartbeat), post log batches, progress
//! points and results. Sequence numbers make re-sent batches harmless; results are fenced
//! by attempt, so a late answer from an old attempt is refused.

pub mod actions;
pub mod settings;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

pub type RunId = Uuid;
pub type TaskId = Uuid;
pub type WorkerId = Uuid;
/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// Version of the agent protocol. The server refuses agents that speak another version.
pub const PROTOCOL_VERSION: u32 = 1;

/// The agent endpoints, relative to the server URL.
pub mod paths {
    pub const REGISTER: &str = "/api/v1/agent/register";
    pub const POLL: &str = "/api/v1/agent/poll";
    pub const LOGS: &str = "/api/v1/agent/logs";
    pub const PROGRESS: &str = "/api/v1/agent/progress";
    pub const RESULT: &str = "/api/v1/agent/result";
    pub const DEREGISTER: &str = "/api/v1/agent/deregister";
}

/// The longest a poll may wait for work before it answers empty.
pub const MAX_POLL_WAIT_S: u32 = 30;

/// The longest log line kept, in bytes; a longer one is cut with a marker saying so.
pub const MAX_LOG_LINE_BYTES: usize = 64 * 1024;

/// The largest result body (`POST /api/v1/agent/result`) the server takes. An agent fits
/// its result under it (the per-second series is also sent as progress points, so the
/// result's copy can be coarsened without losing data).
pub const MAX_RESULT_BYTES: usize = 16 * 1024 * 1024;

/// Lines and points in one batch, at most.
pub const MAX_BATCH_ITEMS: usize = 5_000;

/// `line`, cut to at most [`MAX_LOG_LINE_BYTES`] with a marker saying how long it was.
pub fn cap_log_line(line: String) -> String {
    let total = line.len();
    if total <= MAX_LOG_LINE_BYTES {
        line
    } else {
        cut_log_line(line, total)
    }
}

/// `start`, the beginning of a line of `total` bytes, cut (at a character boundary) so that
/// it and the marker that ends it fit in [`MAX_LOG_LINE_BYTES`].
pub fn cut_log_line(mut start: String, total: usize) -> String {
    let marker = format!(" … [line truncated: {total} bytes]");
    let mut keep = MAX_LOG_LINE_BYTES - marker.len();
    if start.len() > keep {
        while !start.is_char_boundary(keep) {
            keep -= 1;
        }
        start.truncate(keep);
    }
    start.push_str(&marker);
    start
}

/// Body of `GET /healthz`, which needs no token: the agent uses it to find its server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: String,
}

/// `POST /api/v1/agent/register`, authorised by an enrollment token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// A name for people (defaults to the host name).
    pub name: String,
    /// The agent's build version (`ratchet-agent --version`).
    pub version: String,
    pub protocol: u32,
    /// Labels the agent offers; the enrollment token's labels are added over them.
    #[serde(default)]
    pub labels: BTreeMap<String, Value>,
    /// Actions this agent can run (`shell`, `postgres.start`, ...).
    pub actions: Vec<String>,
    /// How many tasks it runs at once.
    pub slots: u32,
    #[serde(default)]
    pub host: HostFacts,
}

/// What an agent tells about its machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HostFacts {
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub arch: String,
    #[serde(default)]
    pub cpus: u32,
    #[serde(default)]
    pub memory_mb: u64,
}

/// The answer to a registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Registered {
    pub agent_id: WorkerId,
    /// Bearer token for every later call of this agent. Shown once.
    pub session_token: String,
    /// The run this agent is bound to, when its enrollment token names one.
    pub run_id: Option<RunId>,
    /// The labels the server routes by (the agent's, with the enrollment's over them).
    pub labels: BTreeMap<String, Value>,
    /// Poll at least this often, or the agent is declared lost and its tasks reassigned.
    pub lease_s: u32,
}

/// One attempt of one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AttemptRef {
    pub task_id: TaskId,
    pub attempt: i32,
}

/// `POST /api/v1/agent/poll`: the heartbeat, and the request for work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Poll {
    /// The attempts the agent is running now.
    #[serde(default)]
    pub running: Vec<AttemptRef>,
    /// How many more tasks it would take.
    pub free_slots: u32,
    /// Wait up to this long for work (at most [`MAX_POLL_WAIT_S`]).
    #[serde(default)]
    pub wait_s: u32,
    /// Only this run's tasks (must be the agent's own run when it is bound to one).
    #[serde(default)]
    pub run_id: Option<RunId>,
}

/// The answer to a poll.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PollAnswer {
    pub assignments: Vec<Assignment>,
    /// Running attempts the agent must stop (cancelled, timed out, or handed to another).
    pub cancellations: Vec<AttemptRef>,
}

/// `POST /api/v1/agent/logs`: lines of one attempt. `seq` counts from 0 within the
/// attempt; a line already stored is ignored, so a batch may be sent again safely.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LogBatch {
    pub task_id: TaskId,
    pub attempt: i32,
    pub lines: Vec<LogEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LogEntry {
    pub seq: i64,
    pub at: Millis,
    pub line: String,
}

/// `POST /api/v1/agent/progress`: time-series points of one attempt (e.g. TPS each second).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProgressBatch {
    pub task_id: TaskId,
    pub attempt: i32,
    pub points: Vec<ProgressPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProgressPoint {
    pub seq: i64,
    pub at: Millis,
    /// Named values at this moment, e.g. `{"tps": 1234.5, "latency_ms": 0.8}`.
    pub values: BTreeMap<String, f64>,
}

/// `POST /api/v1/agent/result`: how an attempt ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TaskResult {
    pub task_id: TaskId,
    pub attempt: i32,
    pub result: AttemptResult,
}

/// A plain acknowledgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ack {
    pub accepted: usize,
}

/// One task attempt handed to a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Assignment {
    pub task_id: TaskId,
    pub run_id: RunId,
    pub attempt: i32,
    pub workflow: String,
    pub task_name: String,
    pub action: String,
    /// The run's input, with the task's static `with` merged over it.
    pub input: Value,
    /// Outputs of the task's ancestors (for the on-failure task: of every completed task).
    pub parents: BTreeMap<String, Value>,
    /// For the on-failure task: the errors of every failed task.
    pub failures: Vec<TaskFailure>,
    /// The attempt times out at this time unless refreshed.
    pub deadline: Millis,
    /// The attempt's span as W3C trace context, when the server exports traces: the
    /// agent's own spans (each command it runs) join the run's trace under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskFailure {
    pub task: String,
    pub error: String,
}

/// How one attempt ended, as reported by its worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "outcome", rename_all = "snake_case", deny_unknown_fields)]
pub enum AttemptResult {
    Completed {
        output: Value,
    },
    Failed {
        error: String,
        retryable: bool,
    },
    /// An in-process handler parked itself on a durable wait: queue the task again for
    /// `until` (a sleep) or for when its event arrives (`None`). Not part of the wire.
    #[serde(skip)]
    Suspended {
        until: Option<Millis>,
    },
}
