//! Workflow and task definitions: plain serde data, so they come equally from Rust code or
//! from YAML/JSON over the API. [`WorkflowDef::validate`] is run on registration and names
//! the offender of every mistake.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A duration written the way people write them: `90s`, `5m`, `1h30m`, `250ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dur(pub Duration);

/// In the API a duration is its text: `"90s"`, `"1h 30m"`.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Dur {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("A duration such as `90s`, `5m` or `1h 30m`"))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Dur {}

impl Dur {
    pub const fn secs(s: u64) -> Dur {
        Dur(Duration::from_secs(s))
    }

    pub fn as_millis(self) -> i64 {
        i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX)
    }
}

impl std::str::FromStr for Dur {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        humantime::parse_duration(s.trim())
            .map(Dur)
            .map_err(|e| format!("'{s}' is not a duration ({e}); write e.g. 90s, 5m or 1h30m"))
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A workflow: a DAG of tasks, run as a unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WorkflowDef {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub name: String,
    #[serde(default = "default_version")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub tasks: Vec<TaskDef>,
    /// Runs once the other tasks have ended when any of them FAILED, or when the run was
    /// cancelled; it sees every failed task's error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<TaskDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<ConcurrencyDef>,
    /// Start a run whenever a matching user event is pushed (the payload is its input).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_events: Vec<EventTrigger>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_crons: Vec<String>,
    /// A second `on_failure` given to the builder, kept so `validate` can name it. (In
    /// YAML/JSON a repeated `on_failure` key is already a parse error.)
    #[serde(skip)]
    second_on_failure: Option<String>,
}

fn default_version() -> String {
    "1".into()
}

/// One task of a workflow. Only `name` and `action` are required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TaskDef {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub name: String,
    /// What a worker must implement to run this task.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub action: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<String>,
    /// Retries after the first attempt (not attempts).
    #[serde(default)]
    pub retries: u32,
    /// Retry `n` (from 1) waits `min(backoff_max_seconds, backoff_factor ^ n)` seconds; no
    /// factor means retry at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_factor: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_max_seconds: Option<u64>,
    /// Longest time the task may stay QUEUED before it is CANCELLED.
    #[serde(default = "default_schedule_timeout")]
    pub schedule_timeout: Dur,
    /// Longest time one attempt may run.
    #[serde(default = "default_execution_timeout")]
    pub execution_timeout: Dur,
    /// Groups are AND-ed, conditions inside a group OR-ed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wait_for: Vec<ConditionGroup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_if: Vec<ConditionGroup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cancel_if: Vec<ConditionGroup>,
    /// By default a task whose parent was SKIPPED is skipped too; `true` runs it anyway.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub run_if_parent_skipped: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub desired_labels: BTreeMap<String, DesiredLabel>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub concurrency: Vec<ConcurrencyDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rate_limits: Vec<RateLimitDef>,
    /// Static input merged into what the handler sees as `input` (used by workflows defined
    /// as data, e.g. a `shell` task's command).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<Value>,
    /// Take the input from an ancestor's output instead of the run's input:
    /// `"<ancestor>"` or `"<ancestor>.<field>.<field>"` (`with` is still merged over it).
    /// This is how a task computed on the server hands its result to an agent's action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_from: Option<String>,
}

fn default_schedule_timeout() -> Dur {
    Dur::secs(5 * 60)
}

fn default_execution_timeout() -> Dur {
    Dur::secs(60)
}

impl TaskDef {
    /// A task with defaults for everything but its name and action.
    pub fn new(name: impl Into<String>, action: impl Into<String>) -> TaskDef {
        TaskDef {
            name: name.into(),
            action: action.into(),
            parents: Vec::new(),
            retries: 0,
            backoff_factor: None,
            backoff_max_seconds: None,
            schedule_timeout: default_schedule_timeout(),
            execution_timeout: default_execution_timeout(),
            wait_for: Vec::new(),
            skip_if: Vec::new(),
            cancel_if: Vec::new(),
            run_if_parent_skipped: false,
            desired_labels: BTreeMap::new(),
            concurrency: Vec::new(),
            rate_limits: Vec::new(),
            with: None,
            input_from: None,
        }
    }

    pub fn parents<I, S>(mut self, parents: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.parents = parents.into_iter().map(Into::into).collect();
        self
    }

    /// Take the input from an ancestor's output (`"parent"` or `"parent.field"`).
    pub fn input_from(mut self, from: impl Into<String>) -> Self {
        self.input_from = Some(from.into());
        self
    }

    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    pub fn backoff(mut self, factor: f64, max_seconds: u64) -> Self {
        self.backoff_factor = Some(factor);
        self.backoff_max_seconds = Some(max_seconds);
        self
    }

    pub fn schedule_timeout(mut self, d: Duration) -> Self {
        self.schedule_timeout = Dur(d);
        self
    }

    pub fn execution_timeout(mut self, d: Duration) -> Self {
        self.execution_timeout = Dur(d);
        self
    }

    pub fn wait_for(mut self, group: ConditionGroup) -> Self {
        self.wait_for.push(group);
        self
    }

    /// Runs even when a parent was skipped (its other parents done).
    pub fn run_if_parent_skipped(mut self) -> Self {
        self.run_if_parent_skipped = true;
        self
    }

    pub fn skip_if(mut self, group: ConditionGroup) -> Self {
        self.skip_if.push(group);
        self
    }

    pub fn cancel_if(mut self, group: ConditionGroup) -> Self {
        self.cancel_if.push(group);
        self
    }

    pub fn label(mut self, key: impl Into<String>, want: DesiredLabel) -> Self {
        self.desired_labels.insert(key.into(), want);
        self
    }

    /// Does a worker with these labels carry every label the task requires?
    pub fn required_labels_met(&self, labels: &BTreeMap<String, Value>) -> bool {
        self.desired_labels
            .iter()
            .filter(|(_, want)| want.required)
            .all(|(key, want)| want.matches(labels.get(key)))
    }

    pub fn has_preferences(&self) -> bool {
        self.desired_labels.values().any(|want| !want.required)
    }

    /// The sum of the weights of the preferred (not required) labels a worker matches.
    pub fn preference_score(&self, labels: &BTreeMap<String, Value>) -> i64 {
        self.desired_labels
            .iter()
            .filter(|(key, want)| !want.required && want.matches(labels.get(*key)))
            .map(|(_, want)| i64::from(want.weight))
            .sum()
    }

    /// The delay before retry number `retry_no` (1 for the first retry).
    pub fn backoff_delay(&self, retry_no: u32) -> Duration {
        let Some(factor) = self.backoff_factor else {
            return Duration::ZERO;
        };
        let seconds = factor.powi(i32::try_from(retry_no).unwrap_or(i32::MAX));
        let cap = self.backoff_max_seconds.map_or(f64::INFINITY, |m| m as f64);
        Duration::try_from_secs_f64(seconds.min(cap).max(0.0)).unwrap_or(Duration::MAX)
    }
}

/// An `on_events` trigger: a key pattern (`*` matches any run of characters, e.g.
/// `bench.*.done`), optionally with a CEL filter over `payload` and `metadata`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum EventTrigger {
    Key(String),
    Filtered { key: String, filter: String },
}

impl EventTrigger {
    pub fn key(&self) -> &str {
        match self {
            EventTrigger::Key(key) | EventTrigger::Filtered { key, .. } => key,
        }
    }

    pub fn filter(&self) -> Option<&str> {
        match self {
            EventTrigger::Key(_) => None,
            EventTrigger::Filtered { filter, .. } => Some(filter),
        }
    }

    /// Does an event with `key` and this payload and metadata start a run?
    pub fn fires(&self, key: &str, payload: &Value, metadata: &Value) -> bool {
        glob_matches(self.key(), key)
            && self.filter().is_none_or(|f| {
                crate::expr::Expr::compile(f)
                    .and_then(|e| e.eval_bool(&[("payload", payload), ("metadata", metadata)]))
                    .unwrap_or(false)
            })
    }
}

/// `*` matches any run of characters (also none); everything else matches itself.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// Conditions inside a group are OR-ed: the group holds when any one holds.
pub type ConditionGroup = Vec<Condition>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Holds once this long has passed since the task's parents completed.
    Sleep(Dur),
    /// Holds when a user event with `key` arrives whose payload satisfies `expression`
    /// (CEL over `payload`; none means any payload).
    Event {
        key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expression: Option<String>,
    },
    /// Holds when `expression` (CEL over `output`, the parent's output, and `input`) is true.
    Parent { parent: String, expression: String },
}

/// A label the task wants on its worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DesiredLabel {
    pub value: Value,
    /// A required label excludes workers without it; otherwise it is a preference.
    #[serde(default = "yes")]
    pub required: bool,
    #[serde(default)]
    pub comparator: Comparator,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub weight: i32,
}

fn yes() -> bool {
    true
}
fn one() -> i32 {
    1
}
fn is_one(w: &i32) -> bool {
    *w == 1
}

impl DesiredLabel {
    /// A required label equal to `value`.
    pub fn equals(value: impl Into<Value>) -> DesiredLabel {
        DesiredLabel {
            value: value.into(),
            required: true,
            comparator: Comparator::Equal,
            weight: 1,
        }
    }

    /// Does a worker's label value satisfy this wish?
    pub fn matches(&self, actual: Option<&Value>) -> bool {
        let Some(actual) = actual else {
            return false;
        };
        let ordering = match (actual.as_f64(), self.value.as_f64()) {
            (Some(a), Some(w)) => a.partial_cmp(&w),
            _ => match (actual.as_str(), self.value.as_str()) {
                (Some(a), Some(w)) => Some(a.cmp(w)),
                _ => (actual == &self.value).then_some(std::cmp::Ordering::Equal),
            },
        };
        use std::cmp::Ordering::*;
        match (self.comparator, ordering) {
            (Comparator::Equal, o) => o == Some(Equal),
            (Comparator::NotEqual, o) => o != Some(Equal),
            (Comparator::Greater, o) => o == Some(Greater),
            (Comparator::GreaterOrEqual, o) => matches!(o, Some(Greater | Equal)),
            (Comparator::Less, o) => o == Some(Less),
            (Comparator::LessOrEqual, o) => matches!(o, Some(Less | Equal)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Comparator {
    #[default]
    #[serde(rename = "=")]
    Equal,
    #[serde(rename = "!=")]
    NotEqual,
    #[serde(rename = ">")]
    Greater,
    #[serde(rename = ">=")]
    GreaterOrEqual,
    #[serde(rename = "<")]
    Less,
    #[serde(rename = "<=")]
    LessOrEqual,
}

impl Comparator {
    /// As written in a definition (the serde names above).
    pub fn as_str(self) -> &'static str {
        match self {
            Comparator::Equal => "=",
            Comparator::NotEqual => "!=",
            Comparator::Greater => ">",
            Comparator::GreaterOrEqual => ">=",
            Comparator::Less => "<",
            Comparator::LessOrEqual => "<=",
        }
    }
}

/// Concurrency control: a CEL key over the input and how
/// many runs per key may be active.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConcurrencyDef {
    pub expression: String,
    pub max_runs: u32,
    #[serde(default)]
    pub limit_strategy: LimitStrategy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LimitStrategy {
    #[default]
    GroupRoundRobin,
    CancelInProgress,
    CancelNewest,
}

/// A static rate limit a task consumes `units` of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RateLimitDef {
    pub key: String,
    #[serde(default = "one_unit")]
    pub units: u32,
}

fn one_unit() -> u32 {
    1
}

/// What is wrong with a definition, naming the offender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    #[error("workflow name must not be empty")]
    EmptyWorkflowName,
    #[error("workflow '{0}' has no tasks")]
    NoTasks(String),
    #[error("task #{index} has an empty name")]
    EmptyTaskName { index: usize },
    #[error("{what} name {name:?} {problem}")]
    BadName {
        what: &'static str,
        name: String,
        problem: String,
    },
    #[error("task '{task}' has an empty action")]
    EmptyAction { task: String },
    #[error("two tasks are named '{0}'")]
    DuplicateTask(String),
    #[error("task '{task}' names an unknown parent '{parent}'")]
    UnknownParent { task: String, parent: String },
    #[error("task '{task}' names '{parent}' as a parent twice")]
    DuplicateParent { task: String, parent: String },
    #[error("the tasks form a cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    #[error("workflow '{0}' has a second on-failure task '{1}'")]
    SecondOnFailure(String, String),
    #[error(
        "the on-failure task '{0}' must not have parents or conditions: it runs after all other tasks"
    )]
    OnFailureWithParents(String),
    #[error("task '{task}': {field} {problem}")]
    BadField {
        task: String,
        field: &'static str,
        problem: String,
    },
    #[error("task '{task}': {field} condition names '{parent}', which is not one of its parents")]
    ConditionOnNonParent {
        task: String,
        field: &'static str,
        parent: String,
    },
    #[error("task '{task}': {field} expression `{expression}` does not compile: {error}")]
    BadExpression {
        task: String,
        field: &'static str,
        expression: String,
        error: String,
    },
}

impl WorkflowDef {
    pub fn new(name: impl Into<String>) -> WorkflowDef {
        WorkflowDef {
            name: name.into(),
            version: default_version(),
            description: String::new(),
            tasks: Vec::new(),
            on_failure: None,
            concurrency: None,
            on_events: Vec::new(),
            on_crons: Vec::new(),
            second_on_failure: None,
        }
    }

    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    pub fn task(mut self, task: TaskDef) -> Self {
        self.tasks.push(task);
        self
    }

    pub fn tasks(mut self, tasks: impl IntoIterator<Item = TaskDef>) -> Self {
        self.tasks.extend(tasks);
        self
    }

    /// Sets the on-failure task. A second one makes `validate` fail, naming it.
    pub fn on_failure(mut self, task: TaskDef) -> Self {
        match &self.on_failure {
            None => self.on_failure = Some(task),
            Some(_) => self.second_on_failure = Some(task.name),
        }
        self
    }

    /// The task definition named `name`, the on-failure task included.
    pub fn find(&self, name: &str) -> Option<&TaskDef> {
        self.tasks
            .iter()
            .chain(self.on_failure.as_ref())
            .find(|t| t.name == name)
    }

    /// Check everything that can be checked without running: names, parents, cycles,
    /// conditions, expressions.
    pub fn validate(&self) -> Result<(), DefinitionError> {
        if self.name.trim().is_empty() {
            return Err(DefinitionError::EmptyWorkflowName);
        }
        name_problem("workflow", &self.name)?;
        if self.tasks.is_empty() {
            return Err(DefinitionError::NoTasks(self.name.clone()));
        }
        if let Some(second) = &self.second_on_failure {
            return Err(DefinitionError::SecondOnFailure(
                self.name.clone(),
                second.clone(),
            ));
        }
        let mut names = HashSet::new();
        for (index, task) in self
            .tasks
            .iter()
            .chain(self.on_failure.as_ref())
            .enumerate()
        {
            if task.name.trim().is_empty() {
                return Err(DefinitionError::EmptyTaskName { index });
            }
            name_problem("task", &task.name)?;
            if task.action.trim().is_empty() {
                return Err(DefinitionError::EmptyAction {
                    task: task.name.clone(),
                });
            }
            if !names.insert(task.name.as_str()) {
                return Err(DefinitionError::DuplicateTask(task.name.clone()));
            }
            validate_task_fields(task)?;
        }
        if let Some(f) = &self.on_failure
            && (!f.parents.is_empty()
                || !f.wait_for.is_empty()
                || !f.skip_if.is_empty()
                || !f.cancel_if.is_empty())
        {
            return Err(DefinitionError::OnFailureWithParents(f.name.clone()));
        }
        for task in &self.tasks {
            let mut seen = HashSet::new();
            for parent in &task.parents {
                if !seen.insert(parent) {
                    return Err(DefinitionError::DuplicateParent {
                        task: task.name.clone(),
                        parent: parent.clone(),
                    });
                }
                if !self.tasks.iter().any(|t| &t.name == parent) {
                    return Err(DefinitionError::UnknownParent {
                        task: task.name.clone(),
                        parent: parent.clone(),
                    });
                }
            }
        }
        if let Some(cycle) = find_cycle(&self.tasks) {
            return Err(DefinitionError::Cycle(cycle));
        }
        if let Some(rule) = &self.concurrency {
            validate_concurrency(&format!("workflow {}", self.name), rule)?;
        }
        for trigger in &self.on_events {
            if let Some(filter) = trigger.filter() {
                crate::expr::Expr::compile(filter).map_err(|error| {
                    DefinitionError::BadExpression {
                        task: format!("on_events[{}]", trigger.key()),
                        field: "filter",
                        expression: filter.to_string(),
                        error,
                    }
                })?;
            }
        }
        for task in &self.tasks {
            if let Some(from) = &task.input_from {
                let ancestor = from.split('.').next().unwrap_or_default();
                if !self.ancestors(&task.name).contains(ancestor) {
                    return Err(DefinitionError::BadField {
                        task: task.name.clone(),
                        field: "input_from",
                        problem: format!("names '{ancestor}', which is not one of its ancestors"),
                    });
                }
            }
        }
        Ok(())
    }

    /// The keys of the user events this workflow's conditions wait for.
    pub fn event_keys(&self) -> BTreeSet<String> {
        self.tasks
            .iter()
            .flat_map(|t| [&t.wait_for, &t.skip_if, &t.cancel_if])
            .flatten()
            .flatten()
            .filter_map(|c| match c {
                Condition::Event { key, .. } => Some(key.clone()),
                _ => None,
            })
            .collect()
    }

    /// Every ancestor of each task, by name (the outputs a task may read).
    pub fn ancestors(&self, task: &str) -> HashSet<String> {
        let by_name: HashMap<&str, &TaskDef> =
            self.tasks.iter().map(|t| (t.name.as_str(), t)).collect();
        let mut out = HashSet::new();
        let mut stack: Vec<&str> = by_name
            .get(task)
            .map(|t| t.parents.iter().map(String::as_str).collect())
            .unwrap_or_default();
        while let Some(name) = stack.pop() {
            if out.insert(name.to_string())
                && let Some(t) = by_name.get(name)
            {
                stack.extend(t.parents.iter().map(String::as_str));
            }
        }
        out
    }

    /// `names` with every task downstream of them (what a replay of `names` runs again).
    pub fn with_descendants(&self, names: &[String]) -> HashSet<String> {
        let mut out: HashSet<String> = names.iter().cloned().collect();
        loop {
            let before = out.len();
            for task in &self.tasks {
                if task.parents.iter().any(|p| out.contains(p)) {
                    out.insert(task.name.clone());
                }
            }
            if out.len() == before {
                return out;
            }
        }
    }
}

/// A concurrency rule needs a CEL key and room for at least one run.
fn validate_concurrency(owner: &str, rule: &ConcurrencyDef) -> Result<(), DefinitionError> {
    if rule.max_runs == 0 {
        return Err(DefinitionError::BadField {
            task: owner.to_string(),
            field: "concurrency.max_runs",
            problem: "must be at least 1".into(),
        });
    }
    crate::expr::Expr::compile(&rule.expression).map_err(|error| {
        DefinitionError::BadExpression {
            task: owner.to_string(),
            field: "concurrency",
            expression: rule.expression.clone(),
            error,
        }
    })?;
    Ok(())
}

/// The longest workflow or task name.
pub const MAX_NAME_CHARS: usize = 200;

/// Names show up in logs, URLs and the dashboard: any letters, but no control characters
/// and none that reorder or hide text (bidirectional overrides, zero-width characters).
fn name_problem(what: &'static str, name: &str) -> Result<(), DefinitionError> {
    let bad = |problem: String| DefinitionError::BadName {
        what,
        name: name.to_string(),
        problem,
    };
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(bad(format!("is longer than {MAX_NAME_CHARS} characters")));
    }
    let hidden = |c: char| matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}');
    if let Some(c) = name.chars().find(|c| c.is_control() || hidden(*c)) {
        return Err(bad(format!(
            "holds U+{:04X}, a control character or one that reorders or hides text",
            u32::from(c)
        )));
    }
    Ok(())
}

fn validate_task_fields(task: &TaskDef) -> Result<(), DefinitionError> {
    let bad = |field: &'static str, problem: String| DefinitionError::BadField {
        task: task.name.clone(),
        field,
        problem,
    };
    if let Some(f) = task.backoff_factor
        && !(f.is_finite() && f >= 1.0)
    {
        return Err(bad(
            "backoff_factor",
            format!("must be a number >= 1, got {f}"),
        ));
    }
    match task.concurrency.as_slice() {
        [] => {}
        [rule] => validate_concurrency(&task.name, rule)?,
        _ => {
            return Err(bad(
                "concurrency",
                "has more than one rule; give it one".into(),
            ));
        }
    }
    for limit in &task.rate_limits {
        if limit.key.trim().is_empty() {
            return Err(bad("rate_limits", "has an empty key".into()));
        }
        if limit.units == 0 {
            return Err(bad(
                "rate_limits",
                format!("'{}' uses 0 units; use at least 1", limit.key),
            ));
        }
    }
    if task.execution_timeout.0.is_zero() {
        return Err(bad("execution_timeout", "must be longer than zero".into()));
    }
    if task.schedule_timeout.0.is_zero() {
        return Err(bad("schedule_timeout", "must be longer than zero".into()));
    }
    for (field, groups) in [
        ("wait_for", &task.wait_for),
        ("skip_if", &task.skip_if),
        ("cancel_if", &task.cancel_if),
    ] {
        for group in groups {
            if group.is_empty() {
                return Err(bad(field, "has an empty condition group".into()));
            }
            for condition in group {
                match condition {
                    Condition::Sleep(_) => {}
                    Condition::Event { key, expression } => {
                        if key.trim().is_empty() {
                            return Err(bad(
                                field,
                                "has an event condition with an empty key".into(),
                            ));
                        }
                        if let Some(e) = expression {
                            check_expression(task, field, e)?;
                        }
                    }
                    Condition::Parent { parent, expression } => {
                        if !task.parents.contains(parent) {
                            return Err(DefinitionError::ConditionOnNonParent {
                                task: task.name.clone(),
                                field,
                                parent: parent.clone(),
                            });
                        }
                        check_expression(task, field, expression)?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn check_expression(
    task: &TaskDef,
    field: &'static str,
    expression: &str,
) -> Result<(), DefinitionError> {
    crate::expr::Expr::compile(expression)
        .map(|_| ())
        .map_err(|error| DefinitionError::BadExpression {
            task: task.name.clone(),
            field,
            expression: expression.to_string(),
            error,
        })
}

/// A cycle among the tasks' parent edges, as the list of names around it.
fn find_cycle(tasks: &[TaskDef]) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let index: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
    let mut marks = vec![Mark::New; tasks.len()];
    // Iterative DFS keeping the current path so the cycle can be reported.
    for start in 0..tasks.len() {
        if marks[start] != Mark::New {
            continue;
        }
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        marks[start] = Mark::OnPath;
        while let Some(&mut (node, ref mut next)) = path.last_mut() {
            let parents = &tasks[node].parents;
            if *next < parents.len() {
                let parent = index[parents[*next].as_str()];
                *next += 1;
                match marks[parent] {
                    Mark::New => {
                        marks[parent] = Mark::OnPath;
                        path.push((parent, 0));
                    }
                    Mark::OnPath => {
                        let from = path.iter().position(|(n, _)| *n == parent).unwrap_or(0);
                        let mut cycle: Vec<String> = path[from..]
                            .iter()
                            .map(|(n, _)| tasks[*n].name.clone())
                            .collect();
                        cycle.push(tasks[parent].name.clone());
                        return Some(cycle);
                    }
                    Mark::Done => {}
                }
            } else {
                marks[node] = Mark::Done;
                path.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod glob_tests {
    use super::glob_matches;

    #[test]
    fn stars_match_any_run_of_characters() {
        assert!(glob_matches("bench.*.done", "bench.pg16.done"));
        assert!(glob_matches("bench.*", "bench."));
        assert!(glob_matches("*", "anything"));
        assert!(glob_matches("exact", "exact"));
        assert!(!glob_matches("exact", "exactly"));
        assert!(!glob_matches("bench.*.done", "bench.pg16.started"));
        assert!(glob_matches("a*b*c", "aXXbYYc"));
        assert!(!glob_matches("a*b*c", "aXXcYYb"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wf() -> WorkflowDef {
        WorkflowDef::new("w")
    }

    #[test]
    fn durations_parse_like_people_write_them() {
        assert_eq!("90s".parse::<Dur>().unwrap(), Dur::secs(90));
        assert_eq!("1h30m".parse::<Dur>().unwrap(), Dur::secs(5400));
        assert_eq!(
            "250ms".parse::<Dur>().unwrap().0,
            Duration::from_millis(250)
        );
        let e = "soon".parse::<Dur>().unwrap_err();
        assert!(e.contains("'soon' is not a duration"), "{e}");
        assert_eq!(Dur::secs(5400).to_string(), "1h 30m");
    }

    #[test]
    fn yaml_like_json_definition_gets_defaults() {
        let def: WorkflowDef = serde_json::from_value(serde_json::json!({
            "name": "w",
            "tasks": [{"name": "a", "action": "shell", "with": {"command": "true"}},
                      {"name": "b", "action": "shell", "parents": ["a"], "execution_timeout": "10m",
                       "skip_if": [[{"parent": {"parent": "a", "expression": "output.skip"}}]]}]
        }))
        .unwrap();
        def.validate().unwrap();
        assert_eq!(def.version, "1");
        assert_eq!(def.tasks[0].schedule_timeout, Dur::secs(300));
        assert_eq!(def.tasks[0].execution_timeout, Dur::secs(60));
        assert_eq!(def.tasks[1].execution_timeout, Dur::secs(600));
    }

    #[test]
    fn unknown_keys_and_bad_durations_are_refused_by_name() {
        let e = serde_json::from_value::<WorkflowDef>(serde_json::json!({
            "name": "w", "tasks": [{"name": "a", "action": "x", "retry": 3}]
        }))
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown field `retry`"), "{e}");
        let e = serde_json::from_value::<WorkflowDef>(serde_json::json!({
            "name": "w", "tasks": [{"name": "a", "action": "x", "execution_timeout": "forever"}]
        }))
        .unwrap_err()
        .to_string();
        assert!(e.contains("'forever' is not a duration"), "{e}");
    }

    #[test]
    fn validation_names_the_offender() {
        let e = wf()
            .task(TaskDef::new("a", "x"))
            .task(TaskDef::new("a", "y"))
            .validate();
        assert_eq!(e, Err(DefinitionError::DuplicateTask("a".into())));

        let e = wf()
            .task(TaskDef::new("a", "x").parents(["ghost"]))
            .validate();
        assert_eq!(
            e,
            Err(DefinitionError::UnknownParent {
                task: "a".into(),
                parent: "ghost".into()
            })
        );

        let e = wf()
            .task(TaskDef::new("a", "x").parents(["c"]))
            .task(TaskDef::new("b", "x").parents(["a"]))
            .task(TaskDef::new("c", "x").parents(["b"]))
            .validate()
            .unwrap_err();
        assert_eq!(e.to_string(), "the tasks form a cycle: a -> c -> b -> a");

        let e = wf()
            .task(TaskDef::new("a", "x"))
            .on_failure(TaskDef::new("cleanup", "x"))
            .on_failure(TaskDef::new("cleanup2", "x"))
            .validate();
        assert_eq!(
            e,
            Err(DefinitionError::SecondOnFailure(
                "w".into(),
                "cleanup2".into()
            ))
        );

        let e = wf()
            .task(TaskDef::new("a", "x").backoff(0.5, 10))
            .validate()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "task 'a': backoff_factor must be a number >= 1, got 0.5"
        );

        let e = wf()
            .task(TaskDef::new("a", "x"))
            .task(
                TaskDef::new("b", "x")
                    .parents(["a"])
                    .skip_if(vec![Condition::Parent {
                        parent: "a".into(),
                        expression: "output.(".into(),
                    }]),
            )
            .validate()
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("task 'b': skip_if expression `output.(` does not compile"),
            "{e}"
        );

        let e = wf()
            .task(TaskDef::new("a", "x"))
            .task(TaskDef::new("b", "x").skip_if(vec![Condition::Parent {
                parent: "a".into(),
                expression: "true".into(),
            }]))
            .validate()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "task 'b': skip_if condition names 'a', which is not one of its parents"
        );

        assert_eq!(wf().validate(), Err(DefinitionError::NoTasks("w".into())));
    }

    #[test]
    fn backoff_is_capped_powers_of_the_factor() {
        let t = TaskDef::new("a", "x").retries(5).backoff(2.0, 10);
        let delays: Vec<u64> = (1..=5).map(|n| t.backoff_delay(n).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 10, 10]);
        assert_eq!(TaskDef::new("a", "x").backoff_delay(3), Duration::ZERO);
    }

    #[test]
    fn ancestors_are_transitive() {
        let w = wf()
            .task(TaskDef::new("a", "x"))
            .task(TaskDef::new("b", "x").parents(["a"]))
            .task(TaskDef::new("c", "x").parents(["a"]))
            .task(TaskDef::new("d", "x").parents(["b", "c"]));
        let mut got: Vec<_> = w.ancestors("d").into_iter().collect();
        got.sort();
        assert_eq!(got, ["a", "b", "c"]);
    }

    #[test]
    fn label_comparators() {
        let gt = DesiredLabel {
            value: 4.into(),
            required: true,
            comparator: Comparator::GreaterOrEqual,
            weight: 1,
        };
        assert!(gt.matches(Some(&8.into())));
        assert!(gt.matches(Some(&4.into())));
        assert!(!gt.matches(Some(&2.into())));
        assert!(!gt.matches(None));
        assert!(DesiredLabel::equals("ssd").matches(Some(&"ssd".into())));
        assert!(!DesiredLabel::equals("ssd").matches(Some(&"hdd".into())));
    }
}
