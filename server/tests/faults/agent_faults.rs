//! An agent frozen, cut off or killed: its late report is refused, its attempt is retried
//! or failed per its retries, and a suite's machines are destroyed all the same.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

use crate::common::{
    ADMIN_TOKEN, AgentProcess, Api, Server, assert_nothing_left_within, ended, open_dir,
    processes_in, task, wait_suite,
};
use crate::proxy::Proxy;
use crate::{assert_completed_once, short_suite, submit_until_loading, suite_runs};

const LEASE: &str = "4s";

/// A shell task on an agent labelled `zone: f`, `retries` retries, that writes its attempt
/// start to `marks` and then prints 20 lines over 4 s.
fn ticking_workflow(name: &str, marks: &std::path::Path, retries: u32) -> Value {
    json!({
        "name": name, "version": "1",
        "tasks": [{
            "name": "tick", "action": "shell", "retries": retries,
            "desired_labels": {"zone": {"value": "f"}},
            "with": {"command": format!("echo started >> {}; for i in $(seq 1 20); do echo tick-$i; sleep 0.2; done", marks.display())},
        }]
    })
}

async fn wait_marks(marks: &std::path::Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(marks).map_or(0, |s| s.lines().count()) < n {
        assert!(Instant::now() < deadline, "attempt {n} never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kinds(events: &Value, task_name: &str) -> Vec<(i64, String)> {
    events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["task_name"] == task_name)
        .map(|e| {
            (
                e["attempt"].as_i64().unwrap_or(0),
                e["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_agent_frozen_past_its_lease_is_refused_its_late_report_and_the_task_is_retried() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[("RATCHET_AGENT_LEASE", LEASE)]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let token = api.enrollment("pool", json!({"zone": "f"}), None).await;
    let (dir, scratch) = (open_dir(), open_dir());
    let agent = AgentProcess::start(&server.base, &token, "frozen", dir.path(), &[]);
    let marks = scratch.path().join("marks");
    let run_id = api.start(ticking_workflow("frozen", &marks, 1)).await;
    wait_marks(&marks, 1).await;
    let pid = Pid::from_raw(agent.child.id() as i32);
    kill(pid, Signal::SIGSTOP).unwrap();
    // Three leases: the server declares the agent lost and queues attempt 2.
    tokio::time::sleep(Duration::from_secs(12)).await;
    kill(pid, Signal::SIGCONT).unwrap();
    let run = api
        .wait_run(&run_id, 60, "the run to end", |r| {
            r["status"] != "RUNNING" && r["status"] != "QUEUED"
        })
        .await;
    assert_eq!(run["status"], "COMPLETED", "{run:#}");
    let tick = task(&run, "tick");
    assert_eq!(
        tick["attempt"], 2,
        "attempt 1 was lost, attempt 2 completed: {run:#}"
    );
    let (_, events) = api.get(&format!("/api/v1/runs/{run_id}/events")).await;
    let tick_events = kinds(&events, "tick");
    assert!(
        tick_events.contains(&(2, "REASSIGNED".into())),
        "attempt 1 was declared lost: {tick_events:?}"
    );
    // The frozen attempt's report came late and changed nothing: one completion, attempt 2's.
    let completions: Vec<_> = tick_events
        .iter()
        .filter(|(_, k)| k == "COMPLETED")
        .collect();
    assert_eq!(
        completions,
        [&(2, "COMPLETED".to_string())],
        "{tick_events:?}"
    );
    assert_completed_once(&api, &run_id).await;
}

/// A cut shorter than the lease goes unnoticed: the attempt completes and every log line
/// arrives once, in order. A cut longer than the lease loses the attempt: it is retried
/// once the agent is back, and completes exactly once.
#[tokio::test]
async fn a_connection_cut_shorter_than_the_lease_is_unnoticed_and_a_longer_one_retries_the_task() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[("RATCHET_AGENT_LEASE", LEASE)]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let proxy = Proxy::start(server.base.trim_start_matches("http://").to_string()).await;
    let token = api.enrollment("pool", json!({"zone": "f"}), None).await;
    let (dir, scratch) = (open_dir(), open_dir());
    let _agent = AgentProcess::start(&proxy.url, &token, "cut-off", dir.path(), &[]);

    let short = scratch.path().join("short");
    let run_id = api.start(ticking_workflow("short-cut", &short, 1)).await;
    wait_marks(&short, 1).await;
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    proxy.restore();
    let run = api
        .wait_run(&run_id, 60, "the run to complete", |r| {
            r["status"] == "COMPLETED"
        })
        .await;
    let tick = task(&run, "tick");
    assert_eq!(tick["attempt"], 1, "a short cut is not a failure: {run:#}");
    let expected: Vec<String> = (1..=20).map(|i| format!("tick-{i}")).collect();
    assert_eq!(
        api.log_lines(&run_id, Some(tick["id"].as_str().unwrap()))
            .await,
        expected
    );

    let long = scratch.path().join("long");
    let run_id = api.start(ticking_workflow("long-cut", &long, 1)).await;
    wait_marks(&long, 1).await;
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(12)).await;
    proxy.restore();
    let run = api
        .wait_run(&run_id, 90, "the run to end", |r| {
            r["status"] != "RUNNING" && r["status"] != "QUEUED"
        })
        .await;
    assert_eq!(run["status"], "COMPLETED", "{run:#}");
    assert_eq!(task(&run, "tick")["attempt"], 2, "{run:#}");
    assert_completed_once(&api, &run_id).await;
}

/// The agent of one of a suite's machines, by role (`db` or `loader`), once it runs.
async fn agent_of(data: &std::path::Path, role: &str) -> Pid {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(p) = processes_in(data).into_iter().find(|p| {
            p.cmdline.contains("ratchet-agent")
                && p.environ.lines().any(|l| {
                    l.starts_with("RATCHET_AGENT_NAME=") && l.contains(&format!("-{role}-"))
                })
        }) {
            return Pid::from_raw(p.pid as i32);
        }
        assert!(Instant::now() < deadline, "no {role} agent is running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One test, a 6 s load; `fault` is done to it once the load runs.
async fn suite_with_fault(
    fault: impl AsyncFnOnce(&std::path::Path),
) -> (Api, Value, Server, tempfile::TempDir) {
    let data = open_dir();
    let server = Server::start(data.path(), &[("RATCHET_AGENT_LEASE", LEASE)]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let id = submit_until_loading(&api, &short_suite(1, "6s")).await;
    tokio::time::sleep(Duration::from_secs(2)).await; // pgbench runs now
    fault(data.path()).await;
    let suite = wait_suite(&api, &id, 180, "the suite to end", ended).await;
    for run in suite_runs(&suite) {
        assert_completed_once(&api, &run).await;
    }
    assert_nothing_left_within(&api, data.path(), 30).await;
    (api, suite, server, data)
}

#[tokio::test]
async fn a_suite_whose_load_agent_is_killed_mid_load_fails_with_the_reason_and_leaves_nothing() {
    let (_, suite, _server, _data) = suite_with_fault(async |data| {
        let pid = agent_of(data, "loader").await;
        kill(pid, Signal::SIGKILL).unwrap(); // its pgbench lives on in its process group
    })
    .await;
    let test = &suite["tests"][0];
    assert_eq!(test["status"], "FAILED", "{suite:#}");
    let error = test["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("lost") && error.contains("run-stroppy-test"),
        "the reason, with the step: {error}"
    );
}

#[tokio::test]
async fn a_suite_whose_database_agent_freezes_past_its_lease_still_completes_and_leaves_nothing() {
    let (_, suite, _server, _data) = suite_with_fault(async |data| {
        let pid = agent_of(data, "db").await;
        kill(pid, Signal::SIGSTOP).unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        kill(pid, Signal::SIGCONT).unwrap();
    })
    .await;
    // It ran nothing while frozen (PostgreSQL was started by then): once back it registers
    // again and collects its machine's samples.
    assert_eq!(suite["tests"][0]["status"], "COMPLETED", "{suite:#}");
}
