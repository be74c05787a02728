//! The SSE streams over real HTTP: a run's log followed live, dropped mid-way and resumed
//! with Last-Event-ID (every line exactly once, in order), and the status stream.

mod common;

use common::sse::open;
use common::{ADMIN_TOKEN, AgentProcess, Api, Server, open_dir};
use serde_json::{Value, json};

#[tokio::test]
async fn a_log_stream_resumed_with_last_event_id_loses_and_doubles_nothing() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let token = api.enrollment("streams", json!({"zone": "s"}), None).await;
    let work = open_dir();
    let _agent = AgentProcess::start(&server.base, &token, "streamer", work.path(), &[]);

    let mut statuses = open(&format!("{}/api/v1/stream", server.base), None).await;
    let run_id = api
        .start(json!({"name": "talkative", "version": "1", "tasks": [{
            "name": "talk", "action": "shell", "desired_labels": {"zone": {"value": "s"}},
            "with": {"command": "for i in $(seq 1 300); do echo line-$i; sleep 0.005; done"}}]}))
        .await;
    let event = statuses.next().await.expect("a status event");
    assert_eq!(event.event, "status");
    let status: Value = serde_json::from_str(&event.data).unwrap();
    assert_eq!(status["run_id"], run_id.as_str(), "{status}");

    let url = format!("{}/api/v1/runs/{run_id}/logs/stream", server.base);
    let mut lines = Vec::new();
    let mut last_id = None;
    let mut stream = open(&url, None).await;
    while lines.len() < 100 {
        let e = stream.next().await.expect("the stream ended early");
        assert_eq!(e.event, "log");
        let line: Value = serde_json::from_str(&e.data).unwrap();
        assert_eq!(e.id.as_deref(), Some(line["id"].to_string().as_str()));
        lines.push(line["line"].as_str().unwrap().to_string());
        last_id = e.id;
    }
    drop(stream); // the connection drops mid-run
    let mut stream = open(&url, last_id.as_deref()).await;
    lines.extend(stream.log_lines_until_end(60).await);
    let expected: Vec<String> = (1..=300).map(|i| format!("line-{i}")).collect();
    let got: Vec<String> = lines
        .into_iter()
        .filter(|l| l.starts_with("line-"))
        .collect();
    assert_eq!(got, expected);

    // An unknown run, and a missing token.
    let r = common::http()
        .get(format!(
            "{}/api/v1/runs/{}/logs/stream",
            server.base,
            uuid::Uuid::nil()
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = common::http().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // EventSource's way: the token in the query.
    let r = common::http()
        .get(format!("{url}?access_token={ADMIN_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
