//! Pushing user events over HTTP: triggers start runs, bad bodies are refused.

mod common;

use common::{ADMIN_TOKEN, Api, Server};
use serde_json::json;

#[tokio::test]
async fn a_pushed_event_starts_the_workflows_listening_for_it() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let def = json!({"name": "nightly", "version": "1", "on_events": ["ci.merged.*"],
                     "tasks": [{"name": "t", "action": "nobody-runs-this"}]});
    let (status, body) = api.post("/api/v1/workflows", &def).await;
    assert_eq!(status, 201, "{body}");
    let (status, pushed) = api
        .post(
            "/api/v1/events",
            &json!({"key": "ci.merged.main", "payload": {"sha": "abc"}}),
        )
        .await;
    assert_eq!(status, 201, "{pushed}");
    let started = pushed["started"].as_array().unwrap();
    assert_eq!(started.len(), 1, "{pushed}");
    let run = api.run(started[0].as_str().unwrap()).await;
    assert_eq!(run["input"], json!({"sha": "abc"}));
    let (status, pushed) = api
        .post("/api/v1/events", &json!({"key": "ci.opened"}))
        .await;
    assert_eq!(status, 201);
    assert!(pushed["started"].as_array().unwrap().is_empty());
    let (status, body) = api.post("/api/v1/events", &json!({"kee": "x"})).await;
    assert_eq!(status, 400);
    assert!(body["detail"].as_str().unwrap().contains("kee"), "{body}");
}

#[tokio::test]
async fn crons_and_scheduled_runs_are_created_listed_and_deleted() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let (status, _) = api.post("/api/v1/workflows", &json!({"name": "nightly", "version": "1", "tasks": [{"name": "t", "action": "nobody-runs-this"}]})).await;
    assert_eq!(status, 201);
    let (status, cron) = api.post("/api/v1/crons", &json!({"name": "every-night", "workflow": "nightly", "version": "1", "expression": "0 3 * * *"})).await;
    assert_eq!(status, 201, "{cron}");
    assert!(cron["next_at"].as_i64().unwrap() > 0);
    let (status, body) = api
        .post(
            "/api/v1/crons",
            &json!({"name": "x", "workflow": "nightly", "version": "1", "expression": "at three"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("expression"),
        "{body}"
    );
    let (status, body) = api
        .post(
            "/api/v1/crons",
            &json!({"name": "x", "workflow": "nope", "version": "1", "expression": "* * * * *"}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (_, crons) = api.get("/api/v1/crons").await;
    assert_eq!(crons.as_array().unwrap().len(), 1);
    let id = cron["id"].as_str().unwrap();
    let r = common::http()
        .delete(format!("{}/api/v1/crons/{id}", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = common::http()
        .delete(format!("{}/api/v1/crons/{id}", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // A run scheduled a moment from now starts by itself.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let (status, scheduled) = api.post("/api/v1/scheduled-runs", &json!({"workflow": "nightly", "version": "1", "at": now + 300, "input": {"why": "test"}})).await;
    assert_eq!(status, 201, "{scheduled}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, list) = api.get("/api/v1/scheduled-runs").await;
        if let Some(run_id) = list[0]["run_id"].as_str() {
            assert_eq!(api.run(run_id).await["input"], json!({"why": "test"}));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the scheduled run never started: {list}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
