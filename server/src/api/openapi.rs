//! The OpenAPI 3.1 document of the API: the operations come from the handlers'
//! annotations as the routes are registered (`api_routes` in mod.rs); this adds what every
//! operation shares. Served at `/api/v1/openapi.json` and checked in at
//! `openapi/openapi.json` (a test fails when they differ;
//! `RATCHET_UPDATE_OPENAPI=1 cargo nextest run -p ratchet-server --test openapi` rewrites it).

use std::sync::Arc;

use axum::Json;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, Response};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::api::problem::Problem;

#[derive(OpenApi)]
#[openapi(
    info(title = "Ratchet", description = "Database benchmark suites end to end: submit suites, follow runs, logs and results; the agent protocol."),
    modifiers(&Security),
    security(("api_token" = [])),
)]
struct ApiDoc;

/// The document before any route is added: its info and security schemes.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// What every operation shares, added once the routes are in: one with parameters or a
/// body can answer 400, and a token-protected one 401 and 403.
pub fn finish(doc: &mut utoipa::openapi::OpenApi) {
    let problem = |description: &str| -> RefOr<Response> {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(Problem::name())))
                        .build(),
                )
                .build(),
        )
    };
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            let open = op.security.as_ref().is_some_and(|s| {
                s.iter()
                    .all(|r| serde_json::to_value(r).is_ok_and(|v| v == serde_json::json!({})))
            });
            let takes_input =
                op.request_body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let responses = &mut op.responses.responses;
            if takes_input {
                responses
                    .entry("400".into())
                    .or_insert_with(|| problem("A malformed parameter or body, named in `detail`"));
            }
            if open {
                continue;
            }
            responses
                .entry("401".into())
                .or_insert_with(|| problem("No or unknown token"));
            responses
                .entry("403".into())
                .or_insert_with(|| problem("The token lacks the scope"));
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Three kinds of bearer token, each accepted only where it belongs (see `api/auth.rs`).
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, what) in [
            (
                "api_token",
                "An API token (the admin token printed at the first start, or `ratchet token create`)",
            ),
            (
                "enrollment_token",
                "An enrollment token (POST /api/v1/enrollment-tokens)",
            ),
            (
                "agent_session",
                "The session token an agent's registration answered",
            ),
        ] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(what))
                        .build(),
                ),
            );
        }
    }
}

/// `GET /api/v1/openapi.json` (no token).
pub async fn serve(doc: Arc<utoipa::openapi::OpenApi>) -> Json<utoipa::openapi::OpenApi> {
    Json(doc.as_ref().clone())
}
