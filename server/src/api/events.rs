//! `POST /api/v1/events`: push a user event. It satisfies `wait_for` event conditions of
//! waiting tasks and starts the workflows whose `on_events` triggers match.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::api::auth::Caller;
use crate::api::body::JsonBody;
use crate::api::problem::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tokens::Scope;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    #[schema(min_length = 1)]
    pub key: String,
    #[serde(default)]
    pub payload: Value,
    #[serde(default)]
    pub metadata: Value,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PushedEvent {
    pub id: i64,
    pub key: String,
    pub at: i64,
    /// Runs its `on_events` triggers started.
    pub started: Vec<Uuid>,
}

/// Push a user event.
#[utoipa::path(post, path = "/api/v1/events", operation_id = "push_event", tag = "events", request_body = NewEvent, responses((status = 201, body = PushedEvent)))]
pub async fn push(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewEvent>,
) -> ApiResult<(StatusCode, Json<PushedEvent>)> {
    caller.require(Scope::Write)?;
    if body.key.trim().is_empty() {
        return Err(ApiError::bad_request("`key` is empty"));
    }
    let object = |v: Value| {
        if v.is_null() {
            Value::Object(Default::default())
        } else {
            v
        }
    };
    let pushed = state
        .engine
        .push_event(&body.key, object(body.payload), object(body.metadata))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(PushedEvent {
            id: pushed.event.id,
            key: pushed.event.key,
            at: pushed.event.at,
            started: pushed.started,
        }),
    ))
}
