//! Database topologies on the local target, with real processes: a primary with streaming
//! replicas made by `pg_basebackup` (asynchronous and synchronous), PgBouncer in front, and
//! a read-only load spread over the replicas by HAProxy, a Patroni cluster over etcd losing
//! its leader mid-load, and a server crashed and started again mid-load.
//! Each server is a machine of the test's own (its agent, its address); afterwards nothing
//! of them is left — no process, no listening port, no directory, no lease.

mod common;

use common::{ADMIN_TOKEN, Api, Server, assert_nothing_left, ended, open_dir, submit, wait_suite};
use serde_json::Value;

/// The machine's own PostgreSQL (Debian's 15): its `pg_basebackup` makes the standbys.
const REPLICAS: &str = "\
name: replicas
target: local
order: sequential
defaults:
  database:
    version: 15
    topology: {replicas: 2}
  workload: {driver: pgbench, duration: 4s, clients: 4, threads: 2, scale: 1}
tests:
  - name: async
  - name: sync
    database: {topology: {synchronous: true}}
";

const POOLED: &str = "\
name: pooled
target: local
defaults:
  database:
    version: 15
    pooler: {kind: pgbouncer, pool_mode: transaction, pool_size: 2}
  workload: {driver: pgbench, duration: 3s, clients: 8, threads: 2, scale: 1}
tests:
  - name: through-pgbouncer
";

const READS_ON_REPLICAS: &str = "\
name: reads
target: local
defaults:
  database:
    version: 15
    topology: {replicas: 2}
  workload: {driver: pgbench, duration: 3s, clients: 4, threads: 2, scale: 1, builtin: select-only, connect_to: replicas}
tests:
  - name: reads-on-replicas
";

/// The commits each server other than the primary made in the measured window (its own
/// statistics, sampled every second).
fn commits_by_server(result: &Value) -> Vec<(String, f64)> {
    result["servers"]
        .as_object()
        .map(|servers| {
            servers
                .iter()
                .map(|(name, points)| {
                    let commits = points
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p["commits_ps"].as_f64().unwrap())
                        .sum::<f64>();
                    (name.clone(), commits)
                })
                .collect()
        })
        .unwrap_or_default()
}

const PATRONI: &str = "\
name: failover
target: local
defaults:
  database:
    version: 15
    topology: {kind: patroni, replicas: 2}
  workload:
    driver: pgbench
    duration: 25s
    clients: 4
    threads: 2
    scale: 1
    faults: [{at: 3s, kill: primary}]
tests:
  - name: leader-killed
";

const RESTART: &str = "\
name: restart
target: local
defaults:
  database: {version: 15}
  workload:
    driver: pgbench
    duration: 8s
    clients: 2
    scale: 1
    faults: [{at: 2s, restart: primary}]
tests:
  - name: crashed-and-back
";

async fn run_suite(yaml: &str) -> (Server, Api, tempfile::TempDir, Value) {
    let data = open_dir();
    let server = Server::start(data.path(), &[]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let (status, suite) = submit(&api, yaml).await;
    assert_eq!(status, 201, "{suite}");
    let id = suite["id"].as_str().unwrap().to_string();
    let suite = wait_suite(&api, &id, 300, "the suite to end", ended).await;
    for t in suite["tests"].as_array().unwrap() {
        assert_eq!(t["status"], "COMPLETED", "{t:#}");
    }
    (server, api, data, suite)
}

fn test<'a>(suite: &'a Value, name: &str) -> &'a Value {
    suite["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no test {name} in {suite:#}"))
}

/// Addresses with a listening TCP socket (IPv4), from /proc/net/tcp.
fn listening() -> Vec<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, state) = (fields.get(1)?, fields.get(3)?);
            if *state != "0A" {
                return None;
            }
            let (ip, port) = local.split_once(':')?;
            let ip = u32::from_str_radix(ip, 16).ok()?.to_le_bytes();
            let port = u16::from_str_radix(port, 16).ok()?;
            Some(format!("{}.{}.{}.{}:{port}", ip[0], ip[1], ip[2], ip[3]))
        })
        .collect()
}

/// What the test's nodes listened on (from its topology view), none of it listening now.
fn assert_ports_closed(test: &Value) {
    let open = listening();
    for node in test["nodes"].as_array().unwrap() {
        let at = node["endpoint"].as_str().unwrap_or_default();
        assert!(
            at.is_empty() || !open.iter().any(|l| l == at),
            "{} still listens on {at}",
            node["role"]
        );
    }
}

#[tokio::test]
async fn a_synchronous_primary_with_two_replicas_shows_their_lag_and_pays_for_it() {
    let (_server, api, data, suite) = run_suite(REPLICAS).await;
    let lag_of = |name: &str| -> Vec<(String, String, f64)> {
        test(&suite, name)["result"]["database"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["replicas"].as_array().cloned().unwrap_or_default())
            .map(|r| {
                (
                    r["name"].as_str().unwrap().to_string(),
                    r["sync_state"].as_str().unwrap().to_string(),
                    r["lag_bytes"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    for name in ["async", "sync"] {
        let lag = lag_of(name);
        // Both standbys sampled every second of the load.
        for standby in ["replica_1", "replica_2"] {
            let points = lag.iter().filter(|(n, _, _)| n == standby).count();
            assert!(
                points >= 2,
                "{name}: {standby} sampled {points} times: {lag:?}"
            );
        }
        let nodes = test(&suite, name)["nodes"].as_array().unwrap().clone();
        let roles: Vec<&str> = nodes.iter().map(|n| n["role"].as_str().unwrap()).collect();
        assert_eq!(
            roles,
            ["db", "replica-1", "replica-2", "loader"],
            "{nodes:#?}"
        );
        for node in &nodes[..3] {
            assert!(
                node["version"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("15."),
                "{node:#}"
            );
        }
        assert_eq!(nodes[1]["serves"], "standby");
        // Each standby's own statistics were sampled too.
        let servers = commits_by_server(&test(&suite, name)["result"]);
        let names: Vec<&str> = servers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["replica-1", "replica-2"], "{name}");
    }
    // The primary says how it waits for them: ANY 1 of two makes both "quorum".
    assert!(lag_of("async").iter().all(|(_, s, _)| s == "async"));
    assert!(lag_of("sync").iter().all(|(_, s, _)| s == "quorum"));
    // Every synchronous commit waits for a standby's flush too: it costs throughput.
    let tps = |name: &str| test(&suite, name)["result"]["tps"].as_f64().unwrap();
    assert!(
        tps("sync") < tps("async"),
        "sync {} tps, async {} tps",
        tps("sync"),
        tps("async")
    );
    assert_ports_closed(test(&suite, "sync"));
    assert_nothing_left(&api, data.path()).await;
}

#[tokio::test]
async fn a_load_through_pgbouncer_is_counted_by_the_pooler() {
    let (_server, api, data, suite) = run_suite(POOLED).await;
    let t = test(&suite, "through-pgbouncer");
    let result = &t["result"];
    let pooler = &result["pooler"];
    let transactions = pooler["transactions"].as_f64().unwrap_or(0.0);
    // Every transaction of the measured window went through the pooler (pgbench's own
    // count is the window's; the pooler's also has the statistics reads' none: they go
    // to the primary directly).
    let measured = result["transactions"].as_f64().unwrap();
    assert!(measured > 0.0, "{result:#}");
    assert!(
        transactions >= measured,
        "the pooler counted {transactions} transactions, pgbench {measured}: {pooler:#}"
    );
    // Eight clients through two server connections: the clients waited their turn.
    assert!(pooler["wait_ms"].as_f64().unwrap() > 0.0, "{pooler:#}");
    // The load's command line names the pooler; the statistics came from the primary.
    let nodes = t["nodes"].as_array().unwrap();
    let pooler_node = nodes.iter().find(|n| n["role"] == "pooler").unwrap();
    assert_eq!(pooler_node["serves"], "pgbouncer");
    let endpoint = pooler_node["endpoint"].as_str().unwrap();
    let (host, port) = endpoint.split_once(':').unwrap();
    let command = result["command"].as_str().unwrap();
    assert!(
        command.contains(&format!("-h {host} -p {port}")),
        "{command}"
    );
    assert!(
        !result["database"].as_array().unwrap().is_empty(),
        "{result:#}"
    );
    assert_ports_closed(t);
    assert_nothing_left(&api, data.path()).await;
}

#[tokio::test]
async fn a_read_only_load_on_the_replicas_is_spread_over_both() {
    let (_server, api, data, suite) = run_suite(READS_ON_REPLICAS).await;
    let t = test(&suite, "reads-on-replicas");
    let result = &t["result"];
    assert!(result["tps"].as_f64().unwrap() > 0.0, "{result:#}");
    assert_eq!(result["errors"], 0, "{result:#}");
    // The load went to the router, which handed its connections to both standbys: each
    // committed the reads of its share of the clients.
    let nodes = t["nodes"].as_array().unwrap();
    let router = nodes.iter().find(|n| n["role"] == "router").unwrap();
    assert_eq!(router["serves"], "haproxy");
    let (host, port) = router["endpoint"]
        .as_str()
        .unwrap()
        .split_once(':')
        .unwrap();
    let command = result["command"].as_str().unwrap();
    assert!(
        command.contains(&format!("-h {host} -p {port}")),
        "{command}"
    );
    assert!(command.contains("-b select-only"), "{command}");
    let commits = commits_by_server(result);
    assert_eq!(commits.len(), 2, "{commits:?}");
    for (server, n) in &commits {
        assert!(*n > 10.0, "{server} served {n} commits: {commits:?}");
    }
    assert_ports_closed(t);
    assert_nothing_left(&api, data.path()).await;
}

/// The seconds of the window the load completed transactions again after its outage.
fn tps_after_outage(result: &Value) -> Vec<f64> {
    let start = result["windows"][0]["start_ms"].as_i64().unwrap();
    let back = result["outage"]["first_after_ms"]
        .as_i64()
        .unwrap_or_else(|| panic!("the load never came back: {:#}", result["outage"]));
    result["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["t_s"].as_f64().unwrap() * 1000.0 > (back - start) as f64)
        .map(|p| p["tps"].as_f64().unwrap())
        .filter(|tps| *tps > 0.0)
        .collect()
}

#[tokio::test]
async fn a_patroni_cluster_that_loses_its_leader_mid_load_fails_over_and_says_how_long_it_took() {
    let (_server, api, data, suite) = run_suite(PATRONI).await;
    let t = test(&suite, "leader-killed");
    let fault = &t["fault"];
    assert_eq!(fault["kind"], "kill", "{t:#}");
    let leader = fault["new_leader"].as_str().unwrap_or_default();
    assert!(
        ["replica-1", "replica-2"].contains(&leader),
        "a replica leads after the kill: {fault:#}"
    );
    let result = &t["result"];
    let outage = &result["outage"];
    let seconds = outage["seconds"].as_f64().unwrap();
    // The leader lock outlives its holder by Patroni's ttl (10 s) at most, then HAProxy
    // notices the new leader within its checks.
    assert!(seconds > 1.0 && seconds < 60.0, "{outage:#}");
    assert!(outage["load_restarts"].as_u64().unwrap() >= 1, "{outage:#}");
    let failover_ms =
        fault["new_leader_at_ms"].as_i64().unwrap() - fault["at_ms"].as_i64().unwrap();
    assert!(failover_ms > 0, "{fault:#}");
    // The load went on with the new leader, through the router.
    assert!(
        !tps_after_outage(result).is_empty(),
        "{:#}",
        result["series"]
    );
    let nodes = t["nodes"].as_array().unwrap();
    let serves: Vec<&str> = nodes
        .iter()
        .map(|n| n["serves"].as_str().unwrap())
        .collect();
    assert_eq!(
        serves,
        ["patroni", "patroni", "patroni", "haproxy+etcd", "load"],
        "{nodes:#?}"
    );
    assert_ports_closed(t);
    assert_nothing_left(&api, data.path()).await;
}

#[tokio::test]
async fn a_server_crashed_mid_load_is_started_again_and_the_load_goes_on() {
    let (_server, api, data, suite) = run_suite(RESTART).await;
    let t = test(&suite, "crashed-and-back");
    let fault = &t["fault"];
    assert_eq!(fault["kind"], "restart", "{t:#}");
    let back_ms = fault["recovered_at_ms"].as_i64().unwrap() - fault["at_ms"].as_i64().unwrap();
    assert!(back_ms > 0, "{fault:#}");
    let result = &t["result"];
    assert!(
        result["outage"]["seconds"].as_f64().unwrap() > 0.0,
        "{result:#}"
    );
    assert!(
        !tps_after_outage(result).is_empty(),
        "{:#}",
        result["series"]
    );
    assert_nothing_left(&api, data.path()).await;
}
