//! Engine benchmark, on SQLite and on a local PostgreSQL (durable settings: fsync and
//! synchronous_commit on):
//! - throughput: N single-task runs with a no-op handler, created by 16 concurrent clients,
//!   from the first create to the last completion;
//! - dispatch latency: runs offered at a fixed rate; queued → assigned (the ASSIGNED event's
//!   time minus the QUEUED event's time, both written by the engine), p50/p95/p99;
//! - RunMany fan-out: one task spawns N child runs (one no-op task each) and waits for them;
//!   from the parent's creation to its completion;
//! - event-triggered start: an event pushed → the first task of the run it starts began
//!   (the task's start minus the event's time, both written by the engine), p50/p95/p99.
//!
//! `cargo bench -p engine --bench engine -- [--runs 10000] [--rate 500] [--seconds 10] [--children 10000] [--events 200] [--store sqlite|postgres]`

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::definition::{EventTrigger, TaskDef, WorkflowDef};
use engine::model::{EventKind, RunId};
use engine::store::{self, DatabaseTarget};
use engine::{Child, Engine, EngineConfig, Worker};
use serde_json::{Value, json};

struct Options {
    runs: usize,
    rate: u32,
    seconds: u64,
    children: usize,
    events: usize,
    stores: Vec<String>,
}

fn options() -> Options {
    let mut o = Options {
        runs: 10_000,
        rate: 500,
        seconds: 10,
        children: 10_000,
        events: 200,
        stores: vec!["sqlite".into(), "postgres".into()],
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--runs" => o.runs = value.parse().expect("--runs N"),
            "--rate" => o.rate = value.parse().expect("--rate N"),
            "--seconds" => o.seconds = value.parse().expect("--seconds N"),
            "--children" => o.children = value.parse().expect("--children N"),
            "--events" => o.events = value.parse().expect("--events N"),
            "--store" => o.stores = vec![value],
            _ => {
                i += 1; // cargo passes --bench
                continue;
            }
        }
        i += 2;
    }
    o
}

#[tokio::main]
async fn main() {
    let o = options();
    for name in &o.stores {
        let dir = tempfile::tempdir().unwrap();
        // Kept alive for the whole measurement.
        let mut _pg = None;
        let target = match name.as_str() {
            "sqlite" => DatabaseTarget::Sqlite(dir.path().join("bench.db")),
            "postgres" => {
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
            other => panic!("unknown store {other}"),
        };
        let engine = Arc::new(start(&target).await);
        let (runs_per_s, elapsed) = throughput(&engine, o.runs).await;
        println!(
            "{name:>8}: throughput {runs_per_s:.0} runs/s ({} single-task runs in {elapsed:.2?})",
            o.runs
        );
        let (p50, p95, p99, n) = latency(&engine, o.rate, o.seconds).await;
        println!(
            "{name:>8}: queued->assigned at {} runs/s offered: p50 {p50} ms, p95 {p95} ms, p99 {p99} ms ({n} runs)",
            o.rate
        );
        let elapsed = fan_out(&engine, o.children).await;
        println!(
            "{name:>8}: RunMany fan-out of {} children: all complete in {elapsed:.2?} ({:.0} children/s)",
            o.children,
            o.children as f64 / elapsed.as_secs_f64()
        );
        let (p50, p95, p99) = event_to_start(&engine, o.events).await;
        println!(
            "{name:>8}: event pushed -> first task started: p50 {p50} ms, p95 {p95} ms, p99 {p99} ms ({} events)",
            o.events
        );
        if let Ok(engine) = Arc::try_unwrap(engine) {
            engine.shutdown().await;
        }
    }
}

async fn start(target: &DatabaseTarget) -> Engine {
    let store = store::connect(target).await.unwrap();
    let bus = engine::bus::connect(None).await.unwrap();
    let config = EngineConfig {
        poll_interval: Duration::from_millis(100),
        ..EngineConfig::default()
    };
    let engine = Engine::with(store, bus, Arc::new(engine::clock::SystemClock), config);
    engine.start_worker(
        Worker::new("bench")
            .slots(200)
            .handle("noop", |_| async { Ok(Value::Null) })
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
    let fan_out = WorkflowDef::new("fan-out")
        .task(TaskDef::new("spawn", "spawn").execution_timeout(Duration::from_secs(600)));
    engine.register_workflow(&fan_out).await.unwrap();
    let mut on_ping = WorkflowDef::new("on-ping").task(TaskDef::new("noop", "noop"));
    on_ping.on_events = vec![EventTrigger::Key("ping".into())];
    engine.register_workflow(&on_ping).await.unwrap();
    engine
}

async fn create(engine: &Engine) -> RunId {
    engine
        .run_workflow("noop", "1", json!({}))
        .await
        .unwrap()
        .id
}

/// Wait until every run has ended. Runs end roughly in creation order, so checking them in
/// order costs about one read per run.
async fn wait_all(engine: &Engine, ids: &[RunId]) {
    for id in ids {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !engine.run(*id).await.unwrap().unwrap().status.is_terminal() {
            if Instant::now() > deadline {
                let tasks = engine.tasks(*id).await.unwrap();
                let events = engine.events(*id).await.unwrap();
                panic!("run {id} did not end within 2 minutes:\n{tasks:#?}\n{events:#?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Create `n` runs from 16 concurrent clients and wait for all to end.
async fn throughput(engine: &Arc<Engine>, n: usize) -> (f64, Duration) {
    let t0 = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..16 {
        let engine = engine.clone();
        let count = n / 16 + usize::from(c < n % 16);
        clients.spawn(async move {
            let mut ids = Vec::with_capacity(count);
            for _ in 0..count {
                ids.push(create(&engine).await);
            }
            ids
        });
    }
    let mut ids = Vec::with_capacity(n);
    while let Some(batch) = clients.join_next().await {
        ids.extend(batch.unwrap());
    }
    ids.sort(); // UUIDv7: creation order
    wait_all(engine, &ids).await;
    let elapsed = t0.elapsed();
    (n as f64 / elapsed.as_secs_f64(), elapsed)
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
    let mut histogram = hdrhistogram::Histogram::<u64>::new(3).unwrap();
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

/// Offer runs at `rate` per second for `seconds`, then measure queued -> assigned.
async fn latency(engine: &Arc<Engine>, rate: u32, seconds: u64) -> (u64, u64, u64, usize) {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut creations = tokio::task::JoinSet::new();
    for _ in 0..u64::from(rate) * seconds {
        tick.tick().await;
        let engine = engine.clone();
        creations.spawn(async move { create(&engine).await });
    }
    let mut ids = Vec::new();
    while let Some(id) = creations.join_next().await {
        ids.push(id.unwrap());
    }
    ids.sort();
    wait_all(engine, &ids).await;
    let mut histogram = hdrhistogram::Histogram::<u64>::new(3).unwrap();
    let mut seen = HashSet::new();
    for id in &ids {
        let events = engine.events(*id).await.unwrap();
        let at = |kind| events.iter().find(|e| e.kind == kind).map(|e| e.at);
        if let (Some(queued), Some(assigned)) = (at(EventKind::Queued), at(EventKind::Assigned)) {
            histogram.record((assigned - queued).max(0) as u64).unwrap();
            seen.insert(*id);
        }
    }
    (
        histogram.value_at_quantile(0.50),
        histogram.value_at_quantile(0.95),
        histogram.value_at_quantile(0.99),
        seen.len(),
    )
}
