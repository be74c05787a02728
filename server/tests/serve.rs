//! `ratchet serve` as a user runs it: the embedded default, PostgreSQL, Valkey, restarts on
//! the same data, graceful shutdown, and the web page.

mod common;

use common::Server;

/// What `/` must serve: the built dashboard when `web/dist` exists, else the page that says
/// how to build it.
fn expected_index() -> Option<String> {
    let built = concat!(env!("CARGO_MANIFEST_DIR"), "/../web/dist/index.html");
    std::fs::read_to_string(built).ok()
}

async fn assert_serves_the_dashboard(server: &Server) {
    let response = common::http()
        .get(format!("{}/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-cache");
    let body = response.text().await.unwrap();
    match expected_index() {
        Some(index) => assert_eq!(body, index),
        None => assert!(body.contains("dashboard has not been built"), "{body}"),
    }
    // Client-side routes get the same page.
    let deep = common::http()
        .get(format!("{}/runs/some-id", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(deep.text().await.unwrap(), body);
    // Unknown API paths are 404s, not the dashboard.
    let api = common::http()
        .get(format!("{}/api/v1/nope", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 404);
}

#[tokio::test]
async fn embedded_default_serves_and_restarts_without_losing_anything() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;

    let (status, health) = server.get_json("/healthz").await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let (status, ready) = server.get_json("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["store"], "sqlite");
    assert_eq!(ready["bus"], "in-process");
    assert_eq!(ready["version"], env!("CARGO_PKG_VERSION"));
    let installation = ready["installation_id"].as_str().unwrap().to_string();
    assert_serves_the_dashboard(&server).await;
    assert!(data.path().join("ratchet.db").is_file());

    let status = server.terminate();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");

    let again = Server::start(data.path(), &[]).await;
    let (_, ready) = again.get_json("/readyz").await;
    assert_eq!(
        ready["installation_id"],
        installation.as_str(),
        "same data after restart"
    );
    assert!(again.terminate().success());
}

#[tokio::test]
async fn postgres_and_valkey_serve_and_restart_without_losing_anything() {
    let db = ratchet_test_support::test_database().await;
    let valkey = ratchet_test_support::test_valkey();
    let data = tempfile::tempdir().unwrap();
    let env = [("DATABASE_URL", db.url()), ("VALKEY_URL", valkey.url())];

    let server = Server::start(data.path(), &env).await;
    let (status, ready) = server.get_json("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["store"], "postgres");
    assert_eq!(ready["bus"], "valkey");
    let installation = ready["installation_id"].clone();
    assert!(
        !data.path().join("ratchet.db").exists(),
        "no SQLite file with PostgreSQL"
    );
    assert!(server.terminate().success());

    let again = Server::start(data.path(), &env).await;
    let (_, ready) = again.get_json("/readyz").await;
    assert_eq!(ready["installation_id"], installation);
    assert!(again.terminate().success());
}

#[tokio::test]
async fn migrate_command_prepares_the_database_and_exits() {
    let data = tempfile::tempdir().unwrap();
    let status = common::ratchet()
        .arg("migrate")
        .env("RATCHET_DATA_DIR", data.path())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(data.path().join("ratchet.db").is_file());
}
