//! A suite decides a database's configuration and its load, never what the machine does.

use std::time::Instant;

use crate::common::{Server, ended, open_dir, submit, wait_suite};
use crate::{admin, problem_text};

#[tokio::test]
async fn settings_that_run_programs_load_libraries_or_name_files_are_refused() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let api = admin(&server.base);
    let yaml = "\
name: sneaky
target: local
defaults:
  database:
    version: 15
    settings:
      archive_mode: 'on'
      archive_command: 'sh -c \"id > /tmp/owned\"'
      shared_preload_libraries: '/tmp/evil.so'
  workload: {driver: pgbench, duration: 2s}
tests:
  - name: a
    database:
      settings: {include_dir: /etc, listen_addresses: '*', shared_buffers: 64MB}
";
    let (status, body) = submit(&api, yaml).await;
    assert_eq!(status, 400, "{body}");
    let text = problem_text(&body);
    for (path, why) in [
        (
            "defaults.database.settings.archive_command",
            "run a program",
        ),
        (
            "defaults.database.settings.shared_preload_libraries",
            "load a library",
        ),
        ("tests[0].database.settings.include_dir", "file"),
        ("tests[0].database.settings.listen_addresses", "agent"),
    ] {
        let found = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["path"] == path)
            .unwrap_or_else(|| panic!("no error at {path}: {text}"));
        assert!(found["message"].as_str().unwrap().contains(why), "{found}");
        assert!(found["line"].as_u64().is_some(), "{found}");
    }
    // Tuning is fine: archive_mode and shared_buffers are not named.
    assert!(
        !text.contains("archive_mode") && !text.contains("shared_buffers"),
        "{text}"
    );
    let (_, page) = api.get("/api/v1/suites").await;
    assert_eq!(
        page["suites"].as_array().unwrap().len(),
        0,
        "nothing started"
    );
}

/// 10,000 bad setting names: the first 100 problems are listed with their lines, the rest
/// counted, and the answer comes at once.
#[tokio::test]
async fn ten_thousand_bad_settings_get_a_capped_located_answer() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let api = admin(&server.base);
    let mut yaml = String::from(
        "name: many\ntarget: local\ntests:\n  - name: a\n    workload: {driver: pgbench, duration: 2s}\n    database:\n      version: 15\n      settings:\n",
    );
    for i in 0..10_000 {
        yaml.push_str(&format!("        Bad-Name-{i}: 1\n"));
    }
    let started = Instant::now();
    let (status, body) = submit(&api, &yaml).await;
    let took = started.elapsed();
    assert_eq!(status, 400, "{body}");
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 101, "100 listed and one that counts the rest");
    assert_eq!(errors[0]["path"], "tests[0].database.settings.Bad-Name-0");
    assert_eq!(errors[0]["line"], 9, "{}", errors[0]);
    assert_eq!(errors[99]["line"], 108, "{}", errors[99]);
    assert!(
        errors[100]["message"]
            .as_str()
            .unwrap()
            .contains("9900 more"),
        "{}",
        errors[100]
    );
    println!("10,000 bad settings answered in {took:?}");
}

#[tokio::test]
async fn a_stroppy_workload_is_no_option_and_an_unverified_release_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let api = admin(&server.base);
    let suite = |workload: &str, extra: &str| {
        format!(
            "name: s\ntarget: local\ntests:\n  - name: a\n    database: {{version: 15}}\n    workload: {{driver: stroppy, version: 6.1.1, workload: '{workload}', duration: 5s{extra}}}\n"
        )
    };
    let (status, body) = submit(&api, &suite("--help", "")).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        problem_text(&body).contains("must not start with `-`"),
        "{body}"
    );

    // No checksum for 6.1.1, and the server pins none: nothing unverified is installed.
    let (status, body) = submit(&api, &suite("tpcc/tx", "")).await;
    assert_eq!(status, 400, "{body}");
    assert!(problem_text(&body).contains("not pinned"), "{body}");
    let (status, body) = submit(&api, &suite("tpcc/tx", ", sha256: nothex")).await;
    assert_eq!(status, 400, "{body}");
    assert!(problem_text(&body).contains("64 hex digits"), "{body}");

    // Pinned by the operator: accepted without a checksum in the suite.
    let sha = "ab".repeat(32);
    let pinned_data = open_dir();
    let pinned = Server::start(
        pinned_data.path(),
        &[("RATCHET_STROPPY_RELEASES", &format!("6.1.1={sha}"))],
    )
    .await;
    let pinned_api = admin(&pinned.base);
    let (status, body) = submit(&pinned_api, &suite("tpcc/tx", "")).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap();
    pinned_api
        .post(
            &format!("/api/v1/suites/{id}/cancel"),
            &serde_json::json!({}),
        )
        .await;
    wait_suite(&pinned_api, id, 60, "the suite to end", ended).await;
}
