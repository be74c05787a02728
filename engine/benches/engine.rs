//! Engine benchmark: Ratchet's half of `bench/run`, which runs the same shapes against the
//! Postgres job queues (bench/peers). One in-process worker (200 slots) with no-op handlers.
//!
//! - `batch`: N single-task runs created 1,000 per `run_workflows` call; from the first
//!   create to the last run's committed end, runs/s.
//! - `clients`: the same N created one at a time by 16 concurrent clients.
//! - `rate`: runs offered one at a time at R/s for S seconds; enqueue → handler started
//!   (the client's clock before the create, the handler's clock when it starts), p50/p95/p99.
//! - `dag`: runs of a 10-task diamond (1 → 8 → 1), created 100 per call; runs/s and the
//!   store's created → finished p50/p95.
//! - `runmany`: one task spawns N child runs and waits for them; children/s.
//! - `events`: an event pushed → the first task of the run it starts began, p50/p95/p99.
//! - `--hot-path N`: N single-task runs one after another and nothing else (no sweeps in
//!   between), for instruction counts under callgrind (bench/run); `--populate N`: N
//!   single-task runs stored and ended (the RSS measurement's database).
//!
//! 1,000 runs go through first, unmeasured (a warm-up, as the peers get). A run's end is
//! counted from the engine's committed changes (an observer), so measuring
//! adds no database reads.
//!
//! `cargo bench -p engine --bench engine -- [--store sqlite|postgres] [--database-url URL]
//!  [--only batch,clients,rate,dag,runmany,events] [--runs 10000] [--rates 200,1000]
//!  [--seconds 5] [--dag-runs 1000] [--children 10000] [--events 200] [--json]
//!  [--hot-path N] [--populate N]`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use engine::definition::{EventTrigger, TaskDef, WorkflowDef};
use engine::model::RunStatus;
use engine::observe::Observer;
use engine::store::{self, Change, DatabaseTarget};
use engine::{Child, Engine, EngineConfig, Worker};
use hdrhistogram::Histogram;
use serde_json::{Value, json};

struct Options {
    store: String,
    database_url: Option<String>,
    only: Vec<String>,
    runs: usize,
    rates: Vec<u32>,
    seconds: u64,
    dag_runs: usize,
    children: usize,
    events: usize,
    json: bool,
    hot_path: Option<usize>,
    populate: Option<usize>,
}

fn options() -> Options {
    let mut o = Options {
        store: "sqlite".into(),
        database_url: None,
        only: ["batch", "clients", "rate", "dag", "runmany", "events"]
            .map(String::from)
            .to_vec(),
        runs: 10_000,
        rates: vec![200, 1000],
        seconds: 5,
        dag_runs: 1000,
        children: 10_000,
        events: 200,
        json: false,
        hot_path: None,
        populate: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        let list = || value.split(',').map(str::to_string).collect::<Vec<_>>();
        match args[i].as_str() {
            "--store" => o.store = value,
            "--database-url" => o.database_url = Some(value),
            "--only" => o.only = list(),
            "--runs" => o.runs = value.parse().expect("--runs N"),
            "--rates" => {
                o.rates = list()
                    .iter()
                    .map(|r| r.parse().expect("--rates R,R"))
                    .collect()
            }
            "--seconds" => o.seconds = value.parse().expect("--seconds N"),
            "--dag-runs" => o.dag_runs = value.parse().expect("--dag-runs N"),
            "--children" => o.children = value.parse().expect("--children N"),
            "--events" => o.events = value.parse().expect("--events N"),
            "--hot-path" => o.hot_path = Some(value.parse().expect("--hot-path N")),
            "--populate" => o.populate = Some(value.parse().expect("--populate N")),
            "--json" => {
                o.json = true;
                i += 1;
                continue;
            }
            _ => {
                i += 1; // cargo passes --bench
                continue;
            }
        }
        i += 2;
    }
    o
}

/// Wall-clock milliseconds, the clock every peer's enqueue and start times use.
fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

/// What the handlers and the observer saw.
#[derive(Default)]
struct Seen {
    /// Runs that ended, and how many of them did not complete.
    ended: AtomicUsize,
    not_completed: AtomicUsize,
    /// Enqueue → handler start of runs whose input has `t0`, in ms.
    waits: Mutex<Vec<f64>>,
    /// Created → finished (store times) of the diamond runs, in ms.
    dag_latencies: Mutex<Vec<i64>>,
}

impl Observer for Seen {
    fn changed(&self, change: &Change) {
        if let Some(ended) = &change.run_ended {
            self.ended.fetch_add(1, Ordering::Relaxed);
            if ended.status != RunStatus::Completed {
                self.not_completed.fetch_add(1, Ordering::Relaxed);
            }
            if ended.workflow == "diamond" {
                let mut l = self.dag_latencies.lock().unwrap();
                l.push(ended.finished_at - ended.created_at);
            }
        }
    }
}

impl Seen {
    /// Wait until `n` more runs than `before` have ended.
    async fn until_ended(&self, before: usize, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(300);
        while self.ended.load(Ordering::Relaxed) < before + n {
            assert!(
                Instant::now() < deadline,
                "runs did not all end within 5 minutes"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(
            self.not_completed.load(Ordering::Relaxed),
            0,
            "every run completed"
        );
    }
}

struct Bench {
    engine: Arc<Engine>,
    seen: Arc<Seen>,
    name: String,
    json: bool,
}

impl Bench {
    fn report(&self, metric: &str, value: Value, text: String) {
        if self.json {
            println!(
                "{}",
                json!({ "store": self.name, "metric": metric, "value": value })
            );
        } else {
            println!("{:>8}: {text}", self.name);
        }
    }
}

#[tokio::main]
async fn main() {
    let o = options();
    let dir = tempfile::tempdir().unwrap();
    // Kept alive for the whole measurement.
    let mut _pg = None;
    let target = match (o.store.as_str(), &o.database_url) {
        (_, Some(url)) => DatabaseTarget::from_url(Some(url), dir.path()).expect("--database-url"),
        ("sqlite", None) => DatabaseTarget::Sqlite(dir.path().join("bench.db")),
        ("postgres", None) => {
            let server = ratchet_test_support::PgServer::start_with(&[
                ("fsync", "on"),
                ("synchronous_commit", "on"),
                ("full_page_writes", "on"),
                ("shared_buffers", "256MB"),
            ]);
            let url = server.url("postgres");
            _pg = Some(server);
            DatabaseTarget::Postgres(url)
        }
        (other, _) => panic!("unknown store {other}: sqlite or postgres"),
    };
    let seen = Arc::new(Seen::default());
    let engine = Arc::new(start(&target, seen.clone(), o.hot_path.is_some()).await);
    let b = Bench {
        engine,
        seen,
        name: o.store.clone(),
        json: o.json,
    };
    if let Some(n) = o.hot_path {
        for _ in 0..n {
            let run = b.engine.run_workflow("noop", "1", json!({})).await.unwrap();
            b.engine
                .wait_for_run(run.id, Duration::from_secs(30))
                .await
                .unwrap();
        }
        return;
    }
    if let Some(n) = o.populate {
        throughput(&b, n, true).await;
        return;
    }
    // Warm-up: 1,000 runs through the fresh database (its statistics, caches and
    // connections), not measured; the peers get the same.
    throughput(&b, 1000, true).await;
    for shape in &o.only {
        match shape.as_str() {
            "batch" | "clients" => {
                let (per_s, took) = throughput(&b, o.runs, shape == "batch").await;
                b.report(
                    &format!("{shape}_runs_per_s"),
                    json!(per_s),
                    format!(
                        "{shape}: {per_s:.0} runs/s ({} single-task runs in {took:.2?})",
                        o.runs
                    ),
                );
            }
            "rate" => {
                for &rate in &o.rates {
                    let (p50, p95, p99) = offered(&b, rate, o.seconds).await;
                    b.report(
                        &format!("rate_{rate}"),
                        json!({ "p50": p50, "p95": p95, "p99": p99 }),
                        format!("enqueue -> started at {rate}/s offered: p50 {p50:.1} ms, p95 {p95:.1} ms, p99 {p99:.1} ms"),
                    );
                }
            }
            "dag" => {
                let (per_s, p50, p95) = diamond(&b, o.dag_runs).await;
                b.report(
                    "dag",
                    json!({ "per_s": per_s, "p50": p50, "p95": p95 }),
                    format!("10-task diamond: {per_s:.0} runs/s, created -> finished p50 {p50} ms, p95 {p95} ms ({} runs)", o.dag_runs),
                );
            }
            "runmany" => {
                let took = fan_out(&b.engine, o.children).await;
                let per_s = o.children as f64 / took.as_secs_f64();
                b.report(
                    "runmany_children_per_s",
                    json!(per_s),
                    format!("RunMany of {} children: all complete in {took:.2?} ({per_s:.0} children/s)", o.children),
                );
            }
            "events" => {
                let (p50, p95, p99) = event_to_start(&b.engine, o.events).await;
                b.report(
                    "event_to_start",
                    json!({ "p50": p50, "p95": p95, "p99": p99 }),
                    format!("event pushed -> first task started: p50 {p50} ms, p95 {p95} ms, p99 {p99} ms ({} events)", o.events),
                );
            }
            other => panic!("unknown shape {other}"),
        }
    }
    if let Ok(engine) = Arc::try_unwrap(b.engine) {
        engine.shutdown().await;
    }
}

/// The engine with one 200-slot worker. `quiet`: no sweeps or idle polls, so that an
/// instruction count is the runs' alone.
async fn start(target: &DatabaseTarget, seen: Arc<Seen>, quiet: bool) -> Engine {
    let store = store::connect(target).await.unwrap();
    let bus = engine::bus::connect(None).await.unwrap();
    let config = if quiet {
        let hour = Duration::from_secs(3600);
        EngineConfig {
            poll_interval: hour,
            sweep_interval: hour,
            heartbeat_interval: hour,
            worker_timeout: 2 * hour,
            ..EngineConfig::default()
        }
    } else {
        EngineConfig {
            poll_interval: Duration::from_millis(100),
            ..EngineConfig::default()
        }
    };
    let engine = Engine::with(store, bus, Arc::new(engine::clock::SystemClock), config);
    engine.observe(seen.clone());
    engine.start_worker(
        Worker::new("bench")
            .slots(200)
            .handle("noop", move |ctx| {
                let seen = seen.clone();
                async move {
                    if let Some(t0) = ctx.input()["t0"].as_f64() {
                        seen.waits.lock().unwrap().push(now_ms() - t0);
                    }
                    Ok(Value::Null)
                }
            })
            .handle("spawn", |ctx| async move {
                let n = ctx.input()["children"].as_u64().unwrap_or(0);
                let children = (0..n)
                    .map(|i| Child::new(i.to_string(), json!({ "i": i })))
                    .collect();
                let runs = ctx.spawn_children("noop", "1", children).await?;
                let results = ctx.wait_children(&runs).await?;
                Ok(json!(results.len()))
            }),
    );
    let def = WorkflowDef::new("noop").task(TaskDef::new("noop", "noop"));
    engine.register_workflow(&def).await.unwrap();
    let middle: Vec<String> = (1..=8).map(|i| format!("b{i}")).collect();
    let diamond = WorkflowDef::new("diamond")
        .task(TaskDef::new("a", "noop"))
        .tasks(
            middle
                .iter()
                .map(|m| TaskDef::new(m, "noop").parents(["a"])),
        )
        .task(TaskDef::new("z", "noop").parents(middle.clone()));
    engine.register_workflow(&diamond).await.unwrap();
    let fan_out = WorkflowDef::new("fan-out")
        .task(TaskDef::new("spawn", "spawn").execution_timeout(Duration::from_secs(600)));
    engine.register_workflow(&fan_out).await.unwrap();
    let mut on_ping = WorkflowDef::new("on-ping").task(TaskDef::new("noop", "noop"));
    on_ping.on_events = vec![EventTrigger::Key("ping".into())];
    engine.register_workflow(&on_ping).await.unwrap();
    engine
}

/// `n` single-task runs, created in batches of 1,000 or by 16 concurrent clients.
async fn throughput(b: &Bench, n: usize, batched: bool) -> (f64, Duration) {
    let before = b.seen.ended.load(Ordering::Relaxed);
    let t0 = Instant::now();
    if batched {
        for start in (0..n).step_by(1000) {
            let inputs = vec![json!({}); (n - start).min(1000)];
            b.engine.run_workflows("noop", "1", inputs).await.unwrap();
        }
    } else {
        let mut clients = tokio::task::JoinSet::new();
        for c in 0..16 {
            let engine = b.engine.clone();
            clients.spawn(async move {
                for _ in (c..n).step_by(16) {
                    engine.run_workflow("noop", "1", json!({})).await.unwrap();
                }
            });
        }
        clients.join_all().await;
    }
    b.seen.until_ended(before, n).await;
    let took = t0.elapsed();
    (n as f64 / took.as_secs_f64(), took)
}

/// Offer single-task runs at `rate`/s for `seconds`; enqueue → handler started.
async fn offered(b: &Bench, rate: u32, seconds: u64) -> (f64, f64, f64) {
    let before = b.seen.ended.load(Ordering::Relaxed);
    b.seen.waits.lock().unwrap().clear();
    let total = rate as usize * seconds as usize;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut creations = tokio::task::JoinSet::new();
    for _ in 0..total {
        tick.tick().await;
        let engine = b.engine.clone();
        creations.spawn(async move {
            let input = json!({ "t0": now_ms() });
            engine.run_workflow("noop", "1", input).await.unwrap();
        });
    }
    creations.join_all().await;
    b.seen.until_ended(before, total).await;
    let mut waits = std::mem::take(&mut *b.seen.waits.lock().unwrap());
    waits.sort_by(f64::total_cmp);
    let at = |q: f64| waits[((waits.len() as f64 * q).ceil() as usize).clamp(1, waits.len()) - 1];
    (at(0.50), at(0.95), at(0.99))
}

/// `n` runs of the 10-task diamond, created 100 per call.
async fn diamond(b: &Bench, n: usize) -> (f64, u64, u64) {
    let before = b.seen.ended.load(Ordering::Relaxed);
    b.seen.dag_latencies.lock().unwrap().clear();
    let t0 = Instant::now();
    for start in (0..n).step_by(100) {
        let inputs = vec![json!({}); (n - start).min(100)];
        b.engine
            .run_workflows("diamond", "1", inputs)
            .await
            .unwrap();
    }
    b.seen.until_ended(before, n).await;
    let per_s = n as f64 / t0.elapsed().as_secs_f64();
    let mut histogram = Histogram::<u64>::new(3).unwrap();
    for l in b.seen.dag_latencies.lock().unwrap().iter() {
        histogram.record((*l).max(0) as u64).unwrap();
    }
    (
        per_s,
        histogram.value_at_quantile(0.50),
        histogram.value_at_quantile(0.95),
    )
}

/// One parent task spawns `n` children and waits for all of them.
async fn fan_out(engine: &Arc<Engine>, n: usize) -> Duration {
    let t0 = Instant::now();
    let run = engine
        .run_workflow("fan-out", "1", json!({ "children": n }))
        .await
        .unwrap();
    let done = engine
        .wait_for_run(run.id, Duration::from_secs(900))
        .await
        .unwrap();
    assert_eq!(
        done.output.unwrap()["spawn"],
        json!(n),
        "every child answered"
    );
    t0.elapsed()
}

/// Push `n` events one after another; each starts a run. Event time → task start.
async fn event_to_start(engine: &Arc<Engine>, n: usize) -> (u64, u64, u64) {
    let mut histogram = Histogram::<u64>::new(3).unwrap();
    for i in 0..n {
        let pushed = engine
            .push_event("ping", json!({ "i": i }), json!({}))
            .await
            .unwrap();
        let run_id = pushed.started[0];
        engine
            .wait_for_run(run_id, Duration::from_secs(60))
            .await
            .unwrap();
        let started = engine.tasks(run_id).await.unwrap()[0].started_at.unwrap();
        histogram
            .record((started - pushed.event.at).max(0) as u64)
            .unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (
        histogram.value_at_quantile(0.50),
        histogram.value_at_quantile(0.95),
        histogram.value_at_quantile(0.99),
    )
}
