//! The cases. Each asserts behaviour through the store's state and the event timeline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine::definition::{Condition, DesiredLabel, TaskDef, WorkflowDef};
use engine::model::{AttemptResult, EventKind, RunStatus, TaskStatus, WorkerInfo};
use engine::planner::Fence;
use engine::store::StoreError;
use engine::{Child, EngineError, TaskError, Worker};
use serde_json::json;

use crate::harness::{Backend, Env, T0};

/// A worker whose `echo` action returns its input and parents, and `fail` always fails.
fn echo_worker() -> Worker {
    Worker::new("echo")
        .handle("echo", |ctx| async move {
            Ok(json!({ "task": ctx.task_name(), "input": ctx.input(), "parents": ctx.parents() }))
        })
        .handle("fail", |ctx| async move { Err(TaskError::retryable(format!("{} broke", ctx.task_name()))) })
        .handle("on-failure", |ctx| async move {
            Ok(json!({ "failures": ctx.failures().iter().map(|f| json!({"task": f.task, "error": f.error})).collect::<Vec<_>>() }))
        })
}

fn wf(name: &str) -> WorkflowDef {
    WorkflowDef::new(name)
}

pub async fn linear_dag_runs_in_order(b: Backend) {
    let env = Env::new(b).await;
    env.engine.start_worker(echo_worker());
    let def = wf("linear")
        .task(TaskDef::new("a", "echo"))
        .task(TaskDef::new("b", "echo").parents(["a"]))
        .task(TaskDef::new("c", "echo").parents(["b"]));
    let run = env.start(&def, json!({"n": 1})).await;
    let done = env.finish(&run).await;
    assert_eq!(done.status, RunStatus::Completed, "{:?}", done.error);

    let assigned: Vec<String> = env
        .events(&run)
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::Assigned)
        .filter_map(|e| e.task_name)
        .collect();
    assert_eq!(assigned, ["a", "b", "c"]);
    for name in ["a", "b", "c"] {
        assert_eq!(
            env.events_of(&run, name, EventKind::Completed).await.len(),
            1
        );
        let task = env.task(&run, name).await;
        assert_eq!((task.status, task.attempt), (TaskStatus::Completed, 1));
    }
    let output = done.output.unwrap();
    assert_eq!(output["c"]["input"], json!({"n": 1}));
    assert_eq!(
        output["c"]["parents"]["a"]["task"], "a",
        "c sees its grandparent"
    );
}

pub async fn diamond_dag_fans_in_ancestor_outputs(b: Backend) {
    let env = Env::new(b).await;
    env.engine.start_worker(echo_worker());
    let def = wf("diamond")
        .task(TaskDef::new("a", "echo"))
        .task(TaskDef::new("b", "echo").parents(["a"]))
        .task(TaskDef::new("c", "echo").parents(["a"]))
        .task(TaskDef::new("d", "echo").parents(["b", "c"]));
    let run = env.start(&def, json!({})).await;
    let done = env.finish(&run).await;
    assert_eq!(done.status, RunStatus::Completed);
    let d = &done.output.unwrap()["d"];
    let mut seen: Vec<&String> = d["parents"].as_object().unwrap().keys().collect();
    seen.sort();
    assert_eq!(seen, ["a", "b", "c"]);
    assert_eq!(d["parents"]["b"]["parents"]["a"]["task"], "a");
    // d was queued only once both b and c had completed.
    let events = env.events(&run).await;
    let pos = |task: &str, kind| {
        events
            .iter()
            .position(|e| e.kind == kind && e.task_name.as_deref() == Some(task))
            .unwrap()
    };
    assert!(pos("d", EventKind::Queued) > pos("b", EventKind::Completed));
    assert!(pos("d", EventKind::Queued) > pos("c", EventKind::Completed));
}

pub async fn definitions_are_validated_and_versions_immutable(b: Backend) {
    let env = Env::new(b).await;
    let bad = wf("bad").task(TaskDef::new("a", "echo").parents(["nope"]));
    let e = env.engine.register_workflow(&bad).await.unwrap_err();
    assert_eq!(e.to_string(), "task 'a' names an unknown parent 'nope'");

    let v1 = wf("versioned").task(TaskDef::new("a", "echo"));
    env.engine.register_workflow(&v1).await.unwrap();
    env.engine.register_workflow(&v1).await.unwrap(); // identical: fine
    let changed = wf("versioned").task(TaskDef::new("a", "echo").retries(2));
    let e = env.engine.register_workflow(&changed).await.unwrap_err();
    assert!(
        matches!(e, EngineError::Store(StoreError::Conflict(_))),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("register the change as a new version"),
        "{e}"
    );
    env.engine
        .register_workflow(&changed.version("2"))
        .await
        .unwrap();

    let e = env
        .engine
        .run_workflow("ghost", "1", json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "no workflow named 'ghost@1' is registered");
}

pub async fn retries_wait_the_backoff_on_the_clock(b: Backend) {
    let env = Env::manual(b).await;
    // Fails on attempts 1 and 2, succeeds on 3.
    env.engine
        .start_worker(Worker::new("flaky").handle("flaky", |ctx| async move {
            if ctx.attempt() < 3 {
                Err(TaskError::retryable(format!(
                    "attempt {} failed",
                    ctx.attempt()
                )))
            } else {
                Ok(json!({"attempt": ctx.attempt()}))
            }
        }));
    let def = wf("retry").task(TaskDef::new("t", "flaky").retries(3).backoff(2.0, 3));
    let run = env.start(&def, json!({})).await;

    // Attempt 1 fails at T0: retry 1 waits 2^1 = 2 s.
    env.until("first retry scheduled", || async {
        env.events_of(&run, "t", EventKind::Retrying).await.len() == 1
    })
    .await;
    let retry = &env.events_of(&run, "t", EventKind::Retrying).await[0];
    assert_eq!(retry.data.as_ref().unwrap()["delay_ms"], 2000);
    env.advance(Duration::from_millis(1999));
    env.settle().await;
    assert_eq!(
        env.task(&run, "t").await.status,
        TaskStatus::Queued,
        "not before the backoff is over"
    );
    env.advance(Duration::from_millis(1));

    // Attempt 2 fails at T0+2s: retry 2 waits min(3, 2^2) = 3 s.
    env.until("second retry scheduled", || async {
        env.events_of(&run, "t", EventKind::Retrying).await.len() == 2
    })
    .await;
    let retry = &env.events_of(&run, "t", EventKind::Retrying).await[1];
    assert_eq!(retry.data.as_ref().unwrap()["delay_ms"], 3000);
    env.advance(Duration::from_millis(2999));
    env.settle().await;
    assert_eq!(env.task(&run, "t").await.status, TaskStatus::Queued);
    env.advance(Duration::from_millis(1));

    let done = env.finish(&run).await;
    assert_eq!(done.status, RunStatus::Completed);
    let assigned: Vec<i64> = env
        .events_of(&run, "t", EventKind::Assigned)
        .await
        .iter()
        .map(|e| e.at - T0)
        .collect();
    assert_eq!(
        assigned,
        [0, 2000, 5000],
        "each attempt starts exactly when its backoff ends"
    );
    let task = env.task(&run, "t").await;
    assert_eq!((task.attempt, task.retry_count), (3, 2));
}

pub async fn non_retryable_failure_skips_retries(b: Backend) {
    let env = Env::new(b).await;
    env.engine
        .start_worker(Worker::new("w").handle("bad-input", |_| async {
            Err(TaskError::fatal("the scale must be positive"))
        }));
    let def = wf("fatal").task(TaskDef::new("t", "bad-input").retries(5));
    let run = env.start(&def, json!({})).await;
    let done = env.finish(&run).await;
    assert_eq!(done.status, RunStatus::Failed);
    let task = env.task(&run, "t").await;
    assert_eq!((task.status, task.attempt), (TaskStatus::Failed, 1));
    assert_eq!(
        task.error.as_deref(),
        Some("the scale must be positive (not retryable)")
    );
    assert!(
        env.events_of(&run, "t", EventKind::Retrying)
            .await
            .is_empty()
    );
    assert_eq!(
        done.error.as_deref(),
        Some("t: the scale must be positive (not retryable)")
    );
}

pub async fn on_failure_sees_every_error_and_downstream_is_cancelled(b: Backend) {
    let env = Env::new(b).await;
    env.engine.start_worker(echo_worker());
    let def = wf("failing")
        .task(TaskDef::new("a", "fail"))
        .task(TaskDef::new("b", "fail"))
        .task(TaskDef::new("ok", "echo"))
        .task(TaskDef::new("after-a", "echo").parents(["a"]))
        .task(TaskDef::new("after-after-a", "echo").parents(["after-a"]))
        .on_failure(TaskDef::new("cleanup", "on-failure"));
    let run = env.start(&def, json!({})).await;
    let done = env.finish(&run).await;
    assert_eq!(done.status, RunStatus::Failed);
    assert_eq!(env.task(&run, "ok").await.status, TaskStatus::Completed);
    for name in ["after-a", "after-after-a"] {
        assert_eq!(
            env.task(&run, name).await.status,
            TaskStatus::Cancelled,
            "{name}"
        );
    }
    assert_eq!(
        env.task(&run, "after-a").await.error.as_deref(),
        Some("parent 'a' ended FAILED")
    );
    let cleanup = env.task(&run, "cleanup").await;
    assert_eq!(cleanup.status, TaskStatus::Completed);
    let mut failures = cleanup.output.unwrap()["failures"]
        .as_array()
        .unwrap()
        .clone();
    failures.sort_by_key(|f| f["task"].as_str().unwrap().to_string());
    assert_eq!(
        failures,
        vec![
            json!({"task": "a", "error": "a broke"}),
            json!({"task": "b", "error": "b broke"})
        ]
    );
}

pub async fn on_failure_is_skipped_on_success(b: Backend) {
    let env = Env::new(b).await;
    env.engine.start_worker(echo_worker());
    let def = wf("fine")
        .task(TaskDef::new("a", "echo"))
        .on_failure(TaskDef::new("cleanup", "on-failure"));
    let run = env.start(&def, json!({})).await;
    assert_eq!(env.finish(&run).await.status, RunStatus::Completed);
    let cleanup = env.task(&run, "cleanup").await;
    assert_eq!(cleanup.status, TaskStatus::Skipped);
    assert_eq!(
        env.events_of(&run, "cleanup", EventKind::Assigned)
            .await
            .len(),
        0
    );
}

/// A handler that waits to be cancelled and records that it saw the signal.
fn waiter(seen: Arc<Mutex<Vec<String>>>) -> Worker {
    Worker::new("waiter").handle("wait", move |ctx| {
        let seen = seen.clone();
        async move {
            ctx.cancelled().await;
            seen.lock()
                .unwrap()
                .push(format!("{} attempt {}", ctx.task_name(), ctx.attempt()));
            Err(TaskError::fatal("stopped"))
        }
    })
}

pub async fn cancel_during_a_run_still_runs_on_failure(b: Backend) {
    let env = Env::new(b).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    env.engine.start_worker(waiter(seen.clone()));
    env.engine.start_worker(echo_worker());
    let def = wf("cancelled")
        .task(TaskDef::new("load", "wait"))
        .task(TaskDef::new("report", "echo").parents(["load"]))
        .on_failure(TaskDef::new("destroy", "on-failure"));
    let run = env.start(&def, json!({})).await;
    env.until("load running", || async {
        env.task(&run, "load").await.status == TaskStatus::Running
    })
    .await;
    env.engine.cancel_run(run.id).await.unwrap();
    let done = env.finish(&run).await;
    assert_eq!(done.status, RunStatus::Cancelled);
    assert_eq!(env.task(&run, "load").await.status, TaskStatus::Cancelled);
    assert_eq!(env.task(&run, "report").await.status, TaskStatus::Cancelled);
    assert_eq!(
        env.task(&run, "destroy").await.status,
        TaskStatus::Completed,
        "the machines are destroyed"
    );
    env.until("handler saw the cancel", || async {
        seen.lock().unwrap().as_slice() == ["load attempt 1"]
    })
    .await;
    let kinds: Vec<EventKind> = env.events(&run).await.iter().map(|e| e.kind).collect();
    assert!(
        kinds.contains(&EventKind::CancelRequested)
            && kinds.last() == Some(&EventKind::RunCancelled),
        "{kinds:?}"
    );
}

pub async fn cancel_one_task_cancels_its_downstream(b: Backend) {
    let env = Env::new(b).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    env.engine.start_worker(waiter(seen.clone()));
    env.engine.start_worker(echo_worker());
    let def = wf("one")
        .task(TaskDef::new("slow", "wait"))
        .task(TaskDef::new("next", "echo").parents(["slow"]))
        .task(TaskDef::new("other", "echo"))
        .on_failure(TaskDef::new("destroy", "on-failure"));
    let run = env.start(&def, json!({})).await;
    env.until("slow running", || async {
        env.task(&run, "slow").await.status == TaskStatus::Running
    })
    .await;
    let slow = env.task(&run, "slow").await;
    env.engine.cancel_task(slow.id).await.unwrap();
    let done = env.finish(&run).await;
    assert_eq!(done.status, RunStatus::Cancelled);
    assert_eq!(env.task(&run, "next").await.status, TaskStatus::Cancelled);
    assert_eq!(env.task(&run, "other").await.status, TaskStatus::Completed);
    // A person cancelled a task: clean up as after a failure.
    assert_eq!(
        env.task(&run, "destroy").await.status,
        TaskStatus::Completed
    );
    env.until("handler saw the cancel", || async {
        !seen.lock().unwrap().is_empty()
    })
    .await;
}

pub async fn schedule_timeout_cancels_a_task_nobody_takes(b: Backend) {
    let env = Env::manual(b).await;
    let def = wf("orphan").task(
        TaskDef::new("t", "nobody-implements-this").schedule_timeout(Duration::from_secs(60)),
    );
    let run = env.start(&def, json!({})).await;
    env.advance(Duration::from_secs(59));
    env.settle().await;
    assert_eq!(env.task(&run, "t").await.status, TaskStatus::Queued);
    env.advance(Duration::from_secs(1));
    let done = env.finish(&run).await;
    assert_eq!(done.status, RunStatus::Cancelled);
    let task = env.task(&run, "t").await;
    assert_eq!(task.status, TaskStatus::Cancelled);
    assert_eq!(
        task.error.as_deref(),
        Some("schedule timeout: still QUEUED after 1m")
    );
}

pub async fn execution_timeout_fails_the_attempt_and_stops_the_handler(b: Backend) {
    let env = Env::manual(b).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    // Attempt 1 hangs until told to stop; attempt 2 finishes at once.
    env.engine
        .start_worker(Worker::new("w").handle("hang-once", move |ctx| {
            let record = record.clone();
            async move {
                if ctx.attempt() == 1 {
                    ctx.cancelled().await;
                    record.lock().unwrap().push("attempt 1 told to stop");
                    return Err(TaskError::fatal("stopped"));
                }
                Ok(json!("done"))
            }
        }));
    let def = wf("timeout").task(
        TaskDef::new("t", "hang-once")
            .retries(1)
            .execution_timeout(Duration::from_secs(10)),
    );
    let run = env.start(&def, json!({})).await;
    env.until("attempt 1 running", || async {
        env.task(&run, "t").await.status == TaskStatus::Running
    })
    .await;
    env.advance(Duration::from_secs(10));
    let done = env.finish(&run).await;
    assert_eq!(done.status, RunStatus::Completed);
    let timed_out = env.events_of(&run, "t", EventKind::TimedOut).await;
    assert_eq!(timed_out.len(), 1);
    assert_eq!(timed_out[0].attempt, Some(1));
    assert_eq!(
        timed_out[0].message.as_deref(),
        Some("execution timeout: attempt 1 ran longer than 10s")
    );
    assert_eq!(env.task(&run, "t").await.attempt, 2);
    env.until("handler told to stop", || async {
        seen.lock().unwrap().len() == 1
    })
    .await;
}

pub async fn refresh_timeout_extends_the_deadline(b: Backend) {
    let env = Env::manual(b).await;
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    env.engine
        .start_worker(Worker::new("w").handle("long", move |ctx| {
            let mut go = go_rx.clone();
            async move {
                ctx.refresh_timeout(Duration::from_secs(60))
                    .await
                    .map_err(TaskError::from)?;
                ctx.log("refreshed");
                let _ = go.wait_for(|g| *g).await;
                Ok(json!({"attempt": ctx.attempt()}))
            }
        }));
    let def =
        wf("refresh").task(TaskDef::new("t", "long").execution_timeout(Duration::from_secs(10)));
    let run = env.start(&def, json!({})).await;
    env.until("deadline refreshed", || async {
        env.events_of(&run, "t", EventKind::TimeoutRefreshed)
            .await
            .len()
            == 1
    })
    .await;
    let refreshed = env.events_of(&run, "t", EventKind::TimeoutRefreshed).await;
    assert_eq!(
        refreshed[0].data.as_ref().unwrap()["deadline"],
        T0 + 10_000 + 60_000
    );
    env.advance(Duration::from_secs(30)); // past the original 10 s, within the refreshed 70 s
    env.settle().await;
    assert_eq!(env.task(&run, "t").await.status, TaskStatus::Running);
    go_tx.send(true).unwrap();
    let done = env.finish(&run).await;
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(done.output.unwrap()["t"]["attempt"], 1);
    assert!(
        env.events_of(&run, "t", EventKind::TimedOut)
            .await
            .is_empty()
    );
}

fn fake_worker(name: &str, action: &str) -> WorkerInfo {
    WorkerInfo {
        id: uuid::Uuid::now_v7(),
        name: name.into(),
        kind: "agent".into(),
        actions: vec![action.into()],
        labels: Default::default(),
        slots: 4,
        run_scope: None,
        host: None,
    }
}

pub async fn stale_completion_is_refused(b: Backend) {
    let env = Env::manual(b).await;
    let store = env.store().clone();
    let def = wf("stale").task(
        TaskDef::new("t", "remote")
            .retries(1)
            .execution_timeout(Duration::from_secs(5)),
    );
    let run = env.start(&def, json!({})).await;
    let worker = fake_worker("remote-1", "remote");
    store.register_worker(&worker, T0).await.unwrap();
    let first = store.claim(&worker, 1, T0).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].attempt, 1);

    // Attempt 1 times out and the task is queued again as attempt 2.
    env.advance(Duration::from_secs(5));
    env.engine.sweep().await.unwrap();
    let task = env.task(&run, "t").await;
    assert_eq!((task.status, task.attempt), (TaskStatus::Queued, 2));
    let events_before = env.events(&run).await;

    // The late answer of attempt 1 changes nothing.
    let (fence, change) = store
        .report(
            task.id,
            1,
            AttemptResult::Completed {
                output: json!("late"),
            },
            env.engine.now(),
        )
        .await
        .unwrap();
    assert_eq!(fence, Fence::Stale);
    assert!(change.is_empty());
    assert_eq!(env.task(&run, "t").await, task);
    assert_eq!(env.events(&run).await, events_before);

    // Attempt 2 is the one that counts.
    let second = store.claim(&worker, 1, env.engine.now()).await.unwrap();
    assert_eq!(second[0].attempt, 2);
    let (fence, _) = store
        .report(
            task.id,
            2,
            AttemptResult::Completed {
                output: json!("on time"),
            },
            env.engine.now(),
        )
        .await
        .unwrap();
    assert_eq!(fence, Fence::Accepted);
    let done = env.finish(&run).await;
    assert_eq!(done.output.unwrap()["t"], "on time");
}

pub async fn lost_worker_tasks_are_reassigned(b: Backend) {
    let env = Env::new(b).await; // worker timeout 2 s on the system clock
    let store = env.store().clone();
    let def = wf("lost").task(
        TaskDef::new("t", "remote")
            .retries(1)
            .execution_timeout(Duration::from_secs(3600)),
    );
    let run = env.start(&def, json!({})).await;
    let silent = fake_worker("silent", "remote");
    store
        .register_worker(&silent, env.engine.now())
        .await
        .unwrap();
    let claimed = store.claim(&silent, 1, env.engine.now()).await.unwrap();
    assert_eq!(claimed.len(), 1);
    // The worker never heart-beats again.
    env.until("task reassigned", || async {
        env.task(&run, "t").await.status == TaskStatus::Queued
    })
    .await;
    let task = env.task(&run, "t").await;
    assert_eq!(
        (task.attempt, task.retry_count),
        (2, 1),
        "a lost attempt uses up a retry"
    );
    let reassigned = env.events_of(&run, "t", EventKind::Reassigned).await;
    assert_eq!(reassigned.len(), 1);
    assert_eq!(
        reassigned[0].data.as_ref().unwrap()["worker"],
        json!(silent.id)
    );
    // The lost worker learns on its next heartbeat that it is out.
    let e = store
        .heartbeat(silent.id, &[(task.id, 1)], env.engine.now())
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NotFound(_)), "{e}");
    // Another worker takes it over.
    let healthy = fake_worker("healthy", "remote");
    store
        .register_worker(&healthy, env.engine.now())
        .await
        .unwrap();
    let taken = store.claim(&healthy, 1, env.engine.now()).await.unwrap();
    assert_eq!(taken[0].attempt, 2);
    assert_eq!(
        store
            .heartbeat(healthy.id, &[(task.id, 2)], env.engine.now())
            .await
            .unwrap(),
        vec![]
    );
    // That worker is lost too, and no retries are left: the task fails, saying why.
    env.until("task failed", || async {
        env.task(&run, "t").await.status == TaskStatus::Failed
    })
    .await;
    let task = env.task(&run, "t").await;
    assert_eq!(
        task.error.as_deref(),
        Some("attempt 2 was lost: its worker stopped heart-beating (no retries left)")
    );
    assert_eq!(env.finish(&run).await.status, RunStatus::Failed);
}

pub async fn a_worker_that_leaves_hands_its_tasks_back_without_using_a_retry(b: Backend) {
    let env = Env::manual(b).await;
    let store = env.store().clone();
    let def = wf("handback")
        .task(TaskDef::new("t", "remote").execution_timeout(Duration::from_secs(3600)));
    let run = env.start(&def, json!({})).await;
    let leaving = fake_worker("leaving", "remote");
    store.register_worker(&leaving, T0).await.unwrap();
    assert_eq!(store.claim(&leaving, 1, T0).await.unwrap().len(), 1);
    let changes = store.deregister_worker(leaving.id, T0 + 10).await.unwrap();
    assert!(
        changes.iter().any(|c| c.queued),
        "the handed-back task is queued at once"
    );
    let task = env.task(&run, "t").await;
    assert_eq!(
        (task.status, task.attempt, task.retry_count),
        (TaskStatus::Queued, 2, 0)
    );
    let reassigned = env.events_of(&run, "t", EventKind::Reassigned).await;
    assert_eq!(
        reassigned[0].message.as_deref(),
        Some("its worker left and handed it back")
    );
}

pub async fn an_attempt_its_worker_does_not_list_is_reassigned(b: Backend) {
    let env = Env::manual(b).await;
    let store = env.store().clone();
    let def = wf("abandoned").task(
        TaskDef::new("t", "remote")
            .retries(1)
            .execution_timeout(Duration::from_secs(3600)),
    );
    let run = env.start(&def, json!({})).await;
    let agent = fake_worker("restarted-agent", "remote");
    store.register_worker(&agent, T0).await.unwrap();
    let claimed = store.claim(&agent, 1, T0).await.unwrap();
    assert_eq!(claimed.len(), 1);
    // Soon after the claim, an unlisted attempt may still be on its way: left alone.
    store.heartbeat(agent.id, &[], T0 + 1_000).await.unwrap();
    assert_eq!(env.task(&run, "t").await.status, TaskStatus::Running);
    // Much later the agent (restarted, same id) still does not run it: reassigned.
    env.advance(Duration::from_secs(31));
    store
        .heartbeat(agent.id, &[], env.engine.now())
        .await
        .unwrap();
    let task = env.task(&run, "t").await;
    assert_eq!(
        (task.status, task.attempt, task.retry_count),
        (TaskStatus::Queued, 2, 1)
    );
    let reassigned = env.events_of(&run, "t", EventKind::Reassigned).await;
    assert_eq!(
        reassigned[0].message.as_deref(),
        Some("its worker no longer runs it")
    );
}

pub async fn parent_conditions_skip_and_children_follow(b: Backend) {
    let env = Env::new(b).await;
    env.engine.start_worker(
        echo_worker().handle("decide", |_| async { Ok(json!({"go": false, "rows": 7})) }),
    );
    let when = |expr: &str| {
        vec![Condition::Parent {
            parent: "decide".into(),
            expression: expr.into(),
        }]
    };
    let def = wf("branches")
        .task(TaskDef::new("decide", "decide"))
        .task(
            TaskDef::new("skipped", "echo")
                .parents(["decide"])
                .skip_if(when("output.go == false")),
        )
        .task(TaskDef::new("child-of-skipped", "echo").parents(["skipped"]))
        .task(TaskDef {
            run_if_parent_skipped: true,
            ..TaskDef::new("runs-anyway", "echo").parents(["skipped"])
        })
        .task(
            TaskDef::new("waits-for-rows", "echo")
                .parents(["decide"])
                .wait_for(when("output.rows > 5")),
        )
        .task(
            TaskDef::new("never", "echo")
                .parents(["decide"])
                .wait_for(when("output.rows > 100")),
        );
    let run = env.start(&def, json!({})).await;
    let done = env.finish(&run).await;
    assert_eq!(done.status, RunStatus::Completed, "{:?}", done.error);
    let status = |name: &'static str| {
        let env = &env;
        let run = &run;
        async move { env.task(run, name).await.status }
    };
    assert_eq!(status("skipped").await, TaskStatus::Skipped);
    assert_eq!(
        env.task(&run, "skipped").await.output,
        Some(json!({"skipped": true}))
    );
    assert_eq!(status("child-of-skipped").await, TaskStatus::Skipped);
    assert_eq!(status("runs-anyway").await, TaskStatus::Completed);
    assert_eq!(status("waits-for-rows").await, TaskStatus::Completed);
    assert_eq!(status("never").await, TaskStatus::Skipped);
    let skipped = env.events_of(&run, "never", EventKind::Skipped).await;
    assert_eq!(
        skipped[0].message.as_deref(),
        Some("wait_for can never be satisfied")
    );
}

pub async fn cancel_if_cancels(b: Backend) {
    let env = Env::new(b).await;
    env.engine.start_worker(echo_worker());
    let def = wf("cancel-if").task(TaskDef::new("a", "echo")).task(
        TaskDef::new("b", "echo")
            .parents(["a"])
            .cancel_if(vec![Condition::Parent {
                parent: "a".into(),
                expression: "input.abort == true".into(),
            }]),
    );
    let run = env.start(&def, json!({"abort": true})).await;
    let done = env.finish(&run).await;
    assert_eq!(env.task(&run, "b").await.status, TaskStatus::Cancelled);
    assert_eq!(
        env.task(&run, "b").await.error.as_deref(),
        Some("cancel_if held")
    );
    assert_eq!(done.status, RunStatus::Cancelled);
}

pub async fn sleep_condition_waits_on_the_clock(b: Backend) {
    let env = Env::manual(b).await;
    env.engine.start_worker(echo_worker());
    let def = wf("sleepy").task(TaskDef::new("a", "echo")).task(
        TaskDef::new("b", "echo")
            .parents(["a"])
            .wait_for(vec![Condition::Sleep("30s".parse().unwrap())]),
    );
    let run = env.start(&def, json!({})).await;
    env.until("a done", || async {
        env.task(&run, "a").await.status == TaskStatus::Completed
    })
    .await;
    env.advance(Duration::from_secs(29));
    env.settle().await;
    assert_eq!(env.task(&run, "b").await.status, TaskStatus::Pending);
    assert_eq!(
        env.engine.run(run.id).await.unwrap().unwrap().wake_at,
        Some(T0 + 30_000)
    );
    env.advance(Duration::from_secs(1));
    let done = env.finish(&run).await;
    assert_eq!(done.status, RunStatus::Completed);
    let queued = env.events_of(&run, "b", EventKind::Queued).await;
    assert_eq!(queued[0].at, T0 + 30_000);
}

pub async fn desired_labels_route_tasks(b: Backend) {
    let env = Env::new(b).await;
    let handler = |who: &'static str| move |_ctx: engine::Context| async move { Ok(json!(who)) };
    env.engine.start_worker(
        Worker::new("ssd")
            .label("disk", "ssd")
            .label("cores", 8)
            .handle("bench", handler("ssd")),
    );
    env.engine.start_worker(
        Worker::new("hdd")
            .label("disk", "hdd")
            .label("cores", 2)
            .handle("bench", handler("hdd")),
    );
    let big = DesiredLabel {
        comparator: engine::definition::Comparator::GreaterOrEqual,
        ..DesiredLabel::equals(4)
    };
    let mut def = wf("routed");
    for i in 0..6 {
        def = def
            .task(
                TaskDef::new(format!("on-ssd-{i}"), "bench")
                    .label("disk", DesiredLabel::equals("ssd")),
            )
            .task(
                TaskDef::new(format!("on-hdd-{i}"), "bench")
                    .label("disk", DesiredLabel::equals("hdd")),
            )
            .task(TaskDef::new(format!("big-{i}"), "bench").label("cores", big.clone()));
    }
    let run = env.start(&def, json!({})).await;
    let output = env.finish(&run).await.output.unwrap();
    for i in 0..6 {
        assert_eq!(output[format!("on-ssd-{i}")], "ssd");
        assert_eq!(output[format!("on-hdd-{i}")], "hdd");
        assert_eq!(output[format!("big-{i}")], "ssd");
    }
}

pub async fn a_task_behind_many_for_other_workers_still_runs(b: Backend) {
    let env = Env::new(b).await;
    env.engine
        .start_worker(Worker::new("cpu").handle("bench", |_| async { Ok(json!("cpu")) }));
    let mut def = wf("starve");
    for i in 0..600 {
        def = def.task(
            TaskDef::new(format!("gpu-{i}"), "bench").label("gpu", DesiredLabel::equals(true)),
        );
    }
    def = def.task(TaskDef::new("anywhere", "bench"));
    let run = env.start(&def, json!({})).await;
    env.until("the task any worker may run has run", || async {
        env.task(&run, "anywhere").await.status == TaskStatus::Completed
    })
    .await;
    assert_eq!(
        env.task(&run, "gpu-0").await.status,
        TaskStatus::Queued,
        "no GPU worker"
    );
    env.engine.cancel_run(run.id).await.unwrap();
    assert_eq!(env.finish(&run).await.status, RunStatus::Cancelled);
}

pub async fn logs_are_stored_in_order_without_a_cap(b: Backend) {
    let env = Env::new(b).await;
    env.engine
        .start_worker(Worker::new("chatty").handle("chatty", |ctx| async move {
            for i in 0..2500 {
                ctx.log(format!("line {i}"));
                if i % 500 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            Ok(json!(null))
        }));
    let def = wf("logs").task(TaskDef::new("t", "chatty"));
    let run = env.start(&def, json!({})).await;
    env.finish(&run).await;
    let store = env.store();
    let mut lines = Vec::new();
    let mut after = 0;
    loop {
        let page = store.logs(run.id, None, after, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        lines.extend(page);
    }
    assert_eq!(lines.len(), 2500);
    assert!(
        lines
            .iter()
            .enumerate()
            .all(|(i, l)| l.line == format!("line {i}") && l.seq == i as i64 && l.task_name == "t")
    );
    // A batch sent again (a retry after a lost answer) is not stored twice.
    let again: Vec<engine::model::LogLine> = lines[..10]
        .iter()
        .map(|l| engine::model::LogLine {
            run_id: l.run_id,
            task_id: l.task_id,
            attempt: l.attempt,
            seq: l.seq,
            at: l.at,
            line: l.line.clone(),
        })
        .collect();
    store.append_logs(&again).await.unwrap();
    assert_eq!(
        store.logs(run.id, None, 0, 10_000).await.unwrap().len(),
        2500
    );
}

pub async fn memo_survives_a_retry(b: Backend) {
    let env = Env::new(b).await;
    let effects = Arc::new(Mutex::new(0));
    let count = effects.clone();
    env.engine
        .start_worker(Worker::new("w").handle("provision", move |ctx| {
            let count = count.clone();
            async move {
                let vm: String = ctx
                    .memo("create-vm", async {
                        *count.lock().unwrap() += 1;
                        Ok::<_, TaskError>(format!("vm-{}", ctx.attempt()))
                    })
                    .await?;
                if ctx.attempt() == 1 {
                    return Err(TaskError::retryable(
                        "network blip after the VM was created",
                    ));
                }
                Ok(json!({"vm": vm}))
            }
        }));
    let def = wf("memo").task(TaskDef::new("t", "provision").retries(1));
    let run = env.start(&def, json!({})).await;
    let done = env.finish(&run).await;
    assert_eq!(
        done.output.unwrap()["t"]["vm"],
        "vm-1",
        "attempt 2 got attempt 1's recorded result"
    );
    assert_eq!(*effects.lock().unwrap(), 1, "the side effect ran once");
}

pub async fn restart_mid_dag_completes_each_task_once(b: Backend) {
    let mut env = Env::new(b).await;
    // 20 tasks: 4 layers of 5, each task depending on the whole previous layer.
    let def = crate::layered::layered_dag("twenty", 4, 5, "step");
    let log: ExecutionLog = Arc::default();
    let worker = |log: ExecutionLog| {
        Worker::new("steps").slots(3).handle("step", move |ctx| {
            let log = log.clone();
            async move {
                log.lock()
                    .unwrap()
                    .push((ctx.task_name().to_string(), ctx.attempt(), "start"));
                tokio::time::sleep(Duration::from_millis(30)).await;
                log.lock()
                    .unwrap()
                    .push((ctx.task_name().to_string(), ctx.attempt(), "end"));
                Ok(json!({"task": ctx.task_name()}))
            }
        })
    };
    env.engine.start_worker(worker(log.clone()));
    let run = env.start(&def, json!({})).await;
    env.until("a few tasks done", || async {
        env.engine
            .tasks(run.id)
            .await
            .unwrap()
            .iter()
            .filter(|t| t.status == TaskStatus::Completed)
            .count()
            >= 6
    })
    .await;
    env.crash_and_restart().await;
    env.engine.start_worker(worker(log.clone()));
    let done = env.finish(&run).await;
    assert_eq!(done.status, RunStatus::Completed, "{:?}", done.error);

    let events = env.events(&run).await;
    let mut completed: HashMap<String, usize> = HashMap::new();
    for e in events.iter().filter(|e| e.kind == EventKind::Completed) {
        *completed.entry(e.task_name.clone().unwrap()).or_default() += 1;
    }
    assert_eq!(completed.len(), 20);
    assert!(
        completed.values().all(|&n| n == 1),
        "each task completed exactly once: {completed:?}"
    );
    // No task ran after it had completed: executions of a task other than its last attempt
    // never reached their end (they were cut off by the crash).
    let tasks = env.engine.tasks(run.id).await.unwrap();
    let log = log.lock().unwrap();
    for task in &tasks {
        let ended: Vec<i32> = log
            .iter()
            .filter(|(n, _, s)| n == &task.name && *s == "end")
            .map(|(_, a, _)| *a)
            .collect();
        assert!(
            ended.contains(&task.attempt),
            "{} completed in attempt {} ({ended:?})",
            task.name,
            task.attempt
        );
        assert!(ended.iter().all(|a| *a <= task.attempt));
    }
}

/// (task, attempt, "start" | "end") in the order handlers got there.
type ExecutionLog = Arc<Mutex<Vec<(String, i32, &'static str)>>>;

/// Children square their input; a parent spawns them (RunMany) and returns their outputs.
fn square_worker() -> Worker {
    Worker::new("square")
        .slots(64)
        .handle("square", |ctx| async move {
            let n = ctx.input()["n"].as_i64().unwrap_or(0);
            Ok(json!({ "n": n * n }))
        })
}

fn square_def() -> WorkflowDef {
    wf("square").task(TaskDef::new("sq", "square"))
}

pub async fn run_many_of_a_thousand_children_answers_outputs_in_order(b: Backend) {
    let env = Env::new(b).await;
    env.engine.start_worker(square_worker());
    env.engine.register_workflow(&square_def()).await.unwrap();
    env.engine
        .start_worker(Worker::new("fan").handle("fan", |ctx| async move {
            let children = (0..1000)
                .map(|i| Child::new(format!("child-{i}"), json!({ "n": i })))
                .collect();
            let results = ctx.run_children("square", "1", children).await?;
            Ok(json!(
                results
                    .iter()
                    .map(|r| r.output.as_ref().map(|o| o["sq"]["n"].clone()))
                    .collect::<Vec<_>>()
            ))
        }));
    let def =
        wf("fan-out").task(TaskDef::new("fan", "fan").execution_timeout(Duration::from_secs(300)));
    let run = env.start(&def, json!({})).await;
    let done = env.finish(&run).await;
    assert_eq!(done.status, RunStatus::Completed, "{:?}", done.error);
    let outputs = done.output.unwrap()["fan"].clone();
    let expected: Vec<i64> = (0..1000).map(|i| i * i).collect();
    assert_eq!(
        outputs,
        json!(expected),
        "outputs in the order the children were given"
    );
    let fan = env.task(&run, "fan").await;
    let children = env.store().child_runs(run.id, Some(fan.id)).await.unwrap();
    assert_eq!(children.len(), 1000);
    assert!(children.iter().all(|c| c.status == RunStatus::Completed));
    let parent = children[7].parent.as_ref().unwrap();
    assert_eq!(
        (
            parent.run_id,
            parent.task_id,
            parent.key.as_str(),
            parent.index
        ),
        (run.id, fan.id, "child-7", 7)
    );
}

pub async fn a_parent_executed_again_finds_its_children_instead_of_spawning_twice(b: Backend) {
    let env = Env::new(b).await;
    env.engine.start_worker(square_worker());
    env.engine.register_workflow(&square_def()).await.unwrap();
    let spawned: Arc<Mutex<Vec<Vec<uuid::Uuid>>>> = Arc::default();
    let seen = spawned.clone();
    env.engine
        .start_worker(Worker::new("flaky-parent").handle("spawn", move |ctx| {
            let seen = seen.clone();
            async move {
                let children = (0..3)
                    .map(|i| Child::new(format!("k{i}"), json!({ "n": i })))
                    .collect();
                let runs = ctx.spawn_children("square", "1", children).await?;
                seen.lock()
                    .unwrap()
                    .push(runs.iter().map(|r| r.id).collect());
                if ctx.attempt() == 1 {
                    // As if the parent crashed right after spawning.
                    return Err(TaskError::retryable("crashed after spawning"));
                }
                let results = ctx.wait_children(&runs).await?;
                Ok(json!(results.len()))
            }
        }));
    let def = wf("respawn").task(TaskDef::new("p", "spawn").retries(1));
    let run = env.start(&def, json!({})).await;
    let done = env.finish(&run).await;
    assert_eq!(done.status, RunStatus::Completed, "{:?}", done.error);
    let spawned = spawned.lock().unwrap().clone();
    assert_eq!(spawned.len(), 2, "two attempts");
    assert_eq!(
        spawned[0], spawned[1],
        "the second attempt got the same child runs"
    );
    let p = env.task(&run, "p").await;
    assert_eq!(
        env.store()
            .child_runs(run.id, Some(p.id))
            .await
            .unwrap()
            .len(),
        3
    );
}

pub async fn cancelling_a_parent_cancels_its_children(b: Backend) {
    let env = Env::new(b).await;
    env.engine.start_worker(
        Worker::new("waiter")
            .slots(8)
            .handle("wait", |ctx| async move {
                ctx.cancelled().await;
                Err(TaskError::retryable("stopped"))
            }),
    );
    env.engine
        .register_workflow(
            &wf("idle").task(TaskDef::new("w", "wait").execution_timeout(Duration::from_secs(600))),
        )
        .await
        .unwrap();
    env.engine
        .start_worker(Worker::new("parent").handle("spawn", |ctx| async move {
            let children = (0..3)
                .map(|i| Child::new(format!("k{i}"), json!({})))
                .collect();
            ctx.run_children("idle", "1", children).await?;
            Ok(json!({}))
        }));
    let def =
        wf("parent").task(TaskDef::new("p", "spawn").execution_timeout(Duration::from_secs(600)));
    let run = env.start(&def, json!({})).await;
    env.until("children running", || async {
        let kids = env.store().child_runs(run.id, None).await.unwrap();
        kids.len() == 3 && kids.iter().all(|k| k.status == RunStatus::Running)
    })
    .await;
    env.engine.cancel_run(run.id).await.unwrap();
    assert_eq!(env.finish(&run).await.status, RunStatus::Cancelled);
    for kid in env.store().child_runs(run.id, None).await.unwrap() {
        let kid = env
            .engine
            .wait_for_run(kid.id, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(kid.status, RunStatus::Cancelled, "{kid:?}");
    }
}

pub async fn input_from_hands_an_ancestors_output_to_a_task(b: Backend) {
    let env = Env::new(b).await;
    env.engine
        .start_worker(echo_worker().handle("plan", |_| async move {
            Ok(json!({ "db": { "host": "127.0.0.5", "port": 5433 } }))
        }));
    let def = wf("handoff")
        .task(TaskDef::new("plan", "plan"))
        .task(TaskDef {
            with: Some(json!({ "port": 6000, "user": "bench" })),
            ..TaskDef::new("use", "echo")
                .parents(["plan"])
                .input_from("plan.db")
        });
    let run = env.start(&def, json!({ "ignored": true })).await;
    let done = env.finish(&run).await;
    assert_eq!(done.status, RunStatus::Completed, "{:?}", done.error);
    assert_eq!(
        done.output.unwrap()["use"]["input"],
        json!({ "host": "127.0.0.5", "port": 6000, "user": "bench" })
    );
    let bad = wf("bad-handoff")
        .task(TaskDef::new("a", "echo"))
        .task(TaskDef::new("b", "echo").input_from("a"));
    let e = env.engine.register_workflow(&bad).await.unwrap_err();
    assert!(e.to_string().contains("input_from"), "{e}");
}

pub async fn records_are_replaced_whole_and_kept_per_namespace(b: Backend) {
    let env = Env::manual(b).await;
    let store = env.store().clone();
    store
        .put_record("baseline", "nightly", &json!({"suite": "a"}), T0)
        .await
        .unwrap();
    store
        .put_record("baseline", "nightly", &json!({"suite": "b"}), T0 + 5)
        .await
        .unwrap();
    store
        .put_record("other", "nightly", &json!(1), T0)
        .await
        .unwrap();
    let got = store.record("baseline", "nightly").await.unwrap().unwrap();
    assert_eq!((got.value, got.updated_at), (json!({"suite": "b"}), T0 + 5));
    let all = store.records("baseline").await.unwrap();
    assert_eq!(all.len(), 1);
    assert!(store.record("baseline", "none").await.unwrap().is_none());
    assert!(store.delete_record("baseline", "nightly").await.unwrap());
    assert!(!store.delete_record("baseline", "nightly").await.unwrap());
    assert_eq!(store.records("other").await.unwrap().len(), 1);
}

pub async fn leases_are_exclusive_and_quotas_are_never_exceeded(b: Backend) {
    use engine::store::{Lease, LeaseLimit};
    let env = Env::manual(b).await;
    let store = env.store().clone();
    let lease = |key: &str, holder: &str, cores: i64| Lease {
        kind: "machine".into(),
        key: key.into(),
        holder: holder.into(),
        amount: cores,
        data: None,
    };
    let quota = Some(LeaseLimit {
        count: 3,
        amount: 8,
    });
    assert!(
        store
            .acquire_lease(&lease("a", "run-1", 4), quota, T0)
            .await
            .unwrap()
    );
    assert!(
        store
            .acquire_lease(&lease("a", "run-1", 4), quota, T0)
            .await
            .unwrap(),
        "taking it again is harmless"
    );
    assert!(
        !store
            .acquire_lease(&lease("a", "run-2", 1), quota, T0)
            .await
            .unwrap(),
        "held by another"
    );
    assert!(
        store
            .acquire_lease(&lease("b", "run-2", 4), quota, T0)
            .await
            .unwrap()
    );
    assert!(
        !store
            .acquire_lease(&lease("c", "run-3", 1), quota, T0)
            .await
            .unwrap(),
        "cores: 4 + 4 + 1 > 8"
    );
    // Many concurrent takers of a quota of 3 machines: exactly as many as fit get one.
    store.release_lease("machine", "a").await.unwrap();
    store.release_lease("machine", "b").await.unwrap();
    let takers = (0..12).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .acquire_lease(&lease(&format!("m{i}"), &format!("run-{i}"), 1), quota, T0)
                .await
                .unwrap()
        })
    });
    let mut granted = 0;
    for t in takers {
        granted += usize::from(t.await.unwrap());
    }
    assert_eq!(granted, 3);
    assert_eq!(store.leases(Some("machine"), None).await.unwrap().len(), 3);
}

pub async fn event_conditions_hold_in_or_groups_and_ed_together(b: Backend) {
    let env = Env::new(b).await;
    env.engine.start_worker(echo_worker());
    let event = |key: &str, expression: Option<&str>| Condition::Event {
        key: key.into(),
        expression: expression.map(Into::into),
    };
    let def = wf("gated").task(TaskDef {
        wait_for: vec![
            vec![
                event("approve", Some("payload.ok == true")),
                event("override", None),
            ],
            vec![event("window-open", None)],
        ],
        ..TaskDef::new("gate", "echo")
    });
    let run = env.start(&def, json!({})).await;
    env.engine
        .push_event("approve", json!({"ok": false}), json!({}))
        .await
        .unwrap();
    env.engine
        .push_event("window-open", json!({}), json!({}))
        .await
        .unwrap();
    env.settle().await;
    assert_eq!(
        env.task(&run, "gate").await.status,
        TaskStatus::Pending,
        "the first group does not hold yet"
    );
    env.engine
        .push_event("approve", json!({"ok": true}), json!({}))
        .await
        .unwrap();
    let done = env.finish(&run).await;
    assert_eq!(done.status, RunStatus::Completed, "{:?}", done.error);
}

pub async fn on_events_start_the_matching_workflows(b: Backend) {
    let env = Env::new(b).await;
    env.engine.start_worker(echo_worker());
    let mut def = wf("on-bench").task(TaskDef::new("t", "echo"));
    def.on_events = serde_json::from_value(
        json!(["bench.*.done", {"key": "deploy", "filter": "payload.env == 'prod'"}]),
    )
    .unwrap();
    env.engine.register_workflow(&def).await.unwrap();
    let pushed = env
        .engine
        .push_event("bench.pg16.done", json!({"tps": 1234}), json!({}))
        .await
        .unwrap();
    assert_eq!(pushed.started.len(), 1);
    let run = env
        .engine
        .wait_for_run(pushed.started[0], Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        run.input,
        json!({"tps": 1234}),
        "the payload is the run's input"
    );
    assert!(
        env.engine
            .push_event("bench.pg16.started", json!({}), json!({}))
            .await
            .unwrap()
            .started
            .is_empty()
    );
    assert!(
        env.engine
            .push_event("deploy", json!({"env": "dev"}), json!({}))
            .await
            .unwrap()
            .started
            .is_empty()
    );
    assert_eq!(
        env.engine
            .push_event("deploy", json!({"env": "prod"}), json!({}))
            .await
            .unwrap()
            .started
            .len(),
        1
    );
    let mut bad = wf("bad-filter").task(TaskDef::new("t", "echo"));
    bad.on_events =
        serde_json::from_value(json!([{"key": "x", "filter": "payload.env =="}])).unwrap();
    let e = env.engine.register_workflow(&bad).await.unwrap_err();
    assert!(e.to_string().contains("filter"), "{e}");
}

pub async fn a_cron_fires_once_per_tick_with_two_engines_on_one_store(b: Backend) {
    use engine::store::RunFilter;
    let env = Env::manual(b).await;
    let clock = env.clock.clone().unwrap();
    let other = engine::Engine::with(
        env.store().clone(),
        env.engine.bus().clone(),
        clock,
        crate::harness::fast_config(),
    );
    let mut def = wf("ticker").task(TaskDef::new("t", "nobody-runs-this"));
    def.on_crons = vec!["* * * * * *".into()];
    env.engine.register_workflow(&def).await.unwrap();
    let runs = |workflow: &'static str| {
        let store = env.store().clone();
        async move {
            store
                .list_runs(&RunFilter {
                    workflow: Some(workflow.into()),
                    limit: 1000,
                    ..RunFilter::default()
                })
                .await
                .unwrap()
                .len()
        }
    };
    for tick in 1..=5 {
        env.advance(Duration::from_secs(1));
        let (a, b) = tokio::join!(env.engine.sweep(), other.sweep());
        a.unwrap();
        b.unwrap();
        env.settle().await;
        assert_eq!(
            runs("ticker").await,
            tick,
            "one run per tick, with two engines sweeping"
        );
    }
    // Down for ten seconds: the missed ticks are not caught up, the next one fires.
    env.advance(Duration::from_secs(10));
    env.settle().await;
    assert_eq!(runs("ticker").await, 6);
    let crons = env.store().crons().await.unwrap();
    assert_eq!(crons.len(), 1);
    assert!(env.store().delete_cron(crons[0].id).await.unwrap());
    env.advance(Duration::from_secs(3));
    env.settle().await;
    assert_eq!(runs("ticker").await, 6, "a deleted cron fires no more");

    // A one-off scheduled run starts once, when due.
    let once = wf("once").task(TaskDef::new("t", "nobody-runs-this"));
    env.engine.register_workflow(&once).await.unwrap();
    let at = env.engine.now() + 1_500;
    env.engine
        .schedule_run("once", "1", json!({"n": 1}), at)
        .await
        .unwrap();
    env.settle().await;
    assert_eq!(runs("once").await, 0, "not yet due");
    env.advance(Duration::from_secs(2));
    let (a, b) = tokio::join!(env.engine.sweep(), other.sweep());
    a.unwrap();
    b.unwrap();
    env.settle().await;
    assert_eq!(runs("once").await, 1);
    let bad = env
        .engine
        .create_cron("bad", "once", "1", "every tuesday", json!({}))
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("every tuesday"), "{bad}");
}
