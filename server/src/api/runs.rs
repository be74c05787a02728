//! Workflows and their runs: register a workflow defined as data, trigger it, follow and
//! cancel its runs, read their timelines, logs and progress points.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use engine::definition::WorkflowDef;
use engine::model::{ProgressRow, RunState, RunStatus, StoredLogLine, TaskEvent, TaskState};
use engine::store::RunFilter;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::api::auth::Caller;
use crate::api::body::DocumentBody;
use crate::api::body::{ApiPath, ApiQuery, JsonBody};
use crate::api::problem::{ApiError, ApiResult, Problem, document_problem};
use crate::api::redact;
use crate::document::DocumentErrors;
use crate::state::AppState;
use crate::stroppy::workflows;
use crate::tokens::Scope;

#[derive(Serialize, utoipa::ToSchema)]
pub struct WorkflowRef {
    pub name: String,
    pub version: String,
}

/// Register a workflow version (JSON or YAML).
///
/// Register a workflow version (idempotent; a changed definition needs a new version). The
/// definition comes as JSON or YAML (same fields); its tasks are actions of agents (e.g.
/// `shell` with its command under `with`) or of the server's own handlers.
#[utoipa::path(post, path = "/api/v1/workflows", tag = "workflows", request_body(content((WorkflowDef = "application/json"), (WorkflowDef = "application/yaml")), description = "The definition, as JSON or YAML"), responses((status = 201, body = WorkflowRef), (status = 400, description = "Every problem, with path, line and column, under `errors`", body = Problem, content_type = "application/problem+json"), (status = 409, description = "This version exists with another definition", body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json")))]
pub async fn register_workflow(
    State(state): State<AppState>,
    caller: Caller,
    body: DocumentBody,
) -> Result<(StatusCode, Json<WorkflowRef>), Response> {
    caller
        .require(Scope::Write)
        .map_err(IntoResponse::into_response)?;
    let def: WorkflowDef = crate::document::parse(&body.text, body.format)
        .map_err(|e| document_problem(&DocumentErrors::from(e), "Invalid workflow definition"))?;
    if workflows::is_built_in(&def.name) {
        return Err(ApiError::forbidden(format!(
            "`name`: `{}` is one of the server's own workflows; choose another name",
            def.name
        ))
        .into_response());
    }
    if let Some(task) = state.engine.in_process_task(&def) {
        return Err(ApiError::bad_request(format!(
            "task `{}`: action `{}` is one of the server's own (in-process) steps; a registered workflow can use agent actions only (such as `shell`, `postgres.start`, `pgbench.run`)",
            task.name, task.action
        ))
        .into_response());
    }
    state
        .engine
        .register_workflow(&def)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    Ok((
        StatusCode::CREATED,
        Json(WorkflowRef {
            name: def.name,
            version: def.version,
        }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerRun {
    #[serde(default)]
    pub input: Value,
}

/// Start a run of a workflow version.
#[utoipa::path(post, path = "/api/v1/workflows/{name}/versions/{version}/runs", tag = "workflows", params(("name" = String, Path), ("version" = String, Path)), request_body = TriggerRun, responses((status = 201, body = RunState), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn trigger_run(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((name, version)): ApiPath<(String, String)>,
    JsonBody(body): JsonBody<TriggerRun>,
) -> ApiResult<(StatusCode, Json<RunState>)> {
    caller.require(Scope::Write)?;
    startable(&state, &name, &version).await?;
    let input = match body.input {
        Value::Null => Value::Object(Default::default()),
        other => other,
    };
    let mut run = state.engine.run_workflow(&name, &version, input).await?;
    redact::run(&mut run);
    Ok((StatusCode::CREATED, Json(run)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: RunState,
    pub tasks: Vec<TaskState>,
    /// Runs spawned by this run's tasks (each names its `parent.task_id`), in spawn order.
    pub children: Vec<RunState>,
    /// The DAG: `[parent, child]` task names (the on-failure task has none: it runs after
    /// everything else, and only when something failed or the run was cancelled).
    pub edges: Vec<(String, String)>,
    /// Why QUEUED tasks are not running yet, by task id (no live worker has the required
    /// labels, a concurrency slot, a rate limit, a durable wait…).
    pub waiting: BTreeMap<Uuid, engine::WaitingReason>,
    /// The run's trace in the trace UI, when traces are exported and
    /// `RATCHET_TRACE_URL_TEMPLATE` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_url: Option<String>,
}

/// 403 for a workflow whose tasks are the server's own (in-process) steps, such as the
/// suite workflows: they start only through their domain (a suite through
/// `POST /api/v1/suites`), never with an input of the caller's making.
pub async fn startable(state: &AppState, name: &str, version: &str) -> ApiResult<()> {
    if workflows::is_built_in(name) {
        return Err(ApiError::forbidden(format!(
            "workflow `{name}` is one of the server's own, started only by the server: submit a suite with POST /api/v1/suites"
        )));
    }
    let Some(def) = state.reads.workflow(name, version).await? else {
        return Ok(()); // the engine answers 404
    };
    match state.engine.in_process_task(&def) {
        None => Ok(()),
        Some(task) => Err(ApiError::forbidden(format!(
            "workflow `{name}` runs the server's own steps (task `{}`), so it is started only by the server",
            task.name,
        ))),
    }
}

async fn find_run(state: &AppState, id: Uuid) -> ApiResult<RunState> {
    state
        .engine
        .run(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("run {id} not found")))
}

/// The run as the API shows it: secrets masked.
async fn shown_run(state: &AppState, id: Uuid) -> ApiResult<RunState> {
    let mut run = find_run(state, id).await?;
    redact::run(&mut run);
    Ok(run)
}

/// Get a run: tasks, DAG edges, child runs, waiting reasons.
#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "runs", params(("id" = Uuid, Path)), responses((status = 200, body = RunDetail), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_run(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<RunDetail>> {
    caller.require(Scope::Read)?;
    let mut run = find_run(&state, id).await?;
    let mut tasks = state.engine.tasks(id).await?;
    let mut children = state.reads.child_runs(id, None).await?;
    let edges = state
        .reads
        .workflow(&run.workflow, &run.version)
        .await?
        .map(|def| {
            def.tasks
                .iter()
                .flat_map(|t| t.parents.iter().map(|p| (p.clone(), t.name.clone())))
                .collect()
        })
        .unwrap_or_default();
    let waiting = state.engine.waiting_reasons(&run, &tasks).await?;
    let trace_url = state.telemetry.trace_url(run.id).await;
    redact::run(&mut run);
    tasks.iter_mut().for_each(redact::task);
    children.iter_mut().for_each(redact::run);
    Ok(Json(RunDetail {
        run,
        tasks,
        children,
        edges,
        waiting,
        trace_url,
    }))
}

/// A run's event timeline.
#[utoipa::path(get, path = "/api/v1/runs/{id}/events", tag = "runs", params(("id" = Uuid, Path)), responses((status = 200, body = Vec<TaskEvent>), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn run_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<TaskEvent>>> {
    caller.require(Scope::Read)?;
    find_run(&state, id).await?;
    Ok(Json(state.engine.events(id).await?))
}

/// Cancel a run (and its child runs).
#[utoipa::path(post, path = "/api/v1/runs/{id}/cancel", tag = "runs", params(("id" = Uuid, Path)), responses((status = 202, body = RunState), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, description = "The run has ended", body = Problem, content_type = "application/problem+json")))]
pub async fn cancel_run(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<(StatusCode, Json<RunState>)> {
    caller.require(Scope::Write)?;
    let run = find_run(&state, id).await?;
    if run.status.is_terminal() {
        return Err(ApiError::conflict(format!(
            "run {id} has already ended ({}); there is nothing to cancel",
            run.status
        )));
    }
    state.engine.cancel_run(id).await?;
    Ok((StatusCode::ACCEPTED, Json(shown_run(&state, id).await?)))
}

/// Which tasks to run again; none named: every task.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    #[serde(default)]
    pub tasks: Vec<String>,
}

/// Replay chosen tasks of an ended run.
///
/// Run chosen tasks of an ended run again, with their descendants and the child runs they
/// spawned; the other tasks keep their outputs.
#[utoipa::path(post, path = "/api/v1/runs/{id}/replay", tag = "runs", params(("id" = Uuid, Path)), request_body = ReplayRequest, responses((status = 202, body = RunState), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, description = "The run has not ended yet", body = Problem, content_type = "application/problem+json"), (status = 400, description = "A malformed body, or a task the workflow does not have", body = Problem, content_type = "application/problem+json")))]
pub async fn replay_run(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    JsonBody(body): JsonBody<ReplayRequest>,
) -> ApiResult<(StatusCode, Json<RunState>)> {
    caller.require(Scope::Write)?;
    find_run(&state, id).await?;
    let mut run = state.engine.replay(id, &body.tasks).await?;
    redact::run(&mut run);
    Ok((StatusCode::ACCEPTED, Json(run)))
}

/// A page of a run's log or progress: `after` is the last position seen (0 at first).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Page {
    pub task: Option<Uuid>,
    #[serde(default)]
    pub after: i64,
    pub limit: Option<i64>,
}

impl Page {
    fn limit(&self) -> i64 {
        self.limit.unwrap_or(1000).clamp(1, 10_000)
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LogPage {
    pub lines: Vec<StoredLogLine>,
    /// Pass as `after` for the next page.
    pub next_after: i64,
}

/// A page of a run's log (all tasks, or one).
#[utoipa::path(get, path = "/api/v1/runs/{id}/logs", tag = "runs", params(("id" = Uuid, Path), Page), responses((status = 200, body = LogPage), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn run_logs(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Json<LogPage>> {
    caller.require(Scope::Read)?;
    find_run(&state, id).await?;
    let lines = state
        .reads
        .logs(id, page.task, page.after, page.limit())
        .await?;
    let next_after = lines.last().map_or(page.after, |l| l.id);
    Ok(Json(LogPage { lines, next_after }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProgressPage {
    pub points: Vec<ProgressRow>,
    pub next_after: i64,
}

/// A page of a run's progress points.
#[utoipa::path(get, path = "/api/v1/runs/{id}/progress", tag = "runs", params(("id" = Uuid, Path), Page), responses((status = 200, body = ProgressPage), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn run_progress(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Json<ProgressPage>> {
    caller.require(Scope::Read)?;
    find_run(&state, id).await?;
    let rows = state
        .reads
        .progress(id, page.task, page.after, page.limit())
        .await?;
    let next_after = rows.last().map_or(page.after, |(id, _)| *id);
    Ok(Json(ProgressPage {
        points: rows.into_iter().map(|(_, p)| p).collect(),
        next_after,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WorkflowSummary {
    pub name: String,
    pub version: String,
    pub registered_at: i64,
}

/// List workflows.
#[utoipa::path(get, path = "/api/v1/workflows", tag = "workflows", responses((status = 200, body = Vec<WorkflowSummary>)))]
pub async fn list_workflows(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<WorkflowSummary>>> {
    caller.require(Scope::Read)?;
    let rows = state.reads.workflows().await?;
    Ok(Json(
        rows.into_iter()
            .map(|(name, version, registered_at)| WorkflowSummary {
                name,
                version,
                registered_at,
            })
            .collect(),
    ))
}

/// Get a workflow version's definition.
///
/// A workflow version's definition: its tasks with their parents (the DAG's edges).
#[utoipa::path(get, path = "/api/v1/workflows/{name}/versions/{version}", tag = "workflows", params(("name" = String, Path), ("version" = String, Path)), responses((status = 200, body = WorkflowDef), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_workflow(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((name, version)): ApiPath<(String, String)>,
) -> ApiResult<Json<WorkflowDef>> {
    caller.require(Scope::Read)?;
    let def = state
        .reads
        .workflow(&name, &version)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("workflow {name} version {version} not found"))
        })?;
    let mut def = def.as_ref().clone();
    for task in def.tasks.iter_mut().chain(def.on_failure.as_mut()) {
        if let Some(with) = &mut task.with {
            redact::value(with);
        }
    }
    Ok(Json(def))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    pub workflow: Option<String>,
    pub status: Option<RunStatus>,
    /// Runs spawned by this task.
    pub parent_task: Option<Uuid>,
    /// Created at or after / before, epoch ms.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// The cursor: `next_before` of the previous page.
    pub before: Option<Uuid>,
    pub limit: Option<i64>,
}

/// Runs per page: 50 unless asked, at most 500.
pub fn page_limit(asked: Option<i64>) -> i64 {
    asked.unwrap_or(50).clamp(1, 500)
}

/// The cursor of the next page (runs come newest first): unset when this page was the last.
pub fn next_before(runs: &[RunState], limit: i64) -> Option<Uuid> {
    (runs.len() as i64 == limit)
        .then(|| runs.last().map(|r| r.id))
        .flatten()
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RunPage {
    pub runs: Vec<RunState>,
    /// Pass as `before` for the next page; unset on the last page.
    pub next_before: Option<Uuid>,
}

/// List workflow runs.
#[utoipa::path(get, path = "/api/v1/runs", tag = "runs", params(RunQuery), responses((status = 200, body = RunPage)))]
pub async fn list_runs(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<RunQuery>,
) -> ApiResult<Json<RunPage>> {
    caller.require(Scope::Read)?;
    let limit = page_limit(q.limit);
    let runs = state
        .reads
        .list_runs(&RunFilter {
            workflow: q.workflow,
            status: q.status,
            parent_task: q.parent_task,
            since: q.since,
            until: q.until,
            before: q.before,
            limit,
        })
        .await?;
    let next_before = next_before(&runs, limit);
    let mut runs = runs;
    runs.iter_mut().for_each(redact::run);
    Ok(Json(RunPage { runs, next_before }))
}
