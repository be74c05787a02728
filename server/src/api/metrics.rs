//! `GET /metrics`: OpenMetrics text. What the store holds (runs, queues, workers, leases)
//! is read at scrape time, so every replica answers it alike; what this replica measured
//! (attempt and request durations, store calls, findings) is its own, as Prometheus expects
//! of replicas. Open, or behind `RATCHET_METRICS_TOKEN`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use sha2::Digest;
use std::sync::atomic::AtomicU64;

use engine::model::WorkerStatus;

use crate::api::problem::{ApiError, ApiResult};
use crate::state::AppState;
use crate::telemetry::metrics::Labels;

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", security(()), tag = "health", responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text", body = String), (status = 401, description = "`RATCHET_METRICS_TOKEN` is set and the request does not carry it")))]
pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    if let Some(expected) = &state.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| <[u8; 32]>::from(sha2::Sha256::digest(t.trim().as_bytes())));
        if given.as_ref() != Some(expected) {
            return Err(ApiError::unauthorized(
                "/metrics needs the metrics token (RATCHET_METRICS_TOKEN) as `Authorization: Bearer <token>`",
            ));
        }
    }
    let mut registry = Registry::with_prefix("ratchet");
    stored(&state, &mut registry).await?;
    state.telemetry.metrics.register(&mut registry);
    let mut body = String::new();
    encode(&mut body, &registry)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    ))
}

fn gauges() -> Family<Labels, Gauge> {
    Family::default()
}

fn pair(key: &str, value: impl Into<String>) -> (String, String) {
    (
        key.to_string(),
        crate::telemetry::metrics::label_value(&value.into()),
    )
}

/// The gauges read from the store (and this replica's open streams).
async fn stored(state: &AppState, registry: &mut Registry) -> ApiResult<()> {
    let runs = gauges();
    for (workflow, status, count) in state.reads.run_counts().await? {
        runs.get_or_create(&vec![pair("workflow", workflow), pair("status", status)])
            .set(count);
    }
    let (depth, age) = (gauges(), Family::<Labels, Gauge<f64, AtomicU64>>::default());
    let workers_now = state.reads.workers().await?;
    // Every action a live worker takes is a queue, at 0 while nothing waits in it.
    for w in workers_now
        .iter()
        .filter(|w| w.status == WorkerStatus::Active)
    {
        for action in &w.info.actions {
            depth.get_or_create(&vec![pair("action", action)]).set(0);
            age.get_or_create(&vec![pair("action", action)]).set(0.0);
        }
    }
    let now = state.engine.now();
    for (action, queued, oldest) in state.reads.queues(now).await? {
        depth
            .get_or_create(&vec![pair("action", &action)])
            .set(queued);
        let waited = oldest.map_or(0, |at| (now - at).max(0));
        age.get_or_create(&vec![pair("action", action)])
            .set(waited as f64 / 1000.0);
    }
    let (workers, live_agents) = (gauges(), gauges());
    let running = Gauge::<i64>::default();
    for w in workers_now {
        workers
            .get_or_create(&vec![
                pair("kind", &w.info.kind),
                pair("status", w.status.to_string()),
            ])
            .inc();
        running.inc_by(w.running.len() as i64);
        let live = w.status == WorkerStatus::Active;
        if live && w.info.kind == "agent" {
            for (key, value) in &w.info.labels {
                let value = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_string);
                live_agents
                    .get_or_create(&vec![pair("label", key), pair("value", value)])
                    .inc();
            }
        }
    }
    let leases = gauges();
    for lease in state.engine.leases().leases(None, None).await? {
        leases.get_or_create(&vec![pair("kind", lease.kind)]).inc();
    }
    let streams = Gauge::<i64>::default();
    streams.set(state.limits.streams.held() as i64);
    let polls = Gauge::<i64>::default();
    polls.set(state.limits.polls.held() as i64);

    registry.register("runs", "Workflow runs by workflow and status", runs);
    registry.register("queue_depth", "Tasks queued now, by action", depth);
    registry.register_with_unit(
        "queue_oldest_age",
        "How long the oldest queued task of each action has waited",
        Unit::Seconds,
        age,
    );
    registry.register(
        "workers",
        "Workers (in-process and agents) by kind and status",
        workers,
    );
    registry.register(
        "live_agents",
        "Live edge agents by each of their labels (label, value)",
        live_agents,
    );
    registry.register(
        "running_attempts",
        "Task attempts running on workers now",
        running,
    );
    registry.register(
        "leases",
        "Leases held now: provisioned resources (machines, network blocks) and leaderships",
        leases,
    );
    registry.register("sse_clients", "SSE streams open on this replica", streams);
    registry.register("long_polls", "Agent long polls held by this replica", polls);
    Ok(())
}
