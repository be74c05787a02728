//! The served OpenAPI document is the checked-in `openapi/openapi.json`.
//! `RATCHET_UPDATE_OPENAPI=1 cargo nextest run -p ratchet-server --test openapi` rewrites it.

mod common;

use common::Server;

#[tokio::test]
async fn the_served_openapi_document_is_the_checked_in_one() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let r = common::http()
        .get(format!("{}/api/v1/openapi.json", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "served without a token");
    let served: serde_json::Value = r.json().await.unwrap();
    assert!(
        served["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        served["openapi"]
    );
    for path in [
        "/api/v1/suites",
        "/api/v1/runs/{id}/logs/stream",
        "/api/v1/agent/poll",
        "/metrics",
    ] {
        assert!(served["paths"].get(path).is_some(), "{path} is documented");
    }
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    let pretty = serde_json::to_string_pretty(&served).unwrap() + "\n";
    if std::env::var_os("RATCHET_UPDATE_OPENAPI").is_some() {
        std::fs::write(file, &pretty).unwrap();
    }
    let checked_in = std::fs::read_to_string(file).unwrap_or_default();
    assert!(
        checked_in == pretty,
        "openapi/openapi.json is not what the server serves: regenerate it with \
         `RATCHET_UPDATE_OPENAPI=1 cargo nextest run -p ratchet-server --test openapi` and commit it"
    );
}
