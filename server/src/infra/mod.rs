//! Machines for benchmarks: the provider interface, the `local` provider (agent processes
//! on this host, each with its own loopback address), the network blocks and quotas.
//!
//! Everything a provider creates is recorded as a lease (kind `machine`) held by the test
//! run, with what destroying it needs; so a restarted server can still tear it down.

pub mod local;
pub mod network;

use std::sync::Arc;

use async_trait::async_trait;
use engine::store::{Lease, Store};
use serde::{Deserialize, Serialize};

/// Lease kind of a provisioned machine.
pub const MACHINE: &str = "machine";

/// A machine a test needs, as planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachinePlan {
    /// Role in the test: `db` or `loader` (tasks route to it by the label `machine`).
    pub role: String,
    /// Unique on the provider: `<run>-<role>`.
    pub name: String,
    pub address: String,
    pub cores: u32,
    pub memory_gb: u32,
}

/// A created machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub role: String,
    pub name: String,
    pub address: String,
    /// What destroying it needs (pid, work dir, cloud ids, ...).
    pub handle: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Store(#[from] engine::store::StoreError),
}

#[async_trait]
pub trait Provider: Send + Sync {
    fn name(&self) -> &'static str;

    /// Create the machines and start an agent on each, enrolled for `run_id` with the
    /// label `machine = <role>`.
    async fn create(
        &self,
        run_id: uuid::Uuid,
        machines: &[MachinePlan],
    ) -> Result<Vec<Machine>, ProviderError>;

    /// Destroy one machine (idempotent: a machine already gone is fine).
    async fn destroy(&self, machine: &Lease) -> Result<(), ProviderError>;
}

/// Destroy every machine `holder` holds and give up its leases (machines, network).
/// Idempotent, and carries on past a machine that fails to go (reported at the end).
pub async fn destroy_all(
    store: &Arc<dyn Store>,
    provider: &dyn Provider,
    holder: &str,
) -> Result<Vec<String>, ProviderError> {
    let mut destroyed = Vec::new();
    let mut errors = Vec::new();
    for lease in store.leases(Some(MACHINE), Some(holder)).await? {
        match provider.destroy(&lease).await {
            Ok(()) => {
                store.release_lease(&lease.kind, &lease.key).await?;
                destroyed.push(lease.key);
            }
            Err(e) => errors.push(format!("{}: {e}", lease.key)),
        }
    }
    for lease in store.leases(Some(network::NETWORK), Some(holder)).await? {
        store.release_lease(&lease.kind, &lease.key).await?;
    }
    if errors.is_empty() {
        Ok(destroyed)
    } else {
        Err(ProviderError::Failed(format!(
            "cannot destroy: {}",
            errors.join("; ")
        )))
    }
}
