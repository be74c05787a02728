//! Runs as Hatchet's REST API shows them: `hatchet.runs.get` (a run with its tasks, their
//! events and the DAG's shape), `.get_result` (its output), `.get_status`, and `.list`.
//! Secrets are masked as in the rest of the API.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use engine::model::{EventKind, RunState, RunStatus, TaskEvent, TaskState};
use engine::store::RunFilter;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use hatchet::workflow_id;

use super::{HatchetError, HatchetErrors, our_tenant};
use crate::api::auth::Caller;
use crate::api::body::ApiPath;
use crate::api::problem::Problem;
use crate::api::redact;
use crate::state::AppState;
use crate::tokens::Scope;

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceMeta {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A workflow run (Hatchet's `V1WorkflowRun`).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowRun {
    pub metadata: ResourceMeta,
    /// `QUEUED`, `RUNNING`, `COMPLETED`, `CANCELLED`, `FAILED`.
    pub status: &'static str,
    pub tenant_id: Uuid,
    pub display_name: String,
    /// Derived from the workflow's name (Ratchet names workflows; ids are Hatchet's).
    pub workflow_id: Uuid,
    pub workflow_version_id: String,
    pub input: Value,
    /// Task outputs by task name.
    pub output: Value,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_task_external_id: Option<Uuid>,
}

/// One task of a run, or one run in a list (Hatchet's `V1TaskSummary`).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskSummary {
    pub metadata: ResourceMeta,
    pub created_at: DateTime<Utc>,
    pub task_inserted_at: DateTime<Utc>,
    pub display_name: String,
    pub input: Value,
    pub output: Value,
    pub status: &'static str,
    pub task_external_id: Uuid,
    /// A number for the row (Hatchet's internal task id).
    pub task_id: i64,
    pub tenant_id: Uuid,
    /// `TASK` (a task, or a run of one task) or `DAG` (a run of several).
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub workflow_id: Uuid,
    pub workflow_name: String,
    pub workflow_run_external_id: Uuid,
    pub num_spawned_children: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_count: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

/// A task's timeline row (Hatchet's `V1TaskEvent`).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskEventView {
    pub id: i64,
    pub task_id: Uuid,
    pub timestamp: DateTime<Utc>,
    pub event_type: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_display_name: Option<String>,
}

/// One task in the DAG, with the tasks that follow it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShapeItem {
    pub task_external_id: Uuid,
    pub step_id: Uuid,
    pub children_step_ids: Vec<Uuid>,
    pub task_name: String,
}

/// A run with its tasks (Hatchet's `V1WorkflowRunDetails`).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowRunDetails {
    pub run: WorkflowRun,
    pub task_events: Vec<TaskEventView>,
    pub shape: Vec<ShapeItem>,
    pub tasks: Vec<TaskSummary>,
}

/// Pages are not counted; the list is cut at `limit`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Pagination {}

/// Runs (Hatchet's `V1TaskSummaryList`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct TaskSummaryList {
    pub pagination: Pagination,
    pub rows: Vec<TaskSummary>,
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Hatchet's models take objects only.
fn object(value: Option<Value>) -> Value {
    match value {
        Some(Value::Object(map)) => Value::Object(map),
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(other) => serde_json::json!({ "value": other }),
    }
}

/// The engine's timeline kinds as Hatchet's (run-level rows have no counterpart).
fn event_type(kind: EventKind) -> Option<&'static str> {
    Some(match kind {
        EventKind::Queued => "QUEUED",
        EventKind::Assigned => "ASSIGNED",
        EventKind::Started => "STARTED",
        EventKind::Retrying => "RETRYING",
        EventKind::TimedOut => "TIMED_OUT",
        EventKind::Reassigned => "REASSIGNED",
        EventKind::TimeoutRefreshed => "TIMEOUT_REFRESHED",
        EventKind::Completed => "FINISHED",
        EventKind::Failed => "FAILED",
        EventKind::Cancelled => "CANCELLED",
        EventKind::Skipped => "SKIPPED",
        EventKind::Requeued => "REQUEUED_RATE_LIMIT",
        EventKind::Replayed => "RETRIED_BY_USER",
        _ => return None,
    })
}

fn run_view(run: &RunState, tenant_id: Uuid, started_at: Option<i64>) -> WorkflowRun {
    WorkflowRun {
        metadata: ResourceMeta {
            id: run.id,
            created_at: at(run.created_at),
            updated_at: at(run.finished_at.unwrap_or(run.created_at)),
        },
        status: run.status.as_str(),
        tenant_id,
        display_name: run.workflow.clone(),
        workflow_id: workflow_id(&run.workflow),
        workflow_version_id: run.version.clone(),
        input: object(Some(run.input.clone())),
        output: object(run.output.clone()),
        created_at: at(run.created_at),
        started_at: started_at.map(at),
        finished_at: run.finished_at.map(at),
        duration: run
            .finished_at
            .zip(started_at)
            .map(|(end, start)| end - start),
        error_message: run.error.clone(),
        parent_task_external_id: run.parent.as_ref().map(|p| p.task_id),
    }
}

fn task_view(
    run: &RunState,
    task: &TaskState,
    row: i64,
    tenant_id: Uuid,
    children: i64,
) -> TaskSummary {
    TaskSummary {
        metadata: ResourceMeta {
            id: task.id,
            created_at: at(run.created_at),
            updated_at: at(task
                .finished_at
                .or(task.started_at)
                .unwrap_or(run.created_at)),
        },
        created_at: at(run.created_at),
        task_inserted_at: at(run.created_at),
        display_name: task.name.clone(),
        input: object(Some(run.input.clone())),
        output: object(task.output.clone()),
        status: hatchet::task_status(task.status).as_str_name(),
        task_external_id: task.id,
        task_id: row,
        tenant_id,
        kind: "TASK",
        workflow_id: workflow_id(&run.workflow),
        workflow_name: run.workflow.clone(),
        workflow_run_external_id: run.id,
        num_spawned_children: children,
        action_id: Some(task.action.clone()),
        attempt: Some(task.attempt),
        retry_count: Some(task.retry_count),
        error_message: task.error.clone(),
        started_at: task.started_at.map(at),
        finished_at: task.finished_at.map(at),
    }
}

/// A run in a list: one row for the whole run.
fn run_row(run: &RunState, row: i64, tenant_id: Uuid, tasks: usize) -> TaskSummary {
    TaskSummary {
        metadata: ResourceMeta {
            id: run.id,
            created_at: at(run.created_at),
            updated_at: at(run.finished_at.unwrap_or(run.created_at)),
        },
        created_at: at(run.created_at),
        task_inserted_at: at(run.created_at),
        display_name: run.workflow.clone(),
        input: object(Some(run.input.clone())),
        output: object(run.output.clone()),
        status: run.status.as_str(),
        task_external_id: run.id,
        task_id: row,
        tenant_id,
        kind: if tasks > 1 { "DAG" } else { "TASK" },
        workflow_id: workflow_id(&run.workflow),
        workflow_name: run.workflow.clone(),
        workflow_run_external_id: run.id,
        num_spawned_children: 0,
        action_id: None,
        attempt: None,
        retry_count: None,
        error_message: run.error.clone(),
        started_at: None,
        finished_at: run.finished_at.map(at),
    }
}

async fn found_run(state: &AppState, id: Uuid) -> Result<RunState, HatchetError> {
    let mut run = state
        .engine
        .run(id)
        .await?
        .ok_or_else(|| HatchetError(StatusCode::NOT_FOUND, format!("no workflow run {id}")))?;
    redact::run(&mut run);
    Ok(run)
}

/// A workflow run with its tasks, their events and the DAG (`hatchet.runs.get`).
#[utoipa::path(get, path = "/api/v1/stable/workflow-runs/{id}", tag = "hatchet", params(("id" = Uuid, Path)), responses((status = 200, body = WorkflowRunDetails), (status = 404, body = HatchetErrors)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<WorkflowRunDetails>, HatchetError> {
    caller.require(Scope::Read)?;
    let run = found_run(&state, id).await?;
    let tenant_id = state.engine.installation().await?.id;
    let mut tasks = state.engine.tasks(id).await?;
    tasks.iter_mut().for_each(redact::task);
    let events: Vec<TaskEvent> = state.engine.events(id).await?;
    let children = state
        .reads
        .child_runs(id, None)
        .await
        .map_err(engine::EngineError::from)?;
    let def = state
        .reads
        .workflow(&run.workflow, &run.version)
        .await
        .map_err(engine::EngineError::from)?;
    let ids: HashMap<&str, Uuid> = tasks.iter().map(|t| (t.name.as_str(), t.id)).collect();
    let shape = tasks
        .iter()
        .map(|t| ShapeItem {
            task_external_id: t.id,
            step_id: t.id,
            children_step_ids: def
                .iter()
                .flat_map(|d| d.tasks.iter())
                .filter(|c| c.parents.contains(&t.name))
                .filter_map(|c| ids.get(c.name.as_str()).copied())
                .collect(),
            task_name: t.name.clone(),
        })
        .collect();
    let task_events = events
        .iter()
        .filter_map(|e| {
            Some(TaskEventView {
                id: e.id,
                task_id: e.task_id?,
                timestamp: at(e.at),
                event_type: event_type(e.kind)?,
                message: e.message.clone().unwrap_or_default(),
                attempt: e.attempt,
                task_display_name: e.task_name.clone(),
            })
        })
        .collect();
    let started_at = tasks.iter().filter_map(|t| t.started_at).min();
    let views = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let spawned = children
                .iter()
                .filter(|c| c.parent.as_ref().is_some_and(|p| p.task_id == t.id))
                .count();
            task_view(&run, t, i as i64 + 1, tenant_id, spawned as i64)
        })
        .collect();
    Ok(Json(WorkflowRunDetails {
        run: run_view(&run, tenant_id, started_at),
        task_events,
        shape,
        tasks: views,
    }))
}

/// A workflow run's status, as a JSON string (`hatchet.runs.get_status`).
#[utoipa::path(get, path = "/api/v1/stable/workflow-runs/{id}/status", tag = "hatchet", params(("id" = Uuid, Path)), responses((status = 200, body = String, description = "`QUEUED`, `RUNNING`, `COMPLETED`, `CANCELLED` or `FAILED`"), (status = 404, body = HatchetErrors)))]
pub async fn status(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<&'static str>, HatchetError> {
    caller.require(Scope::Read)?;
    Ok(Json(found_run(&state, id).await?.status.as_str()))
}

/// The filters of `hatchet.runs.list` this server applies; the others are refused.
struct ListQuery {
    since: Option<i64>,
    until: Option<i64>,
    statuses: Vec<RunStatus>,
    workflows: Vec<Uuid>,
    offset: usize,
    limit: usize,
}

fn list_query(raw: Option<&str>) -> Result<ListQuery, HatchetError> {
    let bad = |m: String| HatchetError(StatusCode::BAD_REQUEST, m);
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| bad(format!("the query is not valid: {e}")))?;
    let mut q = ListQuery {
        since: None,
        until: None,
        statuses: Vec::new(),
        workflows: Vec::new(),
        offset: 0,
        limit: 50,
    };
    let time = |key: &str, value: &str| {
        DateTime::parse_from_rfc3339(value)
            .map(|t| t.timestamp_millis())
            .map_err(|e| bad(format!("{key}: '{value}' is not an RFC 3339 time ({e})")))
    };
    let number = |key: &str, value: &str| {
        value
            .parse::<usize>()
            .map_err(|_| bad(format!("{key}: '{value}' is not a count")))
    };
    for (key, value) in &pairs {
        match key.as_str() {
            "since" => q.since = Some(time(key, value)?),
            "until" => q.until = Some(time(key, value)?),
            "statuses" => q.statuses.push(
                [
                    RunStatus::Queued,
                    RunStatus::Running,
                    RunStatus::Completed,
                    RunStatus::Failed,
                    RunStatus::Cancelled,
                ]
                .into_iter()
                .find(|s| s.as_str() == value)
                .ok_or_else(|| bad(format!("statuses: '{value}' is not a run status")))?,
            ),
            "workflow_ids" => q.workflows.push(
                value
                    .parse()
                    .map_err(|_| bad(format!("workflow_ids: '{value}' is not a UUID")))?,
            ),
            "offset" => q.offset = number(key, value)?,
            "limit" => q.limit = number(key, value)?.clamp(1, 500),
            // Payloads are always included; rows are always whole runs.
            "only_tasks" | "include_payloads" => {}
            other => {
                return Err(bad(format!(
                    "{other}: this filter is not supported (since, until, statuses, workflow_ids, offset, limit are)"
                )));
            }
        }
    }
    Ok(q)
}

/// Workflow runs, newest first, one row per run (`hatchet.runs.list`).
#[utoipa::path(get, path = "/api/v1/stable/tenants/{tenant}/workflow-runs", tag = "hatchet", params(("tenant" = Uuid, Path), ("since" = Option<String>, Query, description = "RFC 3339"), ("until" = Option<String>, Query, description = "RFC 3339"), ("statuses" = Option<Vec<String>>, Query), ("workflow_ids" = Option<Vec<Uuid>>, Query, description = "Workflow ids (UUIDs of their names)"), ("offset" = Option<usize>, Query), ("limit" = Option<usize>, Query), ("only_tasks" = Option<bool>, Query), ("include_payloads" = Option<bool>, Query)), responses((status = 200, body = TaskSummaryList), (status = 400, description = "A filter this server does not apply, a malformed one, or a malformed path", content((HatchetErrors = "application/json"), (Problem = "application/problem+json"))), (status = 404, body = HatchetErrors)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<Uuid>,
    RawQuery(raw): RawQuery,
) -> Result<Json<TaskSummaryList>, HatchetError> {
    caller.require(Scope::Read)?;
    our_tenant(&state, tenant).await?;
    let q = list_query(raw.as_deref())?;
    let filter = RunFilter {
        workflow: None,
        status: (q.statuses.len() == 1).then(|| q.statuses[0]),
        parent_task: None,
        since: q.since,
        until: q.until,
        before: None,
        limit: 500,
    };
    let runs = state
        .reads
        .list_runs(&filter)
        .await
        .map_err(engine::EngineError::from)?;
    let tenant_id = state.engine.installation().await?.id;
    let mut rows = Vec::new();
    for mut run in runs
        .into_iter()
        .filter(|r| q.statuses.is_empty() || q.statuses.contains(&r.status))
        .filter(|r| q.workflows.is_empty() || q.workflows.contains(&workflow_id(&r.workflow)))
        .skip(q.offset)
        .take(q.limit)
    {
        redact::run(&mut run);
        let tasks = state
            .reads
            .workflow(&run.workflow, &run.version)
            .await
            .map_err(engine::EngineError::from)?
            .map_or(1, |d| d.tasks.len());
        let row = (q.offset + rows.len() + 1) as i64;
        rows.push(run_row(&run, row, tenant_id, tasks));
    }
    Ok(Json(TaskSummaryList {
        pagination: Pagination {},
        rows,
    }))
}
