//! What the engine tells an observer (the server's metrics and traces): the attempts and
//! runs that ended in each committed change, the store calls it made and how long they
//! took, and — asked when it hands out work, if it traces — the trace context of an
//! attempt. Without an observer the engine only notes, in each change, what ended.

use std::time::Duration;

use async_trait::async_trait;

use crate::model::{
    ChildOf, EventKind, Millis, NewEvent, RunId, RunState, RunStatus, TaskId, TaskState, WorkerId,
};

#[async_trait]
pub trait Observer: Send + Sync + 'static {
    /// A committed change, as it is published: called for every change, so keep it cheap.
    fn changed(&self, _change: &crate::store::Change) {}

    /// Whether [`Observer::traceparent`] answers anything (asked before each claim's
    /// assignments, so that without traces a claim costs no extra call).
    fn traces(&self) -> bool {
        false
    }

    /// The W3C `traceparent` to hand out with an attempt, when traces are exported.
    async fn traceparent(&self, _run_id: RunId, _task_id: TaskId, _attempt: i32) -> Option<String> {
        None
    }

    /// A store call of the engine's and how long it took.
    fn store_call(&self, _op: &'static str, _took: Duration) {}
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    /// Failed for good.
    Failed,
    /// Failed, and another attempt comes.
    Retrying,
    TimedOut,
    Cancelled,
    /// Its worker was lost or left; the task is queued again (not a retry).
    Reassigned,
    /// Its handler parked on a durable wait.
    Suspended,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Failed => "failed",
            Outcome::Retrying => "retrying",
            Outcome::TimedOut => "timed_out",
            Outcome::Cancelled => "cancelled",
            Outcome::Reassigned => "reassigned",
            Outcome::Suspended => "suspended",
        }
    }

    /// From the timeline rows the change wrote for the attempt; the most telling wins (a
    /// timeout also writes a retry or a failure). A retry's, a reassignment's and a
    /// suspension's rows name the attempt they queue, the next one.
    fn of(events: &[NewEvent], task: TaskId, attempt: i32) -> Option<Outcome> {
        const TELLING: [(EventKind, Outcome); 7] = [
            (EventKind::TimedOut, Outcome::TimedOut),
            (EventKind::Reassigned, Outcome::Reassigned),
            (EventKind::Suspended, Outcome::Suspended),
            (EventKind::Cancelled, Outcome::Cancelled),
            (EventKind::Retrying, Outcome::Retrying),
            (EventKind::Failed, Outcome::Failed),
            (EventKind::Completed, Outcome::Completed),
        ];
        let wrote = |kind: EventKind| {
            let next = matches!(
                kind,
                EventKind::Retrying | EventKind::Reassigned | EventKind::Suspended
            );
            let named = if next { attempt + 1 } else { attempt };
            events
                .iter()
                .any(|e| e.kind == kind && e.task_id == Some(task) && e.attempt == Some(named))
        };
        TELLING
            .iter()
            .find(|(kind, _)| wrote(*kind))
            .map(|(_, outcome)| *outcome)
    }
}

/// A running attempt that a change ended.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptEnded {
    pub run_id: RunId,
    pub task_id: TaskId,
    pub task: String,
    pub action: String,
    pub attempt: i32,
    pub worker_id: Option<WorkerId>,
    /// When it became claimable (after a retry's back-off).
    pub queued_at: Option<Millis>,
    pub started_at: Option<Millis>,
    pub ended_at: Millis,
    pub outcome: Outcome,
    pub error: Option<String>,
}

impl AttemptEnded {
    /// `Some` when `before` was a running attempt that `after` is not any more.
    pub(crate) fn between(
        before: &TaskState,
        after: &TaskState,
        events: &[NewEvent],
        now: Millis,
    ) -> Option<AttemptEnded> {
        let ended = before.status == crate::model::TaskStatus::Running
            && (after.status != before.status || after.attempt != before.attempt);
        if !ended {
            return None;
        }
        let outcome =
            Outcome::of(events, before.id, before.attempt).unwrap_or(match after.status {
                crate::model::TaskStatus::Completed => Outcome::Completed,
                crate::model::TaskStatus::Cancelled => Outcome::Cancelled,
                crate::model::TaskStatus::Failed => Outcome::Failed,
                _ => Outcome::Reassigned,
            });
        Some(AttemptEnded {
            run_id: before.run_id,
            task_id: before.id,
            task: before.name.clone(),
            action: before.action.clone(),
            attempt: before.attempt,
            worker_id: before.worker_id,
            queued_at: before
                .queued_at
                .map(|q| before.not_before.map_or(q, |n| n.max(q))),
            started_at: before.started_at,
            ended_at: now,
            outcome,
            // Only a failure leaves its own message (a reassignment's is an older one's).
            error: matches!(
                outcome,
                Outcome::Failed | Outcome::Retrying | Outcome::TimedOut | Outcome::Cancelled
            )
            .then(|| after.error.clone())
            .flatten(),
        })
    }
}

/// A run that a change ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEnded {
    pub run_id: RunId,
    pub workflow: String,
    pub status: RunStatus,
    pub created_at: Millis,
    pub finished_at: Millis,
    pub parent: Option<ChildOf>,
    pub error: Option<String>,
}

impl RunEnded {
    pub(crate) fn between(before: &RunState, after: &RunState, now: Millis) -> Option<RunEnded> {
        (!before.status.is_terminal() && after.status.is_terminal()).then(|| RunEnded {
            run_id: after.id,
            workflow: after.workflow.clone(),
            status: after.status,
            created_at: after.created_at,
            finished_at: after.finished_at.unwrap_or(now),
            parent: after.parent.clone(),
            error: after.error.clone(),
        })
    }
}
