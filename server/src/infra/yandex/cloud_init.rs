//! The cloud-init user data of a benchmark VM: it makes the agent's service user, writes
//! the agent's environment (with its enrollment token, readable by that user only), the
//! sha256 the agent binary must have and the agent's systemd unit; installs Docker
//! (PostgreSQL and Stroppy run in containers; the service user may use it); downloads the
//! agent from this server, checks it and starts it.

use base64::Engine as _;
use serde::Serialize;

/// Where the agent's environment lives on the VM (the systemd unit reads it).
pub const ENV_FILE: &str = "/etc/ratchet-agent/agent.env";
/// The sha256 line (`<hex>  ratchet-agent`) the downloaded agent is checked against.
pub const SHA_FILE: &str = "/etc/ratchet-agent/agent.sha256";
const UNIT_FILE: &str = "/etc/systemd/system/ratchet-agent.service";
const AGENT_BIN: &str = "/usr/local/bin/ratchet-agent";
/// The user the agent runs as (the unit says so too).
pub const SERVICE_USER: &str = "ratchet";

/// The systemd unit the agent runs under.
pub const UNIT: &str = include_str!("../../../../edge-agent/ratchet-agent.service");

/// What one VM's agent needs to know.
pub struct AgentBoot<'a> {
    /// How the VM reaches this server.
    pub server_url: &'a str,
    pub enrollment_token: &'a str,
    pub name: &'a str,
    /// `key=value` labels (cores, memory).
    pub labels: &'a str,
    /// Of the agent binary this server serves.
    pub agent_sha256: &'a str,
    /// Extra packages to install (the PostgreSQL runtime's).
    pub packages: &'a [&'a str],
}

#[derive(Serialize)]
struct CloudConfig<'a> {
    /// The image's default user (an operator's SSH key) and the agent's service user.
    users: serde_json::Value,
    package_update: bool,
    packages: Vec<&'a str>,
    write_files: Vec<WriteFile>,
    runcmd: Vec<Vec<String>>,
}

#[derive(Serialize)]
struct WriteFile {
    path: &'static str,
    permissions: &'static str,
    owner: &'static str,
    encoding: &'static str,
    content: String,
    /// Written late (after the users exist), for a file the service user owns.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    defer: bool,
}

fn file(path: &'static str, permissions: &'static str, content: &str) -> WriteFile {
    WriteFile {
        path,
        permissions,
        owner: "root:root",
        encoding: "b64",
        content: base64::engine::general_purpose::STANDARD.encode(content),
        defer: false,
    }
}

/// The agent's environment file: `KEY=value` lines.
pub fn agent_env(boot: &AgentBoot<'_>) -> String {
    format!(
        "RATCHET_SERVER_URL={}\nRATCHET_ENROLLMENT_TOKEN={}\nRATCHET_AGENT_NAME={}\nRATCHET_AGENT_LABELS={}\nRATCHET_AGENT_WORK_DIR=/var/lib/ratchet-agent\nRATCHET_AGENT_GIVE_UP_AFTER=30m\nRUST_LOG=info\n",
        boot.server_url, boot.enrollment_token, boot.name, boot.labels
    )
}

/// The `#cloud-config` document of one VM.
pub fn user_data(boot: &AgentBoot<'_>) -> String {
    // The server URL comes from the env file, not from this script: one place to change.
    let install = format!(
        "set -eu; if getent group docker >/dev/null; then usermod -aG docker {SERVICE_USER}; fi; \
         url=$(sed -n 's/^RATCHET_SERVER_URL=//p' {ENV_FILE} | cut -d, -f1); \
         curl -fsS --retry 20 --retry-connrefused --retry-delay 3 -o {AGENT_BIN}.new \"$url/api/v1/agent/binary?arch=$(uname -m)\"; \
         echo \"$(cut -d' ' -f1 {SHA_FILE})  {AGENT_BIN}.new\" | sha256sum -c -; \
         chmod 755 {AGENT_BIN}.new; mv {AGENT_BIN}.new {AGENT_BIN}; \
         systemctl daemon-reload; systemctl enable --now ratchet-agent.service"
    );
    let mut packages = vec!["curl", "ca-certificates"];
    packages.extend_from_slice(boot.packages);
    let config = CloudConfig {
        users: serde_json::json!([
            "default",
            {"name": SERVICE_USER, "system": true, "shell": "/usr/sbin/nologin", "homedir": "/var/lib/ratchet-agent", "no_create_home": true},
        ]),
        package_update: true,
        packages,
        write_files: vec![
            WriteFile {
                owner: "ratchet:ratchet",
                defer: true,
                ..file(ENV_FILE, "0600", &agent_env(boot))
            },
            file(
                SHA_FILE,
                "0644",
                &format!("{}  ratchet-agent\n", boot.agent_sha256),
            ),
            file(UNIT_FILE, "0644", UNIT),
        ],
        runcmd: vec![vec!["sh".into(), "-c".into(), install]],
    };
    // One line per value (no folded scalars): simple tools (the local-sim module's script)
    // read the document too.
    let options = serde_saphyr::ser_options! { prefer_block_scalars: false };
    let yaml =
        serde_saphyr::to_string_with_options(&config, options).expect("a cloud-config serializes");
    format!("#cloud-config\n{yaml}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boot() -> AgentBoot<'static> {
        AgentBoot {
            server_url: "http://10.0.0.5:8080",
            enrollment_token: "rt_enroll_secret",
            name: "t1-db-1a2b",
            labels: "cores=4,memory_gb=16",
            agent_sha256: "ab12",
            packages: &["docker.io"],
        }
    }

    #[derive(serde::Deserialize)]
    struct Parsed {
        users: Vec<serde_json::Value>,
        packages: Vec<String>,
        write_files: Vec<ParsedFile>,
        runcmd: Vec<Vec<String>>,
    }

    #[derive(serde::Deserialize)]
    struct ParsedFile {
        path: String,
        permissions: String,
        owner: String,
        encoding: String,
        content: String,
        #[serde(default)]
        defer: bool,
    }

    #[test]
    fn the_user_data_is_a_cloud_config_that_installs_and_enrolls_the_agent() {
        let text = user_data(&boot());
        assert!(text.starts_with("#cloud-config\n"), "{text}");
        let parsed: Parsed = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(parsed.packages, ["curl", "ca-certificates", "docker.io"]);
        let decode = |f: &ParsedFile| {
            assert_eq!(f.encoding, "b64");
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(&f.content)
                    .unwrap(),
            )
            .unwrap()
        };
        let env = parsed
            .write_files
            .iter()
            .find(|f| f.path == ENV_FILE)
            .unwrap();
        assert_eq!(
            env.permissions, "0600",
            "the token is for the service user only"
        );
        assert_eq!(env.owner, "ratchet:ratchet");
        assert!(env.defer, "written once the service user exists");
        assert_eq!(parsed.users[1]["name"], SERVICE_USER);
        let env = decode(env);
        assert!(
            env.contains("RATCHET_ENROLLMENT_TOKEN=rt_enroll_secret\n"),
            "{env}"
        );
        assert!(
            env.contains("RATCHET_SERVER_URL=http://10.0.0.5:8080\n"),
            "{env}"
        );
        assert!(env.contains("RATCHET_AGENT_NAME=t1-db-1a2b\n"), "{env}");
        let sha = parsed
            .write_files
            .iter()
            .find(|f| f.path == SHA_FILE)
            .unwrap();
        assert_eq!(decode(sha), "ab12  ratchet-agent\n");
        let unit = parsed
            .write_files
            .iter()
            .find(|f| f.path == UNIT_FILE)
            .unwrap();
        let unit = decode(unit);
        assert!(
            unit.contains(&format!("EnvironmentFile={ENV_FILE}")),
            "{unit}"
        );
        assert!(unit.contains(&format!("User={SERVICE_USER}")), "{unit}");
        let script = &parsed.runcmd[0][2];
        assert!(script.contains("sha256sum -c -"), "{script}");
        assert!(script.contains("/api/v1/agent/binary?arch="), "{script}");
        // The token is only in the (root-only) env file, never in the script.
        assert!(!script.contains("rt_enroll_secret"));
    }
}
