//! What every request handler can reach.

use std::sync::Arc;

use engine::bus::Bus;
use engine::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
}
