//! Actions against the real tools (sh, tar, an HTTP download), without a server: what
//! they log, what they answer, and what they leave behind.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use protocol::AttemptRef;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::actions::{self, ActionContext};
use crate::config::Config;
use crate::outbox::{LogSink, Outbox, ProgressSink};

fn context(input: Value, work_dir: &Path) -> (ActionContext, Arc<Outbox>) {
    let outbox = Arc::new(Outbox::default());
    let attempt = AttemptRef {
        task_id: uuid::Uuid::now_v7(),
        attempt: 1,
    };
    let attempt_dir = work_dir.join("attempt");
    std::fs::create_dir_all(&attempt_dir).unwrap();
    let config = Config::parse_from([
        "ratchet-agent",
        "--enrollment-token",
        "t",
        "--kill-grace",
        "1s",
    ]);
    let ctx = ActionContext {
        input,
        work_dir: work_dir.to_path_buf(),
        attempt_dir,
        log: LogSink::new(attempt, outbox.clone()),
        progress: ProgressSink::new(attempt, outbox.clone()),
        cancel: CancellationToken::new(),
        config: Arc::new(config),
        trace: Default::default(),
    };
    (ctx, outbox)
}

#[tokio::test]
async fn shell_streams_lines_with_its_env_and_working_dir() {
    let dir = tempfile::tempdir().unwrap();
    let input = json!({"command": "echo \"$GREETING from $(pwd)\"; echo oops >&2", "env": {"GREETING": "hello"}, "cwd": "/tmp"});
    let (ctx, outbox) = context(input, dir.path());
    let out = actions::run("shell", &ctx).await.unwrap();
    assert_eq!(out["exit_code"], 0);
    let lines = outbox.queued_lines();
    assert!(lines.contains(&"hello from /tmp".to_string()), "{lines:?}");
    assert!(lines.contains(&"oops".to_string()), "{lines:?}");
}

#[tokio::test]
async fn a_failing_command_fails_the_task_with_its_last_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _) = context(
        json!({"command": "echo the disk is full >&2; exit 3"}),
        dir.path(),
    );
    let e = actions::run("shell", &ctx).await.unwrap_err();
    assert!(
        e.message.contains("exited with code 3") && e.message.contains("the disk is full"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let command = format!("echo $$ > {}; sleep 30 & sleep 31", pid_file.display());
    let (ctx, _) = context(json!({"command": command, "timeout_s": 1}), dir.path());
    let started = Instant::now();
    let e = actions::run("shell", &ctx).await.unwrap_err();
    assert!(e.message.contains("timed out"), "{}", e.message);
    assert!(started.elapsed() < Duration::from_secs(20));
    let pgid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), None).is_ok() {
        assert!(
            Instant::now() < deadline,
            "process group {pgid} survived the timeout"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Nothing is left recorded as running.
    assert_eq!(
        std::fs::read_dir(dir.path().join("groups"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn unknown_input_keys_and_unknown_actions_fail_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _) = context(json!({"comand": "true"}), dir.path());
    let e = actions::run("shell", &ctx).await.unwrap_err();
    assert!(
        !e.retryable && e.message.contains("comand"),
        "{}",
        e.message
    );
    let e = actions::run("mysql.start", &ctx).await.unwrap_err();
    assert!(
        !e.retryable && e.message.contains("mysql.start"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn postgres_start_reports_the_servers_own_error_for_a_bad_setting() {
    let dir = tempfile::Builder::new()
        .prefix("ratchet-agent-pg-")
        .tempdir()
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let input = json!({"version": ratchet_test_support::pg_major_version(), "listen_address": "127.0.0.31",
                       "port": ratchet_test_support::free_port(), "settings": {"shared_buffers": "lots"},
                       "password": "a-password-for-this-test"});
    let (ctx, _) = context(input, dir.path());
    let e = actions::run("postgres.start", &ctx).await.unwrap_err();
    assert!(
        e.message.contains("shared_buffers"),
        "the database's own message names the setting: {}",
        e.message
    );
    let data = dir.path().join("postgres/main/data");
    assert!(
        !data.join("postmaster.pid").exists(),
        "a server was left running"
    );
}

/// Serves `body` once over plain HTTP on a free port; answers the URL.
async fn serve_once(body: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/stroppy_linux_amd64.tar.gz",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&body).await;
        }
    });
    url
}

fn tarball_with(name: &str, content: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    {
        let mut tar = tar::Builder::new(&mut gz);
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, content).unwrap();
        tar.finish().unwrap();
    }
    gz.flush().unwrap();
    gz.finish().unwrap()
}

#[tokio::test]
async fn stroppy_install_downloads_checks_the_sha256_and_unpacks_the_binary() {
    use sha2::Digest;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tarball = tarball_with("stroppy", b"#!/bin/sh\necho stroppy v6.1.1\n");
    let sha: String = sha2::Sha256::digest(&tarball)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let url = serve_once(tarball).await;

    let dir = tempfile::tempdir().unwrap();
    let (ctx, _) = context(
        json!({"version": "6.1.1", "url": url, "sha256": "00".repeat(32)}),
        dir.path(),
    );
    let e = actions::run("stroppy.install", &ctx).await.unwrap_err();
    assert!(
        !e.retryable && e.message.contains("sha256"),
        "{}",
        e.message
    );

    let (ctx, _) = context(
        json!({"version": "6.1.1", "url": url, "sha256": sha}),
        dir.path(),
    );
    let out = actions::run("stroppy.install", &ctx).await.unwrap();
    assert_eq!(out["downloaded"], true);
    let path = out["path"].as_str().unwrap();
    let ran = std::process::Command::new(path).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout).trim(),
        "stroppy v6.1.1"
    );
}

/// Stroppy cannot be downloaded on the build machine (no GitHub access): a stand-in script
/// prints Stroppy 6's summary, so what is tested is the command line it gets and the
/// result read from its output.
#[tokio::test]
async fn stroppy_run_with_a_stand_in_script_reads_its_summary() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("stroppy");
    let args_file = dir.path().join("args");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" > {}\ncat >&2 <<'EOF'\n{}\nEOF\n",
            args_file.display(),
            STROPPY_V6_SUMMARY
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let input = json!({"binary": script, "workload": "tpcb/tx", "driver_url": "postgres://postgres@127.0.0.1:5432/postgres", "duration_s": 10, "vus": 4, "scale": 2});
    let (ctx, _) = context(input, dir.path());
    let out = actions::run("stroppy.run", &ctx).await.unwrap();
    let args = std::fs::read_to_string(&args_file).unwrap();
    assert!(args.starts_with("run tpcb/tx -d pg -D url=postgres://postgres@127.0.0.1:5432/postgres --executor constant-vus --vus 4 --duration 10s --scale-factor 2 --report-file "), "{args}");
    assert_eq!(out["tool"], "stroppy");
    assert!(out["tps"].as_f64().unwrap() > 0.0, "{out:#}");
    assert!(out["transactions"].as_u64().unwrap() > 0, "{out:#}");
}

/// The end of Stroppy 6's stderr (format of its `pkg/bench/runtime.go`).
const STROPPY_V6_SUMMARY: &str = "\
2026-10-02T10:15:03.530Z\tINFO\tworkload\tStart of 'workload' step

=== bench summary ===
  transactions_total                       30250.000
  tx_total_duration                        count=30250 avg=1.301 p(50)~=1.000 p(90)~=2.500 p(95)~=2.500 p(99)~=5.000
  iterations_total                         30250.000
  tx_commits_total                         30250.000
  tps                                      3025.161
  measurement_seconds                      10.000
  successful_transactions_total            30250.000";

/// The latency percentiles `pgbench.run` reports (an HDR histogram over pgbench's
/// per-transaction log) agree with an exact computation over the same log: every latency
/// sorted, nearest rank.
#[tokio::test]
async fn latency_percentiles_match_an_exact_computation_over_a_real_transaction_log() {
    let server = ratchet_test_support::PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    let port = server.port().to_string();
    let pgbench = |args: &[&str]| {
        let out = std::process::Command::new("pgbench")
            .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres"])
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("pgbench runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    pgbench(&["-i", "-q", "-s", "1", "postgres"]);
    let prefix = dir.path().join("log");
    let prefix_arg = format!("--log-prefix={}", prefix.display());
    pgbench(&[
        "-c",
        "4",
        "-j",
        "2",
        "-T",
        "3",
        "-l",
        &prefix_arg,
        "postgres",
    ]);
    let mut logs: Vec<std::path::PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("log."))
        .collect();
    logs.sort();
    assert!(!logs.is_empty());

    // Field 3 of each line is the latency in µs (pgbench's documented log format).
    let mut exact: Vec<f64> = logs
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter_map(|l| l.split_whitespace().nth(2)?.parse::<f64>().ok())
        .map(|us| us / 1000.0)
        .collect();
    exact.sort_by(f64::total_cmp);
    let rank = |q: f64| exact[((q * exact.len() as f64).ceil() as usize).clamp(1, exact.len()) - 1];

    let got = crate::actions::pgbench_parse::read_transaction_logs(&logs).unwrap();
    assert_eq!(got.count, exact.len() as u64);
    let mean = exact.iter().sum::<f64>() / exact.len() as f64;
    assert!((got.avg_ms - mean).abs() < 1e-6, "{} vs {mean}", got.avg_ms);
    assert_eq!(got.max_ms, *exact.last().unwrap());
    for (q, reported) in [
        (0.5, got.p50_ms),
        (0.9, got.p90_ms),
        (0.95, got.p95_ms),
        (0.99, got.p99_ms),
    ] {
        let want = rank(q);
        // Three significant digits: within 0.1 % (and a microsecond).
        assert!(
            (reported - want).abs() <= want * 0.001 + 0.001,
            "p{}: reported {reported} ms, exact {want} ms",
            q * 100.0
        );
    }
}
