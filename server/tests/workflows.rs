//! Workflows defined as data (YAML or JSON) run by a real `ratchet-agent`, their versions,
//! replay, rate limits and the reasons a queued task gives, over real HTTP.

mod common;

use common::{ADMIN_TOKEN, AgentProcess, Api, Server, http, open_dir, ratchet, task};
use serde_json::json;

/// A two-step workflow of shell tasks; `marker` shows which version ran.
fn yaml_workflow(version: &str, marker: &str) -> String {
    format!(
        r#"
name: greeter
version: "{version}"
description: Says hello from a shell, then again after a nap.
tasks:
  - name: hello
    action: shell
    with:
      command: echo hello from {marker}
  - name: nap
    action: shell
    parents: [hello]
    with:
      command: sleep 1; echo {marker} woke up
"#
    )
}

async fn post_text(
    server: &Server,
    path: &str,
    content_type: &str,
    body: String,
) -> (u16, serde_json::Value) {
    let r = http()
        .post(format!("{}{path}", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

async fn trigger(api: &Api, version: &str) -> String {
    let (status, run) = api
        .post(
            &format!("/api/v1/workflows/greeter/versions/{version}/runs"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 201, "{run}");
    run["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn yaml_workflows_run_on_an_agent_versions_stay_apart_and_runs_replay() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let token = api.enrollment("shell machines", json!({}), None).await;
    let work = open_dir();
    let _agent = AgentProcess::start(&server.base, &token, "shell-1", work.path(), &[]);

    let (status, body) = post_text(
        &server,
        "/api/v1/workflows",
        "application/yaml",
        yaml_workflow("1", "v1"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let old = trigger(&api, "1").await;
    // A new version while a run of the old one is under way does not disturb it.
    let (status, body) = post_text(
        &server,
        "/api/v1/workflows",
        "application/yaml",
        yaml_workflow("2", "v2"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let new = trigger(&api, "2").await;
    for (run_id, marker) in [(&old, "v1"), (&new, "v2")] {
        let run = api
            .wait_run(run_id, 60, "the run to complete", |r| {
                r["status"] == "COMPLETED"
            })
            .await;
        assert_eq!(run["version"], if marker == "v1" { "1" } else { "2" });
        let lines = api.log_lines(run_id, None).await;
        assert!(lines.contains(&format!("hello from {marker}")), "{lines:?}");
        assert!(lines.contains(&format!("{marker} woke up")), "{lines:?}");
    }
    // A version is immutable: the same version with another definition is a conflict.
    let (status, body) = post_text(
        &server,
        "/api/v1/workflows",
        "application/yaml",
        yaml_workflow("1", "changed"),
    )
    .await;
    assert_eq!(status, 409, "{body}");

    // Strict parsing: a misspelled key is named with its path and line.
    let typo = yaml_workflow("3", "v3").replace("    parents: [hello]", "    parentz: [hello]");
    let (status, body) = post_text(&server, "/api/v1/workflows", "application/yaml", typo).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["title"], "Invalid workflow definition");
    assert_eq!(body["errors"][0]["path"], "tasks[1].parentz", "{body}");
    assert_eq!(body["errors"][0]["line"], 12, "{body}");
    // Both document endpoints answer an unsupported Content-Type alike, as documented.
    for path in ["/api/v1/workflows", "/api/v1/suites"] {
        let (status, body) = post_text(&server, path, "text/csv", "a,b".into()).await;
        assert_eq!(status, 415, "{path}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains("text/csv"),
            "{body}"
        );
    }

    // Replay: refused while running, then only `nap` runs again, `hello` keeps its output.
    let hello_before = task(&api.run(&old).await, "hello")["output"].clone();
    let (status, body) = api
        .post(
            &format!("/api/v1/runs/{old}/replay"),
            &json!({"tasks": ["nope"]}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("'nope'"),
        "{body}"
    );
    let (status, body) = api
        .post(
            &format!("/api/v1/runs/{old}/replay"),
            &json!({"tasks": ["nap"]}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = api
        .post(
            &format!("/api/v1/runs/{old}/replay"),
            &json!({"tasks": ["nap"]}),
        )
        .await;
    assert_eq!(status, 409, "a running run is not replayed: {body}");
    let run = api
        .wait_run(&old, 60, "the replay to complete", |r| {
            r["status"] == "COMPLETED"
        })
        .await;
    assert_eq!(task(&run, "nap")["attempt"], 2);
    assert_eq!(task(&run, "hello")["attempt"], 1);
    assert_eq!(task(&run, "hello")["output"], hello_before);
    let (_, events) = api.get(&format!("/api/v1/runs/{old}/events")).await;
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "REPLAYED" && e["task_name"] == "nap")
    );
    let (status, _) = api
        .post(
            &format!("/api/v1/runs/{}/replay", uuid::Uuid::now_v7()),
            &json!({}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn rate_limits_are_set_over_http_and_queued_tasks_say_why_they_wait() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let put = |body: serde_json::Value| {
        let base = server.base.clone();
        async move {
            let r = http()
                .put(format!("{base}/api/v1/rate-limits/cloud-api"))
                .bearer_auth(ADMIN_TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap_or_default(),
            )
        }
    };
    let (status, body) = put(json!({"limit": 5, "duration": "1m"})).await;
    assert_eq!(status, 200, "{body}");
    let (_, limits) = api.get("/api/v1/rate-limits").await;
    assert_eq!(
        limits,
        json!([{"key": "cloud-api", "limit": 5, "duration": "1m"}])
    );
    let (status, body) = put(json!({"limit": 5, "duration": "soon"})).await;
    assert_eq!(status, 400);
    assert!(
        body["detail"].as_str().unwrap().contains("duration"),
        "{body}"
    );
    let (status, body) = put(json!({"limit": 0, "duration": "1s"})).await;
    assert_eq!(status, 400, "{body}");
    let reader = {
        let out = ratchet()
            .args(["token", "create", "--name", "viewer", "--scope", "read"])
            .env("RATCHET_DATA_DIR", data.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let r = http()
        .put(format!("{}/api/v1/rate-limits/cloud-api", server.base))
        .bearer_auth(&reader)
        .json(&json!({"limit": 1, "duration": "1s"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // Nobody can run these tasks: the run page says why instead of waiting silently.
    let run_id = api
        .start(json!({"name": "stuck", "version": "1", "tasks": [
            {"name": "needs-gpu", "action": "shell", "desired_labels": {"gpu": {"value": true}}},
        ]}))
        .await;
    let run = api
        .wait_run(&run_id, 30, "a waiting reason", |r| {
            r["waiting"].as_object().is_some_and(|w| !w.is_empty())
        })
        .await;
    let id = task(&run, "needs-gpu")["id"].as_str().unwrap();
    assert_eq!(
        run["waiting"][id],
        json!({"kind": "no_worker", "message": "no live worker implements 'shell'"})
    );
}
