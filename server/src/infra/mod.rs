//! Machines for benchmarks: the provider interface, the `local` provider (agent processes
//! on this host, each with its own loopback address), the network blocks and quotas.
//!
//! Everything a provider creates is recorded as a lease (kind `machine`) held by the test
//! run, with what destroying it needs; so a restarted server can still tear it down.

pub mod local;
pub mod network;

use async_trait::async_trait;
use engine::store::{Lease, LeaseStore, TokenStore};
use serde::{Deserialize, Serialize};

/// Lease kind of a provisioned machine.
pub const MACHINE: &str = "machine";

/// The longest machine name (a cloud VM's host name has at most 63 characters).
pub const MAX_MACHINE_NAME: usize = 63;

/// Machine names become directory names, host names and cloud resource names: 1-63 of
/// `[a-z0-9-]`, not starting or ending with `-`. `None` when `name` is fine.
pub fn machine_name_problem(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > MAX_MACHINE_NAME {
        return Some(format!(
            "machine name `{name}` must be 1-{MAX_MACHINE_NAME} characters long"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(format!(
            "machine name `{name}` holds `{c}`: only lowercase letters, digits and `-` are allowed"
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some(format!(
            "machine name `{name}` must not start or end with `-`"
        ));
    }
    None
}

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

/// Destroy every machine test run `run_id` holds and give up its leases (machines, then
/// the network once no machine is left on it). The run's agents can do nothing more: their
/// enrollment and session tokens are revoked. Idempotent, and
/// carries on past a machine that fails to go (reported at the end).
pub async fn destroy_all(
    leases: &dyn LeaseStore,
    tokens: &dyn TokenStore,
    provider: &dyn Provider,
    run_id: uuid::Uuid,
    now: i64,
) -> Result<Vec<String>, ProviderError> {
    let holder = run_id.to_string();
    let mut destroyed = Vec::new();
    let mut errors = Vec::new();
    for lease in leases.leases(Some(MACHINE), Some(&holder)).await? {
        match provider.destroy(&lease).await {
            Ok(()) => {
                leases.release_lease(&lease.kind, &lease.key).await?;
                destroyed.push(lease.key);
            }
            Err(e) => errors.push(format!("{}: {e}", lease.key)),
        }
    }
    // Whatever of the machines' agents is left (an agent of a VM that went away with it)
    // can do nothing more.
    tokens.revoke_run_tokens(run_id, now).await?;
    if errors.is_empty() {
        for lease in leases.leases(Some(network::NETWORK), Some(&holder)).await? {
            leases.release_lease(&lease.kind, &lease.key).await?;
        }
        Ok(destroyed)
    } else {
        Err(ProviderError::Failed(format!(
            "cannot destroy: {}",
            errors.join("; ")
        )))
    }
}
