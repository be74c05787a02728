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
