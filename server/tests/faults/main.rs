//! Fault injection (README, "Guarantees"): real `ratchet` and `ratchet-agent` processes,
//! real PostgreSQL and pgbench, and something killed at a moment chosen by a seed. After
//! each fault the suite ends by itself, nothing completed twice, and nothing is left on
//! the host: no process, no machine dir, no lease.
//!
//! - `server_crash`: the server SIGKILLed at a seeded moment of a suite and restarted on
//!   the same data, on SQLite and on PostgreSQL (`RATCHET_FAULT_SEEDS=N` runs N seeds).
//! - `agent_faults`: an agent frozen past its lease, cut off shorter and longer than the
//!   lease (through `proxy`), killed mid-load.
//! - `store_faults`: the store's PostgreSQL restarted mid-suite.
//! - `destroy_faults`: a destroy that fails, kept, shown and retried until it works.
//! - `orphans`: an agent spawned but never recorded, and a recorded PID reused.
//! - `host_faults`: a data dir PostgreSQL's user cannot reach.
//! - `replicas`: two servers on one PostgreSQL and Valkey: logs across replicas, a replica
//!   SIGKILLed mid-suite, Valkey restarted mid-run, leader-only loops.

#[path = "../common/mod.rs"]
mod common;

mod agent_faults;
mod destroy_faults;
mod host_faults;
mod orphans;
mod proxy;
mod replicas;
mod server_crash;
mod store_faults;

use common::Api;
use serde_json::Value;
use std::collections::HashMap;

/// A short suite that touches every step: `tests` tests (1 or 2; two machines each),
/// loads of `duration`.
pub fn short_suite(tests: usize, duration: &str) -> String {
    let mut yaml = format!(
        "name: faults\ntarget: local\ndefaults:\n  database: {{version: 15}}\n  workload: {{driver: pgbench, duration: {duration}, clients: 2, scale: 1}}\ntests:\n  - name: one\n"
    );
    if tests > 1 {
        yaml.push_str("  - name: two\n    database:\n      settings: {shared_buffers: 64MB}\n");
    }
    yaml
}

/// Submit `yaml`, and wait until its first test's load runs; answers the suite's id.
pub async fn submit_until_loading(api: &Api, yaml: &str) -> String {
    let (status, suite) = common::submit(api, yaml).await;
    assert_eq!(status, 201, "{suite}");
    let id = suite["id"].as_str().unwrap().to_string();
    common::wait_step(api, &id, 0, "run-stroppy-test").await;
    id
}

/// Every run of a suite: its own and its tests' (child runs).
pub fn suite_runs(suite: &Value) -> Vec<String> {
    let mut runs = vec![suite["id"].as_str().unwrap().to_string()];
    for t in suite["tests"].as_array().into_iter().flatten() {
        if let Some(id) = t["run_id"].as_str() {
            runs.push(id.to_string());
        }
    }
    runs
}

/// No task of the run completed twice (its event timeline says each completion once).
pub async fn assert_completed_once(api: &Api, run_id: &str) {
    let (status, events) = api.get(&format!("/api/v1/runs/{run_id}/events")).await;
    assert_eq!(status, 200, "{events}");
    let mut completions: HashMap<String, usize> = HashMap::new();
    for e in events.as_array().unwrap() {
        if e["kind"] == "COMPLETED" {
            *completions
                .entry(e["task_id"].as_str().unwrap_or_default().to_string())
                .or_default() += 1;
        }
    }
    let twice: Vec<_> = completions.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "run {run_id}: tasks completed more than once: {twice:?}"
    );
}
