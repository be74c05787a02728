//! The read facet: runs, tasks, timelines, workers, logs, progress and rate limits.

macro_rules! sql_reads {
    ($store:ident, $db:ty) => {
        #[async_trait]
        impl ReadStore for $store {
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

            async fn workflows(&self) -> Result<Vec<(String, String, Millis)>, StoreError> {
                Ok(sqlx::query_as("SELECT name, version, created_at FROM workflows ORDER BY name, created_at")
                    .fetch_all(self.reader())
                    .await?)
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

            async fn run_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
                Ok(sqlx::query_as("SELECT workflow, status, COUNT(*) FROM runs GROUP BY workflow, status ORDER BY workflow, status")
                    .fetch_all(self.reader())
                    .await?)
            }

            async fn queues(&self, now: Millis) -> Result<Vec<(String, i64, Option<Millis>)>, StoreError> {
                // Claimable ones: not in a back-off, a durable wait, or short of a slot.
                Ok(sqlx::query_as(
                    "SELECT action, COUNT(*), MIN(CASE WHEN not_before > queued_at THEN not_before ELSE queued_at END) FROM tasks \
                     WHERE status = 'QUEUED' AND (not_before IS NULL OR not_before <= $1) AND waiting_for_slot = $2 \
                     GROUP BY action ORDER BY action",
                )
                .bind(now)
                .bind(false)
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

            async fn rate_limits(&self) -> Result<Vec<RateLimit>, StoreError> {
                let rows: Vec<(String, i64, i64)> = sqlx::query_as("SELECT key, units, window_ms FROM rate_limits ORDER BY key")
                    .fetch_all(self.reader())
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|(key, limit, window)| RateLimit { key, limit, duration: crate::definition::Dur(std::time::Duration::from_millis(window.max(0) as u64)) })
                    .collect())
            }
        }
    };
}
