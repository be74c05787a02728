//! Machines for benchmarks: the provider interface and its two providers — `local` (agent
//! processes on this host, each with its own loopback address) and `yandex` (VMs made by
//! the Terraform CLI, agents delivered by cloud-init) — with network blocks, quotas and the
//! leak guard.
//!
//! Everything a provider creates is recorded as leases held by the test run (one per
//! machine and quota, the first with what destroying the machine needs), taken before the
//! machine is made; so a restarted server can still tear it down.

pub mod agent_binary;
pub mod leak_guard;
pub mod local;
pub mod network;
pub mod terraform;
pub mod yandex;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use engine::model::Millis;
use engine::store::{Lease, LeaseLimit, LeaseStore, TokenStore};
use protocol::actions::PostgresRuntime;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::infra::network::NetworkPool;
use crate::stroppy::spec::Target;

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
    /// Unique on the provider: `<test>-<role>-<run>`.
    pub name: String,
    pub address: String,
    pub cores: u32,
    pub memory_gb: u32,
    #[serde(default = "default_disk_gb")]
    pub disk_gb: u32,
}

fn default_disk_gb() -> u32 {
    crate::stroppy::spec::DEFAULT_DISK_GB
}

/// One test run's machines, as a provider is asked to make them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// The test run that holds the machines (their agents are enrolled for it).
    pub run_id: Uuid,
    /// The run's network block (`a.b.c.0/24`); every machine's address is in it.
    pub cidr: String,
    pub machines: Vec<MachinePlan>,
    /// After this the leak guard destroys the machines, whatever their run is doing.
    pub expires_at: Millis,
}

/// What a machine counts against: at most `limit.count` machines of the provider at once,
/// whose `counts` add up to at most `limit.amount`.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    /// The lease kind of these shares.
    pub kind: &'static str,
    pub limit: LeaseLimit,
    pub counts: Counts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counts {
    Cores,
    MemoryGb,
}

impl Quota {
    pub fn amount(&self, m: &MachinePlan) -> i64 {
        i64::from(match self.counts {
            Counts::Cores => m.cores,
            Counts::MemoryGb => m.memory_gb,
        })
    }
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

/// Where a provider says what it is doing (the step's log) and learns that it should stop.
/// Owned: a provider may keep working after the step that asked is gone (an interrupted
/// Terraform writing its state).
#[derive(Clone)]
pub struct Progress {
    pub log: Arc<dyn Fn(String) + Send + Sync>,
    /// Cancelled when the step is; a destroy ignores it.
    pub cancel: CancellationToken,
    /// The step's span, for the spans of what it runs (Terraform's commands).
    pub traceparent: Option<String>,
}

impl Progress {
    /// Into the server's log only, never cancelled (the leak guard, the infrastructure API).
    pub fn server_log(what: String) -> Progress {
        Progress {
            log: Arc::new(move |line| tracing::info!(target: "ratchet::infra", "{what}: {line}")),
            cancel: CancellationToken::new(),
            traceparent: None,
        }
    }
}

#[async_trait]
pub trait Provider: Send + Sync {
    fn name(&self) -> &'static str;

    /// What each machine counts against; the first quota's lease of a machine holds what
    /// destroying it needs.
    fn quotas(&self) -> &[Quota];

    /// Where the test runs' network blocks come from.
    fn network(&self) -> &NetworkPool;

    /// How PostgreSQL runs on the machines.
    fn database_runtime(&self) -> PostgresRuntime;

    /// How long a machine's agent may take to connect once the machine is made.
    fn agent_wait(&self) -> Duration;

    /// Create the machines and start an agent on each, enrolled for the run with the
    /// label `machine = <role>`. Retried after a failure: what an earlier attempt made is
    /// reused or replaced, never leaked.
    async fn create(
        &self,
        deployment: &Deployment,
        progress: &Progress,
    ) -> Result<Vec<Machine>, ProviderError>;

    /// Destroy every machine of run `run_id` (its machine leases: `machines`); idempotent,
    /// a machine already gone is fine.
    async fn destroy(
        &self,
        run_id: Uuid,
        machines: &[Lease],
        progress: &Progress,
    ) -> Result<(), ProviderError>;

    /// What `create` would make, made nowhere (a dry run); secrets masked.
    async fn plan(&self, deployment: &Deployment) -> Result<serde_json::Value, ProviderError>;
}

/// The lease kind of a provider's machines.
pub fn machine_kind(provider: &dyn Provider) -> &'static str {
    provider.quotas().first().map_or("machine", |q| q.kind)
}

/// The providers this server has, by target.
#[derive(Clone)]
pub struct Providers {
    pub local: Arc<dyn Provider>,
    /// Unset unless the server is configured for Yandex Cloud (or its simulation).
    pub yandex: Option<Arc<dyn Provider>>,
}

impl Providers {
    pub fn get(&self, target: Target) -> Result<&Arc<dyn Provider>, String> {
        match target {
            Target::Local => Ok(&self.local),
            Target::Yandex => self.yandex.as_ref().ok_or_else(|| {
                "`target: yandex` needs the server configured for Yandex Cloud (RATCHET_YANDEX_FOLDER_ID and credentials, or RATCHET_YANDEX_MODULE; see \"Running on Yandex Cloud\" in the README)".to_string()
            }),
        }
    }

    /// Every provider, for the leak guard.
    pub fn all(&self) -> Vec<Arc<dyn Provider>> {
        std::iter::once(self.local.clone())
            .chain(self.yandex.clone())
            .collect()
    }
}

/// Destroy every machine test run `run_id` holds on `provider` and give up its leases
/// (machines and quota shares, then the network once no machine is left on it). The run's
/// agents can do nothing more: their enrollment and session tokens are revoked.
/// Idempotent; answers the machines destroyed. A failure keeps every lease, network block
/// included, and records itself (a [`DESTROY_FAILED`] lease), so the leak guard tries
/// again after a back-off and the infrastructure API shows why.
pub async fn destroy_all(
    leases: &dyn LeaseStore,
    tokens: &dyn TokenStore,
    provider: &dyn Provider,
    run_id: Uuid,
    progress: &Progress,
    now: i64,
) -> Result<Vec<String>, ProviderError> {
    let holder = run_id.to_string();
    let machines = leases
        .leases(Some(machine_kind(provider)), Some(&holder))
        .await?;
    let outcome = if machines.is_empty() {
        Ok(())
    } else {
        provider.destroy(run_id, &machines, progress).await
    };
    // Whatever of the machines' agents is left (an agent of a VM that went away with it)
    // can do nothing more.
    tokens.revoke_run_tokens(run_id, now).await?;
    if let Err(e) = outcome {
        record_destroy_failure(leases, provider, run_id, &e.to_string(), now).await?;
        return Err(e);
    }
    leases
        .release_lease(DESTROY_FAILED, &failure_key(provider, run_id))
        .await?;
    for quota in provider.quotas() {
        for lease in leases.leases(Some(quota.kind), Some(&holder)).await? {
            leases.release_lease(&lease.kind, &lease.key).await?;
        }
    }
    for lease in leases.leases(Some(network::NETWORK), Some(&holder)).await? {
        leases.release_lease(&lease.kind, &lease.key).await?;
    }
    Ok(machines.into_iter().map(|m| m.key).collect())
}

/// Lease kind of a destroy that failed, one per run and provider (key `<provider>/<run>`),
/// held by the run until a destroy succeeds. Its data is a [`DestroyFailure`].
pub const DESTROY_FAILED: &str = "destroy-failed";

/// Why the last destroy failed, how often one has, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DestroyFailure {
    pub error: String,
    pub attempts: u32,
    pub at: Millis,
}

impl DestroyFailure {
    /// The failure recorded among `leases` for run `run_id` on `provider`, if any.
    pub fn among(
        leases: &[Lease],
        provider: &dyn Provider,
        run_id: Uuid,
    ) -> Option<DestroyFailure> {
        let key = failure_key(provider, run_id);
        leases
            .iter()
            .filter(|l| l.kind == DESTROY_FAILED && l.key == key)
            .find_map(|l| serde_json::from_value(l.data.clone()?).ok())
    }

    /// The failure recorded for run `run_id` on `provider`: its last destroy failed.
    pub async fn of_run(
        leases: &dyn LeaseStore,
        provider: &dyn Provider,
        run_id: Uuid,
    ) -> Result<Option<DestroyFailure>, engine::store::StoreError> {
        let held = leases
            .leases(Some(DESTROY_FAILED), Some(&run_id.to_string()))
            .await?;
        Ok(DestroyFailure::among(&held, provider, run_id))
    }

    /// When the leak guard, sweeping every `interval`, tries again: one interval after the
    /// first failure, doubling with each, at most ten intervals apart.
    pub fn retry_at(&self, interval: Duration) -> Millis {
        let interval = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        let doublings = self.attempts.saturating_sub(1).min(16);
        let wait = interval
            .saturating_mul(1 << doublings)
            .min(interval.saturating_mul(10));
        self.at.saturating_add(wait)
    }
}

fn failure_key(provider: &dyn Provider, run_id: Uuid) -> String {
    format!("{}/{run_id}", provider.name())
}

/// The failure stays until a destroy succeeds.
async fn record_destroy_failure(
    leases: &dyn LeaseStore,
    provider: &dyn Provider,
    run_id: Uuid,
    error: &str,
    now: Millis,
) -> Result<(), engine::store::StoreError> {
    let earlier = DestroyFailure::of_run(leases, provider, run_id).await?;
    let attempts = earlier.map_or(1, |f| f.attempts + 1);
    let failure = DestroyFailure {
        error: error.to_string(),
        attempts,
        at: now,
    };
    tracing::warn!(run = %run_id, provider = provider.name(), attempts, error, "destroy failed; the leases stay and the leak guard tries again");
    let data = serde_json::to_value(&failure).expect("a failure serializes");
    let lease = Lease {
        kind: DESTROY_FAILED.into(),
        key: failure_key(provider, run_id),
        holder: run_id.to_string(),
        amount: 0,
        data: Some(data.clone()),
    };
    // Taken the first time (the run holds it already after that), then updated.
    let key = lease.key.clone();
    leases.acquire_lease(&lease, None, now).await?;
    leases.update_lease_data(DESTROY_FAILED, &key, &data).await
}

/// An enrollment token of a machine stops working after this (its run's teardown revokes it
/// sooner).
const ENROLLMENT_TTL_MS: i64 = 48 * 3600 * 1000;

/// The token a machine's agent enrolls with: for test run `run_id` only, with the labels
/// tasks route by (`machine = <role>`) and its address; `provider` names it.
pub async fn enrollment_token(
    tokens: &dyn TokenStore,
    provider: &str,
    run_id: Uuid,
    machine: &MachinePlan,
) -> Result<String, engine::store::StoreError> {
    let now = engine::clock::Clock::now(&engine::clock::SystemClock);
    let (token, _) = crate::tokens::create(
        tokens,
        crate::tokens::NewToken {
            kind: crate::tokens::KIND_ENROLLMENT,
            name: format!("{provider} machine {}", machine.name),
            scopes: Vec::new(),
            labels: [
                ("machine".to_string(), serde_json::json!(machine.role)),
                ("address".to_string(), serde_json::json!(machine.address)),
            ]
            .into(),
            run_id: Some(run_id),
            worker_id: None,
            expires_at: Some(now + ENROLLMENT_TTL_MS),
        },
        None,
        now,
    )
    .await?;
    Ok(token)
}

/// A new file only its owner reads and writes (tokens, variables with tokens in them).
pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?
        .write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::DestroyFailure;
    use std::time::Duration;

    #[test]
    fn a_failed_destroy_is_retried_after_a_doubling_back_off_of_at_most_ten_sweeps() {
        let after = |attempts| {
            let f = DestroyFailure {
                error: "x".into(),
                attempts,
                at: 1_000,
            };
            f.retry_at(Duration::from_secs(60)) - 1_000
        };
        let minute = 60_000;
        assert_eq!(
            [after(1), after(2), after(3), after(4)],
            [minute, 2 * minute, 4 * minute, 8 * minute]
        );
        assert_eq!(after(5), 10 * minute);
        assert_eq!(after(u32::MAX), 10 * minute);
    }
}
