//! Writing what the planner changed. Every row is guarded by the status it was read with,
//! so a concurrent writer's change is noticed: nothing is written and the caller reads
//! again. One run or a batch of runs (reports arriving together) is read with one
//! statement per table and written with one per table.

macro_rules! sql_changes {
    ($store:ident, $db:ty) => {
        /// What a plan changed, as it is published: tasks and attempts, and the run's status.
        fn change_of(
            before: &RunSnapshot,
            after: &RunSnapshot,
            events: &[NewEvent],
            stops: &[(TaskId, i32, Option<WorkerId>)],
            now: Millis,
        ) -> Change {
            let mut change = Change { run_id: Some(after.run.id), stop: stops.to_vec(), ..Change::default() };
            for (old, new) in before.tasks.iter().zip(&after.tasks) {
                if old == new {
                    continue;
                }
                change.ended.extend(AttemptEnded::between(old, new, events, now));
                if old.status != new.status || old.attempt != new.attempt {
                    change.tasks.push((new.id, new.name.clone(), new.status));
                    change.queued |= new.status == TaskStatus::Queued;
                    change.concurrency |= new.concurrency_key.is_some();
                }
            }
            if before.run.status != after.run.status {
                change.run_status = Some(after.run.status);
                change.run_ended = RunEnded::between(&before.run, &after.run, now);
                change.concurrency |= after.run.concurrency_key.is_some();
            }
            change
        }

        /// One run's plan, waiting to be written with the others of its batch.
        struct Plan {
            before: RunSnapshot,
            after: RunSnapshot,
            events: Vec<NewEvent>,
            stops: Vec<(TaskId, i32, Option<WorkerId>)>,
        }

        /// Write a batch of plans: one UPDATE of their tasks, one of their runs, one INSERT of
        /// their events (per chunk). `false` when some row changed since it was read: the
        /// transaction must then be rolled back.
        async fn write_plans(tx: &mut Tx<'_>, plans: &[Plan], now: Millis) -> Result<bool, StoreError> {
            let tasks: Vec<(&TaskState, &TaskState)> = plans
                .iter()
                .flat_map(|p| p.before.tasks.iter().zip(&p.after.tasks))
                .filter(|(old, new)| old != new)
                .collect();
            for chunk in tasks.chunks(1000) {
                let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                    "WITH v (id, old_status, old_attempt, status, attempt, retry_count, ready_at, queued_at, not_before, \
                     schedule_deadline, started_at, deadline, finished_at, worker_id, output, error, cancel_requested, \
                     concurrency_key, waiting_for_slot) AS (",
                );
                qb.push_values(chunk, |mut b, (old, new)| {
                    b.push_bind(old.id)
                        .push_bind(old.status.as_str())
                        .push_bind(old.attempt)
                        .push_bind(new.status.as_str())
                        .push_bind(new.attempt)
                        .push_bind(new.retry_count)
                        .push_bind(new.ready_at)
                        .push_bind(new.queued_at)
                        .push_bind(new.not_before)
                        .push_bind(new.schedule_deadline)
                        .push_bind(new.started_at)
                        .push_bind(new.deadline)
                        .push_bind(new.finished_at)
                        .push_bind(new.worker_id)
                        .push_bind(new.output.clone().map(Json))
                        .push_bind(new.error.clone())
                        .push_bind(new.cancel_requested)
                        .push_bind(new.concurrency_key.clone())
                        .push_bind(new.waiting_for_slot);
                });
                qb.push(
                    ") UPDATE tasks SET status = v.status, attempt = v.attempt, retry_count = v.retry_count, ready_at = v.ready_at, \
                     queued_at = v.queued_at, not_before = v.not_before, schedule_deadline = v.schedule_deadline, \
                     started_at = v.started_at, deadline = v.deadline, finished_at = v.finished_at, worker_id = v.worker_id, \
                     output = v.output, error = v.error, cancel_requested = v.cancel_requested, \
                     concurrency_key = v.concurrency_key, waiting_for_slot = v.waiting_for_slot \
                     FROM v WHERE tasks.id = v.id AND tasks.status = v.old_status AND tasks.attempt = v.old_attempt",
                );
                if qb.build().execute(&mut **tx).await?.rows_affected() != chunk.len() as u64 {
                    return Ok(false);
                }
            }
            let runs: Vec<(&RunState, &RunState)> =
                plans.iter().map(|p| (&p.before.run, &p.after.run)).filter(|(old, new)| old != new).collect();
            for chunk in runs.chunks(1000) {
                let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                    "WITH v (id, old_status, status, output, error, cancel_requested, wake_at, finished_at, waiting_for_slot) AS (",
                );
                qb.push_values(chunk, |mut b, (old, new)| {
                    b.push_bind(old.id)
                        .push_bind(old.status.as_str())
                        .push_bind(new.status.as_str())
                        .push_bind(new.output.clone().map(Json))
                        .push_bind(new.error.clone())
                        .push_bind(new.cancel_requested)
                        .push_bind(new.wake_at)
                        .push_bind(new.finished_at)
                        .push_bind(new.waiting_for_slot);
                });
                qb.push(
                    ") UPDATE runs SET status = v.status, output = v.output, error = v.error, cancel_requested = v.cancel_requested, \
                     wake_at = v.wake_at, finished_at = v.finished_at, waiting_for_slot = v.waiting_for_slot \
                     FROM v WHERE runs.id = v.id AND runs.status = v.old_status",
                );
                if qb.build().execute(&mut **tx).await?.rows_affected() != chunk.len() as u64 {
                    return Ok(false);
                }
            }
            let mut events: Vec<(RunId, &NewEvent)> = Vec::new();
            for p in plans {
                events.extend(p.events.iter().map(|e| (p.after.run.id, e)));
            }
            insert_events_of_runs(tx, events.into_iter(), now).await?;
            Ok(true)
        }

        impl $store {
            /// Let `change` act on each run of `run_ids` inside `tx`: the runs are locked (in
            /// id order) and read together, and their changes written together. `None` when a concurrent writer changed a row in between (roll
            /// back; the caller goes one run at a time).
            async fn mutate_many<R: Send>(
                &self,
                tx: &mut Tx<'_>,
                run_ids: &[RunId],
                now: Millis,
                change: &(impl Fn(RunId, &mut Planner<'_>, &mut RunSnapshot) -> R + Send + Sync),
            ) -> Result<Option<Vec<(R, Change)>>, StoreError> {
                let mut runs: HashMap<RunId, RunState> = HashMap::with_capacity(run_ids.len());
                let mut tasks: HashMap<RunId, Vec<TaskState>> = HashMap::with_capacity(run_ids.len());
                for ids in run_ids.chunks(500) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(concat!("SELECT ", run_columns!(), " FROM runs WHERE id IN ("));
                    let mut list = qb.separated(", ");
                    for id in ids {
                        list.push_bind(*id);
                    }
                    qb.push(") ORDER BY id").push(<$store as Dialect>::FOR_UPDATE);
                    for row in qb.build().fetch_all(&mut **tx).await? {
                        let run = run_from_row(&row)?;
                        runs.insert(run.id, run);
                    }
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(concat!("SELECT ", task_columns!(), " FROM tasks WHERE run_id IN ("));
                    let mut list = qb.separated(", ");
                    for id in ids {
                        list.push_bind(*id);
                    }
                    qb.push(") ORDER BY run_id, id");
                    for row in qb.build().fetch_all(&mut **tx).await? {
                        let task = task_from_row(&row)?;
                        tasks.entry(task.run_id).or_default().push(task);
                    }
                }
                let mut answers = Vec::with_capacity(run_ids.len());
                let mut plans = Vec::with_capacity(run_ids.len());
                // Which plan each answer's change comes from (none: nothing changed).
                let mut planned: Vec<Option<usize>> = Vec::with_capacity(run_ids.len());
                for &run_id in run_ids {
                    let run = runs.remove(&run_id).ok_or_else(|| StoreError::NotFound(format!("run {run_id}")))?;
                    let def = self.definition(&run.workflow, &run.version).await?;
                    let events = user_events_for(tx, &run, &def).await?;
                    let before = RunSnapshot { run, tasks: tasks.remove(&run_id).unwrap_or_default(), events };
                    let mut after = before.clone();
                    let mut planner = Planner::new(&def, now);
                    let out = change(run_id, &mut planner, &mut after);
                    answers.push((out, Change::default()));
                    if after == before {
                        planned.push(None);
                    } else {
                        planned.push(Some(plans.len()));
                        plans.push(Plan { before, after, events: planner.events, stops: planner.stops });
                    }
                }
                if !write_plans(tx, &plans, now).await? {
                    return Ok(None);
                }
                for ((_, change), plan) in answers.iter_mut().zip(planned) {
                    if let Some(p) = plan.map(|i| &plans[i]) {
                        *change = change_of(&p.before, &p.after, &p.events, &p.stops, now);
                    }
                }
                Ok(Some(answers))
            }
        }
    };
}
