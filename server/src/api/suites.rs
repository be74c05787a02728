//! Suites: submit (YAML or JSON, strictly parsed), list, follow, cancel. A suite is a run of
//! `stroppy-test-suite`; its tests are the child runs that run spawns.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use engine::model::{RunState, RunStatus};
use engine::store::RunFilter;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::api::auth::Caller;
use crate::api::body::DocumentBody;
use crate::api::body::{ApiPath, ApiQuery};
use crate::api::problem::{ApiError, ApiResult, Problem};
use crate::api::runs::{next_before, page_limit};
use crate::document::DocumentErrors;
use crate::state::AppState;
use crate::stroppy::baselines;
use crate::stroppy::report::{self, Report};
use crate::stroppy::results::{self, SuiteResult};
use crate::stroppy::spec::{self, Target};
use crate::stroppy::view::{self, SuiteStatus, SuiteSummary, SuiteView};
use crate::stroppy::workflows::{SUITE, SuiteInput, VERSION, planned_deployment};
use crate::tokens::Scope;

/// 400 with every problem found, each with its path, line and column (the editor marks them).
fn invalid(errors: DocumentErrors) -> Response {
    crate::api::problem::document_problem(&errors, "Invalid suite specification")
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SubmitQuery {
    /// Check the suite and answer what it would provision, running nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// What a suite would provision (`?dry_run=true`): per test, the machines and what the
/// provider would be asked for (secrets masked; names and addresses are examples, each run
/// gets its own).
#[derive(Serialize, utoipa::ToSchema)]
pub struct SuitePlan {
    pub suite: String,
    pub target: Target,
    /// What the whole suite provisions (its tests run one after another: at most one
    /// test's machines exist at a time).
    pub totals: PlanTotals,
    pub tests: Vec<TestPlan>,
}

/// The cost-relevant sums of a plan.
#[derive(Serialize, utoipa::ToSchema, Default)]
pub struct PlanTotals {
    pub machines: u32,
    pub cores: u32,
    pub memory_gb: u32,
    pub disk_gb: u32,
    /// Planned machine-hours: each test's machines for its warm-up and load, once per
    /// repetition (each has its own machines; provisioning and data loading come on top).
    /// The other totals are what one round of repetitions holds at once.
    pub machine_hours: f64,
}

impl PlanTotals {
    fn of(machines: &[crate::infra::MachinePlan], load_s: u64, repeat: u32) -> PlanTotals {
        PlanTotals {
            machines: machines.len() as u32,
            cores: machines.iter().map(|m| m.cores).sum(),
            memory_gb: machines.iter().map(|m| m.memory_gb).sum(),
            disk_gb: machines.iter().map(|m| m.disk_gb).sum(),
            machine_hours: machines.len() as f64 * load_s as f64 * f64::from(repeat) / 3600.0,
        }
    }

    fn add(&mut self, other: &PlanTotals) {
        self.machines += other.machines;
        self.cores += other.cores;
        self.memory_gb += other.memory_gb;
        self.disk_gb += other.disk_gb;
        self.machine_hours += other.machine_hours;
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TestPlan {
    pub test: String,
    #[schema(value_type = Vec<Object>)]
    pub machines: Vec<crate::infra::MachinePlan>,
    pub totals: PlanTotals,
    /// When the leak guard would destroy the machines at the latest (epoch ms).
    pub expires_at: i64,
    /// The provider's own plan (for `yandex`: the Terraform module and its variables).
    #[schema(value_type = Object)]
    pub provider: Value,
}

/// Submit a suite (YAML or JSON); `?dry_run=true` checks it and answers its plan instead.
#[utoipa::path(post, path = "/api/v1/suites", operation_id = "submit_suite", tag = "suites", params(SubmitQuery), request_body(content = String, description = "The suite document", content_type = "application/yaml"), responses((status = 201, body = SuiteView), (status = 200, description = "The plan (`dry_run=true`)", body = SuitePlan), (status = 400, description = "Every problem, with path, line and column, under `errors`", body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json")))]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<SubmitQuery>,
    body: DocumentBody,
) -> Result<Response, Response> {
    caller
        .require(Scope::Write)
        .map_err(IntoResponse::into_response)?;
    let loaded = spec::load(&body.text, body.format).map_err(invalid)?;
    let spec = serde_json::to_value(&loaded.spec).unwrap_or(Value::Null);
    let mut suite = loaded.suite;
    if let Some(named) = suite.named_baseline.as_mut() {
        let resolved = baselines::resolve(state.engine.records().as_ref(), named)
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
        if let Err(problem) = resolved {
            return Err(invalid(DocumentErrors(vec![problem]).locate(&body.text)));
        }
    }
    if loaded.spec.seed.is_none() {
        // Recorded in the suite's input: the same seed replays the order and the intervals.
        suite.seed = spec::fresh_seed();
    }
    state.stroppy_pins.apply(&mut suite).map_err(invalid)?;
    let provider = state
        .providers
        .get(suite.target)
        .map_err(|e| ApiError::bad_request(format!("`target`: {e}")).into_response())?;
    if query.dry_run {
        let plan = plan(&state, provider.as_ref(), &suite)
            .await
            .map_err(IntoResponse::into_response)?;
        return Ok(Json(plan).into_response());
    }
    let run = state
        .engine
        .run_workflow(SUITE, VERSION, json!(SuiteInput { spec, suite }))
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let view = suite_view(&state, run)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn plan(
    state: &AppState,
    provider: &dyn crate::infra::Provider,
    suite: &spec::Suite,
) -> ApiResult<SuitePlan> {
    let block = provider.network().first_block();
    let mut tests = Vec::new();
    let mut totals = PlanTotals::default();
    for test in &suite.tests {
        let deployment = planned_deployment(
            test,
            &block,
            suite.ttl.map(|t| t.0.as_secs()),
            state.engine.now(),
        );
        let planned = provider
            .plan(&deployment)
            .await
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let test_totals = PlanTotals::of(&deployment.machines, test.load_s(), test.repeat);
        totals.add(&test_totals);
        tests.push(TestPlan {
            test: test.name.clone(),
            totals: test_totals,
            machines: deployment.machines,
            expires_at: deployment.expires_at,
            provider: planned,
        });
    }
    Ok(SuitePlan {
        suite: suite.name.clone(),
        target: suite.target,
        totals,
        tests,
    })
}

async fn find_suite(state: &AppState, id: Uuid) -> ApiResult<RunState> {
    match state.reads.run(id).await? {
        Some(run) if run.workflow == SUITE => Ok(run),
        _ => Err(ApiError::not_found(format!("suite {id} not found"))),
    }
}

/// The suite as the API shows it: secrets in its document masked.
async fn suite_view(state: &AppState, run: RunState) -> ApiResult<SuiteView> {
    let mut view = view::suite(state.reads.as_ref(), run)
        .await
        .map_err(|e| match e {
            view::ViewError::Store(e) => ApiError::from(e),
            other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        })?;
    crate::api::redact::value(&mut view.spec);
    view.trace_url = state.telemetry.trace_url(view.id).await;
    Ok(view)
}

/// Get a suite: tests, statuses, results.
#[utoipa::path(get, path = "/api/v1/suites/{id}", operation_id = "get_suite", tag = "suites", params(("id" = Uuid, Path)), responses((status = 200, body = SuiteView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<SuiteView>> {
    caller.require(Scope::Read)?;
    let run = find_suite(&state, id).await?;
    Ok(Json(suite_view(&state, run).await?))
}

/// How a report is written.
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    #[default]
    Json,
    Markdown,
    Junit,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// `json` (default), `markdown` or `junit` (JUnit XML: a failed or regressed test is a
    /// failed test case).
    #[serde(default)]
    #[param(inline)]
    pub format: ReportFormat,
}

/// A suite's report: verdicts with intervals, environments and settings diffs.
#[utoipa::path(get, path = "/api/v1/suites/{id}/report", operation_id = "suite_report", tag = "suites", params(("id" = Uuid, Path), ReportQuery), responses((status = 200, description = "The report in the format asked for", content((Report = "application/json"), (String = "text/markdown"), (String = "application/xml"))), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult<Response> {
    caller.require(Scope::Read)?;
    let run = find_suite(&state, id).await?;
    let view = suite_view(&state, run).await?;
    let built = report::build(state.reads.as_ref(), &view).await?;
    // What the tasks recorded passes the same masking as every other answer.
    let mut value = serde_json::to_value(&built).unwrap_or(Value::Null);
    crate::api::redact::value(&mut value);
    let built: Report = serde_json::from_value(value)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let text = |content_type: &'static str, body: String| {
        ([(axum::http::header::CONTENT_TYPE, content_type)], body).into_response()
    };
    Ok(match q.format {
        ReportFormat::Json => Json(built).into_response(),
        ReportFormat::Markdown => text("text/markdown; charset=utf-8", report::markdown(&built)),
        ReportFormat::Junit => text("application/xml; charset=utf-8", report::junit(&built)),
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// A suite status as the list shows it (a suite whose run completed may be FAILED or
    /// REGRESSED; CANCELLING is not told apart from CANCELLED here).
    #[param(inline)]
    pub status: Option<SuiteStatus>,
    /// Created at or after, epoch ms.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// The cursor: `next_before` of the previous page.
    pub before: Option<Uuid>,
    pub limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SuitePage {
    pub suites: Vec<SuiteSummary>,
    /// Pass as `before` for the next page; unset on the last page.
    pub next_before: Option<Uuid>,
}

/// List suites.
#[utoipa::path(get, path = "/api/v1/suites", operation_id = "list_suites", tag = "suites", params(ListQuery), responses((status = 200, body = SuitePage)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<SuitePage>> {
    caller.require(Scope::Read)?;
    let limit = page_limit(q.limit);
    // The runs that may have the status; the summaries say for sure. (A page may then
    // hold fewer than `limit` suites; its cursor still continues where it stopped.)
    let run_status = match q.status {
        None | Some(SuiteStatus::Failed) => None,
        Some(SuiteStatus::Completed | SuiteStatus::Regressed) => Some(RunStatus::Completed),
        Some(SuiteStatus::Cancelled | SuiteStatus::Cancelling) => Some(RunStatus::Cancelled),
        Some(SuiteStatus::Queued) => Some(RunStatus::Queued),
        Some(SuiteStatus::Running) => Some(RunStatus::Running),
    };
    let runs = state
        .reads
        .list_runs(&RunFilter {
            workflow: Some(SUITE.into()),
            status: run_status,
            since: q.since,
            until: q.until,
            before: q.before,
            limit,
            ..RunFilter::default()
        })
        .await?;
    let next_before = next_before(&runs, limit);
    let wanted = q.status.map(|s| match s {
        SuiteStatus::Cancelling => SuiteStatus::Cancelled,
        s => s,
    });
    let suites = runs
        .iter()
        .map(view::summary)
        .filter(|s| wanted.is_none_or(|w| s.status == w))
        .collect();
    Ok(Json(SuitePage {
        suites,
        next_before,
    }))
}

/// Cancel a suite (its tests tear down their machines).
#[utoipa::path(post, path = "/api/v1/suites/{id}/cancel", operation_id = "cancel_suite", tag = "suites", params(("id" = Uuid, Path)), responses((status = 202, body = SuiteView), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<(StatusCode, Json<SuiteView>)> {
    caller.require(Scope::Write)?;
    let run = find_suite(&state, id).await?;
    if run.status.is_terminal() {
        return Err(ApiError::conflict(format!(
            "suite {id} has already ended ({})",
            run.status
        )));
    }
    state.engine.cancel_run(id).await?;
    let run = find_suite(&state, id).await?;
    Ok((StatusCode::ACCEPTED, Json(suite_view(&state, run).await?)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CompareQuery {
    /// Suite ids, comma-separated (at most 20).
    pub suites: String,
    /// The row deltas are computed against, as `<suite name>/<test name>`; the first row
    /// if unset.
    pub baseline: Option<String>,
}

/// Compare tests across suites.
///
/// Compare tests across suites: one row per test of each suite, named
/// `<suite name>/<test name>`, with deltas against the baseline row.
#[utoipa::path(get, path = "/api/v1/results/compare", operation_id = "compare_results", tag = "suites", params(CompareQuery), responses((status = 200, body = SuiteResult), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn compare(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CompareQuery>,
) -> ApiResult<Json<SuiteResult>> {
    caller.require(Scope::Read)?;
    let ids: Vec<Uuid> = q
        .suites
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .map_err(|_| ApiError::bad_request(format!("`suites`: `{s}` is not a suite id")))
        })
        .collect::<Result<_, _>>()?;
    if ids.is_empty() || ids.len() > 20 {
        return Err(ApiError::bad_request(
            "`suites`: give 1 to 20 suite ids, comma-separated",
        ));
    }
    let mut outcomes = Vec::new();
    let mut first_suite: Option<spec::Suite> = None;
    for id in ids {
        let run = find_suite(&state, id).await?;
        if first_suite.is_none() {
            first_suite = serde_json::from_value::<SuiteInput>(run.input.clone())
                .ok()
                .map(|i| i.suite);
        }
        let view = suite_view(&state, run).await?;
        outcomes.extend(view::outcomes(&view));
    }
    let baseline = match q.baseline {
        Some(b) if outcomes.iter().any(|o| o.name == b) => b,
        Some(b) => {
            return Err(ApiError::bad_request(format!(
                "`baseline`: no test named `{b}` in these suites"
            )));
        }
        None => outcomes.first().map(|o| o.name.clone()).unwrap_or_default(),
    };
    // The first suite's threshold and seed.
    let basis = results::Basis {
        baseline: &baseline,
        significance: first_suite
            .as_ref()
            .map(|s| s.significance)
            .unwrap_or_default(),
        seed: first_suite.as_ref().map_or(0, |s| s.seed),
    };
    Ok(Json(results::aggregate(&basis, &outcomes)))
}
