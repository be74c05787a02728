//! The SQL both stores share. PostgreSQL and SQLite accept the same statements here (`$n`
//! placeholders, `ON CONFLICT`, `RETURNING`, partial indexes); the differences are row
//! locking and the column types chosen in the migrations. `sql_store!` stamps the one
//! implementation out for each database.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

use crate::definition::WorkflowDef;
use crate::model::Millis;

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

/// Implements [`Store`](crate::store::Store) for `$store` on database `$db`. `$for_update`
/// locks a run row while it is changed; `$skip_locked` lets concurrent claims pass each
/// other (both empty on SQLite, whose single writer connection serialises all writes).
macro_rules! sql_store {
    ($store:ident, $db:ty, for_update: $for_update:literal, skip_locked: $skip_locked:literal, lock_leases: $lock_leases:literal, lock_admission: $lock_admission:literal) => {
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
        use crate::planner::{Fence, Planner, RunSnapshot};
        use crate::store::sql::{is_transient, task_input, ABANDONED_AFTER, MAX_CONFLICT_RETRIES, PREFERENCE_WAIT};
        use crate::store::{Admission, Change, Installation, Lease, LeaseLimit, NewRun, Report, RunFilter, Store, StoreError, StoreKind};

        type Row_ = <$db as sqlx::Database>::Row;
        type Tx<'a> = sqlx::Transaction<'a, $db>;

        sql_flow!($store, $db, for_update: $for_update, lock_admission: $lock_admission);

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
                        status: row.try_get("status")?,
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

        async fn insert_events(tx: &mut Tx<'_>, run_id: RunId, events: &[NewEvent], at: Millis) -> Result<(), StoreError> {
            insert_events_of_runs(tx, events.iter().map(|e| (run_id, e)), at).await
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

        /// Write what the planner changed, guarded by each row's status as read: `None`
        /// when another writer got there first (the caller retries from a fresh read).
        async fn write_changes(
            tx: &mut Tx<'_>,
            before: &RunSnapshot,
            after: &RunSnapshot,
            planner: &Planner<'_>,
            now: Millis,
        ) -> Result<Option<Change>, StoreError> {
            let mut change = Change {
                run_id: Some(after.run.id),
                stop: planner.stops.clone(),
                ..Change::default()
            };
            for (old, new) in before.tasks.iter().zip(&after.tasks) {
                if old == new {
                    continue;
                }
                let updated = sqlx::query(
                    "UPDATE tasks SET status = $1, attempt = $2, retry_count = $3, ready_at = $4, queued_at = $5, \
                     not_before = $6, schedule_deadline = $7, started_at = $8, deadline = $9, finished_at = $10, \
                     worker_id = $11, output = $12, error = $13, cancel_requested = $14, concurrency_key = $15, waiting_for_slot = $16 \
                     WHERE id = $17 AND status = $18 AND attempt = $19",
                )
                .bind(new.status.as_str())
                .bind(new.attempt)
                .bind(new.retry_count)
                .bind(new.ready_at)
                .bind(new.queued_at)
                .bind(new.not_before)
                .bind(new.schedule_deadline)
                .bind(new.started_at)
                .bind(new.deadline)
                .bind(new.finished_at)
                .bind(new.worker_id)
                .bind(new.output.clone().map(Json))
                .bind(new.error.clone())
                .bind(new.cancel_requested)
                .bind(new.concurrency_key.clone())
                .bind(new.waiting_for_slot)
                .bind(old.id)
                .bind(old.status.as_str())
                .bind(old.attempt)
                .execute(&mut **tx)
                .await?;
                if updated.rows_affected() == 0 {
                    return Ok(None);
                }
                if old.status != new.status || old.attempt != new.attempt {
                    change.tasks.push((new.id, new.name.clone(), new.status));
                    change.queued |= new.status == TaskStatus::Queued;
                    change.concurrency |= new.concurrency_key.is_some();
                }
            }
            if before.run != after.run {
                let run = &after.run;
                let updated = sqlx::query(
                    "UPDATE runs SET status = $1, output = $2, error = $3, cancel_requested = $4, wake_at = $5, \
                     finished_at = $6, waiting_for_slot = $7 WHERE id = $8 AND status = $9",
                )
                .bind(run.status.as_str())
                .bind(run.output.clone().map(Json))
                .bind(run.error.clone())
                .bind(run.cancel_requested)
                .bind(run.wake_at)
                .bind(run.finished_at)
                .bind(run.waiting_for_slot)
                .bind(run.id)
                .bind(before.run.status.as_str())
                .execute(&mut **tx)
                .await?;
                if updated.rows_affected() == 0 {
                    return Ok(None);
                }
                if before.run.status != run.status {
                    change.run_status = Some(run.status);
                    change.concurrency |= run.concurrency_key.is_some();
                }
            }
            insert_events(tx, after.run.id, &planner.events, now).await?;
            Ok(Some(change))
        }

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
                let run = sqlx::query(concat!("SELECT ", run_columns!(), " FROM runs WHERE id = $1", $for_update))
                    .bind(run_id)
                    .fetch_optional(&mut **tx)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("run {run_id}")))?;
                let run = run_from_row(&run)?;
                let tasks = sqlx::query(concat!("SELECT ", task_columns!(), " FROM tasks WHERE run_id = $1 ORDER BY id"))
                    .bind(run_id)
                    .fetch_all(&mut **tx)
                    .await?
                    .iter()
                    .map(task_from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                let def = self.definition(&run.workflow, &run.version).await?;
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
                let before = RunSnapshot { run, tasks, events };
                let mut after = before.clone();
                let mut planner = Planner::new(&def, now);
                let out = change(&mut planner, &mut after);
                if after == before {
                    return Ok(Some((out, Change::default())));
                }
                Ok(write_changes(tx, &before, &after, &planner, now).await?.map(|written| (out, written)))
            }

            /// Everything a worker needs to run the claimed tasks.
            async fn assignments(&self, claimed: Vec<(TaskId, RunId, String, i32, Arc<WorkflowDef>)>, now: Millis) -> Result<Vec<Assignment>, StoreError> {
                let run_ids: Vec<RunId> = claimed.iter().map(|c| c.1).collect::<HashSet<_>>().into_iter().collect();
                let mut inputs = std::collections::HashMap::new();
                let mut done: std::collections::HashMap<RunId, Vec<(String, TaskStatus, Option<Value>, Option<String>)>> =
                    std::collections::HashMap::new();
                for ids in run_ids.chunks(500) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new("SELECT id, input FROM runs WHERE id IN (");
                    let mut list = qb.separated(", ");
                    for id in ids {
                        list.push_bind(*id);
                    }
                    qb.push(")");
                    for row in qb.build().fetch_all(self.reader()).await? {
                        inputs.insert(row.try_get::<RunId, _>("id")?, row.try_get::<Json<Value>, _>("input")?.0);
                    }
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
                for (task_id, run_id, name, attempt, def) in claimed {
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

            async fn put_workflow(&self, def: &WorkflowDef, now: Millis) -> Result<(), StoreError> {
                let json = serde_json::to_value(def).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query("INSERT INTO workflows (name, version, definition, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                    .bind(&def.name)
                    .bind(&def.version)
                    .bind(Json(&json))
                    .bind(now)
                    .execute(self.writer())
                    .await?;
                let stored: Json<Value> = sqlx::query_scalar("SELECT definition FROM workflows WHERE name = $1 AND version = $2")
                    .bind(&def.name)
                    .bind(&def.version)
                    .fetch_one(self.writer())
                    .await?;
                if stored.0 != json {
                    return Err(StoreError::Conflict(format!(
                        "workflow '{}' version '{}' is already registered with a different definition; register the change as a new version",
                        def.name, def.version
                    )));
                }
                Ok(())
            }

            async fn workflows(&self) -> Result<Vec<(String, String, Millis)>, StoreError> {
                Ok(sqlx::query_as("SELECT name, version, created_at FROM workflows ORDER BY name, created_at")
                    .fetch_all(self.reader())
                    .await?)
            }

            async fn workflow(&self, name: &str, version: &str) -> Result<Option<Arc<WorkflowDef>>, StoreError> {
                if let Some(def) = self.definitions.get(name, version) {
                    return Ok(Some(def));
                }
                let stored: Option<Json<WorkflowDef>> =
                    sqlx::query_scalar("SELECT definition FROM workflows WHERE name = $1 AND version = $2")
                        .bind(name)
                        .bind(version)
                        .fetch_optional(self.reader())
                        .await?;
                Ok(stored.map(|Json(def)| {
                    let def = Arc::new(def);
                    self.definitions.insert(def.clone());
                    def
                }))
            }

            async fn create_runs(&self, new_runs: Vec<NewRun>, now: Millis) -> Result<Vec<RunState>, StoreError> {
                // Plan each run first, then insert the planned state: no row is written twice,
                // and a batch of runs costs three statements and one commit.
                // Children already spawned under the same keys are answered, not created again.
                let mut existing: HashMap<(TaskId, String), RunState> = HashMap::new();
                let parents: HashSet<(RunId, TaskId)> = new_runs.iter().filter_map(|n| n.parent.as_ref().map(|p| (p.run_id, p.task_id))).collect();
                for (run_id, task_id) in parents {
                    for child in self.child_runs(run_id, Some(task_id)).await? {
                        if let Some(p) = &child.parent {
                            existing.insert((p.task_id, p.key.clone()), child.clone());
                        }
                    }
                }
                let mut answers = Vec::with_capacity(new_runs.len());
                let mut runs = Vec::with_capacity(new_runs.len());
                let mut tasks: Vec<(TaskState, i64)> = Vec::new();
                let mut events: Vec<(RunId, NewEvent)> = Vec::new();
                for new in new_runs {
                    if let Some(found) = new.parent.as_ref().and_then(|p| existing.get(&(p.task_id, p.key.clone()))) {
                        answers.push(found.clone());
                        continue;
                    }
                    let def = self.definition(&new.workflow, &new.version).await?;
                    let mut run = RunState {
                        id: new.id,
                        workflow: new.workflow,
                        version: new.version,
                        status: RunStatus::Queued,
                        input: new.input,
                        output: None,
                        error: None,
                        cancel_requested: false,
                        wake_at: None,
                        created_at: now,
                        finished_at: None,
                        parent: new.parent,
                        concurrency_key: None,
                        waiting_for_slot: false,
                    };
                    // Under a concurrency rule a run starts waiting for its slot.
                    let mut waiting_event = None;
                    if let Some(rule) = &def.concurrency {
                        let key = crate::concurrency::key_of(rule, &run.input).map_err(StoreError::Invalid)?;
                        waiting_event = Some(NewEvent::run(
                            EventKind::Waiting,
                            format!("waiting for a concurrency slot (key '{key}', max_runs {})", rule.max_runs),
                        ));
                        run.concurrency_key = Some(key);
                        run.waiting_for_slot = true;
                    }
                    let all = def.tasks.iter().map(|t| (t, false)).chain(def.on_failure.iter().map(|t| (t, true)));
                    let run_tasks: Vec<TaskState> = all
                        .map(|(t, is_on_failure)| TaskState {
                            id: Uuid::now_v7(),
                            run_id: run.id,
                            name: t.name.clone(),
                            action: t.action.clone(),
                            status: TaskStatus::Pending,
                            is_on_failure,
                            cancel_requested: false,
                            attempt: 1,
                            retry_count: 0,
                            ready_at: None,
                            queued_at: None,
                            not_before: None,
                            schedule_deadline: None,
                            started_at: None,
                            deadline: None,
                            finished_at: None,
                            worker_id: None,
                            output: None,
                            error: None,
                            concurrency_key: None,
                            waiting_for_slot: false,
                        })
                        .collect();
                    let mut snap = RunSnapshot { run, tasks: run_tasks, events: Vec::new() };
                    let mut planner = Planner::new(&def, now);
                    planner.events.extend(waiting_event);
                    planner.reconcile(&mut snap, &HashSet::new());
                    events.extend(planner.events.into_iter().map(|e| (snap.run.id, e)));
                    for task in snap.tasks {
                        let timeout = def.find(&task.name).map_or(0, |d| d.execution_timeout.as_millis());
                        tasks.push((task, timeout));
                    }
                    answers.push(snap.run.clone());
                    runs.push(snap.run);
                }

                let mut tx = self.writer().begin().await?;
                for chunk in runs.chunks(500) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(concat!("INSERT INTO runs (", run_columns!(), ") "));
                    qb.push_values(chunk, |mut b, run| {
                        b.push_bind(run.id)
                            .push_bind(run.workflow.clone())
                            .push_bind(run.version.clone())
                            .push_bind(run.status.as_str())
                            .push_bind(Json(run.input.clone()))
                            .push_bind(run.output.clone().map(Json))
                            .push_bind(run.error.clone())
                            .push_bind(run.cancel_requested)
                            .push_bind(run.wake_at)
                            .push_bind(run.created_at)
                            .push_bind(run.finished_at)
                            .push_bind(run.parent.as_ref().map(|p| p.run_id))
                            .push_bind(run.parent.as_ref().map(|p| p.task_id))
                            .push_bind(run.parent.as_ref().map(|p| p.key.clone()))
                            .push_bind(run.parent.as_ref().map(|p| p.index))
                            .push_bind(run.concurrency_key.clone())
                            .push_bind(run.waiting_for_slot);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                for chunk in tasks.chunks(500) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(concat!("INSERT INTO tasks (", task_columns!(), ", timeout_ms) "));
                    qb.push_values(chunk, |mut b, (t, timeout)| {
                        b.push_bind(t.id)
                            .push_bind(t.run_id)
                            .push_bind(t.name.clone())
                            .push_bind(t.action.clone())
                            .push_bind(t.status.as_str())
                            .push_bind(t.is_on_failure)
                            .push_bind(t.cancel_requested)
                            .push_bind(t.attempt)
                            .push_bind(t.retry_count)
                            .push_bind(t.ready_at)
                            .push_bind(t.queued_at)
                            .push_bind(t.not_before)
                            .push_bind(t.schedule_deadline)
                            .push_bind(t.started_at)
                            .push_bind(t.deadline)
                            .push_bind(t.finished_at)
                            .push_bind(t.worker_id)
                            .push_bind(t.output.clone().map(Json))
                            .push_bind(t.error.clone())
                            .push_bind(t.concurrency_key.clone())
                            .push_bind(t.waiting_for_slot)
                            .push_bind(*timeout);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                insert_events_of_runs(&mut tx, events.iter().map(|(r, e)| (*r, e)), now).await?;
                tx.commit().await?;
                Ok(answers)
            }

            async fn run_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
                Ok(sqlx::query_as("SELECT workflow, status, COUNT(*) FROM runs GROUP BY workflow, status ORDER BY workflow, status")
                    .fetch_all(self.reader())
                    .await?)
            }

            async fn list_runs(&self, f: &RunFilter) -> Result<Vec<RunState>, StoreError> {
                let mut qb: QueryBuilder<$db> = QueryBuilder::new(concat!("SELECT ", run_columns!(), " FROM runs WHERE 1 = 1"));
                if let Some(w) = &f.workflow {
                    qb.push(" AND workflow = ").push_bind(w.clone());
                }
                if let Some(s) = f.status {
                    qb.push(" AND status = ").push_bind(s.as_str());
                }
                if let Some(t) = f.parent_task {
                    qb.push(" AND parent_task_id = ").push_bind(t);
                }
                if let Some(since) = f.since {
                    qb.push(" AND created_at >= ").push_bind(since);
                }
                if let Some(until) = f.until {
                    qb.push(" AND created_at < ").push_bind(until);
                }
                if let Some(before) = f.before {
                    qb.push(" AND id < ").push_bind(before);
                }
                qb.push(" ORDER BY id DESC LIMIT ").push_bind(f.limit.clamp(1, 1000));
                qb.build().fetch_all(self.reader()).await?.iter().map(run_from_row).collect()
            }

            async fn child_runs(&self, parent_run: RunId, parent_task: Option<TaskId>) -> Result<Vec<RunState>, StoreError> {
                let mut qb: QueryBuilder<$db> = QueryBuilder::new(concat!("SELECT ", run_columns!(), " FROM runs WHERE parent_run_id = "));
                qb.push_bind(parent_run);
                if let Some(task) = parent_task {
                    qb.push(" AND parent_task_id = ").push_bind(task);
                }
                qb.push(" ORDER BY parent_task_id, child_index");
                qb.build().fetch_all(self.reader()).await?.iter().map(run_from_row).collect()
            }

            async fn reconcile(&self, run_id: RunId, now: Millis, lost_workers: &HashSet<WorkerId>) -> Result<Change, StoreError> {
                let ((), change) = self.mutate_run(run_id, now, |p, snap| p.reconcile(snap, lost_workers)).await?;
                Ok(change)
            }

            async fn cancel_run(&self, run_id: RunId, reason: &str, now: Millis) -> Result<Change, StoreError> {
                let ((), change) = self.mutate_run(run_id, now, |p, snap| p.cancel_run(snap, reason)).await?;
                Ok(change)
            }

            async fn cancel_task(&self, task_id: TaskId, reason: &str, now: Millis) -> Result<Change, StoreError> {
                let run_id = self.run_of(task_id).await?;
                let (_, change) = self.mutate_run(run_id, now, |p, snap| p.cancel_task(snap, task_id, reason)).await?;
                Ok(change)
            }

            async fn run(&self, run_id: RunId) -> Result<Option<RunState>, StoreError> {
                sqlx::query(concat!("SELECT ", run_columns!(), " FROM runs WHERE id = $1"))
                    .bind(run_id)
                    .fetch_optional(self.reader())
                    .await?
                    .as_ref()
                    .map(run_from_row)
                    .transpose()
            }

            async fn tasks(&self, run_id: RunId) -> Result<Vec<TaskState>, StoreError> {
                sqlx::query(concat!("SELECT ", task_columns!(), " FROM tasks WHERE run_id = $1 ORDER BY id"))
                    .bind(run_id)
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(task_from_row)
                    .collect()
            }

            async fn task(&self, task_id: TaskId) -> Result<Option<TaskState>, StoreError> {
                sqlx::query(concat!("SELECT ", task_columns!(), " FROM tasks WHERE id = $1"))
                    .bind(task_id)
                    .fetch_optional(self.reader())
                    .await?
                    .as_ref()
                    .map(task_from_row)
                    .transpose()
            }

            async fn events(&self, run_id: RunId, after: i64) -> Result<Vec<TaskEvent>, StoreError> {
                sqlx::query(
                    "SELECT id, run_id, task_id, task_name, attempt, kind, message, data, at FROM task_events \
                     WHERE run_id = $1 AND id > $2 ORDER BY id",
                )
                .bind(run_id)
                .bind(after)
                .fetch_all(self.reader())
                .await?
                .iter()
                .map(event_from_row)
                .collect()
            }

            async fn register_worker(&self, worker: &WorkerInfo, now: Millis) -> Result<(), StoreError> {
                // A worker declared lost that comes back has dropped its attempts: whatever is
                // still RUNNING under its id is reassigned before it becomes ACTIVE again.
                let previous: Option<String> = sqlx::query_scalar("SELECT status FROM workers WHERE id = $1")
                    .bind(worker.id)
                    .fetch_optional(self.reader())
                    .await?;
                if previous.is_some_and(|s| s != "ACTIVE") {
                    let runs: Vec<RunId> = sqlx::query_scalar("SELECT DISTINCT run_id FROM tasks WHERE status = 'RUNNING' AND worker_id = $1")
                        .bind(worker.id)
                        .fetch_all(self.reader())
                        .await?;
                    let lost = HashSet::from([worker.id]);
                    for run_id in runs {
                        self.reconcile(run_id, now, &lost).await?;
                    }
                }
                sqlx::query(
                    "INSERT INTO workers (id, name, kind, actions, labels, slots, status, registered_at, last_heartbeat, run_scope, host) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'ACTIVE', $7, $7, $8, $9) \
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, actions = excluded.actions, \
                     labels = excluded.labels, slots = excluded.slots, status = 'ACTIVE', last_heartbeat = excluded.last_heartbeat, \
                     run_scope = excluded.run_scope, host = excluded.host",
                )
                .bind(worker.id)
                .bind(&worker.name)
                .bind(&worker.kind)
                .bind(Json(&worker.actions))
                .bind(Json(&worker.labels))
                .bind(i64::from(worker.slots))
                .bind(now)
                .bind(worker.run_scope)
                .bind(worker.host.clone().map(Json))
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn heartbeat(&self, worker_id: WorkerId, running: &[(TaskId, i32)], now: Millis) -> Result<Vec<(TaskId, i32)>, StoreError> {
                let alive = sqlx::query("UPDATE workers SET last_heartbeat = $1 WHERE id = $2 AND status = 'ACTIVE'")
                    .bind(now)
                    .bind(worker_id)
                    .execute(self.writer())
                    .await?;
                if alive.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!("active worker {worker_id} (it was declared lost; register again)")));
                }
                let mut ours = Vec::new();
                for row in sqlx::query("SELECT id, run_id, attempt, started_at FROM tasks WHERE status = 'RUNNING' AND worker_id = $1")
                    .bind(worker_id)
                    .fetch_all(self.reader())
                    .await?
                {
                    ours.push((
                        row.try_get::<TaskId, _>("id")?,
                        row.try_get::<RunId, _>("run_id")?,
                        row.try_get::<i32, _>("attempt")?,
                        row.try_get::<Option<Millis>, _>("started_at")?.unwrap_or(now),
                    ));
                }
                let listed: HashSet<(TaskId, i32)> = running.iter().copied().collect();
                // Attempts the store assigned to this worker long ago that it does not run (it
                // restarted, or lost an assignment): give them to someone else.
                for (task_id, run_id, attempt, started_at) in &ours {
                    if !listed.contains(&(*task_id, *attempt)) && *started_at <= now.saturating_sub(ABANDONED_AFTER) {
                        self.mutate_run(*run_id, now, |p, snap| p.abandon(snap, *task_id, *attempt)).await?;
                    }
                }
                let valid: HashSet<(TaskId, i32)> = ours.iter().map(|(t, _, a, _)| (*t, *a)).collect();
                Ok(running.iter().filter(|r| !valid.contains(r)).copied().collect())
            }

            async fn deregister_worker(&self, worker_id: WorkerId, now: Millis) -> Result<Vec<Change>, StoreError> {
                sqlx::query("UPDATE workers SET status = 'STOPPED' WHERE id = $1")
                    .bind(worker_id)
                    .execute(self.writer())
                    .await?;
                let running = sqlx::query("SELECT id, run_id, attempt FROM tasks WHERE status = 'RUNNING' AND worker_id = $1")
                    .bind(worker_id)
                    .fetch_all(self.reader())
                    .await?;
                let mut changes = Vec::new();
                for row in running {
                    let (task_id, run_id, attempt): (TaskId, RunId, i32) = (row.try_get("id")?, row.try_get("run_id")?, row.try_get("attempt")?);
                    let ((), change) = self.mutate_run(run_id, now, |p, snap| p.hand_back(snap, task_id, attempt, "its worker left and handed it back")).await?;
                    changes.push(change);
                }
                Ok(changes)
            }

            async fn workers(&self) -> Result<Vec<WorkerRecord>, StoreError> {
                self.worker_records(None).await
            }

            async fn worker(&self, worker_id: WorkerId) -> Result<Option<WorkerRecord>, StoreError> {
                Ok(self.worker_records(Some(worker_id)).await?.pop())
            }

            async fn attempt_worker(&self, task_id: TaskId, attempt: i32) -> Result<Option<WorkerId>, StoreError> {
                // Through the run, so the run's index narrows the events read.
                let row = sqlx::query(
                    "SELECT e.data FROM task_events e JOIN tasks t ON t.run_id = e.run_id \
                     WHERE t.id = $1 AND e.task_id = $2 AND e.attempt = $3 AND e.kind = 'ASSIGNED' ORDER BY e.id DESC LIMIT 1",
                )
                .bind(task_id)
                .bind(task_id)
                .bind(attempt)
                .fetch_optional(self.reader())
                .await?;
                let Some(row) = row else { return Ok(None) };
                let data = row.try_get::<Option<Json<Value>>, _>("data")?.map(|j| j.0);
                Ok(data.and_then(|d| d["worker_id"].as_str().and_then(|s| s.parse().ok())))
            }

            async fn bind_run_agents(&self, run_id: RunId) -> Result<(), StoreError> {
                sqlx::query("UPDATE runs SET agents_bound = TRUE WHERE id = $1")
                    .bind(run_id)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn claim(&self, worker: &WorkerInfo, capacity: u32, now: Millis) -> Result<Vec<Assignment>, StoreError> {
                if capacity == 0 || worker.actions.is_empty() {
                    return Ok(Vec::new());
                }
                // 1. Candidates, without locks: required labels are checked in Rust, and a
                //    worker must not hold rows it cannot take (others would skip them). Page on
                //    while the queue's head is tasks for other workers.
                const WINDOW: i64 = 256;
                let mut candidates = Vec::new();
                let mut queued_at: HashMap<TaskId, Millis> = HashMap::new();
                for page in 0..8 {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                        "SELECT t.id, t.run_id, t.name, t.attempt, t.queued_at, r.workflow, r.version FROM tasks t JOIN runs r ON r.id = t.run_id \
                         WHERE t.status = 'QUEUED' AND NOT t.waiting_for_slot AND t.not_before <= ",
                    );
                    qb.push_bind(now).push(" AND t.schedule_deadline > ").push_bind(now);
                    match worker.run_scope {
                        Some(run_id) => {
                            qb.push(" AND t.run_id = ").push_bind(run_id);
                        }
                        // A run with machines of its own is theirs alone.
                        None if worker.is_agent() => {
                            qb.push(" AND NOT r.agents_bound");
                        }
                        None => {}
                    }
                    qb.push(" AND t.action IN (");
                    let mut list = qb.separated(", ");
                    for action in &worker.actions {
                        list.push_bind(action.clone());
                    }
                    qb.push(") ORDER BY t.not_before, t.id LIMIT ").push_bind(WINDOW).push(" OFFSET ").push_bind(page * WINDOW);
                    let rows = qb.build().fetch_all(self.reader()).await?;
                    for row in &rows {
                        let name: String = row.try_get("name")?;
                        let def = self.definition(&row.try_get::<String, _>("workflow")?, &row.try_get::<String, _>("version")?).await?;
                        if def.find(&name).is_some_and(|t| t.required_labels_met(&worker.labels)) {
                            queued_at.insert(row.try_get::<TaskId, _>("id")?, row.try_get::<Option<Millis>, _>("queued_at")?.unwrap_or(now));
                            candidates.push((row.try_get::<TaskId, _>("id")?, row.try_get::<RunId, _>("run_id")?, name, row.try_get::<i32, _>("attempt")?, def));
                        }
                    }
                    // Some spare: another worker may lock a few of them first.
                    if candidates.len() >= capacity as usize * 2 || (rows.len() as i64) < WINDOW {
                        break;
                    }
                }
                // Weighted label preferences: pass a task over for a moment while a live worker
                // that matches it better has a free slot.
                let prefers = |c: &Claimed| c.4.find(&c.2).filter(|t| t.has_preferences()).cloned();
                if candidates.iter().any(|c| prefers(c).is_some()) {
                    let others: Vec<WorkerRecord> = self
                        .worker_records(None)
                        .await?
                        .into_iter()
                        .filter(|w| w.status == "ACTIVE" && w.info.id != worker.id && w.running.len() < w.info.slots as usize)
                        .collect();
                    candidates.retain(|c| {
                        let Some(task) = prefers(c) else { return true };
                        if queued_at.get(&c.0).is_none_or(|at| at + PREFERENCE_WAIT <= now) {
                            return true;
                        }
                        let mine = task.preference_score(&worker.labels);
                        !others.iter().any(|w| {
                            w.info.can_take(&task.action, c.1)
                                && task.required_labels_met(&w.info.labels)
                                && task.preference_score(&w.info.labels) > mine
                        })
                    });
                }
                if candidates.is_empty() {
                    return Ok(Vec::new());
                }

                // 2. Lock what is still QUEUED, with its run, skipping rows another writer
                //    holds: a claim never waits for a lock, so it cannot be part of a deadlock.
                let mut tx = self.writer().begin().await?;
                let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT t.id FROM tasks t JOIN runs r ON r.id = t.run_id WHERE t.status = 'QUEUED' AND t.id IN (",
                );
                let mut list = qb.separated(", ");
                for c in &candidates {
                    list.push_bind(c.0);
                }
                qb.push(") ORDER BY t.not_before, t.id LIMIT ")
                    .push_bind(i64::from(capacity))
                    .push($skip_locked);
                let locked: HashSet<TaskId> = qb
                    .build()
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|row| row.try_get::<TaskId, _>("id"))
                    .collect::<Result<_, _>>()?;
                let chosen: Vec<_> = candidates.into_iter().filter(|c| locked.contains(&c.0)).collect();
                let chosen = self.take_rate_limits(&mut tx, chosen, now).await?;
                if chosen.is_empty() {
                    tx.commit().await?; // keeps the REQUEUED rows of tasks the limits held back
                    return Ok(Vec::new());
                }

                // 3. Assign, record, and mark the runs RUNNING, all before the commit: a claim
                //    that fails half-way leaves nothing assigned.
                let mut qb: QueryBuilder<$db> = QueryBuilder::new("UPDATE tasks SET status = 'RUNNING', worker_id = ");
                qb.push_bind(worker.id)
                    .push(", started_at = ")
                    .push_bind(now)
                    .push(", deadline = ")
                    .push_bind(now)
                    .push(" + timeout_ms WHERE status = 'QUEUED' AND id IN (");
                let mut list = qb.separated(", ");
                for c in &chosen {
                    list.push_bind(c.0);
                }
                qb.push(")");
                let updated = qb.build().execute(&mut *tx).await?;
                if updated.rows_affected() != chosen.len() as u64 {
                    tx.rollback().await?;
                    return Ok(Vec::new());
                }
                let assigned: Vec<(RunId, NewEvent)> = chosen
                    .iter()
                    .map(|c| {
                        let event = NewEvent {
                            task_id: Some(c.0),
                            task_name: Some(c.2.clone()),
                            attempt: Some(c.3),
                            kind: EventKind::Assigned,
                            message: Some(format!("assigned to {}", worker.name)),
                            data: Some(serde_json::json!({ "worker_id": worker.id, "worker": worker.name })),
                        };
                        (c.1, event)
                    })
                    .collect();
                insert_events_of_runs(&mut tx, assigned.iter().map(|(r, e)| (*r, e)), now).await?;
                let mut qb: QueryBuilder<$db> = QueryBuilder::new("UPDATE runs SET status = 'RUNNING' WHERE status = 'QUEUED' AND id IN (");
                let mut list = qb.separated(", ");
                for run_id in chosen.iter().map(|c| c.1).collect::<HashSet<_>>() {
                    list.push_bind(run_id);
                }
                qb.push(")");
                qb.build().execute(&mut *tx).await?;
                let assignments = self.assignments(chosen, now).await?;
                tx.commit().await?;
                Ok(assignments)
            }

            async fn report(&self, task_id: TaskId, attempt: i32, result: AttemptResult, now: Millis) -> Result<(Fence, Change), StoreError> {
                let run_id = self.run_of(task_id).await?;
                self.mutate_run(run_id, now, |p, snap| p.report(snap, task_id, attempt, result.clone())).await
            }

            async fn report_many(&self, reports: &[Report], now: Millis) -> Result<Vec<Result<(Fence, Change), StoreError>>, StoreError> {
                // Which run each task belongs to; unknown tasks answer Stale.
                let mut run_of = std::collections::HashMap::new();
                for chunk in reports.chunks(500) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new("SELECT id, run_id FROM tasks WHERE id IN (");
                    let mut list = qb.separated(", ");
                    for r in chunk {
                        list.push_bind(r.task_id);
                    }
                    qb.push(")");
                    for row in qb.build().fetch_all(self.reader()).await? {
                        run_of.insert(row.try_get::<TaskId, _>("id")?, row.try_get::<RunId, _>("run_id")?);
                    }
                }
                // Runs are locked in id order, so concurrent batches cannot deadlock.
                let mut by_run: BTreeMap<RunId, Vec<usize>> = BTreeMap::new();
                for (i, r) in reports.iter().enumerate() {
                    if let Some(run_id) = run_of.get(&r.task_id) {
                        by_run.entry(*run_id).or_default().push(i);
                    }
                }
                let mut answers: Vec<Result<(Fence, Change), StoreError>> =
                    reports.iter().map(|_| Ok((Fence::Stale, Change::default()))).collect();
                let mut tx = self.writer().begin().await?;
                for (run_id, indexes) in &by_run {
                    let apply = |p: &mut Planner<'_>, snap: &mut RunSnapshot| {
                        indexes
                            .iter()
                            .map(|&i| p.report(snap, reports[i].task_id, reports[i].attempt, reports[i].result.clone()))
                            .collect::<Vec<Fence>>()
                    };
                    match self.mutate_in(&mut tx, *run_id, now, &apply).await {
                        Ok(Some((fences, mut change))) => {
                            for (&i, fence) in indexes.iter().zip(fences) {
                                // The run's change is told once, with its first report.
                                answers[i] = Ok((fence, std::mem::take(&mut change)));
                            }
                        }
                        Ok(None) | Err(_) => {
                            // A concurrent writer interfered, or one run cannot be written:
                            // one report at a time, so only a bad report fails.
                            tx.rollback().await?;
                            let mut answers = Vec::with_capacity(reports.len());
                            for r in reports {
                                answers.push(self.report(r.task_id, r.attempt, r.result.clone(), now).await);
                            }
                            return Ok(answers);
                        }
                    }
                }
                tx.commit().await?;
                Ok(answers)
            }

            async fn refresh_timeout(&self, task_id: TaskId, attempt: i32, by: Millis, now: Millis) -> Result<Fence, StoreError> {
                let run_id = self.run_of(task_id).await?;
                let (fence, _) = self.mutate_run(run_id, now, |p, snap| p.refresh_timeout(snap, task_id, attempt, by)).await?;
                Ok(fence)
            }

            async fn sweep(&self, now: Millis, worker_timeout: Millis) -> Result<Vec<Change>, StoreError> {
                sqlx::query("UPDATE workers SET status = 'LOST' WHERE status = 'ACTIVE' AND last_heartbeat < $1")
                    .bind(now.saturating_sub(worker_timeout))
                    .execute(self.writer())
                    .await?;
                let mut lost = HashSet::new();
                let mut runs = HashSet::new();
                let mut changes = Vec::new();
                let orphaned = sqlx::query(
                    "SELECT t.id, t.run_id, t.attempt, t.worker_id, w.kind FROM tasks t JOIN workers w ON w.id = t.worker_id \
                     WHERE t.status = 'RUNNING' AND w.status <> 'ACTIVE' LIMIT 1000",
                )
                .fetch_all(self.reader())
                .await?;
                for row in &orphaned {
                    let run_id: RunId = row.try_get("run_id")?;
                    if row.try_get::<String, _>("kind")? == "in-process" {
                        // A server replica died: not the task's fault. Hand it back (durable
                        // execution), without using a retry.
                        let (task_id, attempt): (TaskId, i32) = (row.try_get("id")?, row.try_get("attempt")?);
                        let ((), change) = self.mutate_run(run_id, now, |p, snap| p.hand_back(snap, task_id, attempt, "its server replica stopped heart-beating")).await?;
                        changes.push(change);
                    } else {
                        // An agent (its machine) vanished mid-task: the attempt failed.
                        runs.insert(run_id);
                        lost.insert(row.try_get::<WorkerId, _>("worker_id")?);
                    }
                }
                let due: Vec<RunId> = sqlx::query_scalar(
                    "SELECT run_id FROM tasks WHERE status = 'QUEUED' AND schedule_deadline <= $1 \
                     UNION SELECT run_id FROM tasks WHERE status = 'RUNNING' AND deadline <= $1 \
                     UNION SELECT id FROM runs WHERE wake_at <= $1 LIMIT 1000",
                )
                .bind(now)
                .fetch_all(self.reader())
                .await?;
                runs.extend(due);
                changes.extend(self.wake_satisfied(now).await?);
                for run_id in runs {
                    // One run that cannot be reconciled must not hold up the others.
                    match self.reconcile(run_id, now, &lost).await {
                        Ok(change) if !change.is_empty() => changes.push(change),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(run = %run_id, error = %e, "cannot reconcile the run"),
                    }
                }
                Ok(changes)
            }

            async fn append_logs(&self, lines: &[LogLine]) -> Result<(), StoreError> {
                for chunk in lines.chunks(1000) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new("INSERT INTO task_logs (run_id, task_id, attempt, seq, at, line) ");
                    qb.push_values(chunk, |mut b, l| {
                        b.push_bind(l.run_id)
                            .push_bind(l.task_id)
                            .push_bind(l.attempt)
                            .push_bind(l.seq)
                            .push_bind(l.at)
                            .push_bind(l.line.clone());
                    });
                    qb.push(" ON CONFLICT (task_id, attempt, seq) DO NOTHING");
                    qb.build().execute(self.writer()).await?;
                }
                Ok(())
            }

            async fn logs(&self, run_id: RunId, task_id: Option<TaskId>, after: i64, limit: i64) -> Result<Vec<StoredLogLine>, StoreError> {
                let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT l.id, l.run_id, l.task_id, t.name, l.attempt, l.seq, l.at, l.line FROM task_logs l \
                     JOIN tasks t ON t.id = l.task_id WHERE l.run_id = ",
                );
                qb.push_bind(run_id).push(" AND l.id > ").push_bind(after);
                if let Some(task_id) = task_id {
                    qb.push(" AND l.task_id = ").push_bind(task_id);
                }
                qb.push(" ORDER BY l.id LIMIT ").push_bind(limit);
                qb.build()
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(|row| {
                        Ok(StoredLogLine {
                            id: row.try_get("id")?,
                            run_id: row.try_get("run_id")?,
                            task_id: row.try_get("task_id")?,
                            task_name: row.try_get("name")?,
                            attempt: row.try_get("attempt")?,
                            seq: row.try_get("seq")?,
                            at: row.try_get("at")?,
                            line: row.try_get("line")?,
                        })
                    })
                    .collect()
            }

            async fn memo_get(&self, task_id: TaskId, key: &str) -> Result<Option<Value>, StoreError> {
                let value: Option<Json<Value>> = sqlx::query_scalar("SELECT value FROM task_memos WHERE task_id = $1 AND key = $2")
                    .bind(task_id)
                    .bind(key)
                    .fetch_optional(self.reader())
                    .await?;
                Ok(value.map(|j| j.0))
            }

            async fn memo_put(&self, task_id: TaskId, key: &str, value: &Value) -> Result<Value, StoreError> {
                sqlx::query("INSERT INTO task_memos (task_id, key, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                    .bind(task_id)
                    .bind(key)
                    .bind(Json(value))
                    .execute(self.writer())
                    .await?;
                let stored: Json<Value> = sqlx::query_scalar("SELECT value FROM task_memos WHERE task_id = $1 AND key = $2")
                    .bind(task_id)
                    .bind(key)
                    .fetch_one(self.writer())
                    .await?;
                Ok(stored.0)
            }

            async fn append_progress(&self, points: &[ProgressRow]) -> Result<(), StoreError> {
                for chunk in points.chunks(1000) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new("INSERT INTO task_progress (run_id, task_id, attempt, seq, at, \"values\") ");
                    qb.push_values(chunk, |mut b, p| {
                        b.push_bind(p.run_id)
                            .push_bind(p.task_id)
                            .push_bind(p.attempt)
                            .push_bind(p.seq)
                            .push_bind(p.at)
                            .push_bind(Json(p.values.clone()));
                    });
                    qb.push(" ON CONFLICT (task_id, attempt, seq) DO NOTHING");
                    qb.build().execute(self.writer()).await?;
                }
                Ok(())
            }

            async fn progress(&self, run_id: RunId, task_id: Option<TaskId>, after: i64, limit: i64) -> Result<Vec<(i64, ProgressRow)>, StoreError> {
                let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT id, run_id, task_id, attempt, seq, at, \"values\" FROM task_progress WHERE run_id = ",
                );
                qb.push_bind(run_id).push(" AND id > ").push_bind(after);
                if let Some(task_id) = task_id {
                    qb.push(" AND task_id = ").push_bind(task_id);
                }
                qb.push(" ORDER BY id LIMIT ").push_bind(limit);
                qb.build()
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(|row| {
                        Ok((row.try_get("id")?, ProgressRow {
                            run_id: row.try_get("run_id")?,
                            task_id: row.try_get("task_id")?,
                            attempt: row.try_get("attempt")?,
                            seq: row.try_get("seq")?,
                            at: row.try_get("at")?,
                            values: row.try_get::<Json<BTreeMap<String, f64>>, _>("values")?.0,
                        }))
                    })
                    .collect()
            }

            async fn put_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO tokens (id, kind, name, token_hash, scopes, labels, run_id, worker_id, created_at, expires_at, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(t.id)
                .bind(&t.kind)
                .bind(&t.name)
                .bind(&t.token_hash)
                .bind(Json(&t.scopes))
                .bind(Json(&t.labels))
                .bind(t.run_id)
                .bind(t.worker_id)
                .bind(t.created_at)
                .bind(t.expires_at)
                .bind(t.revoked_at)
                .execute(self.writer())
                .await
                .map_err(|e| match e.as_database_error() {
                    Some(d) if d.is_unique_violation() => StoreError::Conflict(format!("a token with id {} or the same secret exists", t.id)),
                    _ => e.into(),
                })?;
                Ok(())
            }

            async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
                sqlx::query(concat!("SELECT ", token_columns!(), " FROM tokens WHERE token_hash = $1"))
                    .bind(hash)
                    .fetch_optional(self.reader())
                    .await?
                    .as_ref()
                    .map(token_from_row)
                    .transpose()
            }

            async fn tokens(&self, kind: &str) -> Result<Vec<TokenRecord>, StoreError> {
                sqlx::query(concat!("SELECT ", token_columns!(), " FROM tokens WHERE kind = $1 ORDER BY created_at DESC, id DESC"))
                    .bind(kind)
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(token_from_row)
                    .collect()
            }

            async fn revoke_token(&self, id: Uuid, now: Millis) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(now)
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn revoke_run_tokens(&self, run_id: RunId, now: Millis) -> Result<u64, StoreError> {
                let done = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE run_id = $2 AND revoked_at IS NULL")
                    .bind(now)
                    .bind(run_id)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected())
            }

            async fn extend_token(&self, id: Uuid, expires_at: Millis) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE tokens SET expires_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(expires_at)
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn acquire_lease(&self, lease: &Lease, limit: Option<LeaseLimit>, now: Millis) -> Result<bool, StoreError> {
                let mut tx = self.writer().begin().await?;
                if !$lock_leases.is_empty() {
                    sqlx::query($lock_leases).execute(&mut *tx).await?;
                }
                let holder: Option<String> = sqlx::query_scalar("SELECT holder FROM leases WHERE kind = $1 AND key = $2")
                    .bind(&lease.kind)
                    .bind(&lease.key)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(holder) = holder {
                    return Ok(holder == lease.holder);
                }
                if let Some(limit) = limit {
                    let (count, amount): (i64, i64) = sqlx::query_as("SELECT COUNT(*), CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM leases WHERE kind = $1")
                        .bind(&lease.kind)
                        .fetch_one(&mut *tx)
                        .await?;
                    if count + 1 > limit.count || amount + lease.amount > limit.amount {
                        return Ok(false);
                    }
                }
                sqlx::query("INSERT INTO leases (kind, key, holder, amount, data, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(&lease.kind)
                    .bind(&lease.key)
                    .bind(&lease.holder)
                    .bind(lease.amount)
                    .bind(lease.data.clone().map(Json))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn update_lease_data(&self, kind: &str, key: &str, data: &Value) -> Result<(), StoreError> {
                sqlx::query("UPDATE leases SET data = $1 WHERE kind = $2 AND key = $3")
                    .bind(Json(data))
                    .bind(kind)
                    .bind(key)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn leases(&self, kind: Option<&str>, holder: Option<&str>) -> Result<Vec<Lease>, StoreError> {
                let mut qb: QueryBuilder<$db> = QueryBuilder::new("SELECT kind, key, holder, amount, data FROM leases WHERE 1 = 1");
                if let Some(kind) = kind {
                    qb.push(" AND kind = ").push_bind(kind.to_string());
                }
                if let Some(holder) = holder {
                    qb.push(" AND holder = ").push_bind(holder.to_string());
                }
                qb.push(" ORDER BY kind, key");
                qb.build()
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(|row| {
                        Ok(Lease {
                            kind: row.try_get("kind")?,
                            key: row.try_get("key")?,
                            holder: row.try_get("holder")?,
                            amount: row.try_get("amount")?,
                            data: row.try_get::<Option<Json<Value>>, _>("data")?.map(|j| j.0),
                        })
                    })
                    .collect()
            }

            async fn release_lease(&self, kind: &str, key: &str) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM leases WHERE kind = $1 AND key = $2")
                    .bind(kind)
                    .bind(key)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn push_event(&self, key: &str, payload: &Value, metadata: &Value, now: Millis) -> Result<(UserEvent, Vec<Change>), StoreError> {
                let id: i64 = sqlx::query_scalar("INSERT INTO user_events (key, payload, metadata, at) VALUES ($1, $2, $3, $4) RETURNING id")
                    .bind(key)
                    .bind(Json(payload))
                    .bind(Json(metadata))
                    .bind(now)
                    .fetch_one(self.writer())
                    .await?;
                let event = UserEvent { id, key: key.to_string(), payload: payload.clone(), metadata: metadata.clone(), at: now };
                // Runs with a task waiting on conditions, whose workflow waits for this key.
                let waiting: Vec<(RunId, String, String)> = sqlx::query_as(
                    "SELECT DISTINCT t.run_id, r.workflow, r.version FROM tasks t JOIN runs r ON r.id = t.run_id \
                     WHERE t.status = 'PENDING' AND t.ready_at IS NOT NULL",
                )
                .fetch_all(self.reader())
                .await?;
                let mut changes = self.satisfy_waits(&event, now).await?;
                for (run_id, workflow, version) in waiting {
                    if self.definition(&workflow, &version).await?.event_keys().contains(key) {
                        let change = self.reconcile(run_id, now, &HashSet::new()).await?;
                        if !change.is_empty() {
                            changes.push(change);
                        }
                    }
                }
                Ok((event, changes))
            }

            async fn put_cron(&self, c: &CronRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO crons (id, name, workflow, version, expression, input, next_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (name) DO UPDATE SET workflow = excluded.workflow, version = excluded.version, \
                     expression = excluded.expression, input = excluded.input, next_at = excluded.next_at",
                )
                .bind(c.id)
                .bind(&c.name)
                .bind(&c.workflow)
                .bind(&c.version)
                .bind(&c.expression)
                .bind(Json(&c.input))
                .bind(c.next_at)
                .bind(c.created_at)
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn crons(&self) -> Result<Vec<CronRecord>, StoreError> {
                sqlx::query("SELECT id, name, workflow, version, expression, input, next_at, created_at FROM crons ORDER BY name")
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(|row| {
                        Ok(CronRecord {
                            id: row.try_get("id")?,
                            name: row.try_get("name")?,
                            workflow: row.try_get("workflow")?,
                            version: row.try_get("version")?,
                            expression: row.try_get("expression")?,
                            input: row.try_get::<Json<Value>, _>("input")?.0,
                            next_at: row.try_get("next_at")?,
                            created_at: row.try_get("created_at")?,
                        })
                    })
                    .collect()
            }

            async fn delete_cron(&self, id: Uuid) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM crons WHERE id = $1").bind(id).execute(self.writer()).await?;
                Ok(done.rows_affected() > 0)
            }

            async fn claim_cron_tick(&self, cron_id: Uuid, tick: Millis, next_at: Millis) -> Result<bool, StoreError> {
                let mut tx = self.writer().begin().await?;
                let claimed = sqlx::query("INSERT INTO cron_firings (cron_id, tick) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(cron_id)
                    .bind(tick)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
                if claimed {
                    sqlx::query("UPDATE crons SET next_at = $1 WHERE id = $2 AND next_at <= $3")
                        .bind(next_at)
                        .bind(cron_id)
                        .bind(tick)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(claimed)
            }

            async fn put_scheduled_run(&self, r: &ScheduledRun) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO scheduled_runs (id, workflow, version, input, at, run_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(r.id)
                    .bind(&r.workflow)
                    .bind(&r.version)
                    .bind(Json(&r.input))
                    .bind(r.at)
                    .bind(r.run_id)
                    .bind(r.created_at)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn scheduled_runs(&self) -> Result<Vec<ScheduledRun>, StoreError> {
                sqlx::query("SELECT id, workflow, version, input, at, run_id, created_at FROM scheduled_runs ORDER BY at, id")
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(|row| {
                        Ok(ScheduledRun {
                            id: row.try_get("id")?,
                            workflow: row.try_get("workflow")?,
                            version: row.try_get("version")?,
                            input: row.try_get::<Json<Value>, _>("input")?.0,
                            at: row.try_get("at")?,
                            run_id: row.try_get("run_id")?,
                            created_at: row.try_get("created_at")?,
                        })
                    })
                    .collect()
            }

            async fn delete_scheduled_run(&self, id: Uuid) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM scheduled_runs WHERE id = $1").bind(id).execute(self.writer()).await?;
                Ok(done.rows_affected() > 0)
            }

            async fn claim_scheduled_run(&self, id: Uuid, run_id: RunId) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE scheduled_runs SET run_id = $1 WHERE id = $2 AND run_id IS NULL")
                    .bind(run_id)
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn admit(&self, now: Millis) -> Result<Admission, StoreError> {
                self.admission_pass(now).await
            }

            async fn put_rate_limit(&self, limit: &RateLimit, now: Millis) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO rate_limits (key, units, window_ms, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (key) DO UPDATE SET units = excluded.units, window_ms = excluded.window_ms, updated_at = excluded.updated_at",
                )
                .bind(&limit.key)
                .bind(limit.limit)
                .bind(limit.duration.as_millis())
                .bind(now)
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn rate_limits(&self) -> Result<Vec<RateLimit>, StoreError> {
                let rows: Vec<(String, i64, i64)> = sqlx::query_as("SELECT key, units, window_ms FROM rate_limits ORDER BY key")
                    .fetch_all(self.reader())
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|(key, limit, window)| RateLimit { key, limit, duration: crate::definition::Dur(std::time::Duration::from_millis(window.max(0) as u64)) })
                    .collect())
            }

            async fn wait_for_event(&self, task_id: TaskId, seq: i32, key: &str, expression: Option<&str>, now: Millis) -> Result<Option<Value>, StoreError> {
                sqlx::query(
                    "INSERT INTO durable_waits (task_id, seq, event_key, expression, since) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(task_id)
                .bind(seq)
                .bind(key)
                .bind(expression)
                .bind(now)
                .execute(self.writer())
                .await?;
                let (key, expression, since, payload): (String, Option<String>, Millis, Option<Json<Value>>) = sqlx::query_as(
                    "SELECT event_key, expression, since, payload FROM durable_waits WHERE task_id = $1 AND seq = $2",
                )
                .bind(task_id)
                .bind(seq)
                .fetch_one(self.writer())
                .await?;
                if let Some(payload) = payload {
                    return Ok(Some(payload.0));
                }
                // An event may have arrived between the wait's registration and now.
                let events: Vec<(i64, Json<Value>)> = sqlx::query_as("SELECT id, payload FROM user_events WHERE key = $1 AND at >= $2 ORDER BY id")
                    .bind(&key)
                    .bind(since)
                    .fetch_all(self.writer())
                    .await?;
                let Some((event_id, payload)) = events.into_iter().find(|(_, p)| crate::store::sql::payload_matches(expression.as_deref(), &p.0)) else {
                    return Ok(None);
                };
                sqlx::query("UPDATE durable_waits SET event_id = $1, payload = $2 WHERE task_id = $3 AND seq = $4 AND event_id IS NULL")
                    .bind(event_id)
                    .bind(&payload)
                    .bind(task_id)
                    .bind(seq)
                    .execute(self.writer())
                    .await?;
                Ok(Some(payload.0))
            }

            async fn replay(&self, run_id: RunId, tasks: &[String], now: Millis) -> Result<Vec<Change>, StoreError> {
                self.replay_run(run_id, tasks, now).await
            }
        }
    }
    };
}
