//! The server SIGKILLed at a seeded moment of a suite, restarted on the same data.

use std::time::{Duration, Instant};

use crate::common::{
    ADMIN_TOKEN, Api, Server, assert_nothing_left_within, ended, open_dir, submit,
};
use crate::{assert_completed_once, short_suite, suite_runs};
use rand::{Rng, SeedableRng};

/// How many seeds each store gets: 5 in CI (10 in all), more with `RATCHET_FAULT_SEEDS`.
fn seeds() -> u64 {
    std::env::var("RATCHET_FAULT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
}

/// The server dies `at` into the suite and comes back at once on the same data and port;
/// the suite then completes — a restart is not a failure — with every task completed
/// once and nothing left behind.
async fn crash_once(seed: u64, database_url: Option<&str>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    // The suite takes about 12 s here; the kill lands anywhere in it.
    let at = Duration::from_millis(rng.random_range(300..12_000));
    let data = open_dir();
    let port = ratchet_test_support::free_port();
    let mut env = vec![("RATCHET_AGENT_LEASE", "10s")];
    if let Some(url) = database_url {
        env.push(("DATABASE_URL", url));
    }
    let server = Server::start_at(data.path(), port, &env).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let (status, suite) = submit(&api, &short_suite(2, "2s")).await;
    assert_eq!(status, 201, "{suite}");
    let id = suite["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    tokio::time::sleep(at).await;
    let (_, before) = api.get(&format!("/api/v1/suites/{id}")).await;
    drop(server); // SIGKILL
    eprintln!("seed {seed}: killed {at:?} in, at {}", describe(&before));
    let _server = Server::start_at(data.path(), port, &env).await;
    let suite =
        crate::common::wait_suite(&api, &id, 300, "the suite to end after the restart", ended)
            .await;
    for test in suite["tests"].as_array().unwrap() {
        assert_eq!(
            test["status"],
            "COMPLETED",
            "seed {seed} (killed {at:?} in, at {}): a restart is not a failure: {test:#}",
            describe(&before)
        );
    }
    assert_eq!(suite["status"], "COMPLETED", "seed {seed}: {suite:#}");
    for run in suite_runs(&suite) {
        assert_completed_once(&api, &run).await;
    }
    assert_nothing_left_within(&api, data.path(), 30).await;
    eprintln!(
        "seed {seed}: suite ended {:?} after submission",
        started.elapsed()
    );
}

/// Where the suite was: each test's status and last step.
fn describe(suite: &serde_json::Value) -> String {
    suite["tests"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let last = t["steps"].as_array().and_then(|s| s.last()).cloned();
            format!("{} {} {}", t["name"], t["status"], last.unwrap_or_default())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test]
async fn sqlite_server_killed_at_seeded_moments_of_a_suite_loses_nothing_and_leaks_nothing() {
    for seed in 0..seeds() {
        crash_once(seed, None).await;
    }
}

#[tokio::test]
async fn postgres_server_killed_at_seeded_moments_of_a_suite_loses_nothing_and_leaks_nothing() {
    let db = ratchet_test_support::test_database().await;
    for seed in 100..100 + seeds() {
        crash_once(seed, Some(db.url())).await;
    }
}

/// A server away for five leases: its agent keeps running the task (a silent one: no log
/// line keeps the agent in touch meanwhile), comes back within a third of a lease of the
/// restart (its retries never wait longer), and delivers; the attempt is not declared lost.
#[tokio::test]
async fn a_server_away_for_five_leases_is_no_failure_for_the_task_its_agent_runs() {
    use crate::common::{AgentProcess, task};
    let data = tempfile::tempdir().unwrap();
    let port = ratchet_test_support::free_port();
    let env = [("RATCHET_AGENT_LEASE", "4s")];
    let server = Server::start_at(data.path(), port, &env).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let token = api
        .enrollment("pool", serde_json::json!({"zone": "r"}), None)
        .await;
    let dir = open_dir();
    let _agent = AgentProcess::start(&server.base, &token, "patient", dir.path(), &[]);
    let run_id = api
        .start(
            serde_json::json!({"name": "away", "version": "1", "tasks": [{
                "name": "tick", "action": "shell", "desired_labels": {"zone": {"value": "r"}},
                "with": {"command": "echo begin; sleep 40; echo end"},
            }]}),
        )
        .await;
    api.wait_run(&run_id, 30, "the task to start", |r| {
        task(r, "tick")["status"] == "RUNNING"
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(server); // SIGKILL
    tokio::time::sleep(Duration::from_secs(20)).await;
    let _server = Server::start_at(data.path(), port, &env).await;
    let run = api
        .wait_run(&run_id, 60, "the run to end", |r| r["status"] != "RUNNING")
        .await;
    assert_eq!(run["status"], "COMPLETED", "{run:#}");
    let tick = task(&run, "tick");
    assert_eq!(
        tick["attempt"], 1,
        "the attempt survived the outage: {run:#}"
    );
    let lines = api
        .log_lines(&run_id, Some(tick["id"].as_str().unwrap()))
        .await;
    assert_eq!(lines, ["begin", "end"]);
}
