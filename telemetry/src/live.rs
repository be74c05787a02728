//! Spans that start and end as the work happens (an agent's attempt and its commands, a
//! Terraform command), under a W3C `traceparent` handed down from the run's trace. They go
//! to the pipeline [`install`]ed for the process; without one, nothing is built.

use std::sync::{Arc, OnceLock};

use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};

use crate::Pipeline;

static PIPELINE: OnceLock<Arc<Pipeline>> = OnceLock::new();

/// The process's pipeline for live spans (the first one installed stays).
pub fn install(pipeline: Arc<Pipeline>) {
    let _ = PIPELINE.set(pipeline);
}

/// Send what the installed pipeline buffers, and stop it (before exit).
pub fn shutdown() {
    if let Some(p) = PIPELINE.get() {
        p.shutdown();
    }
}

/// A span in progress (or nothing, when traces are not exported). Cloning shares it.
#[derive(Clone, Default)]
pub struct Trace {
    cx: Option<Context>,
}

impl Trace {
    /// A span under the W3C `traceparent` given (a trace of its own without one).
    pub fn start(traceparent: Option<&str>, name: String, attributes: Vec<KeyValue>) -> Trace {
        Trace::of_kind(traceparent, SpanKind::Internal, name, attributes)
    }

    /// A server's span of one request it answers, under the caller's `traceparent`.
    pub fn server(traceparent: Option<&str>, name: String, attributes: Vec<KeyValue>) -> Trace {
        Trace::of_kind(traceparent, SpanKind::Server, name, attributes)
    }

    fn of_kind(
        traceparent: Option<&str>,
        kind: SpanKind,
        name: String,
        attributes: Vec<KeyValue>,
    ) -> Trace {
        let parent = crate::parent_from(traceparent).unwrap_or_default();
        Trace::under(&parent, kind, name, attributes)
    }

    /// A span under this one.
    pub fn child(&self, name: String, attributes: Vec<KeyValue>) -> Trace {
        match &self.cx {
            Some(cx) => Trace::under(cx, SpanKind::Internal, name, attributes),
            None => Trace::default(),
        }
    }

    fn under(parent: &Context, kind: SpanKind, name: String, attributes: Vec<KeyValue>) -> Trace {
        let Some(pipeline) = PIPELINE.get() else {
            return Trace::default();
        };
        let tracer = pipeline.tracer();
        let span = tracer
            .span_builder(name)
            .with_kind(kind)
            .with_attributes(attributes)
            .start_with_context(&tracer, parent);
        Trace {
            cx: Some(parent.with_span(span)),
        }
    }

    /// End the span, as failed with `error` when there is one.
    pub fn end(&self, error: Option<&str>) {
        if let Some(cx) = &self.cx {
            let span = cx.span();
            if let Some(error) = error {
                span.set_status(Status::error(error.to_string()));
            }
            span.end();
        }
    }

    pub fn set(&self, attribute: KeyValue) {
        if let Some(cx) = &self.cx {
            cx.span().set_attribute(attribute);
        }
    }

    /// This span as a `traceparent`, for a program that traces itself (Stroppy).
    pub fn traceparent(&self) -> Option<String> {
        let cx = self.cx.as_ref()?;
        let sc = cx.span().span_context().clone();
        Some(crate::traceparent(sc.trace_id(), sc.span_id()))
    }
}
