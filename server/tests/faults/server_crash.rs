//! The server SIGKILLed at a seeded moment of a suite, restarted on the same data.

use std::time::{Duration, Instant};

use crate::common::{ADMIN_TOKEN, Api, Server, assert_nothing_left_within, ended, open_dir, submit};
use crate::{SHORT_SUITE, assert_completed_once, suite_runs};
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
    let (status, suite) = submit(&api, SHORT_SUITE).await;
    assert_eq!(status, 201, "{suite}");
    let id = suite["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    tokio::time::sleep(at).await;
    let (_, before) = api.get(&format!("/api/v1/suites/{id}")).await;
    drop(server); // SIGKILL
    eprintln!("seed {seed}: killed {at:?} in, at {}", describe(&before));
    let _server = Server::start_at(data.path(), port, &env).await;
    let suite = crate::common::wait_suite(&api, &id, 300, "the suite to end after the restart", ended).await;
    for test in suite["tests"].as_array().unwrap() {
        assert_eq!(
            test["status"], "COMPLETED",
            "seed {seed} (killed {at:?} in, at {}): a restart is not a failure: {test:#}",
            describe(&before)
        );
    }
    assert_eq!(suite["status"], "COMPLETED", "seed {seed}: {suite:#}");
    for run in suite_runs(&suite) {
        assert_completed_once(&api, &run).await;
    }
    assert_nothing_left_within(&api, data.path(), 30).await;
    eprintln!("seed {seed}: suite ended {:?} after submission", started.elapsed());
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
