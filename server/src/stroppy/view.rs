//! A suite as people follow it — the API, the dashboard and `ratchet run` read this: each
//! test's status and current steps, its measured result, the comparison. Derived from the
//! suite's run and its test runs; "ended" means torn down too.

use engine::model::{RunState, RunStatus, TaskStatus};
use engine::store::{ReadStore, StoreError};
use protocol::actions::LoadResult;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::stroppy::results::{SuiteResult, TestOutcome};
use crate::stroppy::spec::Target;
use crate::stroppy::steps::{self, TestStep};
use crate::stroppy::workflows::SuiteInput;

/// A suite's status: its run's, except that a suite whose tests are still tearing down
/// stays RUNNING (or CANCELLING) until nothing of it is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SuiteStatus {
    Queued,
    Running,
    /// Cancelled; its tests are still tearing their machines down.
    Cancelling,
    Completed,
    Failed,
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
            SuiteStatus::Cancelled => "CANCELLED",
        }
    }

    pub fn has_ended(self) -> bool {
        matches!(
            self,
            SuiteStatus::Completed | SuiteStatus::Failed | SuiteStatus::Cancelled
        )
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
    /// The measured load (the `run-stroppy-test` step's output), once measured.
    pub result: Option<LoadResult>,
}

/// A suite in a list.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SuiteSummary {
    pub id: Uuid,
    pub name: String,
    pub status: RunStatus,
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
        let child = children
            .iter()
            .find(|c| c.parent.as_ref().is_some_and(|p| p.key == test.name));
        let Some(child) = child else {
            tests.push(TestView {
                name: test.name.clone(),
                run_id: None,
                status: if run.status.is_terminal() {
                    TestStatus::Cancelled
                } else {
                    TestStatus::Pending
                },
                steps: Vec::new(),
                steps_done: 0,
                steps_total: 0,
                error: None,
                result: None,
            });
            continue;
        };
        let tasks = reads.tasks(child.id).await?;
        tests.push(TestView {
            name: test.name.clone(),
            run_id: Some(child.id),
            status: child.status.into(),
            steps: tasks
                .iter()
                .filter(|t| matches!(t.status, TaskStatus::Running | TaskStatus::Queued))
                .filter_map(|t| TestStep::parse(&t.name))
                .collect(),
            steps_done: tasks.iter().filter(|t| t.status.is_terminal()).count(),
            steps_total: tasks.len(),
            error: child.error.clone(),
            result: tasks
                .iter()
                .find(|t| t.name == steps::LOAD.as_str())
                .and_then(|t| t.output.clone())
                .and_then(|o| serde_json::from_value(o).ok()),
        });
    }
    let tearing_down = tests
        .iter()
        .any(|t| matches!(t.status, TestStatus::Running | TestStatus::Queued));
    let status = match run.status {
        RunStatus::Cancelled if tearing_down => SuiteStatus::Cancelling,
        s if s.is_terminal() && tearing_down => SuiteStatus::Running,
        RunStatus::Queued => SuiteStatus::Queued,
        RunStatus::Running => SuiteStatus::Running,
        RunStatus::Completed => SuiteStatus::Completed,
        RunStatus::Failed => SuiteStatus::Failed,
        RunStatus::Cancelled => SuiteStatus::Cancelled,
    };
    Ok(SuiteView {
        id: run.id,
        name: input.suite.name,
        target: input.suite.target,
        status,
        created_at: run.created_at,
        // Ended means torn down too.
        finished_at: if tearing_down { None } else { run.finished_at },
        error: run.error.clone(),
        tests,
        result: run
            .output
            .as_ref()
            .and_then(|o| o.get(steps::suite::AGGREGATE))
            .and_then(|r| serde_json::from_value(r.clone()).ok()),
        spec: input.spec,
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
        status: run.status,
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

/// The tests of `view` as rows of a comparison, named `<suite>/<test>`.
pub fn outcomes(view: SuiteView) -> Vec<TestOutcome> {
    view.tests
        .into_iter()
        .map(|test| TestOutcome {
            name: format!("{}/{}", view.name, test.name),
            run_id: test.run_id.unwrap_or_default(),
            status: test.status.as_str().to_string(),
            error: test.error,
            result: test.result,
        })
        .collect()
}
