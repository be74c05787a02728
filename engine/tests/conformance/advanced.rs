//! The cases of the advanced engine: concurrency rules, rate limits, label preferences,
//! durable waits of handlers, and replay. Limits are checked by invariants over the event
//! table, never by timing.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine::definition::{
    ConcurrencyDef, DesiredLabel, Dur, LimitStrategy, RateLimitDef, TaskDef, WorkflowDef,
};
use engine::model::{EventKind, RateLimit, RunState, RunStatus, TaskEvent, TaskStatus};
use engine::store::StoreError;
use engine::{Child, EngineError, Worker};
use serde_json::json;

use crate::harness::{Backend, Env};

fn rule(max_runs: u32, limit_strategy: LimitStrategy) -> ConcurrencyDef {
    ConcurrencyDef {
        expression: "input.group".into(),
        max_runs,
        limit_strategy,
    }
}

/// `work` sleeps a moment (long enough for runs to overlap), then answers its input.
fn slow_worker(slots: u32) -> Worker {
    Worker::new("slow")
        .slots(slots)
        .handle("work", |ctx| async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            Ok(ctx.input().clone())
        })
}

/// Every event of these runs, in the order the store wrote them.
async fn all_events(env: &Env, runs: &[RunState]) -> Vec<TaskEvent> {
    let mut events = Vec::new();
    for run in runs {
        events.extend(env.events(run).await);
    }
    events.sort_by_key(|e| e.id);
    events
}

/// The most runs per group that held a slot at once: a run holds one from its ADMITTED
/// event to its end event.
fn most_admitted_at_once(
    events: &[TaskEvent],
    group_of: &HashMap<uuid::Uuid, String>,
) -> BTreeMap<String, usize> {
    let mut active: HashMap<&str, usize> = HashMap::new();
    let mut most: BTreeMap<String, usize> = BTreeMap::new();
    let mut holding = std::collections::HashSet::new();
    for e in events.iter().filter(|e| e.task_id.is_none()) {
        let group = group_of[&e.run_id].as_str();
        match e.kind {
            EventKind::Admitted => {
                holding.insert(e.run_id);
                let n = active.entry(group).or_default();
                *n += 1;
                let top = most.entry(group.to_string()).or_default();
                *top = (*top).max(*n);
            }
            EventKind::RunCompleted | EventKind::RunFailed | EventKind::RunCancelled
                if holding.remove(&e.run_id) =>
            {
                *active.entry(group).or_default() -= 1;
            }
            _ => {}
        }
    }
    most
}

pub async fn group_round_robin_never_admits_more_than_max_runs(b: Backend) {
    let mut env = Env::new(b).await;
    env.engine.start_worker(slow_worker(16));
    let mut def = WorkflowDef::new("limited").task(TaskDef::new("work", "work"));
    def.concurrency = Some(rule(2, LimitStrategy::GroupRoundRobin));
    let mut runs = Vec::new();
    let mut group_of = HashMap::new();
    for (i, group) in ["a", "a", "a", "b", "a", "b", "a", "a", "b"]
        .iter()
        .enumerate()
    {
        let run = env.start(&def, json!({ "group": group, "i": i })).await;
        group_of.insert(run.id, group.to_string());
        runs.push(run);
    }
    // A crash half-way: the new engine must not admit past the runs the old one admitted.
    env.until("some runs have finished", || async {
        let mut done = 0;
        for run in &runs {
            done += usize::from(
                env.engine
                    .run(run.id)
                    .await
                    .unwrap()
                    .unwrap()
                    .status
                    .is_terminal(),
            );
        }
        done >= 2
    })
    .await;
    env.crash_and_restart().await;
    env.engine.start_worker(slow_worker(16));
    for run in &runs {
        assert_eq!(env.finish(run).await.status, RunStatus::Completed);
    }
    let most = most_admitted_at_once(&all_events(&env, &runs).await, &group_of);
    assert_eq!(most["a"], 2, "group a ran two at a time: {most:?}");
    assert!(most["b"] <= 2, "{most:?}");
    // Waiting runs said why they waited.
    let waited = env.events(&runs[2]).await;
    assert!(waited.iter().any(|e| {
        e.kind == EventKind::Waiting
            && e.message
                .as_deref()
                .unwrap_or_default()
                .contains("concurrency slot")
    }));
}

pub async fn cancel_newest_cancels_the_newcomer_and_cancel_in_progress_the_older(b: Backend) {
    let env = Env::new(b).await;
    let release = Arc::new(tokio::sync::Notify::new());
    let gate = release.clone();
    env.engine
        .start_worker(Worker::new("gated").handle("hold", move |ctx| {
            let gate = gate.clone();
            async move {
                tokio::select! {
                    () = gate.notified() => Ok(json!("released")),
                    () = ctx.cancelled() => Err(engine::TaskError::fatal("cancelled")),
                }
            }
        }));
    for (name, strategy) in [
        ("newest", LimitStrategy::CancelNewest),
        ("in-progress", LimitStrategy::CancelInProgress),
    ] {
        let mut def = WorkflowDef::new(name).task(TaskDef::new("hold", "hold"));
        def.concurrency = Some(rule(1, strategy));
        let first = env.start(&def, json!({ "group": "g" })).await;
        env.until("the first run holds the slot", || async {
            env.task(&first, "hold").await.status == TaskStatus::Running
        })
        .await;
        let second = env.start(&def, json!({ "group": "g" })).await;
        match strategy {
            LimitStrategy::CancelNewest => {
                let second = env.finish(&second).await;
                assert_eq!(second.status, RunStatus::Cancelled);
                release.notify_one();
                assert_eq!(env.finish(&first).await.status, RunStatus::Completed);
            }
            _ => {
                assert_eq!(env.finish(&first).await.status, RunStatus::Cancelled);
                env.until("the newer run holds the slot", || async {
                    env.task(&second, "hold").await.status == TaskStatus::Running
                })
                .await;
                release.notify_one();
                assert_eq!(env.finish(&second).await.status, RunStatus::Completed);
                // The newcomer was admitted only after the older run had ended.
                let events = all_events(&env, &[first.clone(), second.clone()]).await;
                let ended = events
                    .iter()
                    .position(|e| e.run_id == first.id && e.kind == EventKind::RunCancelled);
                let admitted = events
                    .iter()
                    .position(|e| e.run_id == second.id && e.kind == EventKind::Admitted);
                assert!(ended < admitted, "{ended:?} {admitted:?}");
            }
        }
    }
    // A key that cannot be computed is refused when the run is asked for.
    let mut def = WorkflowDef::new("keyless").task(TaskDef::new("hold", "hold"));
    def.concurrency = Some(rule(1, LimitStrategy::GroupRoundRobin));
    env.engine.register_workflow(&def).await.unwrap();
    let err = env
        .engine
        .run_workflow("keyless", "1", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::BadInput(ref m) if m.contains("input.group")),
        "{err}"
    );
}

pub async fn task_concurrency_holds_per_key_across_runs(b: Backend) {
    let env = Env::new(b).await;
    env.engine
        .start_worker(slow_worker(16).handle("free", |_| async { Ok(json!(null)) }));
    let def = WorkflowDef::new("task-limited")
        .task(TaskDef::new("prepare", "free"))
        .task(TaskDef {
            concurrency: vec![rule(1, LimitStrategy::GroupRoundRobin)],
            // Shorter than the wait of the last ones (4 × 150 ms before them): waiting for
            // the slot must not count toward it.
            ..TaskDef::new("work", "work")
                .parents(["prepare"])
                .schedule_timeout(Duration::from_millis(400))
        });
    let mut runs = Vec::new();
    for _ in 0..5 {
        runs.push(env.start(&def, json!({ "group": "one-machine" })).await);
    }
    for run in &runs {
        assert_eq!(env.finish(run).await.status, RunStatus::Completed);
    }
    // ADMITTED → the task's end: never two `work` tasks at once.
    let (mut active, mut most) = (0, 0);
    for e in all_events(&env, &runs)
        .await
        .iter()
        .filter(|e| e.task_name.as_deref() == Some("work"))
    {
        match e.kind {
            EventKind::Admitted => {
                active += 1;
                most = most.max(active);
            }
            EventKind::Completed | EventKind::Failed | EventKind::Cancelled => active -= 1,
            _ => {}
        }
    }
    assert_eq!(most, 1);
}

pub async fn a_rate_limit_of_ten_per_second_holds_over_a_hundred_tasks(b: Backend) {
    let env = Env::new(b).await;
    env.engine
        .put_rate_limit(&RateLimit {
            key: "api".into(),
            limit: 10,
            duration: Dur::secs(1),
        })
        .await
        .unwrap();
    env.engine.start_worker(
        Worker::new("caller")
            .slots(100)
            .handle("call", |_| async { Ok(json!("ok")) }),
    );
    let def = WorkflowDef::new("calls").task(TaskDef {
        rate_limits: vec![RateLimitDef {
            key: "api".into(),
            units: 1,
        }],
        ..TaskDef::new("call", "call")
    });
    env.engine.register_workflow(&def).await.unwrap();
    let mut runs = Vec::new();
    for i in 0..100 {
        runs.push(
            env.engine
                .run_workflow("calls", "1", json!({ "i": i }))
                .await
                .unwrap(),
        );
    }
    for run in &runs {
        assert_eq!(
            env.finish(run).await.status,
            RunStatus::Completed,
            "waiting is not failing"
        );
    }
    let events = all_events(&env, &runs).await;
    let mut assigned: Vec<i64> = events
        .iter()
        .filter(|e| e.kind == EventKind::Assigned)
        .map(|e| e.at)
        .collect();
    assigned.sort();
    assert_eq!(assigned.len(), 100);
    for (i, start) in assigned.iter().enumerate() {
        let in_window = assigned[i..]
            .iter()
            .take_while(|at| **at < start + 1000)
            .count();
        assert!(
            in_window <= 10,
            "{in_window} tasks started within a second from {start}"
        );
    }
    assert!(events.iter().any(|e| {
        e.kind == EventKind::Requeued
            && e.message
                .as_deref()
                .unwrap_or_default()
                .contains("rate limit 'api'")
    }));
    assert_eq!(env.engine.rate_limits().await.unwrap()[0].limit, 10);
}

pub async fn weighted_labels_prefer_the_better_worker_and_stuck_tasks_say_why(b: Backend) {
    let env = Env::new(b).await;
    for (name, zone) in [("far", "a"), ("near", "b")] {
        env.engine.start_worker(
            Worker::new(name)
                .label("zone", zone)
                .handle("bench", move |_| async move { Ok(json!(name)) }),
        );
    }
    let prefer_b = DesiredLabel {
        required: false,
        weight: 10,
        ..DesiredLabel::equals("b")
    };
    // The preference waits for a better worker that is live: both must be registered
    // before the tasks are queued (on a busy machine the second may take a moment).
    let store = env.store();
    env.until("both workers are registered", || async {
        store.workers().await.unwrap().len() == 2
    })
    .await;
    let mut def = WorkflowDef::new("preferring");
    for i in 0..8 {
        def = def.task(TaskDef::new(format!("t{i}"), "bench").label("zone", prefer_b.clone()));
    }
    let run = env.start(&def, json!({})).await;
    let output = env.finish(&run).await.output.unwrap();
    for i in 0..8 {
        assert_eq!(output[format!("t{i}")], "near", "{output}");
    }
    let workers = env.store().workers().await.unwrap();
    assert_eq!(workers.len(), 2);
    assert!(
        workers
            .iter()
            .all(|w| w.info.slots == 16 && w.info.labels.contains_key("zone"))
    );

    let stuck = WorkflowDef::new("stuck")
        .task(TaskDef::new("gpu", "bench").label("gpu", DesiredLabel::equals(true)))
        .task(TaskDef::new("exotic", "nobody-has-this"));
    let run = env.start(&stuck, json!({})).await;
    env.settle().await;
    let tasks = env.engine.tasks(run.id).await.unwrap();
    let reasons = env.engine.waiting_reasons(&run, &tasks).await.unwrap();
    let reason = |name: &str| reasons[&tasks.iter().find(|t| t.name == name).unwrap().id].clone();
    let (gpu, exotic) = (reason("gpu"), reason("exotic"));
    assert_eq!(gpu.kind, engine::WaitingKind::MissingLabels);
    assert!(
        gpu.message.contains("required labels: gpu = true"),
        "{gpu:?}"
    );
    assert_eq!(exotic.kind, engine::WaitingKind::NoWorker);
    assert!(
        exotic
            .message
            .contains("no live worker implements 'nobody-has-this'"),
        "{exotic:?}"
    );
    assert_eq!(env.task(&run, "gpu").await.status, TaskStatus::Queued);
    env.engine.cancel_run(run.id).await.unwrap();
}

pub async fn a_durable_wait_holds_no_slot_and_survives_a_restart(b: Backend) {
    let mut env = Env::new(b).await;
    let executions = Arc::new(AtomicUsize::new(0));
    let worker = |executions: Arc<AtomicUsize>| {
        Worker::new("one-slot")
            .slots(1)
            .handle("patient", move |ctx| {
                let executions = executions.clone();
                async move {
                    executions.fetch_add(1, Ordering::SeqCst);
                    ctx.durable_sleep(Duration::from_millis(300)).await?;
                    let payload = ctx.wait_for_event("go", Some("payload.ok == true")).await?;
                    Ok(json!({ "payload": payload }))
                }
            })
            .handle("quick", |_| async { Ok(json!("quick")) })
    };
    env.engine.start_worker(worker(executions.clone()));
    let patient = env
        .start(
            &WorkflowDef::new("patient").task(TaskDef::new("p", "patient")),
            json!({}),
        )
        .await;
    env.until("the handler slept, then parked on its event", || async {
        env.events_of(&patient, "p", EventKind::Suspended)
            .await
            .len()
            == 2
    })
    .await;
    // The only slot is free while the handler waits.
    let quick = env
        .start(
            &WorkflowDef::new("quick").task(TaskDef::new("q", "quick")),
            json!({}),
        )
        .await;
    assert_eq!(env.finish(&quick).await.status, RunStatus::Completed);

    env.crash_and_restart().await;
    env.engine.start_worker(worker(executions.clone()));
    env.engine
        .push_event("go", json!({ "ok": false }), json!({}))
        .await
        .unwrap();
    env.settle().await;
    assert_eq!(
        env.task(&patient, "p").await.status,
        TaskStatus::Queued,
        "the payload does not match"
    );
    env.engine
        .push_event("go", json!({ "ok": true, "n": 7 }), json!({}))
        .await
        .unwrap();
    let done = env.finish(&patient).await;
    assert_eq!(done.status, RunStatus::Completed, "{:?}", done.error);
    assert_eq!(
        done.output.unwrap()["p"]["payload"],
        json!({ "ok": true, "n": 7 })
    );
    // Slept once, parked once, then finished: three executions, none of them a retry.
    assert_eq!(executions.load(Ordering::SeqCst), 3);
    assert_eq!(env.task(&patient, "p").await.retry_count, 0);
}

pub async fn replay_reruns_descendants_and_their_children_only(b: Backend) {
    let env = Env::new(b).await;
    let counts: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let seen = counts.clone();
    let count = move |name: &str| *seen.lock().unwrap().entry(name.to_string()).or_default() += 1;
    let (c1, c2, c3) = (count.clone(), count.clone(), count.clone());
    env.engine.start_worker(
        Worker::new("replayable")
            .handle("step", move |ctx| {
                c1(ctx.task_name());
                async move { Ok(json!({ "task": ctx.task_name(), "attempt": ctx.attempt() })) }
            })
            .handle("spawn", move |ctx| {
                c2(ctx.task_name());
                async move {
                    let kids = ctx
                        .spawn_children("kid", "1", vec![Child::new("only", json!({}))])
                        .await?;
                    let results = ctx.wait_children(&kids).await?;
                    Ok(json!(results.len()))
                }
            })
            .handle("kid", move |_| {
                c3("kid");
                async { Ok(json!("kid")) }
            }),
    );
    env.engine
        .register_workflow(&WorkflowDef::new("kid").task(TaskDef::new("k", "kid")))
        .await
        .unwrap();
    let def = WorkflowDef::new("replayed")
        .task(TaskDef::new("a", "step"))
        .task(TaskDef::new("b", "spawn").parents(["a"]))
        .task(TaskDef::new("c", "step").parents(["b"]))
        .task(TaskDef::new("d", "step"));
    let run = env.start(&def, json!({})).await;
    let first = env.finish(&run).await;
    assert_eq!(first.status, RunStatus::Completed);
    let a_output = first.output.as_ref().unwrap()["a"].clone();

    let unknown = env.engine.replay(run.id, &["zz".into()]).await.unwrap_err();
    assert!(
        matches!(unknown, EngineError::Store(StoreError::Invalid(ref m)) if m.contains("'zz'")),
        "{unknown}"
    );
    env.engine.replay(run.id, &["b".into()]).await.unwrap();
    let busy = env.engine.replay(run.id, &["b".into()]).await;
    assert!(
        matches!(busy, Err(EngineError::Store(StoreError::Conflict(_)))),
        "a replay of a running run is refused: {busy:?}"
    );
    let second = env.finish(&run).await;
    assert_eq!(second.status, RunStatus::Completed, "{:?}", second.error);
    let counts = counts.lock().unwrap().clone();
    assert_eq!(counts["a"], 1, "upstream kept: {counts:?}");
    assert_eq!(counts["d"], 1, "unrelated kept: {counts:?}");
    assert_eq!(counts["b"], 2, "{counts:?}");
    assert_eq!(counts["c"], 2, "{counts:?}");
    assert_eq!(counts["kid"], 2, "the child run was replayed: {counts:?}");
    assert_eq!(
        second.output.unwrap()["a"],
        a_output,
        "upstream output kept"
    );
    assert_eq!(env.task(&run, "b").await.attempt, 2);
    let replayed: Vec<String> = env
        .events(&run)
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::Replayed)
        .filter_map(|e| e.task_name)
        .collect();
    assert_eq!(replayed, vec!["b".to_string(), "c".to_string()]);
}

/// What an observer heard: each attempt's end and the run's.
#[derive(Default)]
struct Heard {
    attempts: Mutex<Vec<engine::observe::AttemptEnded>>,
    runs: Mutex<Vec<engine::observe::RunEnded>>,
}

#[async_trait::async_trait]
impl engine::observe::Observer for Heard {
    fn changed(&self, change: &engine::store::Change) {
        self.attempts
            .lock()
            .unwrap()
            .extend(change.ended.iter().cloned());
        self.runs
            .lock()
            .unwrap()
            .extend(change.run_ended.iter().cloned());
    }

    fn traces(&self) -> bool {
        true
    }

    async fn traceparent(
        &self,
        _run: uuid::Uuid,
        _task: uuid::Uuid,
        attempt: i32,
    ) -> Option<String> {
        Some(format!(
            "00-0af7651916cd43dd8448eb211c80319c-00000000000000{attempt:02x}-01"
        ))
    }
}

pub async fn the_observer_hears_each_attempts_end_its_outcome_and_times(b: Backend) {
    use engine::observe::Outcome;
    let env = Env::manual(b).await;
    let heard = Arc::new(Heard::default());
    env.engine.observe(heard.clone());
    let parents = Arc::new(Mutex::new(Vec::new()));
    let seen = parents.clone();
    // Attempt 1 fails, attempt 2 hangs past its timeout, attempt 3 completes.
    env.engine
        .start_worker(Worker::new("w").handle("third-time", move |ctx| {
            let seen = seen.clone();
            async move {
                seen.lock()
                    .unwrap()
                    .push(ctx.traceparent().map(str::to_string));
                match ctx.attempt() {
                    1 => Err(engine::TaskError::retryable("attempt 1 broke")),
                    2 => {
                        ctx.cancelled().await;
                        Err(engine::TaskError::fatal("stopped"))
                    }
                    _ => Ok(json!("done")),
                }
            }
        }));
    let def = WorkflowDef::new("observed").task(
        TaskDef::new("t", "third-time")
            .retries(2)
            .backoff(1.0, 1)
            .execution_timeout(Duration::from_secs(10)),
    );
    let run = env.start(&def, json!({})).await;
    env.until("the first retry", || async {
        heard.attempts.lock().unwrap().len() == 1
    })
    .await;
    env.advance(Duration::from_secs(1));
    env.until("attempt 2 running", || async {
        env.task(&run, "t").await.attempt == 2
            && env.task(&run, "t").await.status == TaskStatus::Running
    })
    .await;
    env.advance(Duration::from_secs(10));
    env.until("the timeout", || async {
        heard.attempts.lock().unwrap().len() == 2
    })
    .await;
    env.advance(Duration::from_secs(1));
    assert_eq!(env.finish(&run).await.status, RunStatus::Completed);
    env.until("the run's end", || async {
        !heard.runs.lock().unwrap().is_empty()
    })
    .await;

    let attempts = heard.attempts.lock().unwrap().clone();
    let outcomes: Vec<(i32, Outcome)> = attempts.iter().map(|a| (a.attempt, a.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            (1, Outcome::Retrying),
            (2, Outcome::TimedOut),
            (3, Outcome::Completed)
        ],
        "{attempts:#?}"
    );
    let second = &attempts[1];
    assert_eq!(
        second.ended_at - second.started_at.unwrap(),
        10_000,
        "{second:?}"
    );
    assert_eq!(
        second.queued_at,
        Some(crate::harness::T0 + 1_000),
        "claimable once the back-off ended"
    );
    assert_eq!(attempts[0].error.as_deref(), Some("attempt 1 broke"));
    assert!(
        attempts
            .iter()
            .all(|a| a.action == "third-time" && a.task == "t")
    );
    let runs = heard.runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 1, "the run ended once: {runs:?}");
    assert_eq!(
        (runs[0].run_id, runs[0].status),
        (run.id, RunStatus::Completed)
    );
    // Each attempt's handler was given its trace context.
    let parents = parents.lock().unwrap().clone();
    assert_eq!(parents.len(), 3);
    assert!(
        parents[2].as_deref().unwrap().ends_with("0000000003-01"),
        "{parents:?}"
    );
}
