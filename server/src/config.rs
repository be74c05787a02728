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
    /// Also serve Hatchet's gRPC protocol on this address (Hatchet uses 7070), so Hatchet
    /// SDK workers and clients run against this server; their tokens come from
    /// `ratchet token create --hatchet`. Unset: off.
    #[arg(long, env = "RATCHET_HATCHET_LISTEN")]
    pub hatchet_listen: Option<SocketAddr>,
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

    /// A token `GET /metrics` requires (`Authorization: Bearer <token>`, at least 16
    /// characters). Unset: `/metrics` is open, as Prometheus expects by default.
    #[arg(long, env = "RATCHET_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// A trace UI's address for one trace, `{trace_id}` standing for the id (e.g. Jaeger's
    /// `http://jaeger:16686/trace/{trace_id}`): run pages link to their trace.
    #[arg(long, env = "RATCHET_TRACE_URL_TEMPLATE")]
    pub trace_url_template: Option<String>,

    /// How often the leak guard looks for machines of ended or expired runs.
    #[arg(long, env = "RATCHET_LEAK_GUARD_INTERVAL", default_value = "1m", value_parser = humantime::parse_duration)]
    pub leak_guard_interval: std::time::Duration,

    #[command(flatten)]
    pub yandex: YandexArgs,
}

/// The `yandex` target: Yandex Cloud VMs made by Terraform. Off unless
/// RATCHET_YANDEX_FOLDER_ID or RATCHET_YANDEX_MODULE is set. Credentials are Terraform's:
/// YC_TOKEN (or YC_SERVICE_ACCOUNT_KEY_FILE) and YC_CLOUD_ID in the server's environment,
/// passed to Terraform only.
#[derive(Debug, Clone, clap::Args)]
pub struct YandexArgs {
    /// The folder the VMs go in.
    #[arg(long = "yandex-folder-id", env = "RATCHET_YANDEX_FOLDER_ID")]
    pub folder_id: Option<String>,
    /// A Terraform module taking the variables of terraform-modules/yandex, in place of the
    /// embedded one (terraform-modules/local-sim simulates the cloud on this host).
    #[arg(long = "yandex-module", env = "RATCHET_YANDEX_MODULE")]
    pub module: Option<PathBuf>,
    #[arg(
        long = "yandex-zone",
        env = "RATCHET_YANDEX_ZONE",
        default_value = "ru-central1-a"
    )]
    pub zone: String,
    /// An existing VPC network for the deployments' subnets; unset: one network each.
    #[arg(
        long = "yandex-network-id",
        env = "RATCHET_YANDEX_NETWORK_ID",
        default_value = ""
    )]
    pub network_id: String,
    /// Where the deployments' /24 subnets come from.
    #[arg(
        long = "yandex-subnet-pool",
        env = "RATCHET_YANDEX_SUBNET_POOL",
        default_value = "10.130.0.0/16"
    )]
    pub subnet_pool: String,
    /// Where the VMs reach this server; RATCHET_PUBLIC_URL if unset.
    #[arg(long = "yandex-server-url", env = "RATCHET_YANDEX_SERVER_URL")]
    pub server_url: Option<String>,
    /// The server's addresses as the VMs see them (their security group lets them out to
    /// these), comma-separated CIDR blocks.
    #[arg(
        long = "yandex-server-cidrs",
        env = "RATCHET_YANDEX_SERVER_CIDRS",
        value_delimiter = ',',
        default_value = "0.0.0.0/0"
    )]
    pub server_cidrs: Vec<String>,
    /// Other destinations the VMs may reach (package mirrors, the container registry).
    #[arg(
        long = "yandex-egress-cidrs",
        env = "RATCHET_YANDEX_EGRESS_CIDRS",
        value_delimiter = ',',
        default_value = "0.0.0.0/0"
    )]
    pub egress_cidrs: Vec<String>,
    #[arg(
        long = "yandex-platform",
        env = "RATCHET_YANDEX_PLATFORM",
        default_value = "standard-v3"
    )]
    pub platform: String,
    /// 100 for benchmarks: a burstable VM's numbers mean nothing.
    #[arg(
        long = "yandex-core-fraction",
        env = "RATCHET_YANDEX_CORE_FRACTION",
        default_value_t = 100
    )]
    pub core_fraction: u32,
    #[arg(
        long = "yandex-disk-type",
        env = "RATCHET_YANDEX_DISK_TYPE",
        default_value = "network-ssd"
    )]
    pub disk_type: String,
    #[arg(
        long = "yandex-image-family",
        env = "RATCHET_YANDEX_IMAGE_FAMILY",
        default_value = "ubuntu-2204-lts"
    )]
    pub image_family: String,
    /// A fixed image in place of the family's latest (reproducible runs).
    #[arg(
        long = "yandex-image-id",
        env = "RATCHET_YANDEX_IMAGE_ID",
        default_value = ""
    )]
    pub image_id: String,
    /// Route each deployment's subnet out through a NAT gateway of its own (off when the
    /// network already routes out).
    #[arg(long = "yandex-nat-gateway", env = "RATCHET_YANDEX_NAT_GATEWAY", default_value_t = true, action = clap::ArgAction::Set)]
    pub nat_gateway: bool,
    /// Give each VM a public address (the server must then be reachable on it).
    #[arg(
        long = "yandex-public-ip",
        env = "RATCHET_YANDEX_PUBLIC_IP",
        default_value_t = false
    )]
    pub public_ip: bool,
    /// How PostgreSQL runs on the VMs: docker (the image of the version asked for) or
    /// native (installed on the image).
    #[arg(long = "yandex-database-runtime", env = "RATCHET_YANDEX_DATABASE_RUNTIME", value_enum, default_value_t = Runtime::Docker)]
    pub database_runtime: Runtime,
    /// Quota: VMs at once, over all suites.
    #[arg(
        long = "yandex-max-vms",
        env = "RATCHET_YANDEX_MAX_VMS",
        default_value_t = 8
    )]
    pub max_vms: u32,
    /// Quota: cores at once.
    #[arg(
        long = "yandex-max-cores",
        env = "RATCHET_YANDEX_MAX_CORES",
        default_value_t = 64
    )]
    pub max_cores: u32,
    /// Quota: memory at once, in GB.
    #[arg(
        long = "yandex-max-memory-gb",
        env = "RATCHET_YANDEX_MAX_MEMORY_GB",
        default_value_t = 256
    )]
    pub max_memory_gb: u32,
    /// How long a VM's agent may take to connect after the apply (boot and cloud-init).
    #[arg(long = "yandex-agent-wait", env = "RATCHET_YANDEX_AGENT_WAIT", default_value = "10m", value_parser = humantime::parse_duration)]
    pub agent_wait: std::time::Duration,
    /// The Terraform CLI; `terraform` on PATH if unset.
    #[arg(long = "terraform-bin", env = "RATCHET_TERRAFORM_BIN")]
    pub terraform_bin: Option<PathBuf>,
    /// Where deployments' Terraform state lives: a postgres:// URL for Terraform's pg
    /// backend, or `local` for the work dirs. Default: the server's DATABASE_URL when that
    /// is PostgreSQL, else `local`.
    #[arg(
        long = "terraform-state-url",
        env = "RATCHET_TERRAFORM_STATE_URL",
        hide_env_values = true
    )]
    pub terraform_state_url: Option<String>,
    /// Terraform's CLI configuration (provider mirrors), passed as TF_CLI_CONFIG_FILE.
    #[arg(long = "terraform-cli-config", env = "TF_CLI_CONFIG_FILE")]
    pub terraform_cli_config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Runtime {
    Docker,
    Native,
}

impl YandexArgs {
    pub fn enabled(&self) -> bool {
        self.folder_id.is_some() || self.module.is_some()
    }
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
