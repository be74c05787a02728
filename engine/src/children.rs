//! Child runs (RunMany): a handler spawns runs of another workflow, each under a key, and
//! waits for them. Keys make spawning idempotent: a parent task executed again (a retry, a
//! crash) finds the children it spawned before instead of doubling them.

use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use crate::engine::Inner;
use crate::model::{ChildOf, RunId, RunState, RunStatus, TaskId};
use crate::store::NewRun;
use crate::worker::{Context, TaskError};

/// A child to spawn.
#[derive(Debug, Clone)]
pub struct Child {
    /// Unique among this task's children.
    pub key: String,
    pub input: Value,
}

impl Child {
    pub fn new(key: impl Into<String>, input: Value) -> Child {
        Child {
            key: key.into(),
            input,
        }
    }
}

/// How a child run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildResult {
    pub key: String,
    pub run_id: RunId,
    pub status: RunStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
}

/// How often waiting parents re-read their children at most (status changes in between
/// are coalesced into one read).
const WAIT_COALESCE: Duration = Duration::from_millis(200);

impl Context {
    /// Spawn runs of `workflow`@`version`, one per child, all in one transaction. Answers
    /// the runs in the order given (existing ones for keys spawned before).
    pub async fn spawn_children(
        &self,
        workflow: &str,
        version: &str,
        children: Vec<Child>,
    ) -> Result<Vec<RunState>, TaskError> {
        let indexed = children
            .into_iter()
            .enumerate()
            .map(|(i, c)| (i as i64, c))
            .collect();
        spawn(
            &self.engine,
            self.run_id(),
            self.task_id(),
            workflow,
            version,
            indexed,
        )
        .await
    }

    /// Wait until every child has ended; answers their results in the order of `runs`.
    /// Returns early (retryable) when this attempt is cancelled.
    pub async fn wait_children(&self, runs: &[RunState]) -> Result<Vec<ChildResult>, TaskError> {
        let mut status = self.engine.status.subscribe();
        loop {
            // The store away for a moment (a database restart) is no reason to give up
            // waiting: the children carry on, and the next read finds them.
            let current = match self
                .engine
                .store
                .child_runs(self.run_id(), Some(self.task_id()))
                .await
            {
                Ok(current) => current,
                Err(e) => {
                    tracing::warn!(run = %self.run_id(), error = %e, "cannot read the child runs; trying again");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        () = self.cancel.cancelled() => return Err(TaskError::retryable("cancelled while waiting for child runs")),
                    }
                }
            };
            let by_id: std::collections::HashMap<RunId, &RunState> =
                current.iter().map(|r| (r.id, r)).collect();
            let done = runs
                .iter()
                .all(|r| by_id.get(&r.id).is_some_and(|c| c.status.is_terminal()));
            if done {
                return Ok(runs
                    .iter()
                    .filter_map(|r| by_id.get(&r.id))
                    .map(|c| ChildResult {
                        key: c.parent.as_ref().map(|p| p.key.clone()).unwrap_or_default(),
                        run_id: c.id,
                        status: c.status,
                        output: c.output.clone(),
                        error: c.error.clone(),
                    })
                    .collect());
            }
            tokio::select! {
                _ = status.changed() => {}
                () = tokio::time::sleep(Duration::from_secs(2)) => {}
                () = self.cancel.cancelled() => return Err(TaskError::retryable("cancelled while waiting for child runs")),
            }
            tokio::time::sleep(WAIT_COALESCE).await;
        }
    }

    /// Spawn the children and wait for all of them (RunMany).
    pub async fn run_children(
        &self,
        workflow: &str,
        version: &str,
        children: Vec<Child>,
    ) -> Result<Vec<ChildResult>, TaskError> {
        let runs = self.spawn_children(workflow, version, children).await?;
        self.wait_children(&runs).await
    }
}

impl crate::Engine {
    /// Spawn child runs of a task that runs on a remote worker (a Hatchet SDK's spawn from
    /// inside a task), each with its position among the task's children. Like
    /// [`Context::spawn_children`]: a key spawned before answers its existing run.
    pub async fn spawn_remote_children(
        &self,
        parent_task: TaskId,
        workflow: &str,
        version: &str,
        children: Vec<(i64, Child)>,
    ) -> Result<Vec<RunState>, TaskError> {
        let task = self
            .inner
            .store
            .task(parent_task)
            .await
            .map_err(|e| TaskError::retryable(e.to_string()))?
            .ok_or_else(|| TaskError::fatal(format!("no task {parent_task}")))?;
        spawn(
            &self.inner,
            task.run_id,
            parent_task,
            workflow,
            version,
            children,
        )
        .await
    }
}

/// Spawn the children of `task_id` (of `run_id`), all in one transaction.
async fn spawn(
    inner: &Inner,
    run_id: RunId,
    task_id: TaskId,
    workflow: &str,
    version: &str,
    children: Vec<(i64, Child)>,
) -> Result<Vec<RunState>, TaskError> {
    let store = &inner.store;
    let found = store
        .workflow(workflow, version)
        .await
        .map_err(|e| TaskError::retryable(e.to_string()))?;
    if found.is_none() {
        return Err(TaskError::fatal(format!(
            "no workflow named '{workflow}@{version}' is registered"
        )));
    }
    let mut keys = std::collections::HashSet::new();
    if let Some((_, dup)) = children.iter().find(|(_, c)| !keys.insert(c.key.as_str())) {
        return Err(TaskError::fatal(format!(
            "two children share the key '{}'",
            dup.key
        )));
    }
    let new_runs = children
        .into_iter()
        .map(|(index, child)| NewRun {
            id: Uuid::now_v7(),
            workflow: workflow.to_string(),
            version: version.to_string(),
            input: child.input,
            parent: Some(ChildOf {
                run_id,
                task_id,
                key: child.key,
                index,
            }),
        })
        .collect();
    let runs = store
        .create_runs(new_runs, inner.clock.now())
        .await
        .map_err(|e| TaskError::retryable(format!("cannot spawn the child runs: {e}")))?;
    // The parent run was cancelled while we spawned (its cancellation may have listed
    // its children before these existed): cancel them ourselves.
    let parent = store
        .run(run_id)
        .await
        .map_err(|e| TaskError::retryable(e.to_string()))?;
    if parent.is_none_or(|p| p.cancel_requested || p.status.is_terminal()) {
        for run in &runs {
            let reason = format!("its parent run {run_id} was cancelled");
            if let Err(e) = inner.cancel_run(run.id, &reason).await {
                tracing::warn!(run = %run.id, error = %e, "cannot cancel a child of a cancelled run");
            }
        }
        return Err(TaskError::retryable("the run was cancelled"));
    }
    for run in &runs {
        let change = crate::store::Change {
            run_id: Some(run.id),
            run_status: Some(run.status),
            queued: run.status == RunStatus::Queued,
            ..Default::default()
        };
        inner.publish(&change).await;
    }
    Ok(runs)
}
