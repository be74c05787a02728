//! A suite as people follow it — the API, the dashboard and `ratchet run` read this: each
//! test's status and current steps, its measured result, the comparison. Derived from the
//! suite's run and its test runs; "ended" means torn down too.

use engine::model::{RunState, RunStatus, TaskStatus};
use engine::store::{ReadStore, StoreError};
use protocol::actions::{FaultInjected, LoadResult};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::stroppy::results::{self, SuiteResult, TestOutcome};
use crate::stroppy::spec::{Target, parse_repetition_key};
use crate::stroppy::steps::{self, TestStep};
use crate::stroppy::workflows::SuiteInput;

/// A suite's status: its run's, except that a suite whose tests are still tearing down
/// stays RUNNING (or CANCELLING) until nothing of it is left, and that a suite whose run
/// completed says FAILED when a test failed and REGRESSED when a test regressed — what a
/// CI job polling the API needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SuiteStatus {
    Queued,
    Running,
    /// Cancelled; its tests are still tearing their machines down.
    Cancelling,
    Completed,
    Failed,
    /// Every test ran, and at least one is a regression against the baseline.
    Regressed,
    Cancelled,
}

impl SuiteStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SuiteStatus::Queued => "QUEUED",
            SuiteStatus::Running => "RUNNING",
            SuiteStatus::Cancelling => "CANCELLING",
            SuiteStatus::Completed => "COMPLETED",
            SuiteStatus::Failed => "FAILED",
            SuiteStatus::Regressed => "REGRESSED",
            SuiteStatus::Cancelled => "CANCELLED",
        }
    }

    pub fn has_ended(self) -> bool {
        matches!(
            self,
            SuiteStatus::Completed
                | SuiteStatus::Failed
                | SuiteStatus::Regressed
                | SuiteStatus::Cancelled
        )
    }

    /// The status of a suite whose run is `run` and whose comparison is `result`, once
    /// nothing is tearing down; with the reason when it is not a plain success.
    fn of_ended(run: RunStatus, result: Option<&SuiteResult>) -> (SuiteStatus, Option<String>) {
        match (run, result) {
            (RunStatus::Completed, Some(r)) if r.failed > 0 => {
                let failed: Vec<&str> = r
                    .tests
                    .iter()
                    .filter(|t| t.status != "COMPLETED")
                    .map(|t| t.name.as_str())
                    .collect();
                (
                    SuiteStatus::Failed,
                    Some(format!(
                        "{} of {} tests failed: {}",
                        r.failed,
                        r.tests.len(),
                        failed.join(", ")
                    )),
                )
            }
            (RunStatus::Completed, Some(r)) if !r.regressed.is_empty() => (
                SuiteStatus::Regressed,
                Some(format!(
                    "regressed against `{}`: {}",
                    r.baseline,
                    r.regressed.join(", ")
                )),
            ),
            (RunStatus::Completed, _) => (SuiteStatus::Completed, None),
            (RunStatus::Failed, _) => (SuiteStatus::Failed, None),
            (RunStatus::Cancelled, _) => (SuiteStatus::Cancelled, None),
            (RunStatus::Queued, _) => (SuiteStatus::Queued, None),
            (RunStatus::Running, _) => (SuiteStatus::Running, None),
        }
    }
}

/// A test's status: PENDING until its run starts (local tests run one after the other),
/// then its run's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TestStatus {
    Pending,
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl TestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Pending => "PENDING",
            TestStatus::Queued => "QUEUED",
            TestStatus::Running => "RUNNING",
            TestStatus::Completed => "COMPLETED",
            TestStatus::Failed => "FAILED",
            TestStatus::Cancelled => "CANCELLED",
        }
    }
}

impl From<RunStatus> for TestStatus {
    fn from(s: RunStatus) -> Self {
        match s {
            RunStatus::Queued => TestStatus::Queued,
            RunStatus::Running => TestStatus::Running,
            RunStatus::Completed => TestStatus::Completed,
            RunStatus::Failed => TestStatus::Failed,
            RunStatus::Cancelled => TestStatus::Cancelled,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SuiteView {
    pub id: Uuid,
    pub name: String,
    pub target: Target,
    pub status: SuiteStatus,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
    pub tests: Vec<TestView>,
    /// The comparison, once every test has ended (`aggregate`'s output).
    pub result: Option<SuiteResult>,
    /// The document as submitted (secrets masked by the API).
    pub spec: Value,
    /// The suite's trace (its tests' runs and every step are in it) in the trace UI, when
    /// traces are exported and `RATCHET_TRACE_URL_TEMPLATE` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TestView {
    pub name: String,
    /// Unset until the test's run is started (local tests run one after the other).
    pub run_id: Option<Uuid>,
    pub status: TestStatus,
    /// The steps running or queued now.
    pub steps: Vec<TestStep>,
    pub steps_done: usize,
    pub steps_total: usize,
    pub error: Option<String>,
    /// The last measured load (the `run-stroppy-test` step's output) of its repetitions.
    pub result: Option<LoadResult>,
    /// How many times the test is measured.
    pub repeat: u32,
    /// The repetitions started so far, in order.
    pub repetitions: Vec<RepetitionView>,
    /// The machines of its latest test run and what each serves (the topology), once
    /// placed.
    pub nodes: Vec<NodeView>,
    /// What its latest test run's scheduled fault did (the outage is the load's).
    pub fault: Option<FaultInjected>,
}

/// A machine of a test and what runs on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NodeView {
    /// `db`, `replica-1`..., `pooler`, `router`, `loader`.
    pub role: String,
    pub address: String,
    /// `primary` (with replicas), `single`, `standby`, `patroni` (a member of a Patroni
    /// cluster, the `db` machine its first leader), `pgbouncer`, `haproxy`, `haproxy+etcd`
    /// (a Patroni cluster's router and store) or `load`.
    pub serves: String,
    /// Where its server listens (`host:port`), once started.
    pub endpoint: Option<String>,
    /// The server's version, once started (`SHOW server_version`, PgBouncer's `SHOW VERSION`).
    pub version: Option<String>,
    /// A standby's replication as the primary saw it over the last measured window.
    pub replication: Option<ReplicationView>,
}

/// A standby's lag over a measured window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplicationView {
    /// `async`, `sync`, `quorum` or `potential`, as last sampled.
    pub sync_state: String,
    /// WAL not yet replayed: the largest and the mean over the samples.
    pub max_lag_bytes: f64,
    pub mean_lag_bytes: f64,
    /// The largest `replay_lag` sampled.
    pub max_replay_lag_ms: Option<f64>,
}

/// One measured run of a test.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RepetitionView {
    pub repetition: u32,
    pub run_id: Uuid,
    pub status: TestStatus,
    pub error: Option<String>,
    /// Its measured load, without the machine and database samples and the tool's report
    /// (they are in the run's `run-stroppy-test` output): a suite is read often.
    pub result: Option<LoadResult>,
}

fn without_samples(result: LoadResult) -> LoadResult {
    LoadResult {
        system: Vec::new(),
        database: Vec::new(),
        database_machine: Vec::new(),
        summary: String::new(),
        ..result
    }
}

/// A suite in a list.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SuiteSummary {
    pub id: Uuid,
    pub name: String,
    pub status: SuiteStatus,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub tests: usize,
    /// The best test by TPS: `{name, tps}`.
    pub best: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("suite {0} has an unreadable input: {1}")]
    Unreadable(Uuid, String),
}

/// The suite that run `run` (a `stroppy-test-suite` run) stands for.
pub async fn suite(reads: &dyn ReadStore, run: RunState) -> Result<SuiteView, ViewError> {
    let input: SuiteInput = serde_json::from_value(run.input.clone())
        .map_err(|e| ViewError::Unreadable(run.id, e.to_string()))?;
    let children = reads.child_runs(run.id, None).await?;
    let mut tests = Vec::new();
    for test in &input.suite.tests {
        let mut runs: Vec<(u32, &RunState)> = children
            .iter()
            .filter_map(|c| {
                let (name, repetition) = parse_repetition_key(&c.parent.as_ref()?.key);
                (name == test.name).then_some((repetition, c))
            })
            .collect();
        runs.sort_by_key(|(r, _)| *r);
        let mut view = TestView {
            name: test.name.clone(),
            run_id: runs.first().map(|(_, c)| c.id),
            status: TestStatus::Pending,
            steps: Vec::new(),
            steps_done: 0,
            steps_total: 0,
            error: None,
            result: None,
            repeat: test.repeat,
            repetitions: Vec::new(),
            nodes: Vec::new(),
            fault: None,
        };
        let mut steps_per_run = 0;
        for (repetition, child) in runs {
            let tasks = reads.tasks(child.id).await?;
            let measured = results::measured_runs(
                steps::LOAD.output_in(&tasks),
                steps::DATABASE_MACHINE.output_in(&tasks),
            );
            view.steps.extend(
                tasks
                    .iter()
                    .filter(|t| matches!(t.status, TaskStatus::Running | TaskStatus::Queued))
                    .filter_map(|t| TestStep::parse(&t.name)),
            );
            view.steps_done += tasks.iter().filter(|t| t.status.is_terminal()).count();
            view.steps_total += tasks.len();
            steps_per_run = steps_per_run.max(tasks.len());
            // A test run on a reused database measures several times.
            if let Some(last) = measured.last() {
                view.result = Some(last.clone());
            }
            let nodes = nodes_of(&tasks, measured.last());
            if !nodes.is_empty() {
                view.nodes = nodes;
            }
            if let Some(fault) = fault_of(&tasks) {
                view.fault = Some(fault);
            }
            let count = (test.runs_per_test_run() as usize).max(measured.len());
            let mut measured = measured.into_iter();
            for i in 0..count {
                view.repetitions.push(RepetitionView {
                    repetition: repetition + i as u32,
                    run_id: child.id,
                    status: child.status.into(),
                    error: child.error.clone(),
                    result: measured.next().map(without_samples),
                });
            }
        }
        let started = view.repetitions.len();
        let runs_left = (test.repeat as usize)
            .saturating_sub(started)
            .div_ceil(test.runs_per_test_run() as usize);
        view.steps_total += steps_per_run * runs_left;
        let statuses: Vec<TestStatus> = view.repetitions.iter().map(|r| r.status).collect();
        let unfinished = |s: &TestStatus| matches!(s, TestStatus::Running | TestStatus::Queued);
        view.status = if let Some(live) = statuses.iter().find(|s| unfinished(s)) {
            *live
        } else if let Some(bad) = view
            .repetitions
            .iter()
            .find(|r| r.status != TestStatus::Completed)
        {
            view.error = bad.error.clone();
            bad.status
        } else if started > 0 && started >= test.repeat as usize {
            TestStatus::Completed
        } else if run.status.is_terminal() {
            TestStatus::Cancelled
        } else if started > 0 {
            // Between repetitions.
            TestStatus::Running
        } else {
            TestStatus::Pending
        };
        tests.push(view);
    }
    let tearing_down = tests.iter().any(|t| {
        t.repetitions
            .iter()
            .any(|r| matches!(r.status, TestStatus::Running | TestStatus::Queued))
    });
    let result: Option<SuiteResult> = run
        .output
        .as_ref()
        .and_then(|o| o.get(steps::suite::AGGREGATE))
        .and_then(|r| serde_json::from_value(r.clone()).ok());
    let (status, reason) = match run.status {
        RunStatus::Cancelled if tearing_down => (SuiteStatus::Cancelling, None),
        s if s.is_terminal() && tearing_down => (SuiteStatus::Running, None),
        s => SuiteStatus::of_ended(s, result.as_ref()),
    };
    Ok(SuiteView {
        id: run.id,
        name: input.suite.name,
        target: input.suite.target,
        status,
        created_at: run.created_at,
        // Ended means torn down too.
        finished_at: if tearing_down { None } else { run.finished_at },
        error: run.error.clone().or(reason),
        tests,
        result,
        spec: input.spec,
        trace_url: None,
    })
}

/// A test run's machines from its placement, with what its steps started on each.
pub(crate) fn nodes_of(
    tasks: &[engine::model::TaskState],
    load: Option<&LoadResult>,
) -> Vec<NodeView> {
    #[derive(Deserialize)]
    struct Placement {
        machines: Vec<Placed>,
        /// A Patroni cluster's store (its presence makes the cluster).
        #[serde(default)]
        etcd: Option<Value>,
    }
    #[derive(Deserialize)]
    struct Placed {
        role: String,
        address: String,
    }
    #[derive(Deserialize)]
    struct Started {
        host: String,
        port: u16,
        #[serde(alias = "server_version")]
        version: String,
    }
    let Some(Placement { machines, etcd }) = TestStep::BuildPlacement
        .output_in(tasks)
        .and_then(|o| serde_json::from_value(o.clone()).ok())
    else {
        return Vec::new();
    };
    let patroni = etcd.is_some();
    let with_replicas = machines.iter().any(|m| m.role.starts_with("replica-"));
    let started = |step: TestStep| {
        step.output_in(tasks)
            .and_then(|o| serde_json::from_value::<Started>(o.clone()).ok())
    };
    machines
        .into_iter()
        .map(|m| {
            let (serves, step) = match m.role.as_str() {
                "db" if patroni => ("patroni", Some(TestStep::RunDatabaseContainers)),
                "db" if with_replicas => ("primary", Some(TestStep::RunDatabaseContainers)),
                "db" => ("single", Some(TestStep::RunDatabaseContainers)),
                "pooler" => ("pgbouncer", Some(TestStep::RunPooler)),
                "router" if patroni => ("haproxy+etcd", Some(TestStep::RunRouter)),
                "router" => ("haproxy", Some(TestStep::RunRouter)),
                role => match role
                    .strip_prefix("replica-")
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    Some(n) => (
                        if patroni { "patroni" } else { "standby" },
                        steps::REPLICAS.get(n.wrapping_sub(1)).copied(),
                    ),
                    None => ("load", None),
                },
            };
            let server = step.and_then(started);
            let replication = (serves == "standby")
                .then(|| load.and_then(|l| lag_of(l, &m.role.replace('-', "_"))))
                .flatten();
            NodeView {
                endpoint: server.as_ref().map(|s| format!("{}:{}", s.host, s.port)),
                version: server.map(|s| s.version),
                role: m.role,
                address: m.address,
                serves: serves.into(),
                replication,
            }
        })
        .collect()
}

/// What a test run's scheduled fault did, once it did.
pub(crate) fn fault_of(tasks: &[engine::model::TaskState]) -> Option<FaultInjected> {
    TestStep::InjectFault
        .output_in(tasks)
        .and_then(|o| serde_json::from_value(o.clone()).ok())
}

/// Standby `name`'s lag over a load's samples, if the primary saw it.
fn lag_of(load: &LoadResult, name: &str) -> Option<ReplicationView> {
    let points: Vec<&protocol::actions::ReplicaPoint> = load
        .database
        .iter()
        .flat_map(|p| p.replicas.iter().filter(|r| r.name == name))
        .collect();
    let last = points.last()?;
    Some(ReplicationView {
        sync_state: last.sync_state.clone(),
        max_lag_bytes: points.iter().map(|r| r.lag_bytes).fold(0.0, f64::max),
        mean_lag_bytes: points.iter().map(|r| r.lag_bytes).sum::<f64>() / points.len() as f64,
        max_replay_lag_ms: points
            .iter()
            .filter_map(|r| r.replay_lag_ms)
            .reduce(f64::max),
    })
}

/// A suite in a list, from its run alone (no reads of its tests).
pub fn summary(run: &RunState) -> SuiteSummary {
    let input: Option<SuiteInput> = serde_json::from_value(run.input.clone()).ok();
    let result: Option<SuiteResult> = run
        .output
        .as_ref()
        .and_then(|o| o.get(steps::suite::AGGREGATE))
        .and_then(|r| serde_json::from_value(r.clone()).ok());
    SuiteSummary {
        id: run.id,
        name: input
            .as_ref()
            .map(|i| i.suite.name.clone())
            .unwrap_or_default(),
        status: SuiteStatus::of_ended(run.status, result.as_ref()).0,
        created_at: run.created_at,
        finished_at: run.finished_at,
        tests: input.as_ref().map_or(0, |i| i.suite.tests.len()),
        best: result.and_then(|r| {
            let best = r.best?;
            let row = r.tests.iter().find(|t| t.name == best)?;
            Some(serde_json::json!({ "name": best, "tps": row.tps }))
        }),
    }
}

/// The repetitions of `view`'s tests as rows of a comparison, named `<suite>/<test>`.
pub fn outcomes(view: &SuiteView) -> Vec<TestOutcome> {
    view.tests
        .iter()
        .flat_map(|test| {
            test.repetitions.iter().map(|r| TestOutcome {
                name: format!("{}/{}", view.name, test.name),
                repetition: r.repetition,
                run_id: r.run_id,
                status: r.status.as_str().to_string(),
                error: r.error.clone(),
                result: r.result.clone(),
            })
        })
        .collect()
}
