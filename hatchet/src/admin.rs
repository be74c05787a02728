//! Workflows and runs: `v1.AdminService` (register a workflow, read a run back) and the v0
//! `WorkflowService` the SDK triggers runs through (one, many, as children of a task).
//!
//! A run is triggered by workflow name: the newest registered version runs, as Hatchet
//! runs the newest version of a workflow.

use std::time::Duration;

use engine::Child;
use engine::model::RateLimit;
use engine::model::{RunState, RunStatus as EngineRunStatus, TaskStatus};
use tonic::{Request, Response, Status};

use crate::proto::v1::admin_service_server::AdminService;
use crate::proto::v1::{
    CreateWorkflowVersionRequest, CreateWorkflowVersionResponse, GetRunDetailsRequest,
    GetRunDetailsResponse, RunStatus, TaskRunDetail, TriggerWorkflowRequest,
};
use crate::proto::workflow_service_server::WorkflowService;
use crate::proto::*;
use crate::{Access, Service, engine_status, json_field, uuid_field};

/// How long a SubscribeToWorkflowRuns waiter waits for its run at most.
const LONGEST_RUN_WAIT: Duration = Duration::from_secs(7 * 24 * 3600);

impl Service {
    /// The newest registered version of `name`.
    async fn newest_version(&self, name: &str) -> Result<String, Status> {
        let versions = self
            .0
            .engine
            .reads()
            .workflows()
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        // Rows come by name, then age: the last of the name is the newest.
        versions
            .into_iter()
            .rfind(|(n, _, _)| n == name)
            .map(|(_, version, _)| version)
            .ok_or_else(|| Status::not_found(format!("no workflow named '{name}' is registered (a worker registers it when it starts)")))
    }

    /// The server's own workflows, and any whose tasks are its in-process steps, start
    /// only through their domain (a suite through the REST API), never with an input of
    /// the caller's making.
    async fn startable(&self, name: &str, version: &str) -> Result<(), Status> {
        let own = || {
            Status::permission_denied(format!(
                "workflow '{name}' is one of the server's own, started only by the server"
            ))
        };
        if self.0.reserved.iter().any(|r| r == name) {
            return Err(own());
        }
        let def = self.0.engine.reads().workflow(name, version).await;
        match def.map_err(|e| Status::internal(e.to_string()))? {
            Some(def) if self.0.engine.in_process_task(&def).is_some() => Err(own()),
            _ => Ok(()),
        }
    }

    /// Start one run: a root run, or a child of the task named by
    /// `parent_task_run_external_id` (keyed by `child_key`, else by its spawn index, so a
    /// task executed again gets its earlier child back).
    async fn trigger(&self, req: TriggerWorkflowRequest, at: &str) -> Result<String, Status> {
        let input = json_field(&req.input, &format!("{at}input"))?;
        let version = self.newest_version(&req.name).await?;
        let engine = &self.0.engine;
        self.startable(&req.name, &version).await?;
        let Some(parent) = req
            .parent_task_run_external_id
            .as_deref()
            .filter(|p| !p.is_empty())
        else {
            let run = engine
                .run_workflow(&req.name, &version, input)
                .await
                .map_err(engine_status)?;
            return Ok(run.id.to_string());
        };
        let parent = uuid_field(parent, &format!("{at}parent_task_run_external_id"))?;
        let index = i64::from(req.child_index.unwrap_or(0));
        let key = req
            .child_key
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| format!("{}#{index}", req.name));
        let runs = engine
            .spawn_remote_children(
                parent,
                &req.name,
                &version,
                vec![(index, Child::new(key, input))],
            )
            .await
            .map_err(|e| Status::failed_precondition(e.message))?;
        runs.first()
            .map(|r| r.id.to_string())
            .ok_or_else(|| Status::internal("the child run was not created"))
    }

    fn redact_outputs(&self, tasks: &mut [engine::model::TaskState]) {
        for output in tasks.iter_mut().filter_map(|t| t.output.as_mut()) {
            (self.0.redact)(output);
        }
    }

    /// The `WorkflowRunEvent` of a run once it has ended: each task's output or error.
    pub(crate) async fn run_ended(&self, run_id: uuid::Uuid) -> Result<WorkflowRunEvent, Status> {
        let engine = &self.0.engine;
        let run = engine
            .wait_for_run(run_id, LONGEST_RUN_WAIT)
            .await
            .map_err(|e| match e {
                engine::EngineError::Store(engine::store::StoreError::NotFound(_)) => {
                    Status::not_found(format!("no workflow run {run_id}"))
                }
                other => engine_status(other),
            })?;
        let mut tasks = engine.tasks(run_id).await.map_err(engine_status)?;
        self.redact_outputs(&mut tasks);
        let results = tasks
            .into_iter()
            .map(|t| StepRunResult {
                task_run_external_id: t.id.to_string(),
                task_name: t.name,
                job_run_id: run_id.to_string(),
                error: t
                    .error
                    .filter(|_| matches!(t.status, TaskStatus::Failed | TaskStatus::Cancelled)),
                output: t
                    .output
                    .filter(|_| t.status == TaskStatus::Completed)
                    .map(|o| o.to_string()),
            })
            .collect();
        Ok(WorkflowRunEvent {
            workflow_run_id: run.id.to_string(),
            event_type: WorkflowRunEventType::Finished as i32,
            event_timestamp: run.finished_at.map(timestamp),
            results,
        })
    }
}

pub(crate) fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: i32::try_from(ms.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}

fn run_status(run: &RunState) -> RunStatus {
    match run.status {
        EngineRunStatus::Queued => RunStatus::Queued,
        EngineRunStatus::Running => RunStatus::Running,
        EngineRunStatus::Completed => RunStatus::Completed,
        EngineRunStatus::Failed => RunStatus::Failed,
        EngineRunStatus::Cancelled => RunStatus::Cancelled,
    }
}

/// A task's status as Hatchet names it (it has no PENDING or SKIPPED); the REST views
/// use it too.
pub fn task_status(status: TaskStatus) -> RunStatus {
    match status {
        TaskStatus::Pending | TaskStatus::Queued => RunStatus::Queued,
        TaskStatus::Running => RunStatus::Running,
        TaskStatus::Completed | TaskStatus::Skipped => RunStatus::Completed,
        TaskStatus::Failed => RunStatus::Failed,
        TaskStatus::Cancelled => RunStatus::Cancelled,
    }
}

#[tonic::async_trait]
impl AdminService for Service {
    async fn put_workflow(
        &self,
        request: Request<CreateWorkflowVersionRequest>,
    ) -> Result<Response<CreateWorkflowVersionResponse>, Status> {
        self.authorize(&request, Access::Write).await?;
        let req = request.into_inner();
        if self.0.reserved.iter().any(|r| r == &req.name) {
            return Err(Status::permission_denied(format!(
                "'{}' is one of the server's own workflows; name yours otherwise",
                req.name
            )));
        }
        let def = crate::definition::workflow_def(&req)
            .map_err(|e| Status::invalid_argument(format!("workflow '{}': {e}", req.name)))?;
        if let Some(task) = self.0.engine.in_process_task(&def) {
            return Err(Status::invalid_argument(format!(
                "workflow '{}': task '{}': action '{}' is one of the server's own steps",
                def.name, task.name, task.action
            )));
        }
        self.0.engine.register_workflow(&def).await.map_err(|e| match e {
            engine::EngineError::Store(engine::store::StoreError::Conflict(m)) => Status::already_exists(format!("workflow '{}' version '{}' exists with another definition ({m}); give it a new version", def.name, def.version)),
            other => engine_status(other),
        })?;
        tracing::info!(workflow = %def.name, version = %def.version, tasks = def.tasks.len(), "hatchet workflow registered");
        Ok(Response::new(CreateWorkflowVersionResponse {
            workflow_id: crate::workflow_id(&def.name).to_string(),
            id: def.version,
        }))
    }

    async fn get_run_details(
        &self,
        request: Request<GetRunDetailsRequest>,
    ) -> Result<Response<GetRunDetailsResponse>, Status> {
        self.authorize(&request, Access::Read).await?;
        let run_id = uuid_field(&request.get_ref().external_id, "external_id")?;
        let engine = &self.0.engine;
        let mut run = engine
            .run(run_id)
            .await
            .map_err(engine_status)?
            .ok_or_else(|| Status::not_found(format!("no workflow run {run_id}")))?;
        (self.0.redact)(&mut run.input);
        let mut tasks = engine.tasks(run_id).await.map_err(engine_status)?;
        self.redact_outputs(&mut tasks);
        let task_runs = tasks
            .into_iter()
            .map(|t| {
                let detail = TaskRunDetail {
                    external_id: t.id.to_string(),
                    status: task_status(t.status) as i32,
                    error: t
                        .error
                        .filter(|_| matches!(t.status, TaskStatus::Failed | TaskStatus::Cancelled)),
                    output: t.output.map(|o| o.to_string().into_bytes()),
                    readable_id: t.name.clone(),
                    is_evicted: false,
                };
                (t.name, detail)
            })
            .collect();
        Ok(Response::new(GetRunDetailsResponse {
            input: run.input.to_string().into_bytes(),
            status: run_status(&run) as i32,
            task_runs,
            done: run.status.is_terminal(),
            additional_metadata: b"{}".to_vec(),
            is_evicted: false,
        }))
    }
}

#[tonic::async_trait]
impl WorkflowService for Service {
    async fn schedule_workflow(
        &self,
        _request: Request<ScheduleWorkflowRequest>,
    ) -> Result<Response<WorkflowVersion>, Status> {
        Err(Status::unimplemented(
            "scheduled runs from the SDK are not supported yet; use POST /api/v1/scheduled-runs",
        ))
    }

    async fn trigger_workflow(
        &self,
        request: Request<TriggerWorkflowRequest>,
    ) -> Result<Response<TriggerWorkflowResponse>, Status> {
        self.authorize(&request, Access::Write).await?;
        let workflow_run_id = self.trigger(request.into_inner(), "").await?;
        Ok(Response::new(TriggerWorkflowResponse { workflow_run_id }))
    }

    async fn bulk_trigger_workflow(
        &self,
        request: Request<BulkTriggerWorkflowRequest>,
    ) -> Result<Response<BulkTriggerWorkflowResponse>, Status> {
        self.authorize(&request, Access::Write).await?;
        let mut workflow_run_ids = Vec::new();
        for (i, one) in request.into_inner().workflows.into_iter().enumerate() {
            workflow_run_ids.push(self.trigger(one, &format!("workflows[{i}].")).await?);
        }
        Ok(Response::new(BulkTriggerWorkflowResponse {
            workflow_run_ids,
        }))
    }

    async fn put_rate_limit(
        &self,
        request: Request<PutRateLimitRequest>,
    ) -> Result<Response<PutRateLimitResponse>, Status> {
        self.authorize(&request, Access::Write).await?;
        let req = request.into_inner();
        let window = match RateLimitDuration::try_from(req.duration) {
            Ok(RateLimitDuration::Second) => 1,
            Ok(RateLimitDuration::Minute) => 60,
            Ok(RateLimitDuration::Hour) => 3600,
            Ok(RateLimitDuration::Day) => 86_400,
            Ok(RateLimitDuration::Week) => 7 * 86_400,
            Ok(RateLimitDuration::Month) => 30 * 86_400,
            Ok(RateLimitDuration::Year) => 365 * 86_400,
            Err(_) => {
                return Err(Status::invalid_argument(format!(
                    "duration: unknown value {}",
                    req.duration
                )));
            }
        };
        let limit = RateLimit {
            key: req.key,
            limit: i64::from(req.limit),
            duration: engine::definition::Dur::secs(window),
        };
        self.0
            .engine
            .put_rate_limit(&limit)
            .await
            .map_err(engine_status)?;
        Ok(Response::new(PutRateLimitResponse {}))
    }

    async fn pause_rate_limit(
        &self,
        _request: Request<PauseRateLimitRequest>,
    ) -> Result<Response<PauseRateLimitResponse>, Status> {
        Err(Status::unimplemented(
            "pausing a rate limit is not supported",
        ))
    }
}
