//! `stroppy-test-run`: one benchmark test — its network, its machines and their agents, the
//! database, the load, and always the teardown.

use engine::clock::{Clock, SystemClock};
use engine::model::{Millis, RunState};
use engine::{Child, Context, HandlerResult};
use std::collections::BTreeMap;

use protocol::actions::{
    Endpoint, EtcdStartInput, HaproxyStartInput, LoadInput, PgbenchInput, PgbouncerStartInput,
    PostgresFaultInput, PostgresInstance, PostgresStartInput, StroppyInstallInput, StroppyRunInput,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::provision::{AgentsReady, Created, ProvisionInput, wait_for_agents};
use super::servers::{DB_ROLE, LOADER_ROLE, POOLER_ROLE, ROUTER_ROLE, Servers, replica_role};
use super::{Domain, PROVISION, VERSION, fatal, output, retryable};
use crate::infra::{Machine, MachinePlan, network};
use crate::stroppy::spec::{ConnectTo, Hardware, Target, TestSpec, TopologyKind, Workload};
use crate::stroppy::steps::{TestStep, provision as provision_steps};

/// Input of a `stroppy-test-run`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestRunInput {
    pub suite: String,
    pub target: Target,
    pub test: TestSpec,
    /// The most the test's machines may live, in seconds (default: the load plus 3 hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_s: Option<u64>,
    /// Which of the test's measured runs this is (the first, if it measures several).
    #[serde(default = "first")]
    pub repetition: u32,
    /// How many measured runs it makes, back to back on its database.
    #[serde(default = "first")]
    pub runs: u32,
}

fn first() -> u32 {
    1
}

impl TestRunInput {
    fn ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(
            self.ttl_s
                .unwrap_or(self.test.load_s() * u64::from(self.runs.max(1)) + DEFAULT_TTL_MARGIN_S),
        )
    }
}

/// Machines live their load's duration and this much more, unless the suite says.
const DEFAULT_TTL_MARGIN_S: u64 = 3 * 3600;

/// When the machines of test run `run` must be gone, whatever the run is doing: its
/// creation plus its TTL. `None` for a run that is not a test run.
pub fn machines_expire_at(run: &RunState) -> Option<Millis> {
    if run.workflow != super::TEST_RUN {
        return None;
    }
    let input: TestRunInput = serde_json::from_value(run.input.clone()).ok()?;
    let ttl_ms = i64::try_from(input.ttl().as_millis()).unwrap_or(i64::MAX);
    Some(run.created_at.saturating_add(ttl_ms))
}

/// `validate-input`: the test as it will run.
#[derive(Debug, Serialize, Deserialize)]
struct Checked {
    test: TestSpec,
    target: Target,
}

/// `acquire-network`: the test's own address block.
#[derive(Debug, Serialize, Deserialize)]
struct NetworkAcquired {
    cidr: String,
}

/// A machine a test needs, before it has a name and an address.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Intent {
    role: String,
    cores: u32,
    memory_gb: u32,
    #[serde(default = "default_disk")]
    disk_gb: u32,
}

fn default_disk() -> u32 {
    crate::stroppy::spec::DEFAULT_DISK_GB
}

/// `plan-placement-intent`.
#[derive(Debug, Serialize, Deserialize)]
struct Intents {
    machines: Vec<Intent>,
}

/// `build-placement`: concrete machines and the inputs of the agent steps.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Placement {
    machines: Vec<MachinePlan>,
    driver: String,
    database: PostgresStartInput,
    // The skip conditions of the topology's steps read these: an empty map or a null is
    // a server the test does not have.
    /// The standbys' `postgres.start`, by machine role (`replica-1`...).
    #[serde(default)]
    replicas: BTreeMap<String, PostgresStartInput>,
    /// The load goes through it when there is one.
    #[serde(default)]
    pooler: Option<PgbouncerStartInput>,
    /// What spreads a load on the replicas over them, or routes to a Patroni leader.
    #[serde(default)]
    router: Option<HaproxyStartInput>,
    /// A Patroni cluster's store: its members' `postgres.start` run under Patroni.
    #[serde(default)]
    etcd: Option<EtcdStartInput>,
    /// The fault scheduled during the load, done by the database machine's agent.
    #[serde(default)]
    fault: Option<PostgresFaultInput>,
    load: LoadInput,
    stroppy_install: Option<StroppyInstallInput>,
}

/// `deploy-plan`: the machines its `cloud-provision` made.
#[derive(Debug, Serialize, Deserialize)]
struct Deployed {
    provision_run: Uuid,
    machines: Vec<Machine>,
}

/// `run-stroppy-containers`: the load's input, now that the database is up.
#[derive(Debug, Serialize, Deserialize)]
struct LoadPrepared {
    load: LoadInput,
    server_version: String,
}

pub(super) fn validate(ctx: &Context) -> HandlerResult {
    let input: TestRunInput = ctx.input_as()?;
    output(&Checked {
        test: input.test,
        target: input.target,
    })
}

pub(super) async fn acquire_network(ctx: &Context, d: &Domain) -> HandlerResult {
    let input: TestRunInput = ctx.input_as()?;
    let pool = d.provider(input.target)?.network();
    let holder = ctx.run_id().to_string();
    let cidr = network::acquire(d.leases.as_ref(), pool, &holder, SystemClock.now())
        .await
        .map_err(retryable)?;
    ctx.log(format!("network {cidr}"));
    output(&NetworkAcquired { cidr })
}

pub(super) fn plan_intent(ctx: &Context) -> HandlerResult {
    let input: TestRunInput = ctx.input_as()?;
    output(&Intents {
        machines: intents(&input.test),
    })
}

/// The machines a test needs: its database's, each replica's (the database's hardware),
/// its pooler's and its router's (the loader's hardware) and its loader's.
fn intents(test: &TestSpec) -> Vec<Intent> {
    let intent = |role: &str, h: Option<&Hardware>| Intent {
        role: role.into(),
        cores: h.map_or(1, |h| h.cores),
        memory_gb: h.map_or(1, |h| h.memory_gb),
        disk_gb: h.map_or(crate::stroppy::spec::DEFAULT_DISK_GB, |h| h.disk_gb),
    };
    let db = test.database.hardware.as_ref();
    let loader = test.loader.hardware.as_ref();
    let mut machines = vec![intent(DB_ROLE, db)];
    for i in 0..test.database.topology.replicas as usize {
        machines.push(intent(&replica_role(i), db));
    }
    if test.database.pooler.is_some() {
        machines.push(intent(POOLER_ROLE, loader));
    }
    if test.connect_to == ConnectTo::Replicas
        || test.database.topology.kind == TopologyKind::Patroni
    {
        machines.push(intent(ROUTER_ROLE, loader));
    }
    machines.push(intent(LOADER_ROLE, loader));
    machines
}

/// The machines as named and addressed for test run `run_id` in network block `cidr`:
/// `<test>-<role>-<run>` (within a host name's 63 characters), hosts .10, .20, ...
fn name_machines(
    test: &TestSpec,
    run_id: Uuid,
    cidr: &str,
    intents: &[Intent],
) -> Vec<MachinePlan> {
    let short = &run_id.simple().to_string()[..12];
    let test_part: String = test.name.chars().take(40).collect();
    let test_part = test_part.trim_end_matches('-');
    intents
        .iter()
        .enumerate()
        .map(|(i, m)| MachinePlan {
            role: m.role.clone(),
            name: format!("{test_part}-{}-{short}", m.role),
            address: network::host(cidr, 10 + 10 * i as u8),
            cores: m.cores,
            memory_gb: m.memory_gb,
            disk_gb: m.disk_gb,
        })
        .collect()
}

/// What a test run of `test` would deploy (a dry run): its machines as a run would name
/// them, in an example block of the provider's pool, and when they would expire.
pub fn planned_deployment(
    test: &TestSpec,
    pool_block: &str,
    ttl_s: Option<u64>,
    now: Millis,
) -> crate::infra::Deployment {
    let run_id = Uuid::new_v4();
    let input = TestRunInput {
        suite: String::new(),
        target: Target::Local,
        test: test.clone(),
        ttl_s,
        repetition: 1,
        runs: test.runs_per_test_run(),
    };
    let ttl_ms = i64::try_from(input.ttl().as_millis()).unwrap_or(i64::MAX);
    crate::infra::Deployment {
        run_id,
        cidr: pool_block.to_string(),
        machines: name_machines(test, run_id, pool_block, &intents(test)),
        expires_at: now.saturating_add(ttl_ms),
    }
}

pub(super) fn build_placement(ctx: &Context, d: &Domain) -> HandlerResult {
    let input: TestRunInput = ctx.input_as()?;
    let runtime = d.provider(input.target)?.database_runtime();
    let cidr = ctx
        .parent_as::<NetworkAcquired>(TestStep::AcquireNetwork.as_str())?
        .cidr;
    let intent = ctx
        .parent_as::<Intents>(TestStep::PlanPlacementIntent.as_str())?
        .machines;
    let machines = name_machines(&input.test, ctx.run_id(), &cidr, &intent);
    // Connections to the database need this run's own password (scram-sha-256); the API
    // shows it masked, agents get it in their assignments only.
    let password = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    let servers = Servers::plan(&input.test, &machines, ctx.run_id(), runtime, &password)?;
    let Endpoint {
        host: load_host,
        port: load_port,
    } = servers.load_at.clone();
    let primary_at = servers.primary_at();
    let duration_s = input.test.workload.duration_s().max(1);
    let driver = input.test.workload.driver().as_str();
    let (load, stroppy_install) = match &input.test.workload {
        Workload::Pgbench {
            scale,
            clients,
            threads,
            builtin,
            ..
        } => (
            LoadInput::Pgbench(PgbenchInput {
                host: load_host,
                port: load_port,
                user: "postgres".into(),
                database: "postgres".into(),
                password: Some(password),
                scale: *scale,
                init: true,
                clients: *clients,
                threads: *threads,
                duration_s,
                warmup_s: input.test.warmup.as_secs(),
                builtin: *builtin,
                protocol: None,
                stat_statements: input.test.database.stat_statements,
                repeat: input.runs.max(1),
                // Statistics come from the primary, and from each replica too.
                stats_host: servers.load_elsewhere().then(|| primary_at.host.clone()),
                stats_port: servers.load_elsewhere().then_some(primary_at.port),
                pooled: servers.pooler.is_some(),
                // Standbys take no writes: the data is made on the primary.
                primary: (input.test.connect_to == ConnectTo::Replicas).then(|| primary_at.clone()),
                also_sample: servers.replicas_at(),
                survive_faults: servers.fault.is_some(),
            }),
            None,
        ),
        Workload::Stroppy {
            version,
            sha256,
            workload,
            scale,
            vus,
            env,
            ..
        } => (
            LoadInput::Stroppy(StroppyRunInput {
                binary: None,
                version: Some(version.clone()),
                workload: workload.clone(),
                driver_url: format!("postgres://postgres@{load_host}:{load_port}/postgres"),
                password: Some(password),
                duration_s,
                warmup_s: input.test.warmup.as_secs(),
                vus: *vus,
                scale: *scale,
                env: env.clone(),
                args: Vec::new(),
                stat_statements: input.test.database.stat_statements,
                repeat: input.runs.max(1),
            }),
            Some(StroppyInstallInput {
                version: version.clone(),
                url: Some("https://github.com/stroppy-io/stroppy/releases/download/v{version}/stroppy_linux_amd64.tar.gz".into()),
                sha256: sha256.clone(),
                binary: None,
            }),
        ),
    };
    for m in &machines {
        ctx.log(format!(
            "{} {} at {} ({} cores, {} GB)",
            m.role, m.name, m.address, m.cores, m.memory_gb
        ));
    }
    output(&Placement {
        machines,
        driver: driver.into(),
        database: servers.primary,
        replicas: servers.replicas,
        pooler: servers.pooler,
        router: servers.router,
        etcd: servers.etcd,
        fault: servers.fault,
        load,
        stroppy_install,
    })
}

/// Provision through a `cloud-provision` child run, and hand back its machines.
pub(super) async fn deploy_plan(ctx: &Context, d: &Domain) -> HandlerResult {
    let test: TestRunInput = ctx.input_as()?;
    let run = d
        .reads
        .run(ctx.run_id())
        .await
        .map_err(retryable)?
        .ok_or_else(|| fatal("the test run is gone"))?;
    let placement: Placement = ctx.parent_as(TestStep::BuildPlacement.as_str())?;
    let cidr = ctx
        .parent_as::<NetworkAcquired>(TestStep::AcquireNetwork.as_str())?
        .cidr;
    let input = ProvisionInput {
        run_id: ctx.run_id(),
        target: test.target,
        cidr,
        machines: placement.machines,
        expires_at: machines_expire_at(&run).ok_or_else(|| fatal("not a test run"))?,
    };
    let input = serde_json::to_value(input).map_err(fatal)?;
    let done = ctx
        .run_children(PROVISION, VERSION, vec![Child::new("provision", input)])
        .await?;
    let Some(child) = done.first() else {
        return Err(fatal("the provision run is missing"));
    };
    if child.status != engine::model::RunStatus::Completed {
        return Err(fatal(format!(
            "provisioning {} ({}): {}",
            child.status,
            child.run_id,
            child.error.clone().unwrap_or_default()
        )));
    }
    let created: Created = child
        .output
        .as_ref()
        .and_then(|o| o.get(provision_steps::CREATE))
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(fatal)?
        .ok_or_else(|| fatal("the provision run made no machines"))?;
    output(&Deployed {
        provision_run: child.run_id,
        machines: created.machines,
    })
}

pub(super) async fn wait_workers(ctx: &Context, d: &Domain) -> HandlerResult {
    let plan = ctx
        .parent_as::<Placement>(TestStep::BuildPlacement.as_str())?
        .machines;
    let target = ctx.input_as::<TestRunInput>()?.target;
    // The agents were up when the provision ended: a short wait covers a reconnect.
    let wait = d.provider(target)?.agent_wait();
    let agents = wait_for_agents(ctx, d, ctx.run_id(), &plan, wait).await?;
    output(&AgentsReady { agents })
}

/// The loader's side: the database is up; hand the load its input.
pub(super) fn prepare_load(ctx: &Context) -> HandlerResult {
    let placement: Placement = ctx.parent_as(TestStep::BuildPlacement.as_str())?;
    let db: PostgresInstance = ctx.parent_as(TestStep::RunDatabaseContainers.as_str())?;
    ctx.log(format!(
        "database {} ready at {}:{}; load from {}",
        db.server_version,
        db.host,
        db.port,
        placement
            .machines
            .iter()
            .find(|m| m.role == LOADER_ROLE)
            .map_or("?", |m| m.address.as_str())
    ));
    output(&LoadPrepared {
        load: placement.load,
        server_version: db.server_version,
    })
}
