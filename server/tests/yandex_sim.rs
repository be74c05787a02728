//! The `yandex` target end to end with the real Terraform CLI, on the `local-sim` module: a
//! stand-in for Yandex Cloud (which cannot be reached from here) taking the same variables
//! as `terraform-modules/yandex`. Each simulated VM boots from the cloud-init user data the
//! server rendered: it downloads the agent from the server, checks its sha256, and enrolls
//! with the token in the user data. The module's knob files stand in for a slow or failing
//! cloud.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

/// A copy of the local-sim module with knob files (`sim-<knob>`) in it.
fn sim_module(knobs: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("ratchet-sim-module-")
        .tempdir()
        .unwrap();
    let source = ratchet_test_support::terraform_module("local-sim");
    for entry in std::fs::read_dir(source).unwrap().flatten() {
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    for (knob, value) in knobs {
        std::fs::write(dir.path().join(format!("sim-{knob}")), value).unwrap();
    }
    dir
}

/// A server whose `yandex` target is the simulation in `module`.
async fn sim_server(data: &Path, module: &Path, extra: &[(&str, &str)]) -> Server {
    Server::start(data, &sim_env(module, extra)).await
}

/// The environment of a server whose `yandex` target is the simulation in `module`.
fn sim_env<'a>(module: &'a Path, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let tf = ratchet_test_support::terraform();
    // For the whole test process: every test's servers use the same two paths.
    let tf_bin: &'static str = tf.bin.to_str().unwrap().to_string().leak();
    let tf_config: &'static str = tf.cli_config.to_str().unwrap().to_string().leak();
    let mut env = vec![
        ("RATCHET_YANDEX_MODULE", module.to_str().unwrap()),
        ("RATCHET_TERRAFORM_BIN", tf_bin),
        ("TF_CLI_CONFIG_FILE", tf_config),
        // The simulated VMs run on this host: PostgreSQL as installed here, addresses on
        // loopback.
        ("RATCHET_YANDEX_DATABASE_RUNTIME", "native"),
        ("RATCHET_YANDEX_SUBNET_POOL", "127.200.0.0/16"),
        ("RATCHET_YANDEX_AGENT_WAIT", "60s"),
        // Must never show anywhere: Terraform gets it, nothing prints it.
        ("YC_TOKEN", YC_TOKEN),
    ];
    env.extend_from_slice(extra);
    env
}

const YC_TOKEN: &str = "yc-token-marker-4f1d2c9e8b7a";

fn suite(name: &str, duration: &str) -> String {
    format!(
        "name: {name}\ntarget: yandex\ntests:\n  - name: t1\n    database:\n      version: 15\n      hardware: {{cores: 2, memory_gb: 1}}\n    workload: {{driver: pgbench, duration: {duration}, clients: 2, threads: 1, builtin: select-only}}\n    loader:\n      hardware: {{cores: 2, memory_gb: 1}}\n"
    )
}

/// An SSE stream's bytes, recorded until taken.
struct Recording(
    std::sync::Arc<std::sync::Mutex<String>>,
    tokio::task::JoinHandle<()>,
);

impl Recording {
    fn take(self) -> String {
        self.1.abort();
        self.0.lock().unwrap().clone()
    }
}

fn record_stream(url: String) -> Recording {
    let into = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = into.clone();
    let task = tokio::spawn(async move {
        let Ok(mut response) = http().get(url).bearer_auth(ADMIN_TOKEN).send().await else {
            return;
        };
        while let Ok(Some(chunk)) = response.chunk().await {
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&chunk));
        }
    });
    Recording(into, task)
}

/// Submit a suite; answers its id.
async fn submit_suite(api: &Api, yaml: &str) -> String {
    let (status, submitted) = submit(api, yaml).await;
    assert_eq!(status, 201, "{submitted}");
    submitted["id"].as_str().unwrap().to_string()
}

/// Wait until some run's log says `text`.
async fn wait_log(api: &Api, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !all_logs(api).await.contains(text) {
        assert!(Instant::now() < deadline, "no log line says {text:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every log line of every run on the server.
async fn all_logs(api: &Api) -> String {
    let (_, runs) = api.get("/api/v1/runs?limit=200").await;
    let mut text = String::new();
    for run in runs["runs"].as_array().unwrap() {
        let id = run["id"].as_str().unwrap();
        let (_, page) = api
            .get(&format!("/api/v1/runs/{id}/logs?limit=10000"))
            .await;
        for line in page["lines"].as_array().unwrap() {
            text.push_str(line["line"].as_str().unwrap_or(""));
            text.push('\n');
        }
    }
    text
}

/// The first test's provision run.
async fn provision_run(api: &Api, suite: &Value) -> Value {
    let test = api.run(suite["tests"][0]["run_id"].as_str().unwrap()).await;
    let id = task(&test, "deploy-plan")["output"]["provision_run"]
        .as_str()
        .map(str::to_string);
    match id {
        Some(id) => api.run(&id).await,
        None => {
            let (_, runs) = api.get("/api/v1/runs?workflow=cloud-provision").await;
            api.run(runs["runs"][0]["id"].as_str().unwrap()).await
        }
    }
}

#[tokio::test]
async fn a_suite_on_the_simulated_cloud_runs_to_the_end_and_leaves_nothing() {
    let data = open_dir();
    let module = sim_module(&[]);
    let logs = tempfile::tempdir().unwrap();
    let server_log = logs.path().join("server.log");
    // Traces too: each Terraform command is a span under its step, and holds no secret.
    let (collector, spans) = common::otlp::http_receiver().await;
    let tracing = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ];
    let server =
        Server::start_logged(data.path(), &sim_env(module.path(), &tracing), &server_log).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let status_stream = record_stream(format!("{}/api/v1/stream", api.base));

    // The dry run says what would be made, and makes nothing.
    let r = http()
        .post(format!("{}/api/v1/suites?dry_run=true", api.base))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/yaml")
        .body(suite("sim", "3s"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let plan: Value = r.json().await.unwrap();
    let vars = &plan["tests"][0]["provider"]["variables"];
    assert_eq!(vars["machines"].as_object().unwrap().len(), 2, "{plan:#}");
    assert!(
        vars["subnet_cidr"]
            .as_str()
            .unwrap()
            .starts_with("127.200."),
        "{plan:#}"
    );
    assert!(
        !plan.to_string().contains("rat_enr_"),
        "a plan holds no token: {plan}"
    );
    let (_, runs) = api.get("/api/v1/runs").await;
    assert!(
        runs["runs"].as_array().unwrap().is_empty(),
        "a dry run runs nothing: {runs}"
    );

    let id = submit_suite(&api, &suite("sim", "3s")).await;
    let done = wait_suite(&api, &id, 180, "the suite to end", ended).await;
    assert_eq!(done["status"], "COMPLETED", "{done:#}");
    assert_eq!(done["tests"][0]["status"], "COMPLETED", "{done:#}");
    assert!(
        done["tests"][0]["result"]["tps"].as_f64().unwrap() > 0.0,
        "{done:#}"
    );

    // Terraform made the machines (its progress is in the provision's log) and the agents
    // enrolled from the user data; the teardown destroyed them.
    let provision = provision_run(&api, &done).await;
    let created = task(&provision, "create-deployments");
    let machines = created["output"]["machines"].as_array().unwrap();
    assert_eq!(machines.len(), 2, "{created:#}");
    let run_logs = all_logs(&api).await;
    assert!(run_logs.contains("Apply complete!"), "{run_logs}");
    assert!(run_logs.contains("Destroy complete"), "{run_logs}");
    assert_nothing_left(&api, data.path()).await;
    let spans = common::otlp::wait_for(&spans, 30, |got| {
        got.iter().any(|s| s.name == "terraform destroy")
    })
    .await;
    for command in [
        "terraform init",
        "terraform apply",
        "terraform output",
        "terraform destroy",
    ] {
        let span = spans
            .iter()
            .find(|s| s.name == command)
            .unwrap_or_else(|| panic!("no `{command}` span among {spans:#?}"));
        let step = spans
            .iter()
            .find(|s| s.span_id == span.parent)
            .unwrap_or_else(|| panic!("the step of {span:?} was not exported"));
        assert!(step.attributes.contains_key("ratchet.task"), "{step:?}");
        assert_eq!(step.trace_id, id.replace('-', ""), "in the suite's trace");
    }

    // The cloud credentials and the machines' enrollment tokens are nowhere: not in the
    // runs' logs, the server's log, the API's answers, the SSE streams or the traces.
    let test_run = done["tests"][0]["run_id"].as_str().unwrap();
    let log_stream = record_stream(format!("{}/api/v1/runs/{test_run}/logs/stream", api.base));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut seen = vec![
        ("the runs' logs", run_logs),
        (
            "the server's log",
            std::fs::read_to_string(&server_log).unwrap(),
        ),
        ("the status stream", status_stream.take()),
        ("a log stream", log_stream.take()),
    ];
    for path in [
        "/api/v1/runs?limit=200",
        "/api/v1/infrastructure",
        "/api/v1/agents",
        "/api/v1/enrollment-tokens",
    ] {
        seen.push((path, api.get(path).await.1.to_string()));
    }
    seen.push((
        "the suite",
        api.get(&format!("/api/v1/suites/{id}")).await.1.to_string(),
    ));
    seen.push(("the provision run", provision.to_string()));
    seen.push(("the traces", format!("{spans:?}")));
    assert!(
        seen[1].1.contains("the yandex target is on"),
        "the server's log was read"
    );
    assert!(seen[3].1.contains("event: log"), "the log stream was read");
    for (place, text) in &seen {
        assert!(!text.contains(YC_TOKEN), "the YC_TOKEN value is in {place}");
        assert!(
            !text.contains("rat_enr_"),
            "an enrollment token is in {place}"
        );
    }
}

#[tokio::test]
async fn a_failed_apply_is_destroyed_and_its_quota_given_back() {
    let data = open_dir();
    let module = sim_module(&[("fail-apply", "1")]);
    let server = sim_server(data.path(), module.path(), &[]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let id = submit_suite(&api, &suite("refused", "3s")).await;
    let done = wait_suite(&api, &id, 240, "the suite to end", ended).await;
    let test = &done["tests"][0];
    assert_eq!(test["status"], "FAILED", "{done:#}");
    let error = test["error"].as_str().unwrap();
    assert!(error.contains("terraform apply failed"), "{error}");
    assert!(error.contains("local-exec provisioner error"), "{error}");
    // The on-failure destroy ran; no lease, work dir or process is left.
    let provision = provision_run(&api, &done).await;
    assert_eq!(
        task(&provision, "destroy-created")["status"],
        "COMPLETED",
        "{provision:#}"
    );
    assert_nothing_left(&api, data.path()).await;
}

#[tokio::test]
async fn cancelling_during_the_apply_interrupts_terraform_and_destroys_what_it_made() {
    let data = open_dir();
    let module = sim_module(&[("apply-delay-s", "20")]);
    let server = sim_server(data.path(), module.path(), &[]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let id = submit_suite(&api, &suite("cancelled", "3s")).await;
    wait_log(&api, "Creating...").await; // Terraform is creating the machines
    let (status, body) = api
        .post(&format!("/api/v1/suites/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    let done = wait_suite(&api, &id, 120, "the suite to end", ended).await;
    assert_eq!(done["status"], "CANCELLED", "{done:#}");
    let logs = all_logs(&api).await;
    assert!(logs.contains("interrupting terraform"), "{logs}");
    assert_nothing_left_within(&api, data.path(), 90).await;
    let terraform = processes_in(data.path())
        .into_iter()
        .filter(|p| p.cmdline.contains("terraform"))
        .count();
    assert_eq!(terraform, 0, "a Terraform process is left");
}

#[tokio::test]
async fn a_destroy_that_fails_is_retried_until_the_state_is_empty() {
    let data = open_dir();
    // Each machine's destroy fails twice first (the counter is per deployment copy).
    let module = sim_module(&[("destroy-failures", "2")]);
    let server = sim_server(data.path(), module.path(), &[]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let id = submit_suite(&api, &suite("flaky-destroy", "2s")).await;
    let done = wait_suite(&api, &id, 240, "the suite to end", ended).await;
    assert_eq!(done["status"], "COMPLETED", "{done:#}");
    let logs = all_logs(&api).await;
    assert!(logs.contains("destroy attempt 1 of 3 failed"), "{logs}");
    assert_nothing_left_within(&api, data.path(), 30).await;
}

#[tokio::test]
async fn the_leak_guard_destroys_what_a_failed_teardown_left() {
    let data = open_dir();
    // Every destroy fails for a while: the test run's teardown gives up, the run ends, and
    // its machines are still there.
    let module = sim_module(&[("destroy-failures", "1000")]);
    let server = sim_server(
        data.path(),
        module.path(),
        &[("RATCHET_LEAK_GUARD_INTERVAL", "1s")],
    )
    .await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let id = submit_suite(&api, &suite("leaky", "2s")).await;
    let done = wait_suite(&api, &id, 400, "the suite to end", ended).await;
    assert_eq!(done["tests"][0]["status"], "FAILED", "{done:#}");
    let (_, infra) = api.get("/api/v1/infrastructure").await;
    let deployment = &infra["deployments"][0];
    assert_eq!(deployment["provider"], "yandex", "{infra:#}");
    assert_eq!(
        deployment["machines"].as_array().unwrap().len(),
        2,
        "{infra:#}"
    );
    // The cloud recovers: the leak guard destroys the machines of the ended run.
    let work_dir = data
        .path()
        .join("deployments")
        .join(deployment["run_id"].as_str().unwrap());
    std::fs::write(work_dir.join("sim-destroy-failures"), "0").unwrap();
    assert_nothing_left_within(&api, data.path(), 120).await;
}

#[tokio::test]
async fn a_server_killed_during_the_apply_finishes_the_suite_after_a_restart() {
    let data = open_dir();
    let module = sim_module(&[("apply-delay-s", "8")]);
    let port = ratchet_test_support::free_port();
    let env = sim_env(module.path(), &[("RATCHET_AGENT_LEASE", "3s")]);
    let server = Server::start_at(data.path(), port, &env).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let id = submit_suite(&api, &suite("restarted", "2s")).await;
    wait_log(&api, "Creating...").await;
    drop(server); // SIGKILL: no teardown, the Terraform it started is left running
    let server = Server::start_at(data.path(), port, &env).await;
    let done = wait_suite(&api, &id, 300, "the suite to end", ended).await;
    assert_eq!(done["status"], "COMPLETED", "{done:#}");
    assert_nothing_left_within(&api, data.path(), 30).await;
    drop(server);
}

#[tokio::test]
async fn the_yandex_example_suite_is_planned_with_its_matrix_and_hardware() {
    let data = open_dir();
    let module = sim_module(&[]);
    let pin = format!("6.1.1={}", "ab".repeat(32));
    let server = sim_server(
        data.path(),
        module.path(),
        &[("RATCHET_STROPPY_RELEASES", pin.as_str())],
    )
    .await;
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/suite-yandex.yaml"
    ))
    .unwrap();
    let r = http()
        .post(format!("{}/api/v1/suites?dry_run=true", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/yaml")
        .body(yaml)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let plan: Value = r.json().await.unwrap();
    let tests = plan["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 6, "2 tests and a 2x2 matrix: {plan:#}");
    let names: Vec<&str> = tests.iter().map(|t| t["test"].as_str().unwrap()).collect();
    assert!(names.contains(&"pg17-vus128"), "{names:?}");
    let vars = &tests[0]["provider"]["variables"];
    let db = vars["machines"]
        .as_object()
        .unwrap()
        .values()
        .find(|m| m["role"] == "db")
        .unwrap();
    assert_eq!(
        (
            db["cores"].as_u64(),
            db["memory_gb"].as_u64(),
            db["disk_gb"].as_u64()
        ),
        (Some(8), Some(32), Some(100)),
        "{db}"
    );
    assert_eq!(vars["labels"]["managed-by"], "ratchet", "{vars}");
    // Each machine's cloud-init is rendered, valid YAML, its token masked.
    for (name, user_data) in vars["user_data"].as_object().unwrap() {
        let text = user_data.as_str().unwrap();
        assert!(text.starts_with("#cloud-config\n"), "{name}: {text}");
        let doc: Value = serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(doc["write_files"].as_array().unwrap().len(), 3, "{doc}");
        assert!(!text.contains("rat_enr_"), "{text}");
    }
    // What it costs: 6 tests of 12 cores, 40 GB and 120 GB of disk each, 10 minutes of
    // load on 2 machines each.
    let totals = &plan["totals"];
    assert_eq!(totals["machines"], 12, "{totals}");
    assert_eq!(totals["cores"], 72, "{totals}");
    assert_eq!(totals["memory_gb"], 240, "{totals}");
    assert_eq!(totals["disk_gb"], 720, "{totals}");
    assert!(
        (totals["machine_hours"].as_f64().unwrap() - 2.0).abs() < 1e-9,
        "{totals}"
    );
    // A dry run makes nothing.
    let (_, infra) = Api::new(&server.base, ADMIN_TOKEN)
        .get("/api/v1/infrastructure")
        .await;
    assert!(infra["leases"].as_array().unwrap().is_empty(), "{infra}");
}

#[tokio::test]
async fn an_operator_destroys_a_running_deployment_and_its_run_is_cancelled() {
    let data = open_dir();
    let module = sim_module(&[]);
    let server = sim_server(data.path(), module.path(), &[]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let id = submit_suite(&api, &suite("destroyed-by-hand", "10m")).await;
    let suite = wait_step(&api, &id, 0, "run-stroppy-test").await;
    let run_id = suite["tests"][0]["run_id"].as_str().unwrap().to_string();
    let (_, infra) = api.get("/api/v1/infrastructure").await;
    let deployment = &infra["deployments"][0];
    assert_eq!(deployment["run_id"], run_id.as_str(), "{infra:#}");
    assert_eq!(deployment["run_status"], "RUNNING", "{infra:#}");
    assert!(
        deployment["expires_at"].as_i64().unwrap() > deployment["created_at"].as_i64().unwrap()
    );

    // Only an admin may.
    let reader = Api::new(&server.base, &token_with_scope(data.path(), "read"));
    let (status, _) = reader
        .post(
            &format!("/api/v1/infrastructure/{run_id}/destroy"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 403);

    let (status, body) = api
        .post(
            &format!("/api/v1/infrastructure/{run_id}/destroy"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cancelled"], true, "{body}");
    let done = wait_suite(&api, &id, 120, "the suite to end", ended).await;
    assert_eq!(done["tests"][0]["status"], "CANCELLED", "{done:#}");
    assert_nothing_left_within(&api, data.path(), 60).await;
    let (status, _) = api
        .post(
            &format!("/api/v1/infrastructure/{run_id}/destroy"),
            &json!({}),
        )
        .await;
    assert_eq!(
        status, 200,
        "destroying again is fine: the run still exists"
    );
}

#[tokio::test]
async fn after_a_server_is_killed_mid_test_the_leak_guard_destroys_the_expired_deployment() {
    let data = open_dir();
    // Provisioning takes 30 s, so the TTL (1 minute from the test's start) passes while the
    // 50 s load still runs.
    let module = sim_module(&[("apply-delay-s", "30")]);
    let port = ratchet_test_support::free_port();
    let env = sim_env(module.path(), &[("RATCHET_LEAK_GUARD_INTERVAL", "1s")]);
    let server = Server::start_at(data.path(), port, &env).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let yaml = suite("expiring", "50s").replace("target: yandex\n", "target: yandex\nttl: 1m\n");
    let id = submit_suite(&api, &yaml).await;
    let running = wait_step(&api, &id, 0, "run-stroppy-test").await;
    let test_run = running["tests"][0]["run_id"].as_str().unwrap().to_string();
    let (_, infra) = api.get("/api/v1/infrastructure").await;
    let expires_at = infra["deployments"][0]["expires_at"].as_i64().unwrap();
    drop(server); // SIGKILL, mid-load: the machines stay up
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    tokio::time::sleep(Duration::from_millis(
        (expires_at - now_ms + 1000).max(0) as u64
    ))
    .await;
    let server = Server::start_at(data.path(), port, &env).await;
    let done = wait_suite(&api, &id, 120, "the suite to end", ended).await;
    assert_eq!(done["tests"][0]["status"], "CANCELLED", "{done:#}");
    assert_eq!(done["tests"][0]["run_id"], test_run.as_str());
    assert_nothing_left_within(&api, data.path(), 60).await;
    drop(server);
}

#[tokio::test]
async fn on_postgres_the_state_lives_in_the_database_and_outlives_a_restart_and_a_lost_work_dir() {
    use sqlx::Connection;
    let db = ratchet_test_support::test_database().await;
    // Terraform's pg backend (lib/pq) wants sslmode said outright (the throw-away server has
    // no TLS) and knows none of sqlx's URL parameters: its URL is the plain one.
    let url = format!("{}?sslmode=disable", db.url().split('?').next().unwrap());
    let data = open_dir();
    let module = sim_module(&[]);
    let port = ratchet_test_support::free_port();
    let env = sim_env(
        module.path(),
        &[
            ("DATABASE_URL", db.url()),
            ("RATCHET_TERRAFORM_STATE_URL", url.as_str()),
        ],
    );
    let server = Server::start_at(data.path(), port, &env).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let id = submit_suite(&api, &suite("pg-state", "15s")).await;
    let running = wait_step(&api, &id, 0, "run-stroppy-test").await;
    let test_run = running["tests"][0]["run_id"].as_str().unwrap().to_string();

    // The state is a row of the deployment's schema, with both machines in it; the work dir
    // holds no state file.
    let schema = format!("terraform_r{}", &test_run.replace('-', "")[..12]);
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let state: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT data FROM {schema}.states WHERE name = 'default'"
    )))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        state.matches("\"type\": \"null_resource\"").count(),
        1,
        "{state}"
    );
    assert_eq!(
        state.matches("\"index_key\"").count(),
        2,
        "two machines: {state}"
    );
    let work_dir = data.path().join("deployments").join(&test_run);
    assert!(work_dir.join(".terraform").is_dir());
    assert!(!work_dir.join("terraform.tfstate").exists());

    // A restart between the apply and the destroy, with the work dir lost meanwhile (a new
    // disk, another replica): the destroy makes it again from the leases and reads the
    // state from the database.
    assert!(server.terminate().success());
    std::fs::remove_dir_all(&work_dir).unwrap();
    let server = Server::start_at(data.path(), port, &env).await;
    let done = wait_suite(&api, &id, 180, "the suite to end", ended).await;
    assert_eq!(done["tests"][0]["status"], "COMPLETED", "{done:#}");
    assert!(
        all_logs(&api)
            .await
            .contains("the work dir was lost; made again")
    );
    assert_nothing_left_within(&api, data.path(), 30).await;
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1",
    )
    .bind(&schema)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(left, 0, "the emptied state's schema is dropped");
    drop(server);
}
