//! The steps' names, said once: the workflow definitions, the suite's view, the CLI and —
//! through the OpenAPI document's `TestStep` — the dashboard all use these.

use serde::{Deserialize, Serialize};

/// The steps of a `stroppy-test-run`, in their DAG order (the names of the original
/// system).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TestStep {
    ValidateInput,
    AcquireNetwork,
    PlanPlacementIntent,
    BuildPlacement,
    /// Makes the machines: a `cloud-provision` child run.
    DeployPlan,
    WaitWorkers,
    /// `etcd.start` on the router machine: a Patroni cluster's store (skipped otherwise).
    RunDcs,
    /// `postgres.start` on the database machine (the primary, with replicas).
    RunDatabaseContainers,
    /// `postgres.start` of a standby on replica machine 1, 2, 3 (skipped without). (Named
    /// by hand: kebab-case keeps a digit on its word.)
    #[serde(rename = "run-replica-1")]
    RunReplica1,
    #[serde(rename = "run-replica-2")]
    RunReplica2,
    #[serde(rename = "run-replica-3")]
    RunReplica3,
    /// `pgbouncer.start` on the pooler machine (skipped without a pooler).
    RunPooler,
    /// `haproxy.start` on the router machine: a load on the replicas (skipped otherwise).
    RunRouter,
    RunStroppyContainers,
    /// `postgres.fault` on the database machine, during the load (skipped without faults).
    InjectFault,
    /// `stroppy.install` on the loader (skipped for pgbench).
    InstallStroppy,
    /// `load.run` on the loader: its output is the test's measured result.
    RunStroppyTest,
    /// `machine.samples` on the database machine: what it did in the load's windows.
    CollectDatabaseMachine,
    DestroyPlan,
    /// The teardown again, as the on-failure task: a failed or cancelled test still
    /// destroys its machines.
    DestroyPlanOnFailure,
}

impl TestStep {
    pub const ALL: [TestStep; 20] = [
        TestStep::ValidateInput,
        TestStep::AcquireNetwork,
        TestStep::PlanPlacementIntent,
        TestStep::BuildPlacement,
        TestStep::DeployPlan,
        TestStep::WaitWorkers,
        TestStep::RunDcs,
        TestStep::RunDatabaseContainers,
        TestStep::RunReplica1,
        TestStep::RunReplica2,
        TestStep::RunReplica3,
        TestStep::RunPooler,
        TestStep::RunRouter,
        TestStep::RunStroppyContainers,
        TestStep::InjectFault,
        TestStep::InstallStroppy,
        TestStep::RunStroppyTest,
        TestStep::CollectDatabaseMachine,
        TestStep::DestroyPlan,
        TestStep::DestroyPlanOnFailure,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TestStep::ValidateInput => "validate-input",
            TestStep::AcquireNetwork => "acquire-network",
            TestStep::PlanPlacementIntent => "plan-placement-intent",
            TestStep::BuildPlacement => "build-placement",
            TestStep::DeployPlan => "deploy-plan",
            TestStep::WaitWorkers => "wait-workers",
            TestStep::RunDcs => "run-dcs",
            TestStep::RunDatabaseContainers => "run-database-containers",
            TestStep::RunReplica1 => "run-replica-1",
            TestStep::RunReplica2 => "run-replica-2",
            TestStep::RunReplica3 => "run-replica-3",
            TestStep::RunPooler => "run-pooler",
            TestStep::RunRouter => "run-router",
            TestStep::RunStroppyContainers => "run-stroppy-containers",
            TestStep::InjectFault => "inject-fault",
            TestStep::InstallStroppy => "install-stroppy",
            TestStep::RunStroppyTest => "run-stroppy-test",
            TestStep::CollectDatabaseMachine => "collect-database-machine",
            TestStep::DestroyPlan => "destroy-plan",
            TestStep::DestroyPlanOnFailure => "destroy-plan-on-failure",
        }
    }

    pub fn parse(name: &str) -> Option<TestStep> {
        TestStep::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// This step's output among a test run's tasks (unset until it completed).
    pub fn output_in(self, tasks: &[engine::model::TaskState]) -> Option<&serde_json::Value> {
        tasks
            .iter()
            .find(|t| t.name == self.as_str())
            .and_then(|t| t.output.as_ref())
    }
}

/// The steps that start the standbys, in replica order (their machines are `replica-1`...).
pub const REPLICAS: [TestStep; 3] = [
    TestStep::RunReplica1,
    TestStep::RunReplica2,
    TestStep::RunReplica3,
];

const _: () = assert!(REPLICAS.len() == crate::stroppy::spec::MAX_REPLICAS as usize);

/// The step whose output is a test's measured load ([`protocol::actions::LoadResult`]).
pub const LOAD: TestStep = TestStep::RunStroppyTest;

/// The step whose output is the database machine in the load's windows
/// ([`protocol::actions::MachineSamples`]).
pub const DATABASE_MACHINE: TestStep = TestStep::CollectDatabaseMachine;

/// The steps of a `stroppy-test-suite`.
pub mod suite {
    pub const VALIDATE: &str = "validate";
    /// Spawns one `stroppy-test-run` per test.
    pub const RUN_TESTS: &str = "run-tests";
    pub const AGGREGATE: &str = "aggregate";
}

/// The steps of a `cloud-provision`.
pub mod provision {
    pub const LOGICAL: &str = "logical-provisioning";
    pub const RESERVE_QUOTAS: &str = "reserve-quotas";
    pub const CREATE: &str = "create-deployments";
    pub const WAIT_MACHINES: &str = "wait-machines";
    /// The on-failure task: destroys whatever was created.
    pub const DESTROY: &str = "destroy-created";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for step in TestStep::ALL {
            assert_eq!(TestStep::parse(step.as_str()), Some(step));
            assert_eq!(serde_json::to_value(step).unwrap(), step.as_str());
        }
        assert_eq!(TestStep::parse("no-such-step"), None);
    }
}
