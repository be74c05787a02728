//! `ratchet-agent`: the edge agent. One runs on every machine a benchmark uses (a cloud VM,
//! or a local process for development) and executes the actions the server assigns to it.
//!
//! This first version finds its server and checks that it is healthy; registration, the
//! long-poll loop and the actions arrive with the agent protocol.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "ratchet-agent", version, about = "Ratchet edge agent")]
struct Config {
    /// Base URL of the Ratchet server.
    #[arg(
        long,
        env = "RATCHET_SERVER_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    server_url: String,

    /// Enrollment token that binds this agent to its run and machine.
    #[arg(long, env = "RATCHET_ENROLLMENT_TOKEN", hide_env_values = true)]
    enrollment_token: Option<String>,

    /// Labels advertised to the dispatcher, as key=value (repeatable).
    #[arg(long = "label", env = "RATCHET_AGENT_LABELS", value_delimiter = ',')]
    labels: Vec<String>,

    /// Where actions keep their files.
    #[arg(
        long,
        env = "RATCHET_AGENT_WORK_DIR",
        default_value = "ratchet-agent-work"
    )]
    work_dir: PathBuf,

    /// How many tasks may run at once.
    #[arg(long, env = "RATCHET_AGENT_SLOTS", default_value_t = 4)]
    slots: u32,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = Config::parse();
    let outcome = tokio::runtime::Runtime::new()
        .context("cannot start the async runtime")
        .and_then(|rt| rt.block_on(check_server(&config)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn check_server(config: &Config) -> anyhow::Result<()> {
    let url = format!("{}/healthz", config.server_url.trim_end_matches('/'));
    let health: engine::protocol::Health = reqwest::get(&url)
        .await
        .with_context(|| {
            format!("cannot reach the Ratchet server at {url} (set RATCHET_SERVER_URL)")
        })?
        .error_for_status()?
        .json()
        .await
        .context("the server's /healthz answer is not JSON")?;
    tracing::info!(
        server = %config.server_url,
        status = %health.status,
        labels = ?config.labels,
        slots = config.slots,
        work_dir = %config.work_dir.display(),
        protocol = engine::protocol::PROTOCOL_VERSION,
        enrolled = config.enrollment_token.is_some(),
        "server is healthy; the agent protocol is not implemented yet"
    );
    Ok(())
}
