//! A Hatchet workflow registration (`v1.CreateWorkflowVersionRequest`) as an engine
//! [`WorkflowDef`]. What the engine cannot honour is refused with the field's path, never
//! dropped silently.

use std::collections::BTreeMap;
use std::time::Duration;

use engine::definition::{
    Comparator, ConcurrencyDef, Condition, DesiredLabel, Dur, EventTrigger, LimitStrategy,
    RateLimitDef, TaskDef, WorkflowDef,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::proto::v1::{
    Action, BaseMatchCondition, Concurrency, ConcurrencyLimitStrategy, CreateTaskOpts,
    CreateWorkflowVersionRequest, DesiredWorkerLabels, TaskConditions, WorkerLabelComparator,
};

/// Hatchet's default execution timeout when a task gives none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The engine's definition of a registration. Its version is the SDK's when it names one,
/// else a digest of the definition: re-registering the same workflow is a no-op, and a
/// changed one becomes a new version (versions are immutable) that new runs use.
pub fn workflow_def(req: &CreateWorkflowVersionRequest) -> Result<WorkflowDef, String> {
    let mut def = WorkflowDef::new(req.name.clone());
    def.description = req.description.clone();
    def.tasks = req
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| task_def(t, &format!("tasks[{i}]")))
        .collect::<Result<_, _>>()?;
    if let Some(task) = &req.on_failure_task {
        def.on_failure = Some(task_def(task, "on_failure_task")?);
    }
    let mut rules: Vec<&Concurrency> = req.concurrency_arr.iter().collect();
    rules.extend(req.concurrency.as_ref());
    match rules.as_slice() {
        [] => {}
        [rule] => def.concurrency = Some(concurrency(rule, "concurrency")?),
        _ => return Err("concurrency: the engine takes at most one rule per workflow".into()),
    }
    def.on_events = req
        .event_triggers
        .iter()
        .map(|k| EventTrigger::Key(k.clone()))
        .collect();
    def.on_crons = req.cron_triggers.clone();
    if req
        .cron_input
        .as_deref()
        .is_some_and(|i| !i.is_empty() && i != "{}")
    {
        return Err("cron_input: a cron's input is not supported yet (crons start with {})".into());
    }
    if !req.default_filters.is_empty() {
        return Err("default_filters: event filters are not supported yet".into());
    }
    if req.idempotency.is_some() {
        return Err("idempotency: idempotency keys are not supported yet".into());
    }
    def.version = if req.version.is_empty() {
        digest(&def)
    } else {
        req.version.clone()
    };
    def.validate().map_err(|e| e.to_string())?;
    Ok(def)
}

fn digest(def: &WorkflowDef) -> String {
    let json = serde_json::to_vec(def).unwrap_or_default();
    let hex: String = Sha256::digest(&json)
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("h-{hex}")
}

fn task_def(t: &CreateTaskOpts, at: &str) -> Result<TaskDef, String> {
    let mut task = TaskDef::new(t.readable_id.clone(), t.action.clone())
        .parents(t.parents.iter().cloned())
        .retries(
            u32::try_from(t.retries).map_err(|_| format!("{at}.retries: must not be negative"))?,
        )
        .execution_timeout(duration(&t.timeout, at, "timeout")?.unwrap_or(DEFAULT_TIMEOUT));
    if let Some(timeout) = t.schedule_timeout.as_deref()
        && let Some(d) = duration(timeout, at, "schedule_timeout")?
    {
        task = task.schedule_timeout(d);
    }
    task.backoff_factor = t.backoff_factor.map(f64::from);
    task.backoff_max_seconds = t
        .backoff_max_seconds
        .map(|s| {
            u64::try_from(s).map_err(|_| format!("{at}.backoff_max_seconds: must not be negative"))
        })
        .transpose()?;
    for (key, want) in &t.worker_labels {
        task.desired_labels.insert(
            key.clone(),
            desired_label(want, &format!("{at}.worker_labels.{key}"))?,
        );
    }
    task.concurrency = t
        .concurrency
        .iter()
        .enumerate()
        .map(|(i, c)| concurrency(c, &format!("{at}.concurrency[{i}]")))
        .collect::<Result<_, _>>()?;
    for (i, limit) in t.rate_limits.iter().enumerate() {
        let at = format!("{at}.rate_limits[{i}]");
        // The SDK sends a limit of "-1" for "the key's own limit" (set with put_rate_limit).
        let own_limit = limit
            .limit_values_expr
            .as_deref()
            .is_none_or(|l| l.is_empty() || l == "-1");
        if limit.key_expr.is_some() || limit.units_expr.is_some() || !own_limit {
            return Err(format!(
                "{at}: dynamic rate limits (key_expr, units_expr, limit_values_expr) are not supported yet"
            ));
        }
        task.rate_limits.push(RateLimitDef {
            key: limit.key.clone(),
            units: u32::try_from(limit.units.unwrap_or(1))
                .map_err(|_| format!("{at}.units: must not be negative"))?,
        });
    }
    if let Some(conditions) = &t.conditions {
        add_conditions(&mut task, conditions, &format!("{at}.conditions"))?;
    }
    if t.batch.is_some() {
        return Err(format!("{at}.batch: batched tasks are not supported"));
    }
    Ok(task)
}

/// Hatchet's conditions carry their action (queue, skip, cancel) and an or-group id:
/// conditions sharing a group are OR-ed, groups AND-ed, as the engine's condition groups.
fn add_conditions(task: &mut TaskDef, c: &TaskConditions, at: &str) -> Result<(), String> {
    let mut groups: BTreeMap<(i32, String), Vec<Condition>> = BTreeMap::new();
    let mut add = |base: &Option<BaseMatchCondition>, condition: Condition| {
        let base = base.clone().unwrap_or_default();
        groups
            .entry((base.action, base.or_group_id))
            .or_default()
            .push(condition);
    };
    for (i, s) in c.sleep_conditions.iter().enumerate() {
        let at = format!("{at}.sleep_conditions[{i}]");
        let d = duration(&s.sleep_for, &at, "sleep_for")?
            .ok_or_else(|| format!("{at}.sleep_for: give a duration"))?;
        add(&s.base, Condition::Sleep(Dur(d)));
    }
    for e in &c.user_event_conditions {
        let expression = e
            .base
            .as_ref()
            .map(|b| b.expression.clone())
            .filter(|x| !x.is_empty());
        let condition = Condition::Event {
            key: e.user_event_key.clone(),
            expression,
        };
        add(&e.base, condition);
    }
    for p in &c.parent_override_conditions {
        let expression = p
            .base
            .as_ref()
            .map(|b| b.expression.clone())
            .unwrap_or_default();
        let condition = Condition::Parent {
            parent: p.parent_readable_id.clone(),
            expression,
        };
        add(&p.base, condition);
    }
    for ((action, _), group) in groups {
        match Action::try_from(action) {
            Ok(Action::Queue | Action::Create) => task.wait_for.push(group),
            Ok(Action::Skip) => task.skip_if.push(group),
            Ok(Action::Cancel) => task.cancel_if.push(group),
            Err(_) => return Err(format!("{at}: unknown condition action {action}")),
        }
    }
    Ok(())
}

/// Hatchet's durations: `30s`, `5m`, `1h` (an empty one is the default).
fn duration(text: &str, at: &str, field: &str) -> Result<Option<Duration>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.parse::<Dur>()
        .map(|d| Some(d.0))
        .map_err(|e| format!("{at}.{field}: {e}"))
}

fn concurrency(c: &Concurrency, at: &str) -> Result<ConcurrencyDef, String> {
    if c.max_runs_expression.is_some() {
        return Err(format!("{at}.max_runs_expression: not supported yet"));
    }
    let strategy = match c.limit_strategy.map(ConcurrencyLimitStrategy::try_from) {
        None => LimitStrategy::GroupRoundRobin,
        Some(Ok(ConcurrencyLimitStrategy::GroupRoundRobin)) => LimitStrategy::GroupRoundRobin,
        Some(Ok(ConcurrencyLimitStrategy::CancelInProgress)) => LimitStrategy::CancelInProgress,
        Some(Ok(ConcurrencyLimitStrategy::CancelNewest)) => LimitStrategy::CancelNewest,
        Some(Ok(other)) => {
            return Err(format!(
                "{at}.limit_strategy: {} is not supported (GROUP_ROUND_ROBIN, CANCEL_IN_PROGRESS and CANCEL_NEWEST are)",
                other.as_str_name()
            ));
        }
        Some(Err(_)) => return Err(format!("{at}.limit_strategy: unknown value")),
    };
    Ok(ConcurrencyDef {
        expression: c.expression.clone(),
        max_runs: u32::try_from(c.max_runs.unwrap_or(1))
            .map_err(|_| format!("{at}.max_runs: must not be negative"))?,
        limit_strategy: strategy,
    })
}

fn desired_label(want: &DesiredWorkerLabels, at: &str) -> Result<DesiredLabel, String> {
    let value = match (&want.str_value, want.int_value) {
        (Some(s), None) => Value::from(s.clone()),
        (None, Some(i)) => Value::from(i),
        _ => return Err(format!("{at}: give exactly one of str_value and int_value")),
    };
    let comparator = match want.comparator.map(WorkerLabelComparator::try_from) {
        None | Some(Ok(WorkerLabelComparator::Equal)) => Comparator::Equal,
        Some(Ok(WorkerLabelComparator::NotEqual)) => Comparator::NotEqual,
        Some(Ok(WorkerLabelComparator::GreaterThan)) => Comparator::Greater,
        Some(Ok(WorkerLabelComparator::GreaterThanOrEqual)) => Comparator::GreaterOrEqual,
        Some(Ok(WorkerLabelComparator::LessThan)) => Comparator::Less,
        Some(Ok(WorkerLabelComparator::LessThanOrEqual)) => Comparator::LessOrEqual,
        Some(Err(_)) => return Err(format!("{at}.comparator: unknown value")),
    };
    Ok(DesiredLabel {
        value,
        // Hatchet's labels are preferences unless marked required.
        required: want.required.unwrap_or(false),
        comparator,
        weight: want.weight.unwrap_or(100),
    })
}

/// A worker's labels as the engine keeps them.
pub fn worker_labels(
    labels: &std::collections::HashMap<String, crate::proto::WorkerLabels>,
) -> BTreeMap<String, Value> {
    labels
        .iter()
        .filter_map(|(k, l)| {
            let value = match (&l.str_value, l.int_value) {
                (Some(s), _) => Value::from(s.clone()),
                (None, Some(i)) => Value::from(i),
                (None, None) => return None,
            };
            Some((k.clone(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(name: &str, parents: &[&str]) -> CreateTaskOpts {
        CreateTaskOpts {
            readable_id: name.into(),
            action: format!("wf:{name}"),
            timeout: "30s".into(),
            parents: parents.iter().map(|p| p.to_string()).collect(),
            retries: 2,
            backoff_factor: Some(2.0),
            backoff_max_seconds: Some(10),
            ..Default::default()
        }
    }

    #[test]
    fn a_dag_keeps_its_edges_retries_and_timeouts() {
        let req = CreateWorkflowVersionRequest {
            name: "wf".into(),
            tasks: vec![task("a", &[]), task("b", &["a"])],
            event_triggers: vec!["user:*".into()],
            ..Default::default()
        };
        let def = workflow_def(&req).unwrap();
        assert_eq!(def.tasks[1].parents, vec!["a"]);
        assert_eq!(def.tasks[0].retries, 2);
        assert_eq!(def.tasks[0].backoff_factor, Some(2.0));
        assert_eq!(def.tasks[0].execution_timeout, Dur::secs(30));
        assert_eq!(def.on_events[0].key(), "user:*");
        assert!(def.version.starts_with("h-"), "{}", def.version);
        // The same registration gives the same version; a changed one another.
        assert_eq!(workflow_def(&req).unwrap().version, def.version);
        let mut changed = req.clone();
        changed.tasks[0].retries = 3;
        assert_ne!(workflow_def(&changed).unwrap().version, def.version);
    }

    #[test]
    fn what_the_engine_cannot_do_is_refused_by_path() {
        let mut req = CreateWorkflowVersionRequest {
            name: "wf".into(),
            tasks: vec![task("a", &[])],
            ..Default::default()
        };
        req.tasks[0].concurrency.push(Concurrency {
            expression: "input.group".into(),
            max_runs: Some(1),
            limit_strategy: Some(ConcurrencyLimitStrategy::DropNewest as i32),
            ..Default::default()
        });
        let err = workflow_def(&req).unwrap_err();
        assert!(
            err.starts_with("tasks[0].concurrency[0].limit_strategy: DROP_NEWEST"),
            "{err}"
        );

        let mut bad_parent = req.clone();
        bad_parent.tasks = vec![task("a", &["nope"])];
        let err = workflow_def(&bad_parent).unwrap_err();
        assert!(err.contains("nope"), "{err}");

        let mut bad_timeout = bad_parent.clone();
        bad_timeout.tasks = vec![CreateTaskOpts {
            timeout: "soon".into(),
            ..task("a", &[])
        }];
        let err = workflow_def(&bad_timeout).unwrap_err();
        assert!(
            err.starts_with("tasks[0].timeout: 'soon' is not a duration"),
            "{err}"
        );
    }
}
