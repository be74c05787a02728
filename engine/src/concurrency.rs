//! Concurrency rules: which runs (or tasks) sharing a key may be active at once.
//!
//! A run or task under a rule is created waiting for a slot. The admission pass
//! ([`Store::admit`](crate::store::Store::admit)) reads every holder and waiter of every key
//! under one lock, decides here, and writes the decision in the same transaction: so no
//! interleaving of replicas, restarts or crashes can admit more than `max_runs` per key.

use std::collections::{BTreeMap, VecDeque};

use serde_json::Value;
use uuid::Uuid;

use crate::definition::{ConcurrencyDef, LimitStrategy};
use crate::expr::Expr;
use crate::model::Millis;

/// The key a rule gives this input (CEL over `input`).
pub fn key_of(rule: &ConcurrencyDef, input: &Value) -> Result<String, String> {
    Expr::compile(&rule.expression)
        .and_then(|e| e.eval_key(&[("input", input)]))
        .map_err(|e| format!("the concurrency expression {e}"))
}

/// One run or task under a rule, as the admission pass sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Contender {
    pub id: Uuid,
    pub key: String,
    /// Still waiting for a slot (otherwise it holds one until it ends).
    pub waiting: bool,
    pub cancel_requested: bool,
    /// Arrival order: creation (runs) or queueing (tasks) time, then id.
    pub since: Millis,
}

#[derive(Debug, Default, PartialEq)]
pub(crate) struct Decision {
    /// To admit, in order: keys take turns (round robin), oldest first within a key.
    pub admit: Vec<Uuid>,
    /// To cancel, with the reason.
    pub cancel: Vec<(Uuid, String)>,
}

/// Decide for all contenders of one rule (one workflow, or one task of a workflow).
pub(crate) fn decide(rule: &ConcurrencyDef, contenders: &[Contender]) -> Decision {
    let mut by_key: BTreeMap<&str, Vec<&Contender>> = BTreeMap::new();
    for c in contenders {
        by_key.entry(c.key.as_str()).or_default().push(c);
    }
    let max = rule.max_runs as usize;
    let mut decision = Decision::default();
    let mut turns: Vec<VecDeque<Uuid>> = Vec::new();
    for (key, mut group) in by_key {
        group.sort_by_key(|c| (c.since, c.id));
        let active = group.iter().filter(|c| !c.waiting).count();
        let mut cancel = |c: &Contender, why: &str| {
            if !c.cancel_requested {
                decision.cancel.push((
                    c.id,
                    format!("concurrency key '{key}' (max_runs {max}, {why})"),
                ));
            }
        };
        let admit: VecDeque<Uuid> = match rule.limit_strategy {
            LimitStrategy::GroupRoundRobin => group
                .iter()
                .filter(|c| c.waiting)
                .take(max.saturating_sub(active))
                .map(|c| c.id)
                .collect(),
            LimitStrategy::CancelNewest => {
                let free = max.saturating_sub(active);
                let waiting: Vec<&&Contender> = group.iter().filter(|c| c.waiting).collect();
                for c in waiting.iter().skip(free) {
                    cancel(c, "CANCEL_NEWEST: the key's slots are taken");
                }
                waiting.iter().take(free).map(|c| c.id).collect()
            }
            LimitStrategy::CancelInProgress => {
                // The newest `max` stay; older ones make room. A newcomer is admitted only
                // once the cancelled ones have ended, so the limit holds at every moment.
                let keep_from = group.len().saturating_sub(max);
                for c in &group[..keep_from] {
                    cancel(c, "CANCEL_IN_PROGRESS: newer work arrived");
                }
                group[keep_from..]
                    .iter()
                    .filter(|c| c.waiting)
                    .take(max.saturating_sub(active))
                    .map(|c| c.id)
                    .collect()
            }
        };
        turns.push(admit);
    }
    // Round robin across keys, so the admitted work of one busy key does not queue ahead
    // of every other key's.
    while turns.iter().any(|t| !t.is_empty()) {
        for turn in &mut turns {
            if let Some(id) = turn.pop_front() {
                decision.admit.push(id);
            }
        }
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(max_runs: u32, limit_strategy: LimitStrategy) -> ConcurrencyDef {
        ConcurrencyDef {
            expression: "input.k".into(),
            max_runs,
            limit_strategy,
        }
    }

    fn c(n: u128, key: &str, waiting: bool) -> Contender {
        Contender {
            id: Uuid::from_u128(n),
            key: key.into(),
            waiting,
            cancel_requested: false,
            since: n as i64,
        }
    }

    fn ids(ns: &[u128]) -> Vec<Uuid> {
        ns.iter().map(|n| Uuid::from_u128(*n)).collect()
    }

    #[test]
    fn round_robin_fills_each_key_up_to_max_taking_turns() {
        let all = [
            c(1, "a", false),
            c(2, "a", true),
            c(3, "a", true),
            c(4, "a", true),
            c(5, "b", true),
            c(6, "b", true),
            c(7, "b", true),
        ];
        let d = decide(&rule(2, LimitStrategy::GroupRoundRobin), &all);
        assert_eq!(d.admit, ids(&[2, 5, 6]));
        assert!(d.cancel.is_empty());
    }

    #[test]
    fn cancel_newest_cancels_what_does_not_fit() {
        let all = [c(1, "a", false), c(2, "a", true), c(3, "b", true)];
        let d = decide(&rule(1, LimitStrategy::CancelNewest), &all);
        assert_eq!(d.admit, ids(&[3]));
        assert_eq!(d.cancel.len(), 1);
        assert_eq!(d.cancel[0].0, Uuid::from_u128(2));
        assert!(d.cancel[0].1.contains("CANCEL_NEWEST"), "{}", d.cancel[0].1);
    }

    #[test]
    fn cancel_in_progress_makes_room_and_admits_once_it_is_free() {
        let all = [c(1, "a", false), c(2, "a", true)];
        let d = decide(&rule(1, LimitStrategy::CancelInProgress), &all);
        assert!(d.admit.is_empty(), "the old run still holds the slot");
        assert_eq!(d.cancel[0].0, Uuid::from_u128(1));
        // Once the cancelled run has ended, the newcomer gets the slot.
        let d = decide(
            &rule(1, LimitStrategy::CancelInProgress),
            &[c(2, "a", true)],
        );
        assert_eq!(d.admit, ids(&[2]));
    }

    #[test]
    fn a_cancel_already_requested_is_not_repeated() {
        let mut old = c(1, "a", false);
        old.cancel_requested = true;
        let d = decide(
            &rule(1, LimitStrategy::CancelInProgress),
            &[old, c(2, "a", true)],
        );
        assert!(d.cancel.is_empty() && d.admit.is_empty());
    }
}
