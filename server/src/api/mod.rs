//! HTTP surface: health probes, `/api/v1` (REST for people and CI, the agent protocol for
//! edge agents), and the web dashboard for every other path.

mod agent;
mod agents;
pub mod auth;
pub mod body;
mod events;
mod health;
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
use axum::routing::{delete, get, post, put};
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    // The agents' long poll holds its request up to 30 s; results may be larger than other
    // bodies (a day-long series).
    let long_poll =
        Router::new()
            .route("/agent/poll", post(agent::poll))
            .layer(middleware::from_fn(|r, n| {
                timeout::within(timeout::POLL_TIMEOUT, r, n)
            }));
    let streams = Router::new()
        .route("/runs/{id}/logs/stream", get(streams::run_logs))
        .route("/stream", get(streams::status));
    let agent_protocol = Router::new()
        .route("/register", post(agent::register))
        .route("/logs", post(agent::logs))
        .route("/progress", post(agent::progress))
        .route(
            "/result",
            post(agent::result).layer(DefaultBodyLimit::max(protocol::MAX_RESULT_BYTES)),
        )
        .route("/deregister", post(agent::deregister));
    let prompt = Router::new()
        .nest("/agent", agent_protocol)
        .route("/openapi.json", get(openapi::document))
        .route("/me", get(me::me))
        .route("/agents", get(agents::list_agents))
        .route("/infrastructure", get(agents::infrastructure))
        .route(
            "/enrollment-tokens",
            get(agents::list_enrollments).post(agents::create_enrollment),
        )
        .route("/enrollment-tokens/{id}", delete(agents::revoke_enrollment))
        .route("/suites", get(suites::list).post(suites::submit))
        .route("/suites/{id}", get(suites::get))
        .route("/suites/{id}/cancel", post(suites::cancel))
        .route("/results/compare", get(suites::compare))
        .route("/events", post(events::push))
        .route(
            "/crons",
            get(schedules::list_crons).post(schedules::create_cron),
        )
        .route("/crons/{id}", delete(schedules::delete_cron))
        .route(
            "/scheduled-runs",
            get(schedules::list_scheduled_runs).post(schedules::schedule_run),
        )
        .route(
            "/scheduled-runs/{id}",
            delete(schedules::delete_scheduled_run),
        )
        .route(
            "/workflows",
            get(runs::list_workflows).post(runs::register_workflow),
        )
        .route(
            "/workflows/{name}/versions/{version}",
            get(runs::get_workflow),
        )
        .route("/runs", get(runs::list_runs))
        .route(
            "/workflows/{name}/versions/{version}/runs",
            post(runs::trigger_run),
        )
        .route("/runs/{id}", get(runs::get_run))
        .route("/runs/{id}/events", get(runs::run_events))
        .route("/runs/{id}/cancel", post(runs::cancel_run))
        .route("/runs/{id}/replay", post(runs::replay_run))
        .route("/rate-limits", get(rate_limits::list))
        .route("/rate-limits/{key}", put(rate_limits::put))
        .route("/runs/{id}/logs", get(runs::run_logs))
        .route("/runs/{id}/progress", get(runs::run_progress))
        .layer(middleware::from_fn(|r, n| {
            timeout::within(timeout::REQUEST_TIMEOUT, r, n)
        }));
    let api = prompt
        .merge(long_poll)
        .merge(streams)
        .fallback(|| async {
            problem::ApiError::not_found("no such API endpoint (see /api/v1/openapi.json)")
        })
        .layer(DefaultBodyLimit::max(body::MAX_BODY_BYTES));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .nest("/api/v1", api)
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
