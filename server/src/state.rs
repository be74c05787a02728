//! What every request handler can reach: the engine (which runs, cancels and replays, and
//! hands out the narrow store facets: leases, tokens, schedules) and the reads.

use std::sync::Arc;
use std::time::Duration;

use engine::Engine;
use engine::store::ReadStore;

use crate::api::limits::Limits;
use crate::infra::Providers;
use crate::infra::agent_binary::AgentBinary;
use crate::stroppy::releases::Pins;
use crate::telemetry::Telemetry;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    /// Runs, tasks, timelines, workers, logs (`engine.reads()`).
    pub reads: Arc<dyn ReadStore>,
    /// An agent that does not poll for this long is lost; its tasks are reassigned.
    pub agent_lease: Duration,
    /// Caps on long polls and SSE streams.
    pub limits: Limits,
    /// Stroppy releases the operator vouches for.
    pub stroppy_pins: Pins,
    /// The machines' makers by target (suite checks, dry runs, the infrastructure API).
    pub providers: Providers,
    /// What cloud machines download; `None` when the binary is missing.
    pub agent_binary: Option<AgentBinary>,
    /// This replica's metrics and trace export.
    pub telemetry: Arc<Telemetry>,
    /// What `GET /metrics` requires, as its SHA-256 (unset: open).
    pub metrics_token: Option<[u8; 32]>,
}
