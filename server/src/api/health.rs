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
    let installation = match state.engine.installation().await {
        Ok(i) => i,
        Err(e) => return not_ready(format!("store: {e}")),
    };
    if let Err(e) = state.engine.bus().ping().await {
        return not_ready(format!("bus: {e}"));
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
