//! Traces and metrics of a real suite on the local target: the server and its agents
//! export OTLP/HTTP to a receiver in this test (which decodes the protobuf payloads), and
//! `/metrics` is scraped and parsed afterwards.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use common::{ADMIN_TOKEN, Api, Server, ended, http, open_dir, wait_suite};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;

/// One exported span, as the receiver decoded it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    trace_id: String,
    span_id: String,
    parent: String,
    name: String,
    attributes: HashMap<String, String>,
}

type Spans = Arc<Mutex<Vec<Received>>>;

/// Keep the spans of one export request.
fn keep(request: ExportTraceServiceRequest, kept: &Spans) {
    let mut kept = kept.lock().unwrap();
    for resource in request.resource_spans {
        let service = resource
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|a| a.key == "service.name")
            .map(|a| text(a.value.as_ref().and_then(|v| v.value.as_ref())))
            .unwrap_or_default();
        for span in resource.scope_spans.into_iter().flat_map(|s| s.spans) {
            kept.push(Received {
                service: service.clone(),
                trace_id: hex(&span.trace_id),
                span_id: hex(&span.span_id),
                parent: hex(&span.parent_span_id),
                name: span.name,
                attributes: span
                    .attributes
                    .iter()
                    .map(|a| {
                        (
                            a.key.clone(),
                            text(a.value.as_ref().and_then(|v| v.value.as_ref())),
                        )
                    })
                    .collect(),
            });
        }
    }
}

/// An OTLP/HTTP receiver on a free port: `POST /v1/traces` with protobuf bodies.
async fn http_receiver() -> (String, Spans) {
    let spans: Spans = Arc::default();
    let kept = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| {
            let kept = kept.clone();
            async move {
                keep(
                    ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf body"),
                    &kept,
                );
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, spans)
}

/// An OTLP/gRPC receiver on a free port (the collector's TraceService).
async fn grpc_receiver() -> (String, Spans) {
    struct Collector(Spans);
    #[tonic::async_trait]
    impl TraceService for Collector {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            keep(request.into_inner(), &self.0);
            Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
        }
    }
    let spans: Spans = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let service = TraceServiceServer::new(Collector(spans.clone()));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    (url, spans)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(value: Option<&AnyValue>) -> String {
    match value {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        Some(AnyValue::DoubleValue(d)) => d.to_string(),
        _ => String::new(),
    }
}

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

    // Wait for the last spans (the suite's own) to arrive.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let spans = loop {
        let got = spans.lock().unwrap().clone();
        let suite_span = got.iter().any(|s| {
            s.attributes.get("ratchet.run_id") == Some(&id)
                && s.attributes.contains_key("ratchet.workflow")
        });
        if suite_span || std::time::Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let by_id: HashMap<&str, &Received> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let parent_of = |s: &Received| by_id.get(s.parent.as_str()).copied();

    // The suite's run span is the root of its trace.
    let root = spans
        .iter()
        .find(|s| {
            s.attributes.get("ratchet.run_id") == Some(&id)
                && s.attributes.contains_key("ratchet.workflow")
        })
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
    let text = http()
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let span = loop {
        let found = spans
            .lock()
            .unwrap()
            .iter()
            .find(|s| s.name == "GET /api/v1/runs")
            .cloned();
        if let Some(span) = found {
            break span;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no span arrived over gRPC"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(span.trace_id, CALLER_TRACE);
    assert_eq!(span.parent, CALLER_SPAN);
    assert_eq!(
        span.service, "ratchet-ci",
        "OTEL_SERVICE_NAME names the service"
    );
    assert_eq!(span.attributes["http.route"], "/api/v1/runs");
}
