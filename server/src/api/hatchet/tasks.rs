//! Cancel and replay runs or tasks by id (`hatchet.runs.cancel`, `.replay`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{HatchetError, HatchetErrors, our_tenant};
use crate::api::auth::Caller;
use crate::api::body::{ApiPath, JsonBody};
use crate::api::problem::Problem;
use crate::state::AppState;
use crate::tokens::Scope;

/// Which runs or tasks: by id (a workflow run's or a task run's). Hatchet's filters
/// (statuses, time ranges) are not supported: name the ids.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct TaskIds {
    #[serde(rename = "externalIds", default)]
    pub external_ids: Vec<Uuid>,
    /// Hatchet's bulk filter; refused when set.
    #[serde(default)]
    pub filter: Option<Value>,
}

/// The ids acted on.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TaskIdsDone {
    pub ids: Vec<Uuid>,
}

/// What an id names.
enum Target {
    Run(engine::model::RunState),
    Task(engine::model::TaskState),
}

async fn target(state: &AppState, id: Uuid) -> Result<Target, HatchetError> {
    if let Some(run) = state.engine.run(id).await? {
        return Ok(Target::Run(run));
    }
    match state
        .reads
        .task(id)
        .await
        .map_err(engine::EngineError::from)?
    {
        Some(task) => Ok(Target::Task(task)),
        None => Err(HatchetError(
            StatusCode::NOT_FOUND,
            format!("no workflow run or task run {id}"),
        )),
    }
}

/// The request checked: this server's tenant, a write token, ids and no filter.
async fn checked(
    state: &AppState,
    caller: &Caller,
    tenant: Uuid,
    body: &TaskIds,
) -> Result<(), HatchetError> {
    caller.require(Scope::Write)?;
    our_tenant(state, tenant).await?;
    if body.filter.is_some() {
        return Err(HatchetError(
            StatusCode::BAD_REQUEST,
            "filter: bulk filters are not supported; name the runs in externalIds".into(),
        ));
    }
    if body.external_ids.is_empty() {
        return Err(HatchetError(
            StatusCode::BAD_REQUEST,
            "externalIds: name at least one run".into(),
        ));
    }
    Ok(())
}

/// Cancel workflow runs or task runs (Hatchet's `runs.cancel`).
#[utoipa::path(post, path = "/api/v1/stable/tenants/{tenant}/tasks/cancel", tag = "hatchet", params(("tenant" = Uuid, Path)), request_body = TaskIds, responses((status = 200, body = TaskIdsDone), (status = 400, description = "A filter, no ids, or a malformed body", content((HatchetErrors = "application/json"), (Problem = "application/problem+json"))), (status = 404, description = "An unknown tenant or id", body = HatchetErrors)))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<Uuid>,
    JsonBody(body): JsonBody<TaskIds>,
) -> Result<Json<TaskIdsDone>, HatchetError> {
    checked(&state, &caller, tenant, &body).await?;
    let mut ids = Vec::new();
    for id in body.external_ids {
        match target(&state, id).await? {
            // Hatchet answers an ended run's cancel with nothing done, not an error.
            Target::Run(run) if run.status.is_terminal() => continue,
            Target::Run(_) => state.engine.cancel_run(id).await?,
            Target::Task(task) if task.status.is_terminal() => continue,
            Target::Task(_) => state.engine.cancel_task(id).await?,
        }
        ids.push(id);
    }
    Ok(Json(TaskIdsDone { ids }))
}

/// Replay ended workflow runs (every task) or task runs (that task and what follows it).
#[utoipa::path(post, path = "/api/v1/stable/tenants/{tenant}/tasks/replay", tag = "hatchet", params(("tenant" = Uuid, Path)), request_body = TaskIds, responses((status = 200, body = TaskIdsDone), (status = 400, description = "A filter, no ids, a run not ended, or a malformed body", content((HatchetErrors = "application/json"), (Problem = "application/problem+json"))), (status = 404, description = "An unknown tenant or id", body = HatchetErrors)))]
pub async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<Uuid>,
    JsonBody(body): JsonBody<TaskIds>,
) -> Result<Json<TaskIdsDone>, HatchetError> {
    checked(&state, &caller, tenant, &body).await?;
    let mut ids = Vec::new();
    for id in body.external_ids {
        let (run_id, tasks) = match target(&state, id).await? {
            Target::Run(run) => (run.id, Vec::new()),
            Target::Task(task) => (task.run_id, vec![task.name]),
        };
        let run = state.engine.run(run_id).await?;
        if !run.is_some_and(|r| r.status.is_terminal()) {
            return Err(HatchetError(
                StatusCode::BAD_REQUEST,
                format!("run {run_id} has not ended: only ended runs are replayed"),
            ));
        }
        state.engine.replay(run_id, &tasks).await?;
        ids.push(id);
    }
    Ok(Json(TaskIdsDone { ids }))
}
