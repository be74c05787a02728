//! The OpenAPI 3.1 document of the API, generated from the handlers' annotations, served at
//! `/api/v1/openapi.json` and checked in at `openapi/openapi.json` (a test fails when they
//! differ; `RATCHET_UPDATE_OPENAPI=1 cargo nextest run -p ratchet-server openapi` rewrites it).

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::{
    agent, agents, events, health, me, metrics, rate_limits, runs, schedules, streams, suites,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Ratchet", description = "Database benchmark suites end to end: submit suites, follow runs, logs and results; the agent protocol."),
    paths(
        health::healthz, health::readyz, metrics::metrics, me::me,
        suites::submit, suites::list, suites::get, suites::cancel, suites::compare,
        runs::list_runs, runs::get_run, runs::run_events, runs::cancel_run, runs::replay_run, runs::run_logs, runs::run_progress,
        streams::run_logs, streams::status,
        runs::list_workflows, runs::register_workflow, runs::get_workflow, runs::trigger_run,
        events::push,
        rate_limits::list, rate_limits::put,
        schedules::create_cron, schedules::list_crons, schedules::delete_cron,
        schedules::schedule_run, schedules::list_scheduled_runs, schedules::delete_scheduled_run,
        agents::list_agents, agents::infrastructure, agents::create_enrollment, agents::list_enrollments, agents::revoke_enrollment,
        agent::register, agent::poll, agent::logs, agent::progress, agent::result, agent::deregister,
    ),
    modifiers(&Security),
    security(("api_token" = [])),
)]
pub struct ApiDoc;

/// Three kinds of bearer token, each accepted only where it belongs (see `auth.rs`).
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
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
