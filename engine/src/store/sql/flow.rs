//! Flow control and durable execution, the helpers of the run facet: the concurrency
//! admission pass, handlers' durable event waits, and replay's scope. Expanded inside
//! `sql_store!`, so it uses that module's helpers.

macro_rules! sql_flow {
    ($store:ident, $db:ty) => {
        impl $store {
            /// See [`Store::admit`].
            async fn admission_pass(&self, now: Millis) -> Result<Admission, StoreError> {
                use crate::concurrency::{decide, Contender};
                // Most passes find nobody waiting: answer those without taking the lock.
                let waiting: Option<i32> = sqlx::query_scalar(
                    "SELECT 1 FROM runs WHERE concurrency_key IS NOT NULL AND waiting_for_slot AND status IN ('QUEUED', 'RUNNING') \
                     UNION ALL SELECT 1 FROM tasks WHERE concurrency_key IS NOT NULL AND waiting_for_slot AND status IN ('QUEUED', 'RUNNING') LIMIT 1",
                )
                .fetch_optional(self.reader())
                .await?;
                let mut admission = Admission::default();
                if waiting.is_none() {
                    return Ok(admission);
                }
                let mut tx = self.writer().begin().await?;
                if !<$store as Dialect>::LOCK_ADMISSION.is_empty() {
                    sqlx::query(<$store as Dialect>::LOCK_ADMISSION).execute(&mut *tx).await?;
                }

                // Runs under their workflow's rule, grouped by workflow.
                let rows = sqlx::query(
                    "SELECT id, workflow, version, concurrency_key, waiting_for_slot, cancel_requested, created_at FROM runs \
                     WHERE concurrency_key IS NOT NULL AND status IN ('QUEUED', 'RUNNING')",
                )
                .fetch_all(&mut *tx)
                .await?;
                let mut by_workflow: BTreeMap<String, (Arc<WorkflowDef>, Vec<Contender>)> = BTreeMap::new();
                for row in &rows {
                    let workflow: String = row.try_get("workflow")?;
                    let def = self.definition(&workflow, &row.try_get::<String, _>("version")?).await?;
                    by_workflow.entry(workflow).or_insert_with(|| (def, Vec::new())).1.push(Contender {
                        id: row.try_get("id")?,
                        key: row.try_get("concurrency_key")?,
                        waiting: row.try_get("waiting_for_slot")?,
                        cancel_requested: row.try_get("cancel_requested")?,
                        since: row.try_get("created_at")?,
                    });
                }
                for (def, contenders) in by_workflow.values() {
                    let Some(rule) = &def.concurrency else { continue };
                    let decision = decide(rule, contenders);
                    for run_id in decision.admit {
                        let admit = |p: &mut Planner<'_>, snap: &mut RunSnapshot| {
                            if snap.run.waiting_for_slot {
                                snap.run.waiting_for_slot = false;
                                let key = snap.run.concurrency_key.clone().unwrap_or_default();
                                p.events.push(NewEvent::run(EventKind::Admitted, format!("concurrency key '{key}'")));
                                p.reconcile(snap, &HashSet::new());
                            }
                        };
                        let Some(((), change)) = self.mutate_in(&mut tx, run_id, now, &admit).await? else {
                            tx.rollback().await?;
                            return Err(StoreError::Conflict("runs changed during the admission pass".into()));
                        };
                        admission.changes.push(change);
                    }
                    admission.cancel_runs.extend(decision.cancel);
                }

                // Tasks under their task's rule, grouped by workflow and task name.
                let rows = sqlx::query(
                    "SELECT t.id, t.run_id, t.name, t.concurrency_key, t.waiting_for_slot, t.cancel_requested, t.queued_at, r.workflow, r.version \
                     FROM tasks t JOIN runs r ON r.id = t.run_id WHERE t.concurrency_key IS NOT NULL AND t.status IN ('QUEUED', 'RUNNING')",
                )
                .fetch_all(&mut *tx)
                .await?;
                let mut by_task: BTreeMap<(String, String), (Arc<WorkflowDef>, Vec<Contender>)> = BTreeMap::new();
                let mut run_of: HashMap<TaskId, RunId> = HashMap::new();
                for row in &rows {
                    let (workflow, name): (String, String) = (row.try_get("workflow")?, row.try_get("name")?);
                    let def = self.definition(&workflow, &row.try_get::<String, _>("version")?).await?;
                    let id: TaskId = row.try_get("id")?;
                    run_of.insert(id, row.try_get("run_id")?);
                    by_task.entry((workflow, name)).or_insert_with(|| (def, Vec::new())).1.push(Contender {
                        id,
                        key: row.try_get("concurrency_key")?,
                        waiting: row.try_get("waiting_for_slot")?,
                        cancel_requested: row.try_get("cancel_requested")?,
                        since: row.try_get::<Option<Millis>, _>("queued_at")?.unwrap_or_default(),
                    });
                }
                for ((_, name), (def, contenders)) in &by_task {
                    let Some(rule) = def.find(name).and_then(|t| t.concurrency.first()) else { continue };
                    let decision = decide(rule, contenders);
                    for task_id in decision.admit {
                        let admit = |p: &mut Planner<'_>, snap: &mut RunSnapshot| {
                            if let Some(task) = snap.tasks.iter_mut().find(|t| t.id == task_id && t.waiting_for_slot) {
                                task.waiting_for_slot = false;
                                let timeout = p.def.find(&task.name).map_or(0, |d| d.schedule_timeout.as_millis());
                                task.schedule_deadline = Some(p.now.saturating_add(timeout));
                                let key = task.concurrency_key.clone().unwrap_or_default();
                                p.events.push(NewEvent::task(task, EventKind::Admitted, format!("concurrency key '{key}'")));
                            }
                        };
                        let Some(((), mut change)) = self.mutate_in(&mut tx, run_of[&task_id], now, &admit).await? else {
                            tx.rollback().await?;
                            return Err(StoreError::Conflict("tasks changed during the admission pass".into()));
                        };
                        change.queued = true;
                        change.tasks.push((task_id, name.clone(), TaskStatus::Queued));
                        admission.changes.push(change);
                    }
                    admission.cancel_tasks.extend(decision.cancel);
                }
                tx.commit().await?;
                Ok(admission)
            }

            /// Satisfy the durable waits for this event, and wake their parked tasks.
            async fn satisfy_waits(&self, event: &UserEvent, now: Millis) -> Result<Vec<Change>, StoreError> {
                let pending: Vec<(TaskId, i32, Option<String>)> = sqlx::query_as(
                    "SELECT task_id, seq, expression FROM durable_waits WHERE event_key = $1 AND event_id IS NULL AND since <= $2",
                )
                .bind(&event.key)
                .bind(event.at)
                .fetch_all(self.reader())
                .await?;
                let mut woken = Vec::new();
                for (task_id, seq, expression) in pending {
                    if !crate::store::sql::payload_matches(expression.as_deref(), &event.payload) {
                        continue;
                    }
                    let done = sqlx::query("UPDATE durable_waits SET event_id = $1, payload = $2 WHERE task_id = $3 AND seq = $4 AND event_id IS NULL")
                        .bind(event.id)
                        .bind(Json(&event.payload))
                        .bind(task_id)
                        .bind(seq)
                        .execute(self.writer())
                        .await?;
                    if done.rows_affected() == 1 {
                        woken.push(task_id);
                    }
                }
                self.wake_parked(&woken, now).await
            }

            /// Parked tasks whose wait is satisfied but which were still running when the
            /// event came (the sweeper's safety net for that race).
            async fn wake_satisfied(&self, now: Millis) -> Result<Vec<Change>, StoreError> {
                let ready: Vec<TaskId> = sqlx::query_scalar(
                    "SELECT DISTINCT w.task_id FROM durable_waits w JOIN tasks t ON t.id = w.task_id \
                     WHERE w.event_id IS NOT NULL AND t.status = 'QUEUED' AND t.not_before > $1 LIMIT 1000",
                )
                .bind(now)
                .fetch_all(self.reader())
                .await?;
                self.wake_parked(&ready, now).await
            }

            async fn wake_parked(&self, tasks: &[TaskId], now: Millis) -> Result<Vec<Change>, StoreError> {
                let mut changes = Vec::new();
                for &task_id in tasks {
                    let run_id = self.run_of(task_id).await?;
                    let wake = |p: &mut Planner<'_>, snap: &mut RunSnapshot| p.wake(snap, task_id);
                    let ((), mut change) = self.mutate_run(run_id, now, wake).await?;
                    change.queued = true;
                    changes.push(change);
                }
                Ok(changes)
            }

            /// See [`Store::replay`].
            async fn replay_run(&self, run_id: RunId, tasks: &[String], now: Millis) -> Result<Vec<Change>, StoreError> {
                // Check the whole tree before changing anything: a replay is all or nothing.
                let mut pending = vec![(run_id, tasks.to_vec())];
                let mut plan = Vec::new();
                while let Some((id, tasks)) = pending.pop() {
                    let (names, replayed) = self.replay_scope(id, &tasks).await?;
                    for task in &replayed {
                        for child in self.child_runs(id, Some(task.id)).await? {
                            pending.push((child.id, Vec::new()));
                        }
                    }
                    plan.push((id, names, replayed));
                }
                // Children first, whole: the replayed parent task finds them by key, running.
                let mut changes = Vec::new();
                for (id, names, replayed) in plan.into_iter().rev() {
                    for task in &replayed {
                        // The task's recorded results and waits belong to the run being redone.
                        sqlx::query("DELETE FROM task_memos WHERE task_id = $1").bind(task.id).execute(self.writer()).await?;
                        sqlx::query("DELETE FROM durable_waits WHERE task_id = $1").bind(task.id).execute(self.writer()).await?;
                    }
                    let replay = |p: &mut Planner<'_>, snap: &mut RunSnapshot| {
                        if snap.run.status.is_terminal() {
                            p.replay(snap, &names);
                        }
                    };
                    let ((), change) = self.mutate_run(id, now, replay).await?;
                    changes.push(change);
                }
                Ok(changes)
            }

            /// What replaying `tasks` of a run covers (none named: every task), and its
            /// tasks concerned; refused unless the run has ended.
            async fn replay_scope(&self, run_id: RunId, tasks: &[String]) -> Result<(HashSet<String>, Vec<TaskState>), StoreError> {
                let run = self.run(run_id).await?.ok_or_else(|| StoreError::NotFound(format!("run {run_id}")))?;
                if !run.status.is_terminal() {
                    return Err(StoreError::Conflict(format!(
                        "run {run_id} is {}: only an ended run (and ended child runs) can be replayed",
                        run.status
                    )));
                }
                let def = self.definition(&run.workflow, &run.version).await?;
                if let Some(unknown) = tasks.iter().find(|t| def.tasks.iter().all(|d| &d.name != *t)) {
                    return Err(StoreError::Invalid(format!(
                        "workflow '{}' has no task '{unknown}' to replay (tasks: {})",
                        def.name,
                        def.tasks.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
                    )));
                }
                let names: HashSet<String> = if tasks.is_empty() {
                    def.tasks.iter().map(|t| t.name.clone()).collect()
                } else {
                    def.with_descendants(tasks)
                };
                let replayed = self.tasks(run_id).await?.into_iter().filter(|t| names.contains(&t.name) || t.is_on_failure).collect();
                Ok((names, replayed))
            }
        }
    };
}
