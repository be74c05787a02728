//! The agent's actions: their names and typed inputs and outputs. A task whose `action` is
//! one of these runs on an edge agent; its input is the JSON of the `*Input` type and its
//! output the JSON of the matching output type. Unknown input keys are refused, so a typo
//! in a workflow fails the task with the key's name instead of being ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const SHELL: &str = "shell";
pub const POSTGRES_START: &str = "postgres.start";
pub const POSTGRES_STOP: &str = "postgres.stop";
/// A PgBouncer in front of a database, on the machine of its own.
pub const PGBOUNCER_START: &str = "pgbouncer.start";
/// HAProxy spreading connections over servers (a test's read replicas), on its own machine.
pub const HAPROXY_START: &str = "haproxy.start";
/// A one-member etcd: the consensus store a Patroni cluster keeps its leader in.
pub const ETCD_START: &str = "etcd.start";
/// A fault scheduled during a load (a server killed or restarted).
pub const POSTGRES_FAULT: &str = "postgres.fault";
pub const PGBENCH_RUN: &str = "pgbench.run";
pub const STROPPY_INSTALL: &str = "stroppy.install";
pub const STROPPY_RUN: &str = "stroppy.run";
pub const LOAD_RUN: &str = "load.run";
/// What the agent's machine did in given windows of time (it samples itself all along).
pub const MACHINE_SAMPLES: &str = "machine.samples";

/// The `application_name`s of a load's sessions: its initialisation's, its warm-up's and
/// its measured window's (what a scheduled fault waits for before it counts its time).
pub const SETUP_LOAD_MARKER: &str = "ratchet-setup";
pub const WARMUP_LOAD_MARKER: &str = "ratchet-warmup";
pub const MEASURED_LOAD_MARKER: &str = "ratchet-measured";
/// What all of them start with.
pub const LOAD_MARKER_PREFIX: &str = "ratchet-";

/// Every action an agent built from this source can run.
pub const ALL: &[&str] = &[
    SHELL,
    POSTGRES_START,
    POSTGRES_STOP,
    PGBOUNCER_START,
    HAPROXY_START,
    ETCD_START,
    POSTGRES_FAULT,
    PGBENCH_RUN,
    STROPPY_INSTALL,
    STROPPY_RUN,
    LOAD_RUN,
    MACHINE_SAMPLES,
];

/// A span of wall-clock time, epoch milliseconds: a measured window of a load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
}

/// `machine.samples`' answer: the machine, and its samples in each window asked for
/// (`t_s` from the window's start).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MachineSamples {
    pub machine: MachineInfo,
    pub windows: Vec<Vec<SystemPoint>>,
}

/// `load.run`: the load of a benchmark, by either tool (one step of a suite's test runs
/// whichever the test's workload names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "tool", rename_all = "snake_case")]
pub enum LoadInput {
    Pgbench(PgbenchInput),
    Stroppy(StroppyRunInput),
}

/// `shell`: run a command through `sh -c`, streaming its stdout and stderr lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ShellInput {
    pub command: String,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory; the attempt's own directory under the agent's work dir if unset.
    #[serde(default)]
    pub cwd: Option<String>,
    /// Kill the command (its whole process group) after this many seconds.
    #[serde(default)]
    pub timeout_s: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShellOutput {
    pub exit_code: i32,
    pub duration_ms: u64,
    /// The last lines of output (the whole output is in the task's log).
    pub tail: Vec<String>,
}

/// Where PostgreSQL runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PostgresRuntime {
    /// initdb + pg_ctl of the requested major version, installed on the machine.
    #[default]
    Native,
    /// `docker run postgres:<version>` with host networking.
    Docker,
}

/// `postgres.start`: create and start a PostgreSQL server, ready for connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PostgresStartInput {
    /// Names the instance on this machine (its data dir, its container); `postgres.stop`
    /// takes the same name.
    #[serde(default = "default_instance")]
    pub name: String,
    /// Major version, e.g. 16.
    pub version: u32,
    #[serde(default)]
    pub runtime: PostgresRuntime,
    #[serde(default = "default_listen")]
    pub listen_address: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// `postgresql.conf` settings, e.g. `shared_buffers: 1GB`.
    #[serde(default)]
    pub settings: BTreeMap<String, serde_json::Value>,
    /// Docker image (runtime `docker`); `postgres:<version>` if unset.
    #[serde(default)]
    pub image: Option<String>,
    /// The `postgres` role's password: every connection over TCP needs it (scram-sha-256,
    /// never `trust`). At least 16 characters.
    pub password: String,
    /// Load `pg_stat_statements` (the agent sets `shared_preload_libraries` for it and
    /// creates the extension), so loads can report their top statements.
    #[serde(default)]
    pub stat_statements: bool,
    /// This server's part in streaming replication (none: a server on its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<Replication>,
    /// Run the server under Patroni, a member of its cluster (instead of `replication`):
    /// Patroni bootstraps the cluster on the first member and makes the others replicas,
    /// and elects a new leader when the leader goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patroni: Option<PatroniMember>,
}

/// A member of a Patroni cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PatroniMember {
    /// The cluster's name (Patroni's `scope`).
    pub cluster: String,
    /// This member's name.
    pub member: String,
    /// Where its REST API listens (on `listen_address`): what routers ask who leads.
    #[serde(default = "default_patroni_port")]
    pub rest_port: u16,
    /// The etcd the cluster keeps its state in.
    pub etcd: Endpoint,
    /// Patroni's `synchronous_mode`: a commit waits for a synchronous replica.
    #[serde(default)]
    pub synchronous: bool,
}

fn default_patroni_port() -> u16 {
    8008
}

/// `etcd.start`: a one-member etcd on this machine (the v2 API on, which Patroni's etcd
/// client speaks). It outlives the task; the machine's teardown stops it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EtcdStartInput {
    pub listen_address: String,
    #[serde(default = "default_etcd_port")]
    pub client_port: u16,
    #[serde(default = "default_etcd_peer_port")]
    pub peer_port: u16,
}

fn default_etcd_port() -> u16 {
    2379
}
fn default_etcd_peer_port() -> u16 {
    2380
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EtcdInstance {
    pub host: String,
    pub port: u16,
    /// `etcd --version`'s first line.
    pub version: String,
}

/// What a fault does to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// SIGKILL of the server (and of its Patroni): it stays down, like a lost machine.
    Kill,
    /// SIGKILL of the server, started again at once: crash recovery (Patroni restarts
    /// its own).
    Restart,
}

/// `postgres.fault`: once the measured load is on the instance (a session of
/// `application_name` `load_marker` appears), wait `at_s`, then do `kind` to it. It gives
/// up when no session of the load (`ratchet-...`) came within `wait_s`, or when the load's
/// sessions were gone for 30 s before its measured window (the load failed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PostgresFaultInput {
    /// The instance (`postgres.start`'s `name`).
    pub name: String,
    pub kind: FaultKind,
    pub at_s: u64,
    pub host: String,
    pub port: u16,
    pub password: String,
    pub load_marker: String,
    /// Give up waiting for the load after this long.
    pub wait_s: u64,
    /// For a Patroni member: the others' REST APIs by member name, asked who leads after.
    #[serde(default)]
    pub peers: BTreeMap<String, Endpoint>,
}

/// What a fault did, by the wall clock (epoch milliseconds).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FaultInjected {
    /// `kill` or `restart`.
    pub kind: String,
    pub at_ms: i64,
    /// A restarted server accepting connections again.
    #[serde(default)]
    pub recovered_at_ms: Option<i64>,
    /// A Patroni cluster: the member that leads once it has elected one, and when.
    #[serde(default)]
    pub new_leader: Option<String>,
    #[serde(default)]
    pub new_leader_at_ms: Option<i64>,
}

/// A server's part in streaming replication. The standbys connect as `postgres` with the
/// run's password (scram-sha-256), like every other connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "role", rename_all = "snake_case", deny_unknown_fields)]
pub enum Replication {
    /// Streams its WAL to the standbys named (their `application_name`s).
    Primary {
        standbys: Vec<String>,
        /// Each commit waits for one of the standbys to confirm it
        /// (`synchronous_standby_names = 'ANY 1 (...)'`).
        #[serde(default)]
        synchronous: bool,
    },
    /// A hot standby copied from the primary by `pg_basebackup`, streaming from it.
    Standby {
        primary_host: String,
        primary_port: u16,
        /// How the primary knows it (`synchronous_standby_names`, `pg_stat_replication`).
        application_name: String,
    },
}

/// `pgbouncer.start`: a PgBouncer on this machine in front of one database server. It
/// outlives the task, like a database; the machine's teardown stops it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PgbouncerStartInput {
    pub listen_address: String,
    #[serde(default = "default_pgbouncer_port")]
    pub port: u16,
    /// The server it pools connections to.
    pub server_host: String,
    pub server_port: u16,
    /// The `postgres` role's password, for the clients and towards the server alike.
    pub password: String,
    /// `session`, `transaction` or `statement`.
    pub pool_mode: String,
    /// Server connections per database and user (`default_pool_size`).
    pub pool_size: u32,
    /// Client connections it accepts at most (`max_client_conn`).
    #[serde(default = "default_max_clients")]
    pub max_clients: u32,
}

fn default_pgbouncer_port() -> u16 {
    6432
}
fn default_max_clients() -> u32 {
    1000
}

/// `haproxy.start`: HAProxy on this machine, each new connection to `listen_address`:`port`
/// handed to the next of `servers` that accepts connections (TCP, round robin). It
/// outlives the task; the machine's teardown stops it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HaproxyStartInput {
    pub listen_address: String,
    pub port: u16,
    pub servers: Vec<Endpoint>,
    /// Send connections only to the servers whose health URL answers 200 (checked every
    /// second; a server that stops answering has its connections cut): Patroni's
    /// `/primary` routes to the leader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_check: Option<HttpCheck>,
}

/// An HTTP health check on each server's own address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub port: u16,
    /// E.g. `/primary`.
    pub path: String,
}

/// A server's address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

/// A running HAProxy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HaproxyInstance {
    pub host: String,
    pub port: u16,
    /// `haproxy -v`'s first line.
    pub version: String,
    pub servers: Vec<Endpoint>,
}

/// A running PgBouncer and how to reach it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PgbouncerInstance {
    pub host: String,
    pub port: u16,
    /// `SHOW VERSION`'s answer, e.g. `PgBouncer 1.18.0`.
    pub version: String,
    pub pool_mode: String,
    pub pool_size: u32,
}

fn default_instance() -> String {
    "main".into()
}
fn default_listen() -> String {
    "127.0.0.1".into()
}
fn default_port() -> u16 {
    5432
}

/// A running PostgreSQL server and how to reach it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PostgresInstance {
    pub name: String,
    pub runtime: PostgresRuntime,
    /// `SHOW server_version` of the running server.
    pub server_version: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub database: String,
    /// The data directory (runtime `native`).
    pub data_dir: Option<String>,
    /// The container name (runtime `docker`).
    pub container: Option<String>,
    /// Every setting in effect, those not at their built-in default first.
    #[serde(default)]
    pub settings: Vec<PgSetting>,
    /// The database's machine.
    #[serde(default)]
    pub machine: Option<MachineInfo>,
}

/// `postgres.stop`: stop an instance started by `postgres.start` and remove its data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PostgresStopInput {
    #[serde(default = "default_instance")]
    pub name: String,
    #[serde(default)]
    pub runtime: PostgresRuntime,
    /// Keep the data directory (for a post-mortem).
    #[serde(default)]
    pub keep_data: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PostgresStopped {
    pub name: String,
    /// Was a server running (false: nothing to stop, which is not an error).
    pub was_running: bool,
    pub removed_data: bool,
}

/// `pgbench.run`: initialise at a scale, then run the load and measure it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PgbenchInput {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default = "default_user")]
    pub user: String,
    #[serde(default = "default_user")]
    pub database: String,
    #[serde(default)]
    pub password: Option<String>,
    /// `pgbench -i -s <scale>` first (skip with `init: false` when the data is there).
    #[serde(default = "default_scale")]
    pub scale: u32,
    #[serde(default = "default_true")]
    pub init: bool,
    #[serde(default = "default_clients")]
    pub clients: u32,
    #[serde(default = "default_threads")]
    pub threads: u32,
    pub duration_s: u64,
    /// Seconds of load run first and discarded (after the initialisation).
    #[serde(default)]
    pub warmup_s: u64,
    /// Builtin script.
    #[serde(default)]
    pub builtin: Builtin,
    /// Query protocol: `simple`, `extended` or `prepared`.
    #[serde(default)]
    pub protocol: Option<String>,
    /// Report the top statements of the measured window (`pg_stat_statements` loaded).
    #[serde(default)]
    pub stat_statements: bool,
    /// Measured runs on this database, one after the other (each after its warm-up).
    #[serde(default = "default_repeat")]
    pub repeat: u32,
    /// Where the database's statistics are read when the load goes elsewhere (a pooler):
    /// the server itself. `host`:`port` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats_port: Option<u16>,
    /// `host`:`port` is a PgBouncer: its `SHOW STATS` is read around each measured window.
    #[serde(default)]
    pub pooled: bool,
    /// The load goes to read-only standbys: `pgbench -i` runs on this primary instead, and
    /// the load starts once every standby streaming from it has replayed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<Endpoint>,
    /// Faults are scheduled during the load: a pgbench that fails (its server gone) is
    /// started again for the rest of the window, and the longest gap between completed
    /// transactions is reported as the outage.
    #[serde(default)]
    pub survive_faults: bool,
    /// Servers besides the one the statistics come from whose own statistics are sampled
    /// too, by name (a test's standbys).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub also_sample: BTreeMap<String, Endpoint>,
}

fn default_repeat() -> u32 {
    1
}

fn default_user() -> String {
    "postgres".into()
}
fn default_scale() -> u32 {
    1
}
fn default_true() -> bool {
    true
}
fn default_clients() -> u32 {
    1
}
fn default_threads() -> u32 {
    1
}

/// pgbench's builtin scripts (`pgbench -b`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Builtin {
    #[default]
    TpcbLike,
    SimpleUpdate,
    SelectOnly,
}

impl Builtin {
    /// The name pgbench takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Builtin::TpcbLike => "tpcb-like",
            Builtin::SimpleUpdate => "simple-update",
            Builtin::SelectOnly => "select-only",
        }
    }
}

/// `stroppy.install`: make a Stroppy binary available on the machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StroppyInstallInput {
    pub version: String,
    /// Release tarball URL; `{version}` is replaced. Unset: use `binary` or `stroppy` on
    /// the PATH.
    #[serde(default)]
    pub url: Option<String>,
    /// Expected sha256 of the tarball (hex); a mismatch fails the task.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Use this existing binary instead of downloading.
    #[serde(default)]
    pub binary: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StroppyInstalled {
    pub path: String,
    pub version: String,
    pub downloaded: bool,
}

/// `stroppy.run`: run a Stroppy workload against a database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StroppyRunInput {
    /// The binary; unset: the one `stroppy.install` put in the work dir for `version`, or
    /// `stroppy` on the PATH.
    #[serde(default)]
    pub binary: Option<String>,
    /// The version `stroppy.install` installed.
    #[serde(default)]
    pub version: Option<String>,
    /// Workload, e.g. `tpcc/tx`, `tpcb/tx`, or a `.sql` file.
    pub workload: String,
    /// Database connection URL, e.g. `postgres://postgres@10.0.0.5:5432/postgres` (better
    /// without the password, which goes in `password`).
    pub driver_url: String,
    /// The database password, handed to Stroppy as `PGPASSWORD` (not on its command line).
    #[serde(default)]
    pub password: Option<String>,
    pub duration_s: u64,
    /// Seconds of load run first and discarded.
    #[serde(default)]
    pub warmup_s: u64,
    #[serde(default = "default_clients")]
    pub vus: u32,
    /// Workload scale (warehouses for TPC-C), passed as `--scale-factor`.
    #[serde(default)]
    pub scale: Option<u32>,
    /// Extra environment for the run (Stroppy reads any flag as `NAME` too).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Extra command-line arguments, appended.
    #[serde(default)]
    pub args: Vec<String>,
    /// Report the top statements of the measured window (`pg_stat_statements` loaded).
    #[serde(default)]
    pub stat_statements: bool,
    /// Measured runs on this database, one after the other (each after its warm-up).
    #[serde(default = "default_repeat")]
    pub repeat: u32,
}

/// What a load run measured: the shape shared by pgbench and Stroppy results.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoadResult {
    /// `pgbench` or `stroppy`.
    pub tool: String,
    /// Transactions per second over the measured interval.
    pub tps: f64,
    pub latency_ms: LatencySummary,
    pub transactions: u64,
    pub errors: u64,
    pub duration_s: f64,
    /// One point per progress report (every second).
    pub series: Vec<SeriesPoint>,
    /// The tool's own end-of-run report, verbatim.
    pub summary: String,
    /// The tool's version, as it reports it (`pgbench --version`).
    #[serde(default)]
    pub tool_version: Option<String>,
    /// The exact command line of the measured run (secrets are in its environment, never
    /// here).
    #[serde(default)]
    pub command: Option<String>,
    /// TPS of the discarded warm-up, when there was one.
    #[serde(default)]
    pub warmup_tps: Option<f64>,
    /// The machine the load ran from.
    #[serde(default)]
    pub machine: Option<MachineInfo>,
    /// The load machine's CPU, memory, disks and network over the measured window.
    #[serde(default)]
    pub system: Vec<SystemPoint>,
    /// The database's activity over the measured window (its statistics views).
    #[serde(default)]
    pub database: Vec<DatabasePoint>,
    /// The statements that took the most time in the measured window
    /// (`pg_stat_statements`, when the test asked for it).
    #[serde(default)]
    pub top_statements: Vec<StatementStat>,
    /// When the measured window began and ended; with `repeat` > 1, every run's.
    #[serde(default)]
    pub windows: Vec<Window>,
    /// The database machine over the measured window, when it is another machine (set by
    /// the server from that machine's agent).
    #[serde(default)]
    pub database_machine: Vec<SystemPoint>,
    /// Other servers' statistics over the measured window, by name (a test's standbys).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub servers: BTreeMap<String, Vec<DatabasePoint>>,
    /// With faults scheduled: the longest time without a completed transaction in the
    /// measured window, and the restarts of the load it took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outage: Option<Outage>,
    /// What the PgBouncer the load went through counted over the measured window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooler: Option<PoolerStats>,
    /// With `repeat` > 1: every measured run, in order (the fields above are the first's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(no_recursion))]
    pub repetitions: Vec<LoadResult>,
}

impl LoadResult {
    /// One result for the measured runs of a load: the first, carrying all of them.
    pub fn of_runs(mut runs: Vec<LoadResult>) -> LoadResult {
        if runs.len() <= 1 {
            return runs.pop().unwrap_or_default();
        }
        LoadResult {
            windows: runs.iter().flat_map(|r| r.windows.clone()).collect(),
            repetitions: runs.clone(),
            ..runs.swap_remove(0)
        }
    }

    /// The measured runs this result stands for (itself, for a single run).
    pub fn runs(self) -> Vec<LoadResult> {
        if self.repetitions.is_empty() {
            vec![self]
        } else {
            self.repetitions
        }
    }
}

/// The longest stretch of a measured window without a completed transaction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Outage {
    /// The last transaction completed before it and the first after (epoch ms; the first
    /// after is unset when none completed again).
    pub last_before_ms: i64,
    pub first_after_ms: Option<i64>,
    pub seconds: f64,
    /// Times the load failed and was started again.
    pub load_restarts: u32,
}

/// PgBouncer's `SHOW STATS` for the load's database, the difference over a measured
/// window (the averages as PgBouncer computed them at its end).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PoolerStats {
    pub transactions: f64,
    pub queries: f64,
    /// Time clients waited for a server connection, summed, in milliseconds.
    pub wait_ms: f64,
    /// Bytes from the clients and to them.
    pub received_bytes: f64,
    pub sent_bytes: f64,
}

/// A standby as the primary saw it at a sample (`pg_stat_replication`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplicaPoint {
    /// Its `application_name`.
    pub name: String,
    /// `streaming`, `catchup`...
    pub state: String,
    /// `async`, `sync`, `potential` or `quorum`.
    pub sync_state: String,
    /// WAL the primary wrote that the standby has not replayed yet.
    pub lag_bytes: f64,
    /// `replay_lag`: how long ago the last replayed commit was made on the primary (none
    /// while the standby is idle and caught up).
    #[serde(default)]
    pub replay_lag_ms: Option<f64>,
}

/// A statement's share of the measured window, from `pg_stat_statements`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementStat {
    /// Normalised text (constants as `$1`), cut at 500 characters.
    pub query: String,
    pub calls: f64,
    pub total_ms: f64,
    pub mean_ms: f64,
    pub rows: f64,
}

/// One sample of a machine, rates over the second before it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SystemPoint {
    /// Seconds since the measured load started.
    pub t_s: f64,
    /// Shares of all CPUs' time, in percent.
    pub cpu_user_pct: f64,
    pub cpu_system_pct: f64,
    pub cpu_iowait_pct: f64,
    pub cpu_steal_pct: f64,
    pub mem_used_mb: f64,
    /// Summed over the whole disks (not partitions).
    pub disk_read_bytes_ps: f64,
    pub disk_write_bytes_ps: f64,
    pub disk_read_iops: f64,
    pub disk_write_iops: f64,
    /// The busiest disk's utilisation, in percent.
    pub disk_util_pct: f64,
    /// Summed over the interfaces but loopback.
    pub net_rx_bytes_ps: f64,
    pub net_tx_bytes_ps: f64,
}

/// One sample of the database's statistics: rates over the interval before it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DatabasePoint {
    pub t_s: f64,
    /// `pg_stat_database`, summed over the databases.
    pub commits_ps: f64,
    pub rollbacks_ps: f64,
    pub blocks_read_ps: f64,
    pub blocks_hit_ps: f64,
    pub temp_bytes_ps: f64,
    /// New deadlocks and checkpoints in the interval.
    pub deadlocks: f64,
    pub checkpoints: f64,
    /// Buffers written by checkpoints, per second.
    pub buffers_checkpoint_ps: f64,
    /// `pg_stat_wal` (PostgreSQL 14 and later).
    #[serde(default)]
    pub wal_bytes_ps: Option<f64>,
    /// Active sessions by wait event (`type:event`), at the sample.
    #[serde(default)]
    pub waits: BTreeMap<String, u32>,
    /// The streaming standbys, on a primary.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<ReplicaPoint>,
}

/// What a machine is, as its agent sees it (from `/proc` and `uname`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MachineInfo {
    pub hostname: String,
    pub cpu_model: String,
    pub cores: u32,
    pub memory_mb: u64,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// Size of the filesystem holding the agent's work dir, in GB.
    pub disk_gb: f64,
}

/// One PostgreSQL setting in effect (a row of `pg_settings`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PgSetting {
    pub name: String,
    pub setting: String,
    #[serde(default)]
    pub unit: Option<String>,
    /// Where the value comes from: `default`, `configuration file`, `client`...
    pub source: String,
    /// When it can change: `internal` for values PostgreSQL derives itself
    /// (`shared_memory_size`), `postmaster`, `sighup`, `user`...
    #[serde(default)]
    pub context: Option<String>,
    /// The built-in default.
    #[serde(default)]
    pub boot_val: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LatencySummary {
    pub avg: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SeriesPoint {
    /// Seconds since the load started.
    pub t_s: f64,
    pub tps: f64,
    pub latency_ms: f64,
    #[serde(default)]
    pub failed: u64,
}
