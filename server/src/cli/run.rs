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
    Ok(succeeded(&done))
}

/// Every test completed.
pub fn succeeded(suite: &SuiteView) -> bool {
    suite.status == SuiteStatus::Completed
        && suite
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

fn fmt_opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.decimals$}"))
}

pub fn print_results(suite: &SuiteView) {
    println!();
    println!(
        "suite {} ({}): {}",
        suite.name,
        suite.id,
        suite.status.as_str()
    );
    println!(
        "{:<20} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>9}",
        "test",
        "status",
        "tps",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "Δtps %",
        "errors",
        "seconds"
    );
    let rows = suite
        .result
        .as_ref()
        .map(|r| r.tests.as_slice())
        .unwrap_or_default();
    for t in rows {
        let lat = t.latency_ms.as_ref();
        println!(
            "{:<20} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>9}",
            t.name,
            t.status,
            fmt_opt(t.tps, 1),
            fmt_opt(lat.map(|l| l.p50), 3),
            fmt_opt(lat.map(|l| l.p95), 3),
            fmt_opt(lat.map(|l| l.p99), 3),
            fmt_opt(lat.map(|l| l.max), 3),
            fmt_opt(t.tps_delta_pct, 1),
            t.errors.map_or("-".into(), |e| e.to_string()),
            fmt_opt(t.duration_s, 0),
        );
    }
    if rows.is_empty() {
        for t in &suite.tests {
            println!("{:<20} {:>10}", t.name, t.status.as_str());
        }
    }
    if let Some(result) = &suite.result {
        println!(
            "baseline: {}; best: {}; worst: {}",
            result.baseline,
            result.best.as_deref().unwrap_or("-"),
            result.worst.as_deref().unwrap_or("-")
        );
    }
    for t in &suite.tests {
        if let Some(e) = &t.error {
            println!("{} failed: {e}", t.name);
        }
    }
}
