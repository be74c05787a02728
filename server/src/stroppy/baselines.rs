//! Named baselines: a suite kept under a name (`nightly-main`), so that a later suite can
//! be compared with one of its tests (`baseline: {suite: nightly-main, test: default}`) —
//! tonight's numbers against last night's. The name is resolved when a suite is
//! submitted, so moving it later does not change what that suite was compared with.

use engine::model::{Millis, RunState};
use engine::store::{ReadStore, RecordStore, StoreError};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::document::DocumentError;
use crate::stroppy::results::TestOutcome;
use crate::stroppy::spec::NamedBaseline;
use crate::stroppy::view::{self, SuiteStatus, TestStatus, ViewError};
use crate::stroppy::workflows::SUITE;

/// Where named baselines live in the record store.
const NAMESPACE: &str = "baseline";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Baseline {
    pub name: String,
    pub suite_id: Uuid,
    pub suite_name: String,
    /// The suite's tests that completed: the ones a suite may be compared with.
    pub tests: Vec<String>,
    pub updated_at: Millis,
}

/// What is stored under the name.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    suite_id: Uuid,
    suite_name: String,
    tests: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    View(#[from] ViewError),
    #[error("suite {0} not found")]
    NoSuite(Uuid),
    /// The suite cannot serve as a baseline (still running, cancelled, nothing measured).
    #[error("{0}")]
    Unfit(String),
}

fn decode(record: engine::store::Record) -> Option<Baseline> {
    let stored: Stored = serde_json::from_value(record.value).ok()?;
    Some(Baseline {
        name: record.key,
        suite_id: stored.suite_id,
        suite_name: stored.suite_name,
        tests: stored.tests,
        updated_at: record.updated_at,
    })
}

pub async fn get(records: &dyn RecordStore, name: &str) -> Result<Option<Baseline>, StoreError> {
    Ok(records.record(NAMESPACE, name).await?.and_then(decode))
}

pub async fn list(records: &dyn RecordStore) -> Result<Vec<Baseline>, StoreError> {
    Ok(records
        .records(NAMESPACE)
        .await?
        .into_iter()
        .filter_map(decode)
        .collect())
}

pub async fn delete(records: &dyn RecordStore, name: &str) -> Result<bool, StoreError> {
    records.delete_record(NAMESPACE, name).await
}

/// Keep suite `suite_id` under `name` (replacing what the name stood for): only a suite
/// that ran to its end with at least one completed test.
pub async fn put(
    records: &dyn RecordStore,
    reads: &dyn ReadStore,
    name: &str,
    suite_id: Uuid,
    now: Millis,
) -> Result<Baseline, BaselineError> {
    let run = suite_run(reads, suite_id).await?;
    let suite = view::suite(reads, run).await?;
    if !suite.status.has_ended() || suite.status == SuiteStatus::Cancelled {
        return Err(BaselineError::Unfit(format!(
            "suite {suite_id} is {}: only a suite that ran to its end can be a baseline",
            suite.status.as_str()
        )));
    }
    let tests: Vec<String> = suite
        .tests
        .iter()
        .filter(|t| t.status == TestStatus::Completed)
        .map(|t| t.name.clone())
        .collect();
    if tests.is_empty() {
        return Err(BaselineError::Unfit(format!(
            "suite {suite_id} has no completed test to compare with"
        )));
    }
    let stored = Stored {
        suite_id,
        suite_name: suite.name,
        tests,
    };
    let value = serde_json::to_value(&stored).map_err(|e| BaselineError::Unfit(e.to_string()))?;
    records.put_record(NAMESPACE, name, &value, now).await?;
    Ok(Baseline {
        name: name.to_string(),
        suite_id,
        suite_name: stored.suite_name,
        tests: stored.tests,
        updated_at: now,
    })
}

async fn suite_run(reads: &dyn ReadStore, id: Uuid) -> Result<RunState, BaselineError> {
    match reads.run(id).await? {
        Some(run) if run.workflow == SUITE => Ok(run),
        _ => Err(BaselineError::NoSuite(id)),
    }
}

/// Pin `named` to the suite its name stands for now; a problem is reported at the path
/// of the suite document's `baseline` it concerns.
pub async fn resolve(
    records: &dyn RecordStore,
    named: &mut NamedBaseline,
) -> Result<Result<(), DocumentError>, StoreError> {
    let Some(baseline) = get(records, &named.name).await? else {
        return Ok(Err(DocumentError::new(
            "baseline.suite",
            format!(
                "no baseline is named `{0}`: keep a suite under that name first (PUT /api/v1/baselines/{0})",
                named.name
            ),
        )));
    };
    if !baseline.tests.contains(&named.test) {
        return Ok(Err(DocumentError::new(
            "baseline.test",
            format!(
                "baseline `{}` (suite {} {}) has no completed test `{}`; its tests: {}",
                named.name,
                baseline.suite_name,
                baseline.suite_id,
                named.test,
                baseline.tests.join(", ")
            ),
        )));
    }
    named.suite_id = Some(baseline.suite_id);
    Ok(Ok(()))
}

/// The repetitions of the named baseline's test, named `<baseline name>/<test>` (the
/// suite's `baseline`).
pub async fn outcomes(
    reads: &dyn ReadStore,
    named: &NamedBaseline,
) -> Result<Vec<TestOutcome>, BaselineError> {
    let Some(id) = named.suite_id else {
        return Ok(Vec::new());
    };
    let suite = view::suite(reads, suite_run(reads, id).await?).await?;
    let label = format!("{}/{}", named.name, named.test);
    Ok(view::outcomes(&suite)
        .into_iter()
        .filter(|o| o.name == format!("{}/{}", suite.name, named.test))
        .map(|o| TestOutcome {
            name: label.clone(),
            ..o
        })
        .collect())
}
