//! Configuration: the flags of `serve` and the store, each with a `RATCHET_*` (or
//! conventional) environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// Where state lives. Shared by every command that opens the store.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Directory for the embedded SQLite database and local machines' work dirs.
    #[arg(long, env = "RATCHET_DATA_DIR", default_value = "ratchet-data")]
    pub data_dir: PathBuf,

    /// postgres://user:password@host:port/db for PostgreSQL; unset for SQLite in the data dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address the HTTP server listens on.
    #[arg(long, env = "RATCHET_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub store: StoreArgs,

    /// redis://host:port or valkey://host:port to fan events out across replicas; unset for
    /// the in-process bus (one server).
    #[arg(long, env = "VALKEY_URL", hide_env_values = true)]
    pub valkey_url: Option<String>,
    /// The admin API token to accept (at least 16 characters), for automation. Unset: the
    /// first start generates one and prints it once.
    #[arg(long, env = "RATCHET_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// An agent (or worker) silent this long is lost and its tasks are reassigned or
    /// failed, per their retries. Agents poll at least twice per lease.
    #[arg(long, env = "RATCHET_AGENT_LEASE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub agent_lease: std::time::Duration,
    /// The URL agents reach this server at; `http://<listen address>` if unset.
    #[arg(long, env = "RATCHET_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The `ratchet-agent` binary local machines run; the one next to `ratchet` if unset.
    #[arg(long, env = "RATCHET_AGENT_BIN")]
    pub agent_bin: Option<std::path::PathBuf>,
    /// Local target quota: machines (agent processes) at once, over all suites.
    #[arg(long, env = "RATCHET_LOCAL_MAX_MACHINES", default_value_t = 8)]
    pub local_max_machines: u32,
    /// Local target quota: cores the machines may claim at once, over all suites.
    #[arg(long, env = "RATCHET_LOCAL_MAX_CORES", default_value_t = 64)]
    pub local_max_cores: u32,
    /// Stroppy releases machines may install without a checksum in the suite, as
    /// version=sha256 of the release's stroppy_linux_amd64.tar.gz (repeatable, or
    /// comma-separated).
    #[arg(
        long = "stroppy-release",
        env = "RATCHET_STROPPY_RELEASES",
        value_delimiter = ','
    )]
    pub stroppy_releases: Vec<String>,
}

impl ServeArgs {
    /// Where agents find this server.
    pub fn agent_facing_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| {
            let mut addr = self.listen;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{addr}")
        })
    }
}
