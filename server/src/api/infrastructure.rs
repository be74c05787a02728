//! What is provisioned right now, by deployment (a test run's machines on one provider),
//! and the operator's way to destroy one by hand. The agent binary cloud machines download
//! is served here too.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use engine::model::{Millis, RunStatus};
use engine::store::Lease;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::auth::Caller;
use crate::api::body::{ApiPath, ApiQuery};
use crate::api::problem::{ApiError, ApiResult, Problem};
use crate::infra::{DestroyFailure, Progress, destroy_all, machine_kind, network};
use crate::state::AppState;
use crate::stroppy::workflows::machines_expire_at;
use crate::tokens::Scope;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Infrastructure {
    /// One per test run holding machines on a provider.
    pub deployments: Vec<DeploymentView>,
    /// Every lease (machines, quota shares, network blocks), as stored.
    #[schema(value_type = Vec<Object>)]
    pub leases: Vec<Lease>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeploymentView {
    /// The test run that holds the machines.
    pub run_id: Uuid,
    pub provider: String,
    /// The run's status; unset when the run no longer exists (the leak guard destroys
    /// such machines).
    pub run_status: Option<RunStatus>,
    /// The suite the test run belongs to.
    pub suite_id: Option<Uuid>,
    pub created_at: Option<Millis>,
    /// When the leak guard destroys the machines, whatever the run does.
    pub expires_at: Option<Millis>,
    pub network: Option<String>,
    pub machines: Vec<DeployedMachine>,
    /// Set while destroying fails: `destroy failed: <reason>`. The machines, their network
    /// block and leases stay; the leak guard tries again, waiting longer each time.
    pub destroy_error: Option<String>,
    /// How many destroys have failed so far.
    pub destroy_attempts: Option<u32>,
    /// When the last one failed.
    pub destroy_failed_at: Option<Millis>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeployedMachine {
    pub name: String,
    pub cores: i64,
    pub address: Option<String>,
    /// The cloud's id of the VM, once made.
    pub cloud_id: Option<String>,
    /// Made (or being made); unset while only its quota share is reserved.
    pub created: bool,
}

/// What is provisioned right now.
///
/// Machines grouped by deployment, with their run, age and TTL, and every lease (machines,
/// network blocks and quota shares): after a suite, nothing of it is left here.
#[utoipa::path(get, path = "/api/v1/infrastructure", tag = "infrastructure", responses((status = 200, body = Infrastructure)))]
pub async fn infrastructure(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Infrastructure>> {
    caller.require(Scope::Read)?;
    let mut leases = state.engine.leases().leases(None, None).await?;
    // Which replica's leak guard sweeps is not something provisioned.
    leases.retain(|l| l.kind != engine::leader::LEADER);
    let mut deployments = Vec::new();
    for provider in state.providers.all() {
        let kind = machine_kind(provider.as_ref());
        let holders: std::collections::BTreeSet<&str> = leases
            .iter()
            .filter(|l| l.kind == kind)
            .map(|l| l.holder.as_str())
            .collect();
        for holder in holders {
            let Ok(run_id) = Uuid::parse_str(holder) else {
                continue;
            };
            let run = state.reads.run(run_id).await?;
            let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
            let failure = DestroyFailure::among(&leases, provider.as_ref(), run_id);
            deployments.push(DeploymentView {
                run_id,
                provider: provider.name().into(),
                run_status: run.as_ref().map(|r| r.status),
                suite_id: run
                    .as_ref()
                    .and_then(|r| r.parent.as_ref())
                    .map(|p| p.run_id),
                created_at: run.as_ref().map(|r| r.created_at),
                expires_at: run.as_ref().and_then(machines_expire_at),
                network: leases
                    .iter()
                    .find(|l| l.kind == network::NETWORK && l.holder == holder)
                    .map(|l| l.key.clone()),
                machines: leases
                    .iter()
                    .filter(|l| l.kind == kind && l.holder == holder)
                    .map(|l| {
                        let data = l.data.clone().unwrap_or_default();
                        DeployedMachine {
                            name: l.key.clone(),
                            cores: l.amount,
                            address: text(&data["address"]).or_else(|| text(&data["internal_ip"])),
                            cloud_id: text(&data["id"]),
                            created: l.data.is_some(),
                        }
                    })
                    .collect(),
                destroy_error: failure
                    .as_ref()
                    .map(|f| format!("destroy failed: {}", f.error)),
                destroy_attempts: failure.as_ref().map(|f| f.attempts),
                destroy_failed_at: failure.map(|f| f.at),
            });
        }
    }
    Ok(Json(Infrastructure {
        deployments,
        leases,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DestroyedDeployment {
    pub run_id: Uuid,
    /// Whether the run was still going and is now cancelled.
    pub cancelled: bool,
    /// The machines destroyed.
    pub destroyed: Vec<String>,
}

/// Destroy a deployment now.
///
/// Cancels its test run if it is still going, then destroys its machines on every provider
/// and gives back their leases (what the leak guard would do at the TTL).
#[utoipa::path(post, path = "/api/v1/infrastructure/{run_id}/destroy", operation_id = "destroy_deployment", tag = "infrastructure", params(("run_id" = Uuid, Path, description = "The test run holding the machines")), responses((status = 200, body = DestroyedDeployment), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 502, description = "The provider could not destroy everything; the leases stay and the leak guard tries again", body = Problem, content_type = "application/problem+json")))]
pub async fn destroy(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(run_id): ApiPath<Uuid>,
) -> ApiResult<Json<DestroyedDeployment>> {
    caller.require(Scope::Admin)?;
    let holder = run_id.to_string();
    let leases = state.engine.leases();
    let held = !leases.leases(None, Some(&holder)).await?.is_empty();
    let run = state.reads.run(run_id).await?;
    if !held && run.is_none() {
        return Err(ApiError::not_found(format!(
            "nothing is provisioned for run {run_id}"
        )));
    }
    let cancelled = run.as_ref().is_some_and(|r| !r.status.is_terminal());
    if cancelled {
        state.engine.cancel_run(run_id).await?;
    }
    let progress = Progress::server_log(format!("destroy requested, run {run_id}"));
    let mut destroyed = Vec::new();
    for provider in state.providers.all() {
        let made = destroy_all(
            leases.as_ref(),
            state.engine.tokens().as_ref(),
            provider.as_ref(),
            run_id,
            &progress,
            state.engine.now(),
        )
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, e.to_string()))?;
        destroyed.extend(made);
    }
    Ok(Json(DestroyedDeployment {
        run_id,
        cancelled,
        destroyed,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BinaryQuery {
    /// The machine's architecture, as `uname -m` says it (`x86_64`).
    pub arch: String,
}

/// The agent binary, for cloud machines to download.
///
/// Public (it holds no secret); the `X-Checksum-Sha256` header and each machine's user data
/// carry its sha256, which the machine checks before running it.
#[utoipa::path(get, path = "/api/v1/agent/binary", operation_id = "agent_binary", tag = "agent protocol", params(BinaryQuery), security(()), responses((status = 200, description = "The ratchet-agent executable", content_type = "application/octet-stream"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn agent_binary(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<BinaryQuery>,
) -> Result<Response, ApiError> {
    let Some(binary) = &state.agent_binary else {
        return Err(ApiError::not_found(
            "this server has no agent binary to hand out (build it with `cargo build -p ratchet-agent`, or set RATCHET_AGENT_BIN)",
        ));
    };
    if q.arch != binary.arch {
        return Err(ApiError::not_found(format!(
            "this server serves the agent for {} only, not for `{}`",
            binary.arch, q.arch
        )));
    }
    let file = tokio::fs::File::open(&binary.path).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the agent binary: {e}"),
        )
    })?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(sha) = HeaderValue::from_str(&binary.sha256) {
        headers.insert("x-checksum-sha256", sha);
    }
    Ok(response)
}
