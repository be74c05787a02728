//! The example suite, whole, on the production store (PostgreSQL with a password in
//! `DATABASE_URL`) with `RATCHET_ADMIN_TOKEN` set: neither secret, nor any test's
//! database password, appears in the server's log, in any API answer or SSE stream, in
//! the agents' logs or anywhere in their work dirs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{self, ADMIN_TOKEN, Api, ended, open_dir, submit, wait_suite};

const DB_PASSWORD: &str = "sentinelStorePassword5e0b";

/// Every file under `dir` (up to 8 MiB each), as text, by path.
fn read_tree(dir: &Path, into: &mut BTreeMap<PathBuf, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            read_tree(&path, into);
        } else if meta.is_file()
            && meta.len() <= 8 * 1024 * 1024
            && let Ok(bytes) = std::fs::read(&path)
        {
            into.insert(path, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
}

/// Record an SSE stream's bytes until the task is aborted (or the stream ends).
fn record(url: String, into: Arc<Mutex<String>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Ok(mut response) = common::http()
            .get(url)
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
        else {
            return;
        };
        while let Ok(Some(chunk)) = response.chunk().await {
            into.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&chunk));
        }
    })
}

#[tokio::test]
async fn a_whole_suite_leaves_no_secret_in_logs_answers_streams_or_work_dirs() {
    let db = ratchet_test_support::test_database_with_password(DB_PASSWORD).await;
    assert!(db.url().contains(DB_PASSWORD), "{}", db.url());
    let data = open_dir();
    let logs_dir = tempfile::tempdir().unwrap();
    let server_log = logs_dir.path().join("server.log");
    let port = ratchet_test_support::free_port();
    let log_file = std::fs::File::create(&server_log).unwrap();
    let mut child = common::Spawned(
        common::ratchet()
            .arg("serve")
            .env("RATCHET_LISTEN", format!("127.0.0.1:{port}"))
            .env("RATCHET_DATA_DIR", data.path())
            .env("DATABASE_URL", db.url())
            .env("RATCHET_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "info,ratchet=debug,tower_http=debug")
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let api = Api::new(&base, ADMIN_TOKEN);
    for _ in 0..600 {
        if common::http()
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // While it runs: the status stream, every test's log stream, the machines' files.
    let streams = Arc::new(Mutex::new(String::new()));
    let mut recorders = vec![record(format!("{base}/api/v1/stream"), streams.clone())];
    let files: Arc<Mutex<BTreeMap<PathBuf, String>>> = Arc::default();
    let machines = data.path().join("machines");
    let snapshotter = {
        let files = files.clone();
        tokio::spawn(async move {
            loop {
                let mut now = BTreeMap::new();
                read_tree(&machines, &mut now);
                files.lock().unwrap().extend(now);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };

    // The example suite as shipped, with one 3 s run per test.
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/suite-local.yaml"
    ))
    .unwrap()
    .replace("duration: 10s", "duration: 3s")
    .replace("repeat: 3", "repeat: 1");
    let (status, suite) = submit(&api, &yaml).await;
    assert_eq!(status, 201, "{suite}");
    let id = suite["id"].as_str().unwrap().to_string();
    let mut followed = Vec::new();
    let suite = wait_suite(&api, &id, 300, "the suite to end", ended).await;
    for test in suite["tests"].as_array().unwrap() {
        let run = test["run_id"].as_str().unwrap().to_string();
        // Resumable from the start: the whole log, then `end`.
        recorders.push(record(
            format!("{base}/api/v1/runs/{run}/logs/stream"),
            streams.clone(),
        ));
        followed.push(run);
    }
    assert_eq!(suite["status"], "COMPLETED", "{suite:#}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    snapshotter.abort();
    for r in &recorders {
        r.abort();
    }
    assert!(
        !files.lock().unwrap().is_empty(),
        "the machines' files were read"
    );
    assert!(
        files
            .lock()
            .unwrap()
            .keys()
            .any(|p| p.ends_with("agent.log")),
        "the agents' logs were read"
    );

    // Every answer of the API about what ran.
    let mut answers = String::new();
    let mut get = async |path: String| {
        let (status, body) = api.get(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        answers.push_str(&body.to_string());
        body
    };
    let mut runs = vec![id.clone()];
    for run in &followed {
        let detail = get(format!("/api/v1/runs/{run}")).await;
        runs.push(run.clone());
        for child in detail["children"].as_array().unwrap() {
            runs.push(child["id"].as_str().unwrap().to_string());
        }
    }
    for run in &runs {
        for part in ["", "/events", "/logs?limit=10000", "/progress?limit=10000"] {
            get(format!("/api/v1/runs/{run}{part}")).await;
        }
    }
    for path in [
        format!("/api/v1/suites/{id}"),
        "/api/v1/suites".into(),
        "/api/v1/runs?limit=500".into(),
        "/api/v1/agents".into(),
        "/api/v1/infrastructure".into(),
        "/api/v1/enrollment-tokens".into(),
        "/api/v1/me".into(),
        "/api/v1/crons".into(),
        "/api/v1/scheduled-runs".into(),
        "/api/v1/rate-limits".into(),
        format!("/api/v1/results/compare?suites={id}"),
        format!("/api/v1/suites/{id}/report"),
    ] {
        get(path).await;
    }
    let mut reports = String::new();
    for format in ["markdown", "junit"] {
        let (status, text) = api
            .get_text(&format!("/api/v1/suites/{id}/report?format={format}"))
            .await;
        assert_eq!(status, 200, "{text}");
        reports.push_str(&text);
    }
    let workflows = get("/api/v1/workflows".into()).await;
    for w in workflows.as_array().unwrap() {
        get(format!(
            "/api/v1/workflows/{}/versions/{}",
            w["name"].as_str().unwrap(),
            w["version"].as_str().unwrap()
        ))
        .await;
    }
    let metrics = common::metrics_text(&base).await;
    answers.push_str(&metrics);
    answers.push_str(&reports);

    // Each test's own database password, as the server stored it for its agents.
    let store = engine::store::connect(
        &engine::store::DatabaseTarget::from_url(Some(db.url()), data.path()).unwrap(),
    )
    .await
    .unwrap();
    let mut run_passwords = Vec::new();
    for run in &followed {
        let tasks = store.tasks(run.parse().unwrap()).await.unwrap();
        let placement = tasks.iter().find(|t| t.name == "build-placement").unwrap();
        let password = placement.output.as_ref().unwrap()["database"]["password"]
            .as_str()
            .expect("each test's database has a password of its own")
            .to_string();
        assert!(password.len() >= 16, "{password}");
        run_passwords.push(password);
    }
    store.close().await;

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let _ = child.0.wait();
    let logged = std::fs::read_to_string(&server_log).unwrap();
    assert!(
        logged.contains("/api/v1/suites"),
        "the server logged its requests: {}",
        &logged[..logged.len().min(3000)]
    );
    let streamed = streams.lock().unwrap().clone();
    assert!(
        streamed.contains("event: log") && streamed.contains("event: status"),
        "the streams were read"
    );

    let files = files.lock().unwrap();
    for secret in [ADMIN_TOKEN, DB_PASSWORD]
        .iter()
        .copied()
        .chain(run_passwords.iter().map(String::as_str))
    {
        assert!(!logged.contains(secret), "the server's log holds a secret");
        assert!(!answers.contains(secret), "an API answer holds a secret");
        assert!(!streamed.contains(secret), "an SSE stream holds a secret");
        for (path, text) in files.iter() {
            // initdb reads the test's password from a file that lives for a moment (0600,
            // the database user's): the one place it is meant to be.
            if path.ends_with("initdb-password") && run_passwords.iter().any(|p| p == secret) {
                continue;
            }
            assert!(!text.contains(secret), "{} holds a secret", path.display());
        }
    }
}
