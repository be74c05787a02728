//! Hatchet's gRPC protocol over Ratchet's engine, so Hatchet's own SDKs run their workers
//! and clients against Ratchet unmodified. The `.proto` files in `proto/` are the subset
//! of Hatchet's protocol the SDKs call (`check-protos` holds them to the SDK's own
//! descriptors); this crate serves them:
//! - `dispatcher`: workers register, listen for assignments, report step events;
//! - `admin`: workflows are registered, runs triggered and read back;
//! - `events`: events pushed, logs written;
//! - `durable`: a durable task's sleeps and event waits.
//!
//! A Hatchet workflow becomes an engine workflow (`definition`), a Hatchet worker a remote
//! worker like an edge agent, and a run started through the SDK an ordinary Ratchet run.

mod admin;
mod definition;
mod dispatcher;
mod durable;
mod events;
pub mod token;

pub use admin::task_status;

use std::sync::Arc;

use engine::Engine;
use tonic::{Request, Status};

#[allow(clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("_");
    pub mod v1 {
        tonic::include_proto!("v1");
    }
}

/// What the GetVersion RPC answers. The SDK switches features on by the engine's version:
/// 0.79 has slot configs (≥ 0.78.23) and the durable event listener, and predates durable
/// eviction (0.80), which this server does not speak.
pub const ENGINE_VERSION: &str = "v0.79.0";

/// A workflow's id as Hatchet shows it: a UUID (v5) of its name (Ratchet names its
/// workflows), the same on every server.
pub fn workflow_id(name: &str) -> uuid::Uuid {
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6a1f_0c7e_52b4_4d7e_9f0e_7a3c_1b2d_4e5f);
    uuid::Uuid::new_v5(&NAMESPACE, name.as_bytes())
}

/// What a call needs of its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// The server's token check: is this bearer token live and allowed `access`? The error
/// names why not (it reaches the caller as UNAUTHENTICATED or PERMISSION_DENIED).
#[tonic::async_trait]
pub trait Authorize: Send + Sync + 'static {
    async fn authorize(&self, token: &str, access: Access) -> Result<(), Status>;
}

/// Masks secrets in run data before it leaves the server (the server's own rules).
pub type Redact = fn(&mut serde_json::Value);

/// The gRPC services, all over one engine.
#[derive(Clone)]
pub struct Service(Arc<Shared>);

struct Shared {
    engine: Arc<Engine>,
    auth: Arc<dyn Authorize>,
    /// The one tenant, named in every answer that carries one.
    tenant_id: String,
    /// Workflow names the server's own workflows use: a Hatchet worker may not replace them.
    reserved: Vec<String>,
    redact: Redact,
    /// How often a listening worker is heart-beaten (well inside the engine's lease).
    beat: std::time::Duration,
    workers: dispatcher::Workers,
}

impl Service {
    pub fn new(
        engine: Arc<Engine>,
        auth: Arc<dyn Authorize>,
        tenant_id: String,
        reserved: Vec<String>,
        lease: std::time::Duration,
        redact: Redact,
    ) -> Service {
        Service(Arc::new(Shared {
            engine,
            auth,
            tenant_id,
            reserved,
            redact,
            beat: lease / 3,
            workers: dispatcher::Workers::default(),
        }))
    }

    /// Serve every service on `listener`. Listening workers hold their streams open for
    /// good, so there is no graceful end: the server aborts the task.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
    ) -> Result<(), tonic::transport::Error> {
        use proto::dispatcher_server::DispatcherServer;
        use proto::events_service_server::EventsServiceServer;
        use proto::v1::admin_service_server::AdminServiceServer;
        use proto::v1::v1_dispatcher_server::V1DispatcherServer;
        use proto::workflow_service_server::WorkflowServiceServer;
        // The SDKs compress their messages with gzip.
        use tonic::codec::CompressionEncoding::Gzip;
        tonic::transport::Server::builder()
            .add_service(
                DispatcherServer::new(self.clone())
                    .accept_compressed(Gzip)
                    .send_compressed(Gzip),
            )
            .add_service(
                WorkflowServiceServer::new(self.clone())
                    .accept_compressed(Gzip)
                    .send_compressed(Gzip),
            )
            .add_service(
                AdminServiceServer::new(self.clone())
                    .accept_compressed(Gzip)
                    .send_compressed(Gzip),
            )
            .add_service(
                V1DispatcherServer::new(self.clone())
                    .accept_compressed(Gzip)
                    .send_compressed(Gzip),
            )
            .add_service(
                EventsServiceServer::new(self)
                    .accept_compressed(Gzip)
                    .send_compressed(Gzip),
            )
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
    }

    /// Check the call's `authorization: Bearer <token>` metadata.
    async fn authorize<T>(&self, request: &Request<T>, access: Access) -> Result<(), Status> {
        let token = request
            .metadata()
            .get("authorization")
            .ok_or_else(|| Status::unauthenticated("missing authorization metadata: set HATCHET_CLIENT_TOKEN to a token from `ratchet token create --hatchet`"))?
            .to_str()
            .map_err(|_| Status::unauthenticated("the authorization metadata is not valid text"))?;
        // The scheme is case-insensitive (the Python SDK sends `bearer`).
        let token = token
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Status::unauthenticated("the authorization metadata must be `Bearer <token>`")
            })?;
        self.0.auth.authorize(token, access).await
    }
}

/// An engine error as a gRPC status: what the caller got wrong is INVALID_ARGUMENT or
/// NOT_FOUND, the rest INTERNAL (logged, without the request).
fn engine_status(e: engine::EngineError) -> Status {
    use engine::EngineError as E;
    match e {
        E::UnknownWorkflow(_) => Status::not_found(e.to_string()),
        E::Definition(_) | E::BadInput(_) | E::InvalidSchedule(_) => {
            Status::invalid_argument(e.to_string())
        }
        other => {
            tracing::warn!(error = %other, "hatchet call failed");
            Status::internal(other.to_string())
        }
    }
}

/// The subscription streams (run results, durable waits): each request on the incoming
/// stream gets one answer, when `answer` has it; the waiters end with the stream.
fn answer_each<Req, Resp, F, Fut>(
    mut incoming: tonic::Streaming<Req>,
    answer: F,
) -> tokio_stream::wrappers::ReceiverStream<Result<Resp, Status>>
where
    Req: Send + 'static,
    Resp: Send + 'static,
    F: Fn(Req) -> Fut + Send + Clone + 'static,
    Fut: std::future::Future<Output = Result<Resp, Status>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        while let Ok(Some(ask)) = incoming.message().await {
            let (answer, tx) = (answer.clone(), tx.clone());
            tokio::spawn(async move {
                let answered = tokio::select! {
                    answered = answer(ask) => answered,
                    () = tx.closed() => return,
                };
                let _ = tx.send(answered).await;
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

impl Service {
    /// A task named by a request, or NOT_FOUND.
    async fn task(&self, task_id: uuid::Uuid) -> Result<engine::model::TaskState, Status> {
        self.0
            .engine
            .reads()
            .task(task_id)
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .ok_or_else(|| Status::not_found(format!("no task run {task_id}")))
    }
}

/// A UUID field of a request, or INVALID_ARGUMENT naming it.
fn uuid_field(value: &str, field: &str) -> Result<uuid::Uuid, Status> {
    value
        .parse()
        .map_err(|_| Status::invalid_argument(format!("{field}: '{value}' is not a UUID")))
}

/// A JSON field of a request (empty means `{}`), or INVALID_ARGUMENT naming it.
fn json_field(text: &str, field: &str) -> Result<serde_json::Value, Status> {
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    serde_json::from_str(text)
        .map_err(|e| Status::invalid_argument(format!("{field}: not JSON ({e})")))
}
