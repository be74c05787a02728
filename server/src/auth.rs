//! Bearer tokens. Only a token's SHA-256 is stored; the token itself is shown once, when it
//! is created. Three kinds, each accepted only where it belongs:
//! - `api` tokens (people, CI, the dashboard) on `/api/v1/*` except the agent endpoints,
//!   with scopes `read`, `write` (implies read) and `admin` (implies both);
//! - `enrollment` tokens only on `POST /api/v1/agent/register`;
//! - `agent` session tokens only on the other `/api/v1/agent/*` endpoints.

use std::collections::BTreeMap;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use engine::model::{Millis, RunId, TokenRecord, WorkerId, WorkerInfo};
use engine::store::Store;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api::problem::ApiError;
use crate::state::AppState;

pub const KIND_API: &str = "api";
pub const KIND_ENROLLMENT: &str = "enrollment";
pub const KIND_AGENT: &str = "agent";

/// An agent session unused this long expires (the agent registers again with its
/// enrollment token); one in use is extended as it goes.
pub const SESSION_IDLE_TTL_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

/// A new random token: a prefix that says what it is (so a leaked one is recognised),
/// then 256 bits of randomness from the OS.
pub fn generate(kind: &str) -> String {
    let prefix = match kind {
        KIND_API => "rat_api_",
        KIND_ENROLLMENT => "rat_enr_",
        _ => "rat_agt_",
    };
    format!(
        "{prefix}{}{}",
        Uuid::new_v4().simple(),
        Uuid::new_v4().simple()
    )
}

pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What a new token is for.
pub struct NewToken {
    pub kind: &'static str,
    pub name: String,
    pub scopes: Vec<String>,
    pub labels: BTreeMap<String, Value>,
    pub run_id: Option<RunId>,
    pub worker_id: Option<WorkerId>,
    pub expires_at: Option<Millis>,
}

/// Create and store a token; answers the secret (shown once) and the record.
pub async fn create(
    store: &dyn Store,
    new: NewToken,
    secret: Option<String>,
    now: Millis,
) -> Result<(String, TokenRecord), ApiError> {
    let secret = secret.unwrap_or_else(|| generate(new.kind));
    let record = TokenRecord {
        id: Uuid::now_v7(),
        kind: new.kind.into(),
        name: new.name,
        token_hash: hash(&secret),
        scopes: new.scopes,
        labels: new.labels,
        run_id: new.run_id,
        worker_id: new.worker_id,
        created_at: now,
        expires_at: new.expires_at,
        revoked_at: None,
    };
    // An enrollment for one run makes that run's agent tasks its agents' alone.
    if let (KIND_ENROLLMENT, Some(run_id)) = (new.kind, record.run_id) {
        store.bind_run_agents(run_id).await?;
    }
    store.put_token(&record).await?;
    Ok((secret, record))
}

/// The first start creates an admin token and prints it once; `RATCHET_ADMIN_TOKEN` makes
/// it known in advance (for automation). Answers a newly generated token to print.
pub async fn bootstrap_admin(
    store: &dyn Store,
    configured: Option<&str>,
    now: Millis,
) -> anyhow::Result<Option<String>> {
    let admin = NewToken {
        kind: KIND_API,
        name: "admin".into(),
        scopes: vec![Scope::Admin.as_str().into()],
        labels: BTreeMap::new(),
        run_id: None,
        worker_id: None,
        expires_at: None,
    };
    if let Some(token) = configured {
        if token.len() < 16 {
            anyhow::bail!("RATCHET_ADMIN_TOKEN is too short: use at least 16 characters");
        }
        if store.token_by_hash(&hash(token)).await?.is_none() {
            let admin = NewToken {
                name: "admin (RATCHET_ADMIN_TOKEN)".into(),
                ..admin
            };
            create(store, admin, Some(token.to_string()), now)
                .await
                .map_err(|e| anyhow::anyhow!("cannot store the admin token: {}", e.detail))?;
        }
        return Ok(None);
    }
    if !store.tokens(KIND_API).await?.is_empty() {
        return Ok(None);
    }
    let (secret, _) = create(store, admin, None, now)
        .await
        .map_err(|e| anyhow::anyhow!("cannot store the admin token: {}", e.detail))?;
    Ok(Some(secret))
}

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
    let record = state
        .store
        .token_by_hash(&hash(token))
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown token"))?;
    if record.revoked_at.is_some() {
        return Err(ApiError::unauthorized(format!(
            "token '{}' was revoked",
            record.name
        )));
    }
    if record.expires_at.is_some_and(|at| at <= state.engine.now()) {
        return Err(ApiError::unauthorized(format!(
            "token '{}' has expired",
            record.name
        )));
    }
    if record.kind != kind {
        return Err(ApiError::forbidden(format!(
            "{} tokens are not accepted here: {wrong_place}",
            record.kind
        )));
    }
    Ok(record)
}

/// A person or CI calling the API with an API token.
pub struct Caller {
    pub token: TokenRecord,
}

impl Caller {
    /// 403 unless the token carries `scope` (admin implies write, write implies read).
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        let has = |s: Scope| self.token.scopes.iter().any(|t| t == s.as_str());
        let ok = has(Scope::Admin)
            || match scope {
                Scope::Read => has(Scope::Read) || has(Scope::Write),
                Scope::Write => has(Scope::Write),
                Scope::Admin => false,
            };
        if ok {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "token '{}' has scopes [{}]; this needs '{}'",
                self.token.name,
                self.token.scopes.join(", "),
                scope.as_str()
            )))
        }
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
            state.store.worker(worker_id).await?.ok_or_else(|| {
                ApiError::unauthorized("the session's agent is gone; register again")
            })?;
        // A session in use stays alive; an idle one expires (see SESSION_IDLE_TTL).
        let now = state.engine.now();
        if token
            .expires_at
            .is_some_and(|at| at - now < SESSION_IDLE_TTL_MS / 2)
        {
            state
                .store
                .extend_token(token.id, now + SESSION_IDLE_TTL_MS)
                .await?;
        }
        Ok(AgentSession {
            worker: worker.info,
            token,
        })
    }
}
