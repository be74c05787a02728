//! A result that fits the server's body limit ([`MAX_RESULT_BYTES`]). A day-long load has a
//! series of 86,400 points; the server keeps every one of them already (they arrive as
//! progress points as the load runs), so the result's own copy may be coarsened — adjacent
//! points averaged — until it fits. A result that still does not fit has its longest texts
//! cut. Nothing is dropped silently: what was changed is said in the task's log.

use protocol::MAX_RESULT_BYTES;
use serde_json::{Map, Value};

/// Room kept for the rest of the request (ids, the envelope).
const MARGIN: usize = 64 * 1024;

/// Shrink `output` until its JSON is under the limit; answers what was done, for the log.
pub fn fit_output(output: &mut Value) -> Vec<String> {
    fit_under(output, MAX_RESULT_BYTES - MARGIN)
}

fn fit_under(output: &mut Value, limit: usize) -> Vec<String> {
    let mut said = Vec::new();
    let size = |v: &Value| serde_json::to_vec(v).map_or(usize::MAX, |b| b.len());
    let before = output
        .get("series")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    while size(output) > limit && halve_series(output) {}
    let after = output
        .get("series")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if after < before {
        said.push(format!(
            "ratchet-agent: the result's series was averaged from {before} to {after} points to fit the server's limit; every point is in the task's progress data"
        ));
    }
    while size(output) > limit {
        let Some(cut) = cut_longest_text(output) else {
            break;
        };
        said.push(format!(
            "ratchet-agent: the result's text `{cut}` was cut to fit the server's limit"
        ));
    }
    said
}

/// Average adjacent pairs of `output.series` (time: the first's; counts of failures:
/// summed). False when there is nothing left to halve.
fn halve_series(output: &mut Value) -> bool {
    let Some(series) = output.get_mut("series").and_then(Value::as_array_mut) else {
        return false;
    };
    if series.len() < 2 {
        return false;
    }
    let merged: Vec<Value> = series
        .chunks(2)
        .map(|pair| match pair {
            [a, b] => merge_points(a, b),
            [a] => a.clone(),
            _ => Value::Null,
        })
        .collect();
    *series = merged;
    true
}

fn merge_points(a: &Value, b: &Value) -> Value {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a.clone();
    };
    let mut out = Map::new();
    for (key, va) in a {
        let merged = match (
            key.as_str(),
            va.as_f64(),
            b.get(key).and_then(Value::as_f64),
        ) {
            ("t_s", _, _) => va.clone(),
            ("failed", Some(x), Some(y)) => Value::from((x + y).round() as u64),
            (_, Some(x), Some(y)) => Value::from((x + y) / 2.0),
            _ => va.clone(),
        };
        out.insert(key.clone(), merged);
    }
    Value::Object(out)
}

/// Cut the longest string in `value` to half its length (at a character boundary), with a
/// marker; answers its key (or `[i]`), or `None` when no string is worth cutting.
fn cut_longest_text(value: &mut Value) -> Option<String> {
    fn longest<'v>(
        v: &'v mut Value,
        at: String,
        best: &mut Option<(usize, String, &'v mut String)>,
    ) {
        match v {
            Value::String(s) if s.len() > best.as_ref().map_or(1024, |b| b.0) => {
                *best = Some((s.len(), at, s));
            }
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    longest(child, k.clone(), best);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter_mut().enumerate() {
                    longest(child, format!("{at}[{i}]"), best);
                }
            }
            _ => {}
        }
    }
    let mut best = None;
    longest(value, String::new(), &mut best);
    let (len, at, text) = best?;
    let mut cut = len / 2;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(&format!(" … [cut: {len} bytes]"));
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A day of per-second points, as a 24-hour load reports them.
    fn day_long_result() -> Value {
        let series: Vec<Value> = (0..86_400)
            .map(|t| json!({"t_s": t as f64, "tps": 1234.567 + (t % 7) as f64, "latency_ms": 2.345678, "failed": t % 3}))
            .collect();
        json!({"tool": "pgbench", "tps": 1234.5, "series": series, "summary": "x".repeat(10_000)})
    }

    #[test]
    fn a_day_long_series_is_averaged_until_the_result_fits() {
        let mut output = day_long_result();
        let limit = 2 * 1024 * 1024;
        assert!(serde_json::to_vec(&output).unwrap().len() > limit);
        let said = fit_under(&mut output, limit);
        assert!(serde_json::to_vec(&output).unwrap().len() <= limit);
        let series = output["series"].as_array().unwrap();
        assert!(
            series.len() >= 86_400 / 8 && series.len() < 86_400,
            "{}",
            series.len()
        );
        // Averages and sums, not samples: failures are all still counted.
        let failed: u64 = series.iter().map(|p| p["failed"].as_u64().unwrap()).sum();
        assert_eq!(failed, (0..86_400u64).map(|t| t % 3).sum::<u64>());
        assert_eq!(series[1]["t_s"], json!((86_400 / series.len()) as f64));
        assert_eq!(output["summary"].as_str().unwrap().len(), 10_000);
        assert!(said[0].contains("averaged from 86400"), "{said:?}");
    }

    #[test]
    fn a_result_within_the_limit_is_left_alone_and_huge_texts_are_cut() {
        let mut small = json!({"tps": 1.0, "series": [{"t_s": 0.0, "tps": 1.0}], "summary": "ok"});
        let copy = small.clone();
        assert!(fit_output(&mut small).is_empty());
        assert_eq!(small, copy);

        let mut huge = json!({"tail": ["é".repeat(300_000)]});
        let said = fit_under(&mut huge, 100_000);
        assert!(serde_json::to_vec(&huge).unwrap().len() <= 100_000);
        assert!(said.iter().all(|s| s.contains("tail[0]")), "{said:?}");
    }
}
