//! What the server tells operators about itself: logs ([`logs`]), metrics ([`metrics`],
//! served by `GET /metrics`) and OpenTelemetry traces ([`traces`], [`http`]) when the
//! standard `OTEL_EXPORTER_OTLP_*` variables ask for them.

pub mod http;
pub mod logs;
pub mod metrics;
pub mod traces;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use engine::model::{RunId, TaskId};
use engine::observe::Observer;
use engine::store::ReadStore;

pub use self::logs::init;
use self::metrics::Metrics;
use self::traces::RunTracer;

/// The engine's observer and the HTTP layer's: this replica's metrics, and the trace
/// pipeline when traces are exported.
pub struct Telemetry {
    pub metrics: Metrics,
    pub pipeline: Option<Arc<telemetry::Pipeline>>,
    runs: Option<Arc<RunTracer>>,
    /// `RATCHET_TRACE_URL_TEMPLATE`: a trace UI's address with `{trace_id}` in it.
    pub trace_url_template: Option<String>,
}

impl Telemetry {
    /// Metrics always; traces when the environment asks for them (an invalid setting is
    /// an error at start, not a silent lack of traces).
    pub fn start(
        reads: Arc<dyn ReadStore>,
        trace_url_template: Option<String>,
    ) -> anyhow::Result<Arc<Telemetry>> {
        let pipeline = telemetry::Pipeline::from_env("ratchet").map_err(anyhow::Error::msg)?;
        if let Some(p) = &pipeline {
            tracing::info!(target = %p.target, "exporting traces");
            telemetry::live::install(p.clone());
        }
        let runs = pipeline.clone().map(|p| RunTracer::start(p, reads));
        Ok(Arc::new(Telemetry {
            metrics: Metrics::default(),
            pipeline,
            runs,
            trace_url_template,
        }))
    }

    /// A trace UI's link to the trace `run` is part of: only when traces are exported and
    /// `RATCHET_TRACE_URL_TEMPLATE` is set.
    pub async fn trace_url(&self, run: RunId) -> Option<String> {
        let template = self.trace_url_template.as_ref()?;
        let root = self.runs.as_ref()?.root_of(run).await?;
        let trace = telemetry::ids::trace_of_root(root.as_u128());
        Some(template.replace("{trace_id}", &trace.to_string()))
    }

    pub fn shutdown(&self) {
        if let Some(p) = &self.pipeline {
            p.shutdown();
        }
    }
}

#[async_trait]
impl Observer for Telemetry {
    fn changed(&self, change: &engine::store::Change) {
        for attempt in &change.ended {
            self.metrics.attempt_ended(attempt);
        }
        if let Some(runs) = &self.runs {
            runs.changed(change);
        }
    }

    fn traces(&self) -> bool {
        self.runs.is_some()
    }

    async fn traceparent(&self, run_id: RunId, task_id: TaskId, attempt: i32) -> Option<String> {
        self.runs
            .as_ref()?
            .traceparent(run_id, task_id, attempt)
            .await
    }

    fn store_call(&self, op: &'static str, took: Duration) {
        self.metrics.store_call(op, took);
    }
}
