//! `stroppy-test-suite`: check the suite, run one `stroppy-test-run` per test, compare.

use engine::{Child, Context, HandlerResult, TaskError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::test_run::TestRunInput;
use super::{Domain, TEST_RUN, VERSION, fatal, output, retryable};
use crate::stroppy::baselines;
use crate::stroppy::results::{self, TestOutcome};
use crate::stroppy::spec::{
    Repetition, Suite, Target, TestSpec, parse_repetition_key, repetition_key,
};
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

/// One `stroppy-test-run` per repetition of each test (or per test, when its repetitions
/// reuse one database). Local tests share this host, so they run one after the other, in
/// the suite's order (side by side they would skew each other's numbers); cloud tests
/// have machines of their own, so each round of repetitions (every test's first, then
/// every test's second, ...) runs at once.
pub(super) async fn run_tests(ctx: &Context) -> HandlerResult {
    let input: SuiteInput = ctx.input_as()?;
    let suite = &input.suite;
    let child = |r: Repetition| -> Result<Child, TaskError> {
        let test = &suite.tests[r.test];
        let input = TestRunInput {
            suite: suite.name.clone(),
            target: suite.target,
            test: test.clone(),
            ttl_s: suite.ttl.map(|t| t.0.as_secs()),
            repetition: r.repetition,
            runs: r.runs,
        };
        Ok(Child::new(
            repetition_key(&test.name, r.repetition),
            serde_json::to_value(input).map_err(fatal)?,
        ))
    };
    let schedule = suite.schedule();
    let batches: Vec<Vec<Repetition>> = if suite.target == Target::Local {
        schedule.into_iter().map(|r| vec![r]).collect()
    } else {
        let rounds = schedule.iter().map(|r| r.repetition).max().unwrap_or(0);
        (1..=rounds)
            .map(|round| {
                schedule
                    .iter()
                    .copied()
                    .filter(|r| r.repetition == round)
                    .collect()
            })
            .collect()
    };
    let mut results = Vec::new();
    for batch in batches {
        if ctx.is_cancelled() {
            return Err(TaskError::retryable("cancelled"));
        }
        let keys: Vec<String> = batch
            .iter()
            .map(|r| repetition_key(&suite.tests[r.test].name, r.repetition))
            .collect();
        ctx.log(format!("starting {}", keys.join(", ")));
        let children = batch.into_iter().map(child).collect::<Result<_, _>>()?;
        results.extend(ctx.run_children(TEST_RUN, VERSION, children).await?);
    }
    let mut tests = Vec::new();
    for r in results {
        ctx.log(format!("test {}: {}", r.key, r.status));
        let (name, first) = parse_repetition_key(&r.key);
        let runs = suite
            .tests
            .iter()
            .find(|t| t.name == name)
            .map_or(1, TestSpec::runs_per_test_run);
        let output = |step: steps::TestStep| r.output.as_ref().and_then(|o| o.get(step.as_str()));
        let measured = results::measured_runs(output(steps::LOAD), output(steps::DATABASE_MACHINE));
        // One outcome per measured run; a run that never measured stands for all of its.
        for i in 0..runs.max(measured.len() as u32) {
            tests.push(TestOutcome {
                name: name.to_string(),
                repetition: first + i,
                run_id: r.run_id,
                status: r.status.to_string(),
                error: r.error.clone(),
                result: measured.get(i as usize).cloned(),
            });
        }
    }
    output(&TestsRun { tests })
}

pub(super) async fn aggregate(ctx: &Context, d: &Domain) -> HandlerResult {
    let input: SuiteInput = ctx.input_as()?;
    let run: TestsRun = ctx.parent_as(steps::suite::RUN_TESTS)?;
    let suite = &input.suite;
    // The suite's test order, whatever order the repetitions ran in; a named baseline's
    // test first.
    let mut outcomes = run.tests;
    outcomes.sort_by_key(|o| suite.tests.iter().position(|t| t.name == o.name));
    if let Some(named) = &suite.named_baseline {
        let mut theirs = baselines::outcomes(d.reads.as_ref(), named)
            .await
            .map_err(retryable)?;
        ctx.log(format!(
            "compared with {} runs of baseline `{}`",
            theirs.len(),
            suite.baseline
        ));
        theirs.append(&mut outcomes);
        outcomes = theirs;
    }
    let basis = results::Basis {
        baseline: &suite.baseline,
        significance: suite.significance,
        seed: suite.seed,
    };
    output(&results::aggregate(&basis, &outcomes))
}
