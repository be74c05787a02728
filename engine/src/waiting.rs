//! Why a task is not running yet: shown next to QUEUED tasks, so a task nobody can take is
//! visibly stuck (and why) instead of silently waiting for its schedule timeout.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::clock::format_millis;
use crate::engine::{Engine, EngineError};
use crate::model::{RunState, TaskId, TaskState, TaskStatus, WorkerStatus};
use crate::planner::PARKED;

/// Why a QUEUED task does not start: `kind` for programs, `message` for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WaitingReason {
    pub kind: WaitingKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WaitingKind {
    /// No live worker implements the task's action: it will not start until one comes.
    NoWorker,
    /// Workers implement the action, but none has the task's required labels.
    MissingLabels,
    ConcurrencySlot,
    /// Its handler is parked on a durable event wait.
    DurableWait,
    /// A retry backoff, a durable sleep or a rate limit: it starts at a known time.
    NotBefore,
    WorkersBusy,
}

impl Engine {
    /// For each QUEUED task of the run that cannot start now, the reason.
    pub async fn waiting_reasons(
        &self,
        run: &RunState,
        tasks: &[TaskState],
    ) -> Result<BTreeMap<TaskId, WaitingReason>, EngineError> {
        let mut reasons = BTreeMap::new();
        let queued: Vec<&TaskState> = tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Queued)
            .collect();
        if queued.is_empty() {
            return Ok(reasons);
        }
        let store = self.store();
        let def = store.workflow(&run.workflow, &run.version).await?;
        let live: Vec<_> = store
            .workers()
            .await?
            .into_iter()
            .filter(|w| w.status == WorkerStatus::Active)
            .collect();
        let now = self.now();
        for task in queued {
            use WaitingKind::*;
            let (kind, message) = if task.waiting_for_slot {
                let key = task.concurrency_key.as_deref().unwrap_or_default();
                (
                    ConcurrencySlot,
                    format!("waiting for a concurrency slot (key '{key}')"),
                )
            } else if task.not_before.is_some_and(|at| at >= PARKED) {
                (DurableWait, "its handler waits for an event".to_string())
            } else if let Some(at) = task.not_before.filter(|at| *at > now) {
                (NotBefore, format!("not before {}", format_millis(at)))
            } else {
                let able: Vec<_> = live
                    .iter()
                    .filter(|w| w.info.can_take(&task.action, run.id))
                    .collect();
                let wanted = def.as_ref().and_then(|d| d.find(&task.name));
                if able.is_empty() {
                    (
                        NoWorker,
                        format!("no live worker implements '{}'", task.action),
                    )
                } else if let Some(wanted) =
                    wanted.filter(|t| !able.iter().any(|w| t.required_labels_met(&w.info.labels)))
                {
                    let required: Vec<String> = wanted
                        .desired_labels
                        .iter()
                        .filter(|(_, want)| want.required)
                        .map(|(key, want)| {
                            format!("{key} {} {}", want.comparator.as_str(), want.value)
                        })
                        .collect();
                    let message = format!(
                        "no live worker that implements '{}' has the required labels: {}",
                        task.action,
                        required.join(", ")
                    );
                    (MissingLabels, message)
                } else if able
                    .iter()
                    .all(|w| w.running.len() >= w.info.slots as usize)
                {
                    (
                        WorkersBusy,
                        "every worker that can run it is busy".to_string(),
                    )
                } else {
                    continue;
                }
            };
            reasons.insert(task.id, WaitingReason { kind, message });
        }
        Ok(reasons)
    }
}
