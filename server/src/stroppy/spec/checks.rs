//! Checks of single values: names, settings, environment variables, Stroppy strings.

use serde_json::Value;

use super::MAX_NAME_LEN;

pub(crate) fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Some(format!(
            "it is {} characters long; at most {MAX_NAME_LEN}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(format!(
            "`{c}` is not allowed: use lowercase letters, digits and `-`"
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("it must not start or end with `-`".into());
    }
    None
}

/// `postgresql.conf` names: `[a-z_][a-z0-9_.]*` (dots for extension settings such as
/// `pg_stat_statements.max`). Anything else could not be a setting, or could smuggle
/// text into the file.
pub(super) fn setting_name_problem(name: &str) -> Option<&'static str> {
    let mut chars = name.chars();
    match chars.next() {
        None => Some("it is empty"),
        Some(c) if !(c.is_ascii_lowercase() || c == '_') => {
            Some("it must start with a lowercase letter or `_` ([a-z_][a-z0-9_.]*)")
        }
        _ if chars
            .any(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')) =>
        {
            Some("use lowercase letters, digits, `_` and `.` ([a-z_][a-z0-9_.]*)")
        }
        _ => None,
    }
}

/// Settings take a scalar; a string must stay on one line of `postgresql.conf`.
pub(super) fn setting_value_problem(value: &Value) -> Option<&'static str> {
    match value {
        Value::Bool(_) | Value::Number(_) => None,
        Value::String(s) if s.chars().any(char::is_control) => {
            Some("must not contain control characters such as newlines")
        }
        Value::String(_) => None,
        Value::Null => Some("has no value: give a string, number or boolean"),
        Value::Array(_) => Some("must be a string, number or boolean, not a list"),
        Value::Object(_) => Some("must be a string, number or boolean, not a map"),
    }
}

pub(super) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The version lands in a download URL and a file name.
pub(super) fn stroppy_version_problem(v: &str) -> Option<&'static str> {
    if v.is_empty() || v.len() > 64 {
        Some("give a release such as 6.1.1")
    } else if !v.starts_with(|c: char| c.is_ascii_alphanumeric())
        || v.chars()
            .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_')))
    {
        Some("use letters, digits, `.`, `-`, `+` and `_`, as in 6.1.1")
    } else {
        None
    }
}

/// The workload is one command-line argument, never an option.
pub(super) fn stroppy_workload_problem(w: &str) -> Option<&'static str> {
    if w.is_empty() || w.len() > 256 {
        Some("give one such as tpcc/tx or tpcb/tx")
    } else if w.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it must not contain spaces or control characters")
    } else if w.starts_with('-') {
        Some("it must not start with `-` (it would be read as an option)")
    } else {
        None
    }
}

/// A release's checksum: 64 hex digits.
pub(super) fn sha256_problem(h: &str) -> Option<&'static str> {
    (h.len() != 64 || !h.chars().all(|c| c.is_ascii_hexdigit()))
        .then_some("give the release tarball's SHA-256 as 64 hex digits (`sha256sum stroppy_linux_amd64.tar.gz`)")
}
