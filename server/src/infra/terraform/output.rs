//! Terraform's machine-readable output (`-json`: one JSON object a line) as log lines, and
//! the masking of secrets in whatever Terraform prints.

use serde::Deserialize;

/// One line of `terraform apply -json`, as the run's log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub message: String,
    /// An error diagnostic: it says why the command failed.
    pub is_error: bool,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "@level", default)]
    level: String,
    #[serde(rename = "@message", default)]
    message: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    diagnostic: Option<Diagnostic>,
}

#[derive(Deserialize)]
struct Diagnostic {
    #[serde(default)]
    severity: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    detail: String,
    #[serde(default)]
    address: Option<String>,
}

/// A `-json` line as a log line; `None` when it is not Terraform's JSON (then it is
/// logged as printed).
pub fn parse_line(line: &str) -> Option<Line> {
    let raw: Raw = serde_json::from_str(line).ok()?;
    if raw.kind == "diagnostic"
        && let Some(d) = raw.diagnostic
    {
        let is_error = d.severity == "error";
        let mut message = format!("{}: {}", d.severity, d.summary);
        if let Some(address) = d.address.filter(|a| !a.is_empty()) {
            message = format!("{message} ({address})");
        }
        if !d.detail.is_empty() {
            message = format!(
                "{message}: {}",
                d.detail.split_whitespace().collect::<Vec<_>>().join(" ")
            );
        }
        return Some(Line { message, is_error });
    }
    Some(Line {
        is_error: raw.level == "error",
        message: raw.message,
    })
}

/// The values that must never reach a log: tokens in the machines' user data, cloud
/// credentials.
#[derive(Debug, Clone, Default)]
pub struct Secrets(Vec<String>);

/// Shorter values are not masked (they would mask ordinary words).
const MIN_SECRET: usize = 8;

impl Secrets {
    pub fn add(&mut self, secret: impl Into<String>) {
        let secret = secret.into();
        if secret.len() >= MIN_SECRET && !self.0.contains(&secret) {
            self.0.push(secret);
        }
    }

    /// `text` with every secret replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in &self.0 {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "***");
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_show_their_message() {
        let line = r#"{"@level":"info","@message":"null_resource.machine[\"a\"]: Creating...","@module":"terraform.ui","type":"apply_start"}"#;
        assert_eq!(
            parse_line(line),
            Some(Line {
                message: "null_resource.machine[\"a\"]: Creating...".into(),
                is_error: false
            })
        );
    }

    #[test]
    fn an_error_diagnostic_says_what_and_where() {
        let line = r#"{"@level":"error","@message":"Error: quota exceeded","type":"diagnostic","diagnostic":{"severity":"error","summary":"quota exceeded","detail":"compute.instances.count\n  limit 12","address":"yandex_compute_instance.machine[\"db\"]"}}"#;
        let parsed = parse_line(line).unwrap();
        assert!(parsed.is_error);
        assert_eq!(
            parsed.message,
            "error: quota exceeded (yandex_compute_instance.machine[\"db\"]): compute.instances.count limit 12"
        );
    }

    #[test]
    fn other_lines_are_not_terraform_json() {
        assert_eq!(parse_line("Initializing the backend..."), None);
        assert_eq!(parse_line("[1, 2]"), None);
    }

    #[test]
    fn secrets_are_masked_and_short_values_are_not_secrets() {
        let mut secrets = Secrets::default();
        secrets.add("rt_enroll_0123456789");
        secrets.add("abc");
        assert_eq!(
            secrets.mask("token rt_enroll_0123456789 twice rt_enroll_0123456789; abc"),
            "token *** twice ***; abc"
        );
    }
}
