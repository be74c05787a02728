//! Who a token is, so a client (the dashboard) can offer only what the token may do.

use axum::Json;
use uuid::Uuid;

use crate::api::auth::Caller;
use crate::api::problem::ApiResult;
use crate::tokens::Scope;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Me {
    pub id: Uuid,
    pub name: String,
    /// `read`, `write`, `admin` (admin implies write, write implies read).
    pub scopes: Vec<String>,
    pub can_write: bool,
    pub expires_at: Option<i64>,
}

/// The calling token: its name and scopes.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", responses((status = 200, body = Me)))]
pub async fn me(caller: Caller) -> ApiResult<Json<Me>> {
    let can_write = caller.require(Scope::Write).is_ok();
    let token = caller.token;
    Ok(Json(Me {
        id: token.id,
        name: token.name,
        scopes: token.scopes,
        can_write,
        expires_at: token.expires_at,
    }))
}
