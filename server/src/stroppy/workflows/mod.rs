//! The three workflows of a suite, with the step names of the original system:
//! `stroppy-test-suite` (suite.rs) → one `stroppy-test-run` per test (test_run.rs, RunMany)
//! → `cloud-provision` for each test's machines (provision.rs). Server-side steps are
//! in-process handlers here; the steps that touch a machine (`postgres.start`,
//! `stroppy.install`, `load.run`) are agent actions, routed by the label `machine` to the
//! test's own agents (enrolled for its run only). Every step's output is a typed struct.

mod provision;
mod servers;
mod suite;
mod test_run;

use std::sync::Arc;
use std::time::Duration;

use engine::definition::{Condition, DesiredLabel, TaskDef, WorkflowDef};
use engine::store::{LeaseStore, ReadStore, TokenStore};
use engine::{Context, HandlerResult, TaskError, Worker};
use protocol::actions as agent;
use serde::Serialize;
use serde_json::json;

pub use self::suite::SuiteInput;
use self::test_run::TestRunInput;
pub use self::test_run::{machines_expire_at, planned_deployment};
use crate::infra::{Provider, Providers};
use crate::stroppy::spec::Target;
use crate::stroppy::steps::{self, TestStep};

pub const SUITE: &str = "stroppy-test-suite";
pub const TEST_RUN: &str = "stroppy-test-run";
pub const PROVISION: &str = "cloud-provision";

/// Is `name` one of these workflows (their names are the server's)?
pub fn is_built_in(name: &str) -> bool {
    [SUITE, TEST_RUN, PROVISION].contains(&name)
}

/// Registered at every start; versions are immutable, so any change to these definitions
/// must bump this (runs of the old version carry on with the old definition).
pub const VERSION: &str = "4";

/// What the in-process steps reach: reads, leases and tokens (never the run mutations:
/// those are the engine's).
#[derive(Clone)]
pub struct Domain {
    pub reads: Arc<dyn ReadStore>,
    pub leases: Arc<dyn LeaseStore>,
    pub tokens: Arc<dyn TokenStore>,
    /// The machines' makers, by target.
    pub providers: Providers,
}

impl Domain {
    fn provider(&self, target: Target) -> Result<&Arc<dyn Provider>, TaskError> {
        self.providers.get(target).map_err(fatal)
    }
}

fn step(name: &str, action: &str) -> TaskDef {
    TaskDef::new(name, action)
}

fn test_step(s: TestStep, action: &str) -> TaskDef {
    TaskDef::new(s.as_str(), action)
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

/// A destroy step: tried again and again (with backoff) before it gives up; what it could
/// not destroy stays leased, for the leak guard.
fn teardown(task: TaskDef) -> TaskDef {
    task.execution_timeout(minutes(30))
        .retries(3)
        .backoff(2.0, 30)
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

pub fn definitions() -> Vec<WorkflowDef> {
    use TestStep::*;
    use steps::provision as p;
    use steps::suite as s;
    let suite = WorkflowDef::new(SUITE)
        .version(VERSION)
        .task(step(s::VALIDATE, "stroppy.suite.validate"))
        .task(
            step(s::RUN_TESTS, "stroppy.suite.run-tests")
                .parents([s::VALIDATE])
                .execution_timeout(minutes(48 * 60)),
        )
        .task(step(s::AGGREGATE, "stroppy.suite.aggregate").parents([s::RUN_TESTS]));

    let test_run = WorkflowDef::new(TEST_RUN)
        .version(VERSION)
        .task(test_step(ValidateInput, "stroppy.test.validate-input"))
        .task(
            test_step(AcquireNetwork, "stroppy.test.acquire-network")
                .parents([ValidateInput.as_str()]),
        )
        .task(
            test_step(PlanPlacementIntent, "stroppy.test.plan-placement-intent")
                .parents([AcquireNetwork.as_str()]),
        )
        .task(
            test_step(BuildPlacement, "stroppy.test.build-placement")
                .parents([PlanPlacementIntent.as_str()]),
        )
        .task(
            test_step(DeployPlan, "stroppy.test.deploy-plan")
                .parents([BuildPlacement.as_str()])
                .execution_timeout(minutes(60)),
        )
        .task(
            test_step(WaitWorkers, "stroppy.test.wait-workers")
                .parents([DeployPlan.as_str()])
                .execution_timeout(minutes(20)),
        )
        .task(
            on_machine(test_step(RunDcs, agent::ETCD_START), servers::ROUTER_ROLE)
                .parents([WaitWorkers.as_str(), BuildPlacement.as_str()])
                .input_from("build-placement.etcd")
                .execution_timeout(minutes(5))
                .skip_if(when_placed("output.etcd == null")),
        )
        .task(
            on_machine(
                test_step(RunDatabaseContainers, agent::POSTGRES_START),
                "db",
            )
            .parents([WaitWorkers.as_str(), RunDcs.as_str()])
            .input_from("build-placement.database")
            .execution_timeout(minutes(15))
            .run_if_parent_skipped(),
        )
        .tasks(topology_steps())
        .task(
            test_step(RunStroppyContainers, "stroppy.test.run-stroppy-containers")
                .parents(
                    [
                        RunDatabaseContainers,
                        RunReplica1,
                        RunReplica2,
                        RunReplica3,
                        RunPooler,
                        RunRouter,
                    ]
                    .map(TestStep::as_str),
                )
                .run_if_parent_skipped(),
        )
        .task(
            on_machine(test_step(InstallStroppy, agent::STROPPY_INSTALL), "loader")
                .parents([RunStroppyContainers.as_str(), BuildPlacement.as_str()])
                .input_from("build-placement.stroppy_install")
                .execution_timeout(minutes(15))
                .skip_if(when_placed("output.driver != 'stroppy'")),
        )
        .task(
            on_machine(test_step(RunStroppyTest, agent::LOAD_RUN), "loader")
                .parents([InstallStroppy.as_str()])
                .input_from("run-stroppy-containers.load")
                .execution_timeout(minutes(25 * 60))
                .run_if_parent_skipped(),
        )
        .task(
            // Beside the load, on the server it hits: it waits for the measured load.
            on_machine(test_step(InjectFault, agent::POSTGRES_FAULT), "db")
                .parents([RunStroppyContainers.as_str(), BuildPlacement.as_str()])
                .input_from("build-placement.fault")
                .execution_timeout(minutes(25 * 60))
                .skip_if(when_placed("output.fault == null")),
        )
        .task(
            on_machine(
                test_step(CollectDatabaseMachine, agent::MACHINE_SAMPLES),
                "db",
            )
            .parents([RunStroppyTest.as_str(), InjectFault.as_str()])
            .input_from("run-stroppy-test.windows")
            .execution_timeout(minutes(5))
            .run_if_parent_skipped(),
        )
        .task(teardown(
            test_step(DestroyPlan, "stroppy.test.destroy-plan")
                .parents([CollectDatabaseMachine.as_str()]),
        ))
        .on_failure(teardown(test_step(
            DestroyPlanOnFailure,
            "stroppy.test.destroy-plan",
        )));

    let provision = WorkflowDef::new(PROVISION)
        .version(VERSION)
        .task(step(p::LOGICAL, "stroppy.provision.logical"))
        .task(
            step(p::RESERVE_QUOTAS, "stroppy.provision.reserve-quotas")
                .parents([p::LOGICAL])
                .execution_timeout(minutes(24 * 60)),
        )
        .task(
            // A cloud's errors are often passing ones (an API hiccup, a zone out of
            // capacity for a moment); a retried create reuses what the last one made.
            step(p::CREATE, "stroppy.provision.create")
                .parents([p::RESERVE_QUOTAS])
                .execution_timeout(minutes(30))
                .retries(2)
                .backoff(2.0, 60),
        )
        .task(
            step(p::WAIT_MACHINES, "stroppy.provision.wait-machines")
                .parents([p::CREATE])
                .execution_timeout(minutes(20)),
        )
        .on_failure(teardown(step(p::DESTROY, "stroppy.provision.destroy")));
    vec![provision, test_run, suite]
}

/// The steps of the servers beside the primary, each on its own machine once the primary
/// is up, skipped when the test's topology has no such machine: a standby per replica
/// machine (as many steps as a test may have replicas), the pooler, and the router that
/// spreads a load over the replicas.
fn topology_steps() -> Vec<TaskDef> {
    let unless = |expression: String| when_placed(&expression);
    let after_primary = |task: TaskDef| {
        task.parents([
            TestStep::RunDatabaseContainers.as_str(),
            TestStep::BuildPlacement.as_str(),
        ])
        .execution_timeout(minutes(15))
    };
    let mut steps: Vec<TaskDef> = steps::REPLICAS
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let role = servers::replica_role(i);
            after_primary(on_machine(test_step(*step, agent::POSTGRES_START), &role))
                .input_from(format!("build-placement.replicas.{role}"))
                .skip_if(unless(format!("size(output.replicas) < {}", i + 1)))
        })
        .collect();
    steps.push(
        after_primary(on_machine(
            test_step(TestStep::RunPooler, agent::PGBOUNCER_START),
            servers::POOLER_ROLE,
        ))
        .input_from("build-placement.pooler")
        .skip_if(unless("output.pooler == null".into())),
    );
    // The router starts once its servers accept connections: HAProxy then sends
    // connections to them from its first check on.
    let router = on_machine(
        test_step(TestStep::RunRouter, agent::HAPROXY_START),
        servers::ROUTER_ROLE,
    )
    .parents(
        [TestStep::BuildPlacement]
            .iter()
            .chain(&steps::REPLICAS)
            .map(|s| s.as_str()),
    )
    .execution_timeout(minutes(15))
    .input_from("build-placement.router")
    .skip_if(unless("output.router == null".into()));
    steps.push(router.run_if_parent_skipped());
    steps
}

/// A skip condition on the placement's output (what the test's topology has).
fn when_placed(expression: &str) -> Vec<Condition> {
    vec![Condition::Parent {
        parent: TestStep::BuildPlacement.as_str().into(),
        expression: expression.into(),
    }]
}

fn fatal(e: impl std::fmt::Display) -> TaskError {
    TaskError::fatal(e.to_string())
}

fn retryable(e: impl std::fmt::Display) -> TaskError {
    TaskError::retryable(e.to_string())
}

/// A step's typed output, as the JSON the engine stores.
fn output<T: Serialize>(value: &T) -> HandlerResult {
    serde_json::to_value(value).map_err(fatal)
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
            suite::validate(&ctx)
        })
        .handle("stroppy.suite.run-tests", |ctx| async move {
            suite::run_tests(&ctx).await
        })
        .handle(
            "stroppy.suite.aggregate",
            with(d, |ctx, d| async move { suite::aggregate(&ctx, &d).await }),
        )
        .handle("stroppy.test.validate-input", |ctx| async move {
            test_run::validate(&ctx)
        })
        .handle(
            "stroppy.test.acquire-network",
            with(d, |ctx, d| async move {
                test_run::acquire_network(&ctx, &d).await
            }),
        )
        .handle("stroppy.test.plan-placement-intent", |ctx| async move {
            test_run::plan_intent(&ctx)
        })
        .handle(
            "stroppy.test.build-placement",
            with(
                d,
                |ctx, d| async move { test_run::build_placement(&ctx, &d) },
            ),
        )
        .handle(
            "stroppy.test.deploy-plan",
            with(
                d,
                |ctx, d| async move { test_run::deploy_plan(&ctx, &d).await },
            ),
        )
        .handle(
            "stroppy.test.wait-workers",
            with(
                d,
                |ctx, d| async move { test_run::wait_workers(&ctx, &d).await },
            ),
        )
        .handle("stroppy.test.run-stroppy-containers", |ctx| async move {
            test_run::prepare_load(&ctx)
        })
        .handle(
            "stroppy.test.destroy-plan",
            with(d, |ctx, d| async move {
                let target = ctx.input_as::<TestRunInput>()?.target;
                provision::destroy(&ctx, &d, target, ctx.run_id()).await
            }),
        )
        .handle(
            "stroppy.provision.logical",
            with(
                d,
                |ctx, d| async move { provision::logical(&ctx, &d).await },
            ),
        )
        .handle(
            "stroppy.provision.reserve-quotas",
            with(d, |ctx, d| async move {
                provision::reserve_quotas(&ctx, &d).await
            }),
        )
        .handle(
            "stroppy.provision.create",
            with(d, |ctx, d| async move { provision::create(&ctx, &d).await }),
        )
        .handle(
            "stroppy.provision.wait-machines",
            with(d, |ctx, d| async move {
                provision::wait_machines(&ctx, &d).await
            }),
        )
        .handle(
            "stroppy.provision.destroy",
            with(d, |ctx, d| async move {
                let input = provision::checked_input(&ctx, &d).await?;
                provision::destroy(&ctx, &d, input.target, input.run_id).await
            }),
        )
}
