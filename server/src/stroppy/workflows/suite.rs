//! `stroppy-test-suite`: check the suite, run one `stroppy-test-run` per test, compare.

use engine::{Child, Context, HandlerResult, TaskError};
use protocol::actions::LoadResult;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::test_run::TestRunInput;
use super::{TEST_RUN, VERSION, fatal, output};
use crate::stroppy::results::{self, TestOutcome};
use crate::stroppy::spec::{Suite, Target, TestSpec};
use crate::stroppy::steps;

/// Input of a `stroppy-test-suite`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuiteInput {
    /// The document as submitted (for the API and the dashboard).
    pub spec: Value,
    pub suite: Suite,
}

/// `validate`: what will run.
#[derive(Debug, Serialize, Deserialize)]
struct Checked {
    tests: Vec<String>,
    target: Target,
    baseline: String,
}

/// `run-tests`: how each test ended.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TestsRun {
    pub tests: Vec<TestOutcome>,
}

pub(super) fn validate(ctx: &Context) -> HandlerResult {
    let input: SuiteInput = ctx.input_as()?;
    let names: Vec<String> = input.suite.tests.iter().map(|t| t.name.clone()).collect();
    ctx.log(format!(
        "suite {}: {} tests ({})",
        input.suite.name,
        names.len(),
        names.join(", ")
    ));
    output(&Checked {
        tests: names,
        target: input.suite.target,
        baseline: input.suite.baseline,
    })
}

/// One `stroppy-test-run` per test. Local tests share this host, so they run one after
/// the other (side by side they would skew each other's numbers); cloud tests run at once.
pub(super) async fn run_tests(ctx: &Context) -> HandlerResult {
    let input: SuiteInput = ctx.input_as()?;
    let child = |t: &TestSpec| -> Result<Child, TaskError> {
        let input = TestRunInput {
            suite: input.suite.name.clone(),
            target: input.suite.target,
            test: t.clone(),
            ttl_s: input.suite.ttl.map(|t| t.0.as_secs()),
        };
        Ok(Child::new(
            t.name.clone(),
            serde_json::to_value(input).map_err(fatal)?,
        ))
    };
    let mut results = Vec::new();
    if input.suite.target == Target::Local {
        for test in &input.suite.tests {
            if ctx.is_cancelled() {
                return Err(TaskError::retryable("cancelled"));
            }
            ctx.log(format!("test {}: starting", test.name));
            let done = ctx
                .run_children(TEST_RUN, VERSION, vec![child(test)?])
                .await?;
            results.extend(done);
        }
    } else {
        let children = input
            .suite
            .tests
            .iter()
            .map(child)
            .collect::<Result<_, _>>()?;
        results = ctx.run_children(TEST_RUN, VERSION, children).await?;
    }
    let tests = results
        .into_iter()
        .map(|r| {
            let result = r
                .output
                .as_ref()
                .and_then(|o| o.get(steps::LOAD.as_str()))
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
    output(&TestsRun { tests })
}

pub(super) fn aggregate(ctx: &Context) -> HandlerResult {
    let input: SuiteInput = ctx.input_as()?;
    let run: TestsRun = ctx.parent_as(steps::suite::RUN_TESTS)?;
    output(&results::aggregate(&input.suite.baseline, &run.tests))
}
