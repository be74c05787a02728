//! Every routed request is timed into `ratchet_http_request_duration_seconds` by route
//! template (never the concrete path: ids would explode the label set, and a query string
//! may hold a token), and — when traces are exported — an API request is a server span,
//! joined to the caller's trace when it sends a `traceparent`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use telemetry::opentelemetry::KeyValue;

use super::Telemetry;

/// The agents' protocol calls (a long poll every few seconds per agent) and the probes
/// would bury the API's requests in the trace UI: they are timed, not traced.
fn traced(route: &str) -> bool {
    !(route.starts_with("/api/v1/agent/") || matches!(route, "/metrics" | "/healthz" | "/readyz"))
}

pub async fn observe(
    State(telemetry): State<Arc<Telemetry>>,
    request: Request,
    next: Next,
) -> Response {
    // A method of the client's invention must not become a label of its own.
    let method = match request.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m,
        _ => "_OTHER",
    }
    .to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let span = traced(&route).then(|| {
        let parent = request
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok());
        telemetry::Trace::server(
            parent,
            format!("{method} {route}"),
            vec![
                KeyValue::new("http.request.method", method.clone()),
                KeyValue::new("http.route", route.clone()),
            ],
        )
    });
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    telemetry
        .metrics
        .http_request(&method, &route, status, started.elapsed());
    if let Some(span) = span {
        span.set(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
        span.end(
            (status >= 500)
                .then(|| format!("answered {status}"))
                .as_deref(),
        );
    }
    response
}
