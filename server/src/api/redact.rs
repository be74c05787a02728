//! Secrets in run data never leave through the API: a run's input and output hold what its
//! tasks were given (a database's per-run password, a suite's `env` for Stroppy), and the
//! API shows them masked. Agents still get the real values in their assignments.

use engine::model::{RunState, TaskState};
use serde_json::Value;

/// What a secret is shown as.
pub const MASK: &str = "********";

/// Keys whose value is a secret, whatever the workflow.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "access_key",
        "private_key",
    ]
    .iter()
    .any(|s| key.ends_with(s))
}

/// Mask secrets anywhere in `value`: values under secret-looking keys, every value of an
/// `env` map (environment variables carry credentials), and the password of a URL
/// (`postgres://user:password@host`).
pub fn value(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if is_secret_key(key) && !v.is_null() {
                    *v = Value::String(MASK.into());
                } else if key == "env" && v.is_object() {
                    if let Value::Object(env) = v {
                        for item in env.values_mut() {
                            *item = Value::String(MASK.into());
                        }
                    }
                } else {
                    self::value(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(self::value),
        Value::String(s) => {
            if let Some(masked) = url_without_password(s) {
                *s = masked;
            }
        }
        _ => {}
    }
}

/// `scheme://user:password@rest` → `scheme://user:********@rest`; `None` when there is no
/// password in it.
fn url_without_password(s: &str) -> Option<String> {
    let (scheme, rest) = s.split_once("://")?;
    let (userinfo, after) = rest.split_once('@')?;
    // A `/` before the `@` means the `@` is not in the authority.
    if userinfo.contains('/') {
        return None;
    }
    let (user, password) = userinfo.split_once(':')?;
    (!password.is_empty() && password != MASK).then(|| format!("{scheme}://{user}:{MASK}@{after}"))
}

pub fn run(run: &mut RunState) {
    value(&mut run.input);
    if let Some(output) = &mut run.output {
        value(output);
    }
}

pub fn task(task: &mut TaskState) {
    if let Some(output) = &mut task.output {
        value(output);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passwords_env_values_and_url_passwords_are_masked() {
        let mut v = json!({
            "database": {"password": "s3cret", "settings": {"work_mem": "4MB"}},
            "load": {"tool": "stroppy", "PGPASSWORD": "x", "driver_url": "postgres://postgres:s3cret@10.0.0.5:5432/postgres",
                     "env": {"WAREHOUSES": "10", "API_KEY": "k"}},
            "list": [{"session_token": "t"}, "https://example.com/a@b"],
            "password": null,
        });
        value(&mut v);
        assert_eq!(v["database"]["password"], MASK);
        assert_eq!(v["database"]["settings"]["work_mem"], "4MB");
        assert_eq!(v["load"]["PGPASSWORD"], MASK);
        assert_eq!(
            v["load"]["driver_url"],
            format!("postgres://postgres:{MASK}@10.0.0.5:5432/postgres")
        );
        assert_eq!(
            v["load"]["env"],
            json!({"WAREHOUSES": MASK, "API_KEY": MASK})
        );
        assert_eq!(v["list"][0]["session_token"], MASK);
        // No password in it: left alone.
        assert_eq!(v["list"][1], "https://example.com/a@b");
        assert!(v["password"].is_null());
        assert!(!v.to_string().contains("s3cret"));
    }
}
