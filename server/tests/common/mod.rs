//! Runs the real `ratchet` binary as a child process, the way a user starts it.
#![allow(dead_code)] // each test file uses its own part of this module

pub mod otlp;
pub mod sse;

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};

use serde_json::Value;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// An HTTP client (rustls needs its crypto provider installed once per process).
pub fn http() -> reqwest::Client {
    static TLS: std::sync::Once = std::sync::Once::new();
    TLS.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::new()
}

/// A `ratchet` command with a clean environment: only what the test sets.
pub fn ratchet() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ratchet"));
    for var in [
        "DATABASE_URL",
        "VALKEY_URL",
        "RATCHET_LISTEN",
        "RATCHET_DATA_DIR",
        "RATCHET_ADMIN_TOKEN",
        "RATCHET_AGENT_LEASE",
    ] {
        command.env_remove(var);
    }
    // Traces only where a test asks for them.
    for var in telemetry::EXPORT_VARS.iter().chain(&["OTEL_SERVICE_NAME"]) {
        command.env_remove(var);
    }
    command.env("RUST_LOG", "warn");
    command
}

pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    /// Start `ratchet serve` on a free port with `data_dir` and extra env, and wait for /healthz.
    pub async fn start(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        Server::start_at(data_dir, ratchet_test_support::free_port(), env).await
    }

    /// Start on a given port (a restart that clients must find again).
    pub async fn start_at(data_dir: &Path, port: u16, env: &[(&str, &str)]) -> Server {
        Server::spawn(data_dir, port, env, Stdio::inherit()).await
    }

    /// Start with everything it logs (at `info`) in the file `log`.
    pub async fn start_logged(data_dir: &Path, env: &[(&str, &str)], log: &Path) -> Server {
        let file = std::fs::File::create(log).unwrap();
        let mut env = env.to_vec();
        env.push(("RUST_LOG", "info"));
        Server::spawn(
            data_dir,
            ratchet_test_support::free_port(),
            &env,
            file.into(),
        )
        .await
    }

    async fn spawn(data_dir: &Path, port: u16, env: &[(&str, &str)], stderr: Stdio) -> Server {
        let mut command = ratchet();
        command
            .arg("serve")
            .env("RATCHET_LISTEN", format!("127.0.0.1:{port}"))
            .env("RATCHET_DATA_DIR", data_dir)
            .env("RATCHET_ADMIN_TOKEN", ADMIN_TOKEN)
            .stdout(Stdio::null())
            .stderr(stderr);
        for (k, v) in env {
            command.env(k, v);
        }
        let mut server = Server {
            child: command.spawn().expect("spawn ratchet serve"),
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http().get(format!("{}/healthz", server.base)).send().await
                && r.status().is_success()
            {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("ratchet serve exited with {status} before it answered /healthz");
            }
            assert!(
                Instant::now() < deadline,
                "ratchet serve did not answer /healthz within 60s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = http()
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// SIGTERM, as a service manager would send; returns the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "ratchet did not stop within 30s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process the test started itself, killed when the test ends (also when it fails).
pub struct Spawned(pub Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Run a `ratchet` command that is expected to fail, with a timeout.
pub fn run_failing(mut command: Command) -> (ExitStatus, String) {
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ratchet");
    let Output { status, stderr, .. } = child.wait_with_output().unwrap();
    (status, String::from_utf8_lossy(&stderr).into_owned())
}

/// A `ratchet` command on data dir `data` that must succeed; answers its stdout, trimmed.
pub fn ratchet_ok(data: &std::path::Path, args: &[&str]) -> String {
    let out = ratchet()
        .args(args)
        .env("RATCHET_DATA_DIR", data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ratchet {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A token of one scope, made with the CLI as an operator would.
pub fn token_with_scope(data: &std::path::Path, scope: &str) -> String {
    ratchet_ok(
        data,
        &["token", "create", "--name", scope, "--scope", scope],
    )
}

/// The admin token the tests' servers accept (`RATCHET_ADMIN_TOKEN`).
pub const ADMIN_TOKEN: &str = "rat_test_admin_token_0123456789";

/// A server's `/metrics` page (open: no token).
pub async fn metrics_text(base: &str) -> String {
    http()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A bearer-token client for the REST API of one server.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Api {
        Api {
            base: base.to_string(),
            token: token.to_string(),
            http: http(),
        }
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let (status, text) = self.get_text(path).await;
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// A GET answered in text (a report as Markdown or XML).
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.text().await.unwrap())
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Create an enrollment token with labels (and optionally bound to a run).
    pub async fn enrollment(
        &self,
        name: &str,
        labels: serde_json::Value,
        run_id: Option<&str>,
    ) -> String {
        let (status, body) = self
            .post(
                "/api/v1/enrollment-tokens",
                &serde_json::json!({"name": name, "labels": labels, "run_id": run_id}),
            )
            .await;
        assert_eq!(status, 201, "create enrollment token: {body}");
        body["token"].as_str().unwrap().to_string()
    }

    /// Register a workflow and start a run of it; answers the run id.
    pub async fn start(&self, workflow: serde_json::Value) -> String {
        let (status, body) = self.post("/api/v1/workflows", &workflow).await;
        assert!(status == 201, "register workflow: {status} {body}");
        let path = format!(
            "/api/v1/workflows/{}/versions/{}/runs",
            workflow["name"].as_str().unwrap(),
            workflow["version"].as_str().unwrap()
        );
        let (status, body) = self.post(&path, &serde_json::json!({"input": {}})).await;
        assert_eq!(status, 201, "trigger run: {body}");
        body["id"].as_str().unwrap().to_string()
    }

    /// A run's log lines (of one task, when given), in order.
    pub async fn log_lines(&self, run_id: &str, task_id: Option<&str>) -> Vec<String> {
        let task = task_id.map_or(String::new(), |t| format!("&task={t}"));
        let (status, page) = self
            .get(&format!("/api/v1/runs/{run_id}/logs?limit=10000{task}"))
            .await;
        assert_eq!(status, 200, "run logs: {page}");
        page["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["line"].as_str().unwrap().to_string())
            .collect()
    }

    pub async fn run(&self, run_id: &str) -> serde_json::Value {
        let (status, body) = self.get(&format!("/api/v1/runs/{run_id}")).await;
        assert_eq!(status, 200, "get run: {body}");
        body
    }

    /// Wait until `check` holds for the run (up to `secs`), answering the run.
    pub async fn wait_run(
        &self,
        run_id: &str,
        secs: u64,
        what: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let run = self.run(run_id).await;
            if check(&run) {
                return run;
            }
            assert!(
                Instant::now() < deadline,
                "waited {secs}s for {what}; the run is now: {run:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The task of a run by name.
pub fn task<'a>(run: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    run["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no task {name} in {run:#}"))
}

/// A real `ratchet-agent` process (built next to `ratchet` by `cargo build`/`nextest
/// --workspace`), killed when dropped.
pub struct AgentProcess {
    pub child: Child,
    pub name: String,
}

impl AgentProcess {
    pub fn start(
        server: &str,
        token: &str,
        name: &str,
        work_dir: &Path,
        extra: &[(&str, &str)],
    ) -> AgentProcess {
        let binary = Path::new(env!("CARGO_BIN_EXE_ratchet")).with_file_name("ratchet-agent");
        assert!(
            binary.exists(),
            "{} is missing: build it first (`cargo build --workspace --bins`, as `.ci/run` does)",
            binary.display()
        );
        let mut command = Command::new(binary);
        command
            .env("RATCHET_SERVER_URL", server)
            .env("RATCHET_ENROLLMENT_TOKEN", token)
            .env("RATCHET_AGENT_NAME", name)
            .env("RATCHET_AGENT_WORK_DIR", work_dir)
            .env("RATCHET_AGENT_KILL_GRACE", "1s")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in extra {
            command.env(k, v);
        }
        AgentProcess {
            child: command.spawn().expect("spawn ratchet-agent"),
            name: name.to_string(),
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A directory others (the unprivileged PostgreSQL user) can traverse.
pub fn open_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("ratchet-agent-test-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

// --- suites ------------------------------------------------------------------------------

/// Submit a suite document (YAML).
pub async fn submit(api: &Api, yaml: &str) -> (u16, Value) {
    let r = http()
        .post(format!("{}/api/v1/suites", api.base))
        .bearer_auth(&api.token)
        .header("content-type", "application/yaml")
        .body(yaml.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

pub async fn wait_suite(
    api: &Api,
    id: &str,
    secs: u64,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let (status, suite) = api.get(&format!("/api/v1/suites/{id}")).await;
        assert_eq!(status, 200, "{suite}");
        if done(&suite) {
            return suite;
        }
        assert!(
            Instant::now() < deadline,
            "waited {secs}s for {what}: {suite:#}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub fn ended(suite: &Value) -> bool {
    matches!(
        suite["status"].as_str(),
        Some("COMPLETED" | "FAILED" | "REGRESSED" | "CANCELLED")
    )
}

/// A process on this host, as /proc tells it.
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: u32,
    /// Arguments separated by spaces.
    pub cmdline: String,
    /// `NAME=value` lines.
    pub environ: String,
}

/// Processes (but the server and this test) whose command line, environment or working
/// directory names `dir`: agents get their work dir in the environment, postgres and
/// pgbench run with paths or a working directory under it.
pub fn processes_in(dir: &Path) -> Vec<Proc> {
    let needle = dir.to_string_lossy().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let read = |f: &str, sep: &str| {
            std::fs::read(entry.path().join(f))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', sep))
                .unwrap_or_default()
        };
        let (cmdline, environ) = (read("cmdline", " "), read("environ", "\n"));
        let cwd = std::fs::read_link(entry.path().join("cwd"))
            .map(|p| p.to_string_lossy().to_string())
            .unwrap_or_default();
        let under =
            cmdline.contains(&needle) || environ.contains(&needle) || cwd.starts_with(&needle);
        if under && !cmdline.contains("ratchet serve") && !cmdline.is_empty() {
            found.push(Proc {
                pid,
                cmdline,
                environ,
            });
        }
    }
    found
}

/// Wait until test `test` of suite `id` is at (or past the start of) step `step`.
pub async fn wait_step(api: &Api, id: &str, test: usize, step: &str) -> Value {
    wait_suite(api, id, 120, &format!("step {step} to start"), |s| {
        s["tests"][test]["steps"]
            .as_array()
            .is_some_and(|steps| steps.iter().any(|st| st == step))
    })
    .await
}

/// After a suite: no process, no machine dir, no lease of it.
pub async fn assert_nothing_left(api: &Api, data: &Path) {
    assert_nothing_left_within(api, data, 15).await
}

pub async fn assert_nothing_left_within(api: &Api, data: &Path, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let procs: Vec<String> = processes_in(data)
            .into_iter()
            .map(|p| format!("{}: {}", p.pid, p.cmdline))
            .collect();
        // Local machines, cloud deployments (their Terraform work dirs) and simulated VMs.
        let machines: Vec<_> = ["machines", "deployments", "sim-machines"]
            .iter()
            .flat_map(|dir| {
                std::fs::read_dir(data.join(dir))
                    .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
                    .unwrap_or_default()
            })
            .collect();
        let (_, infra) = api.get("/api/v1/infrastructure").await;
        let leases = infra["leases"].as_array().cloned().unwrap_or_default();
        if procs.is_empty() && machines.is_empty() && leases.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "left behind: processes {procs:?}, machine dirs {machines:?}, leases {leases:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
