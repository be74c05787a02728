//! What reaches the machines' processes, and what they can send back: explicit clean
//! environments (never the server's secrets), output lines and results bounded without
//! losing them.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{
    ADMIN_TOKEN, AgentProcess, Proc, Server, ended, open_dir, processes_in, submit, task,
    wait_step, wait_suite,
};
use crate::{RawAgent, admin, start_shell};

/// Stand-ins for the credentials a production server has in its environment.
const CLOUD_SECRET: &str = "sentinel-cloud-credential-4b1d";
const DB_SECRET: &str = "sentinel-database-password-77c2";

/// pgbench running the load (Debian's `pgbench` is a Perl wrapper at first).
fn is_load(p: &Proc) -> bool {
    p.cmdline.contains("pgbench") && p.cmdline.contains(" -T ")
}

/// The local target's agents, their PostgreSQL and their pgbench see an environment made
/// for them: no admin token, no database URL, no cloud credentials, no enrollment token.
#[tokio::test]
async fn local_machines_and_everything_they_run_get_none_of_the_servers_secrets() {
    let data = open_dir();
    let server = Server::start(
        data.path(),
        &[
            ("AWS_SECRET_ACCESS_KEY", CLOUD_SECRET),
            ("YC_TOKEN", CLOUD_SECRET),
            ("PGPASSWORD", DB_SECRET),
        ],
    )
    .await;
    let api = admin(&server.base);
    let yaml = "name: env\ntarget: local\ntests:\n  - name: a\n    database: {version: 15}\n    workload: {driver: pgbench, duration: 10m, clients: 1}\n";
    let (status, suite) = submit(&api, yaml).await;
    assert_eq!(status, 201, "{suite}");
    let id = suite["id"].as_str().unwrap().to_string();
    wait_step(&api, &id, 0, "run-stroppy-test").await;
    // pgbench itself (not only its `-i`) is running once its progress arrives.
    let machines = data.path().join("machines");
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = processes_in(&machines);
        if seen.iter().any(is_load) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let enrollment_tokens: Vec<String> = std::fs::read_dir(&machines)
        .unwrap()
        .flatten()
        .filter_map(|m| std::fs::read_to_string(m.path().join("enrollment-token")).ok())
        .collect();
    // By program name (the command line's first word).
    let count = |what: &str| {
        seen.iter()
            .filter(|p| {
                p.cmdline
                    .split(' ')
                    .next()
                    .is_some_and(|p| p.ends_with(what))
            })
            .count()
    };
    assert_eq!(count("ratchet-agent"), 2, "{seen:#?}");
    assert!(
        count("/postgres") >= 1 && seen.iter().any(is_load),
        "{seen:#?}"
    );
    for Proc {
        pid,
        cmdline,
        environ,
    } in &seen
    {
        for secret in [ADMIN_TOKEN, CLOUD_SECRET, DB_SECRET]
            .iter()
            .copied()
            .chain(enrollment_tokens.iter().map(String::as_str))
        {
            assert!(
                !environ.contains(secret),
                "{pid} ({cmdline}) has a server secret in its environment:\n{environ}"
            );
        }
        assert!(
            !environ.contains("DATABASE_URL") && !environ.contains("RATCHET_ADMIN_TOKEN"),
            "{pid} ({cmdline}):\n{environ}"
        );
    }
    assert_eq!(
        enrollment_tokens.len(),
        2,
        "each machine has its token file"
    );
    api.post(&format!("/api/v1/suites/{id}/cancel"), &json!({}))
        .await;
    wait_suite(&api, &id, 60, "the suite to end", ended).await;
}

/// A `shell` command sees PATH and HOME, not the agent's own environment (its enrollment
/// token, whatever else the agent was started with).
#[tokio::test]
async fn a_shell_action_runs_in_a_clean_environment() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let api = admin(&server.base);
    let token = api.enrollment("env", json!({"zone": "env"}), None).await;
    let work = open_dir();
    let _agent = AgentProcess::start(
        &server.base,
        &token,
        "env-agent",
        work.path(),
        &[("AWS_SECRET_ACCESS_KEY", CLOUD_SECRET)],
    );
    let run = start_shell(&api, "print-env", "env", "env").await;
    let done = api
        .wait_run(&run, 60, "the command to run", |r| {
            r["status"] == "COMPLETED"
        })
        .await;
    let lines = api.log_lines(&run, None).await;
    assert!(lines.iter().any(|l| l.starts_with("PATH=")), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("HOME=")), "{lines:?}");
    for line in &lines {
        assert!(
            !line.contains(&token) && !line.contains(CLOUD_SECRET) && !line.starts_with("RATCHET_"),
            "the command saw `{line}`"
        );
    }
    assert_eq!(task(&done, "t")["status"], "COMPLETED");
}

/// A 2 GB line without a newline: cut to 64 KiB with a marker that says how long it was,
/// the lines after it kept, and the agent's memory never near the line's size.
#[tokio::test]
async fn a_two_gigabyte_output_line_is_cut_not_buffered() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let api = admin(&server.base);
    let token = api.enrollment("big", json!({"zone": "big"}), None).await;
    let work = open_dir();
    let agent = AgentProcess::start(&server.base, &token, "big-agent", work.path(), &[]);
    let command = "head -c 2147483648 /dev/zero | tr '\\0' a; echo; echo after-the-long-line";
    let run = start_shell(&api, "long-line", "big", command).await;
    let done = api
        .wait_run(&run, 300, "the command to end", |r| {
            r["status"] != "RUNNING" && r["status"] != "QUEUED"
        })
        .await;
    assert_eq!(done["status"], "COMPLETED", "{done:#}");
    let peak_kb = std::fs::read_to_string(format!("/proc/{}/status", agent.child.id()))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap();
    assert!(
        peak_kb < 256 * 1024,
        "the agent's memory peaked at {peak_kb} kB"
    );
    let lines = api.log_lines(&run, None).await;
    let long = lines
        .iter()
        .position(|l| l.starts_with("aaaa"))
        .unwrap_or_else(|| panic!("the long line is missing: {:?}", &lines));
    assert!(lines[long].len() <= 64 * 1024, "{}", lines[long].len());
    assert!(
        lines[long].ends_with("[line truncated: 2147483648 bytes]"),
        "{}",
        &lines[long][lines[long].len() - 80..]
    );
    assert_eq!(lines[long + 1], "after-the-long-line", "{lines:?}");
}

/// Results larger than an ordinary request body (a 5 MB output, a day of per-second
/// points) are taken, not refused.
#[tokio::test]
async fn a_five_megabyte_result_and_a_day_long_series_are_accepted() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let api = admin(&server.base);
    let token = api.enrollment("pool", json!({}), None).await;
    let agent = RawAgent::register(
        &server.base,
        &token,
        "big",
        &["shell"],
        json!({"zone": "a"}),
    )
    .await
    .unwrap();
    let series: Vec<Value> = (0..86_400)
        .map(|t| json!({"t_s": t as f64, "tps": 1234.5678, "latency_ms": 0.812345, "failed": 0}))
        .collect();
    let day = json!({"tool": "pgbench", "tps": 1234.5, "latency_ms": {"avg": 1.0, "p50": 1.0, "p90": 1.0, "p95": 1.0, "p99": 1.0, "max": 1.0},
                     "transactions": 106_000_000u64, "errors": 0, "duration_s": 86_400.0, "series": series, "summary": ""});
    let blob = json!({"blob": "x".repeat(5 * 1024 * 1024)});
    for (name, output) in [("five-megabytes", blob), ("a-day", day)] {
        let size = serde_json::to_vec(&output).unwrap().len();
        assert!(size > 4 * 1024 * 1024, "{name}: {size} bytes");
        let run = start_shell(&api, name, "a", "true").await;
        let assignment = agent.next_assignment().await;
        let (status, body) = agent
            .result(assignment["task_id"].as_str().unwrap(), 1, output.clone())
            .await;
        assert_eq!(status, 200, "{name} ({size} bytes): {body}");
        let done = api
            .wait_run(&run, 30, "the run to complete", |r| {
                r["status"] == "COMPLETED"
            })
            .await;
        assert_eq!(task(&done, "t")["output"], output, "{name} is stored whole");
    }
}
