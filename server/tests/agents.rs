//! The agent protocol end to end: the real server on the embedded default (SQLite) and
//! real `ratchet-agent` processes running real commands and a real PostgreSQL + pgbench.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use common::{ADMIN_TOKEN, AgentProcess, Api, Server, open_dir, task};
use nix::sys::signal::killpg;
use nix::unistd::Pid;
use serde_json::{Value, json};

/// A short lease, so lost agents are noticed within seconds.
const LEASE: &str = "4s";

async fn server(data: &Path) -> (Server, Api) {
    let server = Server::start(data, &[("RATCHET_AGENT_LEASE", LEASE)]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    (server, api)
}

fn shell_task(name: &str, zone: &str, command: &str, extra: Value) -> Value {
    let mut task = json!({
        "name": name,
        "action": "shell",
        "desired_labels": {"zone": {"value": zone}},
        "with": {"command": command},
    });
    task.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    task
}

/// Wait until `path` holds a number (a shell wrote its `$$`), answering it.
async fn wait_pid(path: &Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "{} was never written",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn group_alive(pgid: i32) -> bool {
    killpg(Pid::from_raw(pgid), None).is_ok()
}

/// Killed processes linger as zombies until their new parent reaps them: allow for that.
async fn wait_group_gone(pgid: i32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while group_alive(pgid) {
        assert!(
            Instant::now() < deadline,
            "process group {pgid} still alive {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A proxy in front of the server that passes every request on, but answers every other
/// log batch with a 503 *after* the server stored it, as a lost answer would look to the
/// agent: the agent must send the batch again, and the server must not store it twice.
async fn flaky_proxy(upstream: String) -> (String, Arc<AtomicUsize>) {
    let dropped = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let http = common::http();
    let counter = Arc::new(AtomicUsize::new(0));
    let dropped_in = dropped.clone();
    let app = axum::Router::new().fallback(move |req: Request| {
        let (http, upstream, counter, dropped) = (
            http.clone(),
            upstream.clone(),
            counter.clone(),
            dropped_in.clone(),
        );
        async move {
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            let path = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            let mut forward = http
                .request(parts.method.clone(), format!("{upstream}{path}"))
                .body(bytes);
            for name in ["authorization", "content-type"] {
                if let Some(v) = parts.headers.get(name) {
                    forward = forward.header(name, v.clone());
                }
            }
            let answer = forward.send().await.unwrap();
            let status = answer.status();
            let content_type = answer.headers().get("content-type").cloned();
            let body = answer.bytes().await.unwrap();
            if path.starts_with("/api/v1/agent/logs")
                && counter.fetch_add(1, Ordering::SeqCst) % 2 == 0
            {
                dropped.fetch_add(1, Ordering::SeqCst);
                return Response::builder()
                    .status(503)
                    .body(Body::from("injected failure"))
                    .unwrap();
            }
            let mut response = Response::builder().status(status.as_u16());
            if let Some(ct) = content_type {
                response = response.header("content-type", ct);
            }
            response.body(Body::from(body)).unwrap()
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), dropped)
}

#[tokio::test]
async fn agents_get_tasks_by_label_deliver_every_log_line_once_and_stop_cancelled_process_groups() {
    let data = tempfile::tempdir().unwrap();
    let (server, api) = server(data.path()).await;
    let (proxy, dropped) = flaky_proxy(server.base.clone()).await;
    let east_token = api
        .enrollment("east machines", json!({"zone": "east"}), None)
        .await;
    let west_token = api
        .enrollment("west machines", json!({"zone": "west"}), None)
        .await;
    let (east_dir, west_dir, scratch) = (open_dir(), open_dir(), open_dir());
    // The east agent talks through the flaky proxy.
    let _east = AgentProcess::start(&proxy, &east_token, "east-1", east_dir.path(), &[]);
    let _west = AgentProcess::start(&server.base, &west_token, "west-1", west_dir.path(), &[]);

    let run_id = api
        .start(json!({
            "name": "routing", "version": "1",
            "tasks": [
                shell_task("on-east", "east", "for i in $(seq 1 500); do echo line-$i; done", json!({})),
                shell_task("on-west", "west", "echo west says hi; echo to stderr >&2", json!({})),
            ]
        }))
        .await;
    let run = api
        .wait_run(&run_id, 60, "the run to complete", |r| {
            r["status"] == "COMPLETED"
        })
        .await;

    // Routing: each task ran on the agent with its label.
    let (_, agents) = api.get("/api/v1/agents").await;
    let agent_id = |name: &str| {
        agents
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("no agent {name}: {agents:#}"))["id"]
            .clone()
    };
    assert_eq!(task(&run, "on-east")["worker_id"], agent_id("east-1"));
    assert_eq!(task(&run, "on-west")["worker_id"], agent_id("west-1"));
    assert_eq!(task(&run, "on-east")["output"]["exit_code"], 0);

    // Every line once, in order, although half the batches had to be sent again.
    assert!(
        dropped.load(Ordering::SeqCst) >= 1,
        "the proxy never dropped an answer"
    );
    let east_task = task(&run, "on-east")["id"].as_str().unwrap().to_string();
    let (_, page) = api
        .get(&format!(
            "/api/v1/runs/{run_id}/logs?task={east_task}&limit=10000"
        ))
        .await;
    let lines: Vec<&str> = page["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_str().unwrap())
        .filter(|l| l.starts_with("line-"))
        .collect();
    let expected: Vec<String> = (1..=500).map(|i| format!("line-{i}")).collect();
    assert_eq!(lines, expected, "lines lost, doubled or out of order");
    let west_task = task(&run, "on-west")["id"].as_str().unwrap().to_string();
    let (_, page) = api
        .get(&format!("/api/v1/runs/{run_id}/logs?task={west_task}"))
        .await;
    let lines: Vec<&str> = page["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_str().unwrap())
        .collect();
    assert!(
        lines.contains(&"west says hi") && lines.contains(&"to stderr"),
        "{lines:?}"
    );

    // Cancellation kills the whole process group, background children included.
    let pid_file = scratch.path().join("pid");
    let command = format!(
        "echo $$ > {}; sleep 300 & sleep 301 & wait",
        pid_file.display()
    );
    let run_id = api.start(json!({"name": "cancel-me", "version": "1", "tasks": [shell_task("sleeper", "east", &command, json!({}))]})).await;
    let pgid = wait_pid(&pid_file).await;
    assert!(group_alive(pgid));
    let (status, body) = api
        .post(&format!("/api/v1/runs/{run_id}/cancel"), &json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    api.wait_run(&run_id, 30, "the run to be cancelled", |r| {
        r["status"] == "CANCELLED"
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while group_alive(pgid) {
        assert!(
            Instant::now() < deadline,
            "process group {pgid} still alive after the cancel"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Cancelling again is a conflict: the run has ended.
    let (status, body) = api
        .post(&format!("/api/v1/runs/{run_id}/cancel"), &json!({}))
        .await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn a_killed_agents_task_is_reassigned_after_the_lease_or_failed_without_retries() {
    let data = tempfile::tempdir().unwrap();
    let (server, api) = server(data.path()).await;
    let token = api.enrollment("pool", json!({"zone": "a"}), None).await;
    let (dir1, dir2, scratch) = (open_dir(), open_dir(), open_dir());
    let mut first = AgentProcess::start(&server.base, &token, "first", dir1.path(), &[]);

    let pid_retry = scratch.path().join("retry.pid");
    let pid_once = scratch.path().join("once.pid");
    let run_id = api
        .start(json!({
            "name": "survive-a-crash", "version": "1",
            "tasks": [
                shell_task("with-retry", "a", &format!("echo $$ > {}; sleep 2; echo done", pid_retry.display()), json!({"retries": 1})),
                shell_task("no-retry", "a", &format!("echo $$ > {}; sleep 300", pid_once.display()), json!({})),
            ]
        }))
        .await;
    let orphans = [wait_pid(&pid_retry).await, wait_pid(&pid_once).await];
    first.kill(); // SIGKILL: no goodbye, no results
    for pgid in orphans {
        let _ = killpg(Pid::from_raw(pgid), nix::sys::signal::Signal::SIGKILL);
    }
    std::fs::remove_file(&pid_retry).unwrap();
    let _second = AgentProcess::start(&server.base, &token, "second", dir2.path(), &[]);

    let run = api
        .wait_run(&run_id, 60, "the run to end", |r| r["status"] == "FAILED")
        .await;
    let with_retry = task(&run, "with-retry");
    assert_eq!(with_retry["status"], "COMPLETED", "{run:#}");
    assert_eq!(with_retry["attempt"], 2);
    let no_retry = task(&run, "no-retry");
    assert_eq!(no_retry["status"], "FAILED", "{run:#}");
    let (_, events) = api.get(&format!("/api/v1/runs/{run_id}/events")).await;
    let kinds: Vec<(String, String)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["task_name"].as_str().unwrap_or("").to_string(),
                e["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("with-retry".into(), "REASSIGNED".into())),
        "{kinds:?}"
    );
    let (_, agents) = api.get("/api/v1/agents").await;
    let first = agents
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "first")
        .unwrap();
    assert_eq!(first["status"], "LOST", "{agents:#}");
}

/// The raw protocol, as a misbehaving or confused agent would speak it.
#[tokio::test]
async fn agent_endpoints_refuse_bad_tokens_bad_bodies_and_other_runs_tasks() {
    let data = tempfile::tempdir().unwrap();
    let (server, api) = server(data.path()).await;
    let http = common::http();
    let post = |path: &str, token: Option<&str>, body: Value| {
        let mut request = http.post(format!("{}{path}", server.base)).json(&body);
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        async move {
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            let body: Value = r.json().await.unwrap_or(Value::Null);
            if status >= 400 {
                assert_eq!(ct.as_deref(), Some("application/problem+json"), "{body}");
            }
            (status, body)
        }
    };
    let registration =
        json!({"name": "raw", "version": "test", "protocol": 1, "actions": ["shell"], "slots": 1});

    // A run for the agent to be bound to, and one it must not touch.
    let workflow = |name: &str| json!({"name": name, "version": "1", "tasks": [{"name": "t", "action": "shell", "with": {"command": "true"}}]});
    let mine = api.start(workflow("mine")).await;
    let other = api.start(workflow("other")).await;
    let bound = api.enrollment("bound", json!({}), Some(&mine)).await;

    let (s, b) = post("/api/v1/agent/register", None, registration.clone()).await;
    assert_eq!(s, 401, "{b}");
    assert!(
        b["detail"].as_str().unwrap().contains("Authorization"),
        "{b}"
    );
    let (s, b) = post(
        "/api/v1/agent/register",
        Some("rat_enr_not-a-real-token"),
        registration.clone(),
    )
    .await;
    assert_eq!(s, 401, "{b}");
    let (s, b) = post(
        "/api/v1/agent/register",
        Some(ADMIN_TOKEN),
        registration.clone(),
    )
    .await;
    assert_eq!(s, 403, "an API token cannot register an agent: {b}");
    let mut typo = registration.clone();
    typo["slotz"] = json!(2);
    let (s, b) = post("/api/v1/agent/register", Some(&bound), typo).await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b["detail"].as_str().unwrap().contains("slotz"),
        "the detail names the bad field: {b}"
    );
    let mut old = registration.clone();
    old["protocol"] = json!(99);
    let (s, b) = post("/api/v1/agent/register", Some(&bound), old).await;
    assert_eq!(s, 400, "{b}");
    assert!(b["detail"].as_str().unwrap().contains("protocol"), "{b}");

    let (s, reg) = post("/api/v1/agent/register", Some(&bound), registration.clone()).await;
    assert_eq!(s, 201, "{reg}");
    assert_eq!(reg["run_id"], mine.as_str());
    let session = reg["session_token"].as_str().unwrap().to_string();
    assert!(
        !reg.to_string().contains(&bound),
        "the answer must not echo the enrollment token"
    );

    // An enrollment token is not a session; a session is not an API token.
    let (s, b) = post("/api/v1/agent/poll", Some(&bound), json!({"free_slots": 1})).await;
    assert_eq!(s, 403, "{b}");
    let (s, b) = Api::new(&server.base, &session).get("/api/v1/agents").await;
    assert_eq!(s, 403, "{b}");
    // Polling for another run's tasks.
    let (s, b) = post(
        "/api/v1/agent/poll",
        Some(&session),
        json!({"free_slots": 1, "run_id": other}),
    )
    .await;
    assert_eq!(s, 403, "{b}");
    assert!(b["detail"].as_str().unwrap().contains(&mine), "{b}");
    let (s, b) = post(
        "/api/v1/agent/poll",
        Some(&session),
        json!({"free_slots": "one"}),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    assert!(b["detail"].as_str().unwrap().contains("free_slots"), "{b}");
    // Nothing was assigned by the refused polls.
    assert_eq!(task(&api.run(&other).await, "t")["status"], "QUEUED");
    assert_eq!(task(&api.run(&mine).await, "t")["status"], "QUEUED");

    // A bound agent gets only its run's task.
    let (s, answer) = post(
        "/api/v1/agent/poll",
        Some(&session),
        json!({"free_slots": 4, "wait_s": 5}),
    )
    .await;
    assert_eq!(s, 200, "{answer}");
    let assignments = answer["assignments"].as_array().unwrap();
    assert_eq!(assignments.len(), 1, "{answer}");
    assert_eq!(assignments[0]["run_id"], mine.as_str());
    let my_task = assignments[0]["task_id"].as_str().unwrap().to_string();
    assert_eq!(task(&api.run(&other).await, "t")["status"], "QUEUED");

    // Logs and results for a task that is not ours.
    let other_task = task(&api.run(&other).await, "t")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, b) = post(
        "/api/v1/agent/logs",
        Some(&session),
        json!({"task_id": other_task, "attempt": 1, "lines": [{"seq": 0, "at": 0, "line": "x"}]}),
    )
    .await;
    assert_eq!(s, 403, "{b}");
    let (s, b) = post("/api/v1/agent/result", Some(&session), json!({"task_id": other_task, "attempt": 1, "result": {"outcome": "completed", "output": {}}})).await;
    assert_eq!(s, 403, "{b}");
    // A result for an attempt that does not exist yet.
    let (s, b) = post(
        "/api/v1/agent/result",
        Some(&session),
        json!({"task_id": my_task, "attempt": 2, "result": {"outcome": "completed", "output": {}}}),
    )
    .await;
    assert_eq!(s, 403, "{b}");

    // The lease runs out (no polls): the attempt is lost, the task fails (no retries), and
    // the old attempt's late result is refused.
    api.wait_run(&mine, 30, "the silent agent's task to fail", |r| {
        r["status"] == "FAILED"
    })
    .await;
    let (s, b) = post(
        "/api/v1/agent/result",
        Some(&session),
        json!({"task_id": my_task, "attempt": 1, "result": {"outcome": "completed", "output": {}}}),
    )
    .await;
    assert_eq!(s, 409, "{b}");
    assert!(
        b["detail"].as_str().unwrap().contains("no longer current"),
        "{b}"
    );
    assert_eq!(task(&api.run(&mine).await, "t")["status"], "FAILED");
}

#[tokio::test]
async fn postgres_and_pgbench_actions_measure_a_real_server_and_leave_nothing_behind() {
    let data = tempfile::tempdir().unwrap();
    let (server, api) = server(data.path()).await;
    let token = api
        .enrollment("db machine", json!({"role": "db"}), None)
        .await;
    let work = open_dir();
    let _agent = AgentProcess::start(&server.base, &token, "db-1", work.path(), &[]);
    let port = ratchet_test_support::free_port();
    let host = "127.0.0.23";
    let needs_db = json!({"role": {"value": "db"}});
    let version = ratchet_test_support::pg_major_version();
    let run_id = api
        .start(json!({
            "name": "pgbench-smoke", "version": "1",
            "tasks": [
                {"name": "start", "action": "postgres.start", "desired_labels": needs_db,
                 "with": {"name": "bench", "version": version, "listen_address": host, "port": port,
                          "password": "bench-password-0123456789",
                          "settings": {"shared_buffers": "64MB", "synchronous_commit": "off"}}},
                {"name": "load", "action": "pgbench.run", "parents": ["start"], "desired_labels": needs_db,
                 "with": {"host": host, "port": port, "scale": 1, "clients": 2, "threads": 1, "duration_s": 3,
                          "password": "bench-password-0123456789"}},
                {"name": "stop", "action": "postgres.stop", "parents": ["load"], "desired_labels": needs_db,
                 "with": {"name": "bench"}},
            ]
        }))
        .await;
    let run = api
        .wait_run(&run_id, 120, "the benchmark run to end", |r| {
            r["status"] != "RUNNING" && r["status"] != "QUEUED"
        })
        .await;
    assert_eq!(run["status"], "COMPLETED", "{run:#}");
    let start = &task(&run, "start")["output"];
    assert!(
        start["server_version"]
            .as_str()
            .unwrap()
            .starts_with(&version.to_string()),
        "{start}"
    );
    assert_eq!(start["host"], host);
    let load = &task(&run, "load")["output"];
    assert!(load["tps"].as_f64().unwrap() > 0.0, "{load:#}");
    assert!(load["transactions"].as_u64().unwrap() > 0, "{load:#}");
    let l = &load["latency_ms"];
    let p = |k: &str| l[k].as_f64().unwrap();
    assert!(
        p("p50") > 0.0
            && p("p50") <= p("p90")
            && p("p90") <= p("p95")
            && p("p95") <= p("p99")
            && p("p99") <= p("max"),
        "{l}"
    );
    assert!(
        !load["series"].as_array().unwrap().is_empty(),
        "no per-second series: {load:#}"
    );
    let (_, progress) = api.get(&format!("/api/v1/runs/{run_id}/progress")).await;
    assert!(
        progress["points"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["values"]["tps"].as_f64().unwrap_or(0.0) > 0.0),
        "{progress}"
    );
    let stop = &task(&run, "stop")["output"];
    assert_eq!(stop["was_running"], true, "{stop}");
    // No server left, no data dir left.
    let data_dir = start["data_dir"].as_str().unwrap();
    assert!(!Path::new(data_dir).exists(), "{data_dir} is still there");
    assert!(
        std::net::TcpStream::connect((host, port)).is_err(),
        "something still listens on {host}:{port}"
    );
}

#[tokio::test]
async fn an_agent_stopping_gracefully_kills_its_processes_and_hands_its_task_back() {
    let data = tempfile::tempdir().unwrap();
    let (server, api) = server(data.path()).await;
    let token = api.enrollment("pool", json!({"zone": "g"}), None).await;
    let (dir, scratch) = (open_dir(), open_dir());
    let mut agent = AgentProcess::start(&server.base, &token, "leaving", dir.path(), &[]);
    let pid_file = scratch.path().join("pid");
    let command = format!("echo $$ > {}; sleep 300", pid_file.display());
    let run_id = api.start(json!({"name": "handback", "version": "1", "tasks": [shell_task("long", "g", &command, json!({}))]})).await;
    let pgid = wait_pid(&pid_file).await;

    nix::sys::signal::kill(
        Pid::from_raw(agent.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = agent.child.wait().unwrap();
    assert!(
        status.success(),
        "the agent exits cleanly on SIGTERM: {status}"
    );
    wait_group_gone(pgid, "after the agent stopped").await;
    let run = api.run(&run_id).await;
    let long = task(&run, "long");
    assert_eq!(
        (
            long["status"].as_str(),
            long["attempt"].as_i64(),
            long["retry_count"].as_i64()
        ),
        (Some("QUEUED"), Some(2), Some(0)),
        "{run:#}"
    );
    let (_, agents) = api.get("/api/v1/agents").await;
    assert_eq!(agents[0]["status"], "STOPPED", "{agents:#}");
}

#[tokio::test]
async fn a_server_restart_loses_no_result_and_no_log_line() {
    let data = tempfile::tempdir().unwrap();
    let port = ratchet_test_support::free_port();
    let env = [("RATCHET_AGENT_LEASE", LEASE)];
    let server = Server::start_at(data.path(), port, &env).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let token = api.enrollment("pool", json!({"zone": "r"}), None).await;
    let (dir, scratch) = (open_dir(), open_dir());
    let _agent = AgentProcess::start(&server.base, &token, "steadfast", dir.path(), &[]);
    let pid_file = scratch.path().join("pid");
    // Prints while the server is away, and ends while it is away.
    let command = format!(
        "echo $$ > {}; for i in $(seq 1 40); do echo tick-$i; sleep 0.1; done",
        pid_file.display()
    );
    let run_id = api.start(json!({"name": "restart", "version": "1", "tasks": [shell_task("ticker", "r", &command, json!({}))]})).await;
    wait_pid(&pid_file).await;
    assert!(server.terminate().success());
    tokio::time::sleep(Duration::from_secs(6)).await; // longer than the lease
    let _server = Server::start_at(data.path(), port, &env).await;
    let run = api
        .wait_run(&run_id, 60, "the run to complete after the restart", |r| {
            r["status"] == "COMPLETED"
        })
        .await;
    assert_eq!(
        task(&run, "ticker")["attempt"],
        1,
        "the attempt survived the restart: {run:#}"
    );
    let ticker = task(&run, "ticker")["id"].as_str().unwrap().to_string();
    let (_, page) = api
        .get(&format!("/api/v1/runs/{run_id}/logs?task={ticker}"))
        .await;
    let lines: Vec<&str> = page["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (1..=40).map(|i| format!("tick-{i}")).collect();
    assert_eq!(lines, expected);
}

#[tokio::test]
async fn an_agent_whose_server_is_gone_for_good_gives_up() {
    let dir = open_dir();
    let nowhere = format!("http://127.0.0.1:{}", ratchet_test_support::free_port());
    let mut agent = AgentProcess::start(
        &nowhere,
        "rat_enr_whatever",
        "orphan",
        dir.path(),
        &[("RATCHET_AGENT_GIVE_UP_AFTER", "1s")],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = agent.child.try_wait().unwrap() {
            assert!(!status.success(), "giving up is a failure: {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the agent kept trying past its give-up time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
