//! API tokens (created with the CLI, scoped, revocable; the first start's admin token), the
//! open endpoints, and problem documents for malformed requests.

mod common;

use common::{Api, Server, ratchet};
use serde_json::json;

fn token_cli(data: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = ratchet()
        .arg("token")
        .args(args)
        .env("RATCHET_DATA_DIR", data)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test]
async fn read_tokens_read_write_tokens_write_and_revoked_tokens_stop_working() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let (ok, reader, err) = token_cli(
        data.path(),
        &["create", "--name", "dashboard-viewer", "--scope", "read"],
    );
    assert!(ok, "{err}");
    assert!(reader.starts_with("rat_api_"), "{reader}");
    let read = Api::new(&server.base, &reader);
    let (status, me) = read.get("/api/v1/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["name"], "dashboard-viewer");
    assert_eq!(me["scopes"], json!(["read"]));
    assert_eq!(me["can_write"], false);
    let (status, _) = read.get("/api/v1/suites").await;
    assert_eq!(status, 200);
    let (status, body) = read
        .post(
            "/api/v1/runs/00000000-0000-0000-0000-000000000000/cancel",
            &json!({}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("write"), "{body}");

    let (_, list, _) = token_cli(data.path(), &["list"]);
    let line = list
        .lines()
        .find(|l| l.contains("dashboard-viewer"))
        .unwrap();
    assert!(
        line.contains("active") && !line.contains(&reader),
        "secrets are never listed: {line}"
    );
    let id = line.split_whitespace().next().unwrap();
    let (ok, _, err) = token_cli(data.path(), &["revoke", id]);
    assert!(ok, "{err}");
    let (status, body) = read.get("/api/v1/suites").await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("revoked"),
        "{body}"
    );
    let (ok, _, err) = token_cli(data.path(), &["create", "--name", "x", "--scope", "root"]);
    assert!(!ok && err.contains("--scope"), "{err}");
}

#[tokio::test]
async fn the_first_start_hands_over_an_admin_token_and_never_logs_it() {
    let data = tempfile::tempdir().unwrap();
    let port = ratchet_test_support::free_port();
    let child = ratchet()
        .arg("serve")
        .env("RATCHET_LISTEN", format!("127.0.0.1:{port}"))
        .env("RATCHET_DATA_DIR", data.path())
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while common::http()
        .get(format!("{base}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Not on a terminal: the token is in a file only its owner reads, and not in the log.
    let file = data.path().join("first-admin-token");
    let token = std::fs::read_to_string(&file).expect("the admin token is written to a file");
    let token = token.trim();
    assert!(token.starts_with("rat_api_"), "{token}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(!stderr.contains(token), "the token is in the log: {stderr}");
    assert!(
        stderr.contains("first-admin-token"),
        "the log names the file: {stderr}"
    );

    // It works; a second start prints no new one.
    let server = Server::start(data.path(), &[]).await;
    let (status, _) = Api::new(&server.base, token).get("/api/v1/agents").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn probes_and_metrics_need_no_token_and_everything_else_does() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let admin = Api::new(&server.base, common::ADMIN_TOKEN);
    admin
        .start(json!({"name": "counted", "version": "1", "tasks": [{"name": "t", "action": "nobody-runs-this"}]}))
        .await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        let r = common::http()
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let text = common::http()
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"ratchet_runs{workflow="counted",status="QUEUED"} 1"#),
        "{text}"
    );
    assert!(text.contains("ratchet_workers{"), "{text}");
    for path in [
        "/api/v1/suites",
        "/api/v1/runs",
        "/api/v1/agents",
        "/api/v1/workflows",
        "/api/v1/infrastructure",
        "/api/v1/rate-limits",
    ] {
        let r = common::http()
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let (status, _) = admin.get(path).await;
        assert_eq!(status, 200, "{path}");
    }
}

#[tokio::test]
async fn malformed_paths_and_queries_are_problem_documents_naming_the_parameter() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    for (path, needle) in [
        ("/api/v1/runs/not-a-uuid", "invalid path"),
        ("/api/v1/runs?limit=many", "limit"),
        ("/api/v1/suites?colour=red", "colour"),
        ("/api/v1/runs?status=sleeping", "status"),
    ] {
        let r = common::http()
            .get(format!("{}{path}", server.base))
            .bearer_auth(common::ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path}");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(
            body["detail"].as_str().unwrap().contains(needle),
            "{path}: {body}"
        );
    }
}
