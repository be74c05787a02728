//! The `local` provider: a "machine" is a `ratchet-agent` process on this host, with its
//! own work dir and its own loopback address, enrolled for one test run. Destroying it
//! stops the databases it started, stops the agent (process group and all) and removes its
//! work dir.
//!
//! Orphans are impossible by construction: the machine's lease records the intent (its
//! work dir) before the agent is spawned, and the agent is found again by its work dir in
//! its environment, never by a stored PID (which a restart may have seen reused). A server
//! killed between spawn and record leaves a lease whose destroy still finds the agent.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use engine::store::{Lease, LeaseStore, TokenStore};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use protocol::actions::PostgresRuntime;
use serde_json::json;

use crate::infra::network::NetworkPool;
use crate::infra::{
    Counts, Deployment, Machine, MachinePlan, Progress, Provider, ProviderError, Quota,
    enrollment_token, machine_name_problem, write_private,
};

/// Lease kind of a local machine.
pub const MACHINE: &str = "machine";

/// The variable naming a local agent's work dir: also how its processes are told apart
/// from every other process on the host.
const MARKER: &str = "RATCHET_AGENT_WORK_DIR";

pub struct LocalProvider {
    pub tokens: Arc<dyn TokenStore>,
    pub leases: Arc<dyn LeaseStore>,
    /// Machines' work dirs go under `<data dir>/machines`.
    pub data_dir: PathBuf,
    /// The URL agents reach this server at.
    pub server_url: String,
    pub agent_binary: PathBuf,
    /// Machines at once over all suites, and the cores they may claim.
    pub quota: [Quota; 1],
    pub network: NetworkPool,
    /// Why PostgreSQL could not run in machine dirs here, found at start; every machine is
    /// refused with it.
    pub unreachable: Option<String>,
}

impl LocalProvider {
    /// At most `machines` at once, claiming at most `cores`.
    pub fn quota(machines: u32, cores: u32) -> [Quota; 1] {
        [Quota {
            kind: MACHINE,
            limit: engine::store::LeaseLimit {
                count: i64::from(machines),
                amount: i64::from(cores),
            },
            counts: Counts::Cores,
        }]
    }
}

/// As root the agents run PostgreSQL as an unprivileged user (`RATCHET_AGENT_PG_USER`,
/// default `postgres`), who must be able to reach `<data dir>/machines`. The data dir is
/// ours: it is made traversable (o+x, not listable). A directory above it that the user
/// cannot pass is the answer, naming the directory, its mode and owner, and the user.
pub fn prepare_machines_dir(data_dir: &Path) -> Option<String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if !nix::unistd::Uid::effective().is_root() {
        return None; // PostgreSQL runs as the server's own user, who owns the data dir
    }
    let name = std::env::var("RATCHET_AGENT_PG_USER").unwrap_or_else(|_| "postgres".into());
    let Ok(Some(user)) = nix::unistd::User::from_name(&name) else {
        return None; // the agent says so when it needs the user
    };
    if let Ok(meta) = std::fs::metadata(data_dir)
        && meta.mode() & 0o001 == 0
    {
        let mode = (meta.mode() & 0o7777) | 0o001;
        if std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(mode)).is_ok() {
            tracing::info!(dir = %data_dir.display(), user = %name, "made the data dir traversable (o+x) for PostgreSQL's user");
        }
    }
    for dir in data_dir.ancestors() {
        let Ok(meta) = std::fs::metadata(dir) else {
            continue;
        };
        let mode = meta.mode();
        let passes = if meta.uid() == user.uid.as_raw() {
            mode & 0o100 != 0
        } else if meta.gid() == user.gid.as_raw() {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !passes {
            return Some(format!(
                "the local target cannot run PostgreSQL under {}: it runs as user `{name}` (the server is root), who cannot enter {} (mode {:04o}, owner uid {}); allow it (`chmod o+x {}`), set RATCHET_DATA_DIR to a directory it can reach, or RATCHET_AGENT_PG_USER to another user",
                data_dir.join("machines").display(),
                dir.display(),
                mode & 0o7777,
                meta.uid(),
                dir.display(),
            ));
        }
    }
    None
}

/// Where local machines find (and install) PostgreSQL versions the host lacks, one install
/// of each for all of them (`ratchet pg install` fills it too).
pub fn postgres_versions_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("postgres-versions")
}

/// `ratchet-agent` next to the running `ratchet` (as installed and as built by cargo).
pub fn default_agent_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("ratchet-agent")))
        .unwrap_or_else(|| PathBuf::from("ratchet-agent"))
}

/// Variables a local agent inherits from the server, when set: where things are, never
/// what unlocks them. Everything else (the server's `DATABASE_URL`, tokens, cloud
/// credentials) stays out of the agent's environment.
const INHERITED: &[&str] = &[
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "RATCHET_AGENT_PG_BIN_DIRS",
    "RATCHET_AGENT_PG_USER",
];

impl LocalProvider {
    fn machines_dir(&self) -> PathBuf {
        self.data_dir.join("machines")
    }

    /// A machine's work dir: `<data dir>/machines/<name>`, for a checked name only, and
    /// only if it resolves to a directory right under the machines dir (no symlink out).
    fn work_dir(&self, name: &str) -> Result<PathBuf, ProviderError> {
        if let Some(problem) = machine_name_problem(name) {
            return Err(ProviderError::Failed(problem));
        }
        let machines = self.machines_dir();
        std::fs::create_dir_all(&machines).map_err(|e| {
            ProviderError::Failed(format!("cannot create {}: {e}", machines.display()))
        })?;
        let machines = std::fs::canonicalize(&machines).map_err(|e| {
            ProviderError::Failed(format!("cannot resolve {}: {e}", machines.display()))
        })?;
        let dir = machines.join(name);
        if let Ok(resolved) = std::fs::canonicalize(&dir)
            && resolved.parent() != Some(machines.as_path())
        {
            return Err(ProviderError::Failed(format!(
                "machine {name}: its work dir {} resolves to {}, outside {}; refusing to touch it",
                dir.display(),
                resolved.display(),
                machines.display()
            )));
        }
        Ok(dir)
    }

    async fn create_one(
        &self,
        run_id: uuid::Uuid,
        plan: &MachinePlan,
    ) -> Result<Machine, ProviderError> {
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            ProviderError::Failed(format!("machine {}: {what}: {e}", plan.name))
        };
        if let Some(problem) = &self.unreachable {
            return Err(ProviderError::Failed(problem.clone()));
        }
        if !self.agent_binary.exists() {
            return Err(ProviderError::Failed(format!(
                "the agent binary {} is missing (build it with `cargo build -p ratchet-agent`, or set RATCHET_AGENT_BIN)",
                self.agent_binary.display()
            )));
        }
        let work_dir = self.work_dir(&plan.name)?;
        std::fs::create_dir_all(&work_dir).map_err(|e| failed("cannot create its work dir", &e))?;
        // PostgreSQL runs as an unprivileged user when we are root: it must reach its dir.
        use std::os::unix::fs::PermissionsExt;
        for dir in [self.machines_dir(), work_dir.clone()] {
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755));
        }
        let token = enrollment_token(self.tokens.as_ref(), "local", run_id, plan)
            .await
            .map_err(|e| failed("cannot create its enrollment token", &e))?;
        // The token goes in a file only this user reads, not in the agent's environment
        // (which every process on the host could inherit or show).
        let token_file = work_dir.join("enrollment-token");
        write_private(&token_file, &token)
            .map_err(|e| failed("cannot write its enrollment token", &e))?;
        let log = std::fs::File::create(work_dir.join("agent.log"))
            .map_err(|e| failed("cannot create its log", &e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| failed("cannot create its log", &e))?;
        // Intent first: from here on, a destroy of this lease finds whatever gets started.
        let intent = json!({ "state": "starting", "work_dir": work_dir, "address": plan.address });
        self.leases
            .update_lease_data(MACHINE, &plan.name, &intent)
            .await?;
        let mut command = tokio::process::Command::new(&self.agent_binary);
        command.env_clear();
        // The agent exports its spans where the server exports its own.
        for var in INHERITED.iter().chain(telemetry::EXPORT_VARS) {
            if let Some(value) = std::env::var_os(var) {
                command.env(var, value);
            }
        }
        let mut child = command
            .env("HOME", &work_dir)
            .env("RATCHET_SERVER_URL", &self.server_url)
            .env("RATCHET_ENROLLMENT_TOKEN_FILE", &token_file)
            .env("RATCHET_AGENT_NAME", &plan.name)
            // Also the marker its destroy finds it by (its children inherit it).
            .env(MARKER, &work_dir)
            .env("RATCHET_AGENT_SLOTS", "2")
            // One install of each PostgreSQL version for every local machine.
            .env(
                "RATCHET_AGENT_PG_VERSIONS_DIR",
                postgres_versions_dir(&self.data_dir),
            )
            // A local machine must not outlive its server for good (a server that comes
            // back within this finds it still running the suite).
            .env("RATCHET_AGENT_GIVE_UP_AFTER", "10m")
            .env(
                "RATCHET_AGENT_LABELS",
                format!("cores={},memory_gb={}", plan.cores, plan.memory_gb),
            )
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0)
            .spawn()
            .map_err(|e| failed("cannot start ratchet-agent", &e))?;
        let pid = child.id().unwrap_or(0);
        // Reap it when it ends, so it never lingers as a zombie.
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        let handle = json!({ "state": "started", "pid": pid, "work_dir": work_dir, "address": plan.address });
        self.leases
            .update_lease_data(MACHINE, &plan.name, &handle)
            .await?;
        tracing::info!(machine = %plan.name, address = %plan.address, pid, "local machine started");
        Ok(Machine {
            role: plan.role.clone(),
            name: plan.name.clone(),
            address: plan.address.clone(),
            handle,
        })
    }
}

#[async_trait]
impl Provider for LocalProvider {
    fn name(&self) -> &'static str {
        "local"
    }

    fn quotas(&self) -> &[Quota] {
        &self.quota
    }

    fn network(&self) -> &NetworkPool {
        &self.network
    }

    fn database_runtime(&self) -> PostgresRuntime {
        PostgresRuntime::Native
    }

    fn agent_wait(&self) -> Duration {
        Duration::from_secs(90)
    }

    async fn create(
        &self,
        deployment: &Deployment,
        _progress: &Progress,
    ) -> Result<Vec<Machine>, ProviderError> {
        let holder = deployment.run_id.to_string();
        let earlier = self.leases.leases(Some(MACHINE), Some(&holder)).await?;
        let mut created = Vec::new();
        for plan in &deployment.machines {
            // A retried create replaces what an earlier attempt started for this machine.
            if let Some(lease) = earlier.iter().find(|l| l.key == plan.name) {
                self.destroy_one(lease).await?;
            }
            created.push(self.create_one(deployment.run_id, plan).await?);
        }
        Ok(created)
    }

    async fn destroy(
        &self,
        _run_id: uuid::Uuid,
        machines: &[Lease],
        _progress: &Progress,
    ) -> Result<(), ProviderError> {
        let mut errors = Vec::new();
        for lease in machines {
            if let Err(e) = self.destroy_one(lease).await {
                errors.push(format!("{}: {e}", lease.key));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ProviderError::Failed(format!(
                "cannot destroy: {}",
                errors.join("; ")
            )))
        }
    }

    async fn plan(&self, deployment: &Deployment) -> Result<serde_json::Value, ProviderError> {
        Ok(json!({
            "provider": "local",
            "machines": deployment.machines.iter().map(|m| json!({
                "name": m.name,
                "role": m.role,
                "process": format!("{} in {}", self.agent_binary.display(), self.machines_dir().join(&m.name).display()),
            })).collect::<Vec<_>>(),
        }))
    }
}

impl LocalProvider {
    /// Whatever an earlier start of this machine left, gone: its databases, every process
    /// marked with its work dir, the dir itself. Also for a lease without data (a server
    /// that died before it recorded the intent had created at most the dir).
    async fn destroy_one(&self, lease: &Lease) -> Result<(), ProviderError> {
        // The work dir follows from the (checked) machine name, never from stored data.
        let dir = self.work_dir(&lease.key)?;
        if !dir.exists() && lease.data.is_none() {
            return Ok(()); // reserved, never created
        }
        // Made by a replica with another data dir: its processes and dir are out of reach
        // here, and releasing the lease would leak them. Fail (the destroy is retried).
        let recorded = lease.data.as_ref().and_then(|d| d["work_dir"].as_str());
        if let Some(recorded) = recorded
            && Path::new(recorded) != dir
        {
            return Err(ProviderError::Failed(format!(
                "machine {} lives in {recorded}, outside this server's data dir ({}): destroy it from \
                 the server that made it, or give every replica on this host the same RATCHET_DATA_DIR",
                lease.key,
                self.data_dir.display()
            )));
        }
        // The agent and the daemons first (a Patroni would start its server again), then
        // the databases, then whatever a daemon started meanwhile.
        for group in marked_groups(&dir) {
            stop_group(group).await;
        }
        stop_databases(&dir).await;
        for group in marked_groups(&dir) {
            stop_group(group).await;
        }
        // Gone already is fine: the test's teardown and its provision's may run at once.
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(ProviderError::Failed(format!(
                    "cannot remove {}: {e}",
                    dir.display()
                )));
            }
            _ => {}
        }
        tracing::info!(machine = %lease.key, "local machine destroyed");
        Ok(())
    }
}

/// The process groups of processes whose environment marks them as `work_dir`'s agent
/// (or a child of it): read from /proc, so a PID reused by a stranger is never touched.
fn marked_groups(work_dir: &Path) -> std::collections::BTreeSet<i32> {
    let mut groups = std::collections::BTreeSet::new();
    let Ok(all) = procfs::process::all_processes() else {
        return groups;
    };
    for process in all.flatten() {
        let marked = process
            .environ()
            .ok()
            .and_then(|env| env.get(std::ffi::OsStr::new(MARKER)).cloned())
            .is_some_and(|dir| Path::new(&dir) == work_dir);
        // Never our own group (the server is no machine's process).
        if let Ok(stat) = process.stat()
            && marked
            && stat.pgrp > 1
            && stat.pgrp != nix::unistd::getpgrp().as_raw()
        {
            groups.insert(stat.pgrp);
        }
    }
    groups
}

/// Immediate shutdown (SIGQUIT) of every PostgreSQL the machine started, then SIGKILL.
async fn stop_databases(work_dir: &Path) {
    let Ok(instances) = std::fs::read_dir(work_dir.join("postgres")) else {
        return;
    };
    for instance in instances.flatten() {
        let pid_file = instance.path().join("data").join("postmaster.pid");
        let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<i32>().ok()))
        else {
            continue;
        };
        let pid = Pid::from_raw(pid);
        if kill(pid, Signal::SIGQUIT).is_ok() {
            wait_gone(|| kill(pid, None).is_ok(), Duration::from_secs(10)).await;
            let _ = kill(pid, Signal::SIGKILL);
        }
    }
}

/// SIGTERM the agent's process group (it stops its tasks), then SIGKILL.
async fn stop_group(pid: i32) {
    let group = Pid::from_raw(pid);
    if killpg(group, Signal::SIGTERM).is_ok() {
        wait_gone(|| killpg(group, None).is_ok(), Duration::from_secs(10)).await;
        let _ = killpg(group, Signal::SIGKILL);
    }
}

async fn wait_gone(alive: impl Fn() -> bool, limit: Duration) {
    let deadline = Instant::now() + limit;
    while alive() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
