//! The `yandex` provider: a test run's machines are Yandex Cloud VMs in a subnet of their
//! own, made by the Terraform CLI from `terraform-modules/yandex`. Each deployment has a
//! work dir, `<data dir>/deployments/<run id>`, with the module, its variables (0600: the
//! user data carries enrollment tokens) and its Terraform state; destroying the deployment
//! is `terraform destroy` there, retried until the state is empty, and only then are its
//! leases given back.
//!
//! The module is replaceable (`RATCHET_YANDEX_MODULE`): `terraform-modules/local-sim`
//! takes the same variables and "boots" each VM on this host from its user data, which is
//! how this provider is tested where no cloud is reachable.

pub mod cloud_init;
pub mod state;

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use engine::store::{Lease, LeaseLimit, LeaseStore, TokenStore};
use protocol::actions::PostgresRuntime;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use self::state::{BACKEND_FILE, StateBackend};
use crate::infra::network::NetworkPool;
use crate::infra::terraform::{Io, Secrets, Terraform};
use crate::infra::{
    Counts, Deployment, Machine, MachinePlan, Progress, Provider, ProviderError, Quota,
    enrollment_token, machine_name_problem, write_private,
};

/// Lease kind of a Yandex VM (its share of the VM and core quota).
pub const VM: &str = "yandex-vm";
/// Lease kind of a Yandex VM's share of the memory quota.
pub const MEMORY: &str = "yandex-memory";

/// The module the server carries, used unless `RATCHET_YANDEX_MODULE` names another.
const EMBEDDED_MODULE: &[(&str, &str)] = &[
    (
        "versions.tf",
        include_str!("../../../../terraform-modules/yandex/versions.tf"),
    ),
    (
        "variables.tf",
        include_str!("../../../../terraform-modules/yandex/variables.tf"),
    ),
    (
        "network.tf",
        include_str!("../../../../terraform-modules/yandex/network.tf"),
    ),
    (
        "vms.tf",
        include_str!("../../../../terraform-modules/yandex/vms.tf"),
    ),
    (
        "outputs.tf",
        include_str!("../../../../terraform-modules/yandex/outputs.tf"),
    ),
];

/// The variables file of a deployment (in its work dir, 0600).
const VAR_FILE: &str = "deployment.tfvars.json";
const STATE_FILE: &str = "terraform.tfstate";

/// How often a destroy is tried within one call before it gives up (the step retries too,
/// and the leak guard after it).
const DESTROY_ATTEMPTS: u32 = 3;

/// The hardware and placement every VM gets, from the server's configuration.
#[derive(Debug, Clone)]
pub struct VmDefaults {
    pub platform: String,
    pub core_fraction: u32,
    pub disk_type: String,
    pub image_family: String,
    pub image_id: String,
    pub public_ip: bool,
}

#[derive(Debug, Clone)]
pub struct YandexConfig {
    /// A module directory in place of the embedded `terraform-modules/yandex`.
    pub module: Option<PathBuf>,
    pub folder_id: String,
    pub zone: String,
    /// An existing VPC network for the subnets; empty: one per deployment.
    pub network_id: String,
    /// A NAT gateway per deployment subnet.
    pub nat_gateway: bool,
    /// Where the agents reach this server (its address as the VMs see it).
    pub server_url: String,
    pub server_cidrs: Vec<String>,
    pub egress_cidrs: Vec<String>,
    pub vm: VmDefaults,
    pub database_runtime: PostgresRuntime,
    pub subnets: NetworkPool,
    pub max_vms: u32,
    pub max_cores: u32,
    pub max_memory_gb: u32,
    /// How long a VM's agent may take to connect after the apply (boot, cloud-init).
    pub agent_wait: Duration,
}

pub struct YandexProvider {
    config: YandexConfig,
    quotas: [Quota; 2],
    terraform: Terraform,
    state: StateBackend,
    /// Masked in everything Terraform prints (the cloud credentials).
    credentials: Secrets,
    tokens: Arc<dyn TokenStore>,
    leases: Arc<dyn LeaseStore>,
    deployments_dir: PathBuf,
    /// Of the agent binary this server serves (the VMs check what they download).
    agent_sha256: String,
    installation: String,
    /// One Terraform at a time per deployment (an apply being interrupted and the destroy
    /// that follows it).
    locks: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
}

pub struct YandexParts {
    pub terraform: Terraform,
    pub state: StateBackend,
    pub tokens: Arc<dyn TokenStore>,
    pub leases: Arc<dyn LeaseStore>,
    pub data_dir: PathBuf,
    pub agent_sha256: String,
    pub installation: String,
}

/// What the module answers for each machine (`output "machines"`).
#[derive(Debug, Deserialize)]
struct MachineOutput {
    id: String,
    internal_ip: String,
    #[serde(default)]
    public_ip: String,
}

impl YandexProvider {
    pub fn new(config: YandexConfig, parts: YandexParts) -> Result<YandexProvider, String> {
        if let Some(module) = &config.module
            && !module.join("variables.tf").is_file()
        {
            return Err(format!(
                "RATCHET_YANDEX_MODULE={}: no variables.tf there (it must be a Terraform module taking the variables of terraform-modules/yandex)",
                module.display()
            ));
        }
        let mut credentials = Secrets::default();
        for (key, value) in std::env::vars() {
            if key.starts_with("YC_") && (key.contains("TOKEN") || key.contains("KEY")) {
                credentials.add(value);
            }
        }
        if let Some(secret) = parts.state.secret() {
            credentials.add(secret);
        }
        let quotas = [
            Quota {
                kind: VM,
                limit: LeaseLimit {
                    count: i64::from(config.max_vms),
                    amount: i64::from(config.max_cores),
                },
                counts: Counts::Cores,
            },
            Quota {
                kind: MEMORY,
                limit: LeaseLimit {
                    count: i64::from(config.max_vms),
                    amount: i64::from(config.max_memory_gb),
                },
                counts: Counts::MemoryGb,
            },
        ];
        Ok(YandexProvider {
            config,
            quotas,
            terraform: parts.terraform,
            state: parts.state,
            credentials,
            tokens: parts.tokens,
            leases: parts.leases,
            deployments_dir: parts.data_dir.join("deployments"),
            agent_sha256: parts.agent_sha256,
            installation: parts.installation,
            locks: Mutex::default(),
        })
    }

    /// A deployment's work dir: `<data dir>/deployments/<run id>` (from the id, never from
    /// stored data).
    pub fn work_dir(&self, run_id: Uuid) -> PathBuf {
        self.deployments_dir.join(run_id.to_string())
    }

    fn lock(&self, run_id: Uuid) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(run_id)
            .or_default()
            .clone()
    }

    /// The labels on every resource of the deployment: whose it is and when it may go.
    fn labels(&self, deployment: &Deployment) -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            ("managed-by", "ratchet".to_string()),
            ("ratchet-installation", self.installation.clone()),
            ("ratchet-run", deployment.run_id.to_string()),
            (
                "ratchet-expires-at",
                (deployment.expires_at / 1000).to_string(),
            ),
        ])
    }

    /// The module's variables for `deployment`; `user_data` by machine name (empty strings
    /// in a plan).
    fn variables(&self, deployment: &Deployment, user_data: BTreeMap<String, String>) -> Value {
        let vm = &self.config.vm;
        let machines: BTreeMap<&str, Value> = deployment
            .machines
            .iter()
            .map(|m| {
                (
                    m.name.as_str(),
                    json!({
                        "role": m.role,
                        "platform": vm.platform,
                        "cores": m.cores,
                        "memory_gb": m.memory_gb,
                        "core_fraction": vm.core_fraction,
                        "disk_gb": m.disk_gb,
                        "disk_type": vm.disk_type,
                        "image_family": vm.image_family,
                        "image_id": vm.image_id,
                        "public_ip": vm.public_ip,
                        "ip": m.address,
                        "secondary_disks": [],
                    }),
                )
            })
            .collect();
        json!({
            "deployment": deployment_id(deployment.run_id),
            "labels": self.labels(deployment),
            "folder_id": self.config.folder_id,
            "zone": self.config.zone,
            "network_id": self.config.network_id,
            "nat_gateway": self.config.nat_gateway,
            "subnet_cidr": deployment.cidr,
            "server_cidrs": self.config.server_cidrs,
            "egress_cidrs": self.config.egress_cidrs,
            "machines": machines,
            "user_data": user_data,
        })
    }

    /// The cloud-init document of machine `m`, enrolling with `token`.
    fn user_data(&self, m: &MachinePlan, token: &str) -> String {
        let labels = format!("cores={},memory_gb={}", m.cores, m.memory_gb);
        cloud_init::user_data(&cloud_init::AgentBoot {
            server_url: &self.config.server_url,
            enrollment_token: token,
            name: &m.name,
            labels: &labels,
            agent_sha256: &self.agent_sha256,
            packages: self.packages(),
        })
    }

    fn packages(&self) -> &'static [&'static str] {
        match self.config.database_runtime {
            PostgresRuntime::Docker => &["docker.io"],
            PostgresRuntime::Native => &[],
        }
    }

    /// Write the module and the variables into the work dir. The variables are written once
    /// per deployment: a retried create applies the same user data (the same tokens), so
    /// the VMs made by an earlier attempt are kept, not replaced.
    async fn prepare(
        &self,
        deployment: &Deployment,
        secrets: &mut Secrets,
    ) -> Result<PathBuf, ProviderError> {
        let dir = self.work_dir(deployment.run_id);
        self.write_work_dir(&dir, deployment.run_id)?;
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            ProviderError::Failed(format!("deployment {}: {what}: {e}", deployment.run_id))
        };
        let var_file = dir.join(VAR_FILE);
        if var_file.exists() {
            mask_tokens_of(&var_file, secrets)
                .map_err(|e| failed("cannot read its variables", &e))?;
            return Ok(dir);
        }
        let mut user_data = BTreeMap::new();
        for m in &deployment.machines {
            let token = enrollment_token(self.tokens.as_ref(), "yandex", deployment.run_id, m)
                .await
                .map_err(|e| failed("cannot create an enrollment token", &e))?;
            secrets.add(token.clone());
            user_data.insert(m.name.clone(), self.user_data(m, &token));
        }
        let vars = self.variables(deployment, user_data);
        write_private(
            &var_file,
            &serde_json::to_string_pretty(&vars).expect("JSON"),
        )
        .map_err(|e| failed("cannot write its variables", &e))?;
        Ok(dir)
    }

    /// The work dir with the module and the state backend (not the variables).
    fn write_work_dir(&self, dir: &Path, run_id: Uuid) -> Result<(), ProviderError> {
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            ProviderError::Failed(format!("deployment {run_id}: {what}: {e}"))
        };
        std::fs::create_dir_all(dir).map_err(|e| failed("cannot create its work dir", &e))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| failed("cannot restrict its work dir", &e))?;
        self.write_module(dir)
            .map_err(|e| failed("cannot copy the module", &e))?;
        self.state
            .configure(dir, &deployment_id(run_id))
            .map_err(|e| failed("cannot write its state backend", &e))
    }

    /// A lost work dir of a deployment whose state is in PostgreSQL, made again from what
    /// its leases recorded (its server's disk went away). `false` when it cannot be.
    fn rebuild(&self, run_id: Uuid, machines: &[Lease]) -> Result<bool, ProviderError> {
        if !matches!(self.state, StateBackend::Postgres { .. }) {
            return Ok(false);
        }
        let Some(mut vars) = machines
            .iter()
            .find_map(|l| l.data.as_ref()?.get("variables").cloned())
        else {
            return Ok(false);
        };
        // Destroying needs no user data (nor its tokens): each machine gets an empty one.
        let names: Vec<String> = vars["machines"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        vars["user_data"] = names.into_iter().map(|n| (n, json!(""))).collect();
        let dir = self.work_dir(run_id);
        self.write_work_dir(&dir, run_id)?;
        write_private(&dir.join(VAR_FILE), &vars.to_string()).map_err(|e| {
            ProviderError::Failed(format!(
                "deployment {run_id}: cannot write its variables: {e}"
            ))
        })?;
        Ok(true)
    }

    fn write_module(&self, dir: &Path) -> std::io::Result<()> {
        let Some(module) = &self.config.module else {
            for (name, text) in EMBEDDED_MODULE {
                std::fs::write(dir.join(name), text)?;
            }
            return Ok(());
        };
        for entry in std::fs::read_dir(module)? {
            let entry = entry?;
            let name = entry.file_name();
            // Regular files only (a module's dot files and its local state stay where they are).
            if !entry.file_type()?.is_file() || name.to_string_lossy().starts_with('.') {
                continue;
            }
            std::fs::copy(entry.path(), dir.join(&name))?;
        }
        Ok(())
    }

    /// Record on each machine's lease that its VM may now exist and where its state is: from
    /// here on only a destroy that empties the state gives the lease back.
    async fn mark_applying(
        &self,
        deployment: &Deployment,
        dir: &Path,
    ) -> Result<(), ProviderError> {
        for m in &deployment.machines {
            let data = self.lease_data(deployment, dir, None);
            self.leases.update_lease_data(VM, &m.name, &data).await?;
        }
        Ok(())
    }

    /// What a machine's lease records: where its deployment's state is, the deployment's
    /// variables (without the user data: enough to destroy it from anywhere when the state
    /// is in PostgreSQL) and, once made, the VM's ids.
    fn lease_data(&self, deployment: &Deployment, dir: &Path, vm: Option<&MachineOutput>) -> Value {
        let mut data = json!({
            "work_dir": dir,
            "installation": self.installation,
            "expires_at": deployment.expires_at,
            "variables": self.variables(deployment, BTreeMap::new()),
        });
        if let Some(vm) = vm {
            data["id"] = json!(vm.id);
            data["internal_ip"] = json!(vm.internal_ip);
            data["public_ip"] = json!(vm.public_ip);
        }
        data
    }

    async fn apply(
        &self,
        deployment: &Deployment,
        progress: &Progress,
    ) -> Result<Vec<Machine>, ProviderError> {
        let lock = self.lock(deployment.run_id);
        let _held = lock.lock().await;
        let mut secrets = self.credentials.clone();
        let dir = self.prepare(deployment, &mut secrets).await?;
        self.mark_applying(deployment, &dir).await?;
        let log = progress.log.clone();
        let io = Io {
            log: &move |line| log(line),
            secrets: &secrets,
            cancel: Some(progress.cancel.clone()),
            traceparent: progress.traceparent.as_deref(),
        };
        self.terraform.init(&dir, &io).await.map_err(failed)?;
        self.terraform
            .apply(&dir, &dir.join(VAR_FILE), &io)
            .await
            .map_err(failed)?;
        let outputs = self.terraform.outputs(&dir, &io).await.map_err(failed)?;
        let created: BTreeMap<String, MachineOutput> = serde_json::from_value(
            outputs["machines"]["value"].clone(),
        )
        .map_err(|e| {
            ProviderError::Failed(format!(
                "the module's output `machines` is not a map of {{id, internal_ip, public_ip}}: {e}"
            ))
        })?;
        let mut machines = Vec::new();
        for plan in &deployment.machines {
            let Some(vm) = created.get(&plan.name) else {
                return Err(ProviderError::Failed(format!(
                    "the apply did not make machine {} (the module's output lacks it)",
                    plan.name
                )));
            };
            if vm.internal_ip != plan.address {
                return Err(ProviderError::Failed(format!(
                    "machine {} has the address {}, not the planned {}",
                    plan.name, vm.internal_ip, plan.address
                )));
            }
            let handle = self.lease_data(deployment, &dir, Some(vm));
            self.leases
                .update_lease_data(VM, &plan.name, &handle)
                .await?;
            machines.push(Machine {
                role: plan.role.clone(),
                name: plan.name.clone(),
                address: plan.address.clone(),
                handle,
            });
        }
        Ok(machines)
    }

    async fn destroy_deployment(
        &self,
        run_id: Uuid,
        machines: &[Lease],
        progress: &Progress,
    ) -> Result<(), ProviderError> {
        let lock = self.lock(run_id);
        let _held = lock.lock().await;
        let dir = self.work_dir(run_id);
        let applied = machines.iter().any(|m| m.data.is_some());
        if !dir.join(VAR_FILE).exists() && applied && self.rebuild(run_id, machines)? {
            (progress.log)(format!(
                "the work dir was lost; made again from the leases (the state is in PostgreSQL): {}",
                dir.display()
            ));
        }
        if !dir.join(VAR_FILE).exists() {
            if applied && !self.released_soon(run_id).await? {
                return Err(ProviderError::Failed(format!(
                    "deployment {run_id}: its Terraform state is gone ({} is missing) although an apply was started; its VMs (labelled ratchet-run={run_id}) must be deleted in the cloud by hand",
                    dir.display()
                )));
            }
            return Ok(()); // reserved, never applied
        }
        let mut secrets = self.credentials.clone();
        // Unreadable variables make the destroy fail below, with Terraform's own words.
        let _ = mask_tokens_of(&dir.join(VAR_FILE), &mut secrets);
        let log = progress.log.clone();
        let io = Io {
            log: &move |line| log(line),
            secrets: &secrets,
            // A destroy is never interrupted.
            cancel: None,
            traceparent: progress.traceparent.as_deref(),
        };
        // The module copy made at create time stays: its state was made by it.
        if dir.join(STATE_FILE).exists() || dir.join(BACKEND_FILE).exists() {
            let mut last = String::new();
            let mut emptied = false;
            for attempt in 1..=DESTROY_ATTEMPTS {
                let outcome = async {
                    self.terraform.init(&dir, &io).await?;
                    self.terraform
                        .destroy(&dir, &dir.join(VAR_FILE), &io)
                        .await?;
                    self.terraform.resources(&dir, &io).await
                }
                .await;
                match outcome {
                    Ok(left) if left.is_empty() => {
                        emptied = true;
                        break;
                    }
                    Ok(left) => last = format!("the state still holds {}", left.join(", ")),
                    Err(e) => last = e.to_string(),
                }
                (progress.log)(format!(
                    "destroy attempt {attempt} of {DESTROY_ATTEMPTS} failed: {last}"
                ));
                if attempt < DESTROY_ATTEMPTS {
                    tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
                }
            }
            if !emptied {
                return Err(ProviderError::Failed(format!(
                    "deployment {run_id}: cannot destroy it: {last}"
                )));
            }
            if let Err(e) = self.state.forget(&deployment_id(run_id)).await {
                // Nothing of the cloud is left; an empty state is only clutter.
                (progress.log)(format!("the emptied state stays: {e}"));
            }
        }
        std::fs::remove_dir_all(&dir)
            .map_err(|e| ProviderError::Failed(format!("cannot remove {}: {e}", dir.display())))?;
        Ok(())
    }
}

impl YandexProvider {
    /// Does a destroy that just finished give the run's machine leases back? (Another
    /// destroy of the same deployment — the run's own teardown and an operator's, say —
    /// removes the work dir just before its caller releases the leases.)
    async fn released_soon(&self, run_id: Uuid) -> Result<bool, ProviderError> {
        let holder = run_id.to_string();
        for _ in 0..25 {
            let left = self.leases.leases(Some(VM), Some(&holder)).await?;
            if left.iter().all(|l| l.data.is_none()) {
                return Ok(true);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(false)
    }
}

fn failed(e: crate::infra::terraform::TerraformError) -> ProviderError {
    ProviderError::Failed(e.to_string())
}

/// The deployment's short id (cloud resource names): `r` and the run id's first 12 hex
/// digits.
fn deployment_id(run_id: Uuid) -> String {
    format!("r{}", &run_id.simple().to_string()[..12])
}

/// Add the enrollment tokens in the user data of a deployment's variables to `secrets`.
fn mask_tokens_of(var_file: &Path, secrets: &mut Secrets) -> std::io::Result<()> {
    let vars: Value = serde_json::from_str(&std::fs::read_to_string(var_file)?)?;
    let user_data = vars["user_data"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values());
    for token in user_data.filter_map(|d| d.as_str().and_then(enrollment_token_of)) {
        secrets.add(token);
    }
    Ok(())
}

/// The enrollment token in a machine's user data, to be masked.
fn enrollment_token_of(user_data: &str) -> Option<String> {
    use base64::Engine as _;
    user_data
        .lines()
        .filter_map(|l| l.trim().strip_prefix("content:"))
        .filter_map(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim().trim_matches(|c| c == '"' || c == '\''))
                .ok()
        })
        .filter_map(|bytes| String::from_utf8(bytes).ok())
        .find_map(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("RATCHET_ENROLLMENT_TOKEN=")
                    .map(str::to_string)
            })
        })
}

#[async_trait]
impl Provider for YandexProvider {
    fn name(&self) -> &'static str {
        "yandex"
    }

    fn quotas(&self) -> &[Quota] {
        &self.quotas
    }

    fn network(&self) -> &NetworkPool {
        &self.config.subnets
    }

    fn database_runtime(&self) -> PostgresRuntime {
        self.config.database_runtime
    }

    fn agent_wait(&self) -> Duration {
        self.config.agent_wait
    }

    async fn create(
        &self,
        deployment: &Deployment,
        progress: &Progress,
    ) -> Result<Vec<Machine>, ProviderError> {
        if let Some(problem) = deployment
            .machines
            .iter()
            .find_map(|m| machine_name_problem(&m.name))
        {
            return Err(ProviderError::Failed(problem));
        }
        self.apply(deployment, progress).await
    }

    async fn destroy(
        &self,
        run_id: Uuid,
        machines: &[Lease],
        progress: &Progress,
    ) -> Result<(), ProviderError> {
        self.destroy_deployment(run_id, machines, progress).await
    }

    async fn plan(&self, deployment: &Deployment) -> Result<Value, ProviderError> {
        // The user data as it would be, with its token masked (made at apply time).
        let user_data = deployment
            .machines
            .iter()
            .map(|m| (m.name.clone(), self.user_data(m, "********")))
            .collect();
        Ok(json!({
            "provider": "yandex",
            "module": self.config.module.as_ref().map_or_else(|| "embedded terraform-modules/yandex".to_string(), |m| m.display().to_string()),
            "work_dir": self.work_dir(deployment.run_id),
            "variables": self.variables(deployment, user_data),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_in_user_data_is_found_for_masking() {
        let boot = cloud_init::AgentBoot {
            server_url: "http://s",
            enrollment_token: "rt_enroll_abcdefgh",
            name: "m",
            labels: "",
            agent_sha256: "00",
            packages: &[],
        };
        assert_eq!(
            enrollment_token_of(&cloud_init::user_data(&boot)).as_deref(),
            Some("rt_enroll_abcdefgh")
        );
    }

    #[test]
    fn deployment_ids_are_short_resource_names() {
        let id = deployment_id(Uuid::nil());
        assert_eq!(id, "r000000000000");
    }
}
