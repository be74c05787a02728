//! Crons (5 or 6 fields, UTC; a missed tick is not caught up) and one-off scheduled runs.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use engine::model::{CronRecord, ScheduledRun};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::api::auth::Caller;
use crate::api::body::{ApiPath, JsonBody};
use crate::api::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::tokens::Scope;

fn object(v: Value) -> Value {
    if v.is_null() {
        Value::Object(Default::default())
    } else {
        v
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCron {
    /// Unique; creating a cron with an existing name replaces it.
    #[schema(min_length = 1)]
    pub name: String,
    pub workflow: String,
    pub version: String,
    /// `m h dom mon dow`, or with seconds first; UTC.
    pub expression: String,
    #[serde(default)]
    pub input: Value,
}

/// Create or replace a cron.
#[utoipa::path(post, path = "/api/v1/crons", operation_id = "create_cron", tag = "schedules", request_body = NewCron, responses((status = 201, body = CronRecord), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn create_cron(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewCron>,
) -> ApiResult<(StatusCode, Json<CronRecord>)> {
    caller.require(Scope::Write)?;
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_request("`name` is empty"));
    }
    crate::api::runs::startable(&state, &body.workflow, &body.version).await?;
    let cron = state
        .engine
        .create_cron(
            &body.name,
            &body.workflow,
            &body.version,
            &body.expression,
            object(body.input),
        )
        .await
        .map_err(|e| match e {
            engine::EngineError::InvalidSchedule(why) => {
                ApiError::bad_request(format!("`expression`: {why}"))
            }
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(cron)))
}

/// List crons.
#[utoipa::path(get, path = "/api/v1/crons", operation_id = "list_crons", tag = "schedules", responses((status = 200, body = Vec<CronRecord>)))]
pub async fn list_crons(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<CronRecord>>> {
    caller.require(Scope::Read)?;
    Ok(Json(state.engine.schedules().crons().await?))
}

/// Delete a cron.
#[utoipa::path(delete, path = "/api/v1/crons/{id}", operation_id = "delete_cron", tag = "schedules", params(("id" = Uuid, Path)), responses((status = 204, description = "Deleted"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_cron(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::Write)?;
    if state.engine.schedules().delete_cron(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("cron {id} not found")))
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScheduledRun {
    pub workflow: String,
    pub version: String,
    /// When to start it, epoch ms (UTC).
    pub at: i64,
    #[serde(default)]
    pub input: Value,
}

/// Schedule a run once at a time.
#[utoipa::path(post, path = "/api/v1/scheduled-runs", operation_id = "schedule_run", tag = "schedules", request_body = NewScheduledRun, responses((status = 201, body = ScheduledRun), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn schedule_run(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewScheduledRun>,
) -> ApiResult<(StatusCode, Json<ScheduledRun>)> {
    caller.require(Scope::Write)?;
    crate::api::runs::startable(&state, &body.workflow, &body.version).await?;
    let run = state
        .engine
        .schedule_run(&body.workflow, &body.version, object(body.input), body.at)
        .await?;
    Ok((StatusCode::CREATED, Json(run)))
}

/// List scheduled runs.
#[utoipa::path(get, path = "/api/v1/scheduled-runs", operation_id = "list_scheduled_runs", tag = "schedules", responses((status = 200, body = Vec<ScheduledRun>)))]
pub async fn list_scheduled_runs(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<ScheduledRun>>> {
    caller.require(Scope::Read)?;
    Ok(Json(state.engine.schedules().scheduled_runs().await?))
}

/// Delete a scheduled run.
#[utoipa::path(delete, path = "/api/v1/scheduled-runs/{id}", operation_id = "delete_scheduled_run", tag = "schedules", params(("id" = Uuid, Path)), responses((status = 204, description = "Deleted"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_scheduled_run(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::Write)?;
    if state.engine.schedules().delete_scheduled_run(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("scheduled run {id} not found")))
    }
}
