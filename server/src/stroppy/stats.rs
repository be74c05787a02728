//! The statistics behind "is this delta real?": a test's repetitions summarised, each
//! run's per-second series checked for steadiness, and a candidate compared with the
//! baseline by a bootstrap confidence interval of the ratio of their medians, read against
//! the suite's threshold of what counts as a significant effect.
//!
//! The maths (medians, quantiles, moments, covariance) is statrs'; the bootstrap's
//! resampling uses a seeded ChaCha generator, so the same numbers and seed always give the
//! same interval and verdict.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use statrs::statistics::{Data, OrderStatistics, Statistics};

/// Fewer repetitions than this on either side give no verdict: with two, a bootstrap of
/// medians has nothing to resample.
pub const MIN_RUNS: usize = 3;

/// Bootstrap resamples per comparison: enough for stable 2.5 % / 97.5 % quantiles, and
/// milliseconds of work.
const RESAMPLES: usize = 10_000;

/// A set of measurements (one per repetition).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Summary {
    pub n: usize,
    pub median: f64,
    pub mean: f64,
    /// Sample standard deviation (0 for a single run).
    pub std_dev: f64,
    /// Coefficient of variation: `std_dev / mean`, in percent.
    pub cv_pct: f64,
    pub min: f64,
    pub max: f64,
}

pub fn summarize(values: &[f64]) -> Option<Summary> {
    if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mean = values.mean();
    let std_dev = if values.len() > 1 {
        values.std_dev()
    } else {
        0.0
    };
    Some(Summary {
        n: values.len(),
        median: median(values),
        mean,
        std_dev,
        cv_pct: if mean != 0.0 {
            std_dev / mean.abs() * 100.0
        } else {
            0.0
        },
        min: Statistics::min(values),
        max: Statistics::max(values),
    })
}

fn median(values: &[f64]) -> f64 {
    Data::new(values.to_vec()).median()
}

/// What "significant" means for a suite: an effect smaller than `min_effect` is no
/// difference worth acting on, and the interval is taken at `confidence`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Significance {
    /// The smallest effect that matters, as a fraction (0.02 is 2 %).
    pub min_effect: f64,
    /// The confidence level of the interval, e.g. 0.95.
    pub confidence: f64,
}

impl Default for Significance {
    fn default() -> Self {
        Significance {
            min_effect: 0.02,
            confidence: 0.95,
        }
    }
}

/// Whether more of a metric is better (throughput) or worse (latency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The whole interval is beyond the threshold, on the good side.
    Improvement,
    /// The whole interval is beyond the threshold, on the bad side.
    Regression,
    /// The whole interval is within the threshold: any difference is smaller than what
    /// matters.
    NoDifference,
    /// Too few runs, or an interval that crosses the threshold (too noisy to tell).
    Inconclusive,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Improvement => "improvement",
            Verdict::Regression => "regression",
            Verdict::NoDifference => "no significant difference",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// A candidate against the baseline, on one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Comparison {
    /// Candidate median / baseline median.
    pub ratio: f64,
    /// `(ratio - 1) * 100`.
    pub delta_pct: f64,
    /// The confidence interval of the ratio (unset with too few runs).
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub verdict: Verdict,
    /// Why, in a sentence.
    pub reason: String,
}

/// Compare `candidate` with `baseline` (one value per repetition). `None` when either side
/// has no measurement or the baseline's median is not positive.
pub fn compare(
    baseline: &[f64],
    candidate: &[f64],
    direction: Direction,
    significance: Significance,
    seed: u64,
) -> Option<Comparison> {
    if baseline.is_empty() || candidate.is_empty() {
        return None;
    }
    let base = median(baseline);
    // (NaN is not positive either.)
    if base.is_nan() || base <= 0.0 || candidate.iter().chain(baseline).any(|v| !v.is_finite()) {
        return None;
    }
    let ratio = median(candidate) / base;
    let delta_pct = (ratio - 1.0) * 100.0;
    let fewest = baseline.len().min(candidate.len());
    if fewest < MIN_RUNS {
        let runs = if fewest == 1 {
            "1 run".to_string()
        } else {
            format!("{fewest} runs")
        };
        return Some(Comparison {
            ratio,
            delta_pct,
            low: None,
            high: None,
            verdict: Verdict::Inconclusive,
            reason: format!("{runs}: a verdict needs {MIN_RUNS} repetitions of each test"),
        });
    }
    let (low, high) = bootstrap_interval(baseline, candidate, significance.confidence, seed);
    let upper = 1.0 + significance.min_effect;
    let lower = 1.0 - significance.min_effect;
    let (good, bad) = match direction {
        Direction::HigherIsBetter => (low > upper, high < lower),
        Direction::LowerIsBetter => (high < lower, low > upper),
    };
    let interval = format!(
        "{:.0} % interval {:+.1} % to {:+.1} %",
        significance.confidence * 100.0,
        (low - 1.0) * 100.0,
        (high - 1.0) * 100.0
    );
    let threshold = format!("±{:.1} %", significance.min_effect * 100.0);
    let (verdict, reason) = if good {
        (
            Verdict::Improvement,
            format!("{interval}: beyond {threshold}"),
        )
    } else if bad {
        (
            Verdict::Regression,
            format!("{interval}: beyond {threshold}"),
        )
    } else if low >= lower && high <= upper {
        (
            Verdict::NoDifference,
            format!("{interval}: within {threshold}"),
        )
    } else {
        (
            Verdict::Inconclusive,
            format!(
                "{interval} crosses {threshold}: too noisy to tell; more repetitions narrow it"
            ),
        )
    };
    Some(Comparison {
        ratio,
        delta_pct,
        low: Some(low),
        high: Some(high),
        verdict,
        reason,
    })
}

/// A percentile bootstrap of median(candidate) / median(baseline): both sides resampled
/// with replacement, independently.
fn bootstrap_interval(
    baseline: &[f64],
    candidate: &[f64],
    confidence: f64,
    seed: u64,
) -> (f64, f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut resample = |values: &[f64], buffer: &mut Vec<f64>| {
        buffer.clear();
        buffer.extend((0..values.len()).map(|_| values[rng.random_range(0..values.len())]));
        Data::new(buffer.as_mut_slice()).median()
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let ratios: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            let base = resample(baseline, &mut a);
            resample(candidate, &mut b) / base
        })
        .filter(|r| r.is_finite())
        .collect();
    let tail = (1.0 - confidence.clamp(0.5, 0.999)) / 2.0;
    let mut ratios = Data::new(ratios);
    (ratios.quantile(tail), ratios.quantile(1.0 - tail))
}

/// Was a run's load steady over its measured window?
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Steadiness {
    pub steady: bool,
    /// The least-squares trend over the window, as a change of the mean, in percent.
    pub drift_pct: f64,
    /// The lowest 3-second mean, as a fraction of the run's median.
    pub lowest_pct: f64,
    /// What is wrong, when it is not steady.
    pub note: Option<String>,
}

/// A trend that moves throughput this much over the window is flagged.
const MAX_DRIFT_PCT: f64 = 20.0;
/// A 3-second mean below this share of the median is a collapse.
const MIN_LOWEST_PCT: f64 = 50.0;

/// Check the per-second series `(t_s, value)` of one run; `None` with under 5 points.
pub fn steadiness(series: &[(f64, f64)]) -> Option<Steadiness> {
    if series.len() < 5 {
        return None;
    }
    let t: Vec<f64> = series.iter().map(|p| p.0).collect();
    let y: Vec<f64> = series.iter().map(|p| p.1).collect();
    let mean = y.as_slice().mean();
    let middle = median(&y);
    if mean.is_nan() || mean <= 0.0 {
        return None;
    }
    let slope = t.as_slice().covariance(y.as_slice()) / t.as_slice().variance();
    let span = t.last().copied().unwrap_or(0.0) - t.first().copied().unwrap_or(0.0);
    let drift_pct = slope * span / mean * 100.0;
    let lowest = y.windows(3).map(|w| w.mean()).fold(f64::INFINITY, f64::min);
    let lowest_pct = lowest / middle * 100.0;
    let mut notes = Vec::new();
    if drift_pct.abs() > MAX_DRIFT_PCT {
        notes.push(format!(
            "throughput {} by {:.0} % over the window (a trend: a longer warm-up or load may be needed)",
            if drift_pct > 0.0 { "rose" } else { "fell" },
            drift_pct.abs()
        ));
    }
    if lowest_pct < MIN_LOWEST_PCT {
        notes.push(format!(
            "throughput collapsed to {lowest_pct:.0} % of its median for 3 s (a stall: checkpoint, vacuum, lock?)"
        ));
    }
    Some(Steadiness {
        steady: notes.is_empty(),
        drift_pct,
        lowest_pct,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` values around `center` with relative noise `noise` (normal, by Box-Muller).
    fn sample(rng: &mut ChaCha8Rng, n: usize, center: f64, noise: f64) -> Vec<f64> {
        (0..n)
            .map(|_| {
                let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                center * (1.0 + noise * z)
            })
            .collect()
    }

    fn verdicts(shift: f64, noise: f64, n: usize, seeds: u64) -> Vec<Verdict> {
        (0..seeds)
            .map(|seed| {
                let mut rng = ChaCha8Rng::seed_from_u64(1000 + seed);
                let a = sample(&mut rng, n, 1000.0, noise);
                let b = sample(&mut rng, n, 1000.0 * (1.0 + shift), noise);
                compare(
                    &a,
                    &b,
                    Direction::HigherIsBetter,
                    Significance::default(),
                    seed,
                )
                .unwrap()
                .verdict
            })
            .collect()
    }

    #[test]
    fn equal_distributions_are_no_difference_in_at_least_95_percent_of_seeds() {
        let v = verdicts(0.0, 0.005, 5, 200);
        let same = v.iter().filter(|v| **v == Verdict::NoDifference).count();
        assert!(same >= 190, "{same} of 200 said no difference: {v:?}");
        assert!(!v.contains(&Verdict::Regression) && !v.contains(&Verdict::Improvement));
    }

    #[test]
    fn a_ten_percent_shift_with_low_noise_is_an_improvement_and_the_reverse_a_regression() {
        assert!(
            verdicts(0.10, 0.01, 5, 50)
                .iter()
                .all(|v| *v == Verdict::Improvement)
        );
        assert!(
            verdicts(-0.10, 0.01, 5, 50)
                .iter()
                .all(|v| *v == Verdict::Regression)
        );
    }

    #[test]
    fn noisy_runs_are_inconclusive_and_one_run_says_so() {
        let v = verdicts(0.03, 0.08, 3, 50);
        assert!(
            v.iter().filter(|v| **v == Verdict::Inconclusive).count() > 40,
            "{v:?}"
        );
        let one = compare(
            &[1000.0],
            &[1200.0],
            Direction::HigherIsBetter,
            Significance::default(),
            1,
        )
        .unwrap();
        assert_eq!(one.verdict, Verdict::Inconclusive);
        assert!(one.reason.starts_with("1 run"), "{}", one.reason);
        assert!((one.delta_pct - 20.0).abs() < 1e-9);
        assert_eq!((one.low, one.high), (None, None));
    }

    #[test]
    fn lower_latency_is_the_improvement() {
        let a = [2.0, 2.02, 1.98, 2.01, 1.99];
        let b = [1.5, 1.52, 1.48, 1.51, 1.49];
        let c = compare(&a, &b, Direction::LowerIsBetter, Significance::default(), 7).unwrap();
        assert_eq!(c.verdict, Verdict::Improvement, "{}", c.reason);
        assert!(c.high.unwrap() < 0.8);
    }

    #[test]
    fn the_interval_is_reproducible_from_its_seed() {
        let a = [1000.0, 1010.0, 990.0, 1005.0];
        let b = [1050.0, 1040.0, 1070.0, 1030.0];
        let sig = Significance::default();
        let x = compare(&a, &b, Direction::HigherIsBetter, sig, 42).unwrap();
        let y = compare(&a, &b, Direction::HigherIsBetter, sig, 42).unwrap();
        assert_eq!(x, y);
        assert!(x.low.unwrap() <= x.ratio && x.ratio <= x.high.unwrap());
    }

    #[test]
    fn summaries_and_steadiness() {
        let s = summarize(&[10.0, 12.0, 14.0]).unwrap();
        assert_eq!(
            (s.n, s.median, s.mean, s.min, s.max),
            (3, 12.0, 12.0, 10.0, 14.0)
        );
        assert!((s.std_dev - 2.0).abs() < 1e-9 && (s.cv_pct - 100.0 / 6.0).abs() < 1e-9);
        assert_eq!(summarize(&[5.0]).unwrap().std_dev, 0.0);
        assert_eq!(summarize(&[]), None);

        let flat: Vec<(f64, f64)> = (1..=20)
            .map(|t| (t as f64, 1000.0 + (t % 3) as f64))
            .collect();
        assert!(steadiness(&flat).unwrap().steady);
        let falling: Vec<(f64, f64)> = (1..=20)
            .map(|t| (t as f64, 1000.0 - 30.0 * t as f64))
            .collect();
        let f = steadiness(&falling).unwrap();
        assert!(!f.steady && f.drift_pct < -20.0, "{f:?}");
        let mut stall = flat.clone();
        for p in &mut stall[8..12] {
            p.1 = 100.0;
        }
        let s = steadiness(&stall).unwrap();
        assert!(!s.steady && s.note.unwrap().contains("collapsed"));
        assert_eq!(steadiness(&flat[..3]), None);
    }
}
