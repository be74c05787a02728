//! The `Dispatcher` service: a Hatchet worker registers, holds a ListenV2 stream open for
//! its assignments, and reports each step's end with SendStepActionEvent.
//!
//! To the engine a Hatchet worker is a remote worker like an edge agent. The listen stream
//! is its long poll: while it is open, a loop here heart-beats the worker with the attempts
//! it holds and claims tasks for its free slots. When the stream goes, the heart-beats
//! stop, and after one lease the engine declares the worker lost and reassigns its tasks.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine::model::{WORKER_AGENT, WorkerInfo};
use protocol::{Assignment, AttemptRef, AttemptResult, PollAnswer, TaskId, TaskResult, WorkerId};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::proto::dispatcher_server::Dispatcher;
use crate::proto::*;
use crate::{Access, ENGINE_VERSION, Service, answer_each, engine_status, uuid_field};

/// The workers with a session on this server, by id.
#[derive(Default)]
pub(crate) struct Workers {
    sessions: Mutex<HashMap<WorkerId, Arc<Session>>>,
}

/// One registered worker.
struct Session {
    info: Mutex<WorkerInfo>,
    /// Attempts handed to the worker and not reported back yet, and whether each still
    /// holds a slot (ReleaseSlot frees the slot of a task that goes on running).
    running: Mutex<HashMap<TaskId, (i32, bool)>>,
    /// A slot came free: the listen loop claims again at once instead of at its next beat.
    freed: Notify,
    /// Open listen streams. With none left the session is dropped (a reconnect rebuilds it
    /// from the worker's record), so workers that went away leave nothing behind.
    listeners: AtomicUsize,
}

impl Session {
    fn info(&self) -> WorkerInfo {
        self.info.lock().unwrap().clone()
    }

    fn attempts(&self) -> (Vec<AttemptRef>, u32) {
        let running = self.running.lock().unwrap();
        let held = running.values().filter(|(_, slot)| *slot).count();
        let refs = running
            .iter()
            .map(|(&task_id, &(attempt, _))| AttemptRef { task_id, attempt })
            .collect();
        (refs, u32::try_from(held).unwrap_or(u32::MAX))
    }

    /// The attempt is over; false when it already was (reported by the worker).
    fn end(&self, task_id: TaskId) -> bool {
        let held = self.running.lock().unwrap().remove(&task_id).is_some();
        if held {
            self.freed.notify_one();
        }
        held
    }
}

/// `<workflow>:<task>`, both parts non-empty.
fn is_hatchet_action(action: &str) -> bool {
    action
        .split_once(':')
        .is_some_and(|(workflow, task)| !workflow.is_empty() && !task.is_empty())
}

impl Service {
    /// The worker's session: this server's, or (after a restart, or when the worker's
    /// stream lands on another replica) rebuilt from the worker's record.
    async fn session(&self, worker_id: &str) -> Result<Arc<Session>, Status> {
        let id = uuid_field(worker_id, "worker_id")?;
        if let Some(s) = self.0.workers.sessions.lock().unwrap().get(&id) {
            return Ok(s.clone());
        }
        let record = self.worker_record(id).await?;
        // What it was running carries on (a durable task waiting through a restart).
        let session = self.add_session(record.info);
        session.running.lock().unwrap().extend(
            record
                .running
                .iter()
                .map(|a| (a.task_id, (a.attempt, true))),
        );
        Ok(session)
    }

    async fn worker_record(&self, id: WorkerId) -> Result<engine::model::WorkerRecord, Status> {
        self.0
            .engine
            .reads()
            .worker(id)
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .ok_or_else(|| {
                Status::not_found(format!("no worker {id} is registered: register again"))
            })
    }

    /// Is the worker registered (here or in the store)? Unlike `session`, keeps nothing.
    async fn known(&self, worker_id: &str) -> Result<(), Status> {
        let id = uuid_field(worker_id, "worker_id")?;
        if self.0.workers.sessions.lock().unwrap().contains_key(&id) {
            return Ok(());
        }
        self.worker_record(id).await.map(|_| ())
    }

    fn add_session(&self, info: WorkerInfo) -> Arc<Session> {
        let session = Arc::new(Session {
            info: Mutex::new(info),
            running: Mutex::default(),
            freed: Notify::new(),
            listeners: AtomicUsize::new(0),
        });
        let id = session.info().id;
        self.0
            .workers
            .sessions
            .lock()
            .unwrap()
            .insert(id, session.clone());
        session
    }

    /// The listen loop of one stream: heart-beat, claim, hand out, until the stream closes.
    async fn listen(self, session: Arc<Session>, tx: mpsc::Sender<Result<AssignedAction, Status>>) {
        session.listeners.fetch_add(1, Ordering::SeqCst);
        self.serve_listener(&session, &tx).await;
        if session.listeners.fetch_sub(1, Ordering::SeqCst) == 1 {
            let id = session.info().id;
            let mut sessions = self.0.workers.sessions.lock().unwrap();
            if sessions.get(&id).is_some_and(|s| Arc::ptr_eq(s, &session)) {
                sessions.remove(&id);
            }
        }
    }

    async fn serve_listener(
        &self,
        session: &Session,
        tx: &mpsc::Sender<Result<AssignedAction, Status>>,
    ) {
        let engine = &self.0.engine;
        loop {
            let info = session.info();
            let (running, held) = session.attempts();
            let free = info.slots.saturating_sub(held);
            let woken = async {
                tokio::select! {
                    () = session.freed.notified() => {}
                    () = tx.closed() => {}
                }
            };
            let answer = match engine
                .poll_remote_until(&info, &running, free, self.0.beat, woken)
                .await
            {
                Ok(answer) => answer,
                Err(e) => {
                    tracing::warn!(worker = %info.id, error = %e, "cannot poll for a hatchet worker; trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    PollAnswer::default()
                }
            };
            for stop in answer.cancellations {
                // The heart-beat's list may predate a report: a finished attempt is not
                // cancelled again.
                if session.end(stop.task_id) {
                    let _ = tx.send(Ok(self.cancel_action(stop))).await;
                }
            }
            for assignment in answer.assignments {
                session
                    .running
                    .lock()
                    .unwrap()
                    .insert(assignment.task_id, (assignment.attempt, true));
                let _ = tx.send(Ok(self.start_action(&assignment))).await;
            }
            if tx.is_closed() {
                // The worker keeps what it holds until its lease runs out: a reconnect
                // within it carries on as if nothing happened.
                return;
            }
        }
    }

    fn start_action(&self, a: &Assignment) -> AssignedAction {
        let errors: serde_json::Map<String, Value> = a
            .failures
            .iter()
            .map(|f| (f.task.clone(), Value::from(f.error.clone())))
            .collect();
        let payload = json!({
            "input": a.input,
            "parents": a.parents,
            "step_run_errors": errors,
            "triggered_by": "manual",
        });
        AssignedAction {
            tenant_id: self.0.tenant_id.clone(),
            workflow_run_id: a.run_id.to_string(),
            job_id: a.workflow.clone(),
            job_name: a.workflow.clone(),
            job_run_id: a.run_id.to_string(),
            task_id: a.task_id.to_string(),
            task_run_external_id: a.task_id.to_string(),
            action_id: a.action.clone(),
            action_type: ActionType::StartStepRun as i32,
            action_payload: payload.to_string(),
            task_name: a.task_name.clone(),
            // Hatchet counts retries from 0; the engine counts attempts from 1. The step
            // event echoes it, which is how its report names the attempt.
            retry_count: a.attempt - 1,
            priority: 1,
            ..AssignedAction::default()
        }
    }

    fn cancel_action(&self, stop: AttemptRef) -> AssignedAction {
        AssignedAction {
            tenant_id: self.0.tenant_id.clone(),
            task_id: stop.task_id.to_string(),
            task_run_external_id: stop.task_id.to_string(),
            action_type: ActionType::CancelStepRun as i32,
            retry_count: stop.attempt - 1,
            ..AssignedAction::default()
        }
    }

    fn forget_attempt(&self, task_id: TaskId) {
        let sessions: Vec<Arc<Session>> = self
            .0
            .workers
            .sessions
            .lock()
            .unwrap()
            .values()
            .cloned()
            .collect();
        for session in sessions {
            session.end(task_id);
        }
    }
}

#[tonic::async_trait]
impl Dispatcher for Service {
    async fn register(
        &self,
        request: Request<WorkerRegisterRequest>,
    ) -> Result<Response<WorkerRegisterResponse>, Status> {
        self.authorize(&request, Access::Write).await?;
        let req = request.into_inner();
        if req.actions.is_empty() {
            return Err(Status::invalid_argument(
                "actions: a worker must implement at least one action",
            ));
        }
        // A Hatchet action is `<workflow>:<task>`. Edge agents' actions (`shell`,
        // `postgres.start`…) have no colon: an API token must not turn its holder into a
        // worker that is handed benchmark machines' tasks (agents need enrollment tokens).
        if let Some(bad) = req.actions.iter().find(|a| !is_hatchet_action(a)) {
            return Err(Status::invalid_argument(format!(
                "actions: '{bad}' is not a Hatchet action (`<workflow>:<task>`)"
            )));
        }
        let slots: i64 = if req.slot_config.is_empty() {
            i64::from(req.slots.unwrap_or(100))
        } else {
            req.slot_config.values().map(|&n| i64::from(n.max(0))).sum()
        };
        let slots = u32::try_from(slots.clamp(1, 10_000)).unwrap_or(1);
        let runtime = req.runtime_info.unwrap_or_default();
        let info = WorkerInfo {
            id: uuid::Uuid::now_v7(),
            name: if req.worker_name.is_empty() {
                "hatchet-worker".into()
            } else {
                req.worker_name
            },
            kind: WORKER_AGENT.into(),
            actions: req.actions,
            labels: crate::definition::worker_labels(&req.labels),
            slots,
            run_scope: None,
            host: Some(json!({
                "hatchet_sdk": runtime.sdk_version,
                "language": runtime.language.and_then(|l| Sdks::try_from(l).ok()).map(|l| l.as_str_name()),
                "language_version": runtime.language_version,
                "os": runtime.os,
            })),
        };
        self.0
            .engine
            .register_remote(&info)
            .await
            .map_err(engine_status)?;
        let answer = WorkerRegisterResponse {
            tenant_id: self.0.tenant_id.clone(),
            worker_id: info.id.to_string(),
            worker_name: info.name.clone(),
        };
        tracing::info!(worker = %info.id, name = %info.name, actions = info.actions.len(), slots, "hatchet worker registered");
        self.add_session(info);
        Ok(Response::new(answer))
    }

    type ListenV2Stream = ReceiverStream<Result<AssignedAction, Status>>;

    async fn listen_v2(
        &self,
        request: Request<WorkerListenRequest>,
    ) -> Result<Response<Self::ListenV2Stream>, Status> {
        self.authorize(&request, Access::Write).await?;
        let session = self.session(&request.get_ref().worker_id).await?;
        let (tx, rx) = mpsc::channel(32);
        tokio::spawn(self.clone().listen(session, tx));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn heartbeat(
        &self,
        request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        self.authorize(&request, Access::Write).await?;
        // The listen loop heart-beats the engine; this only tells the SDK we know it.
        self.known(&request.get_ref().worker_id).await?;
        Ok(Response::new(HeartbeatResponse {}))
    }

    type SubscribeToWorkflowEventsStream = ReceiverStream<Result<WorkflowEvent, Status>>;

    async fn subscribe_to_workflow_events(
        &self,
        _request: Request<SubscribeToWorkflowEventsRequest>,
    ) -> Result<Response<Self::SubscribeToWorkflowEventsStream>, Status> {
        Err(Status::unimplemented(
            "SubscribeToWorkflowEvents (streaming a run's events) is not supported yet; read the run with GetRunDetails",
        ))
    }

    type SubscribeToWorkflowRunsStream = ReceiverStream<Result<WorkflowRunEvent, Status>>;

    async fn subscribe_to_workflow_runs(
        &self,
        request: Request<Streaming<SubscribeToWorkflowRunsRequest>>,
    ) -> Result<Response<Self::SubscribeToWorkflowRunsStream>, Status> {
        self.authorize(&request, Access::Read).await?;
        // One waiter per run asked for; each answers once, when its run has ended.
        let service = self.clone();
        Ok(Response::new(answer_each(
            request.into_inner(),
            move |ask: SubscribeToWorkflowRunsRequest| {
                let service = service.clone();
                async move {
                    let run_id = uuid_field(&ask.workflow_run_id, "workflow_run_id")?;
                    service.run_ended(run_id).await
                }
            },
        )))
    }

    async fn send_step_action_event(
        &self,
        request: Request<StepActionEvent>,
    ) -> Result<Response<ActionEventResponse>, Status> {
        self.authorize(&request, Access::Write).await?;
        let event = request.into_inner();
        let task_id = uuid_field(&event.task_run_external_id, "task_run_external_id")?;
        let attempt = event.retry_count.unwrap_or(0) + 1;
        let result = match StepActionEventType::try_from(event.event_type) {
            Ok(
                StepActionEventType::StepEventTypeStarted
                | StepActionEventType::StepEventTypeAcknowledged,
            ) => None,
            Ok(StepActionEventType::StepEventTypeCompleted) => {
                let output = if event.event_payload.trim().is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&event.event_payload).map_err(|e| {
                        Status::invalid_argument(format!(
                            "event_payload: a completed step's output must be JSON ({e})"
                        ))
                    })?
                };
                Some(AttemptResult::Completed { output })
            }
            Ok(StepActionEventType::StepEventTypeFailed) => Some(AttemptResult::Failed {
                error: event.event_payload,
                retryable: !event.should_not_retry.unwrap_or(false),
            }),
            Ok(StepActionEventType::StepEventTypeCancelled) => Some(AttemptResult::Failed {
                error: "cancelled on the worker".into(),
                retryable: true,
            }),
            _ => {
                return Err(Status::invalid_argument(format!(
                    "event_type: unknown value {}",
                    event.event_type
                )));
            }
        };
        if let Some(result) = result {
            let accepted = self
                .0
                .engine
                .report_remote(TaskResult {
                    task_id,
                    attempt,
                    result,
                })
                .await
                .map_err(engine_status)?;
            if !accepted {
                tracing::debug!(task = %task_id, attempt, "a late step event from an old attempt changed nothing");
            }
            self.forget_attempt(task_id);
        }
        Ok(Response::new(ActionEventResponse {
            tenant_id: self.0.tenant_id.clone(),
            worker_id: event.worker_id,
        }))
    }

    async fn send_batch_action_event(
        &self,
        _request: Request<BatchActionEvent>,
    ) -> Result<Response<ActionEventResponse>, Status> {
        Err(Status::unimplemented("batched tasks are not supported"))
    }

    async fn put_overrides_data(
        &self,
        request: Request<OverridesData>,
    ) -> Result<Response<OverridesDataResponse>, Status> {
        // Playground overrides only matter to Hatchet's dashboard; accepted and dropped.
        self.authorize(&request, Access::Write).await?;
        Ok(Response::new(OverridesDataResponse {}))
    }

    async fn unsubscribe(
        &self,
        request: Request<WorkerUnsubscribeRequest>,
    ) -> Result<Response<WorkerUnsubscribeResponse>, Status> {
        self.authorize(&request, Access::Write).await?;
        let session = self.session(&request.get_ref().worker_id).await?;
        let info = session.info();
        self.0
            .engine
            .deregister_remote(&info)
            .await
            .map_err(engine_status)?;
        self.0.workers.sessions.lock().unwrap().remove(&info.id);
        Ok(Response::new(WorkerUnsubscribeResponse {
            tenant_id: self.0.tenant_id.clone(),
            worker_id: info.id.to_string(),
        }))
    }

    async fn refresh_timeout(
        &self,
        request: Request<RefreshTimeoutRequest>,
    ) -> Result<Response<RefreshTimeoutResponse>, Status> {
        self.authorize(&request, Access::Write).await?;
        let req = request.into_inner();
        let task_id = uuid_field(&req.task_run_external_id, "task_run_external_id")?;
        let by: engine::definition::Dur = req
            .increment_timeout_by
            .parse()
            .map_err(|e| Status::invalid_argument(format!("increment_timeout_by: {e}")))?;
        let engine = &self.0.engine;
        let task = self.task(task_id).await?;
        if !engine
            .refresh_remote(task_id, task.attempt, by.0)
            .await
            .map_err(engine_status)?
        {
            return Err(Status::failed_precondition(format!(
                "task run {task_id} is not running"
            )));
        }
        let at = engine.now() + by.as_millis();
        Ok(Response::new(RefreshTimeoutResponse {
            timeout_at: Some(prost_types::Timestamp {
                seconds: at.div_euclid(1000),
                nanos: i32::try_from(at.rem_euclid(1000) * 1_000_000).unwrap_or(0),
            }),
        }))
    }

    async fn release_slot(
        &self,
        request: Request<ReleaseSlotRequest>,
    ) -> Result<Response<ReleaseSlotResponse>, Status> {
        self.authorize(&request, Access::Write).await?;
        let task_id = uuid_field(
            &request.get_ref().task_run_external_id,
            "task_run_external_id",
        )?;
        let sessions: Vec<Arc<Session>> = self
            .0
            .workers
            .sessions
            .lock()
            .unwrap()
            .values()
            .cloned()
            .collect();
        for session in sessions {
            if let Some(held) = session.running.lock().unwrap().get_mut(&task_id) {
                held.1 = false;
                session.freed.notify_one();
            }
        }
        Ok(Response::new(ReleaseSlotResponse {}))
    }

    async fn upsert_worker_labels(
        &self,
        request: Request<UpsertWorkerLabelsRequest>,
    ) -> Result<Response<UpsertWorkerLabelsResponse>, Status> {
        self.authorize(&request, Access::Write).await?;
        let req = request.into_inner();
        let session = self.session(&req.worker_id).await?;
        let info = {
            let mut info = session.info.lock().unwrap();
            info.labels
                .extend(crate::definition::worker_labels(&req.labels));
            info.clone()
        };
        self.0
            .engine
            .register_remote(&info)
            .await
            .map_err(engine_status)?;
        Ok(Response::new(UpsertWorkerLabelsResponse {
            tenant_id: self.0.tenant_id.clone(),
            worker_id: info.id.to_string(),
        }))
    }

    async fn get_version(
        &self,
        request: Request<GetVersionRequest>,
    ) -> Result<Response<GetVersionResponse>, Status> {
        self.authorize(&request, Access::Read).await?;
        Ok(Response::new(GetVersionResponse {
            version: ENGINE_VERSION.into(),
        }))
    }
}
