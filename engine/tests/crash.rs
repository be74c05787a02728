//! A real process running a long DAG is killed with SIGKILL part-way and started again on
//! the same database: the run completes, every task completes exactly once, and no task that
//! had completed before the kill runs again (its side effect is not repeated).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use engine::model::{EventKind, RunId, RunStatus, TaskStatus};
use engine::store::{self, DatabaseTarget, Store};

const FIXTURE: &str = env!("CARGO_BIN_EXE_engine-crash-fixture");

fn spawn(mode: &str, database: &str, effects: &std::path::Path) -> Child {
    Command::new(FIXTURE)
        .args([mode, database])
        .arg(effects)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the crash fixture")
}

fn kill(mut child: Child) {
    child.kill().expect("SIGKILL the fixture");
    child.wait().unwrap();
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn killed_mid_dag_resumes(database: &str) {
    let dir = tempfile::tempdir().unwrap();
    let effects = dir.path().join("effects.log");
    let target = DatabaseTarget::from_url(Some(database), dir.path()).unwrap();

    let mut first = spawn("start", database, &effects);
    let mut line = String::new();
    BufReader::new(first.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let run_id: RunId = line.trim().parse().expect("the fixture prints the run id");
    let store = store::connect(&target).await.unwrap();

    let completed = async |store: &dyn Store| -> HashSet<String> {
        let tasks = store.tasks(run_id).await.unwrap();
        tasks
            .into_iter()
            .filter(|t| t.status == TaskStatus::Completed)
            .map(|t| t.name)
            .collect()
    };
    until("some tasks completed", async || {
        completed(store.as_ref()).await.len() >= 8
    })
    .await;
    kill(first);
    let done_before_kill = completed(store.as_ref()).await;
    assert!(done_before_kill.len() < 30, "the kill came part-way");

    let second = spawn("resume", database, &effects);
    until("the run ended", async || {
        store
            .run(run_id)
            .await
            .unwrap()
            .unwrap()
            .status
            .is_terminal()
    })
    .await;
    kill(second);

    let run = store.run(run_id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let events = store.events(run_id, 0).await.unwrap();
    let mut completions: HashMap<String, usize> = HashMap::new();
    for e in events.iter().filter(|e| e.kind == EventKind::Completed) {
        *completions.entry(e.task_name.clone().unwrap()).or_default() += 1;
    }
    assert_eq!(completions.len(), 30);
    assert!(completions.values().all(|&n| n == 1), "{completions:?}");

    let log = std::fs::read_to_string(&effects).unwrap();
    let mut effects_by_task: HashMap<&str, Vec<i32>> = HashMap::new();
    for line in log.lines() {
        let (task, attempt) = line.split_once(' ').unwrap();
        effects_by_task
            .entry(task)
            .or_default()
            .push(attempt.parse().unwrap());
    }
    let tasks = store.tasks(run_id).await.unwrap();
    for task in &tasks {
        let seen = &effects_by_task[task.name.as_str()];
        if done_before_kill.contains(&task.name) {
            assert_eq!(
                seen,
                &[task.attempt],
                "{} completed before the kill and ran again",
                task.name
            );
        }
        // The completing attempt's effect is there exactly once, and nothing after it.
        assert_eq!(
            seen.iter().filter(|a| **a == task.attempt).count(),
            1,
            "{}: {seen:?}",
            task.name
        );
        assert!(
            seen.iter().all(|a| *a <= task.attempt),
            "{}: {seen:?}",
            task.name
        );
    }
    store.close().await;
}

#[tokio::test]
async fn sqlite_process_killed_mid_dag_resumes_without_repeating_completed_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("crash.db").display());
    killed_mid_dag_resumes(&url).await;
}

#[tokio::test]
async fn postgres_process_killed_mid_dag_resumes_without_repeating_completed_tasks() {
    let db = ratchet_test_support::test_database().await;
    killed_mid_dag_resumes(db.url()).await;
}
