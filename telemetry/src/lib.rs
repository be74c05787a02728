//! OpenTelemetry for the server and the edge agent: one OTLP span pipeline built from the
//! standard `OTEL_*` variables (none set → none built: no exporter, no cost), and the W3C
//! trace context (`traceparent`) the server hands to agents with each assignment.
//!
//! Two kinds of spans go through one pipeline. *Live* spans (an HTTP request, a command an
//! agent runs) come from [`Pipeline::tracer`]. *Durable* spans (a workflow run, a task
//! attempt) are rebuilt from the store's timeline when they end ([`Pipeline::export`]) with
//! ids derived from the run and task ids ([`ids`]), so any replica, at any time, names the
//! same span — an agent can be given its attempt's span as parent before that span exists.

pub mod ids;
pub mod live;

pub use live::Trace;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
    TracerProvider,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::runtime::Tokio;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanProcessor};

pub use opentelemetry;

/// The OTLP span pipeline: a batching exporter on the tokio runtime.
pub struct Pipeline {
    processor: SharedProcessor,
    provider: SdkTracerProvider,
    scope: InstrumentationScope,
    /// What is exported to, for the log line at start.
    pub target: String,
}

/// A span that has ended, with the ids it must have (see [`ids`]).
pub struct FinishedSpan {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent: Option<SpanId>,
    pub name: String,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Vec<KeyValue>,
    /// Set: the span's status is an error with this message.
    pub error: Option<String>,
}

/// The variables that say where and how traces go: a program Ratchet starts (a local
/// agent, Stroppy) is given them, but names itself (`OTEL_SERVICE_NAME` is not passed on).
pub const EXPORT_VARS: &[&str] = &[
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
];

/// Trace export is switched on by `OTEL_EXPORTER_OTLP_ENDPOINT` or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, and off again by `OTEL_SDK_DISABLED=true` or
/// `OTEL_TRACES_EXPORTER=none`.
pub fn enabled() -> bool {
    let set = |var: &str| std::env::var(var).is_ok_and(|v| !v.trim().is_empty());
    let is = |var: &str, value: &str| {
        std::env::var(var).is_ok_and(|v| v.trim().eq_ignore_ascii_case(value))
    };
    (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
        && !is("OTEL_SDK_DISABLED", "true")
        && !is("OTEL_TRACES_EXPORTER", "none")
}

impl Pipeline {
    /// The pipeline the environment asks for, or `None` when trace export is off. The
    /// protocol is `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` or `OTEL_EXPORTER_OTLP_PROTOCOL`:
    /// `http/protobuf` (the default) or `grpc`; endpoint, headers, timeout and compression
    /// are read by the exporter from their standard variables. The service is
    /// `OTEL_SERVICE_NAME`, else `default_service`; `OTEL_RESOURCE_ATTRIBUTES` adds to it.
    /// Must be called within the tokio runtime.
    pub fn from_env(default_service: &'static str) -> Result<Option<Arc<Pipeline>>, String> {
        use opentelemetry_otlp::{SpanExporter, WithExportConfig};
        if !enabled() {
            return Ok(None);
        }
        let protocol = [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "http/protobuf".into());
        let exporter = match protocol.trim() {
            "http/protobuf" => SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .build(),
            "grpc" => SpanExporter::builder().with_tonic().build(),
            other => {
                return Err(format!(
                    "OTEL_EXPORTER_OTLP_PROTOCOL is '{other}'; Ratchet exports traces over \
                     'http/protobuf' or 'grpc'"
                ));
            }
        }
        .map_err(|e| format!("cannot set up the OTLP trace exporter: {e}"))?;
        let resource = if std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.trim().is_empty()) {
            Resource::builder().build()
        } else {
            Resource::builder()
                .with_service_name(default_service)
                .build()
        };
        let mut batch = BatchSpanProcessor::builder(exporter, Tokio).build();
        batch.set_resource(&resource);
        let processor = SharedProcessor(Arc::new(batch));
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor.clone())
            .with_resource(resource)
            .build();
        let scope = InstrumentationScope::builder(default_service)
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let endpoint = std::env::var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT"))
            .unwrap_or_default();
        Ok(Some(Arc::new(Pipeline {
            processor,
            provider,
            scope,
            target: format!("{} over {}", endpoint.trim(), protocol.trim()),
        })))
    }

    /// For spans that start and end as the work happens.
    pub fn tracer(&self) -> SdkTracer {
        self.provider.tracer_with_scope(self.scope.clone())
    }

    /// Hand an ended durable span to the exporter (batched; never blocks).
    pub fn export(&self, span: FinishedSpan) {
        let context = SpanContext::new(
            span.trace_id,
            span.span_id,
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        self.processor.on_end(SpanData {
            span_context: context,
            parent_span_id: span.parent.unwrap_or(SpanId::INVALID),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Owned(span.name),
            start_time: span.start,
            end_time: span.end,
            attributes: span.attributes,
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status: match span.error {
                Some(message) => Status::error(message),
                None => Status::Ok,
            },
            instrumentation_scope: self.scope.clone(),
        });
    }

    /// Send what is buffered and stop (at shutdown).
    pub fn shutdown(&self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "trace export did not shut down cleanly");
        }
    }
}

/// The batch processor, held by the tracer provider (for live spans) and by the pipeline
/// (for durable spans) at once.
#[derive(Debug, Clone)]
struct SharedProcessor(Arc<BatchSpanProcessor<Tokio>>);

impl SpanProcessor for SharedProcessor {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &Context) {
        self.0.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.0.on_end(span);
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(
        &self,
        timeout: std::time::Duration,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
}

/// `00-<trace id>-<span id>-01`: a W3C trace context naming `span` of `trace` as parent.
pub fn traceparent(trace: TraceId, span: SpanId) -> String {
    format!("00-{trace}-{span}-01")
}

/// The parent context a `traceparent` header names; `None` when it is missing or not a
/// valid W3C trace context (then the span starts a trace of its own).
pub fn parent_from(traceparent: Option<&str>) -> Option<Context> {
    use opentelemetry::propagation::TextMapPropagator;
    let value = traceparent?;
    let carrier = HashMap::from([("traceparent".to_string(), value.to_string())]);
    let cx = opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&carrier);
    cx.span().span_context().is_valid().then_some(cx)
}
