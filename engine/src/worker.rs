//! The in-process worker runtime: async Rust handlers registered by action name, run with a
//! slot limit. It talks to the dispatcher exactly as a remote agent does — register, claim,
//! heartbeat, report — so both kinds of worker share one code path in the store.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::engine::{EngineError, Inner};
use crate::model::{
    Assignment, AttemptResult, LogLine, Millis, RunId, TaskFailure, TaskId, WorkerId, WorkerInfo,
};
use crate::planner::Fence;
use crate::store::Report;

/// How a handler says it failed. Retryable errors use the task's retries; others fail it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskError {
    pub message: String,
    pub retryable: bool,
    /// Not a failure: the handler parked on a durable wait (see [`Context::durable_sleep`]).
    pub(crate) parked: Option<Park>,
}

/// Why a handler parked: until a time, or until an event arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Park {
    Until(Millis),
    Event,
}

impl TaskError {
    pub fn retryable(message: impl Into<String>) -> TaskError {
        TaskError {
            message: message.into(),
            retryable: true,
            parked: None,
        }
    }

    /// Retrying cannot help (bad input, a missing binary): fail at once.
    pub fn fatal(message: impl Into<String>) -> TaskError {
        TaskError {
            message: message.into(),
            retryable: false,
            parked: None,
        }
    }

    fn parked(park: Park) -> TaskError {
        TaskError {
            message: "parked on a durable wait (return this error with `?`)".into(),
            retryable: true,
            parked: Some(park),
        }
    }
}

impl<E: std::fmt::Display> From<E> for TaskError {
    fn from(e: E) -> TaskError {
        TaskError::retryable(e.to_string())
    }
}

pub type HandlerResult = Result<Value, TaskError>;
type BoxFuture = Pin<Box<dyn Future<Output = HandlerResult> + Send>>;
type Handler = Arc<dyn Fn(Context) -> BoxFuture + Send + Sync>;

/// A set of handlers with the labels and slot count they run under.
pub struct Worker {
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, Value>,
    pub(crate) slots: u32,
    pub(crate) handlers: HashMap<String, Handler>,
}

impl Worker {
    pub fn new(name: impl Into<String>) -> Worker {
        Worker {
            name: name.into(),
            labels: BTreeMap::new(),
            slots: 16,
            handlers: HashMap::new(),
        }
    }

    /// How many tasks may run at once.
    pub fn slots(mut self, slots: u32) -> Self {
        self.slots = slots.max(1);
        self
    }

    pub fn label(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Implement `action` with an async function of the task's [`Context`].
    pub fn handle<F, Fut>(mut self, action: impl Into<String>, handler: F) -> Self
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        self.handlers
            .insert(action.into(), Arc::new(move |ctx| Box::pin(handler(ctx))));
        self
    }

    pub(crate) fn info(&self, id: WorkerId) -> WorkerInfo {
        let mut actions: Vec<String> = self.handlers.keys().cloned().collect();
        actions.sort();
        WorkerInfo {
            id,
            name: self.name.clone(),
            kind: crate::model::WORKER_IN_PROCESS.into(),
            actions,
            labels: self.labels.clone(),
            slots: self.slots,
            run_scope: None,
            host: None,
        }
    }
}

/// What a handler gets: its input, its ancestors' outputs, logging, cancellation, and the
/// durable helpers.
#[derive(Clone)]
pub struct Context {
    pub(crate) assignment: Arc<Assignment>,
    pub(crate) cancel: CancellationToken,
    pub(crate) engine: Arc<Inner>,
    pub(crate) log_seq: Arc<AtomicI64>,
    /// Counts this execution's durable calls: their identity across executions.
    pub(crate) durable_seq: Arc<AtomicI32>,
    pub(crate) pending_logs: Arc<Mutex<Vec<LogLine>>>,
    /// One flush at a time, so two flushes never drop the same lines twice.
    pub(crate) flushing: Arc<tokio::sync::Mutex<()>>,
}

impl Context {
    pub fn run_id(&self) -> RunId {
        self.assignment.run_id
    }

    pub fn task_id(&self) -> TaskId {
        self.assignment.task_id
    }

    pub fn task_name(&self) -> &str {
        &self.assignment.task_name
    }

    /// This attempt's number, from 1.
    pub fn attempt(&self) -> i32 {
        self.assignment.attempt
    }

    /// This attempt's span as W3C trace context, when traces are exported.
    pub fn traceparent(&self) -> Option<&str> {
        self.assignment.traceparent.as_deref()
    }

    pub fn input(&self) -> &Value {
        &self.assignment.input
    }

    pub fn input_as<T: DeserializeOwned>(&self) -> Result<T, TaskError> {
        serde_json::from_value(self.input().clone())
            .map_err(|e| TaskError::fatal(format!("the task's input does not fit: {e}")))
    }

    /// The output of an ancestor task, by name.
    pub fn parent_output(&self, name: &str) -> Option<&Value> {
        self.assignment.parents.get(name)
    }

    pub fn parent_as<T: DeserializeOwned>(&self, name: &str) -> Result<T, TaskError> {
        let value = self
            .parent_output(name)
            .ok_or_else(|| TaskError::fatal(format!("no output of ancestor '{name}'")))?;
        serde_json::from_value(value.clone())
            .map_err(|e| TaskError::fatal(format!("the output of '{name}' does not fit: {e}")))
    }

    pub fn parents(&self) -> &BTreeMap<String, Value> {
        &self.assignment.parents
    }

    /// For the on-failure task: every failed task with its error.
    pub fn failures(&self) -> &[TaskFailure] {
        &self.assignment.failures
    }

    /// Append a line to the task's log (stored in batches, in order).
    pub fn log(&self, line: impl Into<String>) {
        let line = LogLine {
            run_id: self.assignment.run_id,
            task_id: self.assignment.task_id,
            attempt: self.assignment.attempt,
            seq: self.log_seq.fetch_add(1, Ordering::SeqCst),
            at: self.engine.clock.now(),
            line: protocol::cap_log_line(line.into()),
        };
        self.pending_logs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }

    /// Store the lines logged so far. Lines leave the buffer only once written (a flush
    /// cut short keeps them for the next; a line written twice is stored once).
    pub async fn flush_logs(&self) -> Result<(), EngineError> {
        let _one_at_a_time = self.flushing.lock().await;
        let lines = self
            .pending_logs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if !lines.is_empty() {
            self.engine.store.append_logs(&lines).await?;
            self.pending_logs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain(..lines.len());
            self.engine.publish_logs(self.assignment.run_id).await;
        }
        Ok(())
    }

    /// Cancelled: by a user, a timeout, or the engine shutting down. Handlers should stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Resolves when the task is cancelled.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Push this attempt's deadline to `by` from now (when it is later than the current one).
    pub async fn refresh_timeout(&self, by: Duration) -> Result<(), EngineError> {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let now = self.engine.clock.now();
        match self
            .engine
            .store
            .refresh_timeout(self.task_id(), self.attempt(), by, now)
            .await?
        {
            Fence::Accepted => Ok(()),
            Fence::Stale => Err(EngineError::Stale),
        }
    }

    /// Run `fut` once per task and record its result; a re-executed task (retry, crash,
    /// reassignment) gets the recorded result without running `fut` again.
    pub async fn memo<T, F>(&self, key: &str, fut: F) -> Result<T, TaskError>
    where
        T: Serialize + DeserializeOwned,
        F: Future<Output = Result<T, TaskError>>,
    {
        let store = &self.engine.store;
        if let Some(recorded) = store.memo_get(self.task_id(), key).await? {
            return Ok(serde_json::from_value(recorded)?);
        }
        let value = serde_json::to_value(fut.await?)?;
        let recorded = store.memo_put(self.task_id(), key, &value).await?;
        Ok(serde_json::from_value(recorded)?)
    }

    /// Sleep durably: the first time, the handler returns (propagate the error with `?`),
    /// its slot is freed and the task is queued again for the wake-up time; the next
    /// execution passes this call at once. Survives restarts. Calls are told apart by their
    /// order, so a handler must make its durable calls in the same order every time.
    pub async fn durable_sleep(&self, d: Duration) -> Result<(), TaskError> {
        let seq = self.durable_seq.fetch_add(1, Ordering::SeqCst);
        let now = self.engine.clock.now();
        let wake_at = now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let recorded = self
            .engine
            .store
            .memo_put(
                self.task_id(),
                &format!("ratchet.sleep.{seq}"),
                &Value::from(wake_at),
            )
            .await?;
        let wake_at = recorded.as_i64().unwrap_or(wake_at);
        if now >= wake_at {
            return Ok(());
        }
        Err(TaskError::parked(Park::Until(wake_at)))
    }

    /// Wait durably for a user event with `key` whose payload satisfies `expression` (CEL
    /// over `payload`; `None`: any), pushed after this wait was first reached. Like
    /// [`Context::durable_sleep`], the handler returns while it waits and holds no slot;
    /// the next execution gets the event's payload.
    pub async fn wait_for_event(
        &self,
        key: &str,
        expression: Option<&str>,
    ) -> Result<Value, TaskError> {
        if let Some(e) = expression {
            crate::expr::Expr::compile(e)
                .map_err(|error| TaskError::fatal(format!("bad wait expression `{e}`: {error}")))?;
        }
        let seq = self.durable_seq.fetch_add(1, Ordering::SeqCst);
        let now = self.engine.clock.now();
        match self
            .engine
            .store
            .wait_for_event(self.task_id(), seq, key, expression, now)
            .await?
        {
            Some(payload) => Ok(payload),
            None => Err(TaskError::parked(Park::Event)),
        }
    }

    /// Sleep, but wake early (with an error) when the task is cancelled.
    pub async fn sleep(&self, d: Duration) -> Result<(), TaskError> {
        tokio::select! {
            () = tokio::time::sleep(d) => Ok(()),
            () = self.cancel.cancelled() => Err(TaskError::fatal("cancelled")),
        }
    }
}

/// How long a nearly full worker under a backlog waits for more of its slots to free before
/// it claims (see `run_worker`).
const CLAIM_GATHER: Duration = Duration::from_millis(2);

/// Runs a worker: registers it, claims while slots are free, heart-beats, and reports.
pub(crate) async fn run_worker(
    engine: Arc<Inner>,
    worker: Worker,
    id: WorkerId,
    stop: CancellationToken,
) {
    let info = worker.info(id);
    let handlers = Arc::new(worker.handlers);
    let running: Arc<Mutex<HashMap<(TaskId, i32), CancellationToken>>> = Arc::default();
    let (slot_freed_tx, mut slot_freed) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut queued = engine.queued.subscribe();
    let mut handles = tokio::task::JoinSet::new();

    while !stop.is_cancelled() {
        if let Err(e) = engine
            .store
            .register_worker(&info, engine.clock.now())
            .await
        {
            tracing::warn!(worker = %info.name, error = %e, "cannot register the worker; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        break;
    }
    let heartbeat = tokio::spawn(heartbeat_loop(
        engine.clone(),
        info.clone(),
        running.clone(),
        stop.clone(),
    ));

    let free_slots = || {
        let busy = running.lock().unwrap_or_else(|e| e.into_inner()).len() as u32;
        info.slots.saturating_sub(busy)
    };
    // The last claim filled every free slot, so more is likely queued.
    let mut backlog = false;
    // Under a backlog, slots free in waves (a batch of reports commits): a nearly full worker
    // waits a moment for the wave rather than claiming one slot at a time, since a claim of
    // one costs about as much as a claim of a hundred.
    let wave = (info.slots / 4).max(1);
    while !stop.is_cancelled() {
        let mut free = free_slots();
        if backlog && free < wave {
            let until = tokio::time::Instant::now() + CLAIM_GATHER;
            while free < wave {
                tokio::select! {
                    Some(()) = slot_freed.recv() => {}
                    () = tokio::time::sleep_until(until) => break,
                    () = stop.cancelled() => break,
                }
                free = free_slots();
            }
            // Drain before counting: a slot freed after the count keeps its wake-up.
            while slot_freed.try_recv().is_ok() {}
            free = free_slots();
        }
        let mut claimed = 0;
        if free > 0 {
            match engine.claim(&info, free).await {
                Ok(assignments) => {
                    claimed = assignments.len() as u32;
                    for assignment in assignments {
                        let Some(handler) = handlers.get(&assignment.action).cloned() else {
                            continue;
                        };
                        let cancel = stop.child_token();
                        running
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert((assignment.task_id, assignment.attempt), cancel.clone());
                        engine.register_local(
                            assignment.task_id,
                            assignment.attempt,
                            cancel.clone(),
                        );
                        let (engine, running, freed) =
                            (engine.clone(), running.clone(), slot_freed_tx.clone());
                        handles.spawn(async move {
                            let key = (assignment.task_id, assignment.attempt);
                            execute(engine.clone(), handler, assignment, cancel).await;
                            running
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .remove(&key);
                            engine.unregister_local(key.0, key.1);
                            let _ = freed.send(());
                        });
                    }
                }
                Err(e) => tracing::warn!(worker = %info.name, error = %e, "claim failed"),
            }
        }
        if free > 0 {
            backlog = claimed == free;
            if backlog {
                continue; // there may be more
            }
        }
        // Reap finished handler tasks so the set does not grow.
        while handles.try_join_next().is_some() {}
        tokio::select! {
            _ = queued.changed() => {}
            _ = slot_freed.recv() => {}
            () = tokio::time::sleep(engine.config.poll_interval) => {}
            () = stop.cancelled() => {}
        }
        // Slots freed together (a batch of reports committed) make one claim, not one each.
        while slot_freed.try_recv().is_ok() {}
    }
    handles.abort_all();
    heartbeat.abort();
}

async fn heartbeat_loop(
    engine: Arc<Inner>,
    info: WorkerInfo,
    running: Arc<Mutex<HashMap<(TaskId, i32), CancellationToken>>>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(engine.config.heartbeat_interval) => {}
            () = stop.cancelled() => return,
        }
        let current: Vec<(TaskId, i32)> = running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect();
        match engine
            .store
            .heartbeat(info.id, &current, engine.clock.now())
            .await
        {
            Ok(stale) => {
                let running = running.lock().unwrap_or_else(|e| e.into_inner());
                for key in stale {
                    if let Some(token) = running.get(&key) {
                        token.cancel();
                    }
                }
            }
            Err(crate::store::StoreError::NotFound(_)) => {
                // We were declared lost: our tasks went to others. Stop them and rejoin.
                for token in running.lock().unwrap_or_else(|e| e.into_inner()).values() {
                    token.cancel();
                }
                let _ = engine
                    .store
                    .register_worker(&info, engine.clock.now())
                    .await;
            }
            Err(e) => tracing::warn!(worker = %info.name, error = %e, "heartbeat failed"),
        }
    }
}

/// Run one attempt and report how it ended (unless it was cancelled: then the store already
/// knows, and a report would be refused anyway).
async fn execute(
    engine: Arc<Inner>,
    handler: Handler,
    assignment: Assignment,
    cancel: CancellationToken,
) {
    let ctx = Context {
        assignment: Arc::new(assignment),
        cancel: cancel.clone(),
        engine: engine.clone(),
        log_seq: Arc::default(),
        durable_seq: Arc::default(),
        pending_logs: Arc::default(),
        flushing: Arc::default(),
    };
    let flusher = AbortOnDrop({
        let ctx = ctx.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let _ = ctx.flush_logs().await;
            }
        })
    });
    // Its log lines say which attempt they are about (and its trace, when there is one).
    let span = tracing::info_span!(
        "task",
        run_id = %ctx.run_id(),
        task_id = %ctx.task_id(),
        task = %ctx.task_name(),
        attempt = ctx.attempt(),
        trace_id = tracing::field::Empty,
    );
    if let Some(trace_id) = ctx.traceparent().and_then(|t| t.split('-').nth(1)) {
        span.record("trace_id", trace_id);
    }
    // A panicking handler must not take the worker down: run it as its own task.
    let mut run = AbortOnDrop(tokio::spawn(tracing::Instrument::instrument(
        handler(ctx.clone()),
        span,
    )));
    let result = tokio::select! {
        joined = &mut run.0 => match joined {
            Ok(result) => Some(result),
            Err(e) => Some(Err(TaskError::retryable(format!("the handler panicked: {e}")))),
        },
        () = cancel.cancelled() => {
            // Cooperative: the handler sees the token and may clean up, for a while.
            let _ = tokio::time::timeout(engine.config.cancel_grace, &mut run.0).await;
            None
        }
    };
    drop((flusher, run));
    if let Err(e) = ctx.flush_logs().await {
        tracing::warn!(task = %ctx.task_id(), error = %e, "cannot store the task's last log lines");
    }
    let Some(result) = result else { return };
    let result = match result {
        Ok(output) => AttemptResult::Completed { output },
        Err(TaskError {
            parked: Some(park), ..
        }) => AttemptResult::Suspended {
            until: match park {
                Park::Until(at) => Some(at),
                Park::Event => None,
            },
        },
        Err(e) => AttemptResult::Failed {
            error: e.message,
            retryable: e.retryable,
        },
    };
    // Retried: a lost report would leave the task RUNNING until its timeout.
    let report = Report {
        task_id: ctx.task_id(),
        attempt: ctx.attempt(),
        result,
    };
    // Until it is written or the attempt stops being ours (then the heartbeat cancels it):
    // a dropped result would leave the task RUNNING until its timeout, and run it again.
    let mut delay = Duration::ZERO;
    loop {
        tokio::time::sleep(delay).await;
        if cancel.is_cancelled() {
            return;
        }
        match engine.report(report.clone()).await {
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(task = %ctx.task_id(), error = %e, "cannot report the result; retrying")
            }
        }
        delay = (delay * 2).clamp(Duration::from_millis(100), Duration::from_secs(5));
    }
}

/// Ends a spawned task when its owner goes away (a dropped engine must not leave handlers
/// running on their own).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
