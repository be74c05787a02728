//! `cloud-provision`: the machines of one test run — plan, reserve against the quota,
//! create through the provider, wait for their agents; destroy what was made on failure.
//! It acts only for the test run that spawned it.

use std::collections::BTreeMap;
use std::time::Duration;

use engine::clock::{Clock, SystemClock};
use engine::model::{WorkerRecord, WorkerStatus};
use engine::store::Lease;
use engine::{Context, HandlerResult, TaskError};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Domain, fatal, output, retryable};
use crate::infra::{self, Deployment, Machine, MachinePlan, Progress};
use crate::stroppy::spec::Target;

/// Input of a `cloud-provision`: the machines of one test run, on one target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProvisionInput {
    /// The test run that holds the machines (their agents are enrolled for it).
    pub run_id: Uuid,
    #[serde(default = "local")]
    pub target: Target,
    /// The run's network block.
    #[serde(default)]
    pub cidr: String,
    pub machines: Vec<MachinePlan>,
    /// When the leak guard may destroy the machines whatever the run does (epoch ms).
    #[serde(default)]
    pub expires_at: i64,
}

fn local() -> Target {
    Target::Local
}

impl ProvisionInput {
    pub fn deployment(&self) -> Deployment {
        Deployment {
            run_id: self.run_id,
            cidr: self.cidr.clone(),
            machines: self.machines.clone(),
            expires_at: self.expires_at,
        }
    }
}

/// `logical-provisioning`: the machines, with their names and addresses.
#[derive(Debug, Serialize, Deserialize)]
struct Planned {
    machines: Vec<MachinePlan>,
}

/// `reserve-quotas`: the machines' leases, taken.
#[derive(Debug, Serialize, Deserialize)]
struct Reserved {
    reserved: Vec<String>,
}

/// `create-deployments`: what the provider made.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Created {
    pub machines: Vec<Machine>,
}

/// One machine's agent, connected.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct AgentReady {
    machine: String,
    role: String,
    agent_id: Uuid,
}

/// `wait-machines` (and the test run's `wait-workers`).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct AgentsReady {
    pub agents: Vec<AgentReady>,
}

/// `destroy-created` (and the test run's teardowns).
#[derive(Debug, Serialize, Deserialize)]
struct Destroyed {
    destroyed: Vec<String>,
}

/// The input, checked: a provision acts only for the test run that spawned it (whatever
/// the input says), on machines with valid names.
pub(super) async fn checked_input(ctx: &Context, d: &Domain) -> Result<ProvisionInput, TaskError> {
    let input: ProvisionInput = ctx.input_as()?;
    let own = d.reads.run(ctx.run_id()).await.map_err(retryable)?;
    let parent = own
        .as_ref()
        .and_then(|r| r.parent.as_ref())
        .map(|p| p.run_id);
    if parent != Some(input.run_id) {
        return Err(fatal(format!(
            "this provision acts for the run that spawned it ({}), not for run {}",
            parent.map_or_else(|| "none".to_string(), |p| p.to_string()),
            input.run_id
        )));
    }
    if let Some(problem) = input
        .machines
        .iter()
        .find_map(|m| infra::machine_name_problem(&m.name))
    {
        return Err(fatal(problem));
    }
    Ok(input)
}

pub(super) async fn logical(ctx: &Context, d: &Domain) -> HandlerResult {
    let input = checked_input(ctx, d).await?;
    output(&Planned {
        machines: input.machines,
    })
}

/// Take the provider's quota shares of every planned machine (its leases); wait while a
/// quota is full (another suite holds it), without failing.
pub(super) async fn reserve_quotas(ctx: &Context, d: &Domain) -> HandlerResult {
    let input = checked_input(ctx, d).await?;
    let provider = d.provider(input.target)?;
    let holder = input.run_id.to_string();
    let mut waiting_said = false;
    for m in &input.machines {
        for quota in provider.quotas() {
            let lease = Lease {
                kind: quota.kind.into(),
                key: m.name.clone(),
                holder: holder.clone(),
                amount: quota.amount(m),
                data: None,
            };
            loop {
                if d.leases
                    .acquire_lease(&lease, Some(quota.limit), SystemClock.now())
                    .await
                    .map_err(retryable)?
                {
                    break;
                }
                if !waiting_said {
                    ctx.log(format!(
                        "waiting for quota {}: at most {} machines, adding up to {} ({:?}), at once",
                        quota.kind, quota.limit.count, quota.limit.amount, quota.counts
                    ));
                    waiting_said = true;
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = ctx.cancelled() => return Err(retryable("cancelled while waiting for quota")),
                }
            }
        }
    }
    output(&Reserved {
        reserved: input.machines.into_iter().map(|m| m.name).collect(),
    })
}

pub(super) async fn create(ctx: &Context, d: &Domain) -> HandlerResult {
    let input = checked_input(ctx, d).await?;
    let provider = d.provider(input.target)?;
    let machines = provider
        .create(&input.deployment(), &progress(ctx))
        .await
        .map_err(retryable)?;
    for m in &machines {
        ctx.log(format!(
            "{} machine {} at {}",
            provider.name(),
            m.name,
            m.address
        ));
    }
    output(&Created { machines })
}

pub(super) async fn wait_machines(ctx: &Context, d: &Domain) -> HandlerResult {
    let input = checked_input(ctx, d).await?;
    let wait = d.provider(input.target)?.agent_wait();
    let agents = wait_for_agents(ctx, d, input.run_id, &input.machines, wait).await?;
    output(&AgentsReady { agents })
}

/// Destroy what test run `run_id` holds (idempotent: the on-failure step may run after a
/// partial destroy, or after the provision's own clean-up).
pub(super) async fn destroy(
    ctx: &Context,
    d: &Domain,
    target: Target,
    run_id: Uuid,
) -> HandlerResult {
    let destroyed = infra::destroy_all(
        d.leases.as_ref(),
        d.tokens.as_ref(),
        d.provider(target)?.as_ref(),
        run_id,
        &progress(ctx),
        SystemClock.now(),
    )
    .await
    .map_err(retryable)?;
    if destroyed.is_empty() {
        ctx.log("nothing left to destroy");
    } else {
        ctx.log(format!("destroyed {}", destroyed.join(", ")));
    }
    output(&Destroyed { destroyed })
}

/// The step's log and cancellation, for a provider.
fn progress(ctx: &Context) -> Progress {
    let log = ctx.clone();
    Progress {
        log: std::sync::Arc::new(move |line| log.log(line)),
        cancel: ctx.cancellation_token(),
        traceparent: ctx.traceparent().map(str::to_string),
    }
}

/// Wait until every planned machine's agent is registered for test run `run_id` and live
/// (an agent of another run, or of none, going by the same name does not count).
pub(super) async fn wait_for_agents(
    ctx: &Context,
    d: &Domain,
    run_id: Uuid,
    plan: &[MachinePlan],
    wait: Duration,
) -> Result<Vec<AgentReady>, TaskError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let workers = d.reads.workers().await.map_err(retryable)?;
        let found: BTreeMap<&str, &WorkerRecord> = workers
            .iter()
            .filter(|w| {
                w.status == WorkerStatus::Active
                    && w.info.is_agent()
                    && w.info.run_scope == Some(run_id)
            })
            .map(|w| (w.info.name.as_str(), w))
            .collect();
        let missing: Vec<&str> = plan
            .iter()
            .map(|m| m.name.as_str())
            .filter(|n| !found.contains_key(n))
            .collect();
        if missing.is_empty() {
            return Ok(plan
                .iter()
                .filter_map(|m| {
                    found.get(m.name.as_str()).map(|w| AgentReady {
                        machine: m.name.clone(),
                        role: m.role.clone(),
                        agent_id: w.info.id,
                    })
                })
                .collect());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(fatal(format!(
                "no agent connected within {wait:?} for: {}",
                missing.join(", ")
            )));
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
            () = ctx.cancelled() => return Err(retryable("cancelled while waiting for agents")),
        }
    }
}
