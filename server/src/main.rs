//! `ratchet`: the Ratchet server and its command line.

mod api;
mod cli;
mod config;
mod document;
mod hatchet;
mod infra;
mod serve;
mod state;
mod stroppy;
mod telemetry;
mod tokens;
mod web;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    // HTTPS clients (the CLI talking to a remote server) use rustls with the ring provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let argv: Vec<String> = std::env::args().collect();
    if cli::embedded::is_embedded(&argv) {
        return embedded(&argv);
    }
    let cli = Cli::parse();
    // The demo's terminal is for its progress bars and results: its server logs to a file.
    let log_file = match &cli.command {
        Command::Demo(args) => Some(cli::demo::log_file(args)),
        _ => None,
    };
    telemetry::init(cli.log_format, log_file.as_deref(), "info");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return fail(anyhow::Error::new(e).context("cannot start the async runtime")),
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Migrate(args) => serve::migrate(args).await,
            Command::Demo(args) => cli::demo::run(args).await,
            Command::Token(args) => cli::token::run(args).await,
            Command::Infra(args) => cli::infra::run(args).await,
            Command::Pg(args) => cli::pg::run(args),
            // A suite whose tests did not all complete fails the command (CI reads this).
            Command::Run(args) => cli::run::run(args).await.and_then(|ok| {
                if ok {
                    Ok(())
                } else {
                    Err(anyhow::anyhow!("not every test of the suite completed"))
                }
            }),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// Started by a Hatchet SDK as its embedded engine (`-handshake-file …`).
fn embedded(argv: &[String]) -> ExitCode {
    let args = match cli::embedded::parse(argv) {
        Ok(args) => args,
        Err(e) => e.exit(),
    };
    telemetry::init(config::LogFormat::Human, None, &args.log_level);
    match tokio::runtime::Runtime::new() {
        Ok(rt) => match rt.block_on(cli::embedded::run(args)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        Err(e) => fail(anyhow::Error::new(e).context("cannot start the async runtime")),
    }
}

/// Bad configuration ends in one line that says what to fix, never a panic or a backtrace.
fn fail(error: anyhow::Error) -> ExitCode {
    eprintln!("error: {error:#}");
    ExitCode::FAILURE
}
