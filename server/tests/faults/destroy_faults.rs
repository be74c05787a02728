//! A destroy that fails keeps everything it could not give back — the machine's lease, its
//! quota share, the network block — says why in the infrastructure API, and is tried again
//! (with a back-off) until it works.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{
    ADMIN_TOKEN, Api, Server, assert_nothing_left_within, ended, open_dir, wait_suite,
};
use crate::{short_suite, submit_until_loading};

async fn infrastructure_until(api: &Api, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, infra) = api.get("/api/v1/infrastructure").await;
        assert_eq!(status, 200, "{infra}");
        if check(&infra) {
            return infra;
        }
        assert!(Instant::now() < deadline, "never: {what}: {infra:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_failed_destroy_keeps_the_network_and_leases_says_why_and_is_retried_until_it_works() {
    let data = open_dir();
    let server = Server::start(data.path(), &[("RATCHET_LEAK_GUARD_INTERVAL", "1s")]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let id = submit_until_loading(&api, &short_suite(1, "2s")).await;
    // The database machine's work dir is swapped for a symlink out of the machines dir:
    // the provider refuses to touch it, so every destroy fails until it is put back.
    let machines = data.path().join("machines");
    let db = std::fs::read_dir(&machines)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().contains("-db-"))
        .expect("the database machine's work dir");
    let moved = data.path().join("moved-away");
    std::fs::rename(&db, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &db).unwrap();

    let suite = wait_suite(&api, &id, 180, "the suite to end", ended).await;
    assert_eq!(suite["tests"][0]["status"], "FAILED", "{suite:#}");
    let infra = infrastructure_until(&api, "the failure is shown", |i| {
        i["deployments"][0]["destroy_attempts"].as_u64() >= Some(2)
    })
    .await;
    let deployment = &infra["deployments"][0];
    let error = deployment["destroy_error"].as_str().unwrap();
    assert!(
        error.starts_with("destroy failed: ") && error.contains("refusing to touch it"),
        "{error}"
    );
    assert!(
        deployment["destroy_failed_at"].as_i64().is_some(),
        "{deployment:#}"
    );
    assert!(
        deployment["network"].is_string(),
        "the network block is kept while a machine may still use it: {deployment:#}"
    );
    let kinds: Vec<&str> = infra["leases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"machine")
            && kinds.contains(&"network")
            && kinds.contains(&"destroy-failed"),
        "{kinds:?}"
    );

    // Put back, the next try (the leak guard's, after its back-off: at most ten sweeps)
    // destroys everything.
    std::fs::remove_file(&db).unwrap();
    std::fs::rename(&moved, &db).unwrap();
    assert_nothing_left_within(&api, data.path(), 30).await;
}
