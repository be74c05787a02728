//! Span ids of durable things, derived rather than stored: a run tree's trace id is its
//! root run's id; a run's span and each task attempt's span are a mix of their ids. Any
//! replica computes the same ids, before or after the span is exported.

use opentelemetry::trace::{SpanId, TraceId};

/// The trace of a whole run tree (a suite, its test runs, their tasks): its root run's id.
pub fn trace_of_root(root_run: u128) -> TraceId {
    TraceId::from_bytes(root_run.to_be_bytes())
}

/// A run's own span.
pub fn run_span(run: u128) -> SpanId {
    mixed(run, 0)
}

/// The span of one attempt of a task.
pub fn attempt_span(task: u128, attempt: i32) -> SpanId {
    mixed(task, u64::from(attempt.unsigned_abs()) + 1)
}

/// splitmix64's finaliser over the id's halves and `salt`: well spread, never zero.
fn mixed(id: u128, salt: u64) -> SpanId {
    let mut z = ((id >> 64) as u64) ^ (id as u64) ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    SpanId::from_bytes(z.max(1).to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_distinct_and_valid() {
        let task = 0x0190_0000_0000_7000_8000_0000_0000_0001_u128;
        assert_eq!(attempt_span(task, 1), attempt_span(task, 1));
        assert_ne!(attempt_span(task, 1), attempt_span(task, 2));
        assert_ne!(attempt_span(task, 1), run_span(task));
        assert_ne!(run_span(task), SpanId::INVALID);
        assert_eq!(
            trace_of_root(task).to_string(),
            "01900000000070008000000000000001"
        );
        assert_ne!(run_span(0), SpanId::INVALID);
    }

    #[test]
    fn a_traceparent_round_trips() {
        let tp = crate::traceparent(trace_of_root(7), attempt_span(7, 1));
        assert!(
            tp.starts_with("00-00000000000000000000000000000007-"),
            "{tp}"
        );
        use opentelemetry::trace::TraceContextExt;
        let parent = crate::parent_from(Some(&tp)).expect("a valid traceparent");
        assert_eq!(
            parent.span().span_context().trace_id().to_string(),
            "00000000000000000000000000000007"
        );
        assert!(crate::parent_from(Some("00-zz-yy-01")).is_none());
        assert!(crate::parent_from(None).is_none());
    }
}
