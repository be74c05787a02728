//! `stroppy.install` and `stroppy.run`: the Stroppy load tool (k6-based), downloaded as a
//! release tarball (sha256-checked) or taken from the machine, then run against a
//! database with its summary parsed into the common result shape.

use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::actions::{
    LatencySummary, LoadResult, StroppyInstallInput, StroppyInstalled, StroppyRunInput,
};
use sha2::{Digest, Sha256};

use crate::actions::process::{self, Cmd};
use crate::actions::sampler::{self, Sampler};
use crate::actions::stroppy_parse;
use crate::actions::{ActionContext, ActionError, ActionResult, measure_repetitions, output};

pub async fn install(ctx: &ActionContext) -> ActionResult {
    let input: StroppyInstallInput = ctx.input_as()?;
    if let Some(binary) = &input.binary {
        let path = PathBuf::from(binary);
        check_executable(&path)
            .map_err(|e| ActionError::fatal(format!("invalid input at `binary`: {e}")))?;
        return output(&StroppyInstalled {
            path: binary.clone(),
            version: input.version,
            downloaded: false,
        });
    }
    let Some(url) = &input.url else {
        let found = which("stroppy").ok_or_else(|| {
            ActionError::fatal(
                "stroppy is not on this machine's PATH; give `url` (a release tarball) or `binary`",
            )
        })?;
        return output(&StroppyInstalled {
            path: found.display().to_string(),
            version: input.version,
            downloaded: false,
        });
    };
    // Nothing unverified runs on the machine: a download needs its checksum.
    let Some(want) = input
        .sha256
        .as_deref()
        .map(|h| h.trim().to_ascii_lowercase())
    else {
        return Err(ActionError::fatal(
            "invalid input at `sha256`: a download needs the release tarball's SHA-256 (the server pins known releases; a suite names others)",
        ));
    };
    check_version(&input.version)?;
    let url = url.replace("{version}", &input.version);
    let dir = installed(&ctx.work_dir, &input.version);
    let checksum_file = dir.join(".sha256");
    if let Some(found) = find_file(&dir, "stroppy")
        && std::fs::read_to_string(&checksum_file).is_ok_and(|h| h.trim() == want)
    {
        ctx.log.line(format!(
            "ratchet-agent: stroppy {} is already installed at {}",
            input.version,
            found.display()
        ));
        return output(&StroppyInstalled {
            path: found.display().to_string(),
            version: input.version,
            downloaded: false,
        });
    }
    ctx.log.line(format!("ratchet-agent: downloading {url}"));
    let bytes = tokio::select! {
        bytes = download(&url) => bytes?,
        () = ctx.cancel.cancelled() => return Err(ActionError::retryable("cancelled")),
    };
    let got: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if got != want {
        return Err(ActionError::fatal(format!(
            "the download of {url} has sha256 {got}, expected {want}: refusing to install it"
        )));
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| ActionError::retryable(format!("cannot create {}: {e}", dir.display())))?;
    let found = unpack_binary(&bytes, &dir)?;
    std::fs::write(&checksum_file, &want).map_err(|e| {
        ActionError::retryable(format!("cannot write {}: {e}", checksum_file.display()))
    })?;
    ctx.log.line(format!(
        "ratchet-agent: stroppy {} installed at {}",
        input.version,
        found.display()
    ));
    output(&StroppyInstalled {
        path: found.display().to_string(),
        version: input.version,
        downloaded: true,
    })
}

async fn download(url: &str) -> Result<Vec<u8>, ActionError> {
    let response = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(600))
        .send()
        .await
        .map_err(|e| ActionError::retryable(format!("cannot download {url}: {e}")))?;
    let status = response.status();
    if !status.is_success() {
        let retryable = status.is_server_error();
        let message = format!("cannot download {url}: {status}");
        return Err(if retryable {
            ActionError::retryable(message)
        } else {
            ActionError::fatal(message)
        });
    }
    Ok(response
        .bytes()
        .await
        .map_err(|e| ActionError::retryable(format!("cannot download {url}: {e}")))?
        .to_vec())
}

/// Unpack a `.tar.gz` (or take a bare binary) and answer the path of the `stroppy` binary.
fn unpack_binary(bytes: &[u8], dir: &Path) -> Result<PathBuf, ActionError> {
    let gzipped = bytes.starts_with(&[0x1f, 0x8b]);
    if gzipped {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
        archive
            .unpack(dir)
            .map_err(|e| ActionError::fatal(format!("cannot unpack the tarball: {e}")))?;
    } else {
        std::fs::write(dir.join("stroppy"), bytes)
            .map_err(|e| ActionError::retryable(format!("cannot write the binary: {e}")))?;
    }
    let found = find_file(dir, "stroppy")
        .ok_or_else(|| ActionError::fatal("the download holds no file named `stroppy`"))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&found, std::fs::Permissions::from_mode(0o755)).map_err(|e| {
        ActionError::retryable(format!("cannot make {} executable: {e}", found.display()))
    })?;
    Ok(found)
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
    }
    None
}

fn check_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
        Ok(())
    } else {
        Err(format!("{} is not an executable file", path.display()))
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| check_executable(p).is_ok())
    })
}

/// The command line for a Stroppy v6 run: the driver URL as a `-D` override, a timed
/// `constant-vus` executor (the default executor runs one iteration and ignores the
/// duration), and the JSON run report written next to the attempt.
pub fn command(input: &StroppyRunInput, binary: &Path, report: &Path) -> Cmd {
    let mut cmd = Cmd::new(binary)
        .args(["run", &input.workload, "-d", "pg"])
        .arg("-D")
        .arg(format!("url={}", input.driver_url))
        .args([
            "--executor",
            "constant-vus",
            "--vus",
            &input.vus.to_string(),
        ])
        .args(["--duration", &format!("{}s", input.duration_s)]);
    if let Some(scale) = input.scale {
        cmd = cmd.args(["--scale-factor", &scale.to_string()]);
    }
    cmd = cmd
        .arg("--report-file")
        .arg(report)
        .args(input.args.iter().cloned());
    for (k, v) in &input.env {
        cmd = cmd.env(k, v);
    }
    // pgx (Stroppy's driver) takes the password from the environment, off the command line.
    if let Some(password) = &input.password {
        cmd = cmd.env("PGPASSWORD", password);
    }
    cmd
}

/// When the agent exports traces, Stroppy gets the same collector and the attempt's span as
/// its parent (`TRACEPARENT`), so its own OpenTelemetry output joins the run's trace. Not the
/// collector's headers: they may hold its credentials, and the suite chose this binary.
fn traced(mut cmd: Cmd, ctx: &ActionContext) -> Cmd {
    let Some(parent) = ctx.trace.traceparent() else {
        return cmd;
    };
    for var in telemetry::EXPORT_VARS
        .iter()
        .filter(|v| !v.ends_with("_HEADERS"))
    {
        if let Ok(value) = std::env::var(var) {
            cmd = cmd.env(*var, value);
        }
    }
    cmd.env("OTEL_SERVICE_NAME", "stroppy")
        .env("TRACEPARENT", parent)
}

pub async fn run(ctx: &ActionContext) -> ActionResult {
    run_with(ctx, ctx.input_as()?).await
}

/// A version names a directory: no path separators, no `..`.
fn check_version(version: &str) -> Result<(), ActionError> {
    let ok = !version.is_empty()
        && version.len() <= 64
        && version.starts_with(|c: char| c.is_ascii_alphanumeric())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'))
        && !version.contains("..");
    if ok {
        Ok(())
    } else {
        Err(ActionError::fatal(format!(
            "invalid input at `version`: `{version}` is not a release such as 6.1.1"
        )))
    }
}

/// Where `stroppy.install` puts a downloaded version.
fn installed(work_dir: &Path, version: &str) -> PathBuf {
    work_dir.join("stroppy").join(version)
}

pub async fn run_with(ctx: &ActionContext, input: StroppyRunInput) -> ActionResult {
    // One argument, never an option of Stroppy's own.
    if input.workload.is_empty() || input.workload.starts_with('-') {
        return Err(ActionError::fatal(format!(
            "invalid input at `workload`: `{}` must name a workload (and not start with `-`)",
            input.workload
        )));
    }
    if let Some(v) = &input.version {
        check_version(v)?;
    }
    let from_install = input
        .version
        .as_deref()
        .and_then(|v| find_file(&installed(&ctx.work_dir, v), "stroppy"));
    let binary = match (&input.binary, from_install) {
        (Some(b), _) => PathBuf::from(b),
        (None, Some(found)) => found,
        (None, None) => which("stroppy").ok_or_else(|| {
            ActionError::fatal(
                "stroppy is not installed: run stroppy.install first, or give `binary`",
            )
        })?,
    };
    let tool_version = process::version_line(&binary, "--version", &ctx.attempt_dir).await;
    measure_repetitions(ctx, input.repeat, |r| {
        measure(ctx, &input, &binary, tool_version.as_deref(), r)
    })
    .await
}

/// One warm-up (discarded) and one measured run.
async fn measure(
    ctx: &ActionContext,
    input: &StroppyRunInput,
    binary: &Path,
    tool_version: Option<&str>,
    run: u32,
) -> Result<LoadResult, ActionError> {
    if input.warmup_s > 0 {
        ctx.log.line(format!(
            "ratchet-agent: warming up for {} s (not measured)",
            input.warmup_s
        ));
        let warmup = StroppyRunInput {
            duration_s: input.warmup_s,
            ..input.clone()
        };
        let report = ctx.attempt_dir.join("stroppy-warmup-report.json");
        let cmd = traced(command(&warmup, binary, &report), ctx).cwd(&ctx.attempt_dir);
        let finished = process::run(&cmd, ctx, |_, _| {}).await?;
        if !finished.success() {
            return Err(ActionError::retryable(
                finished.failure("stroppy (warm-up)"),
            ));
        }
    }
    let report = ctx.attempt_dir.join(format!("stroppy-report-{run}.json"));
    let cmd = traced(command(input, binary, &report), ctx).cwd(&ctx.attempt_dir);
    let mut text = String::new();
    let sampler = Sampler::for_window(
        ctx,
        input.duration_s,
        database_of(input),
        std::collections::BTreeMap::new(),
        input.stat_statements,
    )
    .await;
    let finished = process::run(&cmd, ctx, |_, line| {
        text.push_str(line);
        text.push('\n');
    })
    .await;
    let sampled = sampler.finish().await;
    let finished = finished?;
    if !finished.success() {
        return Err(ActionError::retryable(finished.failure("stroppy")));
    }
    // The JSON report is exact; the printed summary is the fallback (older versions).
    let summary = std::fs::read_to_string(&report)
        .ok()
        .and_then(|json| stroppy_parse::parse_summary(&json).ok())
        .map_or_else(|| stroppy_parse::parse_summary(&text), Ok)
        .map_err(|e| ActionError::fatal(format!("cannot read Stroppy's results: {e}")))?;
    let latency = summary.latency.clone().unwrap_or_default();
    let ms = |v: Option<f64>| v.unwrap_or(0.0);
    let result = LoadResult {
        tool: "stroppy".into(),
        tps: ms(summary.tps),
        latency_ms: LatencySummary {
            avg: ms(latency.avg_ms),
            p50: ms(latency.p50_ms),
            p90: ms(latency.p90_ms),
            p95: ms(latency.p95_ms),
            // Stroppy may print no p99 or max: never report a p99 below the p95.
            p99: ms(latency.p99_ms.or(latency.max_ms).or(latency.p95_ms)),
            max: ms(latency.max_ms.or(latency.p99_ms).or(latency.p95_ms)),
        },
        transactions: summary.transactions.unwrap_or(0),
        errors: summary.errors,
        duration_s: summary.duration_s.unwrap_or(input.duration_s as f64),
        series: Vec::new(),
        summary: text,
        tool_version: tool_version.map(str::to_string),
        command: Some(cmd.display()),
        warmup_tps: None,
        machine: Some(crate::machine::describe(&ctx.work_dir)),
        system: sampled.system,
        database: sampled.database,
        top_statements: sampled.top_statements,
        windows: vec![sampled.window],
        database_machine: Vec::new(),
        servers: sampled.servers,
        outage: None,
        pooler: None,
        repetitions: Vec::new(),
    };
    Ok(result)
}

/// The database the driver URL names (`postgres://user@host:port/db`), for the sampler.
fn database_of(input: &StroppyRunInput) -> Option<sampler::Database> {
    let url = reqwest::Url::parse(&input.driver_url).ok()?;
    Some(sampler::Database {
        host: url.host_str()?.to_string(),
        port: url.port().unwrap_or(5432),
        user: Some(url.username())
            .filter(|u| !u.is_empty())
            .unwrap_or("postgres")
            .to_string(),
        database: Some(url.path().trim_start_matches('/'))
            .filter(|d| !d.is_empty())
            .unwrap_or("postgres")
            .to_string(),
        password: input.password.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timed_run_uses_constant_vus_the_driver_url_and_a_report_file() {
        let input: StroppyRunInput = serde_json::from_value(serde_json::json!({
            "workload": "tpcc/tx", "driver_url": "postgres://postgres@10.1.0.5:5432/postgres",
            "duration_s": 300, "vus": 16, "scale": 10, "env": {"WAREHOUSES": "10"}
        }))
        .unwrap();
        let cmd = command(
            &input,
            Path::new("/opt/stroppy"),
            Path::new("/w/report.json"),
        );
        assert_eq!(
            cmd.display(),
            "/opt/stroppy run tpcc/tx -d pg -D url=postgres://postgres@10.1.0.5:5432/postgres \
             --executor constant-vus --vus 16 --duration 300s --scale-factor 10 --report-file /w/report.json"
        );
        assert_eq!(cmd.env, vec![("WAREHOUSES".to_string(), "10".to_string())]);
    }

    #[test]
    fn unknown_input_keys_are_refused() {
        let bad = serde_json::from_value::<StroppyRunInput>(serde_json::json!({
            "workload": "tpcc/tx", "driver_url": "postgres://x", "duration_s": 1, "vu": 3
        }));
        assert!(bad.unwrap_err().to_string().contains("vu"));
    }
}
