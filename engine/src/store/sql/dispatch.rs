//! The dispatch facet: workers register and heart-beat; a claim takes the QUEUED tasks a
//! worker can run (its actions, its labels, its run), skipping rows other claims hold, and
//! takes their rate-limit units in the same transaction.

macro_rules! sql_dispatch {
    ($store:ident, $db:ty) => {
        #[async_trait]
        impl DispatchStore for $store {
            async fn register_worker(&self, worker: &WorkerInfo, now: Millis) -> Result<(), StoreError> {
                // A worker declared lost that comes back has dropped its attempts: whatever is
                // still RUNNING under its id is reassigned before it becomes ACTIVE again.
                let previous: Option<String> = sqlx::query_scalar("SELECT status FROM workers WHERE id = $1")
                    .bind(worker.id)
                    .fetch_optional(self.reader())
                    .await?;
                if previous.is_some_and(|s| s != WorkerStatus::Active.as_str()) {
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

            async fn claim(&self, worker: &WorkerInfo, capacity: u32, now: Millis) -> Result<Vec<Assignment>, StoreError> {
                if capacity == 0 || worker.actions.is_empty() {
                    return Ok(Vec::new());
                }
                // 1. Candidates, without locks: required labels are checked in Rust, and a
                //    worker must not hold rows it cannot take (others would skip them). Page on
                //    while the queue's head is tasks for other workers.
                // Some spare: another worker may lock a few of them first.
                let window = i64::from(capacity).saturating_mul(2).clamp(64, 1000);
                // Past tasks for other workers (labels), up to 2,048 rows of the queue's head.
                let pages = (2048 / window).max(1);
                let mut candidates = Vec::new();
                let mut queued_at: HashMap<TaskId, Millis> = HashMap::new();
                // Pages go on from the last row seen (not by OFFSET), so each stays an
                // ordered index scan of the queue's head.
                let mut after: Option<(Millis, TaskId)> = None;
                for _page in 0..pages {
                    // The page is cut before the join with runs: whatever plan the queue's
                    // statistics lead to, only the page's rows are joined.
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                        "SELECT c.id, c.run_id, c.name, c.attempt, c.queued_at, c.not_before, r.workflow, r.version FROM (\
                         SELECT t.id, t.run_id, t.name, t.attempt, t.queued_at, t.not_before FROM tasks t \
                         WHERE t.status = 'QUEUED' AND NOT t.waiting_for_slot AND t.not_before <= ",
                    );
                    qb.push_bind(now).push(" AND t.schedule_deadline > ").push_bind(now);
                    if let Some((not_before, id)) = after {
                        qb.push(" AND (t.not_before, t.id) > (").push_bind(not_before).push(", ").push_bind(id).push(")");
                    }
                    match worker.run_scope {
                        Some(run_id) => {
                            qb.push(" AND t.run_id = ").push_bind(run_id);
                        }
                        // A run with machines of its own (an enrollment bound to it) is
                        // theirs alone.
                        None if worker.is_agent() => {
                            qb.push(" AND NOT EXISTS (SELECT 1 FROM tokens k WHERE k.run_id = t.run_id AND k.kind = 'enrollment')");
                        }
                        None => {}
                    }
                    qb.push(" AND t.action IN (");
                    let mut list = qb.separated(", ");
                    for action in &worker.actions {
                        list.push_bind(action.clone());
                    }
                    qb.push(") ORDER BY t.not_before, t.id LIMIT ")
                        .push_bind(window)
                        .push(") c JOIN runs r ON r.id = c.run_id ORDER BY c.not_before, c.id");
                    let rows = qb.build().fetch_all(self.reader()).await?;
                    for row in &rows {
                        after = Some((row.try_get::<Option<Millis>, _>("not_before")?.unwrap_or_default(), row.try_get("id")?));
                        let name: String = row.try_get("name")?;
                        let def = self.definition(&row.try_get::<String, _>("workflow")?, &row.try_get::<String, _>("version")?).await?;
                        if def.find(&name).is_some_and(|t| t.required_labels_met(&worker.labels)) {
                            queued_at.insert(row.try_get::<TaskId, _>("id")?, row.try_get::<Option<Millis>, _>("queued_at")?.unwrap_or(now));
                            candidates.push(Candidate {
                                task_id: row.try_get("id")?,
                                run_id: row.try_get("run_id")?,
                                name,
                                attempt: row.try_get("attempt")?,
                                def,
                            });
                        }
                    }
                    if candidates.len() >= capacity as usize * 2 || (rows.len() as i64) < window {
                        break;
                    }
                }
                // Weighted label preferences: pass a task over for a moment while a live worker
                // that matches it better has a free slot.
                let prefers = |c: &Candidate| c.def.find(&c.name).filter(|t| t.has_preferences()).cloned();
                if candidates.iter().any(|c| prefers(c).is_some()) {
                    let others: Vec<WorkerRecord> = self
                        .worker_records(None)
                        .await?
                        .into_iter()
                        .filter(|w| w.status == WorkerStatus::Active && w.info.id != worker.id && w.running.len() < w.info.slots as usize)
                        .collect();
                    candidates.retain(|c| {
                        let Some(task) = prefers(c) else { return true };
                        if queued_at.get(&c.task_id).is_none_or(|at| at + PREFERENCE_WAIT <= now) {
                            return true;
                        }
                        let mine = task.preference_score(&worker.labels);
                        !others.iter().any(|w| {
                            w.info.can_take(&task.action, c.run_id)
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
                    "SELECT t.id, t.run_id, r.input FROM tasks t JOIN runs r ON r.id = t.run_id WHERE t.status = 'QUEUED' AND t.id IN (",
                );
                let mut list = qb.separated(", ");
                for c in &candidates {
                    list.push_bind(c.task_id);
                }
                qb.push(") ORDER BY t.not_before, t.id LIMIT ")
                    .push_bind(i64::from(capacity))
                    .push(<$store as Dialect>::SKIP_LOCKED);
                // The runs' inputs come with the locks: the assignments need them.
                let mut inputs: HashMap<RunId, Value> = HashMap::new();
                let mut locked: HashSet<TaskId> = HashSet::new();
                for row in qb.build().fetch_all(&mut *tx).await? {
                    locked.insert(row.try_get("id")?);
                    inputs.insert(row.try_get("run_id")?, row.try_get::<Json<Value>, _>("input")?.0);
                }
                let chosen: Vec<_> = candidates.into_iter().filter(|c| locked.contains(&c.task_id)).collect();
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
                    list.push_bind(c.task_id);
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
                            task_id: Some(c.task_id),
                            task_name: Some(c.name.clone()),
                            attempt: Some(c.attempt),
                            kind: EventKind::Assigned,
                            message: Some(format!("assigned to {}", worker.name)),
                            data: Some(serde_json::json!({ "worker_id": worker.id, "worker": worker.name })),
                        };
                        (c.run_id, event)
                    })
                    .collect();
                insert_events_of_runs(&mut tx, assigned.iter().map(|(r, e)| (*r, e)), now).await?;
                let mut qb: QueryBuilder<$db> = QueryBuilder::new("UPDATE runs SET status = 'RUNNING' WHERE status = 'QUEUED' AND id IN (");
                let mut list = qb.separated(", ");
                for run_id in chosen.iter().map(|c| c.run_id).collect::<HashSet<_>>() {
                    list.push_bind(run_id);
                }
                qb.push(")");
                qb.build().execute(&mut *tx).await?;
                let assignments = self.assignments(chosen, &inputs, now).await?;
                tx.commit().await?;
                Ok(assignments)
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
        }

        impl $store {
            /// Take the claimed tasks' rate-limit units, in claim order. A task whose limits
            /// have no room stays QUEUED until the earliest moment they may (REQUEUED).
            async fn take_rate_limits(&self, tx: &mut Tx<'_>, claimed: Vec<Candidate>, now: Millis) -> Result<Vec<Candidate>, StoreError> {
                let wants = |c: &Candidate| c.def.find(&c.name).map(|t| t.rate_limits.clone()).unwrap_or_default();
                let keys: BTreeSet<String> = claimed.iter().flat_map(|c| wants(c).into_iter().map(|l| l.key)).collect();
                if keys.is_empty() {
                    return Ok(claimed);
                }
                // Lock the limits (in key order, so claims never deadlock on them), then read
                // each one's sliding window.
                let mut qb: QueryBuilder<$db> = QueryBuilder::new("SELECT key, units, window_ms FROM rate_limits WHERE key IN (");
                let mut list = qb.separated(", ");
                for key in &keys {
                    list.push_bind(key.clone());
                }
                qb.push(") ORDER BY key").push(<$store as Dialect>::FOR_UPDATE);
                let mut limits: HashMap<String, (i64, i64, Vec<(Millis, i64)>)> = HashMap::new();
                for row in qb.build().fetch_all(&mut **tx).await? {
                    let (key, units, window): (String, i64, i64) = (row.try_get("key")?, row.try_get("units")?, row.try_get("window_ms")?);
                    let used: Vec<(Millis, i64)> = sqlx::query_as("SELECT at, units FROM rate_limit_usage WHERE key = $1 AND at > $2 ORDER BY at")
                        .bind(&key)
                        .bind(now - window)
                        .fetch_all(&mut **tx)
                        .await?;
                    limits.insert(key, (units, window, used));
                }
                let mut granted = Vec::with_capacity(claimed.len());
                let mut usage: Vec<(String, TaskId, i64)> = Vec::new();
                let mut requeued: Vec<(RunId, NewEvent, TaskId, Millis)> = Vec::new();
                for c in claimed {
                    let mut wait_until: Option<(Millis, String)> = None;
                    for want in wants(&c) {
                        let units = i64::from(want.units);
                        let Some((limit, window, used)) = limits.get(&want.key) else {
                            wait_until = Some((now + 5_000, format!("rate limit '{}' is not defined", want.key)));
                            break;
                        };
                        if units > *limit {
                            wait_until = Some((now + *window, format!("needs {units} units of rate limit '{}', which allows {limit}", want.key)));
                            break;
                        }
                        let in_use: i64 = used.iter().map(|u| u.1).sum();
                        if in_use + units > *limit {
                            // Room comes when enough of the oldest uses leave the window.
                            let mut freed = in_use;
                            let mut at = now;
                            for &(t, u) in used {
                                freed -= u;
                                at = t + window;
                                if freed + units <= *limit {
                                    break;
                                }
                            }
                            let later = wait_until.as_ref().is_none_or(|(w, _)| at > *w);
                            if later {
                                wait_until = Some((at, format!("rate limit '{}' is used up ({limit} per {})", want.key, crate::definition::Dur(std::time::Duration::from_millis(*window as u64)))));
                            }
                        }
                    }
                    match wait_until {
                        None => {
                            for want in wants(&c) {
                                if let Some(l) = limits.get_mut(&want.key) {
                                    l.2.push((now, i64::from(want.units)));
                                }
                                usage.push((want.key, c.task_id, i64::from(want.units)));
                            }
                            granted.push(c);
                        }
                        Some((at, why)) => {
                            let event = NewEvent {
                                task_id: Some(c.task_id),
                                task_name: Some(c.name.clone()),
                                attempt: Some(c.attempt),
                                kind: EventKind::Requeued,
                                message: Some(why),
                                data: Some(serde_json::json!({ "not_before": at })),
                            };
                            requeued.push((c.run_id, event, c.task_id, at));
                        }
                    }
                }
                for (_, _, task_id, at) in &requeued {
                    sqlx::query("UPDATE tasks SET not_before = $1 WHERE id = $2 AND status = 'QUEUED'")
                        .bind(*at)
                        .bind(*task_id)
                        .execute(&mut **tx)
                        .await?;
                }
                insert_events_of_runs(tx, requeued.iter().map(|(run, e, _, _)| (*run, e)), now).await?;
                for (key, task_id, units) in &usage {
                    sqlx::query("INSERT INTO rate_limit_usage (key, task_id, units, at) VALUES ($1, $2, $3, $4)")
                        .bind(key)
                        .bind(*task_id)
                        .bind(*units)
                        .bind(now)
                        .execute(&mut **tx)
                        .await?;
                }
                for (key, (_, window, _)) in &limits {
                    sqlx::query("DELETE FROM rate_limit_usage WHERE key = $1 AND at <= $2")
                        .bind(key)
                        .bind(now - window)
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(granted)
            }
        }
    };
}
