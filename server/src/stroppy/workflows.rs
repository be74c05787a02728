//! The three workflows of a suite, with the step names of the original system:
//! `stroppy-test-suite` → one `stroppy-test-run` per test (RunMany) → `cloud-provision`
//! for each test's machines. Server-side steps are in-process handlers here; the steps that
//! touch a machine (`postgres.start`, `stroppy.install`, `load.run`) are agent actions,
//! routed by the label `machine` to the test's own agents (enrolled for its run only).

use engine::clock::{Clock, SystemClock};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use engine::definition::{Condition, DesiredLabel, TaskDef, WorkflowDef};
use engine::store::{Lease, LeaseLimit, LeaseStore, ReadStore, TokenStore};
use engine::{Child, Context, HandlerResult, TaskError, Worker};
use protocol::actions::{
    self as agent, LoadInput, LoadResult, PgbenchInput, PostgresStartInput, StroppyInstallInput,
    StroppyRunInput,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::infra::{self, MACHINE, Machine, MachinePlan, Provider, network};
use crate::stroppy::results::{self, TestOutcome};
use crate::stroppy::spec::{Suite, Target, TestSpec, Workload};

pub const SUITE: &str = "stroppy-test-suite";
pub const TEST_RUN: &str = "stroppy-test-run";
pub const PROVISION: &str = "cloud-provision";
/// Is `name` one of these workflows (their names are the server's)?
pub fn is_built_in(name: &str) -> bool {
    [SUITE, TEST_RUN, PROVISION].contains(&name)
}

/// Registered at every start; versions are immutable, so any change to these definitions
/// must bump this (runs of the old version carry on with the old definition).
pub const VERSION: &str = "1";

/// The port PostgreSQL listens on (each machine has its own address).
const DB_PORT: u16 = 5432;
/// Agents must connect this soon after their machines are created.
const AGENT_WAIT: Duration = Duration::from_secs(90);

/// What the in-process steps reach: reads, leases and tokens (never the run mutations:
/// those are the engine's).
pub struct Domain {
    pub reads: Arc<dyn ReadStore>,
    pub leases: Arc<dyn LeaseStore>,
    pub tokens: Arc<dyn TokenStore>,
    pub provider: Arc<dyn Provider>,
    /// Quota over all concurrent suites: machines, and the cores they add up to.
    pub quota: LeaseLimit,
}

/// Input of a `stroppy-test-run`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestRunInput {
    pub suite: String,
    pub target: Target,
    pub test: TestSpec,
}

/// Input of a `cloud-provision`: the machines of one test run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProvisionInput {
    /// The test run that holds the machines (their agents are enrolled for it).
    pub run_id: Uuid,
    pub machines: Vec<MachinePlan>,
}

fn step(name: &str, action: &str) -> TaskDef {
    TaskDef::new(name, action)
}

fn on_machine(task: TaskDef, role: &str) -> TaskDef {
    let mut task = task;
    task.desired_labels.insert(
        "machine".into(),
        DesiredLabel {
            value: json!(role),
            required: true,
            comparator: Default::default(),
            weight: 1,
        },
    );
    task
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

pub fn definitions() -> Vec<WorkflowDef> {
    let suite = WorkflowDef::new(SUITE)
        .version(VERSION)
        .task(step("validate", "stroppy.suite.validate"))
        .task(
            step("run-tests", "stroppy.suite.run-tests")
                .parents(["validate"])
                .execution_timeout(minutes(48 * 60)),
        )
        .task(step("aggregate", "stroppy.suite.aggregate").parents(["run-tests"]));

    let install_skip = vec![Condition::Parent {
        parent: "build-placement".into(),
        expression: "output.driver != 'stroppy'".into(),
    }];
    let test_run = WorkflowDef::new(TEST_RUN)
        .version(VERSION)
        .task(step("validate-input", "stroppy.test.validate-input"))
        .task(step("acquire-network", "stroppy.test.acquire-network").parents(["validate-input"]))
        .task(
            step(
                "plan-placement-intent",
                "stroppy.test.plan-placement-intent",
            )
            .parents(["acquire-network"]),
        )
        .task(
            step("build-placement", "stroppy.test.build-placement")
                .parents(["plan-placement-intent"]),
        )
        .task(
            step("deploy-plan", "stroppy.test.deploy-plan")
                .parents(["build-placement"])
                .execution_timeout(minutes(60)),
        )
        .task(
            step("wait-workers", "stroppy.test.wait-workers")
                .parents(["deploy-plan"])
                .execution_timeout(minutes(5)),
        )
        .task(
            on_machine(step("run-database-containers", agent::POSTGRES_START), "db")
                .parents(["wait-workers"])
                .input_from("build-placement.database")
                .execution_timeout(minutes(15)),
        )
        .task(
            step(
                "run-stroppy-containers",
                "stroppy.test.run-stroppy-containers",
            )
            .parents(["run-database-containers"]),
        )
        .task(TaskDef {
            skip_if: vec![install_skip],
            ..on_machine(step("install-stroppy", agent::STROPPY_INSTALL), "loader")
                .parents(["run-stroppy-containers", "build-placement"])
                .input_from("build-placement.stroppy_install")
                .execution_timeout(minutes(15))
        })
        .task(TaskDef {
            run_if_parent_skipped: true,
            ..on_machine(step("run-stroppy-test", agent::LOAD_RUN), "loader")
                .parents(["install-stroppy"])
                .input_from("run-stroppy-containers.load")
                .execution_timeout(minutes(25 * 60))
        })
        .task(
            step("destroy-plan", "stroppy.test.destroy-plan")
                .parents(["run-stroppy-test"])
                .execution_timeout(minutes(30)),
        )
        .on_failure(
            step("destroy-plan-on-failure", "stroppy.test.destroy-plan")
                .execution_timeout(minutes(30)),
        );

    let provision = WorkflowDef::new(PROVISION)
        .version(VERSION)
        .task(step("logical-provisioning", "stroppy.provision.logical"))
        .task(
            step("reserve-quotas", "stroppy.provision.reserve-quotas")
                .parents(["logical-provisioning"])
                .execution_timeout(minutes(24 * 60)),
        )
        .task(
            step("create-deployments", "stroppy.provision.create")
                .parents(["reserve-quotas"])
                .execution_timeout(minutes(30)),
        )
        .task(
            step("wait-machines", "stroppy.provision.wait-machines")
                .parents(["create-deployments"])
                .execution_timeout(minutes(5)),
        )
        .on_failure(
            step("destroy-created", "stroppy.provision.destroy").execution_timeout(minutes(30)),
        );
    vec![provision, test_run, suite]
}

fn fatal(e: impl std::fmt::Display) -> TaskError {
    TaskError::fatal(e.to_string())
}

fn retryable(e: impl std::fmt::Display) -> TaskError {
    TaskError::retryable(e.to_string())
}

/// A handler that also gets the domain.
fn with<F, Fut>(domain: &Arc<Domain>, f: F) -> impl Fn(Context) -> Fut + Send + Sync + 'static
where
    F: Fn(Context, Arc<Domain>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    let domain = domain.clone();
    move |ctx| f(ctx, domain.clone())
}

/// The in-process worker that runs every server-side step.
pub fn worker(domain: Arc<Domain>) -> Worker {
    let d = &domain;
    Worker::new("stroppy")
        .slots(256)
        .handle("stroppy.suite.validate", |ctx| async move {
            suite_validate(&ctx)
        })
        .handle("stroppy.suite.run-tests", |ctx| async move {
            run_tests(&ctx).await
        })
        .handle(
            "stroppy.suite.aggregate",
            |ctx| async move { aggregate(&ctx) },
        )
        .handle("stroppy.test.validate-input", |ctx| async move {
            let input: TestRunInput = ctx.input_as()?;
            Ok(json!({ "test": input.test, "target": input.target }))
        })
        .handle(
            "stroppy.test.acquire-network",
            with(d, |ctx, d| async move {
                let holder = ctx.run_id().to_string();
                let cidr = network::acquire(d.leases.as_ref(), &holder, SystemClock.now())
                    .await
                    .map_err(retryable)?;
                ctx.log(format!("network {cidr}"));
                Ok(json!({ "cidr": cidr }))
            }),
        )
        .handle("stroppy.test.plan-placement-intent", |ctx| async move {
            plan_intent(&ctx)
        })
        .handle("stroppy.test.build-placement", |ctx| async move {
            build_placement(&ctx)
        })
        .handle("stroppy.test.deploy-plan", |ctx| async move {
            deploy_plan(&ctx).await
        })
        .handle(
            "stroppy.test.wait-workers",
            with(d, |ctx, d| async move {
                let plan = ctx.parent_as::<Placement>("build-placement")?.machines;
                Ok(json!({ "agents": wait_for_agents(&ctx, &d, ctx.run_id(), &plan).await? }))
            }),
        )
        .handle("stroppy.test.run-stroppy-containers", |ctx| async move {
            prepare_load(&ctx)
        })
        .handle(
            "stroppy.test.destroy-plan",
            with(
                d,
                |ctx, d| async move { destroy(&ctx, &d, ctx.run_id()).await },
            ),
        )
        .handle(
            "stroppy.provision.logical",
            with(d, |ctx, d| async move {
                let input = provision_input(&ctx, &d).await?;
                Ok(json!({ "machines": input.machines }))
            }),
        )
        .handle(
            "stroppy.provision.reserve-quotas",
            with(d, |ctx, d| async move { reserve_quotas(&ctx, &d).await }),
        )
        .handle(
            "stroppy.provision.create",
            with(d, |ctx, d| async move {
                let input = provision_input(&ctx, &d).await?;
                let machines: Vec<Machine> = d
                    .provider
                    .create(input.run_id, &input.machines)
                    .await
                    .map_err(retryable)?;
                for m in &machines {
                    ctx.log(format!(
                        "{} machine {} at {}",
                        d.provider.name(),
                        m.name,
                        m.address
                    ));
                }
                Ok(json!({ "machines": machines }))
            }),
        )
        .handle(
            "stroppy.provision.wait-machines",
            with(d, |ctx, d| async move {
                let input = provision_input(&ctx, &d).await?;
                let agents = wait_for_agents(&ctx, &d, input.run_id, &input.machines).await?;
                Ok(json!({ "agents": agents }))
            }),
        )
        .handle(
            "stroppy.provision.destroy",
            with(d, |ctx, d| async move {
                let input = provision_input(&ctx, &d).await?;
                destroy(&ctx, &d, input.run_id).await
            }),
        )
}

/// A `cloud-provision`'s input, checked: it acts only for the test run that spawned it
/// (whatever the input says), on machines with valid names.
async fn provision_input(ctx: &Context, d: &Domain) -> Result<ProvisionInput, TaskError> {
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

/// Destroy what test run `run_id` holds (idempotent: the on-failure step may run after a
/// partial destroy, or after the provision's own clean-up).
async fn destroy(ctx: &Context, d: &Domain, run_id: Uuid) -> HandlerResult {
    let destroyed = infra::destroy_all(
        d.leases.as_ref(),
        d.tokens.as_ref(),
        d.provider.as_ref(),
        run_id,
        SystemClock.now(),
    )
    .await
    .map_err(retryable)?;
    if destroyed.is_empty() {
        ctx.log("nothing left to destroy");
    } else {
        ctx.log(format!("destroyed {}", destroyed.join(", ")));
    }
    Ok(json!({ "destroyed": destroyed }))
}

/// The loader's side: the database is up; hand the load its input.
fn prepare_load(ctx: &Context) -> HandlerResult {
    let placement: Placement = ctx.parent_as("build-placement")?;
    let db = ctx
        .parent_output("run-database-containers")
        .cloned()
        .unwrap_or(Value::Null);
    ctx.log(format!(
        "database {} ready at {}:{}; load from {}",
        db["server_version"].as_str().unwrap_or("?"),
        db["host"].as_str().unwrap_or("?"),
        db["port"],
        placement
            .machines
            .iter()
            .find(|m| m.role == "loader")
            .map_or("?", |m| m.address.as_str())
    ));
    Ok(json!({ "load": placement.load, "server_version": db["server_version"] }))
}

/// Input of a `stroppy-test-suite`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuiteInput {
    /// The document as submitted (for the API and the dashboard).
    pub spec: Value,
    pub suite: Suite,
}

fn suite_validate(ctx: &Context) -> Result<Value, TaskError> {
    let input: SuiteInput = ctx.input_as()?;
    let names: Vec<&str> = input.suite.tests.iter().map(|t| t.name.as_str()).collect();
    ctx.log(format!(
        "suite {}: {} tests ({})",
        input.suite.name,
        names.len(),
        names.join(", ")
    ));
    Ok(json!({ "tests": names, "target": input.suite.target, "baseline": input.suite.baseline }))
}

/// One `stroppy-test-run` per test. Local tests share this host, so they run one after
/// the other (side by side they would skew each other's numbers); cloud tests run at once.
async fn run_tests(ctx: &Context) -> Result<Value, TaskError> {
    let input: SuiteInput = ctx.input_as()?;
    let child = |t: &TestSpec| {
        Child::new(
            t.name.clone(),
            json!(TestRunInput {
                suite: input.suite.name.clone(),
                target: input.suite.target,
                test: t.clone()
            }),
        )
    };
    let mut results = Vec::new();
    if input.suite.target == Target::Local {
        for test in &input.suite.tests {
            if ctx.is_cancelled() {
                return Err(TaskError::retryable("cancelled"));
            }
            ctx.log(format!("test {}: starting", test.name));
            let done = ctx
                .run_children(TEST_RUN, VERSION, vec![child(test)])
                .await?;
            results.extend(done);
        }
    } else {
        let children = input.suite.tests.iter().map(child).collect();
        results = ctx.run_children(TEST_RUN, VERSION, children).await?;
    }
    let outcomes: Vec<TestOutcome> = results
        .into_iter()
        .map(|r| {
            let result = r
                .output
                .as_ref()
                .and_then(|o| o.get("run-stroppy-test"))
                .and_then(|v| serde_json::from_value::<LoadResult>(v.clone()).ok());
            ctx.log(format!("test {}: {}", r.key, r.status));
            TestOutcome {
                name: r.key,
                run_id: r.run_id,
                status: r.status.to_string(),
                error: r.error,
                result,
            }
        })
        .collect();
    Ok(json!({ "tests": outcomes }))
}

fn aggregate(ctx: &Context) -> Result<Value, TaskError> {
    let input: SuiteInput = ctx.input_as()?;
    let outcomes: Vec<TestOutcome> = serde_json::from_value(
        ctx.parent_output("run-tests")
            .and_then(|o| o.get("tests"))
            .cloned()
            .unwrap_or(Value::Null),
    )
    .map_err(fatal)?;
    Ok(json!(results::aggregate(&input.suite.baseline, &outcomes)))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Intent {
    role: String,
    cores: u32,
    memory_gb: u32,
}

fn plan_intent(ctx: &Context) -> Result<Value, TaskError> {
    let input: TestRunInput = ctx.input_as()?;
    let hw = |h: Option<&crate::stroppy::spec::Hardware>| {
        (h.map_or(1, |h| h.cores), h.map_or(1, |h| h.memory_gb))
    };
    let (db_cores, db_mem) = hw(input.test.database.hardware.as_ref());
    let (load_cores, load_mem) = hw(input.test.loader.hardware.as_ref());
    let intent = vec![
        Intent {
            role: "db".into(),
            cores: db_cores,
            memory_gb: db_mem,
        },
        Intent {
            role: "loader".into(),
            cores: load_cores,
            memory_gb: load_mem,
        },
    ];
    Ok(json!({ "machines": intent }))
}

/// Concrete machines and the inputs of the agent steps.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Placement {
    machines: Vec<MachinePlan>,
    driver: String,
    database: PostgresStartInput,
    load: LoadInput,
    stroppy_install: Option<StroppyInstallInput>,
}

fn build_placement(ctx: &Context) -> Result<Value, TaskError> {
    let input: TestRunInput = ctx.input_as()?;
    let cidr = ctx
        .parent_output("acquire-network")
        .and_then(|o| o["cidr"].as_str())
        .ok_or_else(|| fatal("no network"))?
        .to_string();
    let intent: Vec<Intent> = serde_json::from_value(
        ctx.parent_output("plan-placement-intent")
            .map_or(Value::Null, |o| o["machines"].clone()),
    )
    .map_err(fatal)?;
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
    let db_host = machines[0].address.clone();
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
        Workload::Pgbench { scale, clients, threads, builtin, .. } => (
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
        Workload::Stroppy { version, sha256, workload, scale, vus, env, .. } => (
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
    Ok(json!(Placement {
        machines,
        driver: driver.into(),
        database,
        load,
        stroppy_install
    }))
}

/// Provision through a `cloud-provision` child run, and hand back its machines.
async fn deploy_plan(ctx: &Context) -> Result<Value, TaskError> {
    let placement: Placement = ctx.parent_as("build-placement")?;
    let input = ProvisionInput {
        run_id: ctx.run_id(),
        machines: placement.machines,
    };
    let done = ctx
        .run_children(
            PROVISION,
            VERSION,
            vec![Child::new("provision", json!(input))],
        )
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
    let machines = child
        .output
        .as_ref()
        .map_or(Value::Null, |o| o["create-deployments"]["machines"].clone());
    Ok(json!({ "provision_run": child.run_id, "machines": machines }))
}

/// Take a machine lease per planned machine, counted against the quota; wait while the
/// quota is full (another suite holds it), without failing.
async fn reserve_quotas(ctx: &Context, d: &Domain) -> Result<Value, TaskError> {
    let input = provision_input(ctx, d).await?;
    let holder = input.run_id.to_string();
    let mut waiting_said = false;
    for m in &input.machines {
        let lease = Lease {
            kind: MACHINE.into(),
            key: m.name.clone(),
            holder: holder.clone(),
            amount: i64::from(m.cores),
            data: None,
        };
        loop {
            if d.leases
                .acquire_lease(&lease, Some(d.quota), SystemClock.now())
                .await
                .map_err(retryable)?
            {
                break;
            }
            if !waiting_said {
                ctx.log(format!(
                    "waiting for quota: at most {} machines and {} cores at once",
                    d.quota.count, d.quota.amount
                ));
                waiting_said = true;
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                () = ctx.cancelled() => return Err(retryable("cancelled while waiting for quota")),
            }
        }
    }
    Ok(json!({ "reserved": input.machines.iter().map(|m| &m.name).collect::<Vec<_>>() }))
}

/// Wait until every planned machine's agent is registered for test run `run_id` and live
/// (an agent of another run, or of none, going by the same name does not count).
async fn wait_for_agents(
    ctx: &Context,
    d: &Domain,
    run_id: Uuid,
    plan: &[MachinePlan],
) -> Result<Vec<Value>, TaskError> {
    let deadline = tokio::time::Instant::now() + AGENT_WAIT;
    loop {
        let workers = d.reads.workers().await.map_err(retryable)?;
        let found: BTreeMap<&str, &engine::model::WorkerRecord> = workers
            .iter()
            .filter(|w| {
                w.status == engine::model::WorkerStatus::Active
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
                    found.get(m.name.as_str()).map(
                        |w| json!({ "machine": m.name, "role": m.role, "agent_id": w.info.id }),
                    )
                })
                .collect());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(fatal(format!(
                "no agent connected within {AGENT_WAIT:?} for: {}",
                missing.join(", ")
            )));
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
            () = ctx.cancelled() => return Err(retryable("cancelled while waiting for agents")),
        }
    }
}
