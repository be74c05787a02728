//! Named baselines: keep a suite under a name so later suites compare with it
//! (`baseline: {suite: <name>, test: <test>}`); CI moves the name after a good night.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

use crate::api::auth::Caller;
use crate::api::body::{ApiPath, JsonBody};
use crate::api::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::stroppy::baselines::{self, Baseline, BaselineError};
use crate::stroppy::spec::name_problem;
use crate::tokens::Scope;

impl From<BaselineError> for ApiError {
    fn from(e: BaselineError) -> ApiError {
        match e {
            BaselineError::Store(e) => e.into(),
            BaselineError::NoSuite(_) => ApiError::not_found(e.to_string()),
            BaselineError::Unfit(why) => ApiError::conflict(why),
            BaselineError::View(e) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
        }
    }
}

/// List named baselines.
#[utoipa::path(get, path = "/api/v1/baselines", operation_id = "list_baselines", tag = "suites", responses((status = 200, body = Vec<Baseline>)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Baseline>>> {
    caller.require(Scope::Read)?;
    Ok(Json(
        baselines::list(state.engine.records().as_ref()).await?,
    ))
}

/// Get a named baseline.
#[utoipa::path(get, path = "/api/v1/baselines/{name}", operation_id = "get_baseline", tag = "suites", params(("name" = String, Path)), responses((status = 200, body = Baseline), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Baseline>> {
    caller.require(Scope::Read)?;
    baselines::get(state.engine.records().as_ref(), &name)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no baseline is named `{name}`")))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BaselineBody {
    /// The suite to keep under the name: one that ran to its end.
    pub suite: Uuid,
}

/// Keep a suite under a name (replacing what the name stood for).
#[utoipa::path(put, path = "/api/v1/baselines/{name}", operation_id = "put_baseline", tag = "suites", params(("name" = String, Path)), request_body = BaselineBody, responses((status = 200, body = Baseline), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, description = "The suite has not ended, was cancelled, or has no completed test", body = Problem, content_type = "application/problem+json")))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    JsonBody(body): JsonBody<BaselineBody>,
) -> ApiResult<Json<Baseline>> {
    caller.require(Scope::Write)?;
    if let Some(problem) = name_problem(&name) {
        return Err(ApiError::bad_request(format!(
            "invalid baseline name `{name}`: {problem}"
        )));
    }
    let kept = baselines::put(
        state.engine.records().as_ref(),
        state.reads.as_ref(),
        &name,
        body.suite,
        state.engine.now(),
    )
    .await?;
    Ok(Json(kept))
}

/// Forget a named baseline (suites compared with it keep their results).
#[utoipa::path(delete, path = "/api/v1/baselines/{name}", operation_id = "delete_baseline", tag = "suites", params(("name" = String, Path)), responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::Write)?;
    if baselines::delete(state.engine.records().as_ref(), &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "no baseline is named `{name}`"
        )))
    }
}
