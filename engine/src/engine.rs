//! The engine: registers workflows, starts runs, runs in-process workers and the time-driven
//! sweeper, and publishes every state change on the bus. All state is in the store, so an
//! engine can be dropped (or its process killed) at any point and another carries on.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::batch::{Batcher, batcher};
use crate::bus::Bus;
use crate::clock::{Clock, SystemClock};
use crate::definition::{DefinitionError, WorkflowDef};
use crate::leader::Leadership;
use crate::model::{Millis, RateLimit, RunId, RunState, TaskEvent, TaskId, TaskState, WorkerId};
use crate::observe::Observer;
use crate::planner::Fence;
use crate::store::{
    Change, LeaseStore, NewRun, ReadStore, Report, ScheduleStore, Store, StoreError, TokenStore,
};
use crate::worker::{Worker, run_worker};

/// Bus channels. Messages are hints to re-read the store; they carry ids and statuses.
pub mod channels {
    /// Run and task status changes (JSON: run_id, run_status, tasks).
    pub const STATUS: &str = "ratchet.status";
    /// A task was queued: workers should claim.
    pub const QUEUED: &str = "ratchet.queued";
    /// A running attempt must stop (JSON: task_id, attempt).
    pub const STOP: &str = "ratchet.stop";
    /// New log lines were stored for a run (payload: the run id).
    pub const LOGS: &str = "ratchet.logs";
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Definition(#[from] DefinitionError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no workflow named '{0}' is registered")]
    UnknownWorkflow(String),
    #[error("the attempt is no longer the task's current one")]
    Stale,
    #[error("timed out waiting for run {0}")]
    WaitTimeout(RunId),
    #[error("cannot write: {0}")]
    Write(String),
    #[error("{0}")]
    InvalidSchedule(String),
    /// The run's input does not fit its workflow (e.g. its concurrency key cannot be had).
    #[error("{0}")]
    BadInput(String),
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// A worker silent this long is lost and its tasks are reassigned.
    pub worker_timeout: Duration,
    pub heartbeat_interval: Duration,
    /// How often timeouts, lost workers and sleeps are checked.
    pub sweep_interval: Duration,
    /// How often an idle worker polls even without a wake-up (retry backoffs come due).
    pub poll_interval: Duration,
    /// How long a cancelled handler may take to stop by itself before it is aborted.
    pub cancel_grace: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            worker_timeout: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(5),
            sweep_interval: Duration::from_millis(500),
            poll_interval: Duration::from_millis(500),
            cancel_grace: Duration::from_secs(10),
        }
    }
}

/// Shared by the engine handle, its workers and their handlers' contexts.
pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) bus: Arc<dyn Bus>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: EngineConfig,
    /// When this engine started (see the sweep's grace after a restart).
    started: Millis,
    /// Bumped whenever a task is queued; idle workers watch it.
    pub(crate) queued: tokio::sync::watch::Sender<u64>,
    /// Bumped whenever an attempt must stop; long-polling agents watch it.
    pub(crate) stopped: tokio::sync::watch::Sender<u64>,
    /// Bumped whenever a run or task changes status; parents waiting for children watch it.
    pub(crate) status: tokio::sync::watch::Sender<u64>,
    /// Attempts running in this process, so a stop message can reach them at once.
    local: Mutex<HashMap<(TaskId, i32), CancellationToken>>,
    /// Actions implemented by this engine's in-process workers: reserved, never handed to
    /// an edge agent (their handlers reach the server's own state).
    pub(crate) in_process: Mutex<std::collections::BTreeSet<String>>,
    /// Poked when a concurrency slot may have come free or a run or task wants one.
    pub(crate) admission: tokio::sync::Notify,
    /// Reports and new runs are written in batches (see [`crate::batch`]).
    reports: Batcher<Report, Fence>,
    pub(crate) creations: Batcher<NewRun, RunState>,
    /// Set once by the server (metrics and traces), see [`crate::observe`].
    observer: std::sync::OnceLock<Arc<dyn Observer>>,
    /// Of the replicas on one store, one sweeps (timeouts, lost workers, sleeps, crons).
    pub(crate) sweeping: Leadership,
}

impl Inner {
    /// Tell everyone what changed: status watchers, idle workers, running attempts to stop.
    pub(crate) async fn publish(&self, change: &Change) {
        if change.is_empty() {
            return;
        }
        if let Some(observer) = self.observer.get() {
            observer.changed(change);
        }
        let status = json!({
            "run_id": change.run_id,
            "run_status": change.run_status,
            "tasks": change.tasks.iter().map(|(id, name, status)| json!({"id": id, "name": name, "status": status})).collect::<Vec<_>>(),
        });
        self.publish_raw(channels::STATUS, &status.to_string())
            .await;
        if change.concurrency {
            self.admission.notify_one();
        }
        self.status.send_modify(|n| *n += 1);
        if change.queued {
            self.queued.send_modify(|n| *n += 1);
            self.publish_raw(channels::QUEUED, "").await;
        }
        if !change.stop.is_empty() {
            self.stopped.send_modify(|n| *n += 1);
        }
        for (task_id, attempt, _) in &change.stop {
            self.stop_local(*task_id, *attempt);
            self.publish_raw(
                channels::STOP,
                &json!({"task_id": task_id, "attempt": attempt}).to_string(),
            )
            .await;
        }
    }

    /// `call`, timed for the observer as `op`.
    pub(crate) async fn timed<T>(&self, op: &'static str, call: impl Future<Output = T>) -> T {
        let Some(observer) = self.observer.get() else {
            return call.await;
        };
        let started = std::time::Instant::now();
        let answer = call.await;
        observer.store_call(op, started.elapsed());
        answer
    }

    /// Up to `capacity` tasks for `worker`, each with its trace context when traces are
    /// exported.
    pub(crate) async fn claim(
        &self,
        worker: &crate::model::WorkerInfo,
        capacity: u32,
    ) -> Result<Vec<crate::model::Assignment>, StoreError> {
        let mut assignments = self
            .timed(
                "claim",
                self.store.claim(worker, capacity, self.clock.now()),
            )
            .await?;
        if let Some(observer) = self.observer.get().filter(|o| o.traces()) {
            for a in &mut assignments {
                a.traceparent = observer.traceparent(a.run_id, a.task_id, a.attempt).await;
            }
        }
        Ok(assignments)
    }

    async fn write_reports(self: Arc<Self>, batch: Vec<Report>) -> Vec<Result<Fence, String>> {
        let reported = self.store.report_many(&batch, self.clock.now());
        match self.timed("report", reported).await {
            Ok(answers) => {
                let mut out = Vec::with_capacity(answers.len());
                for answer in answers {
                    out.push(match answer {
                        Ok((fence, change)) => {
                            self.publish(&change).await;
                            Ok(fence)
                        }
                        Err(e) => Err(e.to_string()),
                    });
                }
                out
            }
            Err(e) => batch.iter().map(|_| Err(e.to_string())).collect(),
        }
    }

    async fn write_creations(self: Arc<Self>, batch: Vec<NewRun>) -> Vec<Result<RunState, String>> {
        let n = batch.len();
        let created = self.store.create_runs(batch.clone(), self.clock.now());
        match self.timed("create_runs", created).await {
            Ok(runs) => {
                self.created(&runs).await;
                runs.into_iter().map(Ok).collect()
            }
            // One bad run must not fail the others: write them one by one.
            Err(_) if n > 1 => {
                let mut out = Vec::with_capacity(n);
                for run in batch {
                    out.extend(Box::pin(self.clone().write_creations(vec![run])).await);
                }
                out
            }
            Err(e) => vec![Err(e.to_string())],
        }
    }

    /// Tell watchers and workers about newly created runs (their first tasks are queued).
    async fn created(&self, runs: &[RunState]) {
        if runs.iter().any(|r| r.waiting_for_slot) {
            self.admission.notify_one();
        }
        for run in runs {
            let change = Change {
                run_id: Some(run.id),
                run_status: Some(run.status),
                queued: true,
                ..Change::default()
            };
            self.publish(&change).await;
        }
    }

    /// Report how an attempt ended. Reports arriving together share one transaction.
    pub(crate) async fn report(&self, report: Report) -> Result<Fence, String> {
        self.reports.submit(report).await
    }

    pub(crate) async fn cancel_run(&self, run_id: RunId, reason: &str) -> Result<(), EngineError> {
        let mut pending = vec![(run_id, reason.to_string())];
        while let Some((id, reason)) = pending.pop() {
            let change = self.store.cancel_run(id, &reason, self.clock.now()).await?;
            self.publish(&change).await;
            for child in self.store.child_runs(id, None).await? {
                if !child.status.is_terminal() {
                    pending.push((child.id, format!("its parent run {id} was cancelled")));
                }
            }
        }
        Ok(())
    }

    pub(crate) async fn publish_logs(&self, run_id: RunId) {
        self.publish_raw(channels::LOGS, &run_id.to_string()).await;
    }

    async fn publish_raw(&self, channel: &str, payload: &str) {
        match self.bus.publish(channel, payload).await {
            Ok(()) | Err(crate::bus::BusError::Unavailable) => {}
            Err(e) => tracing::warn!(channel, error = %e, "cannot publish on the bus"),
        }
    }

    pub(crate) fn register_local(&self, task_id: TaskId, attempt: i32, token: CancellationToken) {
        self.local
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((task_id, attempt), token);
    }

    pub(crate) fn unregister_local(&self, task_id: TaskId, attempt: i32) {
        self.local
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(task_id, attempt));
    }

    fn stop_local(&self, task_id: TaskId, attempt: i32) {
        if let Some(token) = self
            .local
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(task_id, attempt))
        {
            token.cancel();
        }
    }

    /// Admit runs and tasks to free concurrency slots; cancel what a rule says must go.
    pub(crate) async fn admit(&self) -> Result<(), EngineError> {
        let admission = self
            .timed("admit", self.store.admit(self.clock.now()))
            .await?;
        for change in &admission.changes {
            self.publish(change).await;
        }
        for (run_id, reason) in admission.cancel_runs {
            self.cancel_run(run_id, &reason).await?;
        }
        for (task_id, reason) in admission.cancel_tasks {
            self.cancel_task(task_id, &reason).await?;
        }
        Ok(())
    }

    pub(crate) async fn cancel_task(
        &self,
        task_id: TaskId,
        reason: &str,
    ) -> Result<(), EngineError> {
        let change = self
            .store
            .cancel_task(task_id, reason, self.clock.now())
            .await?;
        self.publish(&change).await;
        Ok(())
    }

    async fn sweep(&self) -> Result<(), StoreError> {
        self.fire_schedules().await?;
        let now = self.clock.now();
        let mut worker_timeout =
            i64::try_from(self.config.worker_timeout.as_millis()).unwrap_or(i64::MAX);
        // Right after a (re)start nobody is declared lost: workers that waited out our
        // downtime get one whole lease to come back before their tasks are taken away.
        if now < self.started.saturating_add(worker_timeout) {
            worker_timeout = i64::MAX;
        }
        let swept = self.store.sweep(now, worker_timeout);
        for change in self.timed("sweep", swept).await? {
            self.publish(&change).await;
        }
        Ok(())
    }
}

type BoxedLoop = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One answer per item of a batch, in order.
type Answers<R> = Vec<Result<R, String>>;

/// A batch writer that reaches the engine's state only while the engine lives (the state
/// owns the writer's sender, so it holds the state weakly).
fn while_alive<T, R, F, Fut>(
    weak: Weak<Inner>,
    write: F,
) -> impl FnMut(Vec<T>) -> Pin<Box<dyn Future<Output = Answers<R>> + Send>>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(Arc<Inner>, Vec<T>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Answers<R>> + Send + 'static,
{
    move |batch| {
        let (inner, write) = (weak.upgrade(), write.clone());
        Box::pin(async move {
            match inner {
                Some(inner) => write(inner, batch).await,
                None => batch
                    .iter()
                    .map(|_| Err("the engine is stopping".to_string()))
                    .collect(),
            }
        })
    }
}

/// A new top-level run of `def`, its input checked against the workflow's concurrency rule.
fn new_run(def: &WorkflowDef, input: Value) -> Result<NewRun, EngineError> {
    if let Some(rule) = &def.concurrency {
        crate::concurrency::key_of(rule, &input).map_err(EngineError::BadInput)?;
    }
    Ok(NewRun {
        id: Uuid::now_v7(),
        workflow: def.name.clone(),
        version: def.version.clone(),
        input,
        parent: None,
    })
}

/// The engine handle. Dropping it stops its workers and loops (as a crash would, minus the
/// process); [`Engine::shutdown`] also hands running tasks back at once.
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
    stop: CancellationToken,
    workers: Mutex<Vec<WorkerId>>,
    background: Mutex<tokio::task::JoinSet<()>>,
}

impl Engine {
    /// An engine on the system clock with default timings.
    pub fn new(store: Arc<dyn Store>, bus: Arc<dyn Bus>) -> Engine {
        Engine::with(store, bus, Arc::new(SystemClock), EngineConfig::default())
    }

    pub fn with(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Engine {
        let stop = CancellationToken::new();
        // The batch writers hold the engine's state weakly: it owns their senders.
        let mut writers: Vec<BoxedLoop> = Vec::new();
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            let (reports, write_reports) = batcher(
                256,
                stop.clone(),
                while_alive(weak.clone(), Inner::write_reports),
            );
            let (creations, write_creations) = batcher(
                256,
                stop.clone(),
                while_alive(weak.clone(), Inner::write_creations),
            );
            writers.push(Box::pin(write_reports));
            writers.push(Box::pin(write_creations));
            let sweeping = Leadership::new(store.clone(), SWEEP_LEADER, sweep_term(&config));
            Inner {
                store,
                bus,
                started: clock.now(),
                clock,
                config,
                queued: tokio::sync::watch::channel(0).0,
                stopped: tokio::sync::watch::channel(0).0,
                status: tokio::sync::watch::channel(0).0,
                local: Mutex::default(),
                in_process: Mutex::default(),
                admission: tokio::sync::Notify::new(),
                reports,
                creations,
                observer: std::sync::OnceLock::new(),
                sweeping,
            }
        });
        let engine = Engine {
            inner,
            stop,
            workers: Mutex::default(),
            background: Mutex::new(tokio::task::JoinSet::new()),
        };
        engine.spawn(sweeper(engine.inner.clone(), engine.stop.clone()));
        engine.spawn(listener(engine.inner.clone(), engine.stop.clone()));
        engine.spawn(admitter(engine.inner.clone(), engine.stop.clone()));
        for writer in writers {
            engine.spawn(writer);
        }
        engine
    }

    fn spawn(&self, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        self.background
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .spawn(fut);
    }

    /// The whole store: the engine's own (its writes are published and cascaded here).
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Give the engine its observer (once; a second is ignored).
    pub fn observe(&self, observer: Arc<dyn Observer>) {
        let _ = self.inner.observer.set(observer);
    }

    /// Reads of runs, tasks, timelines, workers, logs: for the API and the domain.
    pub fn reads(&self) -> Arc<dyn ReadStore> {
        self.inner.store.clone()
    }

    /// Leases on shared resources (network blocks, machines, quota shares).
    pub fn leases(&self) -> Arc<dyn LeaseStore> {
        self.inner.store.clone()
    }

    /// Bearer tokens.
    pub fn tokens(&self) -> Arc<dyn TokenStore> {
        self.inner.store.clone()
    }

    /// The server's named documents (named baselines).
    pub fn records(&self) -> Arc<dyn crate::store::RecordStore> {
        self.inner.store.clone()
    }

    /// Crons and scheduled runs (listing and deleting; creating goes through the engine,
    /// which checks them).
    pub fn schedules(&self) -> Arc<dyn ScheduleStore> {
        self.inner.store.clone()
    }

    /// This installation's identity.
    pub async fn installation(&self) -> Result<crate::store::Installation, EngineError> {
        Ok(self.inner.store.installation().await?)
    }

    /// Which database the store runs on.
    pub fn store_kind(&self) -> crate::store::StoreKind {
        self.inner.store.kind()
    }

    /// A round trip to the database (readiness).
    pub async fn ping_store(&self) -> Result<(), EngineError> {
        Ok(self.inner.store.ping().await?)
    }

    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.inner.bus
    }

    pub fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    /// Validate and store a workflow definition (idempotent for an identical definition).
    /// Its `on_crons` become crons named `<workflow>: <expression>` (of this version).
    pub async fn register_workflow(&self, def: &WorkflowDef) -> Result<(), EngineError> {
        def.validate()?;
        for expression in &def.on_crons {
            crate::schedules::next_tick(expression, self.now())
                .map_err(EngineError::InvalidSchedule)?;
        }
        self.inner.store.put_workflow(def, self.now()).await?;
        for expression in &def.on_crons {
            let name = format!("{}: {expression}", def.name);
            self.create_cron(
                &name,
                &def.name,
                &def.version,
                expression,
                Value::Object(Default::default()),
            )
            .await?;
        }
        Ok(())
    }

    /// Start a run of a registered workflow version.
    pub async fn run_workflow(
        &self,
        name: &str,
        version: &str,
        input: Value,
    ) -> Result<RunState, EngineError> {
        let def = self.definition(name, version).await?;
        let new = new_run(&def, input)?;
        // Runs created together share one transaction.
        self.inner
            .creations
            .submit(new)
            .await
            .map_err(|e| EngineError::Store(StoreError::Conflict(e)))
    }

    /// Start many runs of one workflow version at once, in one transaction: all are
    /// created or none (a bulk trigger).
    pub async fn run_workflows(
        &self,
        name: &str,
        version: &str,
        inputs: Vec<Value>,
    ) -> Result<Vec<RunState>, EngineError> {
        let def = self.definition(name, version).await?;
        let new_runs = inputs
            .into_iter()
            .map(|input| new_run(&def, input))
            .collect::<Result<Vec<_>, _>>()?;
        let created = self.inner.store.create_runs(new_runs, self.now());
        let runs = self.inner.timed("create_runs", created).await?;
        self.inner.created(&runs).await;
        Ok(runs)
    }

    async fn definition(&self, name: &str, version: &str) -> Result<Arc<WorkflowDef>, EngineError> {
        self.inner
            .store
            .workflow(name, version)
            .await?
            .ok_or_else(|| EngineError::UnknownWorkflow(format!("{name}@{version}")))
    }

    /// Cancel a run and, depth first, every child run it spawned.
    pub async fn cancel_run(&self, run_id: RunId) -> Result<(), EngineError> {
        self.inner.cancel_run(run_id, "cancelled by request").await
    }

    /// Run chosen tasks of an ended run again (none named: every task), with their
    /// descendants and the child runs they spawned; upstream outputs are kept.
    pub async fn replay(&self, run_id: RunId, tasks: &[String]) -> Result<RunState, EngineError> {
        for change in self.inner.store.replay(run_id, tasks, self.now()).await? {
            self.inner.publish(&change).await;
        }
        self.inner.admission.notify_one();
        self.run(run_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("run {run_id}")).into())
    }

    /// Create or change a static rate limit (`limit` units per `duration`).
    pub async fn put_rate_limit(&self, limit: &RateLimit) -> Result<(), EngineError> {
        if limit.key.trim().is_empty() || limit.limit < 1 || limit.duration.0.is_zero() {
            return Err(EngineError::BadInput(format!(
                "rate limit '{}': needs a key, a limit of at least 1 and a duration longer than zero",
                limit.key
            )));
        }
        Ok(self.inner.store.put_rate_limit(limit, self.now()).await?)
    }

    pub async fn rate_limits(&self) -> Result<Vec<RateLimit>, EngineError> {
        Ok(self.inner.store.rate_limits().await?)
    }

    pub async fn cancel_task(&self, task_id: TaskId) -> Result<(), EngineError> {
        self.inner
            .cancel_task(task_id, "cancelled by request")
            .await
    }

    pub async fn run(&self, run_id: RunId) -> Result<Option<RunState>, EngineError> {
        Ok(self.inner.store.run(run_id).await?)
    }

    pub async fn tasks(&self, run_id: RunId) -> Result<Vec<TaskState>, EngineError> {
        Ok(self.inner.store.tasks(run_id).await?)
    }

    pub async fn events(&self, run_id: RunId) -> Result<Vec<TaskEvent>, EngineError> {
        Ok(self.inner.store.events(run_id, 0).await?)
    }

    /// Check timeouts, lost workers and due sleeps now (the sweeper also does so on its own).
    pub async fn sweep(&self) -> Result<(), EngineError> {
        Ok(self.inner.sweep().await?)
    }

    /// Start an in-process worker; it runs until the engine stops. Its actions become
    /// reserved: no edge agent is ever assigned a task of theirs.
    pub fn start_worker(&self, worker: Worker) -> WorkerId {
        let id = Uuid::now_v7();
        self.inner
            .in_process
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(worker.handlers.keys().cloned());
        self.workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(id);
        self.spawn(run_worker(
            self.inner.clone(),
            worker,
            id,
            self.stop.clone(),
        ));
        id
    }

    /// Is `action` implemented by an in-process worker of this engine (reserved)?
    pub fn is_in_process_action(&self, action: &str) -> bool {
        self.inner
            .in_process
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(action)
    }

    /// The first task of `def` (on-failure included) whose action is in-process: such a
    /// workflow reaches the server's own state and starts only through its domain.
    pub fn in_process_task<'d>(
        &self,
        def: &'d WorkflowDef,
    ) -> Option<&'d crate::definition::TaskDef> {
        def.tasks
            .iter()
            .chain(def.on_failure.as_ref())
            .find(|t| self.is_in_process_action(&t.action))
    }

    /// Wait until the run has ended, re-reading it on every status message.
    pub async fn wait_for_run(
        &self,
        run_id: RunId,
        timeout: Duration,
    ) -> Result<RunState, EngineError> {
        let mut status = self
            .inner
            .bus
            .subscribe(channels::STATUS)
            .await
            .map_err(|e| StoreError::Conflict(e.to_string()))?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let run = self
                .inner
                .store
                .run(run_id)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("run {run_id}")))?;
            if run.status.is_terminal() {
                return Ok(run);
            }
            tokio::select! {
                _ = status.recv() => {}
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
                () = tokio::time::sleep_until(deadline) => return Err(EngineError::WaitTimeout(run_id)),
            }
        }
    }

    /// Stop gracefully: workers stop claiming, running attempts are cancelled and handed
    /// back (REASSIGNED by the next sweep, here or on another replica).
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let mut background =
            std::mem::take(&mut *self.background.lock().unwrap_or_else(|e| e.into_inner()));
        while background.join_next().await.is_some() {}
        self.inner.sweeping.resign().await;
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
        for id in workers {
            match self.inner.store.deregister_worker(id, self.now()).await {
                Ok(changes) => {
                    for change in changes {
                        self.inner.publish(&change).await;
                    }
                }
                Err(e) => tracing::warn!(worker = %id, error = %e, "cannot deregister the worker"),
            }
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop.cancel();
        self.background
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .abort_all();
    }
}

/// The key of the sweep's leadership.
const SWEEP_LEADER: &str = "engine-sweep";

/// A sweeping replica that died is replaced within this: a few sweeps, at least a second.
fn sweep_term(config: &EngineConfig) -> Duration {
    (config.sweep_interval * 6).max(Duration::from_secs(1))
}

/// Sweeps while this replica leads the sweeping.
async fn sweeper(inner: Arc<Inner>, stop: CancellationToken) {
    loop {
        match inner.sweeping.lead().await {
            Ok(true) => {
                if let Err(e) = inner.sweep().await {
                    tracing::warn!(error = %e, "sweep failed");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "cannot take or renew the sweep's leadership"),
        }
        tokio::select! {
            () = tokio::time::sleep(inner.config.sweep_interval) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// Runs admission passes when poked, and every sweep interval for what other replicas did.
async fn admitter(inner: Arc<Inner>, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = inner.admission.notified() => {}
            () = tokio::time::sleep(inner.config.sweep_interval) => {}
            () = stop.cancelled() => return,
        }
        if let Err(e) = inner.admit().await {
            tracing::warn!(error = %e, "admission pass failed");
        }
    }
}

/// Carries bus messages from other replicas into this one: wake workers, stop attempts.
async fn listener(inner: Arc<Inner>, stop: CancellationToken) {
    let (Ok(mut queued), Ok(mut stops), Ok(mut statuses)) = (
        inner.bus.subscribe(channels::QUEUED).await,
        inner.bus.subscribe(channels::STOP).await,
        inner.bus.subscribe(channels::STATUS).await,
    ) else {
        tracing::warn!("cannot subscribe to the bus; workers fall back to polling");
        return;
    };
    loop {
        tokio::select! {
            Ok(_) = queued.recv() => inner.queued.send_modify(|n| *n += 1),
            Ok(_) = statuses.recv() => inner.status.send_modify(|n| *n += 1),
            Ok(message) = stops.recv() => {
                if let Ok(v) = serde_json::from_str::<Value>(&message.payload)
                    && let (Some(task), Some(attempt)) = (v["task_id"].as_str().and_then(|s| s.parse().ok()), v["attempt"].as_i64())
                {
                    inner.stop_local(task, attempt as i32);
                }
                inner.stopped.send_modify(|n| *n += 1);
            }
            () = stop.cancelled() => return,
        }
    }
}
