//! Wire types shared by the server and the edge agent (`ratchet-agent`).
//!
//! This module is the only place these types live: the agent depends on the `engine` crate
//! with default features off, which compiles nothing but this module.

use serde::{Deserialize, Serialize};

/// Version of the agent protocol. The server refuses agents that speak another major version.
pub const PROTOCOL_VERSION: u32 = 1;

/// Body of `GET /healthz`, which needs no token: the agent uses it to find its server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
}
