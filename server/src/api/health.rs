//! Liveness and readiness probes; they need no token.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    status: &'static str,
}

/// Alive: the process answers HTTP.
#[utoipa::path(get, path = "/healthz", security(()), tag = "health", responses((status = 200, description = "The process is up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Readiness {
    /// `status` is `ready`, or `degraded` when the bus does not answer (the replica still
    /// serves: it reads the store instead), with `bus_error` saying why.
    Ready {
        status: &'static str,
        store: engine::store::StoreKind,
        bus: engine::bus::BusKind,
        #[serde(skip_serializing_if = "Option::is_none")]
        bus_error: Option<String>,
        installation_id: String,
        version: &'static str,
    },
    NotReady {
        status: &'static str,
        error: String,
    },
}

/// How long each readiness check may take.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Ready: the store answers a round trip. A bus that does not is `degraded`, not unready:
/// taking every replica out of a load balancer for a Valkey outage would stop a service
/// that still works (slower) without it.
#[utoipa::path(get, path = "/readyz", security(()), tag = "health", responses((status = 200, description = "The store answers (the bus too, or `degraded`)", body = Readiness), (status = 503, description = "Not ready, with the reason", body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let not_ready = |error: String| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Readiness::NotReady {
                status: "not ready",
                error,
            }),
        )
    };
    let installation = match answers("store", state.engine.installation()).await {
        Ok(i) => i,
        Err(e) => return not_ready(e),
    };
    // A bus known to be reconnecting is not pinged: its commands would wait out their
    // timeout, and a load balancer's check with them.
    let bus = state.engine.bus();
    let bus_error = if bus.connected() {
        answers("bus", bus.ping()).await.err()
    } else {
        Some("bus: reconnecting".to_string())
    };
    (
        StatusCode::OK,
        Json(Readiness::Ready {
            status: if bus_error.is_some() {
                "degraded"
            } else {
                "ready"
            },
            bus_error,
            store: state.engine.store_kind(),
            bus: state.engine.bus().kind(),
            installation_id: installation.id.to_string(),
            version: env!("CARGO_PKG_VERSION"),
        }),
    )
}

/// `check`'s answer within [`READY_WITHIN`], or why not, naming `what`. (A database that
/// went away makes a query wait for the pool's acquire timeout; a probe answers well
/// before a load balancer's own timeout.)
async fn answers<T, E: std::fmt::Display>(
    what: &str,
    check: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(READY_WITHIN, check).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {READY_WITHIN:?}")),
    }
}
