//! The agent's traces, when `OTEL_EXPORTER_OTLP_*` is set: each attempt is a span (named by
//! its action) under the span the server handed out with the assignment, and each command
//! it runs a span under that (`telemetry::Trace`) — so a suite's trace shows `pgbench -i`,
//! the warm-up and the measured load where they happened. Without the variables nothing is
//! built.

/// Build the export pipeline the environment asks for (within the runtime).
pub fn init() -> anyhow::Result<()> {
    let pipeline = telemetry::Pipeline::from_env("ratchet-agent").map_err(anyhow::Error::msg)?;
    if let Some(pipeline) = pipeline {
        tracing::info!(target = %pipeline.target, "exporting traces");
        telemetry::live::install(pipeline);
    }
    Ok(())
}
