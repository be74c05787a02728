//! Static rate limits: tasks name a key in their `rate_limits` with the units one run of
//! them uses; a task over the limit waits in the queue (REQUEUED), it does not fail.

use axum::Json;
use axum::extract::State;
use engine::definition::Dur;
use engine::model::RateLimit;
use serde::Deserialize;

use crate::api::auth::Caller;
use crate::api::body::{ApiPath, JsonBody};
use crate::api::problem::ApiResult;
use crate::state::AppState;
use crate::tokens::Scope;

/// List rate limits.
#[utoipa::path(get, path = "/api/v1/rate-limits", operation_id = "list_rate_limits", tag = "rate-limits", responses((status = 200, body = Vec<RateLimit>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<RateLimit>>> {
    caller.require(Scope::Read)?;
    Ok(Json(state.engine.rate_limits().await?))
}

/// At most `limit` units in any window of `duration`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitBody {
    #[schema(minimum = 1)]
    pub limit: i64,
    pub duration: Dur,
}

/// Create or change a rate limit (it takes effect at the next claim).
#[utoipa::path(put, path = "/api/v1/rate-limits/{key}", operation_id = "put_rate_limit", tag = "rate-limits", params(("key" = String, Path)), request_body = RateLimitBody, responses((status = 200, body = RateLimit)))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
    JsonBody(body): JsonBody<RateLimitBody>,
) -> ApiResult<Json<RateLimit>> {
    caller.require(Scope::Write)?;
    let limit = RateLimit {
        key,
        limit: body.limit,
        duration: body.duration,
    };
    state.engine.put_rate_limit(&limit).await?;
    Ok(Json(limit))
}
