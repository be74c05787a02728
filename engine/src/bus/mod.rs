//! The bus carries run/task status changes, log lines and wake-ups between the parts of a
//! server and, with Valkey, across replicas: an SSE client on replica B sees what an agent
//! posted to replica A. Messages are hints; the store stays the source of truth.

mod memory;
mod valkey;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::broadcast;

pub use self::memory::InProcessBus;
pub use self::valkey::ValkeyBus;

/// How many messages a slow subscriber may fall behind before it misses some (and must
/// re-read the store).
pub const SUBSCRIBER_BUFFER: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum BusKind {
    InProcess,
    Valkey,
}

impl std::fmt::Display for BusKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BusKind::InProcess => "in-process",
            BusKind::Valkey => "valkey",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusMessage {
    pub channel: String,
    pub payload: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error(
        "VALKEY_URL is not a valid Valkey/Redis URL ({0}); expected redis://host:port or valkey://host:port"
    )]
    InvalidUrl(String),
    #[error(
        "cannot connect to Valkey at {target}: {source}; check VALKEY_URL and that the server is running"
    )]
    Connect {
        target: String,
        source: fred::error::Error,
    },
    #[error("Valkey error: {0}")]
    Valkey(#[from] fred::error::Error),
    /// Disconnected, reconnecting: said once by the bus itself, not by every caller.
    #[error("the Valkey bus is reconnecting")]
    Unavailable,
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    fn kind(&self) -> BusKind;

    /// Deliver `payload` to every current subscriber of `channel`, on every replica.
    async fn publish(&self, channel: &str, payload: &str) -> Result<(), BusError>;

    /// Receive what is published on `channel` from now on.
    async fn subscribe(&self, channel: &str) -> Result<broadcast::Receiver<BusMessage>, BusError>;

    /// A round trip to the bus; `/readyz` is ready only when this succeeds.
    async fn ping(&self) -> Result<(), BusError>;

    /// Messages flow now (false while a Valkey connection is being re-established:
    /// listeners must then look at the store themselves).
    fn connected(&self) -> bool {
        true
    }

    async fn close(&self);
}

/// `None` → the in-process bus; `redis://…` or `valkey://…` → Valkey.
pub async fn connect(url: Option<&str>) -> Result<Arc<dyn Bus>, BusError> {
    match url.map(str::trim).filter(|u| !u.is_empty()) {
        None => Ok(Arc::new(InProcessBus::default())),
        Some(url) => Ok(Arc::new(ValkeyBus::connect(url).await?)),
    }
}
