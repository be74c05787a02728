//! The API's own surface: where a token may appear, which scope manages tokens, what the
//! browser is told about the pages, and what the API never shows.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::common::{self, ADMIN_TOKEN, Api, Server, ended, open_dir, submit, wait_suite};
use crate::{admin, token_with_scope};

/// `?access_token=` is for the SSE streams (EventSource cannot send headers) and nowhere
/// else, and no log line ever holds it.
#[tokio::test]
async fn a_token_in_the_url_works_only_on_streams_and_is_never_logged() {
    let data = tempfile::tempdir().unwrap();
    let port = ratchet_test_support::free_port();
    let log = data.path().join("server.log");
    let mut child = common::Spawned(
        common::ratchet()
            .arg("serve")
            .env("RATCHET_LISTEN", format!("127.0.0.1:{port}"))
            .env("RATCHET_DATA_DIR", data.path())
            .env("RATCHET_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..600 {
        if common::http()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let get = |path: &str| common::http().get(format!("{base}{path}")).send();
    let r = get(&format!("/api/v1/me?access_token={ADMIN_TOKEN}"))
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a token in the URL of a plain endpoint");
    let r = get(&format!("/api/v1/agents?access_token={ADMIN_TOKEN}"))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = get(&format!("/api/v1/stream?access_token={ADMIN_TOKEN}"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the status stream takes it");
    drop(r);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = child.0.kill();
    let _ = child.0.wait();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("/api/v1/stream"),
        "requests are logged at debug: {logged}"
    );
    assert!(
        !logged.contains(ADMIN_TOKEN),
        "the token is in the log:\n{logged}"
    );
}

#[tokio::test]
async fn enrollment_tokens_need_the_admin_scope() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let write = Api::new(&server.base, &token_with_scope(data.path(), "write"));
    let (status, body) = write
        .post("/api/v1/enrollment-tokens", &json!({"name": "sneaky"}))
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("admin"), "{body}");
    let (status, _) = write.get("/api/v1/enrollment-tokens").await;
    assert_eq!(status, 403);
    let (status, body) = admin(&server.base)
        .post("/api/v1/enrollment-tokens", &json!({"name": "ok"}))
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn pages_and_answers_carry_security_headers() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    for path in ["/", "/suites/x", "/api-docs.html"] {
        let r = common::http()
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        let header = |name: &str| {
            r.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_else(|| panic!("{path}: no {name}"))
        };
        let csp = header("content-security-policy");
        let script_src = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src"))
            .unwrap_or_else(|| panic!("{path}: {csp}"));
        assert_eq!(script_src, "script-src 'self'", "{path}: no inline scripts");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert_eq!(header("referrer-policy"), "no-referrer");
        assert_eq!(header("x-frame-options"), "DENY");
    }
    let r = common::http()
        .get(format!("{}/api/v1/me", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
}

/// A suite's `env` (Stroppy's, often credentials) and a workflow's static `env` are shown
/// masked; the run itself gets the real values.
#[tokio::test]
async fn env_values_are_masked_in_api_output() {
    let data = open_dir();
    let server = Server::start(data.path(), &[]).await;
    let api = admin(&server.base);
    let secret = "sentinel-env-value-9d3e";
    let (status, _) = api
        .post(
            "/api/v1/workflows",
            &json!({"name": "with-env", "version": "1", "tasks": [
                {"name": "t", "action": "shell", "with": {"command": "true", "env": {"TOKEN": secret}}}]}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, def) = api.get("/api/v1/workflows/with-env/versions/1").await;
    assert!(!def.to_string().contains(secret), "{def}");
    let yaml = format!(
        "name: masked\ntarget: local\ntests:\n  - name: a\n    database: {{version: 15}}\n    workload: {{driver: stroppy, version: 6.1.1, sha256: {}, workload: tpcc/tx, duration: 5s, env: {{API_TOKEN: {secret}}}}}\n",
        "ab".repeat(32)
    );
    let (status, suite) = submit(&api, &yaml).await;
    assert_eq!(status, 201, "{suite}");
    let id = suite["id"].as_str().unwrap().to_string();
    assert!(!suite.to_string().contains(secret), "{suite}");
    assert_eq!(
        suite["spec"]["tests"][0]["workload"]["env"]["API_TOKEN"],
        "********"
    );
    let suite = wait_suite(&api, &id, 120, "the test to start", |s| {
        !s["tests"][0]["run_id"].is_null() || ended(s)
    })
    .await;
    let run = suite["tests"][0]["run_id"].as_str().unwrap().to_string();
    for path in [
        format!("/api/v1/suites/{id}"),
        format!("/api/v1/runs/{id}"),
        format!("/api/v1/runs/{run}"),
        "/api/v1/runs".to_string(),
        "/api/v1/suites".to_string(),
    ] {
        let (_, body) = api.get(&path).await;
        assert!(!body.to_string().contains(secret), "{path}: {body}");
    }
    api.post(&format!("/api/v1/suites/{id}/cancel"), &json!({}))
        .await;
    wait_suite(&api, &id, 60, "the suite to end", ended).await;
}
