//! Parser for the end-of-run results of Stroppy (github.com/stroppy-io/stroppy).
//!
//! What Stroppy is and how it is run (read from its repository: README, CHANGELOG,
//! `cmd/stroppy/commands/run/run.go`, `help/topic_drivers.go`, `pkg/bench/policy.go`,
//! `pkg/bench/runtime.go`, `pkg/report/report.go`, `docs/run-reports.md`,
//! `.github/workflows/release.yml`, and the stroppy-io/stroppy-action sources):
//!
//! - **v6 (6.0.0, 2026-09-08, and later) is a plain Go binary: k6 was removed.** Run:
//!   `stroppy run <workload> [sql_file] -d pg -D url=postgres://USER:PASS@HOST:PORT/DB
//!   --executor constant-vus --vus N --duration 5m [--scale-factor S] [--steps a,b |
//!   --no-steps a] [--report-file out.json] [--report-format json] [--log-level info]
//!   [--log-mode production] [-f stroppy-config.json]`. Workloads: `tpcb/tx`, `tpcb/procs`,
//!   `tpcc/tx`, `tpcc/procs`, `tpch/tx`, `tpcds`, `simple`, `execute_sql`, a `.sql` file,
//!   or inline SQL; TPC-B and TPC-C take `--scale-factor` (TPC-C also reads `WAREHOUSES`).
//!   The run defaults are `--executor shared-iterations --vus 1 --iterations 1`
//!   (`--duration` only applies to `constant-vus`, default 1m; `--drain-timeout` 30s;
//!   `--query-timeout` 0), so a timed run must pass `--executor constant-vus`.
//!   Every typed flag `--name` can also come from the environment as `NAME` upper-snake
//!   (`VUS`, `DURATION`, `EXECUTOR`, `SCALE_FACTOR`, …); boolean flags need `=true|false`;
//!   `stroppy run <workload> --help` lists a workload's flags. Driver presets `-d pg|mysql|
//!   pico|ydb|noop` (pg = `postgres://postgres:postgres@localhost:5432`; no `-d` means that
//!   preset), overrides `-D url=…`, `-D pool.maxConns=N`. Human summary and logs go to
//!   stderr: a `=== bench summary ===` block and, after nonfatal errors, a
//!   `=== bench completed with errors ===` block. Since 6.1.0 a versioned JSON run report
//!   is written with `--report-file PATH` (atomically) or to stdout with
//!   `--report-format json` (stdout then holds only that document). Exit status: 0 also
//!   after nonfatal errors; 1 setup/validation/fatal; 130/143 after SIGINT/SIGTERM; 2 forced.
//! - **v5 (up to 5.7.3, 2026-07-29) ran k6 (xk6) with TypeScript workloads**:
//!   `stroppy run tpcb/tx -d pg -D url=… -e SCALE_FACTOR=10 -- --vus 8 --duration 5m
//!   --summary-export out.json` (k6 flags after `--`); it printed k6's end-of-test
//!   summary. Its helpers define the k6 metrics `tx_count`, `tx_commit_rate`,
//!   `tx_error_rate`, `tx_total_duration`, `tx_clean_duration`, `tx_queries_per_tx`,
//!   `tx_tps`, `run_query_count`, `run_query_duration`, `run_query_error_rate`,
//!   `insert_duration`, `insert_error_rate`. TPC-C replaced the k6 summary with its own
//!   text via `handleSummary` (not parsed here: use `--summary-export`).
//! - Releases: `https://github.com/stroppy-io/stroppy/releases/download/vX.Y.Z/
//!   stroppy_linux_amd64.tar.gz` (also `linux_arm64`, `darwin_amd64`, `darwin_arm64`);
//!   the archive holds one `stroppy` binary at its root; `stroppy version` prints the tag.
//!
//! [`parse_summary`] accepts, in this order of preference: a Stroppy v6 JSON run report,
//! a k6 JSON summary (`--summary-export` or `handleSummary` data), the v6
//! `=== bench summary ===` text, or a k6 text summary (legacy or v1 grouped). The text
//! may be whole tool output with log lines and ANSI colours.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// Why no result could be read, worded for the person who must fix it.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Nothing that looks like a summary or report was found.
    #[error(
        "no end-of-test results found in the output: expected Stroppy's `=== bench summary ===` \
         block, its JSON run report (--report-file), or a k6 summary (lines like \
         `iterations....: 12345 205.7/s`); did the run reach its workload step? \
         Last non-empty line: `{last_line}`"
    )]
    NoSummary {
        /// The last non-empty line of the output (cut to 200 characters), a hint at what happened.
        last_line: String,
    },
    /// Stroppy ran but measured nothing.
    #[error(
        "Stroppy printed `bench: no metrics recorded`: the selected steps ran no measured work \
         (check --steps/--no-steps)"
    )]
    NoMetricsRecorded,
    /// The text is a JSON document that does not parse.
    #[error("the output looks like a JSON report but is not valid JSON: {0}")]
    Json(String),
}

/// Which kind of result the numbers were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SummaryFormat {
    /// Stroppy v6 JSON run report (`--report-file` / `--report-format json`).
    StroppyReport,
    /// Stroppy v6 `=== bench summary ===` text on stderr.
    StroppyText,
    /// k6 JSON summary (`--summary-export`, or `handleSummary` data).
    K6Json,
    /// k6 end-of-test text summary, legacy or v1 grouped.
    K6Text,
}

/// Latency statistics in milliseconds; each is absent when the source does not print it
/// (k6 prints no p99 by default; Stroppy v6 has no min/max and its percentiles are
/// histogram bucket bounds).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LatencyStats {
    /// Mean.
    pub avg_ms: Option<f64>,
    /// Minimum.
    pub min_ms: Option<f64>,
    /// Median (k6 `med`).
    pub p50_ms: Option<f64>,
    /// 90th percentile.
    pub p90_ms: Option<f64>,
    /// 95th percentile.
    pub p95_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// Maximum.
    pub max_ms: Option<f64>,
}

/// One metric as the tool reported it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Metric {
    /// Distribution statistics keyed as k6 names them (`avg`, `min`, `med`, `max`,
    /// `p(90)`, `p(95)`, `p(99)`, `count`); durations are in milliseconds when `time`.
    Trend {
        /// The statistics.
        values: BTreeMap<String, f64>,
        /// Whether the values are durations (normalised to ms).
        time: bool,
    },
    /// A total and, for k6, its rate per second over the whole test (bytes for data counters).
    Counter {
        /// Total.
        count: f64,
        /// Per second.
        rate: Option<f64>,
    },
    /// Share of non-zero samples: `passes` are the non-zero (true) ones.
    Rate {
        /// 100 × passes / (passes + fails).
        percent: f64,
        /// Non-zero samples (for `tx_error_rate`: errors; for `checks`: successful checks).
        passes: u64,
        /// Zero samples.
        fails: u64,
    },
    /// A last value, with k6's min and max.
    Gauge {
        /// Value.
        value: f64,
        /// Minimum seen.
        min: Option<f64>,
        /// Maximum seen.
        max: Option<f64>,
    },
}

/// The figures Ratchet keeps from one Stroppy run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StroppySummary {
    /// Where the figures come from.
    pub format: SummaryFormat,
    /// Transactions (or iterations) per second.
    pub tps: Option<f64>,
    /// Completed transactions (or iterations).
    pub transactions: Option<u64>,
    /// Failed transactions/iterations/queries, see [`parse_summary`].
    pub errors: u64,
    /// Measured duration (v6) or whole test duration (k6, including setup), seconds.
    pub duration_s: Option<f64>,
    /// Latency of the chosen latency metric.
    pub latency: Option<LatencyStats>,
    /// Name of the metric `tps`/`transactions` come from.
    pub transaction_metric: Option<String>,
    /// Name of the metric `latency` comes from.
    pub latency_metric: Option<String>,
    /// v6 report `status`: completed, completed_with_errors, failed or canceled.
    pub status: Option<String>,
    /// Every metric found.
    pub metrics: BTreeMap<String, Metric>,
}

/// Finds and reads the end-of-run results in Stroppy's (or k6's) output.
///
/// Choices: transactions come from Stroppy's own metrics when present
/// (v6: `successful_transactions_total`, `tx_commits_total`; v5: `tx_commit_rate` passes,
/// `tx_count`), else from `iterations`/`iterations_total`. TPS is v6's `tps` gauge, or v5's
/// `tx_tps` average, or the counter's rate / count over the duration. Latency is
/// `tx_total_duration`, else `iteration_duration`. Errors are v6 terminal errors; for k6,
/// the larger of `tx_error_rate` (else `run_query_error_rate`) trues and failed checks, or
/// without Stroppy metrics failed checks plus other error/failure rates and counters.
pub fn parse_summary(text: &str) -> Result<StroppySummary, ParseError> {
    let clean = strip_ansi(text);

    if let Some(doc) = find_json_report(&clean)? {
        return Ok(doc);
    }
    if let Some(summary) = parse_stroppy_text(&clean)? {
        return Ok(summary);
    }
    let (metrics, running_s) = parse_k6_text(&clean);
    if metrics.is_empty() {
        return Err(ParseError::NoSummary {
            last_line: last_non_empty_line(&clean),
        });
    }
    Ok(summarize_k6(SummaryFormat::K6Text, metrics, running_s))
}

fn last_non_empty_line(text: &str) -> String {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

/// Removes ANSI escape sequences (CSI such as colours, and two-byte escapes) and turns
/// carriage returns into line breaks, since terminals use them to redraw progress lines.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                Some('[') => {
                    // Parameters and intermediates, then one final byte in 0x40..=0x7e.
                    for c in chars.by_ref() {
                        if ('\x40'..='\x7e').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    // OSC: up to BEL or ESC \.
                    while let Some(c) = chars.next() {
                        if c == '\x07' {
                            break;
                        }
                        if c == '\x1b' {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            _ => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------- JSON documents

/// Looks for a JSON document starting at the beginning of a line: a Stroppy run report
/// (`"kind": "run"`) or a k6 summary (a `metrics` object). Log lines in JSON form are
/// skipped because they lack those keys.
fn find_json_report(text: &str) -> Result<Option<StroppySummary>, ParseError> {
    let mut offset = 0;
    let mut first_error = None;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        if !line.trim_start().starts_with('{') {
            continue;
        }
        let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(value)) => {
                if let Some(summary) = summary_from_json(&value) {
                    return Ok(Some(summary));
                }
            }
            Some(Err(e)) if first_error.is_none() => first_error = Some(e.to_string()),
            Some(Err(_)) => {}
            None => {}
        }
    }
    // A document that is nothing but broken JSON (a truncated report file) deserves a
    // precise error rather than "no summary".
    if text.trim_start().starts_with('{')
        && let Some(e) = first_error
    {
        return Err(ParseError::Json(e));
    }
    Ok(None)
}

fn summary_from_json(doc: &Value) -> Option<StroppySummary> {
    let obj = doc.as_object()?;
    let metrics = obj.get("metrics")?.as_object()?;
    if obj.get("kind").and_then(Value::as_str) == Some("run") {
        return Some(summary_from_stroppy_report(obj, metrics));
    }
    let parsed: BTreeMap<String, Metric> = metrics
        .iter()
        .filter_map(|(name, v)| Some((name.clone(), k6_json_metric(name, v)?)))
        .collect();
    if parsed.is_empty() {
        return None;
    }
    let duration_s = obj
        .get("state")
        .and_then(|s| s.get("testRunDurationMs"))
        .and_then(Value::as_f64)
        .map(|ms| ms / 1000.0);
    Some(summarize_k6(SummaryFormat::K6Json, parsed, duration_s))
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64).filter(|f| f.is_finite())
}

fn count(v: &Value, key: &str) -> u64 {
    num(v, key).map_or(0, round_count)
}

/// Reads one k6 JSON metric: `handleSummary` data has `type`/`contains`/`values`,
/// `--summary-export` puts the values directly in the object.
fn k6_json_metric(name: &str, v: &Value) -> Option<Metric> {
    let (kind, time, values) = match v.get("values") {
        Some(values) => (
            v.get("type").and_then(Value::as_str)?.to_string(),
            v.get("contains").and_then(Value::as_str) == Some("time"),
            values,
        ),
        None => {
            let kind = if v.get("passes").is_some() || v.get("fails").is_some() {
                "rate"
            } else if v.get("count").is_some() {
                "counter"
            } else if v.get("avg").is_some() || v.get("med").is_some() {
                "trend"
            } else if v.get("value").is_some() {
                "gauge"
            } else {
                return None;
            };
            // The export does not say which trends hold durations; k6's and Stroppy's do
            // by name, and their values are milliseconds.
            (kind.to_string(), name.contains("duration"), v)
        }
    };
    match kind.as_str() {
        "trend" => {
            let mut stats: BTreeMap<String, f64> = values
                .as_object()?
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                .collect();
            normalise_median(&mut stats);
            Some(Metric::Trend {
                values: stats,
                time,
            })
        }
        "counter" => Some(Metric::Counter {
            count: num(values, "count")?,
            rate: num(values, "rate"),
        }),
        "rate" => {
            let passes = count(values, "passes");
            let fails = count(values, "fails");
            let fraction = num(values, "rate")
                .or_else(|| num(values, "value"))
                .unwrap_or_else(|| share(passes, fails));
            Some(Metric::Rate {
                percent: fraction * 100.0,
                passes,
                fails,
            })
        }
        "gauge" => Some(Metric::Gauge {
            value: num(values, "value")?,
            min: num(values, "min"),
            max: num(values, "max"),
        }),
        _ => None,
    }
}

fn share(passes: u64, fails: u64) -> f64 {
    let total = passes + fails;
    if total == 0 {
        0.0
    } else {
        passes as f64 / total as f64
    }
}

fn summary_from_stroppy_report(
    obj: &serde_json::Map<String, Value>,
    metrics: &serde_json::Map<String, Value>,
) -> StroppySummary {
    let parsed: BTreeMap<String, Metric> = metrics
        .iter()
        .filter_map(|(name, v)| Some((name.clone(), stroppy_json_metric(name, v)?)))
        .collect();
    let measurement = obj
        .get("measurement_seconds")
        .and_then(Value::as_f64)
        .filter(|s| *s > 0.0);
    let errors = obj
        .get("errors")
        .and_then(|e| e.get("terminal_errors"))
        .and_then(Value::as_u64);
    let status = obj
        .get("status")
        .and_then(Value::as_str)
        .map(str::to_string);
    summarize_stroppy(
        SummaryFormat::StroppyReport,
        parsed,
        measurement,
        errors,
        status,
    )
}

fn stroppy_json_metric(name: &str, v: &Value) -> Option<Metric> {
    match v.get("type")?.as_str()? {
        "counter" => Some(Metric::Counter {
            count: num(v, "total")?,
            rate: None,
        }),
        "gauge" => Some(Metric::Gauge {
            value: num(v, "total")?,
            min: None,
            max: None,
        }),
        "histogram" => {
            let unit = v.get("unit").and_then(Value::as_str).unwrap_or("");
            let scale = if unit == "s" { 1000.0 } else { 1.0 };
            let time = unit == "ms" || unit == "s" || is_v6_duration(name);
            let to_ms = |x: f64| if time { x * scale } else { x };
            let mut values = BTreeMap::new();
            if let Some(c) = num(v, "count") {
                values.insert("count".to_string(), c);
            }
            if let Some(avg) = num(v, "average") {
                values.insert("avg".to_string(), to_ms(avg));
            }
            if let Some(p) = v.get("percentiles") {
                for (from, to) in [
                    ("p50", "med"),
                    ("p90", "p(90)"),
                    ("p95", "p(95)"),
                    ("p99", "p(99)"),
                ] {
                    if let Some(x) = num(p, from) {
                        values.insert(to.to_string(), to_ms(x));
                    }
                }
            }
            Some(Metric::Trend { values, time })
        }
        _ => None,
    }
}

/// v6 records every `*_duration` histogram in milliseconds.
fn is_v6_duration(name: &str) -> bool {
    name.ends_with("_duration")
}

// ---------------------------------------------------------------- Stroppy v6 text

/// Reads the last `=== bench summary ===` block and the error block after it.
fn parse_stroppy_text(text: &str) -> Result<Option<StroppySummary>, ParseError> {
    const HEADER: &str = "=== bench summary ===";
    const ERRORS: &str = "=== bench completed with errors ===";

    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines.iter().rposition(|l| l.trim() == HEADER) else {
        if lines
            .iter()
            .any(|l| l.trim() == "bench: no metrics recorded")
        {
            return Err(ParseError::NoMetricsRecorded);
        }
        return Ok(None);
    };

    let mut metrics = BTreeMap::new();
    let mut i = start + 1;
    while let Some(line) = lines.get(i) {
        let Some((name, metric)) = stroppy_text_metric(line) else {
            break;
        };
        metrics.insert(name, metric);
        i += 1;
    }

    let mut errors = None;
    if let Some(e) = lines[i..].iter().position(|l| l.trim() == ERRORS) {
        for line in &lines[i + e + 1..] {
            let mut words = line.split_whitespace();
            match (words.next(), words.next().map(str::parse::<u64>)) {
                (Some("terminal_errors_total"), Some(Ok(n))) => {
                    errors = Some(n);
                    break;
                }
                (Some(_), _) if line.starts_with("  ") => continue,
                _ => break,
            }
        }
    }

    let measurement = metric_total(&metrics, "measurement_seconds").filter(|s| *s > 0.0);
    Ok(Some(summarize_stroppy(
        SummaryFormat::StroppyText,
        metrics,
        measurement,
        errors,
        None,
    )))
}

/// One summary line: `  name   12.000` or `  name   count=N avg=X p(50)~=X …`.
fn stroppy_text_metric(line: &str) -> Option<(String, Metric)> {
    if !line.starts_with("  ") {
        return None;
    }
    let mut words = line.split_whitespace();
    let name = words.next()?;
    let first = words.next()?;
    if !is_metric_name(name) {
        return None;
    }
    if first.contains('=') {
        let mut values = BTreeMap::new();
        for word in std::iter::once(first).chain(words) {
            let (key, value) = word.split_once('=')?;
            let key = key.trim_end_matches('~');
            values.insert(key.to_string(), value.parse::<f64>().ok()?);
        }
        normalise_median(&mut values);
        let metric = Metric::Trend {
            values,
            time: is_v6_duration(name),
        };
        return Some((name.to_string(), metric));
    }
    let value = first.parse::<f64>().ok()?;
    if words.next().is_some() {
        return None;
    }
    // The text does not say the kind: v6's gauges are per-second figures and the
    // measured time, everything else is a counter.
    let metric = if name == "tps" || name.ends_with("_per_second") || name == "measurement_seconds"
    {
        Metric::Gauge {
            value,
            min: None,
            max: None,
        }
    } else {
        Metric::Counter {
            count: value,
            rate: None,
        }
    };
    Some((name.to_string(), metric))
}

fn summarize_stroppy(
    format: SummaryFormat,
    metrics: BTreeMap<String, Metric>,
    measurement_s: Option<f64>,
    terminal_errors: Option<u64>,
    status: Option<String>,
) -> StroppySummary {
    let tx_name = [
        "successful_transactions_total",
        "tx_commits_total",
        "iterations_total",
    ]
    .into_iter()
    .find(|n| metric_total(&metrics, n).is_some());
    let transactions = tx_name
        .and_then(|n| metric_total(&metrics, n))
        .map(round_count);

    let tps = if tx_name == Some("iterations_total") {
        metric_total(&metrics, "iterations_per_second")
    } else {
        metric_total(&metrics, "tps")
    }
    .or_else(|| Some(transactions? as f64 / measurement_s?));

    let errors = terminal_errors.unwrap_or_else(|| {
        metric_total(&metrics, "terminal_errors_total")
            .map(round_count)
            .unwrap_or_else(|| {
                ["failed_iterations_total", "failed_queries_total"]
                    .iter()
                    .filter_map(|n| metric_total(&metrics, n))
                    .map(round_count)
                    .sum()
            })
    });

    let (latency_metric, latency) = pick_latency(&metrics);
    StroppySummary {
        format,
        tps,
        transactions,
        errors,
        duration_s: measurement_s,
        latency,
        transaction_metric: tx_name.map(str::to_string),
        latency_metric,
        status,
        metrics,
    }
}

// ---------------------------------------------------------------- k6 text

/// Collects the metrics of the last k6 text summary and the last `running (…)` time.
fn parse_k6_text(text: &str) -> (BTreeMap<String, Metric>, Option<f64>) {
    let mut metrics = BTreeMap::new();
    let mut running_s = None;
    // v1 summaries repeat metrics per group and scenario: only TOTAL RESULTS counts.
    let mut active = true;

    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(title) = trimmed.strip_prefix('█') {
            match title.trim() {
                // Each v1 summary has one TOTAL RESULTS section; a later one belongs to a
                // later k6 run and replaces what came before.
                "TOTAL RESULTS" => {
                    metrics.clear();
                    active = true;
                }
                t if t == "THRESHOLDS" || t.starts_with("GROUP:") || t.starts_with("SCENARIO:") => {
                    active = false;
                }
                // Legacy group titles (`█ setup`) only hold checks.
                _ => {}
            }
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("running (") {
            if let Some(ms) = rest.split(')').next().and_then(parse_duration_ms) {
                running_s = Some(ms / 1000.0);
            }
            continue;
        }
        if !active {
            continue;
        }
        if let Some((name, metric)) = k6_text_metric(trimmed) {
            // The same metric again means another summary (several k6 runs): keep the last.
            if metrics.contains_key(&name) {
                metrics.clear();
            }
            metrics.insert(name, metric);
        }
    }
    (metrics, running_s)
}

/// One metric line such as `iterations.....: 61234 680.377778/s`, possibly behind a
/// threshold mark (`✓ `/`✗ `) in the legacy format.
fn k6_text_metric(line: &str) -> Option<(String, Metric)> {
    let line = line
        .strip_prefix('✓')
        .or_else(|| line.strip_prefix('✗'))
        .unwrap_or(line)
        .trim_start();
    let dots = line.find("..")?;
    let after_dots = line[dots..].trim_start_matches('.');
    let values = after_dots.strip_prefix(':')?;
    let name = &line[..dots];
    if !is_metric_name(name) {
        return None;
    }
    let metric = parse_k6_values(values)?;
    Some((name.to_string(), metric))
}

fn is_metric_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('{')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'))
}

fn parse_k6_values(text: &str) -> Option<Metric> {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let first = *tokens.first()?;

    if first.contains('=') {
        return parse_k6_trend(&tokens);
    }
    if let Some(pct) = first.strip_suffix('%') {
        return parse_k6_rate(pct, &tokens[1..]);
    }

    // Counter "N R/s" or gauge "V min=A max=B"; data values are "4.5 GB".
    let (value, used) = quantity_at(&tokens, 0)?;
    let rest = &tokens[used..];
    if rest.first().is_some_and(|t| t.starts_with("min=")) {
        let stat = |prefix: &str| {
            let i = rest.iter().position(|t| t.starts_with(prefix))?;
            let mut toks = rest[i..].to_vec();
            toks[0] = &toks[0][prefix.len()..];
            quantity_at(&toks, 0).map(|(v, _)| v)
        };
        return Some(Metric::Gauge {
            value,
            min: stat("min="),
            max: stat("max="),
        });
    }
    // k6 always prints a counter's rate; a lone value is some log line, not a metric.
    let rate = match rest {
        [r] => quantity(r.strip_suffix("/s")?)?.0,
        [n, unit] => quantity(&format!("{n} {}", unit.strip_suffix("/s")?))?.0,
        _ => return None,
    };
    Some(Metric::Counter {
        count: value,
        rate: Some(rate),
    })
}

fn parse_k6_trend(tokens: &[&str]) -> Option<Metric> {
    // Values of data trends contain a space ("avg=1.2 kB"): glue such words back on.
    let mut pairs: Vec<(String, String)> = Vec::new();
    for token in tokens {
        match token.split_once('=') {
            Some((k, v)) => pairs.push((k.trim_end_matches('~').to_string(), v.to_string())),
            None => {
                let last = pairs.last_mut()?;
                last.1.push(' ');
                last.1.push_str(token);
            }
        }
    }
    let mut values = BTreeMap::new();
    let mut time = false;
    for (key, raw) in pairs {
        let (value, is_time) = quantity(&raw)?;
        time |= is_time;
        values.insert(key, value);
    }
    normalise_median(&mut values);
    Some(Metric::Trend { values, time })
}

/// `99.95% 61203 out of 61234` (k6 v1) or `99.95% ✓ 61203 ✗ 31` (older k6).
fn parse_k6_rate(pct: &str, rest: &[&str]) -> Option<Metric> {
    let percent = pct.parse::<f64>().ok()?;
    let (passes, fails) = match rest {
        [p, "out", "of", total, ..] => {
            let p: u64 = p.parse().ok()?;
            let total: u64 = total.parse().ok()?;
            (p, total.saturating_sub(p))
        }
        ["✓", p, "✗", f, ..] => (p.parse().ok()?, f.parse().ok()?),
        _ => (0, 0),
    };
    Some(Metric::Rate {
        percent,
        passes,
        fails,
    })
}

/// Reads a value starting at `tokens[i]`, taking the next token too when it is a byte unit.
fn quantity_at(tokens: &[&str], i: usize) -> Option<(f64, usize)> {
    let first = tokens.get(i)?;
    if let Some(unit) = tokens.get(i + 1)
        && byte_factor(unit).is_some()
    {
        let (v, _) = quantity(&format!("{first} {unit}"))?;
        return Some((v, i + 2));
    }
    Some((quantity(first)?.0, i + 1))
}

/// Parses a k6 value: a plain number, a duration (→ ms, `true`) or a byte size (→ bytes).
fn quantity(text: &str) -> Option<(f64, bool)> {
    let text = text.trim();
    if let Ok(v) = text.parse::<f64>() {
        return v.is_finite().then_some((v, false));
    }
    if let Some((n, unit)) = text.split_once(' ') {
        let factor = byte_factor(unit)?;
        let bytes = n.parse::<f64>().ok()? * factor;
        return bytes.is_finite().then_some((bytes, false));
    }
    parse_duration_ms(text).map(|ms| (ms, true))
}

fn byte_factor(unit: &str) -> Option<f64> {
    let exp = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        .iter()
        .position(|u| *u == unit)?;
    Some(1000f64.powi(i32::try_from(exp).ok()?))
}

/// Parses durations as k6 and Go print them (`1h2m3.5s`, `4.85ms`, `7µs`, `250ns`, `0s`)
/// into milliseconds.
fn parse_duration_ms(text: &str) -> Option<f64> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "h" => 3_600_000.0,
            "m" => 60_000.0,
            "s" => 1000.0,
            "ms" => 1.0,
            "µs" | "μs" | "us" => 0.001,
            "ns" => 0.000_001,
            _ => return None,
        };
        total += number * factor;
        rest = &rest[unit_end..];
    }
    total.is_finite().then_some(total)
}

/// Uses `med` for the median whatever the source calls it (`p(50)`, `p50`).
fn normalise_median(values: &mut BTreeMap<String, f64>) {
    if !values.contains_key("med")
        && let Some(v) = values.remove("p(50)").or_else(|| values.remove("p50"))
    {
        values.insert("med".to_string(), v);
    }
}

fn summarize_k6(
    format: SummaryFormat,
    metrics: BTreeMap<String, Metric>,
    test_duration_s: Option<f64>,
) -> StroppySummary {
    // k6 counter rates are count / test time, so a counter also yields the duration.
    let duration_s = test_duration_s.or_else(|| match metrics.get("iterations") {
        Some(Metric::Counter {
            count,
            rate: Some(rate),
        }) if *rate > 0.0 => Some(count / rate),
        _ => None,
    });

    let (tx_name, transactions, mut tps) =
        if let Some(Metric::Rate { passes, .. }) = metrics.get("tx_commit_rate") {
            let tps = duration_s.filter(|d| *d > 0.0).map(|d| *passes as f64 / d);
            (Some("tx_commit_rate"), Some(*passes), tps)
        } else if let Some((name, count, rate)) =
            ["tx_count", "iterations"]
                .into_iter()
                .find_map(|n| match metrics.get(n) {
                    Some(Metric::Counter { count, rate }) => Some((n, *count, *rate)),
                    _ => None,
                })
        {
            (Some(name), Some(round_count(count)), rate)
        } else {
            (None, None, None)
        };
    // Stroppy v5's per-second buckets leave out setup time, which k6 rates include.
    if let Some(Metric::Trend { values, .. }) = metrics.get("tx_tps")
        && let Some(avg) = values.get("avg")
    {
        tps = Some(*avg);
    }

    let errors = k6_errors(&metrics);
    let (latency_metric, latency) = pick_latency(&metrics);
    StroppySummary {
        format,
        tps,
        transactions,
        errors,
        duration_s,
        latency,
        transaction_metric: tx_name.map(str::to_string),
        latency_metric,
        status: None,
        metrics,
    }
}

fn k6_errors(metrics: &BTreeMap<String, Metric>) -> u64 {
    let trues = |name: &str| match metrics.get(name) {
        Some(Metric::Rate { passes, .. }) => Some(*passes),
        _ => None,
    };
    // v1 prints checks_failed (trues = failed checks); older k6 prints checks (fails).
    let failed_checks = trues("checks_failed")
        .or_else(|| match metrics.get("checks") {
            Some(Metric::Rate { fails, .. }) => Some(*fails),
            _ => None,
        })
        .unwrap_or(0);

    if let Some(stroppy) = trues("tx_error_rate").or_else(|| trues("run_query_error_rate")) {
        // Checks and Stroppy's own counts may describe the same failures.
        return stroppy.max(failed_checks);
    }

    let looks_failed = |name: &str| {
        !name.starts_with("checks") && (name.contains("error") || name.contains("fail"))
    };
    let others: u64 = metrics
        .iter()
        .filter(|(name, _)| looks_failed(name))
        .map(|(_, metric)| match metric {
            Metric::Rate { passes, .. } => *passes,
            Metric::Counter { count, .. } => round_count(*count),
            _ => 0,
        })
        .sum();
    failed_checks + others
}

fn pick_latency(metrics: &BTreeMap<String, Metric>) -> (Option<String>, Option<LatencyStats>) {
    for name in ["tx_total_duration", "iteration_duration"] {
        if let Some(Metric::Trend { values, time: true }) = metrics.get(name) {
            let get = |k: &str| values.get(k).copied();
            let stats = LatencyStats {
                avg_ms: get("avg"),
                min_ms: get("min"),
                p50_ms: get("med"),
                p90_ms: get("p(90)"),
                p95_ms: get("p(95)"),
                p99_ms: get("p(99)"),
                max_ms: get("max"),
            };
            return (Some(name.to_string()), Some(stats));
        }
    }
    (None, None)
}

fn metric_total(metrics: &BTreeMap<String, Metric>, name: &str) -> Option<f64> {
    match metrics.get(name)? {
        Metric::Counter { count, .. } => Some(*count),
        Metric::Gauge { value, .. } => Some(*value),
        _ => None,
    }
}

fn round_count(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        // Saturating float-to-int conversion is what is wanted for counts.
        v.round() as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stroppy v5 (k6 legacy summary, k6 < 1.0) running tpcb/tx for 1m with 8 VUs after a
    /// 30 s load; written from k6's documented format with Stroppy's helper metrics.
    const K6_LEGACY: &str = "
         /\\      Grafana   /‾‾/
    /\\  /  \\     |\\  __   /  /
   /  \\/    \\    | |/ /  /   ‾‾\\
  /          \\   |   (  |  (‾)  |
 / __________ \\  |_|\\_\\  \\_____/

     execution: local
        script: /tmp/stroppy-k6-run-1/tx.ts
        output: -

     scenarios: (100.00%) 1 scenario, 8 max VUs, 1m30s max duration (incl. graceful stop):
              * default: 8 looping VUs for 1m0s (gracefulStop: 30s)


running (1m30.0s), 0/8 VUs, 61234 complete and 0 interrupted iterations
default ✓ [======================================] 8 VUs  1m0s

     █ setup

       ✓ schema created

     checks.........................: 100.00% ✓ 1          ✗ 0
     data_received..................: 0 B     0 B/s
     data_sent......................: 0 B     0 B/s
     insert_duration................: avg=9.71s    min=35.12ms  med=1.1s     max=28.01s   p(90)=22.4s    p(95)=25.2s
     insert_error_rate..............: 0.00%   ✓ 0          ✗ 3
     iteration_duration.............: avg=7.83ms   min=2.05ms   med=6.9ms    max=540.2ms  p(90)=12.01ms  p(95)=15.34ms
     iterations.....................: 61234   680.377778/s
     run_query_count................: 306170  3401.888889/s
     run_query_duration.............: avg=1.43ms   min=180.22µs med=1.02ms   max=512.7ms  p(90)=2.81ms   p(95)=3.9ms
     run_query_error_rate...........: 0.01%   ✓ 31         ✗ 306139
     tx_clean_duration..............: avg=7.12ms   min=1.9ms    med=6.31ms   max=530.12ms p(90)=11.2ms   p(95)=14.4ms
     tx_commit_rate.................: 99.94%  ✓ 61203      ✗ 31
     tx_error_rate..................: 0.05%   ✓ 31         ✗ 61203
     tx_queries_per_tx..............: avg=5        min=5        med=5        max=5        p(90)=5        p(95)=5
     tx_total_duration..............: avg=7.65ms   min=2ms      med=6.8ms    max=531.4ms  p(90)=11.9ms   p(95)=15.1ms
     vus............................: 8       min=0        max=8
     vus_max........................: 8       min=8        max=8
";

    /// k6 v1 grouped summary, `--summary-mode full`, Stroppy v5 custom metrics with
    /// `summaryTrendStats` including p(99); 5 m run; scenario section repeats metrics.
    const K6_V1_FULL: &str = "
running (5m00.0s), 0/4 VUs, 72000 complete and 0 interrupted iterations
default ✓ [======================================] 4 VUs  4m30s

  █ THRESHOLDS

    tpcc_new_order_duration
    ✓ 'p(90)<5000' p(90)=38.12ms


  █ TOTAL RESULTS

    CUSTOM
    run_query_count................: 1834512 6115.04/s
    run_query_duration.............: avg=1.12ms  min=95.3µs  med=801.2µs max=1.2s    p(90)=2.3ms   p(95)=3.01ms  p(99)=8.7ms
    run_query_error_rate...........: 0.01%   212 out of 1834512
    tpcc_new_order_duration........: avg=25.1ms  min=4.2ms   med=22.9ms  max=1.31s   p(90)=38.12ms p(95)=45.3ms  p(99)=81.2ms
    tpcc_retry_attempts............: 199     0.663333/s
    tx_commit_rate.................: 99.70%  71784 out of 72000
    tx_count.......................: 72000   240/s
    tx_error_rate..................: 0.30%   216 out of 72000
    tx_total_duration..............: avg=16.6ms  min=1.9ms   med=12.8ms  max=1.32s   p(90)=33.4ms  p(95)=41.9ms  p(99)=77.4ms
    tx_tps.........................: avg=265.8   min=3       med=268     max=301     p(90)=287     p(95)=291     p(99)=298

    EXECUTION
    iteration_duration.............: avg=16.7ms  min=2ms     med=12.9ms  max=1.32s   p(90)=33.5ms  p(95)=42ms    p(99)=77.6ms
    iterations.....................: 72000   240/s
    vus............................: 4       min=0       max=4
    vus_max........................: 4       min=4       max=4

    NETWORK
    data_received..................: 0 B     0 B/s
    data_sent......................: 0 B     0 B/s



  █ SCENARIO: default

    CUSTOM
    tx_commit_rate.................: 50.00%  1 out of 2
    tx_count.......................: 2       0.006667/s
    tx_total_duration..............: avg=1s     min=1s     med=1s     max=1s     p(90)=1s     p(95)=1s     p(99)=1s

    EXECUTION
    iteration_duration.............: avg=1s     min=1s     med=1s     max=1s     p(90)=1s     p(95)=1s     p(99)=1s
    iterations.....................: 2       0.006667/s
";

    /// k6 v1 compact summary of a plain script (no Stroppy metrics), from k6's docs layout.
    const K6_V1_PLAIN: &str = "
  █ THRESHOLDS

    http_req_failed
    ✓ 'rate<0.01' rate=0.00%


  █ TOTAL RESULTS

    checks_total.......................: 90      13.122179/s
    checks_succeeded...................: 97.77%  88 out of 90
    checks_failed......................: 2.22%   2 out of 90

    ✓ test-api.k6.io is up
    ✗ status is 200
      ↳  95% — ✓ 43 / ✗ 2

    CUSTOM
    custom_waiting_time................: avg=152.355556 min=120      med=141      max=684      p(90)=147.2    p(95)=148.8

    HTTP
    http_req_duration..................: avg=140.36ms   min=119.08ms med=140.96ms max=154.63ms p(90)=146.88ms p(95)=148.21ms
      { expected_response:true }.......: avg=140.36ms   min=119.08ms med=140.96ms max=154.63ms p(90)=146.88ms p(95)=148.21ms
    http_req_failed....................: 4.44%   2 out of 45
    http_reqs..........................: 45      6.56109/s

    EXECUTION
    iteration_duration.................: avg=1m2.5s     min=1.03s    med=1.05s    max=1h2m3s   p(90)=1.07s    p(95)=1.15s
    iterations.........................: 45      6.56109/s
    vus................................: 1       min=1       max=1
    vus_max............................: 1       min=1       max=1

    NETWORK
    data_received......................: 4.5 GB  4.4 MB/s
    data_sent..........................: 4.9 kB  718 B/s
";

    /// Stroppy v6 stderr of `stroppy run tpcb/tx -d pg --executor constant-vus --vus 16
    /// --duration 1m`, written from `pkg/bench/runtime.go` and `error_reporter.go` formats.
    const STROPPY_V6_TEXT: &str = "\
2026-10-02T10:15:03.412Z\tINFO\trun\tLoading config file\t{\"path\": \"stroppy-config.json\"}
2026-10-02T10:15:03.530Z\tINFO\tworkload\tStart of 'load_data' step
2026-10-02T10:15:34.118Z\tINFO\tworkload\tEnd of 'load_data' step (took 30.59s)
2026-10-02T10:16:04.120Z\tWARN\tbench\tnonfatal error; continuing\t{\"operation\": \"workload\", \"error_class\": \"serialization\", \"error\": \"ERROR: could not serialize access due to concurrent update (SQLSTATE 40001)\"}

=== bench summary ===
  transactions_total                       181561.000
  run_query_operations_total               907584.000
  run_query_errors_total                   44.000
  insert_rows_total                        1000011.000
  run_query_duration                       count=907540 avg=0.981 p(50)~=1.000 p(90)~=2.500 p(95)~=2.500 p(99)~=5.000
  insert_duration                          count=3 avg=412.118 p(50)~=500.000 p(90)~=500.000 p(95)~=500.000 p(99)~=500.000
  iteration_duration                       count=181520 avg=5.266 p(50)~=5.000 p(90)~=10.000 p(95)~=10.000 p(99)~=25.000
  iterations_total                         181520.000
  terminal_errors_total                    3.000
  failed_iterations_total                  3.000
  failed_queries_total                     0.000
  retry_attempts_total                     41.000
  tx_total_duration                        count=181561 avg=5.201 p(50)~=5.000 p(90)~=10.000 p(95)~=10.000 p(99)~=25.000
  tx_commits_total                         181517.000
  tx_errors_total                          44.000
  tx_queries_per_tx                        count=181561 avg=4.999 p(50)~=5.000 p(90)~=5.000 p(95)~=5.000 p(99)~=5.000
  tpcb_retry_attempts                      41.000
  tps                                      3025.161
  iterations_per_second                    3025.211
  queries_per_second                       15124.862
  measurement_seconds                      60.003
  successful_transactions_total            181517.000

=== bench completed with errors ===
  terminal_errors_total                    3
  failed_iterations_total                  3
  failed_queries_total                     0
  retry_attempts_total                     41
  representative error groups:
    operation=workload             class=serialization  count=3
";

    /// Stroppy v6 JSON run report (`--report-file`), shaped as `pkg/report/report.go`;
    /// bucket arrays and series shortened.
    const STROPPY_V6_REPORT: &str = r#"{
  "schema": 1,
  "kind": "run",
  "id": "3f6c1c52-6f55-4f5e-9a53-1c9f0b6f2d10",
  "stroppy_version": "v6.1.1",
  "started_at": "2026-10-02T10:15:03.401Z",
  "finished_at": "2026-10-02T10:16:34.140Z",
  "status": "completed_with_errors",
  "workload": "tpcb/tx",
  "driver": "postgres",
  "drivers": [{"index": 0, "type": "postgres"}],
  "host": {"os": "linux", "arch": "amd64", "go_version": "go1.27.1", "cpus": 8, "gomaxprocs": 8},
  "scenario": {"executor": "constant-vus", "vus": 16, "duration_seconds": 60, "iterations_requested": null},
  "parameters": {
    "run": {"vus": {"value": 16, "source": "cli"}, "duration": {"value": "1m0s", "source": "cli"}},
    "workload": {"scale-factor": {"value": 10, "source": "process-env"}}
  },
  "step_selection": {"only": [], "exclude": []},
  "steps": [
    {"name": "load_data", "status": "completed", "executions": 1, "duration_seconds": 30.59},
    {"name": "workload", "status": "completed_with_errors", "executions": 1, "duration_seconds": 60.003}
  ],
  "measurement_seconds": 60.003,
  "metrics": {
    "iteration_duration": {"type": "histogram", "unit": "ms", "count": 181520, "sum": 955884.3,
      "average": 5.266, "bounds": [0.005, 0.01, 1, 2.5, 5, 10, 25], "bucket_counts": [0, 0, 10, 50000, 90000, 40000, 1510, 10],
      "percentiles": {"p50": 5, "p90": 10, "p95": 10, "p99": 25},
      "series": [{"attributes": {"step": "workload"}, "count": 181520, "sum": 955884.3, "average": 5.266}]},
    "iterations_total": {"type": "counter", "total": 181520, "series": [{"attributes": {"step": "workload"}, "total": 181520}]},
    "tx_total_duration": {"type": "histogram", "unit": "ms", "count": 181561, "sum": 944298.8,
      "average": 5.201, "percentiles": {"p50": 5, "p90": 10, "p95": 10, "p99": 25}},
    "tx_queries_per_tx": {"type": "histogram", "count": 181561, "sum": 907584, "average": 4.999,
      "percentiles": {"p50": 5, "p90": 5, "p95": 5, "p99": 5}},
    "successful_transactions_total": {"type": "counter", "total": 181517},
    "tps": {"type": "gauge", "unit": "{transaction}/s", "total": 3025.161},
    "measurement_seconds": {"type": "gauge", "unit": "s", "total": 60.003},
    "terminal_errors_total": {"type": "counter", "total": 3}
  },
  "errors": {"terminal_errors": 3, "failed_iterations": 3, "failed_queries": 0, "retry_attempts": 41,
    "groups": [{"operation": "workload", "class": "serialization", "count": 3}]},
  "workload_reports": []
}
"#;

    /// k6 `--summary-export` file as stroppy-action saved it (stroppy-results.json).
    const K6_SUMMARY_EXPORT: &str = r#"{
    "root_group": {"name": "", "path": "", "id": "d41d8cd98f00b204e9800998ecf8427e", "groups": [], "checks": []},
    "metrics": {
        "iterations": {"count": 61234, "rate": 680.377778},
        "iteration_duration": {"avg": 7.83, "min": 2.05, "med": 6.9, "max": 540.2, "p(90)": 12.01, "p(95)": 15.34},
        "tx_commit_rate": {"passes": 61203, "fails": 31, "value": 0.99949},
        "tx_error_rate": {"passes": 31, "fails": 61203, "value": 0.000506},
        "tx_total_duration": {"avg": 7.65, "min": 2, "med": 6.8, "max": 531.4, "p(90)": 11.9, "p(95)": 15.1,
            "thresholds": {"p(95)<100": false}},
        "tx_queries_per_tx": {"avg": 5, "min": 5, "med": 5, "max": 5, "p(90)": 5, "p(95)": 5},
        "run_query_count": {"count": 306170, "rate": 3401.888889},
        "vus": {"value": 8, "min": 0, "max": 8}
    }
}"#;

    /// k6 `handleSummary` data serialised as JSON.
    const K6_HANDLE_SUMMARY_JSON: &str = r#"{"root_group":{"name":"","path":"","id":"d41d8cd98f00b204e9800998ecf8427e","groups":[],"checks":[]},"options":{"summaryTrendStats":["avg","min","med","max","p(90)","p(95)","p(99)"],"summaryTimeUnit":"","noColor":false},"state":{"isStdOutTTY":false,"isStdErrTTY":false,"testRunDurationMs":300012.5},"metrics":{"iterations":{"type":"counter","contains":"default","values":{"count":72000,"rate":239.99}},"iteration_duration":{"type":"trend","contains":"time","values":{"avg":16.7,"min":2,"med":12.9,"max":1320,"p(90)":33.5,"p(95)":42,"p(99)":77.6}},"tx_count":{"type":"counter","contains":"default","values":{"count":72000,"rate":239.99}},"tx_error_rate":{"type":"rate","contains":"default","values":{"rate":0.003,"passes":216,"fails":71784}},"vus":{"type":"gauge","contains":"default","values":{"value":4,"min":0,"max":4}}}}"#;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-6 * b.abs().max(1.0)
    }

    #[test]
    fn k6_legacy_stroppy_v5() {
        let s = parse_summary(K6_LEGACY).unwrap();
        assert_eq!(s.format, SummaryFormat::K6Text);
        assert_eq!(s.transaction_metric.as_deref(), Some("tx_commit_rate"));
        assert_eq!(s.transactions, Some(61203));
        assert_eq!(s.duration_s, Some(90.0));
        assert!(close(s.tps.unwrap(), 61203.0 / 90.0));
        // tx_error_rate trues (31) vs failed checks (0).
        assert_eq!(s.errors, 31);
        assert_eq!(s.latency_metric.as_deref(), Some("tx_total_duration"));
        assert_eq!(
            s.latency,
            Some(LatencyStats {
                avg_ms: Some(7.65),
                min_ms: Some(2.0),
                p50_ms: Some(6.8),
                p90_ms: Some(11.9),
                p95_ms: Some(15.1),
                p99_ms: None,
                max_ms: Some(531.4),
            })
        );
        assert_eq!(
            s.metrics["iterations"],
            Metric::Counter {
                count: 61234.0,
                rate: Some(680.377778)
            }
        );
        assert_eq!(
            s.metrics["tx_commit_rate"],
            Metric::Rate {
                percent: 99.94,
                passes: 61203,
                fails: 31
            }
        );
        assert_eq!(
            s.metrics["vus"],
            Metric::Gauge {
                value: 8.0,
                min: Some(0.0),
                max: Some(8.0)
            }
        );
        let Metric::Trend { values, time } = &s.metrics["run_query_duration"] else {
            panic!("trend expected");
        };
        assert!(*time);
        assert!(close(values["min"], 0.18022));
        assert!(close(values["max"], 512.7));
        let Metric::Trend { values, time } = &s.metrics["insert_duration"] else {
            panic!("trend expected");
        };
        assert!(*time);
        assert!(close(values["avg"], 9710.0));
        let Metric::Trend { values, time } = &s.metrics["tx_queries_per_tx"] else {
            panic!("trend expected");
        };
        assert!(!*time);
        assert_eq!(values["avg"], 5.0);
        assert_eq!(
            s.metrics["data_received"],
            Metric::Counter {
                count: 0.0,
                rate: Some(0.0)
            }
        );
        // Check lines and the banner are not metrics.
        assert!(!s.metrics.keys().any(|k| k.contains("schema")));
        assert_eq!(s.metrics.len(), 17);
    }

    #[test]
    fn k6_v1_full_uses_total_results_only() {
        let s = parse_summary(K6_V1_FULL).unwrap();
        assert_eq!(s.format, SummaryFormat::K6Text);
        assert_eq!(s.transactions, Some(71784));
        // tx_tps per-second buckets win over rates diluted by setup time.
        assert_eq!(s.tps, Some(265.8));
        assert_eq!(s.duration_s, Some(300.0));
        assert_eq!(s.errors, 216);
        let lat = s.latency.unwrap();
        assert_eq!(lat.p99_ms, Some(77.4));
        assert_eq!(lat.max_ms, Some(1320.0));
        assert_eq!(lat.p50_ms, Some(12.8));
        assert_eq!(
            s.metrics["tx_count"],
            Metric::Counter {
                count: 72000.0,
                rate: Some(240.0)
            }
        );
        assert_eq!(
            s.metrics["run_query_error_rate"],
            Metric::Rate {
                percent: 0.01,
                passes: 212,
                fails: 1_834_300
            }
        );
        let Metric::Trend { values, .. } = &s.metrics["run_query_duration"] else {
            panic!("trend expected");
        };
        assert!(close(values["min"], 0.0953));
        assert!(close(values["med"], 0.8012));
        assert!(!s.metrics.contains_key("{ expected_response:true }"));
    }

    #[test]
    fn k6_v1_plain_script_falls_back_to_iterations() {
        let s = parse_summary(K6_V1_PLAIN).unwrap();
        assert_eq!(s.transaction_metric.as_deref(), Some("iterations"));
        assert_eq!(s.transactions, Some(45));
        assert_eq!(s.tps, Some(6.56109));
        assert!(close(s.duration_s.unwrap(), 45.0 / 6.56109));
        // 2 failed checks + 2 failed requests.
        assert_eq!(s.errors, 4);
        assert_eq!(s.latency_metric.as_deref(), Some("iteration_duration"));
        let lat = s.latency.unwrap();
        assert_eq!(lat.avg_ms, Some(62_500.0));
        assert_eq!(lat.max_ms, Some(3_723_000.0));
        assert_eq!(lat.min_ms, Some(1030.0));
        assert_eq!(
            s.metrics["data_received"],
            Metric::Counter {
                count: 4.5e9,
                rate: Some(4.4e6)
            }
        );
        assert_eq!(
            s.metrics["data_sent"],
            Metric::Counter {
                count: 4900.0,
                rate: Some(718.0)
            }
        );
        assert_eq!(
            s.metrics["checks_failed"],
            Metric::Rate {
                percent: 2.22,
                passes: 2,
                fails: 88
            }
        );
        let Metric::Trend { values, time } = &s.metrics["custom_waiting_time"] else {
            panic!("trend expected");
        };
        assert!(!*time);
        assert_eq!(values["med"], 141.0);
    }

    #[test]
    fn noisy_output_with_ansi_and_logs() {
        // k6 colours names' dots, values and marks; Stroppy v5 and k6 log around it.
        let coloured = K6_LEGACY
            .replace("✓ 61203", "\x1b[32m✓\x1b[0m \x1b[36m61203\x1b[0m")
            .replace(
                "tx_total_duration..............:",
                "tx_total_duration\x1b[2m..............:\x1b[0m",
            )
            .replace("avg=7.65ms", "avg=\x1b[36m7.65ms\x1b[0m")
            .replace(
                "running (1m30.0s)",
                "running (1m29.0s), 8/8 VUs, 60100 complete and 0 interrupted iterations\rrunning (1m30.0s)",
            );
        let text = format!(
            "2026-07-20T09:00:00.001Z\t\x1b[34mINFO\x1b[0m\tscript_runner\tApplied script env\t{{\"source\":\"cli\",\"env\":[\"SCALE_FACTOR=10\"]}}\n\
             time=\"2026-07-20T09:00:01Z\" level=info msg=\"Loading data...: 50% of accounts\" source=console\n\
             {coloured}\n\
             time=\"2026-07-20T09:01:31Z\" level=warn msg=\"No script iterations fully finished.\"\n\
             {{\"level\":\"info\",\"msg\":\"teardown done\"}}\n"
        );
        let s = parse_summary(&text).unwrap();
        assert_eq!(s.transactions, Some(61203));
        assert_eq!(s.duration_s, Some(90.0));
        assert_eq!(s.latency.unwrap().avg_ms, Some(7.65));
        assert_eq!(
            s.metrics["tx_commit_rate"],
            Metric::Rate {
                percent: 99.94,
                passes: 61203,
                fails: 31
            }
        );
        assert_eq!(s.metrics.len(), 17);
    }

    #[test]
    fn several_k6_runs_keep_the_last_summary() {
        let first = K6_LEGACY.replace("61234   680.377778/s", "10   0.1/s");
        let text = format!("{first}\n{K6_LEGACY}");
        let s = parse_summary(&text).unwrap();
        assert_eq!(
            s.metrics["iterations"],
            Metric::Counter {
                count: 61234.0,
                rate: Some(680.377778)
            }
        );
        let text = format!("{K6_V1_PLAIN}\n{K6_V1_FULL}");
        let s = parse_summary(&text).unwrap();
        assert_eq!(s.transaction_metric.as_deref(), Some("tx_commit_rate"));
        assert!(!s.metrics.contains_key("http_reqs"));
    }

    #[test]
    fn legacy_threshold_marks_and_submetrics() {
        let text = "
     ✓ http_req_duration..............: avg=144.56ms min=104.11ms med=110.47ms max=1.14s p(90)=203.54ms p(95)=215.95ms
       { expected_response:true }...: avg=144.56ms min=104.11ms med=110.47ms max=1.14s p(90)=203.54ms p(95)=215.95ms
     ✗ http_req_failed................: 0.00%  ✓ 0        ✗ 180
     iteration_duration.............: avg=12.91s   min=12.53s   med=12.77s   max=14.35s   p(90)=13.36s   p(95)=13.37s
     iterations.....................: 45     1.092345/s
";
        let s = parse_summary(text).unwrap();
        assert!(s.metrics.contains_key("http_req_duration"));
        assert_eq!(
            s.metrics["http_req_failed"],
            Metric::Rate {
                percent: 0.0,
                passes: 0,
                fails: 180
            }
        );
        assert_eq!(s.metrics.len(), 4);
        assert_eq!(s.errors, 0);
        assert_eq!(s.latency.unwrap().p95_ms, Some(13_370.0));
    }

    #[test]
    fn stroppy_v6_text_summary() {
        let s = parse_summary(STROPPY_V6_TEXT).unwrap();
        assert_eq!(s.format, SummaryFormat::StroppyText);
        assert_eq!(
            s.transaction_metric.as_deref(),
            Some("successful_transactions_total")
        );
        assert_eq!(s.transactions, Some(181_517));
        assert_eq!(s.tps, Some(3025.161));
        assert_eq!(s.duration_s, Some(60.003));
        assert_eq!(s.errors, 3);
        assert_eq!(s.latency_metric.as_deref(), Some("tx_total_duration"));
        assert_eq!(
            s.latency,
            Some(LatencyStats {
                avg_ms: Some(5.201),
                min_ms: None,
                p50_ms: Some(5.0),
                p90_ms: Some(10.0),
                p95_ms: Some(10.0),
                p99_ms: Some(25.0),
                max_ms: None,
            })
        );
        assert_eq!(
            s.metrics["tps"],
            Metric::Gauge {
                value: 3025.161,
                min: None,
                max: None
            }
        );
        assert_eq!(
            s.metrics["tpcb_retry_attempts"],
            Metric::Counter {
                count: 41.0,
                rate: None
            }
        );
        let Metric::Trend { time, values } = &s.metrics["tx_queries_per_tx"] else {
            panic!("trend expected");
        };
        assert!(!*time);
        assert_eq!(values["count"], 181_561.0);
        assert_eq!(s.metrics.len(), 22);
    }

    #[test]
    fn stroppy_v6_text_without_errors_and_without_transactions() {
        // An execute_sql run: no transactional window, so no tps gauge.
        let text = "
=== bench summary ===
  run_query_operations_total               1200.000
  run_query_duration                       count=1200 avg=12.500 p(50)~=10.000 p(90)~=25.000 p(95)~=25.000 p(99)~=50.000
  iteration_duration                       count=100 avg=151.000 p(50)~=250.000 p(90)~=250.000 p(95)~=250.000 p(99)~=250.000
  iterations_total                         100.000
  terminal_errors_total                    0.000
  iterations_per_second                    6.612
  queries_per_second                       79.344
  measurement_seconds                      15.124
";
        let s = parse_summary(text).unwrap();
        assert_eq!(s.transaction_metric.as_deref(), Some("iterations_total"));
        assert_eq!(s.transactions, Some(100));
        assert_eq!(s.tps, Some(6.612));
        assert_eq!(s.errors, 0);
        assert_eq!(s.latency_metric.as_deref(), Some("iteration_duration"));
    }

    #[test]
    fn stroppy_v6_no_metrics() {
        let text = "2026-10-02T10:15:03.412Z\tINFO\trun\tdone\nbench: no metrics recorded\n";
        assert!(matches!(
            parse_summary(text),
            Err(ParseError::NoMetricsRecorded)
        ));
    }

    #[test]
    fn stroppy_v6_json_report() {
        let s = parse_summary(STROPPY_V6_REPORT).unwrap();
        assert_eq!(s.format, SummaryFormat::StroppyReport);
        assert_eq!(s.status.as_deref(), Some("completed_with_errors"));
        assert_eq!(s.transactions, Some(181_517));
        assert_eq!(s.tps, Some(3025.161));
        assert_eq!(s.duration_s, Some(60.003));
        assert_eq!(s.errors, 3);
        let lat = s.latency.unwrap();
        assert_eq!(lat.avg_ms, Some(5.201));
        assert_eq!(lat.p99_ms, Some(25.0));
        assert_eq!(lat.max_ms, None);
        let Metric::Trend { time, .. } = &s.metrics["tx_queries_per_tx"] else {
            panic!("trend expected");
        };
        assert!(!*time);
    }

    #[test]
    fn json_report_inside_other_output() {
        // --report-format json on stdout, logs and the text summary on stderr, both captured.
        let text = format!(
            "{{\"level\":\"info\",\"ts\":1.7e9,\"msg\":\"start\"}}\n{STROPPY_V6_TEXT}{STROPPY_V6_REPORT}"
        );
        let s = parse_summary(&text).unwrap();
        assert_eq!(s.format, SummaryFormat::StroppyReport);
        assert_eq!(s.transactions, Some(181_517));
    }

    #[test]
    fn k6_summary_export_json() {
        let s = parse_summary(K6_SUMMARY_EXPORT).unwrap();
        assert_eq!(s.format, SummaryFormat::K6Json);
        assert_eq!(s.transactions, Some(61203));
        assert!(close(s.duration_s.unwrap(), 61234.0 / 680.377778));
        assert_eq!(s.errors, 31);
        let lat = s.latency.unwrap();
        assert_eq!(lat.p95_ms, Some(15.1));
        assert_eq!(lat.p50_ms, Some(6.8));
        assert_eq!(
            s.metrics["tx_commit_rate"],
            Metric::Rate {
                percent: 99.949,
                passes: 61203,
                fails: 31
            }
        );
        let Metric::Trend { time, values } = &s.metrics["tx_queries_per_tx"] else {
            panic!("trend expected");
        };
        assert!(!*time);
        assert!(!values.contains_key("thresholds"));
    }

    #[test]
    fn k6_handle_summary_json() {
        let s = parse_summary(K6_HANDLE_SUMMARY_JSON).unwrap();
        assert_eq!(s.format, SummaryFormat::K6Json);
        assert_eq!(s.transaction_metric.as_deref(), Some("tx_count"));
        assert_eq!(s.transactions, Some(72000));
        assert_eq!(s.tps, Some(239.99));
        assert_eq!(s.duration_s, Some(300.0125));
        assert_eq!(s.errors, 216);
        assert_eq!(s.latency_metric.as_deref(), Some("iteration_duration"));
        assert_eq!(s.latency.unwrap().p99_ms, Some(77.6));
    }

    #[test]
    fn no_summary_is_a_clear_error() {
        let err = parse_summary("").unwrap_err();
        assert!(matches!(err, ParseError::NoSummary { .. }));
        let text = "\
2026-10-02T10:15:03.412Z\tINFO\trun\tLoading config file
Error: invalid config: failed to run go workload: step \"load_data\": dial tcp 10.0.0.5:5432: connect: connection refused
";
        let err = parse_summary(text).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("no end-of-test results"), "{msg}");
        assert!(msg.contains("connection refused"), "{msg}");
        // Log lines with dots and a colon are not metrics.
        let err = parse_summary("Waiting...: 5s\nLoading.....: 10 rows\n").unwrap_err();
        assert!(matches!(err, ParseError::NoSummary { .. }), "{err}");
        // JSON log lines alone are no report.
        let err = parse_summary("{\"level\":\"error\",\"msg\":\"boom\"}\n").unwrap_err();
        assert!(matches!(err, ParseError::NoSummary { .. }), "{err}");
        // A TPC-C handleSummary replaces k6's summary: nothing to read.
        let tpcc = "===== TPC-C transaction mix (observed vs spec §5.2.3) =====\n  new_order    :  45.10%  (spec 45%, min 45%)\n";
        assert!(matches!(
            parse_summary(tpcc),
            Err(ParseError::NoSummary { .. })
        ));
    }

    #[test]
    fn truncated_json_report_is_a_json_error() {
        let cut = &STROPPY_V6_REPORT[..STROPPY_V6_REPORT.len() / 2];
        let err = parse_summary(cut).unwrap_err();
        assert!(matches!(err, ParseError::Json(_)), "{err}");
    }

    #[test]
    fn durations_and_quantities() {
        let cases = [
            ("0s", 0.0),
            ("250ns", 0.00025),
            ("7µs", 0.007),
            ("7μs", 0.007),
            ("7us", 0.007),
            ("4.85ms", 4.85),
            ("1.82s", 1820.0),
            ("1m2.5s", 62_500.0),
            ("1m00.0s", 60_000.0),
            ("1h2m3s", 3_723_000.0),
        ];
        for (text, ms) in cases {
            let got = parse_duration_ms(text).unwrap();
            assert!(close(got, ms), "{text}: {got}");
        }
        for bad in ["", "5", "ms", "1x", "1.2.3s", "-"] {
            assert_eq!(parse_duration_ms(bad), None, "{bad}");
        }
        assert_eq!(quantity("152.355556"), Some((152.355556, false)));
        assert_eq!(quantity("1.2 kB"), Some((1200.0, false)));
        assert_eq!(quantity("10 QB"), None);
    }

    #[test]
    fn ansi_stripping() {
        assert_eq!(strip_ansi("\x1b[1;32mok\x1b[0m"), "ok");
        assert_eq!(strip_ansi("a\r\nb"), "a\nb");
        assert_eq!(strip_ansi("a\rb"), "a\nb");
        assert_eq!(strip_ansi("\x1b]0;title\x07x"), "x");
    }

    #[test]
    fn summary_serializes() {
        let s = parse_summary(K6_LEGACY).unwrap();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["format"], "k6_text");
        assert_eq!(v["metrics"]["tx_commit_rate"]["type"], "rate");
        assert_eq!(v["metrics"]["iteration_duration"]["values"]["p(95)"], 15.34);
        assert_eq!(v["latency"]["p99_ms"], Value::Null);
    }

    // Stroppy's and k6's output, varied: parsed to finite figures or refused, never a panic.
    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(ratchet_test_support::fuzz::cases()))]

        #[test]
        fn any_variation_of_a_summary_parses_to_finite_figures_or_is_refused(
            text in proptest::prop_oneof![
                ratchet_test_support::fuzz::mutations_of(K6_V1_FULL),
                ratchet_test_support::fuzz::mutations_of(STROPPY_V6_TEXT),
                ratchet_test_support::fuzz::mutations_of(STROPPY_V6_REPORT),
                ratchet_test_support::fuzz::mutations_of(K6_HANDLE_SUMMARY_JSON),
            ],
        ) {
            if let Ok(summary) = parse_summary(&text) {
                proptest::prop_assert!(summary.tps.is_none_or(f64::is_finite), "{summary:?}");
            }
        }
    }
}
