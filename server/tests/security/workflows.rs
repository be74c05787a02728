//! Built-in workflows are not a back door: their tasks are the server's own handlers, so
//! they start only through the domain (a suite), never with an input a caller made up.

use std::time::Duration;

use serde_json::json;

use crate::common::{Api, Server, ended, open_dir, submit, wait_step, wait_suite};
use crate::{admin, problem_text, token_with_scope};

/// A `cloud-provision` input that would make the server create (and later remove) a
/// directory outside its data dir, for machines of run `run_id`.
fn traversal_input(run_id: &str, escaped: &str) -> serde_json::Value {
    json!({"run_id": run_id, "machines": [
        {"role": "db", "name": escaped, "address": "127.0.0.1", "cores": 1, "memory_gb": 1}
    ]})
}

#[tokio::test]
async fn built_in_workflows_are_not_started_by_the_generic_run_cron_or_schedule_endpoints() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let write = Api::new(&server.base, &token_with_scope(data.path(), "write"));
    // `<data>/machines/../../<name>`: next to the data dir, outside it.
    let name = format!("escaped-{}", uuid::Uuid::new_v4().simple());
    let escaped = data.path().parent().unwrap().join(&name);
    let input = traversal_input(&uuid::Uuid::new_v4().to_string(), &format!("../../{name}"));

    for workflow in ["cloud-provision", "stroppy-test-run", "stroppy-test-suite"] {
        let (status, body) = write
            .post(
                &format!("/api/v1/workflows/{workflow}/versions/1/runs"),
                &json!({ "input": input }),
            )
            .await;
        assert_eq!(status, 403, "{workflow}: {body}");
        assert!(
            problem_text(&body).contains("started only by the server"),
            "{body}"
        );
    }
    let (status, body) = write
        .post(
            "/api/v1/crons",
            &json!({"name": "sneaky", "workflow": "cloud-provision", "version": "1",
                    "expression": "* * * * * *", "input": input}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = write
        .post(
            "/api/v1/scheduled-runs",
            &json!({"workflow": "cloud-provision", "version": "1", "at": 0, "input": input}),
        )
        .await;
    assert_eq!(status, 403, "{body}");

    // Nothing ran: no directory appeared outside the data dir, no run exists.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!escaped.exists(), "{} was created", escaped.display());
    let (_, runs) = write.get("/api/v1/runs").await;
    assert_eq!(runs["runs"], json!([]), "{runs}");
}

#[tokio::test]
async fn a_registered_workflow_cannot_use_the_servers_own_steps_or_names() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let write = Api::new(&server.base, &token_with_scope(data.path(), "write"));
    // A workflow of the server's own teardown step, pointed at any run's machines.
    let (status, body) = write
        .post(
            "/api/v1/workflows",
            &json!({"name": "teardown-anything", "version": "1", "tasks": [
                {"name": "t", "action": "stroppy.provision.destroy",
                 "with": {"run_id": uuid::Uuid::new_v4(), "machines": []}}]}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        problem_text(&body).contains("stroppy.provision.destroy"),
        "{body}"
    );
    let (status, body) = write
        .post(
            "/api/v1/workflows",
            &json!({"name": "cloud-provision", "version": "2", "tasks": [
                {"name": "t", "action": "shell", "with": {"command": "true"}}]}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
}

/// A running suite's machines survive every attempt of a write token to reach them.
#[tokio::test]
async fn another_suites_machines_cannot_be_torn_down_through_a_crafted_input() {
    let data = open_dir();
    let server = Server::start(data.path(), &[]).await;
    let api = admin(&server.base);
    let write = Api::new(&server.base, &token_with_scope(data.path(), "write"));
    let yaml = "name: victim\ntarget: local\ntests:\n  - name: long\n    database: {version: 15}\n    workload: {driver: pgbench, duration: 10m, clients: 1}\n";
    let (status, suite) = submit(&api, yaml).await;
    assert_eq!(status, 201, "{suite}");
    let id = suite["id"].as_str().unwrap().to_string();
    let suite = wait_step(&api, &id, 0, "run-stroppy-test").await;
    let victim = suite["tests"][0]["run_id"].as_str().unwrap().to_string();
    let machines = |infra: &serde_json::Value| {
        infra["leases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["kind"] == "machine" && l["holder"] == victim.as_str())
            .count()
    };
    let (_, infra) = api.get("/api/v1/infrastructure").await;
    assert_eq!(machines(&infra), 2, "{infra}");

    let (status, body) = write
        .post(
            "/api/v1/workflows/cloud-provision/versions/1/runs",
            &json!({"input": {"run_id": victim, "machines": []}}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = write
        .post(
            "/api/v1/workflows",
            &json!({"name": "teardown", "version": "1", "tasks": [
                {"name": "t", "action": "stroppy.test.destroy-plan"}]}),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, infra) = api.get("/api/v1/infrastructure").await;
    assert_eq!(
        machines(&infra),
        2,
        "the victim's machines are still there: {infra}"
    );
    let (_, run) = api.get(&format!("/api/v1/runs/{victim}")).await;
    assert_eq!(run["status"], "RUNNING", "{run:#}");
    api.post(&format!("/api/v1/suites/{id}/cancel"), &json!({}))
        .await;
    wait_suite(&api, &id, 60, "the suite to end", ended).await;
}
