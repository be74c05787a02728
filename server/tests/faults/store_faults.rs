//! The store's PostgreSQL restarted mid-suite: the server says so on /readyz, reconnects
//! by itself, and the suite completes.

use std::time::{Duration, Instant};

use ratchet_test_support::PgServer;

use crate::common::{
    ADMIN_TOKEN, Api, Server, assert_nothing_left_within, ended, http, open_dir, wait_suite,
};
use crate::{assert_completed_once, short_suite, submit_until_loading, suite_runs};

async fn readyz(base: &str) -> u16 {
    match http()
        .get(format!("{base}/readyz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

async fn until_readyz(base: &str, status: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while readyz(base).await != status {
        assert!(
            Instant::now() < deadline,
            "/readyz never answered {status} {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_store_restarted_mid_suite_is_not_ready_meanwhile_and_the_suite_completes() {
    let mut store = tokio::task::spawn_blocking(PgServer::start).await.unwrap();
    let data = open_dir();
    let url = store.url("postgres");
    let server = Server::start(
        data.path(),
        &[("DATABASE_URL", &url), ("RATCHET_AGENT_LEASE", "10s")],
    )
    .await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let id = submit_until_loading(&api, &short_suite(2, "4s")).await;
    let store = tokio::task::spawn_blocking(move || {
        store.stop();
        store
    })
    .await
    .unwrap();
    until_readyz(&server.base, 503, "while the store is down").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut store = store;
    let store = tokio::task::spawn_blocking(move || {
        store.start_again();
        store
    })
    .await
    .unwrap();
    until_readyz(&server.base, 200, "once the store is back").await;
    let suite = wait_suite(&api, &id, 240, "the suite to end", ended).await;
    assert_eq!(suite["status"], "COMPLETED", "{suite:#}");
    for run in suite_runs(&suite) {
        assert_completed_once(&api, &run).await;
    }
    assert_nothing_left_within(&api, data.path(), 30).await;
    drop(server);
    drop(store);
}
