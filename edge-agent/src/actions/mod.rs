//! The actions an agent runs. Each takes its typed input (`protocol::actions`),
//! streams log lines, honours cancellation (its processes are killed, process group and
//! all), and answers a typed output as JSON.

pub mod etcd;
pub mod fault;
pub mod haproxy;
pub mod patroni;
pub mod pgbench;
pub mod pgbench_parse;
pub mod pgbouncer;
pub mod postgres;
pub mod process;
pub mod sampler;
pub mod shell;
pub mod stroppy;
pub mod stroppy_parse;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;

use protocol::actions as names;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::outbox::{LogSink, ProgressSink};

/// What an action gets.
pub struct ActionContext {
    pub input: Value,
    /// The agent's work dir (instances that outlive a task live here).
    pub work_dir: PathBuf,
    /// This attempt's own directory, removed when the attempt ends.
    pub attempt_dir: PathBuf,
    pub log: LogSink,
    pub progress: ProgressSink,
    pub cancel: CancellationToken,
    pub config: Arc<Config>,
    /// The attempt's span (each command it runs is a span under it).
    pub trace: telemetry::Trace,
}

impl ActionContext {
    /// The input as the action's type; unknown or missing keys fail the task (for good:
    /// retrying would not fix the workflow).
    /// Wait `d`, or fail (to be tried again) as soon as the task is cancelled.
    pub async fn pause(&self, d: std::time::Duration) -> Result<(), ActionError> {
        tokio::select! {
            () = tokio::time::sleep(d) => Ok(()),
            () = self.cancel.cancelled() => Err(ActionError::retryable("cancelled")),
        }
    }

    pub fn input_as<T: DeserializeOwned>(&self) -> Result<T, ActionError> {
        serde_path_to_error::deserialize(self.input.clone()).map_err(|e| {
            ActionError::fatal(format!("invalid input at `{}`: {}", e.path(), e.inner()))
        })
    }
}

/// How an action failed, and whether another attempt could succeed.
#[derive(Debug)]
pub struct ActionError {
    pub message: String,
    pub retryable: bool,
}

impl ActionError {
    pub fn fatal(message: impl Into<String>) -> ActionError {
        ActionError {
            message: message.into(),
            retryable: false,
        }
    }

    pub fn retryable(message: impl Into<String>) -> ActionError {
        ActionError {
            message: message.into(),
            retryable: true,
        }
    }
}

pub type ActionResult = Result<Value, ActionError>;

pub fn output<T: Serialize>(value: &T) -> ActionResult {
    serde_json::to_value(value)
        .map_err(|e| ActionError::fatal(format!("cannot encode the output: {e}")))
}

/// A load's `repeat` measured runs, one after another on one database (each `measure`
/// does its own warm-up), as one result.
pub async fn measure_repetitions<Run>(
    ctx: &ActionContext,
    repeat: u32,
    mut measure: impl FnMut(u32) -> Run,
) -> ActionResult
where
    Run: Future<Output = Result<protocol::actions::LoadResult, ActionError>>,
{
    let repeat = repeat.max(1);
    let mut runs = Vec::new();
    for r in 1..=repeat {
        if repeat > 1 {
            ctx.log
                .line(format!("ratchet-agent: measured run {r} of {repeat}"));
        }
        runs.push(measure(r).await?);
    }
    output(&protocol::actions::LoadResult::of_runs(runs))
}

/// A host name or IPv4 address, and nothing that could change a config file it lands in.
pub fn plain_host(field: &str, host: &str) -> Result<(), ActionError> {
    let plain = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
    if plain {
        Ok(())
    } else {
        Err(ActionError::fatal(format!(
            "invalid input at `{field}`: `{host}` is not a host name or IPv4 address"
        )))
    }
}

/// A daemon's directory under the work dir, fresh: whatever an earlier attempt left
/// running from it killed, its files gone, owned by the user the daemon runs as.
pub fn fresh_daemon_dir(
    ctx: &ActionContext,
    name: &str,
    ids: Option<(u32, u32)>,
) -> Result<PathBuf, ActionError> {
    let dir = ctx.work_dir.join(name);
    fresh_dir(&dir, ids)?;
    Ok(dir)
}

/// [`fresh_daemon_dir`] for a given directory.
pub fn fresh_dir(dir: &std::path::Path, ids: Option<(u32, u32)>) -> Result<(), ActionError> {
    process::kill_naming(dir);
    let _ = std::fs::remove_dir_all(dir);
    own_dir(dir, ids)
}

/// A directory, new and owned by the user the daemon runs as.
fn own_dir(dir: &std::path::Path, ids: Option<(u32, u32)>) -> Result<(), ActionError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| ActionError::retryable(format!("cannot create {}: {e}", dir.display())))?;
    if let Some((uid, gid)) = ids {
        nix::unistd::chown(dir, Some(uid.into()), Some(gid.into())).map_err(|e| {
            ActionError::fatal(format!("cannot hand {} to uid {uid}: {e}", dir.display()))
        })?;
    }
    Ok(())
}

/// Until `url` answers 200 (a daemon's health URL), or `limit` passes.
pub async fn wait_http_ok(
    ctx: &ActionContext,
    url: &str,
    limit: std::time::Duration,
) -> Result<(), ActionError> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build()
        .map_err(|e| ActionError::fatal(format!("cannot make an HTTP client: {e}")))?;
    let deadline = tokio::time::Instant::now() + limit;
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        match client.get(url).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("HTTP {}", r.status()),
            Err(e) => last = e.to_string(),
        }
        ctx.pause(std::time::Duration::from_millis(200)).await?;
    }
    Err(ActionError::retryable(format!(
        "{url} did not answer 200 within {limit:?}: {last}"
    )))
}

pub async fn run(action: &str, ctx: &ActionContext) -> ActionResult {
    match action {
        names::SHELL => shell::run(ctx).await,
        names::POSTGRES_START => postgres::start(ctx).await,
        names::POSTGRES_STOP => postgres::stop(ctx).await,
        names::PGBOUNCER_START => pgbouncer::start(ctx).await,
        names::HAPROXY_START => haproxy::start(ctx).await,
        names::ETCD_START => etcd::start(ctx).await,
        names::POSTGRES_FAULT => fault::inject(ctx).await,
        names::PGBENCH_RUN => pgbench::run(ctx).await,
        names::STROPPY_INSTALL => stroppy::install(ctx).await,
        names::STROPPY_RUN => stroppy::run(ctx).await,
        names::MACHINE_SAMPLES => sampler::machine_samples(ctx).await,
        names::LOAD_RUN => match ctx.input_as::<names::LoadInput>()? {
            names::LoadInput::Pgbench(input) => pgbench::run_with(ctx, input).await,
            names::LoadInput::Stroppy(input) => stroppy::run_with(ctx, input).await,
        },
        other => Err(ActionError::fatal(format!(
            "this agent has no action `{other}` (it runs: {})",
            names::ALL.join(", ")
        ))),
    }
}
