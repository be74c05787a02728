//! Parsers for what PostgreSQL's `pgbench` prints and writes.
//!
//! pgbench reports only an average and a standard deviation of latency, while Ratchet
//! needs percentiles: those come from the per-transaction log (`-l`), read here into an
//! HDR histogram so that logs of hundreds of megabytes take constant memory.
//!
//! Three inputs are understood:
//! - the final report on stdout ([`parse_summary`]), of pgbench 13 to 16;
//! - the `-P` progress lines on stderr ([`parse_progress_line`]);
//! - the per-transaction log files ([`TransactionLog`], [`read_transaction_logs`]).
//!
//! Run pgbench with `LC_ALL=C` so that numbers keep a decimal point.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use serde::Serialize;

/// What went wrong while reading pgbench output, worded for the person who must fix it.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// A line the final report always has is absent: the text is not a finished run's stdout.
    #[error(
        "pgbench report has no `{0}` line: pass the stdout of a pgbench run that finished \
         (a run that failed to connect or was killed prints no report)"
    )]
    MissingField(&'static str),
    /// A report line was found but its number could not be read.
    #[error("pgbench report line `{line}` has a value that is not a number")]
    BadValue {
        /// The offending line, trimmed.
        line: String,
    },
    /// A per-transaction log line does not have the documented layout.
    #[error("{}line {line_no}: {reason}: `{line}`", location(.path))]
    LogLine {
        /// The file the line came from, when known.
        path: Option<PathBuf>,
        /// 1-based line number within that file (or within the lines given to the accumulator).
        line_no: u64,
        /// The offending line, trimmed and cut to 200 characters.
        line: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A log file could not be opened or read.
    #[error("cannot read pgbench transaction log {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A latency does not fit the histogram (it would have to be absurdly large).
    #[error("latency of {value_us} µs cannot be recorded: {reason}")]
    Histogram {
        /// The value in microseconds.
        value_us: u64,
        /// The histogram's complaint.
        reason: String,
    },
    /// The logs hold no completed transaction, so there is no latency to report.
    #[error(
        "pgbench transaction logs hold no completed transaction \
         ({failed} failed, {skipped} skipped): was pgbench run with -l and --log-prefix?"
    )]
    NoTransactions {
        /// Failed transactions seen.
        failed: u64,
        /// Skipped transactions seen.
        skipped: u64,
    },
}

fn location(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => format!("{}: ", p.display()),
        None => String::new(),
    }
}

/// The final report pgbench prints on stdout.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Transactions per second; the figure that excludes connection set-up when pgbench gives both.
    pub tps: f64,
    /// `latency average`, in milliseconds.
    pub latency_avg_ms: Option<f64>,
    /// `latency stddev`, in milliseconds (printed only with -P, -R, -L or -l).
    pub latency_stddev_ms: Option<f64>,
    /// `number of transactions actually processed` (the count before `/` in -t mode).
    pub transactions: u64,
    /// `number of failed transactions` (0 for pgbench 14 and older, which have no such line).
    pub failed: u64,
    /// `number of transactions skipped` (only with --rate and --latency-limit).
    pub skipped: u64,
    /// `duration` in seconds (absent in -t mode).
    pub duration_s: Option<f64>,
    /// `number of clients`.
    pub clients: Option<u32>,
    /// `number of threads`.
    pub threads: Option<u32>,
    /// `scaling factor`.
    pub scale: Option<u32>,
    /// `initial connection time`, in milliseconds (pgbench 14 and newer).
    pub initial_connection_time_ms: Option<f64>,
    /// pgbench said "Run was aborted; the above results are incomplete" (only seen when stderr is included).
    pub aborted: bool,
}

/// Parses pgbench's final report. Other lines (progress, notices, per-script and
/// per-statement sections) may be mixed in and are ignored.
pub fn parse_summary(text: &str) -> Result<Summary, ParseError> {
    let mut tps_without: Option<f64> = None;
    let mut tps_including: Option<f64> = None;
    let mut tps_plain: Option<f64> = None;
    let mut latency_avg_ms = None;
    let mut latency_stddev_ms = None;
    let mut transactions = None;
    let mut failed = None;
    let mut skipped = None;
    let mut duration_s = None;
    let mut clients = None;
    let mut threads = None;
    let mut scale = None;
    let mut initial_connection_time_ms = None;
    let mut aborted = false;

    for raw in text.lines() {
        // Per-script sections start with " - " and per-statement lines with spaces:
        // only unindented lines belong to the overall report.
        if raw.starts_with(' ') || raw.starts_with('\t') {
            continue;
        }
        let line = raw.trim_end();
        if line.contains("Run was aborted") {
            aborted = true;
        } else if let Some(rest) = line.strip_prefix("tps = ") {
            let value = first_number(rest, line)?;
            if rest.contains("without") || rest.contains("excluding") {
                tps_without = Some(value);
            } else if rest.contains("including") {
                tps_including = Some(value);
            } else {
                tps_plain = Some(value);
            }
        } else if let Some(rest) = line.strip_prefix("latency average = ") {
            latency_avg_ms = Some(first_number(rest, line)?);
        } else if let Some(rest) = line.strip_prefix("latency stddev = ") {
            latency_stddev_ms = Some(first_number(rest, line)?);
        } else if let Some(rest) = line.strip_prefix("initial connection time = ") {
            initial_connection_time_ms = Some(first_number(rest, line)?);
        } else if let Some(rest) = line.strip_prefix("number of transactions actually processed: ")
        {
            transactions = Some(first_integer(rest, line)?);
        } else if let Some(rest) = line.strip_prefix("number of failed transactions: ") {
            failed = Some(first_integer(rest, line)?);
        } else if let Some(rest) = line.strip_prefix("number of transactions skipped: ") {
            skipped = Some(first_integer(rest, line)?);
        } else if let Some(rest) = line.strip_prefix("duration: ") {
            duration_s = Some(first_number(rest, line)?);
        } else if let Some(rest) = line.strip_prefix("number of clients: ") {
            clients = Some(small_integer(rest, line)?);
        } else if let Some(rest) = line.strip_prefix("number of threads: ") {
            threads = Some(small_integer(rest, line)?);
        } else if let Some(rest) = line.strip_prefix("scaling factor: ") {
            scale = Some(small_integer(rest, line)?);
        }
    }

    let tps = tps_without
        .or(tps_plain)
        .or(tps_including)
        .ok_or(ParseError::MissingField("tps = "))?;
    let transactions = transactions.ok_or(ParseError::MissingField(
        "number of transactions actually processed: ",
    ))?;

    Ok(Summary {
        tps,
        latency_avg_ms,
        latency_stddev_ms,
        transactions,
        failed: failed.unwrap_or(0),
        skipped: skipped.unwrap_or(0),
        duration_s,
        clients,
        threads,
        scale,
        initial_connection_time_ms,
        aborted,
    })
}

/// Reads the number at the start of `rest` (up to a space, `/` or `(`).
fn first_number(rest: &str, line: &str) -> Result<f64, ParseError> {
    leading_token(rest)
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| bad_value(line))
}

fn first_integer(rest: &str, line: &str) -> Result<u64, ParseError> {
    leading_token(rest)
        .parse::<u64>()
        .map_err(|_| bad_value(line))
}

fn small_integer(rest: &str, line: &str) -> Result<u32, ParseError> {
    leading_token(rest)
        .parse::<u32>()
        .map_err(|_| bad_value(line))
}

fn leading_token(rest: &str) -> &str {
    let rest = rest.trim_start();
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '/' || c == '(')
        .unwrap_or(rest.len());
    &rest[..end]
}

fn bad_value(line: &str) -> ParseError {
    ParseError::BadValue {
        line: line.trim().to_string(),
    }
}

/// One `-P` progress report: the figures of the interval that just ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProgressPoint {
    /// Seconds since the start (or the Unix time with --progress-timestamp).
    pub t_s: f64,
    /// Transactions per second in the interval.
    pub tps: f64,
    /// Average latency in the interval, ms; 0.0 when the interval had no transaction
    /// (pgbench then prints `nan`).
    pub latency_avg_ms: f64,
    /// Latency standard deviation in the interval, ms.
    pub latency_stddev_ms: Option<f64>,
    /// Failed transactions in the interval (pgbench 15 and newer).
    pub failed: Option<u64>,
    /// Average schedule lag, ms (only with --rate).
    pub lag_ms: Option<f64>,
    /// Transactions skipped in the interval (only with --rate and --latency-limit).
    pub skipped: Option<u64>,
    /// Transactions retried in the interval (only with --max-tries above 1).
    pub retried: Option<u64>,
}

/// Parses one `progress: …` line from pgbench's stderr; any other line gives `None`.
///
/// Understands e.g. `progress: 1.0 s, 1234.5 tps, lat 0.812 ms stddev 0.221, 0 failed,
/// lag 0.248 ms, 7 skipped` and the older forms without `failed`.
pub fn parse_progress_line(line: &str) -> Option<ProgressPoint> {
    let rest = line.trim().strip_prefix("progress: ")?;
    let mut parts = rest.split(", ");

    let t_s = parts
        .next()?
        .strip_suffix(" s")?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())?;
    let tps = parts
        .next()?
        .strip_suffix(" tps")?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())?;

    // "lat 4.508 ms stddev 3.155" (stddev is missing in very old versions).
    let lat_part = parts.next()?.strip_prefix("lat ")?;
    let mut lat_words = lat_part.split_whitespace();
    let latency = parse_float_or_nan(lat_words.next()?)?;
    if lat_words.next()? != "ms" {
        return None;
    }
    let latency_stddev_ms = match lat_words.next() {
        Some("stddev") => parse_float_or_nan(lat_words.next()?)?,
        Some(_) => return None,
        None => None,
    };
    let latency_avg_ms = latency.unwrap_or(0.0);

    let mut point = ProgressPoint {
        t_s,
        tps,
        latency_avg_ms,
        latency_stddev_ms,
        failed: None,
        lag_ms: None,
        skipped: None,
        retried: None,
    };
    for part in parts {
        let part = part.trim();
        if let Some(lag) = part.strip_prefix("lag ") {
            point.lag_ms = parse_float_or_nan(lag.strip_suffix(" ms")?)?;
        } else if let Some(n) = part.strip_suffix(" failed") {
            point.failed = Some(n.parse().ok()?);
        } else if let Some(n) = part.strip_suffix(" skipped") {
            point.skipped = Some(n.parse().ok()?);
        } else if let Some(n) = part.strip_suffix(" retried") {
            point.retried = Some(n.parse().ok()?);
        }
        // "N retries" and anything newer pgbench may add are ignored.
    }
    Some(point)
}

/// Reads a float; `nan`/`-nan` (printed for an empty interval) gives `Some(None)`,
/// garbage gives `None`.
fn parse_float_or_nan(word: &str) -> Option<Option<f64>> {
    let value = word.parse::<f64>().ok().or_else(|| {
        // Rust reads "nan" but not every sign/case variant C's printf produces.
        word.trim_start_matches(['-', '+'])
            .eq_ignore_ascii_case("nan")
            .then_some(f64::NAN)
    })?;
    // An infinity is no figure pgbench prints: garbage, not an empty interval.
    if value.is_infinite() {
        return None;
    }
    Some(value.is_finite().then_some(value))
}

/// Latency statistics computed from per-transaction logs, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latencies {
    /// Completed transactions (the ones in the histogram).
    pub count: u64,
    /// Exact mean.
    pub avg_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Exact maximum.
    pub max_ms: f64,
    /// Transactions logged as `failed` (or `serialization`/`deadlock` with --failures-detailed).
    pub failed: u64,
    /// Transactions logged as `skipped` (--rate with --latency-limit).
    pub skipped: u64,
}

/// Streaming accumulator of pgbench per-transaction log lines.
///
/// Line format (pgbench docs): `client_id transaction_no time script_no time_epoch time_us
/// [schedule_lag] [retries]`, where `time` is the latency in microseconds or a word for a
/// transaction that did not complete. Aggregated logs (--aggregate-interval) are not
/// understood.
#[derive(Debug, Clone)]
pub struct TransactionLog {
    /// Latencies in µs, 3 significant digits; created with the first sample because
    /// construction is fallible.
    hist: Option<Histogram<u64>>,
    sum_us: u128,
    max_us: u64,
    failed: u64,
    skipped: u64,
    /// When each transaction completed (epoch ms), if kept.
    completions_ms: Option<Vec<i64>>,
}

impl Default for TransactionLog {
    fn default() -> Self {
        Self::new()
    }
}

impl TransactionLog {
    /// An empty accumulator.
    pub fn new() -> Self {
        TransactionLog {
            hist: None,
            sum_us: 0,
            max_us: 0,
            failed: 0,
            skipped: 0,
            completions_ms: None,
        }
    }

    /// Adds one log line (tests feed lines one by one; files go through
    /// [`read_transaction_logs`], which names the file and line in errors).
    #[cfg(test)]
    pub fn add_line(&mut self, line: &str) -> Result<(), ParseError> {
        self.add_line_at(line, None, 0)
    }

    fn add_line_at(
        &mut self,
        line: &str,
        path: Option<&Path>,
        line_no: u64,
    ) -> Result<(), ParseError> {
        let fail = |reason: &'static str| ParseError::LogLine {
            path: path.map(Path::to_path_buf),
            line_no,
            line: line.trim().chars().take(200).collect(),
            reason,
        };

        // At most 8 columns; a fixed array keeps huge logs free of per-line allocation.
        let mut cols = [""; 8];
        let mut n = 0;
        for word in line.split_whitespace() {
            let Some(slot) = cols.get_mut(n) else {
                return Err(fail("more than 8 columns"));
            };
            *slot = word;
            n += 1;
        }
        if n == 0 {
            return Ok(());
        }
        if n < 6 {
            return Err(fail(
                "expected at least 6 columns `client_id transaction_no time script_no time_epoch time_us`",
            ));
        }
        let time = cols[2];
        let whole = |i: usize| cols[i].parse::<u64>().ok();
        if [0, 1, 3, 4, 5].iter().any(|&i| whole(i).is_none()) {
            return Err(fail(
                "client_id, transaction_no, script_no, time_epoch and time_us must be whole numbers",
            ));
        }
        if (6..n).any(|i| whole(i).is_none()) {
            return Err(fail("schedule_lag and retries must be whole numbers"));
        }
        // An aggregated log (--aggregate-interval) starts with a Unix time where a
        // per-transaction log has a client number.
        let client = whole(0).unwrap_or(0);
        let usec = whole(5).unwrap_or(0);
        if client >= 1_000_000 || usec >= 1_000_000 {
            return Err(fail(
                "not a per-transaction log line (an --aggregate-interval log is not supported)",
            ));
        }

        match time {
            "skipped" => self.skipped += 1,
            "failed" | "serialization" | "deadlock" | "other" => self.failed += 1,
            _ => {
                let us: u64 = time.parse().map_err(|_| {
                    fail("time must be microseconds or one of skipped, failed, serialization, deadlock")
                })?;
                self.record(us)?;
                if let Some(times) = &mut self.completions_ms {
                    let epoch_s = whole(4).unwrap_or(0) as i64;
                    times.push(epoch_s * 1000 + usec as i64 / 1000);
                }
            }
        }
        Ok(())
    }

    fn record(&mut self, us: u64) -> Result<(), ParseError> {
        let hist = match &mut self.hist {
            Some(h) => h,
            None => self
                .hist
                .insert(Histogram::new(3).map_err(|e| ParseError::Histogram {
                    value_us: us,
                    reason: format!("{e:?}"),
                })?),
        };
        hist.record(us).map_err(|e| ParseError::Histogram {
            value_us: us,
            reason: format!("{e:?}"),
        })?;
        self.sum_us += u128::from(us);
        self.max_us = self.max_us.max(us);
        Ok(())
    }

    /// Transactions logged as failed so far.
    #[cfg(test)]
    pub fn failed(&self) -> u64 {
        self.failed
    }

    /// Transactions logged as skipped so far.
    #[cfg(test)]
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The statistics so far; `None` until a completed transaction was seen.
    pub fn latencies(&self) -> Option<Latencies> {
        let hist = self.hist.as_ref()?;
        let count = hist.len();
        if count == 0 {
            return None;
        }
        let max = self.max_us;
        // The histogram answers with the top of a bucket, which can exceed the exact
        // maximum: clamp so that p50 <= p90 <= p95 <= p99 <= max always holds.
        let q = |quantile: f64| hist.value_at_quantile(quantile).min(max);
        let p50 = q(0.50);
        let p90 = q(0.90).max(p50);
        let p95 = q(0.95).max(p90);
        let p99 = q(0.99).max(p95);
        Some(Latencies {
            count,
            avg_ms: self.sum_us as f64 / count as f64 / 1000.0,
            p50_ms: us_to_ms(p50),
            p90_ms: us_to_ms(p90),
            p95_ms: us_to_ms(p95),
            p99_ms: us_to_ms(p99),
            max_ms: us_to_ms(max),
            failed: self.failed,
            skipped: self.skipped,
        })
    }
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Reads pgbench per-transaction log files (one per thread: `prefix.PID`, `prefix.PID.1`, …)
/// line by line and returns latency statistics over all of them.
pub fn read_transaction_logs(paths: &[PathBuf]) -> Result<Latencies, ParseError> {
    read_logs(paths, TransactionLog::new()).map(|(latencies, _)| latencies)
}

/// [`read_transaction_logs`], keeping when each transaction completed (epoch ms, sorted).
pub fn read_transaction_logs_with_times(
    paths: &[PathBuf],
) -> Result<(Latencies, Vec<i64>), ParseError> {
    let log = TransactionLog {
        completions_ms: Some(Vec::new()),
        ..TransactionLog::new()
    };
    let (latencies, mut times) = read_logs(paths, log)?;
    times.sort_unstable();
    Ok((latencies, times))
}

fn read_logs(
    paths: &[PathBuf],
    mut log: TransactionLog,
) -> Result<(Latencies, Vec<i64>), ParseError> {
    for path in paths {
        let io_err = |source| ParseError::Io {
            path: path.clone(),
            source,
        };
        let mut reader = BufReader::with_capacity(1 << 16, File::open(path).map_err(io_err)?);
        let mut line = String::new();
        let mut line_no = 0u64;
        loop {
            line.clear();
            if reader.read_line(&mut line).map_err(io_err)? == 0 {
                break;
            }
            line_no += 1;
            log.add_line_at(&line, Some(path), line_no)?;
        }
    }
    let latencies = log.latencies().ok_or(ParseError::NoTransactions {
        failed: log.failed,
        skipped: log.skipped,
    })?;
    Ok((latencies, log.completions_ms.unwrap_or_default()))
}

/// The longest stretch of `[start_ms, end_ms]` without a completion (`completions`
/// sorted): the last completion before it (or the start) and the first after (none when
/// the load never completed one again).
pub fn longest_gap(completions: &[i64], start_ms: i64, end_ms: i64) -> (i64, Option<i64>, f64) {
    let inside: Vec<i64> = completions
        .iter()
        .copied()
        .filter(|t| (start_ms..=end_ms).contains(t))
        .collect();
    let mut best = (start_ms, inside.first().copied(), 0i64);
    let mut previous = start_ms;
    for &t in &inside {
        if t - previous > best.2 {
            best = (previous, Some(t), t - previous);
        }
        previous = t;
    }
    if end_ms - previous > best.2 {
        best = (previous, None, end_ms - previous);
    }
    (best.0, best.1, best.2 as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_gap_between_completions_is_the_outage() {
        let times = [1_000, 1_100, 1_200, 4_700, 4_800];
        assert_eq!(longest_gap(&times, 1_000, 5_000), (1_200, Some(4_700), 3.5));
        // A load that never came back: the gap runs to the window's end.
        assert_eq!(
            longest_gap(&[1_000, 1_100], 1_000, 9_100),
            (1_100, None, 8.0)
        );
        // Nothing at all in the window.
        assert_eq!(longest_gap(&[], 0, 2_000), (0, None, 2.0));
    }

    #[test]
    fn completion_times_are_kept_from_the_epoch_columns() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("pgbench_log.1");
        std::fs::write(
            &log,
            "0 1 2500 0 1700000000 250000\n1 1 failed 0 1700000000 300000\n0 2 1500 0 1700000001 5000\n",
        )
        .unwrap();
        let (latencies, times) = read_transaction_logs_with_times(&[log]).unwrap();
        assert_eq!(latencies.count, 2);
        assert_eq!(times, [1_700_000_000_250, 1_700_000_001_005]);
    }

    /// Real stdout of `pgbench -c 4 -j 2 -T 5 -P 1 -l` (PostgreSQL 15.18, scale 1).
    const SUMMARY_PG15: &str = "\
pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: <builtin: TPC-B (sort of)>
scaling factor: 1
query mode: simple
number of clients: 4
number of threads: 2
maximum number of tries: 1
duration: 5 s
number of transactions actually processed: 4782
number of failed transactions: 0 (0.000%)
latency average = 4.167 ms
latency stddev = 2.276 ms
initial connection time = 13.845 ms
tps = 955.577439 (without initial connection time)
";

    /// Real stderr of the same run.
    const PROGRESS_PG15: &str = "\
starting vacuum...end.
progress: 1.0 s, 870.9 tps, lat 4.508 ms stddev 3.155, 0 failed
progress: 2.0 s, 925.8 tps, lat 4.312 ms stddev 1.954, 0 failed
progress: 3.0 s, 1012.1 tps, lat 3.946 ms stddev 1.957, 0 failed
progress: 4.0 s, 966.0 tps, lat 4.118 ms stddev 2.039, 0 failed
progress: 5.0 s, 1004.2 tps, lat 3.984 ms stddev 2.051, 0 failed
";

    /// Real stdout of `pgbench -c 4 -j 2 -T 3 -P 1 -R 400 --latency-limit=3 -l` (15.18).
    const SUMMARY_PG15_RATE: &str = "\
pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: <builtin: TPC-B (sort of)>
scaling factor: 1
query mode: simple
number of clients: 4
number of threads: 2
maximum number of tries: 1
duration: 3 s
number of transactions actually processed: 1220
number of failed transactions: 0 (0.000%)
number of transactions skipped: 10 (0.813%)
number of transactions above the 3.0 ms latency limit: 153/1220 (12.541%)
latency average = 1.996 ms
latency stddev = 1.268 ms
rate limit schedule lag: avg 0.213 (max 2.973) ms
initial connection time = 9.996 ms
tps = 405.799743 (without initial connection time)
";

    /// Real stdout, repeatable read at 8 clients, `--max-tries=3 --failures-detailed` (15.18).
    const SUMMARY_PG15_RETRIES: &str = "\
pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: <builtin: TPC-B (sort of)>
scaling factor: 1
query mode: simple
number of clients: 8
number of threads: 2
maximum number of tries: 3
duration: 3 s
number of transactions actually processed: 1324
number of failed transactions: 2380 (64.255%)
number of serialization failures: 2380 (64.255%)
number of deadlock failures: 0 (0.000%)
number of transactions retried: 2759 (74.487%)
total number of retries: 5320
latency average = 3.267 ms
latency stddev = 2.196 ms
initial connection time = 23.560 ms
tps = 443.718319 (without initial connection time)
";

    /// Real stdout of `pgbench -c 2 -j 1 -t 200 -r -b tpcb-like@3 -b select-only@1` (15.18),
    /// per-script sections cut short.
    const SUMMARY_PG15_MULTI_SCRIPT: &str = "\
pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: multiple scripts
scaling factor: 1
query mode: simple
number of clients: 2
number of threads: 1
maximum number of tries: 1
number of transactions per client: 200
number of transactions actually processed: 400/400
number of failed transactions: 0 (0.000%)
latency average = 1.394 ms
initial connection time = 8.194 ms
tps = 1434.576154 (without initial connection time)
SQL script 1: <builtin: TPC-B (sort of)>
 - weight: 3 (targets 75.0% of total)
 - 307 transactions (76.8% of total, tps = 1101.037199)
 - number of failed transactions: 0 (0.000%)
 - latency average = 1.705 ms
 - latency stddev = 0.522 ms
 - statement latencies in milliseconds and failures:
         0.001           0  \\set aid random(1, 100000 * :scale)
         0.429           0  END;
SQL script 2: <builtin: select only>
 - weight: 1 (targets 25.0% of total)
 - 93 transactions (23.2% of total, tps = 333.538956)
 - number of failed transactions: 0 (0.000%)
 - latency average = 0.193 ms
 - latency stddev = 0.082 ms
";

    /// pgbench 14 layout (no failures, no tries line), written from its documented output.
    const SUMMARY_PG14: &str = "\
pgbench (14.10)
starting vacuum...end.
transaction type: <builtin: TPC-B (sort of)>
scaling factor: 10
query mode: prepared
number of clients: 16
number of threads: 4
duration: 60 s
number of transactions actually processed: 251234
latency average = 3.821 ms
latency stddev = 1.020 ms
initial connection time = 25.112 ms
tps = 4187.051993 (without initial connection time)
";

    /// pgbench 13 and older print two tps lines.
    const SUMMARY_PG13: &str = "\
transaction type: <builtin: TPC-B (sort of)>
scaling factor: 1
query mode: simple
number of clients: 4
number of threads: 2
duration: 10 s
number of transactions actually processed: 9000
latency average = 4.444 ms
tps = 899.100000 (including connections establishing)
tps = 900.200000 (excluding connections establishing)
";

    /// Real per-transaction log lines, `-l` (15.18).
    const LOG_PLAIN: &str = "\
1 1 8629 0 1795761834 345327
1 2 2036 0 1795761834 347383
0 1 12787 0 1795761834 349423
1 3 2995 0 1795761834 350385
0 2 3355 0 1795761834 352785
0 3 3340 0 1795761834 356133
1 4 6343 0 1795761834 356735
1 5 2499 0 1795761834 359240
";

    /// Real lines with --rate and --latency-limit: schedule lag column and `skipped`.
    const LOG_RATE: &str = "\
0 1 5993 0 1795762053 774627 106
0 2 skipped 0 1795762053 774659 0
0 3 skipped 0 1795762053 774661 0
0 4 skipped 0 1795762053 774662 0
1 1 5700 0 1795762053 774994 104
0 5 4270 0 1795762053 776518 2411
";

    /// Real lines with --max-tries=3 --failures-detailed: retries column, `serialization`.
    const LOG_RETRIES: &str = "\
3 1 serialization 0 1795762061 432525 2
1 1 serialization 0 1795762061 436147 2
2 1 3085 0 1795762061 419459 0
2 2 1274 0 1795762061 420752 0
2 3 1089 0 1795762061 421849 0
";

    /// Real lines without --failures-detailed: `failed`.
    const LOG_FAILED: &str = "\
4 1 4168 0 1795762064 477121
7 1 failed 0 1795762064 478465
5 1 failed 0 1795762064 478949
2 2 2278 0 1795762064 481543
2 3 2709 0 1795762064 484258
";

    #[test]
    fn summary_pg15() {
        let s = parse_summary(SUMMARY_PG15).unwrap();
        assert_eq!(
            s,
            Summary {
                tps: 955.577439,
                latency_avg_ms: Some(4.167),
                latency_stddev_ms: Some(2.276),
                transactions: 4782,
                failed: 0,
                skipped: 0,
                duration_s: Some(5.0),
                clients: Some(4),
                threads: Some(2),
                scale: Some(1),
                initial_connection_time_ms: Some(13.845),
                aborted: false,
            }
        );
    }

    #[test]
    fn summary_mixed_with_stderr() {
        let text = format!("{PROGRESS_PG15}{SUMMARY_PG15}");
        let s = parse_summary(&text).unwrap();
        assert_eq!(s.transactions, 4782);
        assert_eq!(s.tps, 955.577439);
    }

    #[test]
    fn summary_rate_limited_counts_skipped() {
        let s = parse_summary(SUMMARY_PG15_RATE).unwrap();
        assert_eq!(s.transactions, 1220);
        assert_eq!(s.skipped, 10);
        assert_eq!(s.failed, 0);
        assert_eq!(s.latency_avg_ms, Some(1.996));
        assert_eq!(s.tps, 405.799743);
    }

    #[test]
    fn summary_with_failures_and_retries() {
        let s = parse_summary(SUMMARY_PG15_RETRIES).unwrap();
        assert_eq!(s.transactions, 1324);
        assert_eq!(s.failed, 2380);
        assert_eq!(s.clients, Some(8));
    }

    #[test]
    fn summary_multi_script_ignores_per_script_lines() {
        let s = parse_summary(SUMMARY_PG15_MULTI_SCRIPT).unwrap();
        assert_eq!(s.transactions, 400);
        assert_eq!(s.tps, 1434.576154);
        assert_eq!(s.latency_avg_ms, Some(1.394));
        // Only per-script sections carry a stddev here.
        assert_eq!(s.latency_stddev_ms, None);
        assert_eq!(s.duration_s, None);
    }

    #[test]
    fn summary_pg14_has_no_failed_line() {
        let s = parse_summary(SUMMARY_PG14).unwrap();
        assert_eq!(s.failed, 0);
        assert_eq!(s.scale, Some(10));
        assert_eq!(s.tps, 4187.051993);
        assert_eq!(s.duration_s, Some(60.0));
    }

    #[test]
    fn summary_pg13_prefers_excluding_connections() {
        let s = parse_summary(SUMMARY_PG13).unwrap();
        assert_eq!(s.tps, 900.2);
        assert_eq!(s.initial_connection_time_ms, None);
        assert_eq!(s.latency_stddev_ms, None);
        // Order of the two lines does not matter.
        let swapped = SUMMARY_PG13.replace(
            "tps = 899.100000 (including connections establishing)\ntps = 900.200000 (excluding connections establishing)",
            "tps = 900.200000 (excluding connections establishing)\ntps = 899.100000 (including connections establishing)",
        );
        assert_eq!(parse_summary(&swapped).unwrap().tps, 900.2);
        // With only the "including" figure, use it.
        let only_including = SUMMARY_PG13.replace(
            "tps = 900.200000 (excluding connections establishing)\n",
            "",
        );
        assert_eq!(parse_summary(&only_including).unwrap().tps, 899.1);
    }

    #[test]
    fn summary_aborted_run() {
        let text = format!(
            "{SUMMARY_PG15}pgbench: error: Run was aborted; the above results are incomplete.\n"
        );
        assert!(parse_summary(&text).unwrap().aborted);
    }

    #[test]
    fn summary_crlf_line_endings() {
        let text = SUMMARY_PG15.replace('\n', "\r\n");
        assert_eq!(parse_summary(&text).unwrap().transactions, 4782);
    }

    #[test]
    fn summary_missing_tps_is_named() {
        let text = SUMMARY_PG15.replace("tps = 955.577439 (without initial connection time)\n", "");
        let err = parse_summary(&text).unwrap_err();
        assert!(matches!(err, ParseError::MissingField("tps = ")));
        assert!(err.to_string().contains("tps = "), "{err}");
    }

    #[test]
    fn summary_missing_transactions_is_named() {
        let text = SUMMARY_PG15.replace("number of transactions actually processed: 4782\n", "");
        let err = parse_summary(&text).unwrap_err();
        assert!(
            err.to_string()
                .contains("number of transactions actually processed")
        );
    }

    #[test]
    fn summary_of_failed_connection_is_an_error() {
        let text = "pgbench: error: connection to server on socket \"/tmp/.s.PGSQL.5432\" failed: No such file or directory\n";
        assert!(matches!(
            parse_summary(text),
            Err(ParseError::MissingField(_))
        ));
        assert!(parse_summary("").is_err());
    }

    #[test]
    fn summary_bad_number_shows_line() {
        let text = SUMMARY_PG15.replace("latency average = 4.167 ms", "latency average = x ms");
        let err = parse_summary(&text).unwrap_err();
        assert!(err.to_string().contains("latency average = x ms"), "{err}");
    }

    #[test]
    fn progress_pg15_lines() {
        let points: Vec<_> = PROGRESS_PG15
            .lines()
            .filter_map(parse_progress_line)
            .collect();
        assert_eq!(points.len(), 5);
        assert_eq!(
            points[0],
            ProgressPoint {
                t_s: 1.0,
                tps: 870.9,
                latency_avg_ms: 4.508,
                latency_stddev_ms: Some(3.155),
                failed: Some(0),
                lag_ms: None,
                skipped: None,
                retried: None,
            }
        );
        assert_eq!(points[4].t_s, 5.0);
    }

    #[test]
    fn progress_with_lag_and_skipped() {
        // Real line, pgbench 15 with -R 400 --latency-limit=3.
        let p = parse_progress_line(
            "progress: 1.0 s, 390.0 tps, lat 2.231 ms stddev 1.339, 0 failed, lag 0.248 ms, 7 skipped",
        )
        .unwrap();
        assert_eq!(p.lag_ms, Some(0.248));
        assert_eq!(p.skipped, Some(7));
        assert_eq!(p.failed, Some(0));
        assert_eq!(p.tps, 390.0);
    }

    #[test]
    fn progress_with_retries() {
        // Real line, pgbench 15 with --max-tries=3.
        let p = parse_progress_line(
            "progress: 1.0 s, 382.9 tps, lat 3.698 ms stddev 2.358, 698 failed, 803 retried, 1557 retries",
        )
        .unwrap();
        assert_eq!(p.failed, Some(698));
        assert_eq!(p.retried, Some(803));
    }

    #[test]
    fn progress_old_versions_without_failed() {
        let p =
            parse_progress_line("progress: 10.0 s, 1234.5 tps, lat 0.812 ms stddev 0.221").unwrap();
        assert_eq!(p.failed, None);
        assert_eq!(p.latency_stddev_ms, Some(0.221));
        let p = parse_progress_line(
            "progress: 2.0 s, 99.5 tps, lat 1.000 ms stddev 0.100, lag 0.010 ms, 3 skipped",
        )
        .unwrap();
        assert_eq!(p.lag_ms, Some(0.01));
        assert_eq!(p.skipped, Some(3));
        let p = parse_progress_line("progress: 3.0 s, 50.0 tps, lat 2.000 ms").unwrap();
        assert_eq!(p.latency_stddev_ms, None);
    }

    #[test]
    fn progress_empty_interval_prints_nan() {
        for line in [
            "progress: 7.0 s, 0.0 tps, lat nan ms stddev nan, 0 failed",
            "progress: 7.0 s, 0.0 tps, lat -nan ms stddev -nan, 0 failed",
            "progress: 7.0 s, 0.0 tps, lat NaN ms stddev NaN, 0 failed",
        ] {
            let p = parse_progress_line(line).unwrap();
            assert_eq!(p.tps, 0.0);
            assert_eq!(p.latency_avg_ms, 0.0);
            assert_eq!(p.latency_stddev_ms, None);
        }
    }

    #[test]
    fn progress_timestamp_and_crlf() {
        let p = parse_progress_line(
            "progress: 1795761835.345 s, 870.9 tps, lat 4.508 ms stddev 3.155, 0 failed\r",
        )
        .unwrap();
        assert_eq!(p.t_s, 1795761835.345);
    }

    #[test]
    fn progress_rejects_other_lines() {
        for line in [
            "starting vacuum...end.",
            "",
            "progress:",
            "progress: soon",
            "progress: 1.0 s, many tps, lat 1 ms",
            "pgbench: error: client 0 aborted in command 5",
            "tps = 955.577439 (without initial connection time)",
        ] {
            assert_eq!(parse_progress_line(line), None, "{line}");
        }
    }

    fn feed(log: &mut TransactionLog, text: &str) {
        for line in text.lines() {
            log.add_line(line).unwrap();
        }
    }

    #[test]
    fn log_plain_lines() {
        let mut log = TransactionLog::new();
        feed(&mut log, LOG_PLAIN);
        let l = log.latencies().unwrap();
        assert_eq!(l.count, 8);
        assert_eq!(l.failed, 0);
        assert_eq!(l.skipped, 0);
        let sum: u64 = [8629, 2036, 12787, 2995, 3355, 3340, 6343, 2499]
            .iter()
            .sum();
        assert!((l.avg_ms - sum as f64 / 8.0 / 1000.0).abs() < 1e-9);
        assert_eq!(l.max_ms, 12.787);
        // Sorted: 2036 2499 2995 3340 3355 6343 8629 12787; the median is the 4th value.
        assert!((l.p50_ms - 3.340).abs() <= 0.004, "{}", l.p50_ms);
        assert!(l.p50_ms <= l.p90_ms && l.p90_ms <= l.p95_ms);
        assert!(l.p95_ms <= l.p99_ms && l.p99_ms <= l.max_ms);
        assert_eq!(l.p99_ms, 12.787);
    }

    #[test]
    fn log_counts_skipped_and_failed_separately() {
        let mut log = TransactionLog::new();
        feed(&mut log, LOG_RATE);
        feed(&mut log, LOG_RETRIES);
        feed(&mut log, LOG_FAILED);
        let l = log.latencies().unwrap();
        assert_eq!(l.skipped, 3);
        assert_eq!(l.failed, 4);
        assert_eq!(l.count, 3 + 3 + 3);
        assert_eq!(l.max_ms, 5.993);
    }

    #[test]
    fn log_empty_and_blank() {
        let mut log = TransactionLog::default();
        assert_eq!(log.latencies(), None);
        log.add_line("").unwrap();
        log.add_line("   \n").unwrap();
        log.add_line("0 2 skipped 0 1795762053 774659 0").unwrap();
        assert_eq!(log.latencies(), None);
        assert_eq!(log.skipped(), 1);
        assert_eq!(log.failed(), 0);
    }

    #[test]
    fn log_bad_lines_name_file_and_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgbench_log.42");
        std::fs::write(
            &path,
            "1 1 8629 0 1795761834 345327\n1 2 fast 0 1795761834 347383\n",
        )
        .unwrap();
        let msg = read_transaction_logs(std::slice::from_ref(&path))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("pgbench_log.42: line 2: "), "{msg}");
        assert!(msg.contains("1 2 fast 0 1795761834 347383"), "{msg}");
        let mut log = TransactionLog::new();

        for bad in [
            "1 2 3",
            "a 2 2036 0 1795761834 347383",
            "1 2 -5 0 1795761834 347383",
            "1 2 2036 0 1795761834 347383 1 2 3",
            // An aggregated log line (--aggregate-interval) has floats and many columns.
            "1795761834 870 3912345 19876543210 1012 32068",
        ] {
            assert!(
                matches!(log.add_line(bad), Err(ParseError::LogLine { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn log_percentiles_on_many_values() {
        let mut log = TransactionLog::new();
        // 1..=10000 µs: p50 ≈ 5 ms, p90 ≈ 9 ms, p99 ≈ 9.9 ms, max exactly 10 ms.
        for (i, us) in (1..=10_000u64).enumerate() {
            log.add_line(&format!("0 {} {us} 0 1795761834 0", i + 1))
                .unwrap();
        }
        let l = log.latencies().unwrap();
        assert_eq!(l.count, 10_000);
        assert!((l.avg_ms - 5.0005).abs() < 1e-9);
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.002;
        assert!(close(l.p50_ms, 5.0), "{}", l.p50_ms);
        assert!(close(l.p90_ms, 9.0), "{}", l.p90_ms);
        assert!(close(l.p95_ms, 9.5), "{}", l.p95_ms);
        assert!(close(l.p99_ms, 9.9), "{}", l.p99_ms);
        assert_eq!(l.max_ms, 10.0);
        assert!(l.p99_ms <= l.max_ms);
    }

    #[test]
    fn log_huge_latency_auto_resizes() {
        let mut log = TransactionLog::new();
        log.add_line("0 1 1 0 1795761834 0").unwrap();
        log.add_line("0 2 3600000000 0 1795761834 0").unwrap(); // one hour
        let l = log.latencies().unwrap();
        assert_eq!(l.max_ms, 3_600_000.0);
        assert!(l.p99_ms <= l.max_ms);
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("pgbench_parse_{}_{}", name, std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn read_logs_from_files() {
        let dir = temp_dir("files");
        let a = dir.join("pgbench_log.123");
        let b = dir.join("pgbench_log.123.1");
        std::fs::write(&a, LOG_PLAIN).unwrap();
        std::fs::write(&b, LOG_FAILED).unwrap();
        let l = read_transaction_logs(&[a, b]).unwrap();
        assert_eq!(l.count, 8 + 3);
        assert_eq!(l.failed, 2);
        assert_eq!(l.max_ms, 12.787);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn read_logs_errors_name_file_and_line() {
        let dir = temp_dir("errors");
        let good = dir.join("pgbench_log.1");
        let bad = dir.join("pgbench_log.1.1");
        std::fs::write(&good, LOG_PLAIN).unwrap();
        std::fs::write(&bad, "0 1 100 0 1 2\n0 2 oops 0 1 2\n").unwrap();
        let err = read_transaction_logs(&[good.clone(), bad.clone()]).unwrap_err();
        match &err {
            ParseError::LogLine { path, line_no, .. } => {
                assert_eq!(path.as_deref(), Some(bad.as_path()));
                assert_eq!(*line_no, 2);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("pgbench_log.1.1: line 2"), "{err}");

        let missing = dir.join("absent");
        let err = read_transaction_logs(&[missing]).unwrap_err();
        assert!(matches!(err, ParseError::Io { .. }));
        assert!(err.to_string().contains("absent"), "{err}");

        let only_failed = dir.join("failed_only");
        std::fs::write(&only_failed, "7 1 failed 0 1795762064 478465\n").unwrap();
        let err = read_transaction_logs(&[only_failed]).unwrap_err();
        assert!(matches!(
            err,
            ParseError::NoTransactions {
                failed: 1,
                skipped: 0
            }
        ));
        assert!(read_transaction_logs(&[]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn results_serialize() {
        let s = parse_summary(SUMMARY_PG15).unwrap();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["transactions"], 4782);
        assert_eq!(v["latency_stddev_ms"], 2.276);
        let p =
            parse_progress_line("progress: 1.0 s, 870.9 tps, lat 4.508 ms stddev 3.155, 0 failed")
                .unwrap();
        assert_eq!(serde_json::to_value(&p).unwrap()["failed"], 0);
    }

    // pgbench's output is tool output: hostile as far as parsing goes. Variations of real
    // output parse to finite figures or are refused; nothing panics.
    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(ratchet_test_support::fuzz::cases()))]

        #[test]
        fn any_variation_of_a_summary_parses_to_finite_figures_or_is_refused(
            text in ratchet_test_support::fuzz::mutations_of(SUMMARY_PG15_RETRIES),
        ) {
            if let Ok(summary) = parse_summary(&text) {
                proptest::prop_assert!(summary.tps.is_finite() && summary.tps >= 0.0, "{summary:?}");
            }
        }

        #[test]
        fn any_variation_of_progress_and_log_lines_is_taken_or_refused(
            progress in ratchet_test_support::fuzz::mutations_of(PROGRESS_PG15),
            log in ratchet_test_support::fuzz::mutations_of(LOG_RETRIES),
        ) {
            for line in progress.lines().chain(["progress: inf s, inf tps, lat inf ms stddev inf, 0 failed"]) {
                if let Some(p) = parse_progress_line(line) {
                    let figures = [Some(p.t_s), Some(p.tps), Some(p.latency_avg_ms), p.latency_stddev_ms, p.lag_ms];
                    proptest::prop_assert!(figures.iter().flatten().all(|f| f.is_finite()), "{line}: {p:?}");
                }
            }
            let mut acc = TransactionLog::new();
            for line in log.lines() {
                let _ = acc.add_line(line);
            }
            let _ = acc.latencies();
        }
    }
}
