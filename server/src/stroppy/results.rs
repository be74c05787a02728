//! A suite's results: one row per test (TPS, latency percentiles, errors, duration), with
//! deltas against the baseline test, and the best and worst by TPS.

use protocol::actions::{LatencySummary, LoadResult};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How one test ended, as the suite sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestOutcome {
    pub name: String,
    pub run_id: Uuid,
    /// The test run's status: COMPLETED, FAILED or CANCELLED.
    pub status: String,
    pub error: Option<String>,
    pub result: Option<LoadResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TestRow {
    pub name: String,
    pub run_id: Uuid,
    pub status: String,
    pub error: Option<String>,
    pub tps: Option<f64>,
    pub latency_ms: Option<LatencySummary>,
    pub transactions: Option<u64>,
    pub errors: Option<u64>,
    pub duration_s: Option<f64>,
    /// (TPS - baseline TPS) / baseline TPS, in percent.
    pub tps_delta_pct: Option<f64>,
    /// (p95 - baseline p95) / baseline p95, in percent (negative is better).
    pub p95_delta_pct: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SuiteResult {
    pub baseline: String,
    pub tests: Vec<TestRow>,
    /// Highest and lowest TPS among the completed tests.
    pub best: Option<String>,
    pub worst: Option<String>,
    pub completed: usize,
    pub failed: usize,
}

fn delta(value: f64, base: f64) -> Option<f64> {
    (base > 0.0).then(|| (value - base) / base * 100.0)
}

pub fn aggregate(baseline: &str, outcomes: &[TestOutcome]) -> SuiteResult {
    let base = outcomes
        .iter()
        .find(|o| o.name == baseline)
        .and_then(|o| o.result.as_ref());
    let tests: Vec<TestRow> = outcomes
        .iter()
        .map(|o| {
            let r = o.result.as_ref();
            TestRow {
                name: o.name.clone(),
                run_id: o.run_id,
                status: o.status.clone(),
                error: o.error.clone(),
                tps: r.map(|r| r.tps),
                latency_ms: r.map(|r| r.latency_ms.clone()),
                transactions: r.map(|r| r.transactions),
                errors: r.map(|r| r.errors),
                duration_s: r.map(|r| r.duration_s),
                tps_delta_pct: r.zip(base).and_then(|(r, b)| delta(r.tps, b.tps)),
                p95_delta_pct: r
                    .zip(base)
                    .and_then(|(r, b)| delta(r.latency_ms.p95, b.latency_ms.p95)),
            }
        })
        .collect();
    let measured = || tests.iter().filter_map(|t| t.tps.map(|tps| (t, tps)));
    let best = measured()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(t, _)| t.name.clone());
    let worst = measured()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(t, _)| t.name.clone());
    SuiteResult {
        baseline: baseline.to_string(),
        completed: tests.iter().filter(|t| t.status == "COMPLETED").count(),
        failed: tests.iter().filter(|t| t.status != "COMPLETED").count(),
        tests,
        best,
        worst,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(name: &str, tps: Option<f64>, p95: f64) -> TestOutcome {
        TestOutcome {
            name: name.into(),
            run_id: Uuid::nil(),
            status: if tps.is_some() { "COMPLETED" } else { "FAILED" }.into(),
            error: tps.is_none().then(|| "boom".into()),
            result: tps.map(|tps| LoadResult {
                tps,
                latency_ms: LatencySummary {
                    p95,
                    ..Default::default()
                },
                ..Default::default()
            }),
        }
    }

    #[test]
    fn deltas_are_against_the_baseline_and_failures_are_counted() {
        let r = aggregate(
            "a",
            &[
                outcome("a", Some(1000.0), 2.0),
                outcome("b", Some(1250.0), 1.5),
                outcome("c", None, 0.0),
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
    }
}
