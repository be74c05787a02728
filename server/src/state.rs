//! What every request handler can reach.

use std::sync::Arc;
use std::time::Duration;

use engine::Engine;
use engine::bus::Bus;
use engine::store::Store;

use crate::api::limits::Limits;
use crate::stroppy::releases::Pins;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    pub engine: Arc<Engine>,
    /// An agent that does not poll for this long is lost; its tasks are reassigned.
    pub agent_lease: Duration,
    /// Caps on long polls and SSE streams.
    pub limits: Limits,
    /// Stroppy releases the operator vouches for.
    pub stroppy_pins: Pins,
}
