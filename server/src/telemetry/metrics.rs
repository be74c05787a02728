//! The metrics this replica measures as it works (task attempts, HTTP requests, store
//! calls, leak-guard findings). `GET /metrics` serves them beside what it reads from the
//! store at scrape time (runs, queues, workers, leases), which every replica answers alike.

use std::time::Duration;

use engine::observe::AttemptEnded;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

pub type Labels = Vec<(String, String)>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    queue_wait: Histograms,
    attempt_time: Histograms,
    attempts: Family<Labels, Counter>,
    http: Histograms,
    store: Histograms,
    /// `store`'s histogram of each operation, found without building its labels.
    store_by_op: std::sync::Mutex<std::collections::HashMap<&'static str, Histogram>>,
    leak_guard: Family<Labels, Counter>,
    leak_guard_sweeps: Counter,
}

/// 1 ms to about 9 hours (a benchmark's load step is long; a claim is short).
fn task_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 25))
}

/// 0.1 ms to about 3 minutes.
fn call_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 21))
}

fn labels<const N: usize>(pairs: [(&str, &str); N]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), label_value(v)))
        .collect()
}

/// The most of a label value kept: agents and workflows name labels and actions, and a
/// scrape must stay readable whatever they send.
const MAX_LABEL_VALUE: usize = 128;

/// A label value as OpenMetrics text may hold it (the encoder writes values as given):
/// backslash, double quote and line feed escaped, other control characters dropped, cut
/// to [`MAX_LABEL_VALUE`] characters.
pub fn label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars().take(MAX_LABEL_VALUE) {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn seconds_between(from: Option<i64>, to: i64) -> Option<f64> {
    from.map(|from| (to - from).max(0) as f64 / 1000.0)
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            queue_wait: Family::new_with_constructor(task_buckets),
            attempt_time: Family::new_with_constructor(task_buckets),
            attempts: Family::default(),
            http: Family::new_with_constructor(call_buckets),
            store: Family::new_with_constructor(call_buckets),
            store_by_op: Default::default(),
            leak_guard: Family::default(),
            leak_guard_sweeps: Counter::default(),
        }
    }
}

impl Metrics {
    /// An attempt ended: count it by outcome, and time its wait in the queue and its run.
    pub fn attempt_ended(&self, a: &AttemptEnded) {
        let outcome = a.outcome.as_str();
        self.attempts
            .get_or_create(&labels([("action", &a.action), ("outcome", outcome)]))
            .inc();
        if let Some(wait) = a.started_at.and_then(|s| seconds_between(a.queued_at, s)) {
            self.queue_wait
                .get_or_create(&labels([("action", &a.action)]))
                .observe(wait);
        }
        if let Some(took) = seconds_between(a.started_at, a.ended_at) {
            self.attempt_time
                .get_or_create(&labels([("action", &a.action), ("outcome", outcome)]))
                .observe(took);
        }
    }

    pub fn http_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        self.http
            .get_or_create(&labels([
                ("method", method),
                ("route", route),
                ("status", &status.to_string()),
            ]))
            .observe(took.as_secs_f64());
    }

    pub fn store_call(&self, op: &'static str, took: Duration) {
        let mut by_op = self.store_by_op.lock().unwrap_or_else(|e| e.into_inner());
        by_op
            .entry(op)
            .or_insert_with(|| self.store.get_or_create(&labels([("op", op)])).clone())
            .observe(took.as_secs_f64());
    }

    /// A leak-guard sweep ran on this replica (the one that leads them).
    pub fn leak_guard_swept(&self) {
        self.leak_guard_sweeps.inc();
    }

    /// What one leak-guard sweep found: runs whose machines outlived them (`orphaned`),
    /// runs past their TTL (`expired`), destroys that failed (`failed`).
    pub fn leak_guard_found(&self, kind: &str, n: usize) {
        if n > 0 {
            self.leak_guard
                .get_or_create(&labels([("kind", kind)]))
                .inc_by(n as u64);
        }
    }

    /// Add this replica's metrics to a scrape's registry (the families are shared, not
    /// copied).
    pub fn register(&self, registry: &mut Registry) {
        registry.register_with_unit(
            "task_queue_wait",
            "Time from a task attempt being claimable to a worker starting it, by action (observed when the attempt ends)",
            Unit::Seconds,
            self.queue_wait.clone(),
        );
        registry.register_with_unit(
            "task_attempt_duration",
            "Time from a worker starting a task attempt to its end, by action and outcome",
            Unit::Seconds,
            self.attempt_time.clone(),
        );
        registry.register(
            "task_attempts",
            "Task attempts ended, by action and outcome (completed, failed, retrying, timed_out, cancelled, reassigned, suspended)",
            self.attempts.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "HTTP requests by method, route template and status (streams: until the response starts)",
            Unit::Seconds,
            self.http.clone(),
        );
        registry.register_with_unit(
            "store_call_duration",
            "The engine's store calls by operation (claim, report, create_runs, heartbeat, sweep, admit)",
            Unit::Seconds,
            self.store.clone(),
        );
        registry.register(
            "leak_guard_sweeps",
            "Leak-guard sweeps this replica ran (one replica leads them at a time)",
            self.leak_guard_sweeps.clone(),
        );
        registry.register(
            "leak_guard_findings",
            "What the leak guard found, by kind (orphaned, expired, failed)",
            self.leak_guard.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_cannot_break_out_of_their_quotes() {
        assert_eq!(label_value(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(label_value("line\nnext\r\u{7}"), "line\\nnext");
        assert_eq!(label_value(&"x".repeat(500)).len(), MAX_LABEL_VALUE);
        // A scrape with such a value still parses as one sample with that label.
        let metrics = Metrics::default();
        metrics.store_call("claim\"} 1\nfake 2", Duration::from_millis(1));
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(!text.lines().any(|l| l.starts_with("fake")), "{text}");
    }
}
