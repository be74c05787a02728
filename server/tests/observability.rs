//! Traces and metrics of a real suite on the local target: the server and its agents
//! export OTLP/HTTP to a receiver in this test (which decodes the protobuf payloads), and
//! `/metrics` is scraped and parsed afterwards.

mod common;

use std::collections::HashMap;

use common::otlp::{Received, grpc_receiver, http_receiver, wait_for};
use common::{ADMIN_TOKEN, Api, Server, ended, http, open_dir, wait_suite};

const SUITE: &str = r#"
name: traced
target: local
tests:
  - name: only
    database:
      version: 15
    workload:
      driver: pgbench
      duration: 2s
      warmup: 1s
      repeat: 1
      scale: 1
      clients: 2
      threads: 1
"#;

/// The caller's trace, sent with the submission: its HTTP span must join it.
const CALLER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN: &str = "b7ad6b7169203331";

#[tokio::test]
async fn a_suite_is_one_trace_from_the_suite_down_to_the_agents_commands_and_its_metrics_move() {
    let (collector, spans) = http_receiver().await;
    let data = open_dir();
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        (
            "RATCHET_TRACE_URL_TEMPLATE",
            "http://jaeger.example/trace/{trace_id}",
        ),
    ];
    let server = Server::start(data.path(), &env).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let submitted = http()
        .post(format!("{}/api/v1/suites", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/yaml")
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .body(SUITE)
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 201);
    let suite: serde_json::Value = submitted.json().await.unwrap();
    let id = suite["id"].as_str().unwrap().to_string();
    let suite = wait_suite(&api, &id, 300, "the suite to end", ended).await;
    assert_eq!(suite["status"], "COMPLETED", "{suite:#}");

    // The trace is the suite's: its id is the suite run's id, and the run pages link to it.
    let trace = id.replace('-', "");
    assert_eq!(
        suite["trace_url"],
        format!("http://jaeger.example/trace/{trace}"),
        "{suite:#}"
    );
    let test_run = suite["tests"][0]["run_id"].as_str().unwrap().to_string();
    let (_, run) = api.get(&format!("/api/v1/runs/{test_run}")).await;
    assert_eq!(
        run["trace_url"], suite["trace_url"],
        "a test run is in its suite's trace"
    );

    // Wait for the last span (the suite's own) to arrive.
    let is_suite = |s: &Received| {
        s.attributes.get("ratchet.run_id") == Some(&id)
            && s.attributes.contains_key("ratchet.workflow")
    };
    let spans = wait_for(&spans, 30, |got| got.iter().any(is_suite)).await;
    let by_id: HashMap<&str, &Received> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let parent_of = |s: &Received| by_id.get(s.parent.as_str()).copied();

    // The suite's run span is the root of its trace.
    let root = spans
        .iter()
        .find(|s| is_suite(s))
        .unwrap_or_else(|| panic!("no span of the suite run among {spans:#?}"));
    assert_eq!(root.trace_id, trace);
    assert_eq!(root.parent, "", "the suite is the root: {root:?}");
    assert_eq!(root.service, "ratchet");

    // The test run's span hangs under the suite's task attempt that spawned it.
    let test_span = spans
        .iter()
        .find(|s| {
            s.attributes.get("ratchet.run_id") == Some(&test_run)
                && s.attributes.contains_key("ratchet.workflow")
        })
        .expect("a span of the test run");
    assert_eq!(test_span.trace_id, trace);
    let spawner = parent_of(test_span).expect("the test run's parent span was exported");
    assert_eq!(
        spawner.attributes.get("ratchet.run_id"),
        Some(&id),
        "{spawner:?}"
    );
    assert!(
        spawner.attributes.contains_key("ratchet.task"),
        "{spawner:?}"
    );

    // Each of the test run's task attempts is a span under the test run's.
    let load_step = spans
        .iter()
        .find(|s| {
            s.name == "run-stroppy-test" && s.attributes.get("ratchet.run_id") == Some(&test_run)
        })
        .expect("a span of the load step");
    assert_eq!(load_step.parent, test_span.span_id);
    assert_eq!(load_step.attributes["ratchet.outcome"], "completed");
    assert_eq!(load_step.trace_id, trace);

    // The agent's spans: the attempt under the server's attempt span, its commands under it.
    let agent_attempt = spans
        .iter()
        .find(|s| s.service == "ratchet-agent" && s.parent == load_step.span_id)
        .unwrap_or_else(|| panic!("no agent span under the load step among {spans:#?}"));
    assert_eq!(agent_attempt.trace_id, trace);
    let commands: Vec<&Received> = spans
        .iter()
        .filter(|s| s.parent == agent_attempt.span_id)
        .collect();
    assert!(
        commands
            .iter()
            .any(|c| c.name == "exec pgbench"
                && c.attributes["process.command_line"].contains(" -T ")),
        "the measured pgbench run is a span of the attempt: {commands:#?}"
    );
    // Every span of the agents is in the suite's trace, under a span that was exported.
    for s in spans.iter().filter(|s| s.service == "ratchet-agent") {
        assert_eq!(s.trace_id, trace, "{s:?}");
        assert!(
            parent_of(s).is_some(),
            "the parent of {s:?} was not exported"
        );
    }

    // The submission's HTTP span joined the caller's trace.
    let post = spans
        .iter()
        .find(|s| s.name == "POST /api/v1/suites")
        .expect("an HTTP server span of the submission");
    assert_eq!(post.trace_id, CALLER_TRACE);
    assert_eq!(post.parent, CALLER_SPAN);
    assert_eq!(post.attributes["http.response.status_code"], "201");

    // /metrics after the run: parsed, and the counters and histograms moved.
    let text = common::metrics_text(&server.base).await;
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("/metrics parses");
    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => 0.0,
            })
            .sum()
    };
    assert!(
        value(
            "ratchet_task_attempts_total",
            &[("action", "load.run"), ("outcome", "completed")]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        value(
            "ratchet_task_attempt_duration_seconds_count",
            &[("action", "load.run")]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        value(
            "ratchet_task_queue_wait_seconds_count",
            &[("action", "load.run")]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        value(
            "ratchet_http_request_duration_seconds_count",
            &[
                ("route", "/api/v1/suites"),
                ("method", "POST"),
                ("status", "201")
            ]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        value(
            "ratchet_store_call_duration_seconds_count",
            &[("op", "claim")]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        value("ratchet_runs", &[("status", "COMPLETED")]) >= 2.0,
        "{text}"
    );
    assert!(
        text.trim_end().ends_with("# EOF"),
        "OpenMetrics ends with # EOF"
    );
    drop(server);
}

#[tokio::test]
async fn metrics_behind_a_token_refuse_a_scrape_without_it() {
    let data = open_dir();
    let token = "metrics-token-0123456789";
    let server = Server::start(data.path(), &[("RATCHET_METRICS_TOKEN", token)]).await;
    let url = format!("{}/metrics", server.base);
    let bare = http().get(&url).send().await.unwrap();
    assert_eq!(bare.status(), 401);
    let wrong = http()
        .get(&url)
        .bearer_auth("metrics-token-wrong-0000")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let body = wrong.text().await.unwrap();
    assert!(!body.contains(token), "{body}");
    // The metrics token is for /metrics only: the API does not take it.
    let api = http()
        .get(format!("{}/api/v1/runs", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    let right = http().get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(right.status(), 200);
    assert!(right.text().await.unwrap().contains("ratchet_workers"));
}

#[tokio::test]
async fn over_grpc_an_api_request_is_a_server_span_in_the_callers_trace() {
    let (collector, spans) = grpc_receiver().await;
    let data = open_dir();
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("OTEL_SERVICE_NAME", "ratchet-ci"),
    ];
    let server = Server::start(data.path(), &env).await;
    let listed = http()
        .get(format!("{}/api/v1/runs", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let is_listing = |s: &Received| s.name == "GET /api/v1/runs";
    let spans = wait_for(&spans, 30, |got| got.iter().any(is_listing)).await;
    let span = spans
        .iter()
        .find(|s| is_listing(s))
        .expect("a span arrived over gRPC");
    assert_eq!(span.trace_id, CALLER_TRACE);
    assert_eq!(span.parent, CALLER_SPAN);
    assert_eq!(
        span.service, "ratchet-ci",
        "OTEL_SERVICE_NAME names the service"
    );
    assert_eq!(span.attributes["http.route"], "/api/v1/runs");
}
