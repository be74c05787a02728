//! The command line: `ratchet serve` (config.rs has its flags), and the commands beside
//! it: `ratchet run` (submit a suite and follow it), `ratchet demo` (a server and the
//! example suite in one command), `ratchet token` (API tokens), `ratchet infra` (what is provisioned), `ratchet pg install` (PostgreSQL versions for the
//! local target), `ratchet migrate`.

pub mod demo;
pub mod embedded;
pub mod infra;
pub mod pg;
pub mod run;
pub mod token;

use clap::{Parser, Subcommand};

use crate::config::{LogFormat, ServeArgs, StoreArgs};

#[derive(Debug, Parser)]
#[command(
    name = "ratchet",
    version,
    about = "Orchestration server for database benchmark suites"
)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, env = "RATCHET_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: REST API, web dashboard, engine.
    Serve(ServeArgs),
    /// Apply the database migrations and exit.
    Migrate(StoreArgs),
    /// Submit a suite to a server, follow it, print the results (exit 1 if a test failed).
    Run(run::RunArgs),
    /// Start the server on the embedded default, run the example local suite, keep serving.
    Demo(ServeArgs),
    /// Create, list or revoke API tokens.
    Token(token::TokenArgs),
    /// What is provisioned now (`list`), or destroy a test run's machines (`destroy`).
    Infra(infra::InfraArgs),
    /// PostgreSQL versions for the local target (`install <major>`).
    Pg(pg::PgArgs),
}
