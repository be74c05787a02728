//! The `EventsService`: events pushed by the SDK (they start workflows whose event
//! triggers match and satisfy waits), and the lines a task logs through `ctx.log`.

use std::sync::atomic::{AtomicI64, Ordering};

use protocol::{LogBatch, LogEntry};
use tonic::{Request, Response, Status};

use crate::admin::timestamp;
use crate::proto::events_service_server::EventsService;
use crate::proto::*;
use crate::{Access, Service, engine_status, json_field, uuid_field};

/// Log lines need a sequence number per task (a re-sent line is ignored by it). The SDK
/// sends none, so lines are numbered by the microsecond they arrive, kept increasing.
static LAST_LOG_SEQ: AtomicI64 = AtomicI64::new(0);

fn next_log_seq() -> i64 {
    let now = chrono::Utc::now().timestamp_micros();
    let mut next = now;
    let _ = LAST_LOG_SEQ.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
        next = now.max(last + 1);
        Some(next)
    });
    next
}

impl Service {
    async fn push_one(&self, req: PushEventRequest, at: &str) -> Result<Event, Status> {
        if req.key.is_empty() {
            return Err(Status::invalid_argument(format!(
                "{at}key: an event needs a key"
            )));
        }
        let payload = json_field(&req.payload, &format!("{at}payload"))?;
        let metadata = json_field(
            req.additional_metadata.as_deref().unwrap_or(""),
            &format!("{at}additional_metadata"),
        )?;
        let pushed = self
            .0
            .engine
            .push_event(&req.key, payload, metadata)
            .await
            .map_err(engine_status)?;
        let event = pushed.event;
        Ok(Event {
            tenant_id: self.0.tenant_id.clone(),
            event_id: event.id.to_string(),
            key: event.key,
            payload: event.payload.to_string(),
            event_timestamp: Some(timestamp(event.at)),
            additional_metadata: Some(event.metadata.to_string()),
            scope: req.scope,
        })
    }
}

#[tonic::async_trait]
impl EventsService for Service {
    async fn push(&self, request: Request<PushEventRequest>) -> Result<Response<Event>, Status> {
        self.authorize(&request, Access::Write).await?;
        Ok(Response::new(
            self.push_one(request.into_inner(), "").await?,
        ))
    }

    async fn bulk_push(
        &self,
        request: Request<BulkPushEventRequest>,
    ) -> Result<Response<Events>, Status> {
        self.authorize(&request, Access::Write).await?;
        let mut events = Vec::new();
        for (i, one) in request.into_inner().events.into_iter().enumerate() {
            events.push(self.push_one(one, &format!("events[{i}].")).await?);
        }
        Ok(Response::new(Events { events }))
    }

    async fn put_log(
        &self,
        request: Request<PutLogRequest>,
    ) -> Result<Response<PutLogResponse>, Status> {
        self.authorize(&request, Access::Write).await?;
        let req = request.into_inner();
        let task_id = uuid_field(&req.task_run_external_id, "task_run_external_id")?;
        let engine = &self.0.engine;
        let task = self.task(task_id).await?;
        let line = match req.level.as_deref() {
            Some(level) if !level.is_empty() => format!("[{level}] {}", req.message),
            _ => req.message,
        };
        let at = req
            .created_at
            .map(|t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000)
            .unwrap_or_else(|| engine.now());
        let batch = LogBatch {
            task_id,
            attempt: req.task_retry_count.map_or(task.attempt, |r| r + 1),
            lines: vec![LogEntry {
                seq: next_log_seq(),
                at,
                line,
            }],
        };
        engine
            .append_remote_logs(task.run_id, batch)
            .await
            .map_err(engine_status)?;
        Ok(Response::new(PutLogResponse {}))
    }

    async fn put_stream_event(
        &self,
        _request: Request<PutStreamEventRequest>,
    ) -> Result<Response<PutStreamEventResponse>, Status> {
        Err(Status::unimplemented(
            "streaming from a task (ctx.put_stream) is not supported yet",
        ))
    }
}
