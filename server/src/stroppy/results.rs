//! A suite's results: per test its repetitions, their summary (median, spread) and a
//! steadiness check of each run; per test against the baseline a confidence interval and
//! a verdict for TPS, p95 and p99 latency (stats.rs); and which tests failed or regressed.

use protocol::actions::{LatencySummary, LoadResult, MachineSamples};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::stroppy::stats::{
    self, Comparison, Direction, Significance, Steadiness, Summary, Verdict,
};

/// How one repetition of a test ended, as the suite sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestOutcome {
    pub name: String,
    /// Which of the test's runs, from 1.
    #[serde(default = "first")]
    pub repetition: u32,
    pub run_id: Uuid,
    /// The test run's status: COMPLETED, FAILED or CANCELLED.
    pub status: String,
    pub error: Option<String>,
    pub result: Option<LoadResult>,
}

fn first() -> u32 {
    1
}

/// One measured run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RepetitionRow {
    pub repetition: u32,
    pub run_id: Uuid,
    pub status: String,
    pub error: Option<String>,
    pub tps: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Whether its per-second throughput held steady over the measured window.
    pub steadiness: Option<Steadiness>,
}

/// A test against the baseline, metric by metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Comparisons {
    pub tps: Option<Comparison>,
    pub p95: Option<Comparison>,
    pub p99: Option<Comparison>,
}

impl Comparisons {
    /// The metrics compared, by name.
    pub fn all(&self) -> impl Iterator<Item = (&'static str, &Comparison)> {
        [("TPS", &self.tps), ("p95", &self.p95), ("p99", &self.p99)]
            .into_iter()
            .filter_map(|(m, c)| c.as_ref().map(|c| (m, c)))
    }

    /// The metrics whose verdict is `verdict`.
    pub fn with(&self, verdict: Verdict) -> Vec<&'static str> {
        self.all()
            .filter(|(_, c)| c.verdict == verdict)
            .map(|(m, _)| m)
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TestRow {
    pub name: String,
    /// The first repetition's run.
    pub run_id: Uuid,
    /// COMPLETED when every repetition completed; otherwise the first other status.
    pub status: String,
    pub error: Option<String>,
    /// Medians over the completed repetitions.
    pub tps: Option<f64>,
    pub latency_ms: Option<LatencySummary>,
    /// Sums over the completed repetitions.
    pub transactions: Option<u64>,
    pub errors: Option<u64>,
    /// The measured window of one run (the median).
    pub duration_s: Option<f64>,
    /// (TPS - baseline TPS) / baseline TPS, in percent, of the medians.
    pub tps_delta_pct: Option<f64>,
    /// (p95 - baseline p95) / baseline p95, in percent (negative is better).
    pub p95_delta_pct: Option<f64>,
    pub tps_summary: Option<Summary>,
    pub p95_summary: Option<Summary>,
    pub p99_summary: Option<Summary>,
    /// Against the baseline (unset for the baseline itself).
    pub comparison: Option<Comparisons>,
    pub repetitions: Vec<RepetitionRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SuiteResult {
    pub baseline: String,
    pub significance: Significance,
    /// The bootstrap's seed: the same numbers and seed give the same intervals.
    pub seed: u64,
    pub tests: Vec<TestRow>,
    /// Highest and lowest median TPS among the completed tests.
    pub best: Option<String>,
    pub worst: Option<String>,
    pub completed: usize,
    pub failed: usize,
    /// Tests with a regression verdict on any metric.
    #[serde(default)]
    pub regressed: Vec<String>,
    /// Runs whose throughput was not steady, as `<test>#<repetition>`.
    #[serde(default)]
    pub unsteady: Vec<String>,
}

/// The measured runs of a test run, from its outputs: the load step's (one run, or each
/// on a reused database) with the database machine's samples of each run's window.
pub fn measured_runs(load: Option<&Value>, database_machine: Option<&Value>) -> Vec<LoadResult> {
    let Some(load) = load.and_then(|v| serde_json::from_value::<LoadResult>(v.clone()).ok()) else {
        return Vec::new();
    };
    let machine: Option<MachineSamples> =
        database_machine.and_then(|v| serde_json::from_value(v.clone()).ok());
    let mut windows = machine.map(|m| m.windows).unwrap_or_default().into_iter();
    load.runs()
        .into_iter()
        .map(|run| LoadResult {
            database_machine: windows.next().unwrap_or_default(),
            ..run
        })
        .collect()
}

fn delta(value: f64, base: f64) -> Option<f64> {
    (base > 0.0).then(|| (value - base) / base * 100.0)
}

fn median(values: &[f64]) -> Option<f64> {
    stats::summarize(values).map(|s| s.median)
}

/// The repetitions of one test that measured something.
struct Measured<'a> {
    results: Vec<&'a LoadResult>,
}

impl Measured<'_> {
    fn metric(&self, f: impl Fn(&LoadResult) -> f64) -> Vec<f64> {
        self.results.iter().map(|r| f(r)).collect()
    }
}

/// What tests are compared against, and how.
#[derive(Debug, Clone, Copy)]
pub struct Basis<'a> {
    /// The test the others are compared with.
    pub baseline: &'a str,
    pub significance: Significance,
    pub seed: u64,
}

/// Compare the tests in `outcomes` (one per repetition, in any order; tests are listed in
/// the order they first appear).
pub fn aggregate(suite: &Basis, outcomes: &[TestOutcome]) -> SuiteResult {
    let runs_of = |name: &str| -> Vec<&TestOutcome> {
        let mut runs: Vec<&TestOutcome> = outcomes.iter().filter(|o| o.name == name).collect();
        runs.sort_by_key(|o| o.repetition);
        runs
    };
    fn measured<'a>(runs: &[&'a TestOutcome]) -> Measured<'a> {
        Measured {
            results: runs
                .iter()
                .filter(|o| o.status == "COMPLETED")
                .filter_map(|o| o.result.as_ref())
                .collect(),
        }
    }
    let mut names: Vec<&str> = Vec::new();
    for o in outcomes {
        if !names.contains(&o.name.as_str()) {
            names.push(&o.name);
        }
    }
    let base_runs = runs_of(suite.baseline);
    let base = measured(&base_runs);
    let compare = |m: &Measured, f: fn(&LoadResult) -> f64, d: Direction| {
        stats::compare(
            &base.metric(f),
            &m.metric(f),
            d,
            suite.significance,
            suite.seed,
        )
    };
    let mut tests = Vec::new();
    for name in names {
        let runs = runs_of(name);
        let Some(first) = runs.first() else {
            continue;
        };
        let m = measured(&runs);
        let tps = m.metric(|r| r.tps);
        let p95 = m.metric(|r| r.latency_ms.p95);
        let p99 = m.metric(|r| r.latency_ms.p99);
        let failed = runs.iter().find(|o| o.status != "COMPLETED");
        let latency_ms = (!m.results.is_empty()).then(|| LatencySummary {
            avg: median(&m.metric(|r| r.latency_ms.avg)).unwrap_or_default(),
            p50: median(&m.metric(|r| r.latency_ms.p50)).unwrap_or_default(),
            p90: median(&m.metric(|r| r.latency_ms.p90)).unwrap_or_default(),
            p95: median(&p95).unwrap_or_default(),
            p99: median(&p99).unwrap_or_default(),
            max: m
                .metric(|r| r.latency_ms.max)
                .into_iter()
                .fold(0.0, f64::max),
        });
        let base_tps = median(&base.metric(|r| r.tps));
        let base_p95 = median(&base.metric(|r| r.latency_ms.p95));
        let comparison = (name != suite.baseline && !m.results.is_empty()).then(|| Comparisons {
            tps: compare(&m, |r| r.tps, Direction::HigherIsBetter),
            p95: compare(&m, |r| r.latency_ms.p95, Direction::LowerIsBetter),
            p99: compare(&m, |r| r.latency_ms.p99, Direction::LowerIsBetter),
        });
        tests.push(TestRow {
            name: name.to_string(),
            run_id: first.run_id,
            status: failed
                .map_or("COMPLETED", |o| o.status.as_str())
                .to_string(),
            error: failed.and_then(|o| o.error.clone()),
            tps: median(&tps),
            latency_ms,
            transactions: (!m.results.is_empty())
                .then(|| m.results.iter().map(|r| r.transactions).sum()),
            errors: (!m.results.is_empty()).then(|| m.results.iter().map(|r| r.errors).sum()),
            duration_s: median(&m.metric(|r| r.duration_s)),
            tps_delta_pct: median(&tps).zip(base_tps).and_then(|(v, b)| delta(v, b)),
            p95_delta_pct: median(&p95).zip(base_p95).and_then(|(v, b)| delta(v, b)),
            tps_summary: stats::summarize(&tps),
            p95_summary: stats::summarize(&p95),
            p99_summary: stats::summarize(&p99),
            comparison,
            repetitions: runs.iter().map(|o| repetition_row(o)).collect(),
        });
    }
    let measured = || tests.iter().filter_map(|t| t.tps.map(|tps| (t, tps)));
    let best = measured()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(t, _)| t.name.clone());
    let worst = measured()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(t, _)| t.name.clone());
    SuiteResult {
        baseline: suite.baseline.to_string(),
        significance: suite.significance,
        seed: suite.seed,
        completed: tests.iter().filter(|t| t.status == "COMPLETED").count(),
        failed: tests.iter().filter(|t| t.status != "COMPLETED").count(),
        regressed: tests
            .iter()
            .filter(|t| {
                t.comparison
                    .as_ref()
                    .is_some_and(|c| !c.with(Verdict::Regression).is_empty())
            })
            .map(|t| t.name.clone())
            .collect(),
        unsteady: tests
            .iter()
            .flat_map(|t| {
                t.repetitions
                    .iter()
                    .filter(|r| r.steadiness.as_ref().is_some_and(|s| !s.steady))
                    .map(|r| format!("{}#{}", t.name, r.repetition))
            })
            .collect(),
        tests,
        best,
        worst,
    }
}

fn repetition_row(o: &TestOutcome) -> RepetitionRow {
    let r = o.result.as_ref();
    RepetitionRow {
        repetition: o.repetition,
        run_id: o.run_id,
        status: o.status.clone(),
        error: o.error.clone(),
        tps: r.map(|r| r.tps),
        p95_ms: r.map(|r| r.latency_ms.p95),
        p99_ms: r.map(|r| r.latency_ms.p99),
        steadiness: r.and_then(|r| {
            let series: Vec<(f64, f64)> = r.series.iter().map(|p| (p.t_s, p.tps)).collect();
            stats::steadiness(&series)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(name: &str, repetition: u32, tps: Option<f64>, p95: f64) -> TestOutcome {
        TestOutcome {
            name: name.into(),
            repetition,
            run_id: Uuid::nil(),
            status: if tps.is_some() { "COMPLETED" } else { "FAILED" }.into(),
            error: tps.is_none().then(|| "boom".into()),
            result: tps.map(|tps| LoadResult {
                tps,
                latency_ms: LatencySummary {
                    p95,
                    p99: p95 * 2.0,
                    ..Default::default()
                },
                ..Default::default()
            }),
        }
    }

    fn suite(baseline: &str) -> Basis<'_> {
        Basis {
            baseline,
            seed: 7,
            significance: Significance::default(),
        }
    }

    #[test]
    fn deltas_are_against_the_baseline_and_failures_are_counted() {
        let r = aggregate(
            &suite("a"),
            &[
                outcome("a", 1, Some(1000.0), 2.0),
                outcome("b", 1, Some(1250.0), 1.5),
                outcome("c", 1, None, 0.0),
            ],
        );
        assert_eq!(r.tests[1].tps_delta_pct, Some(25.0));
        assert_eq!(r.tests[1].p95_delta_pct, Some(-25.0));
        assert_eq!(r.tests[0].tps_delta_pct, Some(0.0));
        assert_eq!(r.tests[2].tps_delta_pct, None);
        assert_eq!(
            (r.best.as_deref(), r.worst.as_deref()),
            (Some("b"), Some("a"))
        );
        assert_eq!((r.completed, r.failed), (2, 1));
        let tps = r.tests[1]
            .comparison
            .as_ref()
            .unwrap()
            .tps
            .as_ref()
            .unwrap();
        assert_eq!(tps.verdict, Verdict::Inconclusive);
        assert!(tps.reason.starts_with("1 run"));
        assert!(r.tests[0].comparison.is_none());
    }

    #[test]
    fn repetitions_give_medians_verdicts_and_the_regressed_tests() {
        let mut all = Vec::new();
        for (i, (a, b, c)) in [
            (1000.0, 700.0, 1005.0),
            (1010.0, 690.0, 995.0),
            (990.0, 710.0, 1000.0),
        ]
        .into_iter()
        .enumerate()
        {
            let rep = i as u32 + 1;
            all.push(outcome("a", rep, Some(a), 2.0));
            all.push(outcome("b", rep, Some(b), 3.0 + i as f64 * 0.01));
            all.push(outcome("c", rep, Some(c), 2.0));
        }
        let r = aggregate(&suite("a"), &all);
        assert_eq!(r.tests[0].tps, Some(1000.0));
        assert_eq!(r.tests[0].repetitions.len(), 3);
        assert_eq!(r.tests[1].tps_summary.as_ref().unwrap().n, 3);
        let b = r.tests[1].comparison.as_ref().unwrap();
        assert_eq!(b.tps.as_ref().unwrap().verdict, Verdict::Regression);
        assert_eq!(b.p95.as_ref().unwrap().verdict, Verdict::Regression);
        let c = r.tests[2].comparison.as_ref().unwrap();
        assert_ne!(c.tps.as_ref().unwrap().verdict, Verdict::Regression);
        assert_eq!(r.regressed, vec!["b".to_string()]);
    }
}
