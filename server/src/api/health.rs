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
    Ready {
        status: &'static str,
        store: engine::store::StoreKind,
        bus: engine::bus::BusKind,
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

/// Ready: the store and the bus both answer a round trip.
#[utoipa::path(get, path = "/readyz", security(()), tag = "health", responses((status = 200, description = "Store and bus answer", body = Readiness), (status = 503, description = "Not ready, with the reason", body = Readiness)))]
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
    // A database that went away makes a query wait for the pool's acquire timeout; a
    // probe answers well before a load balancer's own timeout.
    let installation = match tokio::time::timeout(READY_WITHIN, state.engine.installation()).await {
        Ok(Ok(i)) => i,
        Ok(Err(e)) => return not_ready(format!("store: {e}")),
        Err(_) => return not_ready(format!("store: no answer within {READY_WITHIN:?}")),
    };
    match tokio::time::timeout(READY_WITHIN, state.engine.bus().ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return not_ready(format!("bus: {e}")),
        Err(_) => return not_ready(format!("bus: no answer within {READY_WITHIN:?}")),
    }
    (
        StatusCode::OK,
        Json(Readiness::Ready {
            status: "ready",
            store: state.engine.store_kind(),
            bus: state.engine.bus().kind(),
            installation_id: installation.id.to_string(),
            version: env!("CARGO_PKG_VERSION"),
        }),
    )
}
