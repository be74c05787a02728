//! Bearer tokens: what they are, how they are made and kept. Only a token's SHA-256 is
//! stored; the token itself is shown once, when it is created. Three kinds, each accepted
//! only where it belongs (the HTTP extractors are `api/auth.rs`):
//! - `api` tokens (people, CI, the dashboard) on `/api/v1/*` except the agent endpoints,
//!   with scopes `read`, `write` (implies read) and `admin` (implies both);
//! - `enrollment` tokens only on `POST /api/v1/agent/register`;
//! - `agent` session tokens only on the other `/api/v1/agent/*` endpoints.

use std::collections::BTreeMap;

use engine::model::{Millis, RunId, TokenRecord, WorkerId};
use engine::store::{StoreError, TokenStore};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

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

/// Why a presented token is refused: not a live token (401), or one of the wrong kind
/// or scope (403). Each says why.
#[derive(Debug)]
pub enum Refusal {
    Unauthenticated(String),
    Forbidden(String),
    Store(StoreError),
}

/// The presented token's record, if it is a live token of `kind`; `wrong_place` says
/// where tokens of another kind belong.
pub async fn live(
    store: &dyn TokenStore,
    token: &str,
    kind: &str,
    wrong_place: &str,
    now: Millis,
) -> Result<TokenRecord, Refusal> {
    let record = store
        .token_by_hash(&hash(token))
        .await
        .map_err(Refusal::Store)?
        .ok_or_else(|| Refusal::Unauthenticated("unknown token".into()))?;
    if record.revoked_at.is_some() {
        return Err(Refusal::Unauthenticated(format!(
            "token '{}' was revoked",
            record.name
        )));
    }
    if record.expires_at.is_some_and(|at| at <= now) {
        return Err(Refusal::Unauthenticated(format!(
            "token '{}' has expired",
            record.name
        )));
    }
    if record.kind != kind {
        return Err(Refusal::Forbidden(format!(
            "{} tokens are not accepted here: {wrong_place}",
            record.kind
        )));
    }
    Ok(record)
}

/// Does the token carry `scope`? Admin implies write, write implies read. The error says
/// what it has and what is needed.
pub fn require(record: &TokenRecord, scope: Scope) -> Result<(), String> {
    let has = |s: Scope| record.scopes.iter().any(|t| t == s.as_str());
    let ok = has(Scope::Admin)
        || match scope {
            Scope::Read => has(Scope::Read) || has(Scope::Write),
            Scope::Write => has(Scope::Write),
            Scope::Admin => false,
        };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "token '{}' has scopes [{}]; this needs '{}'",
            record.name,
            record.scopes.join(", "),
            scope.as_str()
        ))
    }
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

/// Create and store a token; answers the secret (shown once) and the record. An
/// enrollment token bound to a run makes that run's agent tasks its agents' alone.
pub async fn create(
    store: &dyn TokenStore,
    new: NewToken,
    secret: Option<String>,
    now: Millis,
) -> Result<(String, TokenRecord), StoreError> {
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
    store.put_token(&record).await?;
    Ok((secret, record))
}

/// The first start creates an admin token and prints it once; `RATCHET_ADMIN_TOKEN` makes
/// it known in advance (for automation). Answers a newly generated token to print.
pub async fn bootstrap_admin(
    store: &dyn TokenStore,
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
            // Replicas starting together on a fresh database all try: one stores it.
            if let Err(e) = create(store, admin, Some(token.to_string()), now).await
                && store.token_by_hash(&hash(token)).await?.is_none()
            {
                anyhow::bail!("cannot store the admin token: {e}");
            }
        }
        return Ok(None);
    }
    if !store.tokens(KIND_API).await?.is_empty() {
        return Ok(None);
    }
    let (secret, _) = create(store, admin, None, now)
        .await
        .map_err(|e| anyhow::anyhow!("cannot store the admin token: {e}"))?;
    Ok(Some(secret))
}
