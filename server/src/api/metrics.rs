//! `GET /metrics` (no token): Prometheus/OpenMetrics text, read from the store at scrape
//! time, so every replica answers the same numbers.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::api::problem::ApiResult;
use crate::state::AppState;

type Labels = Vec<(String, String)>;

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", security(()), tag = "health", responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let runs = Family::<Labels, Gauge>::default();
    for (workflow, status, count) in state.reads.run_counts().await? {
        runs.get_or_create(&vec![
            ("workflow".into(), workflow),
            ("status".into(), status),
        ])
        .set(count);
    }
    let agents = Family::<Labels, Gauge>::default();
    let running = Gauge::<i64>::default();
    for w in state.reads.workers().await? {
        agents
            .get_or_create(&vec![
                ("kind".into(), w.info.kind.clone()),
                ("status".into(), w.status.to_string()),
            ])
            .inc();
        running.inc_by(w.running.len() as i64);
    }
    let leases = Family::<Labels, Gauge>::default();
    for lease in state.engine.leases().leases(None, None).await? {
        leases
            .get_or_create(&vec![("kind".into(), lease.kind)])
            .inc();
    }
    let mut registry = Registry::with_prefix("ratchet");
    registry.register("runs", "Workflow runs by workflow and status", runs);
    registry.register(
        "workers",
        "Workers (in-process and agents) by status",
        agents,
    );
    registry.register(
        "running_attempts",
        "Task attempts running on workers now",
        running,
    );
    registry.register(
        "leases",
        "Provisioned resources held now (machines, network blocks)",
        leases,
    );
    let mut body = String::new();
    encode(&mut body, &registry).map_err(|e| {
        crate::api::problem::ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string(),
        )
    })?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    ))
}
