//! Server-sent events: a run's log lines as they arrive, and every status change for live
//! pages. Bus messages only wake the streams up; what they send is read from the store, so
//! a reconnect with `Last-Event-ID` resumes exactly after the last line received.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use engine::channels;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use uuid::Uuid;

use crate::api::auth::StreamCaller;
use crate::api::body::{ApiPath, ApiQuery};
use crate::api::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::tokens::Scope;

type EventStream =
    Sse<axum::response::sse::KeepAliveStream<ReceiverStream<Result<Event, Infallible>>>>;

/// Lines read from the store per round.
const PAGE: i64 = 1000;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogStreamQuery {
    /// Only this task's lines.
    pub task: Option<Uuid>,
    /// Start after this line id (`Last-Event-ID` wins when both are given).
    pub after: Option<i64>,
    /// For EventSource, which cannot send an Authorization header (read by the auth layer).
    #[serde(default, rename = "access_token")]
    pub _access_token: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatusStreamQuery {
    /// For EventSource, which cannot send an Authorization header (read by the auth layer).
    #[serde(default, rename = "access_token")]
    pub _access_token: Option<String>,
}

/// Follow a run's log (SSE, resumable).
///
/// `GET /api/v1/runs/{id}/logs/stream`: `log` events (id = the line's id, data = the line
/// as JSON), then one `end` event once the run has ended and every line was sent.
#[utoipa::path(get, path = "/api/v1/runs/{id}/logs/stream", operation_id = "stream_run_logs", tag = "runs", params(("id" = Uuid, Path), LogStreamQuery, ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this line")), responses((status = 429, description = "This token (or the server) holds as many streams as it may; see Retry-After", body = Problem, content_type = "application/problem+json"), (status = 200, description = "Server-sent events: `log` (id = line id, data = a StoredLogLine), then `end`", content_type = "text/event-stream", body = String), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn run_logs(
    State(state): State<AppState>,
    StreamCaller(caller): StreamCaller,
    ApiPath(run_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<LogStreamQuery>,
    headers: HeaderMap,
) -> ApiResult<EventStream> {
    caller.require(Scope::Read)?;
    // Held while the stream is open.
    let permit = state.limits.streams.acquire(caller.token.id)?;
    if state.reads.run(run_id).await?.is_none() {
        return Err(ApiError::not_found(format!("run {run_id} not found")));
    }
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let mut after = resume.or(q.after).unwrap_or(0);
    // Subscribe before the first read, so no line slips between a read and the wait.
    let mut wake = state.engine.bus().subscribe(channels::LOGS).await.ok();
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let _permit = permit;
        loop {
            let lines = match state.reads.logs(run_id, q.task, after, PAGE).await {
                Ok(lines) => lines,
                Err(e) => {
                    tracing::warn!(run = %run_id, error = %e, "log stream cannot read the store");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let full = lines.len() as i64 == PAGE;
            for line in lines {
                after = line.id;
                let event = Event::default()
                    .event("log")
                    .id(line.id.to_string())
                    .json_data(&line);
                let Ok(event) = event else { continue };
                if tx.send(Ok(event)).await.is_err() {
                    return; // the client went away
                }
            }
            if full {
                continue;
            }
            // The run has ended and every line is out: say so and stop.
            let ended =
                matches!(state.reads.run(run_id).await, Ok(Some(run)) if run.status.is_terminal());
            if ended
                && state
                    .reads
                    .logs(run_id, q.task, after, 1)
                    .await
                    .is_ok_and(|l| l.is_empty())
            {
                let _ = tx.send(Ok(Event::default().event("end").data(""))).await;
                return;
            }
            wait_for(&mut wake, &run_id.to_string(), &tx).await;
            if tx.is_closed() {
                return;
            }
        }
    });
    Ok(Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default()))
}

/// Wait for a bus message naming `key` (or any message when the bus is unavailable), at
/// most a second: a missed wake-up costs one second, never a line.
async fn wait_for(
    wake: &mut Option<tokio::sync::broadcast::Receiver<engine::bus::BusMessage>>,
    key: &str,
    tx: &mpsc::Sender<Result<Event, Infallible>>,
) {
    let deadline = tokio::time::sleep(Duration::from_secs(1));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => return,
            () = tx.closed() => return,
            message = async {
                match wake.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => match message {
                Ok(m) if m.payload != key => {}
                // Ours, or some were missed: look at the store now.
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                // No more wake-ups: the deadline paces the reads from now on.
                Err(tokio::sync::broadcast::error::RecvError::Closed) => *wake = None,
            }
        }
    }
}

/// How often a status stream says `resync` while the bus is down.
const BUS_OUTAGE_RESYNC: Duration = Duration::from_secs(3);

/// Follow status changes (SSE).
///
/// `GET /api/v1/stream`: a `status` event for every change of a run's or task's status
/// (data: `{run_id, run_status, tasks: [{id, name, status}]}`), for live pages.
#[utoipa::path(get, path = "/api/v1/stream", operation_id = "stream_status", tag = "runs", params(StatusStreamQuery), responses((status = 429, description = "This token (or the server) holds as many streams as it may; see Retry-After", body = Problem, content_type = "application/problem+json"), (status = 200, description = "Server-sent events: `status` (data = `{run_id, run_status, tasks}`), `resync`", content_type = "text/event-stream", body = String)))]
pub async fn status(
    State(state): State<AppState>,
    StreamCaller(caller): StreamCaller,
    ApiQuery(_q): ApiQuery<StatusStreamQuery>,
) -> ApiResult<EventStream> {
    caller.require(Scope::Read)?;
    let permit = state.limits.streams.acquire(caller.token.id)?;
    let mut updates = state
        .engine
        .bus()
        .subscribe(channels::STATUS)
        .await
        .map_err(|e| ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    let (tx, rx) = mpsc::channel(256);
    let bus = state.engine.bus().clone();
    tokio::spawn(async move {
        let _permit = permit;
        // While the bus reconnects, changes made on other replicas do not come: the page
        // is told to re-read, every few seconds, until they flow again.
        let mut outage = tokio::time::interval(BUS_OUTAGE_RESYNC);
        loop {
            tokio::select! {
                _ = outage.tick() => {
                    if !bus.connected() && tx.send(Ok(Event::default().event("resync").data(""))).await.is_err() {
                        return;
                    }
                }
                message = updates.recv() => match message {
                    Ok(m) => {
                        if tx.send(Ok(Event::default().event("status").data(m.payload))).await.is_err() {
                            return;
                        }
                    }
                    // Fell behind: tell the page to re-read everything.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        if tx.send(Ok(Event::default().event("resync").data(""))).await.is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                },
                () = tx.closed() => return,
            }
        }
    });
    Ok(Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default()))
}
