//! Suites end to end on the local target: the real server spawns real agents, which run a
//! real PostgreSQL and pgbench; afterwards nothing of the suite may be left on the host.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{
    ADMIN_TOKEN, Api, Server, assert_nothing_left, ended, open_dir, submit, task, wait_suite,
};
use serde_json::{Value, json};

/// The steps of a test run, in their DAG order (DESIGN.md §3).
const STEPS: &[&str] = &[
    "validate-input",
    "acquire-network",
    "plan-placement-intent",
    "build-placement",
    "deploy-plan",
    "wait-workers",
    "run-database-containers",
    "run-stroppy-containers",
    "install-stroppy",
    "run-stroppy-test",
    "collect-database-machine",
    "destroy-plan",
];

/// The example suite as shipped (three tests, each measured three times, interleaved,
/// after a warm-up), with shorter loads.
fn quick_example() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/suite-local.yaml"
    ))
    .unwrap()
    .replace("duration: 10s", "duration: 3s")
    .replace("warmup: 3s", "warmup: 1s")
}

#[tokio::test]
async fn the_example_local_suite_measures_every_repetition_compares_with_confidence_and_leaves_nothing_behind()
 {
    let data = open_dir();
    let server = Server::start(data.path(), &[]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let (status, suite) = submit(&api, &quick_example()).await;
    assert_eq!(status, 201, "{suite}");
    let id = suite["id"].as_str().unwrap().to_string();
    let suite = wait_suite(&api, &id, 600, "the suite to end", ended).await;
    // Real numbers: a regression of `tuned` or `wal-tuned` is possible, and then said.
    let regressed = suite["result"]["regressed"].as_array().unwrap().clone();
    let expected = if regressed.is_empty() {
        "COMPLETED"
    } else {
        "REGRESSED"
    };
    assert_eq!(suite["status"], expected, "{suite:#}");

    let tests = suite["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 3);
    let mut started = Vec::new();
    for t in tests {
        assert_eq!(t["status"], "COMPLETED", "{t:#}");
        let repetitions = t["repetitions"].as_array().unwrap();
        assert_eq!(repetitions.len(), 3, "{t:#}");
        for rep in repetitions {
            let r = &rep["result"];
            assert!(r["tps"].as_f64().unwrap() > 0.0, "{r:#}");
            assert!(
                r["warmup_tps"].as_f64().unwrap() > 0.0,
                "the warm-up ran: {r:#}"
            );
            let l = &r["latency_ms"];
            let p = |k: &str| l[k].as_f64().unwrap();
            assert!(
                p("p50") > 0.0 && p("p50") <= p("p95") && p("p95") <= p("p99"),
                "{l}"
            );
            assert!(!r["series"].as_array().unwrap().is_empty());
            // The view leaves the samples to the run (a suite is read often).
            assert!(r["system"].as_array().unwrap().is_empty(), "{r:#}");

            // Every step reached its final state, in DAG order.
            let run = api.run(rep["run_id"].as_str().unwrap()).await;
            started.push((
                run["created_at"].as_i64().unwrap(),
                format!("{}{}", t["name"].as_str().unwrap(), rep["repetition"]),
            ));
            // The machine and the database, sampled over the measured window.
            let load = &task(&run, "run-stroppy-test")["output"];
            let system = load["system"].as_array().unwrap();
            assert!(system.len() >= 2, "{load:#}");
            assert!(
                system
                    .iter()
                    .any(|p| p["cpu_user_pct"].as_f64().unwrap() > 0.0),
                "{system:?}"
            );
            let database = load["database"].as_array().unwrap();
            assert!(
                database
                    .iter()
                    .any(|p| p["commits_ps"].as_f64().unwrap() > 100.0),
                "{database:?}"
            );
            let mut previous_end = 0;
            for name in STEPS {
                let step = task(&run, name);
                if *name == "install-stroppy" {
                    assert_eq!(
                        step["status"], "SKIPPED",
                        "pgbench needs no install: {step:#}"
                    );
                    continue;
                }
                assert_eq!(step["status"], "COMPLETED", "{step:#}");
                let (start, end) = (
                    step["started_at"].as_i64().unwrap(),
                    step["finished_at"].as_i64().unwrap(),
                );
                assert!(
                    start >= previous_end,
                    "{name} started before its parent ended"
                );
                previous_end = end;
            }
            assert_eq!(task(&run, "destroy-plan-on-failure")["status"], "SKIPPED");
        }
    }
    // Interleaved: every test's first run, then every test's second...
    started.sort();
    let order: Vec<&str> = started.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(
        order,
        [
            "default1",
            "tuned1",
            "wal-tuned1",
            "default2",
            "tuned2",
            "wal-tuned2",
            "default3",
            "tuned3",
            "wal-tuned3"
        ]
    );

    // The database machine's agent, asked for the load's windows.
    for t in tests {
        let db = t["result"]["database_machine"].as_array().unwrap();
        assert!(db.len() >= 2, "{t:#}");
        assert!(
            db.iter().all(|p| p["t_s"].as_f64().unwrap() <= 4.0),
            "{db:?}"
        );
    }
    let result = &suite["result"];
    assert_eq!(result["baseline"], "default");
    assert_eq!(result["completed"], 3);
    assert_eq!(result["tests"][0]["tps_delta_pct"], 0.0);
    assert!(result["best"].is_string());
    for row in &result["tests"].as_array().unwrap()[1..] {
        let tps = &row["comparison"]["tps"];
        let verdict = tps["verdict"].as_str().unwrap();
        assert!(
            ["improvement", "regression", "no_difference", "inconclusive"].contains(&verdict),
            "{tps:#}"
        );
        let (low, ratio, high) = (
            tps["low"].as_f64().unwrap(),
            tps["ratio"].as_f64().unwrap(),
            tps["high"].as_f64().unwrap(),
        );
        assert!(low <= ratio && ratio <= high, "{tps:#}");
        assert!(
            row["tps_summary"]["n"] == 3 && row["p95_summary"]["n"] == 3,
            "{row:#}"
        );
        assert!(row["comparison"]["p99"]["verdict"].is_string(), "{row:#}");
    }
    assert_nothing_left(&api, data.path()).await;

    // The report: verdicts, and what was measured on what.
    let (status, report) = api.get(&format!("/api/v1/suites/{id}/report")).await;
    assert_eq!(status, 200, "{report}");
    let envs = report["environments"].as_array().unwrap();
    assert_eq!(envs.len(), 3);
    for env in envs {
        assert!(
            env["postgres_version"].as_str().unwrap().starts_with("15"),
            "{env:#}"
        );
        assert!(
            env["tool_version"].as_str().unwrap().contains("pgbench"),
            "{env:#}"
        );
        let command = env["command"].as_str().unwrap();
        assert!(
            command.contains("pgbench") && command.contains("-T 3"),
            "{command}"
        );
        assert!(!command.contains(ADMIN_TOKEN));
        for machine in ["database_machine", "loader_machine"] {
            assert!(env[machine]["cores"].as_u64().unwrap() >= 1, "{env:#}");
            assert!(env[machine]["memory_mb"].as_u64().unwrap() > 0, "{env:#}");
        }
    }
    let profile = &envs[0]["during_load"];
    assert!(
        profile["commits_ps"].as_f64().unwrap() > 100.0,
        "{profile:#}"
    );
    let tuned = &envs[1];
    let changed: Vec<&str> = tuned["changed_settings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(changed.contains(&"shared_buffers"), "{changed:?}");
    let diff = tuned["vs_baseline"].as_array().unwrap();
    let sync = diff
        .iter()
        .find(|d| d["name"] == "synchronous_commit")
        .unwrap_or_else(|| panic!("{diff:#?}"));
    assert_eq!(
        (sync["baseline"].as_str(), sync["this"].as_str()),
        (None, Some("off")),
        "{sync}"
    );
    assert!(envs[0]["vs_baseline"].as_array().unwrap().is_empty());

    let markdown = report_text(&api, &id, "markdown").await;
    assert!(markdown.contains("| test | status | runs |"), "{markdown}");
    assert!(
        markdown.contains("| tuned | COMPLETED | 3/3 |"),
        "{markdown}"
    );
    assert!(markdown.contains("synchronous_commit"), "{markdown}");
    assert!(markdown.contains("- during the load: CPU"), "{markdown}");
    let junit = report_text(&api, &id, "junit").await;
    let xml = roxmltree::Document::parse(&junit).unwrap_or_else(|e| panic!("{e}: {junit}"));
    let cases: Vec<&str> = xml
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|n| n.attribute("name").unwrap())
        .collect();
    assert_eq!(cases, ["default", "tuned", "wal-tuned"]);
    let (status, bad) = api
        .get(&format!("/api/v1/suites/{id}/report?format=pdf"))
        .await;
    assert_eq!(status, 400, "{bad}");

    // Compared across suites (here: one), with the rows named suite/test.
    let (status, compared) = api
        .get(&format!(
            "/api/v1/results/compare?suites={id}&baseline=pg15-local-tuning/tuned"
        ))
        .await;
    assert_eq!(status, 200, "{compared}");
    assert_eq!(compared["tests"].as_array().unwrap().len(), 3);
    assert_eq!(compared["tests"][1]["name"], "pg15-local-tuning/tuned");
    assert_eq!(compared["tests"][1]["tps_delta_pct"], 0.0);
    assert_eq!(
        compared["tests"][0]["repetitions"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let (status, _) = api.get("/api/v1/results/compare?suites=nope").await;
    assert_eq!(status, 400);

    // Listed, newest first.
    let (_, page) = api.get(&format!("/api/v1/suites?status={expected}")).await;
    assert_eq!(page["suites"][0]["id"], id.as_str());
    assert_eq!(page["suites"][0]["tests"], 3);
    assert_eq!(page["suites"][0]["status"], expected);
}

async fn report_text(api: &Api, id: &str, format: &str) -> String {
    let (status, text) = api
        .get_text(&format!("/api/v1/suites/{id}/report?format={format}"))
        .await;
    assert_eq!(status, 200, "{text}");
    text
}

/// A sure regression: `slow` runs TPC-B-like transactions from one client where the
/// baseline runs read-only ones from four; sequential, so each test's three runs share
/// one database. Driven through the CLI as CI would: the suite
/// says REGRESSED, `--fail-on regression` fails the command, and the JUnit file marks
/// `slow` failed and the others passed. Then the suite is kept as the named baseline
/// `nightly`, and a later suite is compared with its test `fast`.
#[tokio::test]
async fn a_regression_is_the_suites_status_a_failed_junit_case_and_the_exit_code() {
    let data = open_dir();
    let server = Server::start(data.path(), &[]).await;
    let file = data.path().join("regression.yaml");
    std::fs::write(
        &file,
        "name: sure-regression\ntarget: local\nbaseline: fast\norder: sequential\ndefaults:\n  database: {version: 15, stat_statements: true}\n  workload: {driver: pgbench, duration: 2s, repeat: 3, clients: 4, threads: 2, builtin: select-only}\ntests:\n  - name: fast\n  - name: slow\n    workload: {clients: 1, threads: 1, builtin: tpcb-like}\n",
    )
    .unwrap();
    let (junit, markdown) = (data.path().join("junit.xml"), data.path().join("report.md"));
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ratchet"))
        .args(["run", "--json", "--fail-on", "regression", "-f"])
        .arg(&file)
        .arg("--junit")
        .arg(&junit)
        .arg("--report")
        .arg(&markdown)
        .env("RATCHET_SERVER_URL", &server.base)
        .env("RATCHET_TOKEN", ADMIN_TOKEN)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let suite: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert!(
        !out.status.success(),
        "a regression fails the command: {suite:#}"
    );
    assert_eq!(suite["status"], "REGRESSED", "{suite:#}");
    assert!(
        suite["error"].as_str().unwrap().contains("slow"),
        "{suite:#}"
    );
    let tps = &suite["result"]["tests"][1]["comparison"]["tps"];
    assert_eq!(tps["verdict"], "regression", "{tps:#}");
    assert!(tps["high"].as_f64().unwrap() < 0.98, "{tps:#}");

    // In sequential order each test's repetitions reuse one database: one test run each.
    for test in suite["tests"].as_array().unwrap() {
        let reps = test["repetitions"].as_array().unwrap();
        assert_eq!(reps.len(), 3, "{test:#}");
        assert!(
            reps.iter()
                .all(|r| r["run_id"] == test["run_id"] && r["result"]["tps"].is_number()),
            "{test:#}"
        );
    }
    let run = Api::new(&server.base, ADMIN_TOKEN)
        .run(suite["tests"][0]["run_id"].as_str().unwrap())
        .await;
    assert_eq!(
        run["children"].as_array().unwrap().len(),
        1,
        "one provisioning for three runs"
    );

    // pg_stat_statements, asked for: the measured window's top statements.
    let top = &suite["tests"][0]["result"]["top_statements"];
    let first = &top[0];
    assert!(first["calls"].as_f64().unwrap() > 100.0, "{top:#}");
    assert!(
        first["query"]
            .as_str()
            .unwrap()
            .contains("pgbench_accounts"),
        "{top:#}"
    );

    let text = std::fs::read_to_string(&junit).unwrap();
    let xml = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let case = |name: &str| {
        xml.descendants()
            .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no test case {name}: {text}"))
    };
    let failure = case("slow")
        .children()
        .find(|n| n.has_tag_name("failure"))
        .unwrap_or_else(|| panic!("slow is not failed: {text}"));
    assert_eq!(failure.attribute("type"), Some("regression"));
    assert!(
        failure.attribute("message").unwrap().contains("TPS"),
        "{text}"
    );
    assert!(
        case("fast").children().all(|n| !n.has_tag_name("failure")),
        "{text}"
    );
    let suite_node = xml
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite_node.attribute("failures"), Some("1"), "{text}");
    let report = std::fs::read_to_string(&markdown).unwrap();
    assert!(
        report.contains("# Suite `sure-regression`: REGRESSED"),
        "{report}"
    );
    assert!(report.contains("regression"), "{report}");
    assert!(report.contains("| top statements |"), "{report}");

    // Kept under a name, it is what a later suite compares with.
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let id = suite["id"].as_str().unwrap();
    let put = |name: &str, body: Value| {
        let url = format!("{}/api/v1/baselines/{name}", api.base);
        async move {
            let r = common::http()
                .put(url)
                .bearer_auth(ADMIN_TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, kept) = put("nightly", json!({"suite": id})).await;
    assert_eq!(status, 200, "{kept}");
    assert_eq!(kept["tests"], json!(["fast", "slow"]));
    let (status, bad) = put("Nightly", json!({"suite": id})).await;
    assert_eq!(status, 400, "{bad}");
    let (status, bad) = put("x", json!({"suite": uuid::Uuid::nil()})).await;
    assert_eq!(status, 404, "{bad}");
    // Listed by the status it has.
    let (_, page) = api.get("/api/v1/suites?status=REGRESSED").await;
    assert_eq!(page["suites"][0]["id"], id, "{page:#}");
    let (_, page) = api.get("/api/v1/suites?status=COMPLETED").await;
    assert!(page["suites"].as_array().unwrap().is_empty(), "{page:#}");
    let (_, listed) = api.get("/api/v1/baselines").await;
    assert_eq!(listed[0]["name"], "nightly", "{listed}");

    let against = |suite: &str, test: &str| {
        format!(
            "name: tonight\ntarget: local\nbaseline: {{suite: {suite}, test: {test}}}\ntests:\n  - name: again\n    database: {{version: 15}}\n    workload: {{driver: pgbench, duration: 2s, repeat: 3, clients: 4, threads: 2, builtin: select-only}}\n"
        )
    };
    for (doc, path) in [
        (against("nope", "fast"), "baseline.suite"),
        (against("nightly", "nope"), "baseline.test"),
    ] {
        let (status, problem) = submit(&api, &doc).await;
        assert_eq!(status, 400, "{problem}");
        assert_eq!(problem["errors"][0]["path"], path, "{problem:#}");
        assert!(problem["errors"][0]["line"].is_number(), "{problem:#}");
    }
    let (status, tonight) = submit(&api, &against("nightly", "fast")).await;
    assert_eq!(status, 201, "{tonight}");
    let tonight_id = tonight["id"].as_str().unwrap().to_string();
    // Only a suite that ran to its end can be kept.
    let (status, busy) = put("nightly", json!({"suite": tonight_id})).await;
    assert_eq!(status, 409, "{busy}");
    let tonight = wait_suite(&api, &tonight_id, 300, "the second suite to end", ended).await;
    let result = &tonight["result"];
    assert_eq!(result["baseline"], "nightly/fast", "{result:#}");
    assert_eq!(result["tests"][0]["name"], "nightly/fast");
    assert_eq!(
        result["tests"][0]["repetitions"].as_array().unwrap().len(),
        3
    );
    assert_eq!(result["tests"][1]["name"], "again");
    let tps = &result["tests"][1]["comparison"]["tps"];
    assert!(tps["low"].is_number() && tps["high"].is_number(), "{tps:#}");
    assert_nothing_left(&api, data.path()).await;
}

const FAILING: &str = "\
name: one-bad-test
target: local
defaults:
  database: {version: 15}
  workload: {driver: pgbench, duration: 3s, clients: 2}
tests:
  - name: good
  - name: bad
    database:
      settings: {shared_buffers: lots}
";

/// Through the CLI, as CI would drive it: the bad test fails with PostgreSQL's own message,
/// its machines are destroyed anyway, the good test completes, the command exits non-zero.
#[tokio::test]
async fn a_test_whose_database_cannot_start_fails_alone_and_is_torn_down() {
    let data = open_dir();
    let server = Server::start(data.path(), &[]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let file = data.path().join("failing.yaml");
    std::fs::write(&file, FAILING).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ratchet"))
        .args(["run", "--json", "-f"])
        .arg(&file)
        .env("RATCHET_SERVER_URL", &server.base)
        .env("RATCHET_TOKEN", ADMIN_TOKEN)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!out.status.success(), "a failed test fails the command");
    let suite: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let test = |name: &str| {
        suite["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(test("good")["status"], "COMPLETED", "{suite:#}");
    let bad = test("bad");
    assert_eq!(bad["status"], "FAILED", "{suite:#}");
    let error = bad["error"].as_str().unwrap();
    assert!(
        error.contains("shared_buffers") && error.contains("lots"),
        "PostgreSQL's own message: {error}"
    );
    let run = api.run(bad["run_id"].as_str().unwrap()).await;
    assert_eq!(
        task(&run, "destroy-plan-on-failure")["status"],
        "COMPLETED",
        "{run:#}"
    );
    assert_eq!(suite["result"]["failed"], 1);
    // The suite says so itself, for a CI job reading the API.
    assert_eq!(suite["status"], "FAILED", "{suite:#}");
    assert_eq!(suite["error"], "1 of 2 tests failed: bad", "{suite:#}");
    let (_, page) = api.get("/api/v1/suites?status=FAILED").await;
    assert_eq!(page["suites"][0]["id"], suite["id"], "{page:#}");
    assert_nothing_left(&api, data.path()).await;
}

#[tokio::test]
async fn cancelling_a_suite_mid_load_tears_everything_down_within_seconds() {
    let data = open_dir();
    let server = Server::start(data.path(), &[]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let yaml = "name: long\ntarget: local\ntests:\n  - name: long\n    database: {version: 15}\n    workload: {driver: pgbench, duration: 10m, clients: 2}\n";
    let (status, suite) = submit(&api, yaml).await;
    assert_eq!(status, 201, "{suite}");
    let id = suite["id"].as_str().unwrap().to_string();
    wait_suite(&api, &id, 120, "the load to run", |s| {
        s["tests"][0]["steps"]
            .as_array()
            .is_some_and(|steps| steps.iter().any(|st| st == "run-stroppy-test"))
            && s["tests"][0]["result"].is_null()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await; // pgbench is running now
    let (status, body) = api
        .post(&format!("/api/v1/suites/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    let cancelled_at = Instant::now();
    let suite = wait_suite(&api, &id, 60, "the suite to end", ended).await;
    assert_eq!(suite["status"], "CANCELLED", "{suite:#}");
    assert_eq!(suite["tests"][0]["status"], "CANCELLED", "{suite:#}");
    assert_nothing_left(&api, data.path()).await;
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(30),
        "teardown took {:?}",
        cancelled_at.elapsed()
    );
}

#[tokio::test]
async fn a_bad_suite_is_refused_with_every_problem_at_its_line() {
    let data = open_dir();
    let server = Server::start(data.path(), &[]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let (status, body) = submit(&api, "name: x\ntarget: local\ntests:\n  - name: a\n    workload: {driver: pgbench, duration: 5s, clientz: 2}\n").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"][0]["path"], "tests[0].workload.clientz",
        "{body}"
    );
    assert_eq!(body["errors"][0]["line"], 5, "{body}");
    let (status, body) = submit(&api, "name: x\ntarget: local\ntests:\n  - name: a\n    database: {version: 99}\n    workload: {driver: pgbench, duration: 5s, clients: 1, threads: 4}\n").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"].as_array().unwrap().len() >= 2,
        "every problem at once: {body}"
    );
    let (_, page) = api.get("/api/v1/suites").await;
    assert!(
        page["suites"].as_array().unwrap().is_empty(),
        "nothing was started"
    );
}

/// Cancelled while its machines are being made: the test's teardown and its provision's
/// run at once, and between them nothing is left (no machine, no network block).
#[tokio::test]
async fn cancelling_a_suite_while_it_provisions_leaves_nothing_behind() {
    let data = open_dir();
    let server = Server::start(data.path(), &[]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let yaml = "name: early\ntarget: local\ntests:\n  - name: early\n    database: {version: 15}\n    workload: {driver: pgbench, duration: 10m, clients: 1}\n";
    let (status, suite) = submit(&api, yaml).await;
    assert_eq!(status, 201, "{suite}");
    let id = suite["id"].as_str().unwrap().to_string();
    // The first machine exists (its lease has what destroying it needs).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, infra) = api.get("/api/v1/infrastructure").await;
        let made = infra["leases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["kind"] == "machine" && !l["data"].is_null());
        if made {
            break;
        }
        assert!(Instant::now() < deadline, "no machine was made: {infra}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, body) = api
        .post(&format!("/api/v1/suites/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    let suite = wait_suite(&api, &id, 60, "the suite to end", ended).await;
    assert_eq!(suite["status"], "CANCELLED", "{suite:#}");
    let run = api.run(suite["tests"][0]["run_id"].as_str().unwrap()).await;
    assert_eq!(
        task(&run, "destroy-plan-on-failure")["status"],
        "COMPLETED",
        "{run:#}"
    );
    assert_nothing_left(&api, data.path()).await;
}
