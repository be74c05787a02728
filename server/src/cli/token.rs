//! `ratchet token create|list|revoke`: API tokens, managed on the database directly (for
//! the operator of the server; the API itself needs a token to start with).

use anyhow::{Context, bail};
use clap::Subcommand;
use engine::clock::{Clock, SystemClock};

use crate::config::StoreArgs;
use crate::tokens::{self, KIND_API, NewToken, Scope};

#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub action: TokenAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum TokenAction {
    /// Create an API token and print it (only its hash is kept: this is the one chance).
    Create {
        /// Who or what uses it, e.g. `ci-nightly`.
        #[arg(long)]
        name: String,
        /// `read` (look), `write` (submit and cancel; implies read) or `admin`.
        #[arg(long, default_value = "write")]
        scope: String,
        /// Expire after this long, e.g. `90d`.
        #[arg(long, value_parser = humantime::parse_duration)]
        ttl: Option<std::time::Duration>,
        /// A token for Hatchet's SDKs (HATCHET_CLIENT_TOKEN): a JWT that names the
        /// addresses below, for a server started with RATCHET_HATCHET_LISTEN.
        #[arg(long)]
        hatchet: bool,
        /// With --hatchet: the address the SDK dials for gRPC.
        #[arg(long, env = "RATCHET_HATCHET_LISTEN", default_value = "127.0.0.1:7070")]
        grpc_address: String,
        /// With --hatchet: the server's URL (its REST API).
        #[arg(
            long,
            env = "RATCHET_PUBLIC_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        server_url: String,
    },
    /// List API tokens (never their secrets).
    List,
    /// Revoke a token by its id.
    Revoke { id: uuid::Uuid },
}

pub async fn run(args: TokenArgs) -> anyhow::Result<()> {
    let store = crate::serve::open_store(&args.store).await?;
    match args.action {
        TokenAction::Create {
            name,
            scope,
            ttl,
            hatchet,
            grpc_address,
            server_url,
        } => {
            let scope = [Scope::Read, Scope::Write, Scope::Admin]
                .into_iter()
                .find(|s| s.as_str() == scope)
                .with_context(|| format!("--scope `{scope}` is not one of read, write, admin"))?;
            let expires_at = ttl
                .map(|t| SystemClock.now() + i64::try_from(t.as_millis()).unwrap_or(i64::MAX / 2));
            let new = NewToken {
                kind: KIND_API,
                name,
                scopes: vec![scope.as_str().into()],
                labels: Default::default(),
                run_id: None,
                worker_id: None,
                expires_at,
            };
            let now = SystemClock.now();
            let (secret, record) = if hatchet {
                let key = crate::hatchet::signing_key(store.as_ref(), now).await?;
                let claims = crate::hatchet::HatchetToken {
                    tenant_id: store.installation().await?.id.to_string(),
                    server_url,
                    grpc_address,
                };
                crate::hatchet::create_token(store.as_ref(), &key, new, claims, now).await?
            } else {
                tokens::create(store.as_ref(), new, None, now)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot store the token: {e}"))?
            };
            eprintln!(
                "created token {} ({}), scope {}; it is shown only now:",
                record.id,
                record.name,
                scope.as_str()
            );
            println!("{secret}");
        }
        TokenAction::List => {
            println!(
                "{:<38} {:<28} {:<8} {:<10}",
                "id", "name", "scopes", "state"
            );
            for t in store.tokens(KIND_API).await? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else if t.expires_at.is_some_and(|e| e <= SystemClock.now()) {
                    "expired"
                } else {
                    "active"
                };
                println!(
                    "{:<38} {:<28} {:<8} {:<10}",
                    t.id,
                    t.name,
                    t.scopes.join(","),
                    state
                );
            }
        }
        TokenAction::Revoke { id } => {
            let known = store
                .tokens(KIND_API)
                .await?
                .into_iter()
                .any(|t| t.id == id);
            if !known {
                bail!("no API token with id {id} (see `ratchet token list`)");
            }
            if !store.revoke_token(id, SystemClock.now()).await? {
                bail!("token {id} is already revoked");
            }
            eprintln!("revoked {id}");
        }
    }
    store.close().await;
    Ok(())
}
