//! Remote workers: how edge agents reach the dispatcher. The server's `/api/v1/agent/*`
//! endpoints are thin wrappers over these calls; an agent is a worker like the in-process
//! ones, except that it heart-beats by polling and its messages arrive over HTTP.

use std::time::Duration;

use crate::engine::{Engine, EngineError};
use crate::model::{LogLine, ProgressRow, WorkerInfo};
use crate::planner::Fence;
use crate::store::Report;
use protocol::{AttemptRef, LogBatch, PollAnswer, ProgressBatch, TaskResult};

impl Engine {
    /// Register (or re-register) a remote worker.
    pub async fn register_remote(&self, worker: &WorkerInfo) -> Result<(), EngineError> {
        Ok(self.store().register_worker(worker, self.now()).await?)
    }

    /// The worker leaves gracefully: what it still runs is handed back and queued again.
    pub async fn deregister_remote(&self, worker: &WorkerInfo) -> Result<(), EngineError> {
        for change in self
            .store()
            .deregister_worker(worker.id, self.now())
            .await?
        {
            self.inner.publish(&change).await;
        }
        Ok(())
    }

    /// The long poll: heart-beat, then hand out work. Answers at once when there are
    /// attempts to stop or tasks to run; otherwise waits up to `wait` for a task to be
    /// queued or an attempt to be stopped (woken by the bus, not by a sleep loop; the
    /// engine's poll interval only catches retry back-offs coming due).
    pub async fn poll_remote(
        &self,
        worker: &WorkerInfo,
        running: &[AttemptRef],
        free_slots: u32,
        wait: Duration,
    ) -> Result<PollAnswer, EngineError> {
        self.poll_remote_until(worker, running, free_slots, wait, std::future::pending())
            .await
    }

    /// [`Engine::poll_remote`] whose wait also ends (with an empty answer) when `until`
    /// does, e.g. when the worker freed a slot or went away. Only the wait is cut short,
    /// never a claim, so no claimed task is lost on the way.
    pub async fn poll_remote_until(
        &self,
        worker: &WorkerInfo,
        running: &[AttemptRef],
        free_slots: u32,
        wait: Duration,
        until: impl std::future::Future<Output = ()>,
    ) -> Result<PollAnswer, EngineError> {
        let mut until = std::pin::pin!(until);
        let inner = &self.inner;
        // In-process actions are reserved: whatever an agent says it implements, it is never
        // handed one of their tasks.
        let mut worker = worker.clone();
        worker.actions.retain(|a| !self.is_in_process_action(a));
        let worker = &worker;
        let deadline = tokio::time::Instant::now() + wait;
        // Subscribe before looking, so a wake-up between a look and the wait is not missed.
        let mut queued = inner.queued.subscribe();
        let mut stopped = inner.stopped.subscribe();
        let running: Vec<_> = running.iter().map(|a| (a.task_id, a.attempt)).collect();
        loop {
            let beat = inner.store.heartbeat(worker.id, &running, self.now());
            let stale = inner.timed("heartbeat", beat).await?;
            let free = free_slots.min(worker.slots);
            let assignments = if free > 0 {
                inner.claim(worker, free).await?
            } else {
                Vec::new()
            };
            if !stale.is_empty() || !assignments.is_empty() {
                let cancellations = stale
                    .into_iter()
                    .map(|(task_id, attempt)| AttemptRef { task_id, attempt })
                    .collect();
                return Ok(PollAnswer {
                    assignments,
                    cancellations,
                });
            }
            tokio::select! {
                _ = queued.changed() => {}
                _ = stopped.changed() => {}
                () = tokio::time::sleep(inner.config.poll_interval) => {}
                () = tokio::time::sleep_until(deadline) => return Ok(PollAnswer::default()),
                () = &mut until => return Ok(PollAnswer::default()),
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(PollAnswer::default());
            }
        }
    }

    /// How a remote attempt ended. `Ok(false)`: the attempt is not the task's current one
    /// any more (a late answer), and nothing changed.
    pub async fn report_remote(&self, result: TaskResult) -> Result<bool, EngineError> {
        let report = Report {
            task_id: result.task_id,
            attempt: result.attempt,
            result: result.result,
        };
        match self.inner.report(report).await {
            Ok(Fence::Accepted) => Ok(true),
            Ok(Fence::Stale) => Ok(false),
            Err(e) => Err(EngineError::Write(e)),
        }
    }

    /// Extend a remote attempt's deadline by `by` from now. `Ok(false)`: not the task's
    /// running attempt (any more).
    pub async fn refresh_remote(
        &self,
        task_id: protocol::TaskId,
        attempt: i32,
        by: Duration,
    ) -> Result<bool, EngineError> {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let fence = self
            .store()
            .refresh_timeout(task_id, attempt, by, self.now())
            .await?;
        Ok(fence == Fence::Accepted)
    }

    /// A remote task's durable record under `key` (what `memo` keeps for in-process
    /// handlers): it outlives attempts, so a task executed again finds it.
    pub async fn remote_memo(
        &self,
        task_id: protocol::TaskId,
        key: &str,
    ) -> Result<Option<serde_json::Value>, EngineError> {
        Ok(self.store().memo_get(task_id, key).await?)
    }

    /// Record `value` under `key` unless something is recorded; answers the recorded one.
    pub async fn remote_memo_put(
        &self,
        task_id: protocol::TaskId,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<serde_json::Value, EngineError> {
        Ok(self.store().memo_put(task_id, key, value).await?)
    }

    /// Register (once) a remote task's `seq`-th wait for a user event; answers the payload
    /// of the event that satisfied it, once one has been pushed since the registration.
    pub async fn remote_event_wait(
        &self,
        task_id: protocol::TaskId,
        seq: i32,
        key: &str,
        expression: Option<&str>,
    ) -> Result<Option<serde_json::Value>, EngineError> {
        let wait = self
            .store()
            .wait_for_event(task_id, seq, key, expression, self.now());
        Ok(wait.await?)
    }

    /// Store a batch of an attempt's log lines (a re-sent line is ignored) and tell the
    /// log followers.
    pub async fn append_remote_logs(
        &self,
        run_id: crate::model::RunId,
        batch: LogBatch,
    ) -> Result<(), EngineError> {
        let lines: Vec<LogLine> = batch
            .lines
            .into_iter()
            .map(|l| LogLine {
                run_id,
                task_id: batch.task_id,
                attempt: batch.attempt,
                seq: l.seq,
                at: l.at,
                // Agents cut long lines themselves; one that does not is cut here.
                line: protocol::cap_log_line(l.line),
            })
            .collect();
        self.store().append_logs(&lines).await?;
        self.inner.publish_logs(run_id).await;
        Ok(())
    }

    /// Store progress points of an attempt (a re-sent point is ignored).
    pub async fn append_remote_progress(
        &self,
        run_id: crate::model::RunId,
        batch: ProgressBatch,
    ) -> Result<(), EngineError> {
        let rows: Vec<ProgressRow> = batch
            .points
            .into_iter()
            .map(|p| ProgressRow {
                run_id,
                task_id: batch.task_id,
                attempt: batch.attempt,
                seq: p.seq,
                at: p.at,
                values: p.values,
            })
            .collect();
        Ok(self.store().append_progress(&rows).await?)
    }
}
