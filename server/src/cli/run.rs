//! `ratchet run -f suite.yaml`: submit a suite to a server, follow it with one progress bar
//! per test (its current steps), print the results table, and exit non-zero unless every
//! test completed. Ctrl-C cancels the suite (its machines are torn down) and waits for it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::document::Format;
use crate::stroppy::report;
use crate::stroppy::view::{SuiteStatus, SuiteView, TestStatus};

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The suite specification (YAML, or JSON for a `.json` file).
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// The Ratchet server.
    #[arg(
        long,
        env = "RATCHET_SERVER_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// An API token with the `write` scope.
    #[arg(long, env = "RATCHET_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Print the suite's final state as JSON (the API's shape) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Check the suite and print what it would provision (JSON), running nothing.
    #[arg(long)]
    pub plan: bool,
    /// Write the suite's report as Markdown to this file once it ends.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Write the suite's report as JUnit XML to this file once it ends (a failed or
    /// regressed test is a failed test case).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// What makes the exit code non-zero: a failed test, or also a regression verdict.
    #[arg(long, value_enum, default_value = "failure")]
    pub fail_on: FailOn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// A test that failed (or a suite cancelled).
    Failure,
    /// That, or a test with a regression verdict against the baseline.
    Regression,
}

/// A client of one server.
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    pub fn new(base: &str, token: &str) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
        }
    }

    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<T> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the Ratchet server at {}", self.base))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return serde_json::from_value(body).with_context(|| {
                format!(
                    "the server at {} answered something this CLI cannot read (another version?)",
                    self.base
                )
            });
        }
        let mut message = body["detail"].as_str().unwrap_or("no detail").to_string();
        for e in body["errors"].as_array().into_iter().flatten() {
            let at = match (e["line"].as_u64(), e["column"].as_u64()) {
                (Some(l), Some(c)) => format!(" (line {l}, column {c})"),
                _ => String::new(),
            };
            message.push_str(&format!(
                "\n  {}{at}: {}",
                e["path"].as_str().unwrap_or(""),
                e["message"].as_str().unwrap_or("")
            ));
        }
        bail!("the server answered {status}: {message}")
    }

    pub async fn submit(&self, text: String, format: Format) -> anyhow::Result<SuiteView> {
        self.send(self.suite_post(text, format, false)).await
    }

    /// What the suite would provision (`?dry_run=true`).
    pub async fn plan(&self, text: String, format: Format) -> anyhow::Result<Value> {
        self.send(self.suite_post(text, format, true)).await
    }

    fn suite_post(&self, text: String, format: Format, dry_run: bool) -> reqwest::RequestBuilder {
        let content_type = match format {
            Format::Json => "application/json",
            Format::Yaml => "application/yaml",
        };
        self.http
            .post(format!("{}/api/v1/suites?dry_run={dry_run}", self.base))
            .header("content-type", content_type)
            .body(text)
    }

    pub(crate) fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.base))
    }

    pub(crate) fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .json(&serde_json::json!({}))
    }

    async fn suite(&self, id: &str) -> anyhow::Result<SuiteView> {
        self.send(self.get(&format!("/api/v1/suites/{id}"))).await
    }

    /// The suite's report as `format` (`markdown`, `junit`) renders it.
    async fn report(&self, id: uuid::Uuid, format: &str) -> anyhow::Result<String> {
        let response = self
            .get(&format!("/api/v1/suites/{id}/report?format={format}"))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the Ratchet server at {}", self.base))?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("the server answered {status} for the {format} report: {text}");
        }
        Ok(text)
    }

    async fn cancel(&self, id: &str) -> anyhow::Result<SuiteView> {
        self.send(self.post(&format!("/api/v1/suites/{id}/cancel")))
            .await
    }
}

pub async fn run(args: RunArgs) -> anyhow::Result<bool> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let client = Client::new(&args.server, &args.token);
    if args.plan {
        let plan = client.plan(text, Format::from_path(&args.file)).await?;
        println!("{}", serde_json::to_string_pretty(&plan)?);
        return Ok(true);
    }
    let suite = client.submit(text, Format::from_path(&args.file)).await?;
    eprintln!("suite {} submitted: {}", suite.name, suite.id);
    let done = follow(&client, suite.id, !args.json).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&done)?);
    } else {
        print_results(&done);
    }
    for (path, format) in [(&args.report, "markdown"), (&args.junit, "junit")] {
        if let Some(path) = path {
            let text = client.report(done.id, format).await?;
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("{format} report written to {}", path.display());
        }
    }
    Ok(succeeded(&done, args.fail_on))
}

/// Every test completed (and, with `--fail-on regression`, none regressed).
pub fn succeeded(suite: &SuiteView, fail_on: FailOn) -> bool {
    let ran = match suite.status {
        SuiteStatus::Completed => true,
        SuiteStatus::Regressed => fail_on == FailOn::Failure,
        _ => false,
    };
    ran && suite
        .tests
        .iter()
        .all(|t| t.status == TestStatus::Completed)
}

/// Follow a suite until it ends; answers its final state.
pub async fn follow(client: &Client, id: uuid::Uuid, progress: bool) -> anyhow::Result<SuiteView> {
    let bars = MultiProgress::with_draw_target(if progress {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let style = ProgressStyle::with_template("{prefix:>16} [{bar:24}] {pos}/{len} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let mut by_test: Vec<(String, ProgressBar)> = Vec::new();
    let mut cancelled = false;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let id = id.to_string();
    loop {
        let suite = client.suite(&id).await?;
        for test in &suite.tests {
            let bar = match by_test.iter().find(|(n, _)| *n == test.name) {
                Some((_, bar)) => bar.clone(),
                None => {
                    let bar = bars.add(
                        ProgressBar::new(1)
                            .with_style(style.clone())
                            .with_prefix(test.name.clone()),
                    );
                    by_test.push((test.name.clone(), bar.clone()));
                    bar
                }
            };
            bar.set_length(test.steps_total.max(1) as u64);
            bar.set_position(test.steps_done as u64);
            let status = test.status.as_str();
            let steps: Vec<&str> = test.steps.iter().map(|s| s.as_str()).collect();
            bar.set_message(if steps.is_empty() {
                status.to_string()
            } else {
                format!("{status}: {}", steps.join(", "))
            });
        }
        if suite.status.has_ended() {
            for (_, bar) in &by_test {
                bar.finish();
            }
            return Ok(suite);
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = &mut ctrl_c, if !cancelled => {
                cancelled = true;
                let _ = bars.println("cancelling the suite; its machines are being torn down…");
                client.cancel(&id).await?;
            }
        }
    }
}

pub fn print_results(suite: &SuiteView) {
    println!();
    println!(
        "suite {} ({}): {}",
        suite.name,
        suite.id,
        suite.status.as_str()
    );
    let Some(result) = &suite.result else {
        for t in &suite.tests {
            println!("{:<20} {:>10}", t.name, t.status.as_str());
        }
        return;
    };
    let rows: Vec<[String; 8]> = result
        .tests
        .iter()
        .map(|t| report::cells(t, &result.baseline))
        .collect();
    let widths: Vec<usize> = (0..report::COLUMNS.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([report::COLUMNS[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(report::COLUMNS.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    println!(
        "baseline: {}; best: {}; worst: {}; significant: beyond ±{:.1} % at {:.0} % confidence",
        result.baseline,
        result.best.as_deref().unwrap_or("-"),
        result.worst.as_deref().unwrap_or("-"),
        result.significance.min_effect * 100.0,
        result.significance.confidence * 100.0,
    );
    if !result.unsteady.is_empty() {
        println!("not steady: {}", result.unsteady.join(", "));
    }
    if let Some(e) = &suite.error {
        println!("{e}");
    }
    for t in &suite.tests {
        if let Some(e) = &t.error {
            println!("{} failed: {e}", t.name);
        }
    }
}
