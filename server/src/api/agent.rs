//! The agent protocol (`/api/v1/agent/*`): edge agents register with an enrollment token,
//! then long-poll for work with their session token and post logs, progress and results.
//! An agent touches only its own tasks, and only its run's when it is bound to one.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use engine::EngineError;
use engine::model::{TaskState, TaskStatus, WorkerInfo};
use engine::store::StoreError;
use protocol::{
    Ack, LogBatch, MAX_BATCH_ITEMS, MAX_POLL_WAIT_S, PROTOCOL_VERSION, Poll, PollAnswer,
    ProgressBatch, Registered, Registration, TaskResult,
};
use serde_json::json;
use uuid::Uuid;

use crate::api::auth::{AgentSession, Enrollment};
use crate::api::body::JsonBody;
use crate::api::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::tokens::{self, KIND_AGENT, NewToken};

/// Actions one agent may offer, and attempts one poll may list as running.
const MAX_LIST: usize = 1024;

/// Agent: register with an enrollment token, get a session token.
#[utoipa::path(post, path = "/api/v1/agent/register", operation_id = "agent_register", tag = "agent protocol", request_body = Registration, security(("enrollment_token" = [])), responses((status = 201, body = Registered)))]
pub async fn register(
    State(state): State<AppState>,
    Enrollment(enrollment): Enrollment,
    JsonBody(reg): JsonBody<Registration>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    if reg.protocol != PROTOCOL_VERSION {
        return Err(ApiError::bad_request(format!(
            "the agent speaks protocol {}, this server speaks {PROTOCOL_VERSION}: install a matching ratchet-agent",
            reg.protocol
        )));
    }
    if reg.actions.is_empty() {
        return Err(ApiError::bad_request(
            "`actions` is empty: the agent must offer at least one action",
        ));
    }
    if reg.actions.len() > MAX_LIST {
        return Err(ApiError::bad_request(format!(
            "`actions` lists {} actions; at most {MAX_LIST}",
            reg.actions.len()
        )));
    }
    // The server's own steps run in-process, with the server's state: no agent takes them.
    let reserved: Vec<&str> = reg
        .actions
        .iter()
        .filter(|a| state.engine.is_in_process_action(a))
        .map(String::as_str)
        .collect();
    if !reserved.is_empty() {
        return Err(ApiError::bad_request(format!(
            "`actions`: {} {} the server's own (in-process) and cannot be offered by an agent",
            reserved.join(", "),
            if reserved.len() == 1 { "is" } else { "are" }
        )));
    }
    if reg.slots == 0 || reg.slots > 256 {
        return Err(ApiError::bad_request(format!(
            "`slots` must be 1..=256, got {}",
            reg.slots
        )));
    }
    if reg.name.trim().is_empty() || reg.name.len() > 128 {
        return Err(ApiError::bad_request("`name` must be 1-128 characters"));
    }
    if reg.labels.len() > 64 {
        return Err(ApiError::bad_request(format!(
            "`labels` has {} entries; at most 64",
            reg.labels.len()
        )));
    }
    // The enrollment's labels win: they are what the server decided this machine is.
    let mut labels = reg.labels;
    labels.extend(enrollment.labels.clone());
    let worker = WorkerInfo {
        id: Uuid::now_v7(),
        name: reg.name,
        kind: engine::model::WORKER_AGENT.into(),
        actions: reg.actions,
        labels: labels.clone(),
        slots: reg.slots,
        run_scope: enrollment.run_id,
        host: Some(
            json!({ "version": reg.version, "facts": reg.host, "enrollment": enrollment.name }),
        ),
    };
    state.engine.register_remote(&worker).await?;
    let (session_token, _) = tokens::create(
        state.engine.tokens().as_ref(),
        NewToken {
            kind: KIND_AGENT,
            name: format!("session of agent {}", worker.name),
            scopes: Vec::new(),
            labels: Default::default(),
            run_id: enrollment.run_id,
            worker_id: Some(worker.id),
            expires_at: Some(state.engine.now() + tokens::SESSION_IDLE_TTL_MS),
        },
        None,
        state.engine.now(),
    )
    .await?;
    tracing::info!(agent = %worker.name, agent_id = %worker.id, run = ?enrollment.run_id, "agent registered");
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            agent_id: worker.id,
            session_token,
            run_id: enrollment.run_id,
            labels,
            lease_s: u32::try_from(state.agent_lease.as_secs()).unwrap_or(u32::MAX),
        }),
    ))
}

/// Agent: long-poll for assignments and stop orders (the heartbeat).
#[utoipa::path(post, path = "/api/v1/agent/poll", operation_id = "agent_poll", tag = "agent protocol", request_body = Poll, security(("agent_session" = [])), responses((status = 200, description = "Assignments and cancellations (empty after the wait)", body = PollAnswer), (status = 429, description = "This session already holds a poll; see Retry-After", body = Problem, content_type = "application/problem+json")))]
pub async fn poll(
    State(state): State<AppState>,
    session: AgentSession,
    JsonBody(poll): JsonBody<Poll>,
) -> ApiResult<Json<PollAnswer>> {
    if poll.running.len() > MAX_LIST {
        return Err(ApiError::bad_request(format!(
            "`running` lists {} attempts; at most {MAX_LIST}",
            poll.running.len()
        )));
    }
    // Held until the poll answers: one session cannot hold many connections.
    let _permit = state.limits.polls.acquire(session.token.id)?;
    let mut worker = session.worker;
    if let Some(run_id) = poll.run_id {
        match worker.run_scope {
            Some(own) if own != run_id => {
                return Err(ApiError::forbidden(format!(
                    "this agent is enrolled for run {own}; it cannot poll for run {run_id}'s tasks"
                )));
            }
            _ => worker.run_scope = Some(run_id),
        }
    }
    // Answer well within the lease, so a waiting poll is never mistaken for a lost agent.
    let wait =
        Duration::from_secs(u64::from(poll.wait_s.min(MAX_POLL_WAIT_S))).min(state.agent_lease / 2);
    match state
        .engine
        .poll_remote(&worker, &poll.running, poll.free_slots, wait)
        .await
    {
        Ok(answer) => Ok(Json(answer)),
        // Declared lost (it did not poll in time): its attempts went to others. Take it
        // back, and tell it to stop everything it still runs.
        Err(EngineError::Store(StoreError::NotFound(_))) => {
            tracing::warn!(agent = %worker.name, "a lost agent came back; its running attempts are cancelled");
            state.engine.register_remote(&worker).await?;
            Ok(Json(PollAnswer {
                assignments: Vec::new(),
                cancellations: poll.running,
            }))
        }
        Err(e) => Err(e.into()),
    }
}

/// 400 for a batch over [`MAX_BATCH_ITEMS`].
fn at_most_a_batch(n: usize, what: &str) -> ApiResult<()> {
    if n > MAX_BATCH_ITEMS {
        return Err(ApiError::bad_request(format!(
            "{n} {what} in one batch; send at most {MAX_BATCH_ITEMS}"
        )));
    }
    Ok(())
}

/// What an agent wants to do with an attempt.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Log lines or progress points: also of an older attempt of its own (late lines of
    /// an attempt it lost are kept).
    Output,
    /// The attempt's result: only the current attempt counts (fenced further on).
    Result,
}

/// The task an agent refers to, if the attempt is its own: assigned to this agent's
/// session, and of its run when the agent is bound to one. Anyone else's: 403.
async fn own_task(
    state: &AppState,
    worker: &WorkerInfo,
    task_id: Uuid,
    attempt: i32,
    delivery: Delivery,
) -> ApiResult<TaskState> {
    let task = state
        .reads
        .task(task_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("task {task_id} not found")))?;
    if let Some(run) = worker.run_scope
        && task.run_id != run
    {
        return Err(ApiError::forbidden(format!(
            "task {task_id} belongs to run {}, not to this agent's run {run}",
            task.run_id
        )));
    }
    let not_ours = || {
        ApiError::forbidden(format!(
            "attempt {attempt} of task {task_id} is not assigned to this agent"
        ))
    };
    if attempt == task.attempt && task.worker_id == Some(worker.id) {
        return Ok(task);
    }
    // An older attempt: whose it was is in its ASSIGNED event.
    if attempt < 1 || attempt > task.attempt {
        return Err(not_ours());
    }
    if state.reads.attempt_worker(task_id, attempt).await? != Some(worker.id) {
        return Err(not_ours());
    }
    match delivery {
        Delivery::Output => Ok(task),
        Delivery::Result => Err(ApiError::conflict(format!(
            "attempt {attempt} of task {task_id} is no longer current (the task is at attempt {}, {}); the result is refused",
            task.attempt, task.status
        ))),
    }
}

/// Agent: store log lines of an attempt (re-sent lines are stored once).
#[utoipa::path(post, path = "/api/v1/agent/logs", operation_id = "agent_logs", tag = "agent protocol", request_body = LogBatch, security(("agent_session" = [])), responses((status = 200, body = Ack), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn logs(
    State(state): State<AppState>,
    session: AgentSession,
    JsonBody(batch): JsonBody<LogBatch>,
) -> ApiResult<Json<Ack>> {
    at_most_a_batch(batch.lines.len(), "lines")?;
    if let Some(bad) = batch.lines.iter().find(|l| l.seq < 0) {
        return Err(ApiError::bad_request(format!(
            "`seq` must not be negative, got {}",
            bad.seq
        )));
    }
    let task = own_task(
        &state,
        &session.worker,
        batch.task_id,
        batch.attempt,
        Delivery::Output,
    )
    .await?;
    let accepted = batch.lines.len();
    state.engine.append_remote_logs(task.run_id, batch).await?;
    Ok(Json(Ack { accepted }))
}

/// Agent: store progress points of an attempt.
#[utoipa::path(post, path = "/api/v1/agent/progress", operation_id = "agent_progress", tag = "agent protocol", request_body = ProgressBatch, security(("agent_session" = [])), responses((status = 200, body = Ack), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn progress(
    State(state): State<AppState>,
    session: AgentSession,
    JsonBody(batch): JsonBody<ProgressBatch>,
) -> ApiResult<Json<Ack>> {
    at_most_a_batch(batch.points.len(), "points")?;
    let task = own_task(
        &state,
        &session.worker,
        batch.task_id,
        batch.attempt,
        Delivery::Output,
    )
    .await?;
    let accepted = batch.points.len();
    state
        .engine
        .append_remote_progress(task.run_id, batch)
        .await?;
    Ok(Json(Ack { accepted }))
}

/// Agent: report how an attempt ended (fenced by attempt).
#[utoipa::path(post, path = "/api/v1/agent/result", operation_id = "agent_result", tag = "agent protocol", request_body = TaskResult, security(("agent_session" = [])), responses((status = 200, body = Ack), (status = 413, description = "Larger than MAX_RESULT_BYTES (16 MiB)", body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, description = "The attempt is no longer current", body = Problem, content_type = "application/problem+json")))]
pub async fn result(
    State(state): State<AppState>,
    session: AgentSession,
    JsonBody(result): JsonBody<TaskResult>,
) -> ApiResult<Json<Ack>> {
    let (task_id, attempt) = (result.task_id, result.attempt);
    let task = own_task(&state, &session.worker, task_id, attempt, Delivery::Result).await?;
    let stale = || {
        ApiError::conflict(format!(
            "attempt {attempt} of task {task_id} is no longer current (the task is at attempt {}, {}); the result is refused",
            task.attempt, task.status
        ))
    };
    if task.attempt != attempt || task.status != TaskStatus::Running {
        return Err(stale());
    }
    if state.engine.report_remote(result).await? {
        Ok(Json(Ack { accepted: 1 }))
    } else {
        Err(stale())
    }
}

/// Agent: leave gracefully.
///
/// The agent leaves (graceful shutdown): its session ends and its running tasks are
/// reassigned by the next sweep.
#[utoipa::path(post, path = "/api/v1/agent/deregister", operation_id = "agent_deregister", tag = "agent protocol", security(("agent_session" = [])), responses((status = 204, description = "Gone; its running tasks are handed back")))]
pub async fn deregister(
    State(state): State<AppState>,
    session: AgentSession,
) -> ApiResult<StatusCode> {
    state.engine.deregister_remote(&session.worker).await?;
    state
        .engine
        .tokens()
        .revoke_token(session.token.id, state.engine.now())
        .await?;
    tracing::info!(agent = %session.worker.name, "agent deregistered");
    Ok(StatusCode::NO_CONTENT)
}
