//! One trace per run tree: the root run (a suite) is the trace, each run a span under the
//! task attempt that spawned it, each task attempt a span under its run, and the agent's
//! spans under the attempt it was handed. Spans are built when the attempt or run ends, from
//! what the committed change says, with ids derived from the run and task ids
//! (`telemetry::ids`): the replica that commits the end exports it, no state is kept but a
//! cache of each run's root.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use engine::model::{Millis, RunId, TaskId};
use engine::observe::{AttemptEnded, Outcome, RunEnded};
use engine::store::ReadStore;
use telemetry::opentelemetry::KeyValue;
use telemetry::opentelemetry::trace::{SpanId, TraceId};
use telemetry::{FinishedSpan, Pipeline, ids};
use tokio::sync::mpsc;

/// How many runs' roots are remembered before the cache starts afresh.
const ROOTS_KEPT: usize = 100_000;
/// Ended attempts and runs waiting to become spans; past this (a collector far behind, or
/// a store too slow to read) new ones are dropped, with a warning, not kept in memory.
const BACKLOG: usize = 100_000;
/// Parent chains longer than this are cut (a tree is a suite and its test runs).
const MAX_DEPTH: usize = 32;

enum Ended {
    Attempt(AttemptEnded),
    Run(RunEnded),
}

pub struct RunTracer {
    pipeline: Arc<Pipeline>,
    reads: Arc<dyn ReadStore>,
    roots: Mutex<HashMap<RunId, RunId>>,
    ended: mpsc::Sender<Ended>,
    /// How many ended attempts and runs were dropped (the backlog was full).
    dropped: std::sync::atomic::AtomicU64,
}

impl RunTracer {
    /// Start exporting; ended attempts and runs are turned into spans off the engine's path.
    pub fn start(pipeline: Arc<Pipeline>, reads: Arc<dyn ReadStore>) -> Arc<RunTracer> {
        let (ended, mut queue) = mpsc::channel(BACKLOG);
        let tracer = Arc::new(RunTracer {
            pipeline,
            reads,
            roots: Mutex::default(),
            ended,
            dropped: Default::default(),
        });
        let worker = Arc::downgrade(&tracer);
        tokio::spawn(async move {
            while let Some(ended) = queue.recv().await {
                let Some(tracer) = worker.upgrade() else {
                    return;
                };
                match ended {
                    Ended::Attempt(a) => tracer.export_attempt(&a).await,
                    Ended::Run(r) => tracer.export_run(&r).await,
                }
            }
        });
        tracer
    }

    pub fn changed(&self, change: &engine::store::Change) {
        let ended = change.ended.iter().cloned().map(Ended::Attempt);
        for end in ended.chain(change.run_ended.clone().map(Ended::Run)) {
            if self.ended.try_send(end).is_err()
                && self
                    .dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    == 0
            {
                tracing::warn!(
                    "traces: too many ended attempts wait to be exported; dropping some"
                );
            }
        }
    }

    /// The attempt's span as a `traceparent`, for its worker.
    pub async fn traceparent(&self, run: RunId, task: TaskId, attempt: i32) -> Option<String> {
        let trace = self.trace_of(run).await?;
        Some(telemetry::traceparent(
            trace,
            ids::attempt_span(task.as_u128(), attempt),
        ))
    }

    /// The trace a run belongs to: its root run's.
    async fn trace_of(&self, run: RunId) -> Option<TraceId> {
        let root = self.root_of(run).await?;
        Some(ids::trace_of_root(root.as_u128()))
    }

    /// The root of the run tree `run` is in (cached).
    pub async fn root_of(&self, run: RunId) -> Option<RunId> {
        let mut chain = Vec::new();
        let mut current = run;
        let root = loop {
            if let Some(root) = self.cached_root(current) {
                break root;
            }
            let parent = match self.reads.run(current).await {
                Ok(Some(state)) => state.parent.map(|p| p.run_id),
                // A run that is gone (or unreadable now) has no trace to join.
                Ok(None) => return None,
                Err(e) => {
                    tracing::debug!(run = %current, error = %e, "traces: cannot read a run");
                    return None;
                }
            };
            chain.push(current);
            match parent {
                Some(parent) if chain.len() < MAX_DEPTH => current = parent,
                _ => break current,
            }
        };
        let mut roots = self.roots.lock().unwrap_or_else(|e| e.into_inner());
        if roots.len() + chain.len() > ROOTS_KEPT {
            roots.clear();
        }
        for run in chain {
            roots.insert(run, root);
        }
        Some(root)
    }

    fn cached_root(&self, run: RunId) -> Option<RunId> {
        self.roots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&run)
            .copied()
    }

    async fn export_attempt(&self, a: &AttemptEnded) {
        let Some(trace_id) = self.trace_of(a.run_id).await else {
            return;
        };
        let mut attributes = vec![
            KeyValue::new("ratchet.run_id", a.run_id.to_string()),
            KeyValue::new("ratchet.task_id", a.task_id.to_string()),
            KeyValue::new("ratchet.task", a.task.clone()),
            KeyValue::new("ratchet.action", a.action.clone()),
            KeyValue::new("ratchet.attempt", i64::from(a.attempt)),
            KeyValue::new("ratchet.outcome", a.outcome.as_str()),
        ];
        if let Some(worker) = a.worker_id {
            attributes.push(KeyValue::new("ratchet.worker_id", worker.to_string()));
        }
        if let (Some(queued), Some(started)) = (a.queued_at, a.started_at) {
            attributes.push(KeyValue::new(
                "ratchet.queue_wait_ms",
                (started - queued).max(0),
            ));
        }
        let failed = !matches!(a.outcome, Outcome::Completed | Outcome::Suspended);
        self.pipeline.export(FinishedSpan {
            trace_id,
            span_id: ids::attempt_span(a.task_id.as_u128(), a.attempt),
            parent: Some(ids::run_span(a.run_id.as_u128())),
            name: a.task.clone(),
            start: at(a.started_at.unwrap_or(a.ended_at)),
            end: at(a.ended_at),
            attributes,
            error: failed.then(|| a.error.clone().unwrap_or_else(|| a.outcome.as_str().into())),
        });
    }

    async fn export_run(&self, r: &RunEnded) {
        let Some(trace_id) = self.trace_of(r.run_id).await else {
            return;
        };
        let mut attributes = vec![
            KeyValue::new("ratchet.run_id", r.run_id.to_string()),
            KeyValue::new("ratchet.workflow", r.workflow.clone()),
            KeyValue::new("ratchet.status", r.status.as_str()),
        ];
        let mut parent = None;
        if let Some(of) = &r.parent {
            attributes.push(KeyValue::new(
                "ratchet.parent_run_id",
                of.run_id.to_string(),
            ));
            parent = Some(self.spawning_attempt(of.task_id).await);
        }
        self.pipeline.export(FinishedSpan {
            trace_id,
            span_id: ids::run_span(r.run_id.as_u128()),
            parent,
            name: r.workflow.clone(),
            start: at(r.created_at),
            end: at(r.finished_at),
            attributes,
            error: (r.status != engine::model::RunStatus::Completed)
                .then(|| r.error.clone().unwrap_or_else(|| r.status.as_str().into())),
        });
    }

    /// The span of the parent task's attempt the child hangs under: its attempt now — the
    /// one that spawned it, unless the parent was retried since (then the child hangs under
    /// the attempt that waited for it) — or the first when the task cannot be read.
    async fn spawning_attempt(&self, task: TaskId) -> SpanId {
        let attempt = match self.reads.task(task).await {
            Ok(Some(t)) => t.attempt,
            _ => 1,
        };
        ids::attempt_span(task.as_u128(), attempt)
    }
}

fn at(ms: Millis) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}
