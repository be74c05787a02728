//! Agents as people see them, and the enrollment tokens that let agents in.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use engine::model::{TokenRecord, WorkerRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::api::auth::Caller;
use crate::api::body::{ApiPath, JsonBody};
use crate::api::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::tokens::{self, KIND_ENROLLMENT, NewToken, Scope};

/// Every agent that ever registered, newest first (status ACTIVE, LOST or STOPPED).
#[utoipa::path(get, path = "/api/v1/agents", tag = "agents", responses((status = 200, body = Vec<WorkerRecord>)))]
pub async fn list_agents(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<WorkerRecord>>> {
    caller.require(Scope::Read)?;
    let mut workers = state.reads.workers().await?;
    workers.retain(|w| w.info.kind == "agent");
    Ok(Json(workers))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEnrollment {
    #[schema(min_length = 1)]
    pub name: String,
    /// Labels the enrolled agents get (routing: tasks require labels).
    #[serde(default)]
    pub labels: BTreeMap<String, Value>,
    /// Bind the agents to one run: they see only its tasks.
    #[serde(default)]
    pub run_id: Option<Uuid>,
    /// The token stops working after this many seconds.
    #[serde(default)]
    pub ttl_s: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The token itself: shown this once, only its hash is kept.
    pub token: String,
    #[serde(flatten)]
    pub record: TokenRecord,
}

/// Create an enrollment token for agents (shown once).
#[utoipa::path(post, path = "/api/v1/enrollment-tokens", tag = "agents", request_body = NewEnrollment, responses((status = 201, body = CreatedToken)))]
pub async fn create_enrollment(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewEnrollment>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    caller.require(Scope::Admin)?;
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_request("`name` is empty"));
    }
    if let Some(run_id) = body.run_id
        && state.reads.run(run_id).await?.is_none()
    {
        return Err(ApiError::bad_request(format!(
            "`run_id`: run {run_id} not found"
        )));
    }
    let now = state.engine.now();
    let expires_at = body
        .ttl_s
        .map(|s| now.saturating_add(i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX)));
    let (token, record) = tokens::create(
        state.engine.tokens().as_ref(),
        NewToken {
            kind: KIND_ENROLLMENT,
            name: body.name,
            scopes: Vec::new(),
            labels: body.labels,
            run_id: body.run_id,
            worker_id: None,
            expires_at,
        },
        None,
        now,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token, record })))
}

/// List enrollment tokens.
#[utoipa::path(get, path = "/api/v1/enrollment-tokens", tag = "agents", responses((status = 200, body = Vec<TokenRecord>)))]
pub async fn list_enrollments(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<TokenRecord>>> {
    caller.require(Scope::Admin)?;
    Ok(Json(state.engine.tokens().tokens(KIND_ENROLLMENT).await?))
}

/// Revoke an enrollment token.
#[utoipa::path(delete, path = "/api/v1/enrollment-tokens/{id}", tag = "agents", params(("id" = Uuid, Path)), responses((status = 204, description = "Revoked"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_enrollment(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::Admin)?;
    let known = state
        .engine
        .tokens()
        .tokens(KIND_ENROLLMENT)
        .await?
        .into_iter()
        .any(|t| t.id == id);
    if !known {
        return Err(ApiError::not_found(format!(
            "enrollment token {id} not found"
        )));
    }
    if state
        .engine
        .tokens()
        .revoke_token(id, state.engine.now())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::conflict(format!(
            "enrollment token {id} is already revoked"
        )))
    }
}
