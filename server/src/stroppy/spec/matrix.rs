//! The matrix: axes of values multiplied out into tests, named by a template.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::checks::*;
use super::expand::*;
use super::*;
use crate::document::DocPath;

impl Expander {
    /// Check the matrix and add its tests; returns how many tests it stands for (even
    /// when they could not be built), for the suite-wide count checks.
    pub(super) fn expand_matrix(
        &mut self,
        matrix: &Matrix,
        defaults: &Layer,
        first_index: usize,
        names: &mut HashMap<String, String>,
        tests: &mut Vec<TestSpec>,
    ) -> usize {
        let at = DocPath::root().key("matrix");
        let axes_at = at.key("axes");
        let axes = &matrix.axes.0;
        let before = self.issues.list.len();

        if axes.is_empty() {
            self.issues
                .push(axes_at.clone(), "a matrix needs at least one axis");
        }
        // Each axis value as its own layer, checked once (not once per combination).
        let mut values: Vec<Vec<Sections>> = Vec::with_capacity(axes.len());
        for axis in axes {
            let axis_at = axes_at.key(&axis.path);
            let Some(segments) = axis_segments(&axis.path) else {
                self.issues.push(
                    axis_at,
                    format!("unknown axis `{}`: expected one of {AXIS_HELP}", axis.path),
                );
                values.push(Vec::new());
                continue;
            };
            if axis.values.is_empty() {
                self.issues
                    .push(axis_at.clone(), "an axis needs at least one value");
            }
            let mut sections = Vec::with_capacity(axis.values.len());
            for (i, value) in axis.values.iter().enumerate() {
                let value_at = axis_at.index(i);
                match axis_value_sections(&segments, value) {
                    Ok(s) => {
                        let layer = sections_layer(&s, Origin::At(value_at));
                        self.check_layer(&layer);
                        sections.push(s);
                    }
                    Err(message) => self.issues.push(value_at, message),
                }
            }
            values.push(sections);
        }

        let count = axes
            .iter()
            .try_fold(1usize, |n, a| n.checked_mul(a.values.len()))
            .unwrap_or(usize::MAX);
        let template = match parse_template(&matrix.name, axes) {
            Ok(t) => Some(t),
            Err(problem) => {
                self.issues.push(at.key("name"), problem);
                None
            }
        };
        if axes.is_empty() {
            return 0;
        }
        if count == 0 || first_index.saturating_add(count) > MAX_TESTS {
            return count;
        }
        let Some(template) = template else {
            return count;
        };
        // With a bad axis value the tests cannot be built, but their names still count
        // (a `baseline` may name one).
        let build = self.issues.list.len() == before;

        let mut pos = vec![0usize; axes.len()];
        let mut reported_name = false;
        for _ in 0..count {
            let name = render_template(&template, axes, &pos);
            let problem = match (name_problem(&name), names.get(&name)) {
                (Some(problem), _) => Some(format!(
                    "the template gives the invalid test name `{name}`: {problem}"
                )),
                (None, Some(first)) => Some(format!(
                    "the template gives the test name `{name}` more than once (also {first}){}",
                    unused_axes_hint(&template, axes)
                )),
                (None, None) => {
                    names.insert(name.clone(), "an earlier combination".to_owned());
                    None
                }
            };
            // One name problem is enough to fix the template.
            if let Some(problem) = problem
                && !reported_name
            {
                self.issues.push(at.key("name"), problem);
                reported_name = true;
            }
            if build {
                let mut layers = vec![defaults.clone()];
                for (a, &p) in pos.iter().enumerate() {
                    if let Some(s) = values.get(a).and_then(|v| v.get(p)) {
                        layers.push(sections_layer(
                            s,
                            Origin::At(axes_at.key(&axes[a].path).index(p)),
                        ));
                    }
                }
                let missing = Missing {
                    at: DocPath::root().key("defaults"),
                    hint: "a matrix test takes it from defaults or from an axis",
                };
                if let Some(test) = self.resolve(name, &layers, &missing) {
                    tests.push(test);
                }
            }
            // Odometer, last axis fastest.
            for a in (0..pos.len()).rev() {
                pos[a] += 1;
                if pos[a] < axes[a].values.len() {
                    break;
                }
                pos[a] = 0;
            }
        }
        count
    }
}

/// For a duplicate name: the axes with several values that the template leaves out.
pub(super) fn unused_axes_hint(template: &[Piece], axes: &[Axis]) -> String {
    let unused: Vec<String> = axes
        .iter()
        .enumerate()
        .filter(|(a, axis)| axis.values.len() > 1 && !template.contains(&Piece::Axis(*a)))
        .map(|(_, axis)| format!("{{{}}}", axis.path))
        .collect();
    if unused.is_empty() {
        String::new()
    } else {
        format!(
            "; mention every axis with several values, e.g. {}",
            unused.join(" ")
        )
    }
}

pub(super) fn sections_layer(s: &Sections, origin: Origin) -> Layer<'_> {
    Layer {
        database: s.database.as_ref(),
        workload: s.workload.as_ref(),
        loader: s.loader.as_ref(),
        origin,
    }
}

pub(super) const AXIS_HELP: &str = "database.version, database.settings.<name>, \
    database.hardware.<cores|memory_gb|disk_gb>, database.topology.<kind|replicas|synchronous>, \
    database.pooler.<kind|pool_mode|pool_size>, workload.<driver|duration|scale|clients|\
    threads|builtin|version|workload|vus|connect_to>, workload.env.<NAME>, \
    loader.hardware.<cores|memory_gb|disk_gb>";

/// The keys an axis path stands for, if it names a field an axis may vary.
pub(super) fn axis_segments(path: &str) -> Option<Vec<&str>> {
    const HARDWARE: &[&str] = &["cores", "memory_gb", "disk_gb"];
    const WORKLOAD: &[&str] = &[
        "driver",
        "duration",
        "scale",
        "clients",
        "threads",
        "builtin",
        "version",
        "workload",
        "vus",
        "connect_to",
    ];
    // Setting names may contain dots themselves (`pg_stat_statements.max`).
    if let Some(name) = path.strip_prefix("database.settings.") {
        return (!name.is_empty()).then(|| vec!["database", "settings", name]);
    }
    if let Some(name) = path.strip_prefix("workload.env.") {
        return (!name.is_empty()).then(|| vec!["workload", "env", name]);
    }
    let parts: Vec<&str> = path.split('.').collect();
    let known = match parts.as_slice() {
        ["database", "version"] => true,
        ["database", "topology", f] => ["kind", "replicas", "synchronous"].contains(f),
        ["database", "pooler", f] => ["kind", "pool_mode", "pool_size"].contains(f),
        ["database" | "loader", "hardware", f] => HARDWARE.contains(f),
        ["workload", f] => WORKLOAD.contains(f),
        _ => false,
    };
    known.then_some(parts)
}

/// One axis value as the sections it sets, through the same serde types as the document
/// so that types and enum names are checked the same way.
pub(super) fn axis_value_sections(segments: &[&str], value: &Value) -> Result<Sections, String> {
    let nested = segments.iter().rev().fold(value.clone(), |inner, key| {
        let mut map = serde_json::Map::new();
        map.insert((*key).to_owned(), inner);
        Value::Object(map)
    });
    Sections::deserialize(nested).map_err(|e| e.to_string())
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Piece {
    Text(String),
    Axis(usize),
}

pub(super) fn parse_template(template: &str, axes: &[Axis]) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            None => {
                pieces.push(Piece::Text(rest.to_owned()));
                break;
            }
            Some(i) => {
                if i > 0 {
                    pieces.push(Piece::Text(rest[..i].to_owned()));
                }
                if rest[i..].starts_with('}') {
                    return Err(format!("unmatched `}}` in the name template `{template}`"));
                }
                let after = &rest[i + 1..];
                let Some(end) = after.find('}') else {
                    return Err(format!("unclosed `{{` in the name template `{template}`"));
                };
                let key = after[..end].trim();
                let Some(a) = axes.iter().position(|axis| axis.path == key) else {
                    let known: Vec<&str> = axes.iter().map(|a| a.path.as_str()).collect();
                    return Err(format!(
                        "`{{{key}}}` in the name template is not an axis; axes: {}",
                        list_names(&known)
                    ));
                };
                pieces.push(Piece::Axis(a));
                rest = &after[end + 1..];
            }
        }
    }
    Ok(pieces)
}

pub(super) fn render_template(pieces: &[Piece], axes: &[Axis], pos: &[usize]) -> String {
    let mut name = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => name.push_str(t),
            Piece::Axis(a) => {
                let value = axes
                    .get(*a)
                    .zip(pos.get(*a))
                    .and_then(|(axis, &p)| axis.values.get(p));
                if let Some(v) = value {
                    name.push_str(&name_fragment(v));
                }
            }
        }
    }
    name
}

/// An axis value as part of a test name: lowercase, runs of other characters as one `-`.
pub(super) fn name_fragment(value: &Value) -> String {
    let raw = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}
