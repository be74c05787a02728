//! `pgbench.run`: initialise at a scale, run the load with progress every second and a
//! per-transaction log, and measure: TPS and failures from pgbench's final report, the
//! per-second series from its progress lines, and latency percentiles from the
//! per-transaction log (pgbench prints none).

use std::path::{Path, PathBuf};

use protocol::actions::{LatencySummary, LoadResult, Outage, PgbenchInput, SeriesPoint};

use crate::actions::pgbench_parse::{self, parse_progress_line, parse_summary};
use crate::actions::pgbouncer;
use crate::actions::process::{self, Cmd, Stream};
use crate::actions::sampler::{self, Sampler};
use crate::actions::{ActionContext, ActionError, ActionResult, measure_repetitions};

const PROTOCOLS: &[&str] = &["simple", "extended", "prepared"];

pub async fn run(ctx: &ActionContext) -> ActionResult {
    run_with(ctx, ctx.input_as()?).await
}

pub async fn run_with(ctx: &ActionContext, input: PgbenchInput) -> ActionResult {
    if let Some(p) = &input.protocol
        && !PROTOCOLS.contains(&p.as_str())
    {
        return Err(ActionError::fatal(format!(
            "invalid input at `protocol`: `{p}` is not one of {}",
            PROTOCOLS.join(", ")
        )));
    }
    if input.duration_s == 0 || input.clients == 0 || input.threads == 0 || input.scale == 0 {
        return Err(ActionError::fatal(
            "invalid input: `duration_s`, `clients`, `threads` and `scale` must be at least 1",
        ));
    }
    if input.init {
        // Standbys are read-only: the data is made on their primary.
        let on_primary = input.primary.as_ref().map(|p| PgbenchInput {
            host: p.host.clone(),
            port: p.port,
            ..input.clone()
        });
        let init = connect(
            Cmd::new("pgbench").args(["-i", "-q", "-s", &input.scale.to_string()]),
            on_primary.as_ref().unwrap_or(&input),
            ctx,
        )
        .env("PGAPPNAME", protocol::actions::SETUP_LOAD_MARKER)
        .arg(&input.database);
        let finished = process::run(&init, ctx, |_, _| {}).await?;
        if !finished.success() {
            return Err(ActionError::retryable(finished.failure("pgbench -i")));
        }
        if let Some(primary) = &on_primary {
            wait_replayed(ctx, &database_at(primary, &primary.host, primary.port)).await?;
        }
    }
    // Repetitions on one database, initialised once.
    measure_repetitions(ctx, input.repeat, |r| measure(ctx, &input, r)).await
}

/// How the sampler reaches the server at `host`:`port` as `input`'s user.
fn database_at(input: &PgbenchInput, host: &str, port: u16) -> sampler::Database {
    sampler::Database {
        host: host.to_string(),
        port,
        user: input.user.clone(),
        database: input.database.clone(),
        password: input.password.clone(),
    }
}

/// How long standbys may take to replay the initialisation.
const REPLAY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Until every standby streaming from `primary` has replayed what it has written so far
/// (a load on the standbys needs the tables there).
async fn wait_replayed(
    ctx: &ActionContext,
    primary: &sampler::Database,
) -> Result<(), ActionError> {
    const QUERY: &str = "SELECT count(*) FILTER (WHERE replay_lsn >= pg_current_wal_lsn()) || '/' || count(*) \
                         FROM pg_stat_replication";
    let deadline = tokio::time::Instant::now() + REPLAY_TIMEOUT;
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        if let Some(answer) = sampler::psql(primary, QUERY, &ctx.attempt_dir).await {
            last = answer.trim().to_string();
            if let Some((replayed, all)) = last.split_once('/')
                && replayed == all
                && all != "0"
            {
                ctx.log.line(format!(
                    "ratchet-agent: {all} standbys have replayed the initialisation"
                ));
                return Ok(());
            }
        }
        ctx.pause(std::time::Duration::from_millis(200)).await?;
    }
    Err(ActionError::retryable(format!(
        "the standbys did not replay the initialisation within {REPLAY_TIMEOUT:?} (replayed/streaming: {last})"
    )))
}

/// A pgbench command line to the database (its password in the environment).
fn connect(cmd: Cmd, input: &PgbenchInput, ctx: &ActionContext) -> Cmd {
    let cmd = cmd
        .args([
            "-h",
            &input.host,
            "-p",
            &input.port.to_string(),
            "-U",
            &input.user,
        ])
        .cwd(&ctx.attempt_dir);
    match &input.password {
        Some(p) => cmd.env("PGPASSWORD", p),
        None => cmd,
    }
}

/// The load for `seconds`: the same for the warm-up and the measured window.
fn load_for(input: &PgbenchInput, ctx: &ActionContext, seconds: u64) -> Cmd {
    let mut load = connect(Cmd::new("pgbench"), input, ctx)
        .args(["-b", input.builtin.as_str()])
        .args([
            "-c",
            &input.clients.to_string(),
            "-j",
            &input.threads.to_string(),
        ])
        .args(["-T", &seconds.to_string(), "-P", "1"]);
    if let Some(p) = &input.protocol {
        load = load.args(["-M", p]);
    }
    load
}

/// One warm-up (discarded) and one measured window, logged per transaction.
async fn measure(
    ctx: &ActionContext,
    input: &PgbenchInput,
    run: u32,
) -> Result<LoadResult, ActionError> {
    let warmup_tps = if input.warmup_s > 0 {
        ctx.log.line(format!(
            "ratchet-agent: warming up for {} s (not measured)",
            input.warmup_s
        ));
        let mut report = String::new();
        let warmup = load_for(input, ctx, input.warmup_s)
            .env("PGAPPNAME", protocol::actions::WARMUP_LOAD_MARKER)
            .arg(&input.database);
        let finished = process::run(&warmup, ctx, |stream, line| {
            if stream == Stream::Stdout {
                report.push_str(line);
                report.push('\n');
            }
        })
        .await?;
        if !finished.success() {
            return Err(ActionError::retryable(
                finished.failure("pgbench (warm-up)"),
            ));
        }
        let tps = parse_summary(&report).ok().map(|s| s.tps);
        if let Some(tps) = tps {
            ctx.log.line(format!(
                "ratchet-agent: warm-up done at {tps:.1} tps (discarded)"
            ));
        }
        tps
    } else {
        None
    };

    // The statistics come from the server itself, not through a pooler or a router.
    let database = database_at(
        input,
        input.stats_host.as_deref().unwrap_or(&input.host),
        input.stats_port.unwrap_or(input.port),
    );
    let others = input
        .also_sample
        .iter()
        .map(|(name, at)| (name.clone(), database_at(input, &at.host, at.port)))
        .collect();
    let pooler = input.pooled.then(|| pgbouncer::Admin {
        host: &input.host,
        port: input.port,
        password: input.password.as_deref().unwrap_or_default(),
    });
    let pooler_before = match &pooler {
        Some(admin) => admin.stats(&ctx.attempt_dir, &input.database).await,
        None => None,
    };
    let sampler = Sampler::for_window(
        ctx,
        input.duration_s,
        Some(database),
        others,
        input.stat_statements,
    )
    .await;
    let window = run_window(ctx, input, run).await;
    let sampled = sampler.finish().await;
    let pooler_stats = match (&pooler, pooler_before) {
        (Some(admin), Some(before)) => admin
            .stats(&ctx.attempt_dir, &input.database)
            .await
            .map(|after| pgbouncer::stats_between(&before, &after)),
        _ => None,
    };
    if pooler.is_some() && pooler_stats.is_none() {
        ctx.log
            .line("ratchet-agent: cannot read the pooler's SHOW STATS: no pooler figures");
    }
    let window = window?;
    let mut logs = Vec::new();
    for prefix in &window.log_prefixes {
        logs.extend(transaction_logs(prefix)?);
    }
    if logs.is_empty() {
        return Err(ActionError::fatal(format!(
            "pgbench wrote no per-transaction log under {}",
            ctx.attempt_dir.display()
        )));
    }
    // Completion times (8 bytes a transaction) only where an outage is to be found.
    let read = if input.survive_faults {
        pgbench_parse::read_transaction_logs_with_times(&logs)
    } else {
        pgbench_parse::read_transaction_logs(&logs).map(|l| (l, Vec::new()))
    };
    let (latencies, completions) = read
        .map_err(|e| ActionError::fatal(format!("cannot read pgbench's transaction log: {e}")))?;
    // The logs are read: a day of repetitions should not fill the disk.
    for log in &logs {
        let _ = std::fs::remove_file(log);
    }
    let stdout = window.stdouts.join("\n");
    let summary = if let [only] = window.stdouts.as_slice() {
        parse_summary(only)
            .map_err(|e| ActionError::fatal(format!("cannot read pgbench's report: {e}\n{only}")))?
    } else {
        // Several runs filled the window: the counts are the transaction logs'.
        let seconds = window.seconds.max(1e-3);
        pgbench_parse::Summary {
            tps: latencies.count as f64 / seconds,
            latency_avg_ms: Some(latencies.avg_ms),
            transactions: latencies.count,
            failed: window
                .stdouts
                .iter()
                .filter_map(|s| parse_summary(s).ok())
                .map(|s| s.failed)
                .sum(),
            duration_s: Some(seconds),
            ..Default::default()
        }
    };
    let outage = input.survive_faults.then(|| {
        let (last_before_ms, first_after_ms, seconds) = pgbench_parse::longest_gap(
            &completions,
            sampled.window.start_ms,
            sampled.window.end_ms,
        );
        Outage {
            last_before_ms,
            first_after_ms,
            seconds,
            load_restarts: window.restarts,
        }
    });
    let result = LoadResult {
        tool: "pgbench".into(),
        tps: summary.tps,
        latency_ms: LatencySummary {
            avg: summary.latency_avg_ms.unwrap_or(latencies.avg_ms),
            p50: latencies.p50_ms,
            p90: latencies.p90_ms,
            p95: latencies.p95_ms,
            p99: latencies.p99_ms,
            max: latencies.max_ms,
        },
        transactions: summary.transactions,
        errors: summary.failed,
        duration_s: summary.duration_s.unwrap_or(input.duration_s as f64),
        series: window.series,
        summary: stdout,
        // e.g. `pgbench (PostgreSQL) 15.14`
        tool_version: process::version_line(Path::new("pgbench"), "--version", &ctx.attempt_dir)
            .await,
        command: Some(window.command),
        warmup_tps,
        machine: Some(crate::machine::describe(&ctx.work_dir)),
        system: sampled.system,
        database: sampled.database,
        top_statements: sampled.top_statements,
        windows: vec![sampled.window],
        database_machine: Vec::new(),
        servers: sampled.servers,
        outage,
        pooler: pooler_stats,
        repetitions: Vec::new(),
    };
    ctx.log.line(format!(
        "ratchet-agent: {:.1} tps, latency p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms, {} transactions, {} failed",
        result.tps, result.latency_ms.p50, result.latency_ms.p95, result.latency_ms.p99, result.transactions, result.errors
    ));
    Ok(result)
}

/// The pgbench runs of a measured window.
struct WindowRuns {
    stdouts: Vec<String>,
    series: Vec<SeriesPoint>,
    log_prefixes: Vec<PathBuf>,
    /// Runs that failed and were started again (with faults scheduled).
    restarts: u32,
    command: String,
    seconds: f64,
}

/// The measured window: one pgbench run, or — with faults scheduled — as many as it takes
/// to fill the window when a run fails because its server went away.
async fn run_window(
    ctx: &ActionContext,
    input: &PgbenchInput,
    run: u32,
) -> Result<WindowRuns, ActionError> {
    let started = std::time::Instant::now();
    let mut window = WindowRuns {
        stdouts: Vec::new(),
        series: Vec::new(),
        log_prefixes: Vec::new(),
        restarts: 0,
        command: String::new(),
        seconds: 0.0,
    };
    for part in 0.. {
        let remaining = input.duration_s.saturating_sub(started.elapsed().as_secs());
        if part > 0 && remaining == 0 {
            break;
        }
        let prefix = ctx.attempt_dir.join(format!("pgbench_log_{run}_{part}"));
        let load = load_for(input, ctx, remaining.max(1))
            .env("PGAPPNAME", protocol::actions::MEASURED_LOAD_MARKER)
            .arg("-l")
            .arg(format!("--log-prefix={}", prefix.display()))
            .arg(&input.database);
        if part == 0 {
            window.command = load.display();
        }
        let offset = started.elapsed().as_secs_f64();
        let mut stdout = String::new();
        let series = &mut window.series;
        let finished = process::run(&load, ctx, |stream, line| match stream {
            Stream::Stdout => {
                stdout.push_str(line);
                stdout.push('\n');
            }
            Stream::Stderr => {
                if let Some(p) = parse_progress_line(line) {
                    ctx.progress
                        .point([("tps", p.tps), ("latency_ms", p.latency_avg_ms)]);
                    series.push(SeriesPoint {
                        t_s: offset + p.t_s,
                        tps: p.tps,
                        latency_ms: p.latency_avg_ms,
                        failed: p.failed.unwrap_or(0),
                    });
                }
            }
        })
        .await?;
        window.stdouts.push(stdout);
        window.log_prefixes.push(prefix);
        if finished.success() {
            break;
        }
        if !input.survive_faults {
            return Err(ActionError::retryable(finished.failure("pgbench")));
        }
        window.restarts += 1;
        if window.restarts == 1 || window.restarts.is_multiple_of(20) {
            ctx.log.line(format!(
                "ratchet-agent: the load failed ({}); starting it again for the rest of the window (restart {})",
                finished.tail.last().map_or("", String::as_str),
                window.restarts
            ));
        }
        ctx.pause(std::time::Duration::from_millis(250)).await?;
    }
    window.seconds = started.elapsed().as_secs_f64();
    Ok(window)
}

/// pgbench writes one log per thread: `<prefix>.<pid>` and `<prefix>.<pid>.<thread>` (none
/// for a run that never connected).
fn transaction_logs(prefix: &std::path::Path) -> Result<Vec<PathBuf>, ActionError> {
    let dir = prefix.parent().unwrap_or(prefix);
    let stem = prefix
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("pgbench_log");
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| ActionError::fatal(format!("cannot list {}: {e}", dir.display())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{stem}.")))
        })
        .collect();
    logs.sort();
    Ok(logs)
}
