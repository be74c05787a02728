//! Who is calling: the extractors that turn a bearer token into a caller. API tokens on
//! the REST API (with scopes), enrollment tokens on registration, session tokens on the
//! rest of the agent protocol; a token of the wrong kind is 403, an unknown, revoked or
//! expired one 401.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use engine::model::{TokenRecord, WorkerInfo};

use crate::api::problem::ApiError;
use crate::state::AppState;
use crate::tokens::{
    self, KIND_AGENT, KIND_API, KIND_ENROLLMENT, Refusal, SESSION_IDLE_TTL_MS, Scope,
};

/// The presented token. `?access_token=` counts only where `from_query` (the SSE streams:
/// browsers' EventSource cannot send headers); everywhere else a token in a URL would end
/// up in proxies' and browsers' histories.
fn bearer(parts: &Parts, from_query: bool) -> Result<&str, ApiError> {
    if from_query
        && parts.method == axum::http::Method::GET
        && !parts.headers.contains_key(header::AUTHORIZATION)
        && let Some(token) = parts
            .uri
            .query()
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|pair| pair.strip_prefix("access_token="))
            .filter(|t| !t.is_empty())
    {
        return Ok(token);
    }
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized("missing Authorization header: send `Authorization: Bearer <token>` (the admin token is printed at the server's first start)")
        })?
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not valid text"))?;
    value
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"))
}

/// Look the presented token up; it must be live and of the expected kind.
async fn live_token(
    state: &AppState,
    parts: &Parts,
    kind: &str,
    wrong_place: &str,
) -> Result<TokenRecord, ApiError> {
    live_token_from(state, bearer(parts, false)?, kind, wrong_place).await
}

async fn live_token_from(
    state: &AppState,
    token: &str,
    kind: &str,
    wrong_place: &str,
) -> Result<TokenRecord, ApiError> {
    let store = state.engine.tokens();
    let now = state.engine.now();
    tokens::live(store.as_ref(), token, kind, wrong_place, now)
        .await
        .map_err(|refusal| match refusal {
            Refusal::Unauthenticated(why) => ApiError::unauthorized(why),
            Refusal::Forbidden(why) => ApiError::forbidden(why),
            Refusal::Store(e) => ApiError::from(e),
        })
}

/// A person or CI calling the API with an API token.
pub struct Caller {
    pub token: TokenRecord,
}

impl Caller {
    /// 403 unless the token carries `scope` (admin implies write, write implies read).
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        tokens::require(&self.token, scope).map_err(ApiError::forbidden)
    }
}

const API_ONLY: &str =
    "the API takes API tokens (agent and enrollment tokens work only on /api/v1/agent/*)";

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = live_token(state, parts, KIND_API, API_ONLY).await?;
        Ok(Caller { token })
    }
}

/// A caller of an SSE stream: the token may also come as `?access_token=` (EventSource).
pub struct StreamCaller(pub Caller);

impl FromRequestParts<AppState> for StreamCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = live_token_from(state, bearer(parts, true)?, KIND_API, API_ONLY).await?;
        Ok(StreamCaller(Caller { token }))
    }
}

/// An enrollment token, presented by an agent that registers.
pub struct Enrollment(pub TokenRecord);

impl FromRequestParts<AppState> for Enrollment {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        live_token(
            state,
            parts,
            KIND_ENROLLMENT,
            "registration takes an enrollment token",
        )
        .await
        .map(Enrollment)
    }
}

/// A registered agent, by its session token.
pub struct AgentSession {
    pub worker: WorkerInfo,
    pub token: TokenRecord,
}

impl FromRequestParts<AppState> for AgentSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = live_token(
            state,
            parts,
            KIND_AGENT,
            "agent endpoints take the session token answered by registration",
        )
        .await?;
        let worker_id = token
            .worker_id
            .ok_or_else(|| ApiError::unauthorized("the session token names no agent"))?;
        let worker =
            state.reads.worker(worker_id).await?.ok_or_else(|| {
                ApiError::unauthorized("the session's agent is gone; register again")
            })?;
        // A session in use stays alive; an idle one expires (see SESSION_IDLE_TTL).
        let now = state.engine.now();
        if token
            .expires_at
            .is_some_and(|at| at - now < SESSION_IDLE_TTL_MS / 2)
        {
            state
                .engine
                .tokens()
                .extend_token(token.id, now + SESSION_IDLE_TTL_MS)
                .await?;
        }
        Ok(AgentSession {
            worker: worker.info,
            token,
        })
    }
}
