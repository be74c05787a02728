//! The REST endpoints Hatchet's SDKs call, under Hatchet's own paths, mapped onto the
//! engine: `tasks` (cancel, replay) and `workflow_runs` (a run, its status, the list).
//! Errors come in Hatchet's shape (`{"errors": [{"description"}]}`), which the SDK's
//! client parses; a bad token still answers the API's usual 401/403.

pub mod tasks;
pub mod workflow_runs;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use uuid::Uuid;

use crate::state::AppState;

/// Hatchet's error body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct HatchetErrors {
    pub errors: Vec<HatchetErrorItem>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HatchetErrorItem {
    pub description: String,
}

/// A Hatchet API error: `{"errors": [{"description": …}]}`.
pub struct HatchetError(StatusCode, String);

impl IntoResponse for HatchetError {
    fn into_response(self) -> Response {
        let body = HatchetErrors {
            errors: vec![HatchetErrorItem {
                description: self.1,
            }],
        };
        (self.0, Json(body)).into_response()
    }
}

impl From<engine::EngineError> for HatchetError {
    fn from(e: engine::EngineError) -> Self {
        HatchetError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl From<crate::api::problem::ApiError> for HatchetError {
    fn from(e: crate::api::problem::ApiError) -> Self {
        HatchetError(e.status, e.detail)
    }
}

/// 404 unless `tenant` is this server's (Ratchet has one tenant: its installation).
async fn our_tenant(state: &AppState, tenant: Uuid) -> Result<(), HatchetError> {
    let ours = state.engine.installation().await?.id;
    if tenant != ours {
        return Err(HatchetError(
            StatusCode::NOT_FOUND,
            format!("no tenant {tenant} here (this server's is {ours})"),
        ));
    }
    Ok(())
}
