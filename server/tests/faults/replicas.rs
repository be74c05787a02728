//! Two `ratchet serve` replicas on one PostgreSQL and one Valkey (redis-server), as in
//! production: what an agent posts to one replica reaches an SSE client of the other; a
//! replica SIGKILLed mid-suite is taken over by the other; Valkey restarted mid-run loses
//! nothing; and the loops one replica leads (the leak guard, the sweep with its crons)
//! run once per tick, not once per replica.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::sse::open;
use crate::common::{
    ADMIN_TOKEN, AgentProcess, Api, Server, assert_nothing_left_within, ended, open_dir, submit,
    wait_suite,
};
use crate::{assert_completed_once, short_suite, suite_runs};
use ratchet_test_support::RedisServer;
use serde_json::json;

/// Two replicas on `database_url` and `valkey_url`, on one host and so with one data dir
/// (local machines live there, whichever replica made them); their agents are given both
/// replicas' URLs (the proxy-free set-up).
struct Pair {
    a: Server,
    b: Server,
    data: tempfile::TempDir,
}

async fn pair(database_url: &str, valkey_url: &str, extra: &[(&str, &str)]) -> Pair {
    let (port_a, port_b) = (
        ratchet_test_support::free_port(),
        ratchet_test_support::free_port(),
    );
    let urls = format!("http://127.0.0.1:{port_a},http://127.0.0.1:{port_b}");
    let mut env = vec![
        ("DATABASE_URL", database_url),
        ("VALKEY_URL", valkey_url),
        ("RATCHET_PUBLIC_URL", urls.as_str()),
        ("RATCHET_AGENT_LEASE", "4s"),
    ];
    env.extend_from_slice(extra);
    let data = open_dir();
    let a = Server::start_at(data.path(), port_a, &env).await;
    let b = Server::start_at(data.path(), port_b, &env).await;
    Pair { a, b, data }
}

/// The two replicas' APIs, and an agent labelled `zone=z` that knows replica A only
/// (every line it posts goes there).
async fn agent_on_a(pair: &Pair) -> (Api, Api, AgentProcess, tempfile::TempDir) {
    let (on_a, on_b) = (
        Api::new(&pair.a.base, ADMIN_TOKEN),
        Api::new(&pair.b.base, ADMIN_TOKEN),
    );
    let token = on_a
        .enrollment("replicas", json!({"zone": "z"}), None)
        .await;
    let work = open_dir();
    let agent = AgentProcess::start(&pair.a.base, &token, "on-a", work.path(), &[]);
    (on_a, on_b, agent, work)
}

/// A run whose one task, on the agent labelled `zone=z`, prints `n` numbered lines, one
/// every `pause` seconds.
async fn talking_run(api: &Api, name: &str, n: u32, pause: &str) -> String {
    api.start(json!({"name": name, "version": "1", "tasks": [{
        "name": "talk", "action": "shell", "desired_labels": {"zone": {"value": "z"}},
        "with": {"command": format!("for i in $(seq 1 {n}); do echo line-$i; sleep {pause}; done")}}]}))
        .await
}

/// Everything a log stream sends until its `end` event.
async fn follow_to_the_end(url: &str) -> Vec<String> {
    open(url, None).await.log_lines_until_end(120).await
}

fn numbered(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.starts_with("line-"))
        .cloned()
        .collect()
}

#[tokio::test]
async fn an_sse_client_of_one_replica_gets_in_order_every_line_an_agent_posted_to_the_other() {
    let db = ratchet_test_support::test_database().await;
    let valkey = RedisServer::start();
    let pair = pair(db.url(), &valkey.url(), &[]).await;
    let (on_a, on_b, _agent, _work) = agent_on_a(&pair).await;
    let run = talking_run(&on_a, "talker", 400, "0.005").await;
    let streamed =
        follow_to_the_end(&format!("{}/api/v1/runs/{run}/logs/stream", pair.b.base)).await;
    let expected: Vec<String> = (1..=400).map(|i| format!("line-{i}")).collect();
    assert_eq!(
        numbered(&streamed),
        expected,
        "in order, each once, complete"
    );
    assert_eq!(
        streamed,
        on_b.log_lines(&run, None).await,
        "what replica B streamed is the stored log"
    );
    let done = on_b.run(&run).await;
    assert_eq!(done["status"], "COMPLETED", "{done:#}");
}

#[tokio::test]
async fn valkey_restarted_mid_run_loses_no_line_and_the_run_completes() {
    let db = ratchet_test_support::test_database().await;
    let mut valkey = RedisServer::start();
    let pair = pair(db.url(), &valkey.url(), &[]).await;
    let (on_a, on_b, _agent, _work) = agent_on_a(&pair).await;
    let run = talking_run(&on_a, "through-an-outage", 300, "0.02").await;
    let url = format!("{}/api/v1/runs/{run}/logs/stream", pair.b.base);
    let follower = tokio::spawn(async move { follow_to_the_end(&url).await });

    on_a.wait_run(&run, 60, "the task to talk", |r| {
        r["tasks"][0]["status"] == "RUNNING"
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    valkey.stop();
    // Meanwhile the replicas serve, degraded: the store answers, the bus does not.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, ready) = on_b.get("/readyz").await;
        if ready["status"] == "degraded" {
            assert_eq!(status, 200, "{ready}");
            assert!(
                ready["bus_error"].as_str().is_some_and(|e| !e.is_empty()),
                "{ready}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz never said degraded: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    valkey.start_again();

    let streamed = follower.await.unwrap();

    let expected: Vec<String> = (1..=300).map(|i| format!("line-{i}")).collect();
    assert_eq!(numbered(&streamed), expected);
    assert_eq!(
        streamed,
        on_b.log_lines(&run, None).await,
        "the stream equals the stored log"
    );
    assert_eq!(on_b.run(&run).await["status"], "COMPLETED");
    // And the bus comes back by itself: once both replicas say so, a status change on A
    // reaches B's status stream again.
    for api in [&on_a, &on_b] {
        ready_again(api).await;
    }
    let mut statuses = open(&format!("{}/api/v1/stream", pair.b.base), None).await;
    let again = talking_run(&on_a, "after-the-outage", 1, "0").await;
    let seen = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(event) = statuses.next().await {
            if event.event == "status" && event.data.contains(&again) {
                return;
            }
        }
    });
    assert!(
        seen.await.is_ok(),
        "no status event of the new run on replica B"
    );
}

/// Wait until the replica's /readyz says `ready` (its bus reconnected).
async fn ready_again(api: &Api) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, ready) = api.get("/readyz").await;
        if ready["status"] == "ready" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the bus never came back: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_replica_killed_mid_suite_is_taken_over_and_the_suite_completes_once() {
    let db = ratchet_test_support::test_database().await;
    let valkey = RedisServer::start();
    let pair = pair(db.url(), &valkey.url(), &[]).await;
    let on_a = Api::new(&pair.a.base, ADMIN_TOKEN);
    let on_b = Api::new(&pair.b.base, ADMIN_TOKEN);
    let (status, suite) = submit(&on_a, &short_suite(1, "4s")).await;
    assert_eq!(status, 201, "{suite}");
    let id = suite["id"].as_str().unwrap().to_string();
    // Mid-suite: the load runs on machines replica A started, its in-process steps wait.
    crate::common::wait_step(&on_a, &id, 0, "run-stroppy-test").await;
    let Pair { a, b: _b, data } = pair;
    drop(a); // SIGKILL

    let suite = wait_suite(&on_b, &id, 300, "replica B to finish the suite", ended).await;
    assert_eq!(suite["status"], "COMPLETED", "{suite:#}");
    assert_eq!(suite["tests"][0]["status"], "COMPLETED", "{suite:#}");
    for run in suite_runs(&suite) {
        assert_completed_once(&on_b, &run).await;
    }
    // Replica B destroyed every machine, those replica A had started too.
    assert_nothing_left_within(&on_b, data.path(), 30).await;
}

#[tokio::test]
async fn the_leak_guard_and_the_crons_run_once_per_tick_with_two_replicas() {
    let db = ratchet_test_support::test_database().await;
    let valkey = RedisServer::start();
    let pair = pair(
        db.url(),
        &valkey.url(),
        &[("RATCHET_LEAK_GUARD_INTERVAL", "500ms")],
    )
    .await;
    let on_a = Api::new(&pair.a.base, ADMIN_TOKEN);
    let (status, body) = on_a
        .post(
            "/api/v1/workflows",
            &json!({"name": "ticker", "version": "1", "tasks": [{"name": "t", "action": "nobody-runs-this"}]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let started = Instant::now();
    let (status, body) = on_a
        .post(
            "/api/v1/crons",
            &json!({"name": "every-second", "workflow": "ticker", "version": "1", "expression": "* * * * * *"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (_, runs) = on_a.get("/api/v1/runs?workflow=ticker&limit=500").await;
    let elapsed = started.elapsed().as_secs();
    let fired = runs["runs"].as_array().unwrap().len() as u64;
    // One run per tick that came due: a slow machine may miss ticks (they are not caught
    // up), but two replicas never both fire one.
    assert!(fired >= 1, "the cron never fired: {runs}");
    assert!(
        fired <= elapsed + 1,
        "{fired} runs in {elapsed} s of a one-second cron: a tick fired twice"
    );

    // Both replicas are alive all along; only the leading one sweeps.
    let sweeps = |base: String| async move {
        let text = crate::common::metrics_text(&base).await;
        text.lines()
            .find_map(|l| l.strip_prefix("ratchet_leak_guard_sweeps_total "))
            .map_or(0, |v| v.trim().parse::<u64>().unwrap())
    };
    let (a, b) = (
        sweeps(pair.a.base.clone()).await,
        sweeps(pair.b.base.clone()).await,
    );
    assert!(a + b > 0, "the leak guard never swept");
    assert!(
        a == 0 || b == 0,
        "both replicas swept (a: {a}, b: {b}): the guard must run on one"
    );
}

#[tokio::test]
async fn the_dev_cluster_script_runs_a_suite_across_its_two_replicas_and_cleans_up() {
    use std::io::{BufRead, BufReader};
    let (port_a, port_b) = (
        ratchet_test_support::free_port(),
        ratchet_test_support::free_port(),
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/dev-cluster");
    let mut cluster = std::process::Command::new("bash")
        .arg(script)
        .env("RATCHET_BIN", env!("CARGO_BIN_EXE_ratchet"))
        .env("RATCHET_DEV_PORTS", format!("{port_a} {port_b}"))
        .env("RATCHET_AGENT_LEASE", "4s")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(cluster.stdout.take().unwrap());
    let (mut token, mut data) = (None, None);
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(t) = line.trim().strip_prefix("admin token ") {
            token = Some(t.trim().to_string());
        }
        if let Some(rest) = line.strip_prefix("dev-cluster ready (logs and data in ") {
            data = rest.split(',').next().map(str::to_string);
        }
        if line.starts_with("Ctrl-C") {
            break;
        }
    }
    let (token, data) = (token.expect("the admin token"), data.expect("the data dir"));
    let on_a = Api::new(&format!("http://127.0.0.1:{port_a}"), &token);
    let on_b = Api::new(&format!("http://127.0.0.1:{port_b}"), &token);
    for api in [&on_a, &on_b] {
        let (_, ready) = api.get("/readyz").await;
        assert_eq!(ready["store"], "postgres", "{ready}");
        assert_eq!(ready["bus"], "valkey", "{ready}");
    }
    let (status, suite) = submit(&on_a, &short_suite(1, "2s")).await;
    assert_eq!(status, 201, "{suite}");
    let id = suite["id"].as_str().unwrap();
    let suite = wait_suite(&on_b, id, 300, "the suite, seen from replica B", ended).await;
    assert_eq!(suite["status"], "COMPLETED", "{suite:#}");
    assert_nothing_left_within(&on_b, &Path::new(&data).join("data"), 30).await;

    // SIGTERM: the script stops what it started and removes its data.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(cluster.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(cluster.wait().unwrap().success());
    assert!(!Path::new(&data).exists(), "{data} is left behind");
    let left = crate::common::processes_in(Path::new(&data));
    assert!(left.is_empty(), "processes left: {left:?}");
}

#[tokio::test]
async fn replicas_started_together_on_a_fresh_database_both_come_up() {
    let db = ratchet_test_support::test_database().await;
    let valkey = RedisServer::start();
    let valkey_url = valkey.url();
    let env = [
        ("DATABASE_URL", db.url()),
        ("VALKEY_URL", valkey_url.as_str()),
    ];
    let (a_data, b_data) = (open_dir(), open_dir());
    // Both store the schema and RATCHET_ADMIN_TOKEN at once: one wins, neither fails.
    let (a, b) = tokio::join!(
        Server::start(a_data.path(), &env),
        Server::start(b_data.path(), &env)
    );
    for server in [&a, &b] {
        let (status, ready) = server.get_json("/readyz").await;
        assert_eq!(status, 200, "{ready}");
        let (status, _) = Api::new(&server.base, ADMIN_TOKEN).get("/api/v1/me").await;
        assert_eq!(status, 200, "the admin token works on {}", server.base);
    }
}
