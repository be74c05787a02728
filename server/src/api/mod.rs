//! HTTP surface: health probes, `/api/v1` (REST for people and CI, the agent protocol for
//! edge agents), and the web dashboard for every other path.

mod agent;
mod agents;
pub mod auth;
mod baselines;
pub mod body;
mod events;
mod hatchet;
mod health;
mod infrastructure;
pub mod limits;
mod me;
mod metrics;
mod openapi;
pub mod problem;
mod rate_limits;
pub mod redact;
mod runs;
mod schedules;
mod streams;
mod suites;
mod timeout;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware;
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::state::AppState;

/// Every route of the API with its OpenAPI operation, each registered once (the paths
/// come from the handlers' annotations).
fn api_routes() -> OpenApiRouter<AppState> {
    let prompt = OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(metrics::metrics))
        .routes(routes!(me::me))
        .routes(routes!(suites::list, suites::submit))
        .routes(routes!(suites::get))
        .routes(routes!(suites::report))
        .routes(routes!(suites::cancel))
        .routes(routes!(suites::compare))
        .routes(routes!(baselines::list))
        .routes(routes!(baselines::get, baselines::put, baselines::delete))
        .routes(routes!(runs::list_runs))
        .routes(routes!(runs::get_run))
        .routes(routes!(runs::run_events))
        .routes(routes!(runs::cancel_run))
        .routes(routes!(runs::replay_run))
        .routes(routes!(hatchet::tasks::cancel))
        .routes(routes!(hatchet::tasks::replay))
        .routes(routes!(hatchet::workflow_runs::get))
        .routes(routes!(hatchet::workflow_runs::status))
        .routes(routes!(hatchet::workflow_runs::list))
        .routes(routes!(runs::run_logs))
        .routes(routes!(runs::run_progress))
        .routes(routes!(runs::list_workflows, runs::register_workflow))
        .routes(routes!(runs::get_workflow))
        .routes(routes!(runs::trigger_run))
        .routes(routes!(events::push))
        .routes(routes!(rate_limits::list))
        .routes(routes!(rate_limits::put))
        .routes(routes!(schedules::list_crons, schedules::create_cron))
        .routes(routes!(schedules::delete_cron))
        .routes(routes!(
            schedules::list_scheduled_runs,
            schedules::schedule_run
        ))
        .routes(routes!(schedules::delete_scheduled_run))
        .routes(routes!(agents::list_agents))
        .routes(routes!(infrastructure::infrastructure))
        .routes(routes!(infrastructure::destroy))
        .routes(routes!(infrastructure::agent_binary))
        .routes(routes!(agents::list_enrollments, agents::create_enrollment))
        .routes(routes!(agents::revoke_enrollment))
        .routes(routes!(agent::register))
        .routes(routes!(agent::logs))
        .routes(routes!(agent::progress))
        // Results may be larger than other bodies (a day-long series).
        .routes(routes!(agent::result).layer(DefaultBodyLimit::max(protocol::MAX_RESULT_BYTES)))
        .routes(routes!(agent::deregister))
        .layer(middleware::from_fn(|r, n| {
            timeout::within(timeout::REQUEST_TIMEOUT, r, n)
        }));
    // The agents' long poll holds its request up to 30 s; streams stay open.
    let long_poll = OpenApiRouter::new()
        .routes(routes!(agent::poll))
        .layer(middleware::from_fn(|r, n| {
            timeout::within(timeout::POLL_TIMEOUT, r, n)
        }));
    let streams = OpenApiRouter::new()
        .routes(routes!(streams::run_logs))
        .routes(routes!(streams::status));
    prompt.merge(long_poll).merge(streams)
}

pub fn router(state: AppState) -> Router {
    let (api, mut doc) = api_routes().split_for_parts();
    openapi::finish(&mut doc);
    let doc = std::sync::Arc::new(doc);
    api.route(
        "/api/v1/openapi.json",
        get(move || openapi::serve(doc.clone())),
    )
    // Routed requests only: their route template is known (assets are not counted).
    .route_layer(middleware::from_fn_with_state(
        state.telemetry.clone(),
        crate::telemetry::http::observe,
    ))
    .layer(DefaultBodyLimit::max(body::MAX_BODY_BYTES))
    .fallback(crate::web::serve_asset)
    .with_state(state)
    .layer(CompressionLayer::new())
    .layer(security_headers(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
    .layer(security_headers(header::REFERRER_POLICY, "no-referrer"))
    .layer(security_headers(header::X_FRAME_OPTIONS, "DENY"))
    // The span names the path only: a query string may carry a token (`access_token`).
    .layer(
        TraceLayer::new_for_http().make_span_with(|request: &Request| {
            tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
        }),
    )
}

fn security_headers(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}
