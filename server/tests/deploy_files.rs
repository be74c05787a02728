//! The production files, checked by their shape — there is no Docker engine on Ratchet's
//! build machines to run them: `compose.yaml` (services, health checks, the wiring between
//! them, no secret in the file), the `Dockerfile` (stages, a non-root user, a health
//! check, nothing secret baked in), the systemd unit and the env file example. Every
//! variable they set for `ratchet serve` is one `ratchet serve --help` documents.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The variables `ratchet serve` reads (from its `--help`).
fn serve_variables() -> BTreeSet<String> {
    let out = common::ratchet()
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout).to_string();
    help.split("[env: ")
        .skip(1)
        .filter_map(|rest| rest.split(['=', ']']).next())
        .map(str::to_string)
        .collect()
}

/// Names that hold secrets.
fn is_secret(name: &str) -> bool {
    ["PASSWORD", "TOKEN", "SECRET"]
        .iter()
        .any(|s| name.contains(s))
}

/// A compose value taken from the environment at `docker compose up`, required to be set.
fn from_environment(value: &str) -> bool {
    value.starts_with("${") && value.contains(":?") && value.ends_with('}')
}

#[test]
fn compose_runs_two_replicas_behind_a_proxy_on_postgres_and_valkey_with_health_checks_and_no_secret()
 {
    let compose: Value =
        serde_saphyr::from_str(&repo_file("compose.yaml")).expect("compose.yaml parses");
    let services = compose["services"].as_object().expect("services");
    let names: BTreeSet<&str> = services.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "postgres",
            "valkey",
            "ratchet-a",
            "ratchet-b",
            "proxy",
            "agent"
        ])
    );
    for (name, service) in services {
        let test = &service["healthcheck"]["test"];
        assert!(
            test.is_array() && !test.as_array().unwrap().is_empty(),
            "{name} has no health check: {service:#}"
        );
    }
    let known = serve_variables();
    for replica in ["ratchet-a", "ratchet-b"] {
        let s = &services[replica];
        assert_eq!(s["command"], serde_json::json!(["serve"]), "{replica}");
        assert_eq!(s["build"]["target"], "server", "{replica}");
        let env = s["environment"].as_object().expect("environment");
        for (key, value) in env {
            assert!(
                known.contains(key) || key == "RUST_LOG",
                "{replica}: `ratchet serve` does not read {key}"
            );
            let value = value.as_str().unwrap_or_default();
            if is_secret(key) {
                assert!(
                    from_environment(value),
                    "{replica}: {key} is written in the file: {value}"
                );
            }
        }
        let database = env["DATABASE_URL"].as_str().unwrap();
        assert!(database.contains("@postgres:5432/"), "{database}");
        let password = database
            .split("://ratchet:")
            .nth(1)
            .and_then(|r| r.split('@').next())
            .unwrap();
        assert!(
            from_environment(password),
            "the database password is written in the file: {database}"
        );
        assert_eq!(env["VALKEY_URL"], "valkey://valkey:6379");
        assert_eq!(
            env["RATCHET_PUBLIC_URL"], "http://proxy:8080",
            "agents reach the replicas through the proxy"
        );
        for dependency in ["postgres", "valkey"] {
            assert_eq!(
                s["depends_on"][dependency]["condition"], "service_healthy",
                "{replica} → {dependency}"
            );
        }
    }
    assert_ne!(
        services["ratchet-a"]["volumes"], services["ratchet-b"]["volumes"],
        "each replica has its own data dir"
    );
    let postgres_password = services["postgres"]["environment"]["POSTGRES_PASSWORD"]
        .as_str()
        .unwrap();
    assert!(from_environment(postgres_password), "{postgres_password}");
    let agent = &services["agent"];
    assert_eq!(agent["build"]["target"], "agent");
    assert_eq!(
        agent["environment"]["RATCHET_SERVER_URL"],
        "http://proxy:8080"
    );
    assert!(from_environment(
        agent["environment"]["RATCHET_ENROLLMENT_TOKEN"]
            .as_str()
            .unwrap()
    ));

    // The proxy: both replicas, each health-checked on /readyz, long timeouts for streams.
    let proxy = &services["proxy"];
    for replica in ["ratchet-a", "ratchet-b"] {
        assert_eq!(proxy["depends_on"][replica]["condition"], "service_healthy");
    }
    let mount = proxy["volumes"][0].as_str().unwrap();
    assert!(mount.starts_with("./deploy/haproxy.cfg:"), "{mount}");
    let haproxy = repo_file("deploy/haproxy.cfg");
    let lines: Vec<&str> = haproxy.lines().map(str::trim).collect();
    assert!(lines.contains(&"option httpchk GET /readyz"), "{haproxy}");
    for replica in ["ratchet-a", "ratchet-b"] {
        assert!(
            lines.contains(&format!("server {replica} {replica}:8080 check").as_str()),
            "{haproxy}"
        );
    }
    assert!(
        lines.contains(&"timeout server 1h"),
        "SSE streams and long polls stay open: {haproxy}"
    );
}

/// The Dockerfile's instructions, continuation lines joined, comments dropped.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && pending.is_empty()) {
            continue;
        }
        pending.push_str(line.trim_end_matches('\\'));
        pending.push(' ');
        if !line.ends_with('\\') {
            let (word, rest) = pending
                .trim()
                .split_once(' ')
                .unwrap_or((pending.trim(), ""));
            out.push((word.to_uppercase(), rest.trim().to_string()));
            pending.clear();
        }
    }
    out
}

#[test]
fn the_dockerfile_builds_in_stages_and_runs_as_a_user_with_a_health_check_and_no_secret() {
    let dockerfile = repo_file("Dockerfile");
    let steps = instructions(&dockerfile);
    let mut stages: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (word, rest) in steps {
        if word == "FROM" {
            let name = rest
                .split(" AS ")
                .nth(1)
                .expect("every stage is named")
                .trim()
                .to_string();
            stages.push((name, Vec::new()));
        } else {
            stages.last_mut().expect("FROM first").1.push((word, rest));
        }
    }
    let names: Vec<&str> = stages.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["web", "build", "runtime", "agent", "server"],
        "the server is the default (last) target"
    );
    let stage = |name: &str| &stages.iter().find(|(n, _)| n == name).unwrap().1;
    let has = |name: &str, word: &str, needle: &str| {
        stage(name)
            .iter()
            .any(|(w, r)| w == word && r.contains(needle))
    };
    assert!(
        has("build", "COPY", "--from=web"),
        "the dashboard is built first and embedded"
    );
    assert!(has("build", "RUN", "cargo build --release --locked"));
    assert!(has("build", "RUN", "strip"), "shipped stripped");
    assert!(
        has("runtime", "COPY", "--from=build"),
        "the runtime has the binaries, not the toolchain"
    );
    assert!(has("server", "RUN", "postgresql-client"));
    assert!(
        has("agent", "RUN", "postgresql-contrib"),
        "the agent's machine runs PostgreSQL and pgbench"
    );
    for name in ["agent", "server"] {
        let user = stage(name)
            .iter()
            .rev()
            .find(|(w, _)| w == "USER")
            .map(|(_, r)| r.as_str());
        assert!(
            user.is_some_and(|u| u != "root" && u != "0"),
            "the {name} image runs as a user, not root: {user:?}"
        );
    }
    assert!(has("server", "HEALTHCHECK", "/readyz"));
    assert!(has("server", "ENTRYPOINT", "ratchet"));
    for (name, steps) in &stages {
        for (word, rest) in steps {
            if word == "ENV" || word == "ARG" {
                for pair in rest.split_whitespace() {
                    let key = pair.split('=').next().unwrap();
                    assert!(!is_secret(key), "stage {name} bakes in {key}");
                }
            }
        }
    }
    let ignored = repo_file(".dockerignore");
    for path in ["target", "web/node_modules", "ratchet-data", ".env", ".git"] {
        assert!(
            ignored.lines().any(|l| l.trim() == path),
            ".dockerignore lacks {path}"
        );
    }
}

#[test]
fn the_systemd_unit_and_the_env_example_start_a_replica_with_known_settings_and_placeholders() {
    let unit = repo_file("deploy/ratchet.service");
    let mut section = String::new();
    let mut keys: Vec<(String, String, String)> = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        let (key, value) = line.split_once('=').expect("key=value");
        keys.push((section.clone(), key.into(), value.into()));
    }
    let get = |s: &str, k: &str| {
        keys.iter()
            .find(|(sec, key, _)| sec == s && key == k)
            .map(|(_, _, v)| v.as_str())
            .unwrap_or_else(|| panic!("{s} {k} is missing"))
    };
    assert_eq!(
        get("[Service]", "ExecStart"),
        "/usr/local/bin/ratchet serve"
    );
    assert_eq!(get("[Service]", "User"), "ratchet");
    assert_eq!(
        get("[Service]", "EnvironmentFile"),
        "/etc/ratchet/ratchet.env"
    );
    assert_eq!(get("[Service]", "NoNewPrivileges"), "true");
    assert_eq!(get("[Service]", "KillSignal"), "SIGTERM");
    assert_eq!(get("[Install]", "WantedBy"), "multi-user.target");
    assert!(
        !keys.iter().any(|(_, k, _)| k == "Environment"),
        "settings go in the env file, not the unit"
    );

    let known = serve_variables();
    let example = repo_file("deploy/ratchet.env.example");
    let mut set = BTreeSet::new();
    for line in example.lines().map(str::trim) {
        let line = line.trim_start_matches('#');
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.contains(' ') || key.is_empty() {
            continue; // prose
        }
        let for_compose = ["POSTGRES_PASSWORD", "RATCHET_ENROLLMENT_TOKEN", "RUST_LOG"];
        assert!(
            known.contains(key) || for_compose.contains(&key) || key.starts_with("OTEL_"),
            "the env example sets {key}, which `ratchet serve` does not read"
        );
        if is_secret(key) || key == "DATABASE_URL" {
            assert!(
                value.contains("CHANGE-ME"),
                "{key} must be a placeholder, not a value: {value}"
            );
        }
        set.insert(key.to_string());
    }
    for needed in [
        "DATABASE_URL",
        "VALKEY_URL",
        "RATCHET_ADMIN_TOKEN",
        "RATCHET_PUBLIC_URL",
        "RATCHET_LISTEN",
    ] {
        assert!(set.contains(needed), "the env example lacks {needed}");
    }
}
