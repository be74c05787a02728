//! The run state machine as pure functions over a run and its tasks. Both stores load a run
//! under a lock, let these functions change it, and write back what changed with the events
//! they produced: one implementation of the semantics, whatever the database.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use crate::definition::{Condition, ConditionGroup, TaskDef, WorkflowDef};
use crate::expr::Expr;
use crate::model::{
    AttemptResult, EventKind, Millis, NewEvent, RunState, RunStatus, TaskId, TaskState, TaskStatus,
    WorkerId,
};

/// A run and its tasks, as loaded (and then changed) under the run's lock.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSnapshot {
    pub run: RunState,
    pub tasks: Vec<TaskState>,
    /// User events the run's event conditions may wait for (their keys, since the run began).
    pub events: Vec<crate::model::UserEvent>,
}

/// `not_before` of a task parked until an event wakes it.
pub const PARKED: Millis = Millis::MAX / 4;

/// What a worker's report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fence {
    Accepted,
    /// The task is not RUNNING this attempt any more (a late answer): nothing changed.
    Stale,
}

/// Changes the planner makes, applied to a snapshot, with the timeline rows they produce.
pub struct Planner<'a> {
    pub def: &'a WorkflowDef,
    pub now: Millis,
    pub events: Vec<NewEvent>,
    /// Running attempts that must stop (cancelled, timed out, reassigned), with their worker.
    pub stops: Vec<(TaskId, i32, Option<WorkerId>)>,
}

impl<'a> Planner<'a> {
    pub fn new(def: &'a WorkflowDef, now: Millis) -> Planner<'a> {
        Planner {
            def,
            now,
            events: Vec::new(),
            stops: Vec::new(),
        }
    }

    fn task_def(&self, task: &TaskState) -> Option<&'a TaskDef> {
        self.def.find(&task.name)
    }

    /// The fence: the task's index when `attempt` is its RUNNING attempt, else `None`.
    fn running_attempt(snap: &RunSnapshot, task_id: TaskId, attempt: i32) -> Option<usize> {
        snap.tasks.iter().position(|t| {
            t.id == task_id && t.status == TaskStatus::Running && t.attempt == attempt
        })
    }

    /// A worker reports the end of `attempt`. Fenced: only the RUNNING attempt counts.
    pub fn report(
        &mut self,
        snap: &mut RunSnapshot,
        task_id: TaskId,
        attempt: i32,
        result: AttemptResult,
    ) -> Fence {
        let Some(i) = Self::running_attempt(snap, task_id, attempt) else {
            return Fence::Stale;
        };
        match result {
            AttemptResult::Completed { output } => {
                let task = &mut snap.tasks[i];
                task.status = TaskStatus::Completed;
                task.output = Some(output);
                task.error = None;
                task.finished_at = Some(self.now);
                task.deadline = None;
                self.events
                    .push(NewEvent::task(task, EventKind::Completed, None));
            }
            AttemptResult::Failed { error, retryable } => {
                self.attempt_failed(&mut snap.tasks[i], error, retryable, EventKind::Failed);
            }
            AttemptResult::Suspended { until } => {
                let task = &mut snap.tasks[i];
                if let Some(def) = self.def.find(&task.name) {
                    // The slot is free again; the next attempt runs once the wait is over
                    // (an event wait is woken by the event's arrival).
                    task.attempt += 1;
                    self.enqueue(task, def, until.unwrap_or(PARKED));
                    let message = match until {
                        Some(at) => format!("sleeping until {}", crate::clock::format_millis(at)),
                        None => "waiting for an event".to_string(),
                    };
                    self.events
                        .push(NewEvent::task(task, EventKind::Suspended, message));
                }
            }
        }
        self.reconcile(snap, &HashSet::new());
        Fence::Accepted
    }

    /// Move a running attempt's deadline `by` later.
    pub fn refresh_timeout(
        &mut self,
        snap: &mut RunSnapshot,
        task_id: TaskId,
        attempt: i32,
        by: Millis,
    ) -> Fence {
        let Some(i) = Self::running_attempt(snap, task_id, attempt) else {
            return Fence::Stale;
        };
        let task = &mut snap.tasks[i];
        task.deadline = Some(task.deadline.unwrap_or(self.now).saturating_add(by));
        self.events.push(
            NewEvent::task(
                task,
                EventKind::TimeoutRefreshed,
                format!("deadline extended by {by} ms"),
            )
            .with_data(json!({ "deadline": task.deadline })),
        );
        Fence::Accepted
    }

    /// The worker running `attempt` does not run it any more (it restarted, or lost the
    /// assignment): the attempt is lost.
    pub fn abandon(&mut self, snap: &mut RunSnapshot, task_id: TaskId, attempt: i32) {
        self.with_running_attempt(snap, task_id, attempt, |p, task, def| {
            p.lose(task, def, "its worker no longer runs it");
        });
    }

    /// `attempt` comes back unfinished through no fault of the task (its worker left
    /// gracefully, or a server replica died): queue the task again (a reassignment, not a
    /// retry).
    pub fn hand_back(
        &mut self,
        snap: &mut RunSnapshot,
        task_id: TaskId,
        attempt: i32,
        reason: &str,
    ) {
        self.with_running_attempt(snap, task_id, attempt, |p, task, def| {
            p.reassign(task, def, reason);
        });
    }

    fn with_running_attempt(
        &mut self,
        snap: &mut RunSnapshot,
        task_id: TaskId,
        attempt: i32,
        change: impl FnOnce(&mut Self, &mut TaskState, &TaskDef),
    ) {
        let Some(i) = Self::running_attempt(snap, task_id, attempt) else {
            return;
        };
        let task = &mut snap.tasks[i];
        let Some(def) = self.def.find(&task.name) else {
            return;
        };
        change(self, task, def);
        self.reconcile(snap, &HashSet::new());
    }

    /// An attempt whose worker vanished (stopped heart-beating, or restarted) failed: it is
    /// REASSIGNED while the task has retries left (using one up), and FAILED after.
    fn lose(&mut self, task: &mut TaskState, def: &TaskDef, reason: &str) {
        if task.retry_count < i32::try_from(def.retries).unwrap_or(i32::MAX) {
            task.retry_count += 1;
            self.reassign(task, def, reason);
        } else {
            let msg = format!(
                "attempt {} was lost: {reason} (no retries left)",
                task.attempt
            );
            self.stop(task);
            self.finish(task, TaskStatus::Failed, EventKind::Failed, msg);
        }
    }

    /// Take a RUNNING attempt away from its worker and queue the task again.
    fn reassign(&mut self, task: &mut TaskState, def: &TaskDef, reason: &str) {
        let worker = task.worker_id;
        self.stop(task);
        task.attempt += 1;
        self.enqueue(task, def, self.now);
        self.events.push(
            NewEvent::task(task, EventKind::Reassigned, reason.to_string())
                .with_data(json!({ "worker": worker })),
        );
    }

    /// A task parked on a durable event wait whose event has arrived: claimable now.
    pub fn wake(&mut self, snap: &mut RunSnapshot, task_id: TaskId) {
        let Some(task) = snap
            .tasks
            .iter_mut()
            .find(|t| t.id == task_id && t.status == TaskStatus::Queued)
        else {
            return;
        };
        if let Some(def) = self.def.find(&task.name)
            && task.not_before.is_some_and(|at| at > self.now)
        {
            self.enqueue(task, def, self.now);
            self.events.push(NewEvent::task(
                task,
                EventKind::Queued,
                "the event it waits for arrived".to_string(),
            ));
        }
    }

    /// Run `names` (a set closed under descendants) again, and the on-failure task: each
    /// gets a new attempt and starts from PENDING; the other tasks keep their outputs.
    pub fn replay(&mut self, snap: &mut RunSnapshot, names: &HashSet<String>) {
        for task in snap
            .tasks
            .iter_mut()
            .filter(|t| t.is_on_failure || names.contains(&t.name))
        {
            task.status = TaskStatus::Pending;
            task.attempt += 1;
            task.retry_count = 0;
            task.cancel_requested = false;
            (
                task.ready_at,
                task.queued_at,
                task.not_before,
                task.schedule_deadline,
            ) = (None, None, None, None);
            (task.started_at, task.deadline, task.finished_at) = (None, None, None);
            (task.worker_id, task.output, task.error) = (None, None, None);
            (task.concurrency_key, task.waiting_for_slot) = (None, false);
            self.events
                .push(NewEvent::task(task, EventKind::Replayed, None));
        }
        let run = &mut snap.run;
        run.status = RunStatus::Queued;
        (run.output, run.error, run.finished_at, run.wake_at) = (None, None, None, None);
        run.cancel_requested = false;
        // Under a concurrency rule the replayed run queues for a slot like a new one.
        run.waiting_for_slot = run.concurrency_key.is_some();
        let mut listed: Vec<&str> = names.iter().map(String::as_str).collect();
        listed.sort_unstable();
        self.events.push(NewEvent::run(
            EventKind::Replayed,
            format!("replaying {}", listed.join(", ")),
        ));
        self.reconcile(snap, &HashSet::new());
    }

    /// Cancel the whole run: nothing new starts, RUNNING tasks are told to stop, and the
    /// on-failure task still runs (a cancelled benchmark must still destroy its machines).
    pub fn cancel_run(&mut self, snap: &mut RunSnapshot, reason: &str) {
        if snap.run.cancel_requested || snap.run.status.is_terminal() {
            return;
        }
        snap.run.cancel_requested = true;
        self.events.push(NewEvent::run(
            EventKind::CancelRequested,
            reason.to_string(),
        ));
        self.reconcile(snap, &HashSet::new());
    }

    /// Cancel one task; its downstream tasks are cancelled with it.
    pub fn cancel_task(&mut self, snap: &mut RunSnapshot, task_id: TaskId, reason: &str) -> bool {
        let Some(task) = snap.tasks.iter_mut().find(|t| t.id == task_id) else {
            return false;
        };
        if task.status.is_terminal() {
            return false;
        }
        self.stop(task);
        task.cancel_requested = true;
        self.finish(
            task,
            TaskStatus::Cancelled,
            EventKind::Cancelled,
            reason.to_string(),
        );
        self.reconcile(snap, &HashSet::new());
        true
    }

    /// Bring the run up to date with the time and its tasks: timeouts, lost workers,
    /// readiness of waiting tasks, the on-failure task, and the run's own end. Idempotent.
    pub fn reconcile(&mut self, snap: &mut RunSnapshot, lost_workers: &HashSet<WorkerId>) {
        loop {
            let mut changed = self.expire(snap, lost_workers);
            if snap.run.cancel_requested {
                for task in snap
                    .tasks
                    .iter_mut()
                    .filter(|t| !t.is_on_failure && !t.status.is_terminal())
                {
                    self.stop(task);
                    self.finish(
                        task,
                        TaskStatus::Cancelled,
                        EventKind::Cancelled,
                        "the run was cancelled".into(),
                    );
                    changed = true;
                }
            }
            // A run waiting for a concurrency slot starts nothing until it is admitted.
            if !snap.run.waiting_for_slot {
                changed |= self.advance_pending(snap);
            }
            if !changed {
                break;
            }
        }
        self.finish_run(snap);
        snap.run.wake_at = self.next_wake(snap);
    }

    /// Schedule timeouts, execution timeouts and lost workers.
    fn expire(&mut self, snap: &mut RunSnapshot, lost_workers: &HashSet<WorkerId>) -> bool {
        let mut changed = false;
        for task in &mut snap.tasks {
            let Some(def) = self.def.find(&task.name) else {
                continue;
            };
            match task.status {
                TaskStatus::Queued if task.schedule_deadline.is_some_and(|d| d <= self.now) => {
                    let msg = format!(
                        "schedule timeout: still QUEUED after {}",
                        def.schedule_timeout
                    );
                    self.finish(task, TaskStatus::Cancelled, EventKind::Cancelled, msg);
                    changed = true;
                }
                TaskStatus::Running
                    if task.worker_id.is_some_and(|w| lost_workers.contains(&w)) =>
                {
                    self.lose(task, def, "its worker stopped heart-beating");
                    changed = true;
                }
                TaskStatus::Running if task.deadline.is_some_and(|d| d <= self.now) => {
                    let msg = format!(
                        "execution timeout: attempt {} ran longer than {}",
                        task.attempt, def.execution_timeout
                    );
                    self.stop(task);
                    self.attempt_failed(task, msg, true, EventKind::TimedOut);
                    changed = true;
                }
                _ => {}
            }
        }
        changed
    }

    /// The attempt failed: retry after the backoff while retries remain, else FAILED.
    fn attempt_failed(
        &mut self,
        task: &mut TaskState,
        error: String,
        retryable: bool,
        kind: EventKind,
    ) {
        let Some(def) = self.def.find(&task.name) else {
            return;
        };
        if kind == EventKind::TimedOut {
            self.events
                .push(NewEvent::task(task, EventKind::TimedOut, error.clone()));
        }
        let retries_left =
            retryable && task.retry_count < i32::try_from(def.retries).unwrap_or(i32::MAX);
        if retries_left {
            task.retry_count += 1;
            let delay = i64::try_from(def.backoff_delay(task.retry_count as u32).as_millis())
                .unwrap_or(i64::MAX);
            let failed_attempt = task.attempt;
            task.attempt += 1;
            task.error = Some(error.clone());
            self.enqueue(task, def, self.now.saturating_add(delay));
            self.events.push(
                NewEvent::task(task, EventKind::Retrying, format!("attempt {failed_attempt} failed: {error}"))
                    .with_data(json!({ "retry": task.retry_count, "delay_ms": delay, "not_before": task.not_before })),
            );
        } else {
            let msg = if retryable || kind == EventKind::TimedOut {
                error
            } else {
                format!("{error} (not retryable)")
            };
            self.finish(task, TaskStatus::Failed, EventKind::Failed, msg);
        }
    }

    /// PENDING tasks whose parents have all ended: cancel, skip, queue or keep waiting.
    fn advance_pending(&mut self, snap: &mut RunSnapshot) -> bool {
        let mut changed = false;
        for i in 0..snap.tasks.len() {
            if snap.tasks[i].status != TaskStatus::Pending || snap.tasks[i].is_on_failure {
                continue;
            }
            let Some(def) = self.task_def(&snap.tasks[i]) else {
                continue;
            };
            let by_name: HashMap<&str, &TaskState> =
                snap.tasks.iter().map(|t| (t.name.as_str(), t)).collect();
            let parents: Vec<&TaskState> = def
                .parents
                .iter()
                .filter_map(|p| by_name.get(p.as_str()).copied())
                .collect();
            if parents.iter().any(|p| !p.status.is_terminal()) {
                continue;
            }
            let verdict = if let Some(p) = parents
                .iter()
                .find(|p| matches!(p.status, TaskStatus::Failed | TaskStatus::Cancelled))
            {
                Verdict::Cancel(format!("parent '{}' ended {}", p.name, p.status))
            } else if let Some(p) = parents
                .iter()
                .find(|p| p.status == TaskStatus::Skipped)
                .filter(|_| !def.run_if_parent_skipped)
            {
                Verdict::Skip(format!("parent '{}' was skipped", p.name))
            } else {
                let ready_at = snap.tasks[i].ready_at.unwrap_or(self.now);
                let ctx = ConditionContext {
                    by_name: &by_name,
                    input: &snap.run.input,
                    events: &snap.events,
                    ready_at,
                    now: self.now,
                };
                self.judge(def, &ctx)
            };
            let task = &mut snap.tasks[i];
            if task.ready_at.is_none() {
                task.ready_at = Some(self.now);
                changed = true;
            }
            match verdict {
                Verdict::Wait => {}
                Verdict::Queue => {
                    changed = true;
                    let Some(rule) = def.concurrency.first() else {
                        self.enqueue(task, def, self.now);
                        self.events
                            .push(NewEvent::task(task, EventKind::Queued, None));
                        continue;
                    };
                    match crate::concurrency::key_of(rule, &snap.run.input) {
                        Ok(key) => {
                            self.enqueue(task, def, self.now);
                            let message = format!(
                                "waiting for a concurrency slot (key '{key}', max_runs {})",
                                rule.max_runs
                            );
                            task.concurrency_key = Some(key);
                            task.waiting_for_slot = true;
                            // As for a run waiting for its slot, the schedule timeout
                            // counts from admission.
                            task.schedule_deadline = None;
                            self.events
                                .push(NewEvent::task(task, EventKind::Queued, message));
                        }
                        Err(e) => self.finish(task, TaskStatus::Failed, EventKind::Failed, e),
                    }
                }
                Verdict::Skip(reason) => {
                    task.output = Some(json!({ "skipped": true }));
                    self.finish(task, TaskStatus::Skipped, EventKind::Skipped, reason);
                    changed = true;
                }
                Verdict::Cancel(reason) => {
                    self.finish(task, TaskStatus::Cancelled, EventKind::Cancelled, reason);
                    changed = true;
                }
            }
        }
        changed
    }

    /// cancel_if, then skip_if, then wait_for: the first that holds decides.
    fn judge(&self, def: &TaskDef, ctx: &ConditionContext<'_>) -> Verdict {
        if let Some(Truth::True) = ctx.groups(&def.cancel_if) {
            return Verdict::Cancel("cancel_if held".into());
        }
        if let Some(Truth::True) = ctx.groups(&def.skip_if) {
            return Verdict::Skip("skip_if held".into());
        }
        match ctx.groups(&def.wait_for) {
            None | Some(Truth::True) => Verdict::Queue,
            Some(Truth::False) => Verdict::Skip("wait_for can never be satisfied".into()),
            Some(Truth::Pending(_)) => Verdict::Wait,
        }
    }

    /// Every other task has ended: run or skip the on-failure task, then end the run.
    fn finish_run(&mut self, snap: &mut RunSnapshot) {
        if snap.run.status.is_terminal() {
            return;
        }
        let started = snap
            .tasks
            .iter()
            .any(|t| !matches!(t.status, TaskStatus::Pending | TaskStatus::Queued));
        if snap.run.status == RunStatus::Queued && started {
            snap.run.status = RunStatus::Running;
        }
        if snap
            .tasks
            .iter()
            .any(|t| !t.is_on_failure && !t.status.is_terminal())
        {
            return;
        }
        let any_failed = snap
            .tasks
            .iter()
            .any(|t| !t.is_on_failure && t.status == TaskStatus::Failed);
        // A person cancelled the run or one of its tasks: clean up as after a failure.
        let cancelled_by_request = snap.run.cancel_requested
            || snap
                .tasks
                .iter()
                .any(|t| !t.is_on_failure && t.cancel_requested);
        if let Some(on_failure) = snap.tasks.iter_mut().find(|t| t.is_on_failure) {
            if on_failure.status == TaskStatus::Pending {
                let Some(def) = self.def.on_failure.as_ref() else {
                    return;
                };
                if snap.run.waiting_for_slot {
                    // Nothing of the run ever ran: there is nothing to clean up.
                    on_failure.output = Some(json!({ "skipped": true }));
                    self.finish(
                        on_failure,
                        TaskStatus::Skipped,
                        EventKind::Skipped,
                        "the run ended before it was admitted".into(),
                    );
                } else if any_failed || cancelled_by_request {
                    on_failure.ready_at = Some(self.now);
                    self.enqueue(on_failure, def, self.now);
                    self.events
                        .push(NewEvent::task(on_failure, EventKind::Queued, None));
                    snap.run.status = RunStatus::Running;
                } else {
                    on_failure.output = Some(json!({ "skipped": true }));
                    self.finish(
                        on_failure,
                        TaskStatus::Skipped,
                        EventKind::Skipped,
                        "no task failed".into(),
                    );
                }
            }
            if !on_failure.status.is_terminal() {
                return;
            }
        }
        let main = || snap.tasks.iter().filter(|t| !t.is_on_failure);
        let (status, kind) = if snap.run.cancel_requested {
            (RunStatus::Cancelled, EventKind::RunCancelled)
        } else if any_failed {
            (RunStatus::Failed, EventKind::RunFailed)
        } else if main().any(|t| t.status == TaskStatus::Cancelled) {
            (RunStatus::Cancelled, EventKind::RunCancelled)
        } else {
            (RunStatus::Completed, EventKind::RunCompleted)
        };
        let errors: Vec<String> = main()
            .filter(|t| t.status == TaskStatus::Failed)
            .map(|t| format!("{}: {}", t.name, t.error.as_deref().unwrap_or("failed")))
            .collect();
        let output: serde_json::Map<String, Value> = main()
            .filter(|t| t.status == TaskStatus::Completed)
            .map(|t| (t.name.clone(), t.output.clone().unwrap_or(Value::Null)))
            .collect();
        snap.run.status = status;
        snap.run.output = Some(Value::Object(output));
        snap.run.error = (!errors.is_empty()).then(|| errors.join("; "));
        snap.run.finished_at = Some(self.now);
        self.events
            .push(NewEvent::run(kind, snap.run.error.clone()));
    }

    /// The earliest time a sleep condition of a waiting task comes due.
    fn next_wake(&self, snap: &RunSnapshot) -> Option<Millis> {
        let by_name: HashMap<&str, &TaskState> =
            snap.tasks.iter().map(|t| (t.name.as_str(), t)).collect();
        snap.tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Pending && t.ready_at.is_some())
            .filter_map(|t| {
                let def = self.def.find(&t.name)?;
                let ctx = ConditionContext {
                    by_name: &by_name,
                    input: &snap.run.input,
                    events: &snap.events,
                    ready_at: t.ready_at?,
                    now: self.now,
                };
                [&def.wait_for, &def.skip_if, &def.cancel_if]
                    .into_iter()
                    .filter_map(|g| match ctx.groups(g) {
                        Some(Truth::Pending(at)) => at,
                        _ => None,
                    })
                    .min()
            })
            .min()
    }

    fn enqueue(&self, task: &mut TaskState, def: &TaskDef, not_before: Millis) {
        task.status = TaskStatus::Queued;
        task.queued_at = Some(self.now);
        task.not_before = Some(not_before);
        task.schedule_deadline = Some(not_before.saturating_add(def.schedule_timeout.as_millis()));
        task.worker_id = None;
        task.started_at = None;
        task.deadline = None;
    }

    /// Tell the worker of a RUNNING attempt to stop it.
    fn stop(&mut self, task: &TaskState) {
        if task.status == TaskStatus::Running {
            self.stops.push((task.id, task.attempt, task.worker_id));
        }
    }

    fn finish(
        &mut self,
        task: &mut TaskState,
        status: TaskStatus,
        kind: EventKind,
        message: String,
    ) {
        task.status = status;
        task.finished_at = Some(self.now);
        task.deadline = None;
        if status == TaskStatus::Failed || status == TaskStatus::Cancelled {
            task.error = Some(message.clone());
        }
        self.events.push(NewEvent::task(task, kind, message));
    }
}

enum Verdict {
    Wait,
    Queue,
    Skip(String),
    Cancel(String),
}

/// Three-valued truth: a condition may not be decided yet (a sleep not yet over, an event
/// not yet pushed), with the time it will be decided when known.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Truth {
    True,
    False,
    Pending(Option<Millis>),
}

struct ConditionContext<'a> {
    by_name: &'a HashMap<&'a str, &'a TaskState>,
    input: &'a Value,
    events: &'a [crate::model::UserEvent],
    ready_at: Millis,
    now: Millis,
}

impl ConditionContext<'_> {
    /// AND of OR-groups; `None` when there are no groups at all.
    fn groups(&self, groups: &[ConditionGroup]) -> Option<Truth> {
        if groups.is_empty() {
            return None;
        }
        let mut all = Truth::True;
        for group in groups {
            let mut any = Truth::False;
            for condition in group {
                match (self.condition(condition), any) {
                    (Truth::True, _) => {
                        any = Truth::True;
                        break;
                    }
                    (Truth::Pending(a), Truth::Pending(b)) => any = Truth::Pending(min_opt(a, b)),
                    (Truth::Pending(a), Truth::False) => any = Truth::Pending(a),
                    _ => {}
                }
            }
            all = match (all, any) {
                (Truth::False, _) | (_, Truth::False) => return Some(Truth::False),
                (Truth::Pending(a), Truth::Pending(b)) => Truth::Pending(min_opt(a, b)),
                (Truth::Pending(a), Truth::True) | (Truth::True, Truth::Pending(a)) => {
                    Truth::Pending(a)
                }
                (Truth::True, Truth::True) => Truth::True,
            };
        }
        Some(all)
    }

    fn condition(&self, condition: &Condition) -> Truth {
        match condition {
            Condition::Sleep(d) => {
                let due = self.ready_at.saturating_add(d.as_millis());
                if due <= self.now {
                    Truth::True
                } else {
                    Truth::Pending(Some(due))
                }
            }
            // An event with the key, pushed once the task was ready to wait for it, whose
            // payload satisfies the expression. Until one arrives the condition is pending.
            Condition::Event { key, expression } => {
                let matches = |payload: &Value| match expression {
                    None => true,
                    Some(expr) => Expr::compile(expr)
                        .and_then(|e| e.eval_bool(&[("payload", payload), ("input", self.input)]))
                        .unwrap_or(false),
                };
                if self
                    .events
                    .iter()
                    .any(|e| &e.key == key && e.at >= self.ready_at && matches(&e.payload))
                {
                    Truth::True
                } else {
                    Truth::Pending(None)
                }
            }
            Condition::Parent { parent, expression } => {
                let output = self
                    .by_name
                    .get(parent.as_str())
                    .and_then(|t| t.output.clone())
                    .unwrap_or(Value::Null);
                match Expr::compile(expression)
                    .and_then(|e| e.eval_bool(&[("output", &output), ("input", self.input)]))
                {
                    Ok(true) => Truth::True,
                    // An expression that cannot be evaluated (a missing field) does not hold.
                    Ok(false) | Err(_) => Truth::False,
                }
            }
        }
    }
}

fn min_opt(a: Option<Millis>, b: Option<Millis>) -> Option<Millis> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
