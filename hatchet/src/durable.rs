//! The `v1.V1Dispatcher` durable waits, as the SDK speaks them to an engine before
//! durable eviction (< v0.80): a durable task registers a wait under a signal key
//! (RegisterDurableEvent: sleeps and user events), keeps running, and listens for it to
//! be satisfied (ListenForDurableEvent).
//!
//! The registration is recorded once per task and signal key (a task memo), so a sleep's
//! deadline holds across server restarts and across the task's re-executions; so is the
//! satisfied result, which a re-executed task gets back at once. User events go through the
//! engine's durable event waits, so an event pushed while nobody listens still counts.

use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::proto::v1::v1_dispatcher_server::V1Dispatcher;
use crate::proto::v1::{
    DurableEvent, DurableEventListenerConditions, DurableTaskRequest, DurableTaskResponse,
    ListenForDurableEventRequest, RegisterDurableEventRequest, RegisterDurableEventResponse,
};
use crate::{Access, Service, answer_each, engine_status, uuid_field};

/// How often a listener looks at its wait again.
const RECHECK: Duration = Duration::from_millis(250);

fn registration_key(signal_key: &str) -> String {
    format!("hatchet:durable:{signal_key}")
}

fn result_key(signal_key: &str) -> String {
    format!("hatchet:durable-result:{signal_key}")
}

/// The engine numbers a task's event waits; a signal key's `i`-th condition gets a
/// number of its own from their digest.
fn event_seq(signal_key: &str, index: usize) -> i32 {
    let digest = Sha256::digest(format!("{signal_key}#{index}").as_bytes());
    i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) & i32::MAX
}

/// A registration as recorded: condition groups (AND-ed; conditions in a group OR-ed).
fn registration(
    signal_key: &str,
    c: &DurableEventListenerConditions,
    now: i64,
) -> Result<Value, Status> {
    let mut groups: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for (i, s) in c.sleep_conditions.iter().enumerate() {
        let base = s.base.clone().unwrap_or_default();
        let d: engine::definition::Dur = s.sleep_for.parse().map_err(|e| {
            Status::invalid_argument(format!("conditions.sleep_conditions[{i}].sleep_for: {e}"))
        })?;
        groups.entry(base.or_group_id).or_default().push(json!({
            "data_key": base.readable_data_key,
            "until": now + d.as_millis(),
            "sleep_duration": s.sleep_for,
        }));
    }
    for (i, e) in c.user_event_conditions.iter().enumerate() {
        let base = e.base.clone().unwrap_or_default();
        let expression = Some(base.expression).filter(|x| !x.is_empty());
        groups.entry(base.or_group_id).or_default().push(json!({
            "data_key": base.readable_data_key,
            "event_key": e.user_event_key,
            "expression": expression,
            "seq": event_seq(signal_key, i),
        }));
    }
    if groups.is_empty() {
        return Err(Status::invalid_argument(
            "conditions: a durable wait needs a sleep or a user event",
        ));
    }
    Ok(json!({ "groups": groups.into_values().collect::<Vec<_>>() }))
}

impl Service {
    /// The wait's result once every group has a satisfied condition, in the SDK's shape
    /// `{"CREATE": {data_key: [match]}}`.
    async fn satisfied(&self, task_id: uuid::Uuid, reg: &Value) -> Result<Option<Value>, Status> {
        let engine = &self.0.engine;
        let mut matches = serde_json::Map::new();
        for group in reg["groups"].as_array().into_iter().flatten() {
            let mut found = None;
            for condition in group.as_array().into_iter().flatten() {
                let data_key = condition["data_key"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if let Some(until) = condition["until"].as_i64() {
                    if engine.now() >= until {
                        found = Some((
                            data_key,
                            json!({"sleep_duration": condition["sleep_duration"]}),
                        ));
                        break;
                    }
                } else if let Some(key) = condition["event_key"].as_str() {
                    let seq = i32::try_from(condition["seq"].as_i64().unwrap_or_default())
                        .unwrap_or_default();
                    let expression = condition["expression"].as_str();
                    let payload = engine
                        .remote_event_wait(task_id, seq, key, expression)
                        .await
                        .map_err(engine_status)?;
                    if let Some(payload) = payload {
                        found = Some((data_key, payload));
                        break;
                    }
                }
            }
            let Some((data_key, matched)) = found else {
                return Ok(None);
            };
            matches.insert(data_key, json!([matched]));
        }
        Ok(Some(json!({ "CREATE": matches })))
    }

    /// Wait until the task's wait under `signal_key` is satisfied; answers its result.
    async fn durable_result(&self, task_id: uuid::Uuid, signal_key: &str) -> Result<Value, Status> {
        let engine = &self.0.engine;
        loop {
            if let Some(done) = engine
                .remote_memo(task_id, &result_key(signal_key))
                .await
                .map_err(engine_status)?
            {
                return Ok(done);
            }
            // Registered just before the listen (an unknown one may be on its way).
            if let Some(reg) = engine
                .remote_memo(task_id, &registration_key(signal_key))
                .await
                .map_err(engine_status)?
                && let Some(result) = self.satisfied(task_id, &reg).await?
            {
                let recorded = engine
                    .remote_memo_put(task_id, &result_key(signal_key), &result)
                    .await;
                return recorded.map_err(engine_status);
            }
            tokio::time::sleep(RECHECK).await;
        }
    }
}

#[tonic::async_trait]
impl V1Dispatcher for Service {
    type DurableTaskStream = ReceiverStream<Result<DurableTaskResponse, Status>>;

    async fn durable_task(
        &self,
        _request: Request<Streaming<DurableTaskRequest>>,
    ) -> Result<Response<Self::DurableTaskStream>, Status> {
        Err(Status::unimplemented(
            "durable eviction (engines from v0.80) is not supported; this engine reports v0.79",
        ))
    }

    async fn register_durable_event(
        &self,
        request: Request<RegisterDurableEventRequest>,
    ) -> Result<Response<RegisterDurableEventResponse>, Status> {
        self.authorize(&request, Access::Write).await?;
        let req = request.into_inner();
        let task_id = uuid_field(&req.task_id, "task_id")?;
        let conditions = req.conditions.unwrap_or_default();
        let reg = registration(&req.signal_key, &conditions, self.0.engine.now())?;
        // Recorded once: a re-registration (the task executed again) keeps the first.
        let reg = self
            .0
            .engine
            .remote_memo_put(task_id, &registration_key(&req.signal_key), &reg)
            .await
            .map_err(engine_status)?;
        // Its event waits count events from now on, listened to or not.
        self.satisfied(task_id, &reg).await?;
        Ok(Response::new(RegisterDurableEventResponse {}))
    }

    type ListenForDurableEventStream = ReceiverStream<Result<DurableEvent, Status>>;

    async fn listen_for_durable_event(
        &self,
        request: Request<Streaming<ListenForDurableEventRequest>>,
    ) -> Result<Response<Self::ListenForDurableEventStream>, Status> {
        self.authorize(&request, Access::Write).await?;
        let service = self.clone();
        Ok(Response::new(answer_each(
            request.into_inner(),
            move |ask: ListenForDurableEventRequest| {
                let service = service.clone();
                async move {
                    let task_id = uuid_field(&ask.task_id, "task_id")?;
                    let data = service.durable_result(task_id, &ask.signal_key).await?;
                    Ok(DurableEvent {
                        task_id: ask.task_id,
                        signal_key: ask.signal_key,
                        data: data.to_string().into_bytes(),
                    })
                }
            },
        )))
    }
}
