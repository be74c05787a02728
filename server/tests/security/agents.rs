//! Agents touch only what is theirs: not the server's own steps, not another run's
//! machines' tasks, not another agent's attempts; and one session cannot hold the server's
//! connections.

use std::time::{Duration, Instant};

use protocol::paths;
use serde_json::json;

use crate::common::{Server, ended, open_dir, submit, wait_suite};
use crate::{RawAgent, admin, problem_text, start_shell};

#[tokio::test]
async fn an_agent_cannot_offer_the_servers_own_steps() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let api = admin(&server.base);
    let token = api.enrollment("rogue", json!({}), None).await;
    let refused = RawAgent::register(
        &server.base,
        &token,
        "rogue",
        &[
            "shell",
            "stroppy.suite.validate",
            "stroppy.test.deploy-plan",
        ],
        json!({}),
    )
    .await
    .err()
    .expect("the registration is refused");
    assert_eq!(refused.0, 400, "{}", refused.1);
    let detail = problem_text(&refused.1);
    assert!(
        detail.contains("stroppy.suite.validate") && detail.contains("stroppy.test.deploy-plan"),
        "{detail}"
    );
}

/// Agents that are not the suite's own machines, however they label themselves, are never
/// handed a suite's tasks (they would get its database password and run its load).
#[tokio::test]
async fn a_suites_tasks_go_only_to_its_own_machines() {
    let data = open_dir();
    let server = Server::start(data.path(), &[]).await;
    let api = admin(&server.base);
    let token = api.enrollment("pool", json!({}), None).await;
    let actions = [
        "shell",
        "postgres.start",
        "load.run",
        "pgbench.run",
        "stroppy.install",
    ];
    let mut rogues = Vec::new();
    for i in 0..8 {
        let role = if i % 2 == 0 { "db" } else { "loader" };
        rogues.push(
            RawAgent::register(
                &server.base,
                &token,
                &format!("rogue-{i}"),
                &actions,
                json!({"machine": role, "cores": 64, "memory_gb": 256}),
            )
            .await
            .unwrap(),
        );
    }
    // What the rogues are handed, as they poll all through the suite.
    let stolen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut pollers = Vec::new();
    for rogue in rogues {
        let stolen = stolen.clone();
        pollers.push(tokio::spawn(async move {
            loop {
                let got = rogue.poll(1).await;
                stolen.lock().unwrap().extend(got);
            }
        }));
    }
    let yaml = "name: own-machines\ntarget: local\ndefaults:\n  database: {version: 15}\n  workload: {driver: pgbench, duration: 2s, clients: 1}\ntests:\n  - name: a\n  - name: b\n";
    let (status, suite) = submit(&api, yaml).await;
    assert_eq!(status, 201, "{suite}");
    let id = suite["id"].as_str().unwrap().to_string();
    let suite = wait_suite(&api, &id, 240, "the suite to end", |s| {
        ended(s) || !stolen.lock().unwrap().is_empty()
    })
    .await;
    for poller in pollers {
        poller.abort();
    }
    let stolen = stolen.lock().unwrap().clone();
    assert!(stolen.is_empty(), "rogue agents were handed: {stolen:#?}");
    assert_eq!(suite["status"], "COMPLETED", "{suite:#}");
}

/// Log lines, progress points and results are taken only for an attempt assigned to the
/// calling agent: `attempt: 0` (no attempt at all) or another agent's attempt is 403.
#[tokio::test]
async fn an_agent_cannot_write_into_another_agents_attempt() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let api = admin(&server.base);
    let token = api.enrollment("pool", json!({}), None).await;
    let owner = RawAgent::register(
        &server.base,
        &token,
        "owner",
        &["shell"],
        json!({"zone": "a"}),
    )
    .await
    .unwrap();
    let other = RawAgent::register(
        &server.base,
        &token,
        "other",
        &["shell"],
        json!({"zone": "b"}),
    )
    .await
    .unwrap();
    let run = start_shell(&api, "owned", "a", "true").await;
    let assignment = owner.next_assignment().await;
    let task = assignment["task_id"].as_str().unwrap().to_string();
    assert_eq!(assignment["attempt"], 1);

    for attempt in [0, 1, 2, -1] {
        let (status, body) = other.logs(&task, attempt).await;
        assert_eq!(status, 403, "logs, attempt {attempt}: {body}");
        let (status, body) = other.progress(&task, attempt).await;
        assert_eq!(status, 403, "progress, attempt {attempt}: {body}");
        let (status, body) = other.result(&task, attempt, json!({"forged": true})).await;
        assert_eq!(status, 403, "result, attempt {attempt}: {body}");
    }
    // Not even the owner writes into an attempt that never was.
    let (status, body) = owner.logs(&task, 0).await;
    assert_eq!(status, 403, "{body}");
    let (_, logs) = api.get(&format!("/api/v1/runs/{run}/logs")).await;
    assert_eq!(logs["lines"], json!([]), "nothing was injected: {logs}");
    let (_, points) = api.get(&format!("/api/v1/runs/{run}/progress")).await;
    assert_eq!(points["points"], json!([]), "{points}");

    // The owner's own attempt takes its lines and its result.
    let (status, body) = owner.logs(&task, 1).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = owner.result(&task, 1, json!({"ok": true})).await;
    assert_eq!(status, 200, "{body}");
    let done = api
        .wait_run(&run, 30, "the run to complete", |r| {
            r["status"] == "COMPLETED"
        })
        .await;
    assert_eq!(done["tasks"][0]["output"], json!({"ok": true}));
}

/// One session holds at most two polls at once; the rest are told to come back later, and
/// the server stays responsive.
#[tokio::test]
async fn three_hundred_parallel_polls_on_one_session_are_capped() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let api = admin(&server.base);
    let token = api.enrollment("pool", json!({}), None).await;
    let agent = std::sync::Arc::new(
        RawAgent::register(&server.base, &token, "greedy", &["shell"], json!({}))
            .await
            .unwrap(),
    );
    let started = Instant::now();
    let mut calls = Vec::new();
    for _ in 0..300 {
        let agent = agent.clone();
        calls.push(tokio::spawn(async move {
            let r = crate::common::http()
                .post(format!("{}{}", agent.base, paths::POLL))
                .bearer_auth(&agent.session)
                .json(&json!({"running": [], "free_slots": 1, "wait_s": 3}))
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.headers().get("retry-after").is_some(),
            )
        }));
    }
    let mut held = 0;
    let mut refused = 0;
    for call in calls {
        match call.await.unwrap() {
            (200, _) => held += 1,
            (429, true) => refused += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert!((1..=2).contains(&held), "{held} polls were held at once");
    assert_eq!(held + refused, 300);
    let r = crate::common::http()
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    println!("300 polls answered in {:?}", started.elapsed());
    // The places are given back: the next poll is held again.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(agent.poll(1).await.is_empty());
}

/// Destroying a test's machines revokes their enrollment and session tokens and
/// deregisters their agents: nothing of a machine keeps working after it is gone. Session
/// tokens expire, too (an idle one after a day).
#[tokio::test]
async fn a_machines_tokens_die_with_it() {
    let data = open_dir();
    let server = Server::start(data.path(), &[]).await;
    let api = admin(&server.base);
    let yaml = "name: short\ntarget: local\ntests:\n  - name: a\n    database: {version: 15}\n    workload: {driver: pgbench, duration: 1s, clients: 1}\n";
    let (status, suite) = submit(&api, yaml).await;
    assert_eq!(status, 201, "{suite}");
    let id = suite["id"].as_str().unwrap().to_string();
    let suite = wait_suite(&api, &id, 120, "the suite to end", ended).await;
    assert_eq!(suite["status"], "COMPLETED", "{suite:#}");
    let run: uuid::Uuid = suite["tests"][0]["run_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    let store = engine::store::connect(&engine::store::DatabaseTarget::Sqlite(
        data.path().join("ratchet.db"),
    ))
    .await
    .unwrap();
    for kind in ["enrollment", "agent"] {
        let of_run: Vec<_> = store
            .tokens(kind)
            .await
            .unwrap()
            .into_iter()
            .filter(|t| t.run_id == Some(run))
            .collect();
        assert_eq!(of_run.len(), 2, "{kind} tokens of the test's two machines");
        for t in &of_run {
            assert!(
                t.revoked_at.is_some(),
                "{kind} token '{}' still works",
                t.name
            );
            assert!(
                t.expires_at.is_some(),
                "{kind} token '{}' never expires",
                t.name
            );
        }
    }
    store.close().await;
    let (_, agents) = api.get("/api/v1/agents").await;
    let of_run: Vec<_> = agents
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["run_scope"] == run.to_string().as_str())
        .collect();
    assert_eq!(of_run.len(), 2, "{agents:#}");
    assert!(
        of_run.iter().all(|a| a["status"] == "STOPPED"),
        "{of_run:#?}"
    );
}
