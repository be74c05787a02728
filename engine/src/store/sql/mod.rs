//! The SQL both stores share. PostgreSQL and SQLite accept the same statements here (`$n`
//! placeholders, `ON CONFLICT`, `RETURNING`, partial indexes); the differences are row
//! locking, named by each store's [`Dialect`], and the column types chosen in the
//! migrations. `sql_store!` stamps the one implementation out for each database, one
//! file per facet: `runs.rs` (runs and changes), `reads.rs`, `dispatch.rs` (workers,
//! heart-beats, claims and rate limits), `outputs.rs` (logs, progress, memos),
//! `leases.rs`, `tokens.rs`, `schedules.rs`, `records.rs`, with `flow.rs` for admission, durable waits
//! and replay, and `changes.rs` for writing what the planner changed (one run, or many at once).

#[macro_use]
mod changes;
#[macro_use]
mod flow;
#[macro_use]
mod runs;
#[macro_use]
mod reads;
#[macro_use]
mod dispatch;
#[macro_use]
mod outputs;
#[macro_use]
mod leases;
#[macro_use]
mod tokens;
#[macro_use]
mod schedules;
#[macro_use]
mod records;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

use crate::definition::WorkflowDef;
use crate::model::Millis;

/// What differs between the databases' SQL, as a store names it.
pub(crate) trait Dialect {
    /// Appended to a SELECT of rows about to be changed: locks them until the commit.
    const FOR_UPDATE: &'static str;
    /// Appended to a claim's SELECT: locks the chosen rows, passing rows another claim holds.
    const SKIP_LOCKED: &'static str;
    /// Run before a quota check and its insert, so the two are atomic.
    const LOCK_LEASES: &'static str;
    /// Run first in an admission pass: one pass at a time over every replica.
    const LOCK_ADMISSION: &'static str;
}

/// A RUNNING attempt its worker's heartbeats have not listed for this long is abandoned.
/// (Long enough to cover an assignment still on its way to the worker.)
pub(crate) const ABANDONED_AFTER: i64 = 30_000;

/// How often a write that lost a race (a row changed between read and write) is retried.
pub(crate) const MAX_CONFLICT_RETRIES: usize = 20;

/// PostgreSQL aborted the transaction to resolve a deadlock or a serialization conflict:
/// running it again is the remedy.
pub(crate) fn is_transient(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == "40P01" || code == "40001")
}

/// Workflow versions are immutable, so their parsed definitions are cached for good.
#[derive(Default)]
pub(crate) struct DefinitionCache(RwLock<HashMap<(String, String), Arc<WorkflowDef>>>);

impl DefinitionCache {
    pub(crate) fn get(&self, name: &str, version: &str) -> Option<Arc<WorkflowDef>> {
        let cache = self.0.read().unwrap_or_else(|e| e.into_inner());
        cache.get(&(name.to_string(), version.to_string())).cloned()
    }

    pub(crate) fn insert(&self, def: Arc<WorkflowDef>) {
        let mut cache = self.0.write().unwrap_or_else(|e| e.into_inner());
        cache.insert((def.name.clone(), def.version.clone()), def);
    }
}

/// How long a task with weighted label preferences waits for a better-matching worker
/// with a free slot before any able worker may take it.
pub(crate) const PREFERENCE_WAIT: Millis = 2_000;

/// Does an event's payload satisfy a wait's CEL expression (none: any payload)?
pub(crate) fn payload_matches(expression: Option<&str>, payload: &Value) -> bool {
    expression.is_none_or(|e| {
        crate::expr::Expr::compile(e)
            .and_then(|e| e.eval_bool(&[("payload", payload)]))
            .unwrap_or(false)
    })
}

/// The input a handler sees: the run's input with the task's static `with` merged over it.
pub(crate) fn task_input(run_input: &Value, with: Option<&Value>) -> Value {
    match (run_input, with) {
        (_, None) => run_input.clone(),
        (Value::Object(base), Some(Value::Object(over))) => {
            let mut merged = base.clone();
            merged.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
            Value::Object(merged)
        }
        (_, Some(with)) => with.clone(),
    }
}

macro_rules! run_columns {
    () => {
        "id, workflow, version, status, input, output, error, cancel_requested, wake_at, created_at, finished_at, \
         parent_run_id, parent_task_id, child_key, child_index, concurrency_key, waiting_for_slot"
    };
}

macro_rules! token_columns {
    () => {
        "id, kind, name, token_hash, scopes, labels, run_id, worker_id, created_at, expires_at, revoked_at"
    };
}

macro_rules! task_columns {
    () => {
        "id, run_id, name, action, status, is_on_failure, cancel_requested, attempt, retry_count, ready_at, queued_at, \
         not_before, schedule_deadline, started_at, deadline, finished_at, worker_id, output, error, concurrency_key, waiting_for_slot"
    };
}

/// Implements every facet of [`Store`](crate::store::Store) for `$store` on database
/// `$db`; what differs between the databases comes from `$store`'s [`Dialect`].
macro_rules! sql_store {
    ($store:ident, $db:ty) => {
    mod sql_impl {
        use super::$store;
        use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
        use std::sync::Arc;

        use async_trait::async_trait;
        use serde_json::Value;
        use sqlx::types::Json;
        use sqlx::{QueryBuilder, Row};
        use uuid::Uuid;

        use crate::definition::WorkflowDef;
        use crate::model::*;
        use crate::observe::{AttemptEnded, RunEnded};
        use crate::planner::{Fence, Planner, RunSnapshot};
        use crate::store::sql::{is_transient, task_input, ABANDONED_AFTER, MAX_CONFLICT_RETRIES, PREFERENCE_WAIT};
        use crate::store::{Admission, Change, Installation, Lease, LeaseLimit, NewRun, Record, Report, RunFilter, Store, StoreError, StoreKind};
        use crate::store::{DispatchStore, LeaseStore, OutputStore, ReadStore, RecordStore, RunStore, ScheduleStore, TokenStore};
        use crate::store::sql::Dialect;

        type Row_ = <$db as sqlx::Database>::Row;
        type Tx<'a> = sqlx::Transaction<'a, $db>;

        sql_flow!($store, $db);

        /// A task a claim may take, on its way to assignment.
        struct Candidate {
            task_id: TaskId,
            run_id: RunId,
            name: String,
            attempt: i32,
            def: Arc<WorkflowDef>,
        }

        fn corrupt(what: &str, value: &str) -> StoreError {
            StoreError::Corrupt(format!("unknown {what} '{value}'"))
        }

        fn run_from_row(row: &Row_) -> Result<RunState, StoreError> {
            let status: String = row.try_get("status")?;
            Ok(RunState {
                id: row.try_get("id")?,
                workflow: row.try_get("workflow")?,
                version: row.try_get("version")?,
                status: RunStatus::parse(&status).ok_or_else(|| corrupt("run status", &status))?,
                input: row.try_get::<Json<Value>, _>("input")?.0,
                output: row.try_get::<Option<Json<Value>>, _>("output")?.map(|j| j.0),
                error: row.try_get("error")?,
                cancel_requested: row.try_get("cancel_requested")?,
                wake_at: row.try_get("wake_at")?,
                created_at: row.try_get("created_at")?,
                finished_at: row.try_get("finished_at")?,
                parent: match (row.try_get::<Option<RunId>, _>("parent_run_id")?, row.try_get::<Option<TaskId>, _>("parent_task_id")?) {
                    (Some(run_id), Some(task_id)) => Some(ChildOf {
                        run_id,
                        task_id,
                        key: row.try_get::<Option<String>, _>("child_key")?.unwrap_or_default(),
                        index: row.try_get::<Option<i64>, _>("child_index")?.unwrap_or_default(),
                    }),
                    _ => None,
                },
                concurrency_key: row.try_get("concurrency_key")?,
                waiting_for_slot: row.try_get("waiting_for_slot")?,
            })
        }

        fn task_from_row(row: &Row_) -> Result<TaskState, StoreError> {
            let status: String = row.try_get("status")?;
            Ok(TaskState {
                id: row.try_get("id")?,
                run_id: row.try_get("run_id")?,
                name: row.try_get("name")?,
                action: row.try_get("action")?,
                status: TaskStatus::parse(&status).ok_or_else(|| corrupt("task status", &status))?,
                is_on_failure: row.try_get("is_on_failure")?,
                cancel_requested: row.try_get("cancel_requested")?,
                attempt: row.try_get("attempt")?,
                retry_count: row.try_get("retry_count")?,
                ready_at: row.try_get("ready_at")?,
                queued_at: row.try_get("queued_at")?,
                not_before: row.try_get("not_before")?,
                schedule_deadline: row.try_get("schedule_deadline")?,
                started_at: row.try_get("started_at")?,
                deadline: row.try_get("deadline")?,
                finished_at: row.try_get("finished_at")?,
                worker_id: row.try_get("worker_id")?,
                output: row.try_get::<Option<Json<Value>>, _>("output")?.map(|j| j.0),
                error: row.try_get("error")?,
                concurrency_key: row.try_get("concurrency_key")?,
                waiting_for_slot: row.try_get("waiting_for_slot")?,
            })
        }

        fn token_from_row(row: &Row_) -> Result<TokenRecord, StoreError> {
            Ok(TokenRecord {
                id: row.try_get("id")?,
                kind: row.try_get("kind")?,
                name: row.try_get("name")?,
                token_hash: row.try_get("token_hash")?,
                scopes: row.try_get::<Json<Vec<String>>, _>("scopes")?.0,
                labels: row.try_get::<Json<BTreeMap<String, Value>>, _>("labels")?.0,
                run_id: row.try_get("run_id")?,
                worker_id: row.try_get("worker_id")?,
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
                revoked_at: row.try_get("revoked_at")?,
            })
        }

        impl $store {
            /// Workers (all, or one), newest first, with the attempts each runs.
            async fn worker_records(&self, only: Option<WorkerId>) -> Result<Vec<WorkerRecord>, StoreError> {
                let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT id, name, kind, actions, labels, slots, status, registered_at, last_heartbeat, run_scope, host FROM workers",
                );
                if let Some(id) = only {
                    qb.push(" WHERE id = ").push_bind(id);
                }
                qb.push(" ORDER BY registered_at DESC, id DESC");
                let mut records = Vec::new();
                for row in qb.build().fetch_all(self.reader()).await? {
                    records.push(WorkerRecord {
                        info: WorkerInfo {
                            id: row.try_get("id")?,
                            name: row.try_get("name")?,
                            kind: row.try_get("kind")?,
                            actions: row.try_get::<Json<Vec<String>>, _>("actions")?.0,
                            labels: row.try_get::<Json<BTreeMap<String, Value>>, _>("labels")?.0,
                            slots: u32::try_from(row.try_get::<i32, _>("slots")?).unwrap_or(0),
                            run_scope: row.try_get("run_scope")?,
                            host: row.try_get::<Option<Json<Value>>, _>("host")?.map(|j| j.0),
                        },
                        status: {
                            let status: String = row.try_get("status")?;
                            WorkerStatus::parse(&status).ok_or_else(|| corrupt("worker status", &status))?
                        },
                        registered_at: row.try_get("registered_at")?,
                        last_heartbeat: row.try_get("last_heartbeat")?,
                        running: Vec::new(),
                    });
                }
                let mut qb: QueryBuilder<$db> = QueryBuilder::new("SELECT id, attempt, worker_id FROM tasks WHERE status = 'RUNNING' AND worker_id IS NOT NULL");
                if let Some(id) = only {
                    qb.push(" AND worker_id = ").push_bind(id);
                }
                for row in qb.build().fetch_all(self.reader()).await? {
                    let worker: WorkerId = row.try_get("worker_id")?;
                    if let Some(record) = records.iter_mut().find(|r| r.info.id == worker) {
                        record.running.push(protocol::AttemptRef { task_id: row.try_get("id")?, attempt: row.try_get("attempt")? });
                    }
                }
                Ok(records)
            }
        }

        fn event_from_row(row: &Row_) -> Result<TaskEvent, StoreError> {
            let kind: String = row.try_get("kind")?;
            Ok(TaskEvent {
                id: row.try_get("id")?,
                run_id: row.try_get("run_id")?,
                task_id: row.try_get("task_id")?,
                task_name: row.try_get("task_name")?,
                attempt: row.try_get("attempt")?,
                kind: EventKind::parse(&kind).ok_or_else(|| corrupt("event kind", &kind))?,
                message: row.try_get("message")?,
                data: row.try_get::<Option<Json<Value>>, _>("data")?.map(|j| j.0),
                at: row.try_get("at")?,
            })
        }

        /// One INSERT per thousand rows, whatever runs they belong to.
        async fn insert_events_of_runs<'e>(
            tx: &mut Tx<'_>,
            events: impl Iterator<Item = (RunId, &'e NewEvent)>,
            at: Millis,
        ) -> Result<(), StoreError> {
            let events: Vec<(RunId, &NewEvent)> = events.collect();
            for chunk in events.chunks(1000) {
                let mut qb: QueryBuilder<$db> =
                    QueryBuilder::new("INSERT INTO task_events (run_id, task_id, task_name, attempt, kind, message, data, at) ");
                qb.push_values(chunk, |mut b, (run_id, e)| {
                    b.push_bind(*run_id)
                        .push_bind(e.task_id)
                        .push_bind(e.task_name.clone())
                        .push_bind(e.attempt)
                        .push_bind(e.kind.as_str())
                        .push_bind(e.message.clone())
                        .push_bind(e.data.clone().map(Json))
                        .push_bind(at);
                });
                qb.build().execute(&mut **tx).await?;
            }
            Ok(())
        }

        /// The user events a run's conditions may wait for: its workflow's keys, since the run
        /// began (none for most workflows, and then no query).
        async fn user_events_for(tx: &mut Tx<'_>, run: &RunState, def: &WorkflowDef) -> Result<Vec<UserEvent>, StoreError> {
            let keys = def.event_keys();
            let mut events = Vec::new();
            if !keys.is_empty() {
                let mut qb: QueryBuilder<$db> = QueryBuilder::new("SELECT id, key, payload, metadata, at FROM user_events WHERE at >= ");
                qb.push_bind(run.created_at).push(" AND key IN (");
                let mut list = qb.separated(", ");
                for key in &keys {
                    list.push_bind(key.clone());
                }
                qb.push(") ORDER BY id");
                for row in qb.build().fetch_all(&mut **tx).await? {
                    events.push(UserEvent {
                        id: row.try_get("id")?,
                        key: row.try_get("key")?,
                        payload: row.try_get::<Json<Value>, _>("payload")?.0,
                        metadata: row.try_get::<Json<Value>, _>("metadata")?.0,
                        at: row.try_get("at")?,
                    });
                }
            }
            Ok(events)
        }

        sql_changes!($store, $db);

        impl $store {
            async fn definition(&self, name: &str, version: &str) -> Result<Arc<WorkflowDef>, StoreError> {
                self.workflow(name, version)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("workflow '{name}' version '{version}'")))
            }

            /// The run a task belongs to.
            async fn run_of(&self, task_id: TaskId) -> Result<RunId, StoreError> {
                sqlx::query_scalar("SELECT run_id FROM tasks WHERE id = $1")
                    .bind(task_id)
                    .fetch_optional(self.reader())
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("task {task_id}")))
            }

            /// Load a run under its lock, let `change` act on it through a planner, and write
            /// the result; retried from a fresh read when a concurrent writer interferes.
            async fn mutate_run<R: Send>(
                &self,
                run_id: RunId,
                now: Millis,
                change: impl Fn(&mut Planner<'_>, &mut RunSnapshot) -> R + Send + Sync,
            ) -> Result<(R, Change), StoreError> {
                for _ in 0..MAX_CONFLICT_RETRIES {
                    let mut tx = self.writer().begin().await?;
                    match self.mutate_in(&mut tx, run_id, now, &change).await {
                        Ok(Some(done)) => {
                            tx.commit().await?;
                            return Ok(done);
                        }
                        Ok(None) => tx.rollback().await?,
                        Err(StoreError::Database(e)) if is_transient(&e) => tx.rollback().await?,
                        Err(e) => return Err(e),
                    }
                }
                Err(StoreError::Conflict(format!("run {run_id} kept changing under concurrent writers")))
            }

            /// One run's read-plan-write inside `tx`; `None` when a concurrent writer changed
            /// a row in between (the transaction must then be rolled back).
            async fn mutate_in<R: Send>(
                &self,
                tx: &mut Tx<'_>,
                run_id: RunId,
                now: Millis,
                change: &(impl Fn(&mut Planner<'_>, &mut RunSnapshot) -> R + Send + Sync),
            ) -> Result<Option<(R, Change)>, StoreError> {
                let done = self.mutate_many(tx, &[run_id], now, &|_, p: &mut Planner<'_>, snap: &mut RunSnapshot| change(p, snap)).await?;
                Ok(done.and_then(|mut answers| answers.pop()))
            }

            /// Everything a worker needs to run the claimed tasks, given their runs' inputs.
            async fn assignments(&self, claimed: Vec<Candidate>, inputs: &HashMap<RunId, Value>, now: Millis) -> Result<Vec<Assignment>, StoreError> {
                // Finished tasks, of the runs where a claimed task reads its parents' outputs
                // (or failures: the on-failure task).
                let run_ids: Vec<RunId> = claimed
                    .iter()
                    .filter(|c| c.def.find(&c.name).is_some_and(|t| !t.parents.is_empty()) || c.def.on_failure.as_ref().is_some_and(|f| f.name == c.name))
                    .map(|c| c.run_id)
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .collect();
                let mut done: HashMap<RunId, Vec<(String, TaskStatus, Option<Value>, Option<String>)>> = HashMap::new();
                for ids in run_ids.chunks(500) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                        "SELECT run_id, name, status, output, error FROM tasks \
                         WHERE status IN ('COMPLETED', 'FAILED') AND is_on_failure = ",
                    );
                    qb.push_bind(false).push(" AND run_id IN (");
                    let mut list = qb.separated(", ");
                    for id in ids {
                        list.push_bind(*id);
                    }
                    qb.push(")");
                    for row in qb.build().fetch_all(self.reader()).await? {
                        let status: String = row.try_get("status")?;
                        done.entry(row.try_get("run_id")?).or_default().push((
                            row.try_get("name")?,
                            TaskStatus::parse(&status).ok_or_else(|| corrupt("task status", &status))?,
                            row.try_get::<Option<Json<Value>>, _>("output")?.map(|j| j.0),
                            row.try_get("error")?,
                        ));
                    }
                }
                let mut out = Vec::with_capacity(claimed.len());
                for Candidate { task_id, run_id, name, attempt, def } in claimed {
                    let Some(task_def) = def.find(&name) else { continue };
                    let is_on_failure = def.on_failure.as_ref().is_some_and(|f| f.name == name);
                    let ancestors = def.ancestors(&name);
                    let finished = done.get(&run_id).map(Vec::as_slice).unwrap_or_default();
                    let parents: BTreeMap<String, Value> = finished
                        .iter()
                        .filter(|(n, s, _, _)| *s == TaskStatus::Completed && (is_on_failure || ancestors.contains(n)))
                        .map(|(n, _, o, _)| (n.clone(), o.clone().unwrap_or(Value::Null)))
                        .collect();
                    let failures = if is_on_failure {
                        finished
                            .iter()
                            .filter(|(_, s, _, _)| *s == TaskStatus::Failed)
                            .map(|(n, _, _, e)| TaskFailure { task: n.clone(), error: e.clone().unwrap_or_default() })
                            .collect()
                    } else {
                        Vec::new()
                    };
                    let base = match &task_def.input_from {
                        Some(from) => {
                            let mut path = from.split('.');
                            let start = parents.get(path.next().unwrap_or_default());
                            path.fold(start, |v, field| v.and_then(|v| v.get(field))).cloned().unwrap_or(Value::Null)
                        }
                        None => inputs.get(&run_id).cloned().unwrap_or(Value::Null),
                    };
                    out.push(Assignment {
                        task_id,
                        run_id,
                        attempt,
                        workflow: def.name.clone(),
                        task_name: name.clone(),
                        action: task_def.action.clone(),
                        input: task_input(&base, task_def.with.as_ref()),
                        parents,
                        failures,
                        deadline: now.saturating_add(task_def.execution_timeout.as_millis()),
                        traceparent: None,
                    });
                }
                Ok(out)
            }
        }


        #[async_trait]
        impl Store for $store {
            fn kind(&self) -> StoreKind {
                Self::KIND
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(self.reader()).await?;
                Ok(())
            }

            async fn installation(&self) -> Result<Installation, StoreError> {
                let row = sqlx::query("SELECT id, created_at FROM installation").fetch_one(self.reader()).await?;
                Ok(Installation {
                    id: row.try_get("id")?,
                    created_at: row.try_get("created_at")?,
                })
            }

            async fn close(&self) {
                self.close_pools().await;
            }
        }

        sql_runs!($store, $db);
        sql_reads!($store, $db);
        sql_dispatch!($store, $db);
        sql_outputs!($store, $db);
        sql_leases!($store, $db);
        sql_tokens!($store, $db);
        sql_schedules!($store, $db);
        sql_records!($store, $db);
    }
    };
}
