//! Dispatch boundaries: what an edge agent is never handed, and whose an attempt was.

use std::collections::BTreeMap;
use std::time::Duration;

use engine::Worker;
use engine::definition::{TaskDef, WorkflowDef};
use engine::model::{RunStatus, TokenRecord, WorkerInfo};
use serde_json::json;

use crate::harness::{Backend, Env};

fn agent(name: &str, actions: &[&str], run_scope: Option<uuid::Uuid>) -> WorkerInfo {
    WorkerInfo {
        id: uuid::Uuid::now_v7(),
        name: name.into(),
        kind: engine::model::WORKER_AGENT.into(),
        actions: actions.iter().map(|a| a.to_string()).collect(),
        labels: Default::default(),
        slots: 4,
        run_scope,
        host: None,
    }
}

/// A task of an in-process action never goes to an agent, whatever the agent says it
/// implements (its handler holds the server's own state).
pub async fn agents_are_never_handed_in_process_actions(b: Backend) {
    let env = Env::new(b).await;
    let (release_tx, release) = tokio::sync::watch::channel(false);
    env.engine.start_worker(
        Worker::new("server")
            .slots(1)
            .handle("server.step", move |_| {
                let mut release = release.clone();
                async move {
                    let _ = release.wait_for(|go| *go).await;
                    Ok(json!("in-process"))
                }
            }),
    );
    let def = WorkflowDef::new("own-steps").task(TaskDef::new("t", "server.step"));
    let runs = [
        env.start(&def, json!({})).await,
        env.start(&def, json!({})).await,
        env.start(&def, json!({})).await,
    ];
    let rogue = agent("rogue", &["server.step"], None);
    env.engine.register_remote(&rogue).await.unwrap();
    for _ in 0..3 {
        let answer = env
            .engine
            .poll_remote(&rogue, &[], 4, Duration::from_millis(100))
            .await
            .unwrap();
        assert!(answer.assignments.is_empty(), "{:?}", answer.assignments);
    }
    release_tx.send(true).unwrap();
    for run in &runs {
        let done = env.finish(run).await;
        assert_eq!(done.status, RunStatus::Completed);
        assert_eq!(done.output.unwrap()["t"], "in-process");
    }
}

/// A run bound to its own agents (an enrollment token for it exists: its machines') is
/// theirs alone; other runs are anyone's. Whose an attempt was is known afterwards from its
/// ASSIGNED event.
pub async fn a_bound_runs_tasks_go_only_to_its_agents(b: Backend) {
    let env = Env::manual(b).await;
    let store = env.store().clone();
    let def = WorkflowDef::new("machines").task(TaskDef::new("t", "remote"));
    let bound = env.start(&def, json!({})).await;
    let open = env.start(&def, json!({})).await;
    store
        .put_token(&TokenRecord {
            id: uuid::Uuid::now_v7(),
            kind: "enrollment".into(),
            name: "the run's machines".into(),
            token_hash: uuid::Uuid::new_v4().to_string(),
            scopes: Vec::new(),
            labels: BTreeMap::new(),
            run_id: Some(bound.id),
            worker_id: None,
            created_at: env.engine.now(),
            expires_at: None,
            revoked_at: None,
        })
        .await
        .unwrap();
    let stranger = agent("stranger", &["remote"], None);
    let own = agent("own", &["remote"], Some(bound.id));
    for w in [&stranger, &own] {
        store.register_worker(w, env.engine.now()).await.unwrap();
    }
    let got = store.claim(&stranger, 4, env.engine.now()).await.unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].run_id, open.id,
        "the stranger gets the open run only"
    );
    let got = store.claim(&own, 4, env.engine.now()).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].run_id, bound.id);

    let task = env.task(&bound, "t").await;
    assert_eq!(
        store.attempt_worker(task.id, 1).await.unwrap(),
        Some(own.id)
    );
    assert_eq!(store.attempt_worker(task.id, 2).await.unwrap(), None);
    assert_eq!(store.attempt_worker(task.id, 0).await.unwrap(), None);
}

/// A run's tokens (its machines' enrollment and session tokens) are revoked together;
/// a session's expiry moves while it is in use.
pub async fn a_runs_tokens_are_revoked_together(b: Backend) {
    let env = Env::manual(b).await;
    let store = env.store().clone();
    let def = WorkflowDef::new("tokens").task(TaskDef::new("t", "remote"));
    let run = env.start(&def, json!({})).await;
    let now = env.engine.now();
    let token = |kind: &str, run_id: Option<uuid::Uuid>| TokenRecord {
        id: uuid::Uuid::now_v7(),
        kind: kind.into(),
        name: kind.into(),
        token_hash: uuid::Uuid::new_v4().to_string(),
        scopes: Vec::new(),
        labels: BTreeMap::new(),
        run_id,
        worker_id: None,
        created_at: now,
        expires_at: Some(now + 1_000),
        revoked_at: None,
    };
    let tokens = [
        token("enrollment", Some(run.id)),
        token("agent", Some(run.id)),
        token("agent", None),
    ];
    for t in &tokens {
        store.put_token(t).await.unwrap();
    }
    assert!(store.extend_token(tokens[1].id, now + 5_000).await.unwrap());
    assert_eq!(store.revoke_run_tokens(run.id, now).await.unwrap(), 2);
    assert_eq!(store.revoke_run_tokens(run.id, now).await.unwrap(), 0);
    let state = |t: &TokenRecord| {
        let t = t.clone();
        let store = store.clone();
        async move { store.token_by_hash(&t.token_hash).await.unwrap().unwrap() }
    };
    let session = state(&tokens[1]).await;
    assert_eq!(
        (session.revoked_at, session.expires_at),
        (Some(now), Some(now + 5_000))
    );
    assert_eq!(state(&tokens[0]).await.revoked_at, Some(now));
    assert_eq!(
        state(&tokens[2]).await.revoked_at,
        None,
        "another run's token"
    );
    assert!(
        !store.extend_token(tokens[1].id, now + 9_000).await.unwrap(),
        "a revoked token stays revoked"
    );
}
