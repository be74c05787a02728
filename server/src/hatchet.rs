//! The Hatchet-compatible gRPC endpoint (crate `hatchet`), as the server runs it: its
//! tokens and where it listens.
//!
//! A Hatchet token is an API token whose secret is a JWT: the SDK reads its address and
//! tenant from the claims, the server checks the JWT's signature (a key of its own, kept
//! in the database) and then looks the token up by its hash like any API token, so
//! `ratchet token list|revoke` and the scopes work unchanged, and the JWT is also a bearer
//! token for the REST API.

use std::sync::Arc;

use engine::Engine;
use engine::model::{Millis, TokenRecord};
use engine::store::{RecordStore, TokenStore};
use hatchet::Access;
use hatchet::token::{self, Claims};
use tonic::Status;

use crate::tokens::{self, KIND_API, NewToken, Scope};

const KEY_NAMESPACE: &str = "hatchet";
const KEY_NAME: &str = "jwt-signing-key";

/// The key Hatchet tokens are signed with, made on first use.
pub async fn signing_key(records: &dyn RecordStore, now: Millis) -> anyhow::Result<Vec<u8>> {
    if let Some(record) = records.record(KEY_NAMESPACE, KEY_NAME).await?
        && let Some(key) = record.value.as_str()
    {
        return Ok(key.as_bytes().to_vec());
    }
    let key = tokens::generate("signing");
    records
        .put_record(KEY_NAMESPACE, KEY_NAME, &serde_json::Value::from(key), now)
        .await?;
    // Two processes making it at once: the stored one wins for both.
    let stored = records
        .record(KEY_NAMESPACE, KEY_NAME)
        .await?
        .and_then(|r| r.value.as_str().map(str::to_string))
        .ok_or_else(|| anyhow::anyhow!("the Hatchet signing key did not persist"))?;
    Ok(stored.into_bytes())
}

/// What `ratchet token create --hatchet` puts in the token's claims.
pub struct HatchetToken {
    pub tenant_id: String,
    pub server_url: String,
    pub grpc_address: String,
}

/// Create a Hatchet token (a JWT stored as an API token); answers the JWT, shown once.
pub async fn create_token(
    tokens_store: &dyn TokenStore,
    key: &[u8],
    new: NewToken,
    claims: HatchetToken,
    now: Millis,
) -> anyhow::Result<(String, TokenRecord)> {
    let jwt = token::sign(
        &Claims {
            sub: claims.tenant_id,
            server_url: claims.server_url,
            grpc_broadcast_address: claims.grpc_address,
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now / 1000,
            exp: new.expires_at.map(|at| at / 1000),
        },
        key,
    )
    .map_err(anyhow::Error::msg)?;
    let (secret, record) = tokens::create(tokens_store, new, Some(jwt), now)
        .await
        .map_err(|e| anyhow::anyhow!("cannot store the token: {e}"))?;
    Ok((secret, record))
}

/// The gRPC endpoint's token check.
pub struct Auth {
    pub engine: Arc<Engine>,
    pub key: Vec<u8>,
}

#[tonic::async_trait]
impl hatchet::Authorize for Auth {
    async fn authorize(&self, bearer: &str, access: Access) -> Result<(), Status> {
        if !token::is_jwt(bearer) {
            return Err(Status::unauthenticated(
                "not a Hatchet token: create one with `ratchet token create --hatchet`",
            ));
        }
        token::verify(bearer, &self.key).map_err(Status::unauthenticated)?;
        let store = self.engine.tokens();
        let now = self.engine.now();
        let record = tokens::live(
            store.as_ref(),
            bearer,
            KIND_API,
            "Hatchet takes Hatchet tokens",
            now,
        )
        .await
        .map_err(|refusal| match refusal {
            tokens::Refusal::Unauthenticated(why) => Status::unauthenticated(why),
            tokens::Refusal::Forbidden(why) => Status::permission_denied(why),
            tokens::Refusal::Store(e) => {
                Status::unavailable(format!("cannot check the token: {e}"))
            }
        })?;
        let scope = match access {
            Access::Read => Scope::Read,
            Access::Write => Scope::Write,
        };
        tokens::require(&record, scope).map_err(Status::permission_denied)
    }
}

/// Serve the Hatchet endpoint on `listener` (until the task is aborted).
pub async fn start(
    engine: &Arc<Engine>,
    listener: tokio::net::TcpListener,
    tenant_id: String,
    lease: std::time::Duration,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let key = signing_key(engine.records().as_ref(), engine.now()).await?;
    let auth = Arc::new(Auth {
        engine: engine.clone(),
        key,
    });
    let reserved = crate::stroppy::workflows::definitions()
        .into_iter()
        .map(|d| d.name)
        .collect();
    let addr = listener.local_addr()?;
    let redact = crate::api::redact::value;
    let service = hatchet::Service::new(engine.clone(), auth, tenant_id, reserved, lease, redact);
    tracing::info!(listen = %addr, "serving Hatchet's gRPC protocol (SDK tokens: `ratchet token create --hatchet`)");
    Ok(tokio::spawn(async move {
        if let Err(e) = service.serve(listener).await {
            tracing::error!(error = %e, "the Hatchet gRPC server failed");
        }
    }))
}
