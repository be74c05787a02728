//! The run facet: creating runs, reconciling them on the clock and on reports, cancels,
//! events, admission, durable waits and replay. Every change goes through the planner
//! under the run's lock (`mutate_run`).

macro_rules! sql_runs {
    ($store:ident, $db:ty) => {
        #[async_trait]
        impl RunStore for $store {
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
                let run_ids: Vec<RunId> = by_run.keys().copied().collect();
                let apply = |run_id: RunId, p: &mut Planner<'_>, snap: &mut RunSnapshot| {
                    by_run[&run_id]
                        .iter()
                        .map(|&i| p.report(snap, reports[i].task_id, reports[i].attempt, reports[i].result.clone()))
                        .collect::<Vec<Fence>>()
                };
                let mut tx = self.writer().begin().await?;
                match self.mutate_many(&mut tx, &run_ids, now, &apply).await {
                    Ok(Some(done)) => {
                        for (indexes, (fences, mut change)) in by_run.values().zip(done) {
                            for (&i, fence) in indexes.iter().zip(fences) {
                                // The run's change is told once, with its first report.
                                answers[i] = Ok((fence, std::mem::take(&mut change)));
                            }
                        }
                    }
                    outcome => {
                        // A concurrent writer interfered, or one run cannot be written: one
                        // report at a time, so only a bad report fails.
                        if let Err(e) = outcome {
                            tracing::warn!(error = %e, reports = reports.len(), "cannot write the batch of reports together; writing them one by one");
                        }
                        tx.rollback().await?;
                        let mut answers = Vec::with_capacity(reports.len());
                        for r in reports {
                            answers.push(self.report(r.task_id, r.attempt, r.result.clone(), now).await);
                        }
                        return Ok(answers);
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

            async fn admit(&self, now: Millis) -> Result<Admission, StoreError> {
                self.admission_pass(now).await
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
    };
}
