//! `stroppy-test-run`: one benchmark test — its network, its machines and their agents, the
//! database, the load, and always the teardown.

use engine::clock::{Clock, SystemClock};
use engine::{Child, Context, HandlerResult};
use protocol::actions::{
    self as agent, LoadInput, PgbenchInput, PostgresInstance, PostgresStartInput,
    StroppyInstallInput, StroppyRunInput,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::provision::{AgentsReady, Created, ProvisionInput, wait_for_agents};
use super::{Domain, PROVISION, VERSION, fatal, output, retryable};
use crate::infra::{Machine, MachinePlan, network};
use crate::stroppy::spec::{Hardware, Target, TestSpec, Workload};
use crate::stroppy::steps::{TestStep, provision as provision_steps};

/// The port PostgreSQL listens on (each machine has its own address).
const DB_PORT: u16 = 5432;

/// Input of a `stroppy-test-run`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestRunInput {
    pub suite: String,
    pub target: Target,
    pub test: TestSpec,
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
    let holder = ctx.run_id().to_string();
    let cidr = network::acquire(d.leases.as_ref(), &holder, SystemClock.now())
        .await
        .map_err(retryable)?;
    ctx.log(format!("network {cidr}"));
    output(&NetworkAcquired { cidr })
}

pub(super) fn plan_intent(ctx: &Context) -> HandlerResult {
    let input: TestRunInput = ctx.input_as()?;
    let intent = |role: &str, h: Option<&Hardware>| Intent {
        role: role.into(),
        cores: h.map_or(1, |h| h.cores),
        memory_gb: h.map_or(1, |h| h.memory_gb),
    };
    output(&Intents {
        machines: vec![
            intent("db", input.test.database.hardware.as_ref()),
            intent("loader", input.test.loader.hardware.as_ref()),
        ],
    })
}

pub(super) fn build_placement(ctx: &Context) -> HandlerResult {
    let input: TestRunInput = ctx.input_as()?;
    let cidr = ctx
        .parent_as::<NetworkAcquired>(TestStep::AcquireNetwork.as_str())?
        .cidr;
    let intent = ctx
        .parent_as::<Intents>(TestStep::PlanPlacementIntent.as_str())?
        .machines;
    let short = &ctx.run_id().simple().to_string()[..12];
    // `<test>-<role>-<run>`, within a host name's 63 characters.
    let test_part: String = input.test.name.chars().take(40).collect();
    let test_part = test_part.trim_end_matches('-');
    let machines: Vec<MachinePlan> = intent
        .iter()
        .enumerate()
        .map(|(i, m)| MachinePlan {
            role: m.role.clone(),
            name: format!("{test_part}-{}-{short}", m.role),
            address: network::host(&cidr, 10 + 10 * i as u8),
            cores: m.cores,
            memory_gb: m.memory_gb,
        })
        .collect();
    let db_host = machines
        .first()
        .ok_or_else(|| fatal("no machines were planned"))?
        .address
        .clone();
    // Connections to the database need this run's own password (scram-sha-256); the API
    // shows it masked, agents get it in their assignments only.
    let password = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    let database = PostgresStartInput {
        name: "bench".into(),
        version: input.test.database.version,
        runtime: if input.target == Target::Local {
            agent::PostgresRuntime::Native
        } else {
            agent::PostgresRuntime::Docker
        },
        listen_address: db_host.clone(),
        port: DB_PORT,
        settings: input.test.database.settings.clone(),
        image: None,
        password: password.clone(),
    };
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
                host: db_host,
                port: DB_PORT,
                user: "postgres".into(),
                database: "postgres".into(),
                password: Some(password),
                scale: *scale,
                init: true,
                clients: *clients,
                threads: *threads,
                duration_s,
                builtin: *builtin,
                protocol: None,
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
                driver_url: format!("postgres://postgres@{db_host}:{DB_PORT}/postgres"),
                password: Some(password),
                duration_s,
                vus: *vus,
                scale: *scale,
                env: env.clone(),
                args: Vec::new(),
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
        database,
        load,
        stroppy_install,
    })
}

/// Provision through a `cloud-provision` child run, and hand back its machines.
pub(super) async fn deploy_plan(ctx: &Context) -> HandlerResult {
    let placement: Placement = ctx.parent_as(TestStep::BuildPlacement.as_str())?;
    let input = ProvisionInput {
        run_id: ctx.run_id(),
        machines: placement.machines,
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
    let agents = wait_for_agents(ctx, d, ctx.run_id(), &plan).await?;
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
            .find(|m| m.role == "loader")
            .map_or("?", |m| m.address.as_str())
    ));
    output(&LoadPrepared {
        load: placement.load,
        server_version: db.server_version,
    })
}
