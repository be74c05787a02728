//! `ratchet run -f suite.yaml`: submit a suite to a server, follow it with one progress bar
//! per test (its current steps), print the results table, and exit non-zero unless every
//! test completed. Ctrl-C cancels the suite (its machines are torn down) and waits for it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use crate::document::Format;

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

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the Ratchet server at {}", self.base))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
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

    pub async fn submit(&self, text: String, format: Format) -> anyhow::Result<Value> {
        let content_type = match format {
            Format::Json => "application/json",
            Format::Yaml => "application/yaml",
        };
        self.send(
            self.http
                .post(format!("{}/api/v1/suites", self.base))
                .header("content-type", content_type)
                .body(text),
        )
        .await
    }

    async fn suite(&self, id: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(format!("{}/api/v1/suites/{id}", self.base)))
            .await
    }

    async fn cancel(&self, id: &str) -> anyhow::Result<Value> {
        self.send(
            self.http
                .post(format!("{}/api/v1/suites/{id}/cancel", self.base))
                .json(&serde_json::json!({})),
        )
        .await
    }
}

pub async fn run(args: RunArgs) -> anyhow::Result<bool> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let client = Client::new(&args.server, &args.token);
    let suite = client.submit(text, Format::from_path(&args.file)).await?;
    let id = suite["id"]
        .as_str()
        .context("the server answered no suite id")?
        .to_string();
    eprintln!(
        "suite {} submitted: {id}",
        suite["name"].as_str().unwrap_or("?")
    );
    let done = follow(&client, &id, !args.json).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&done)?);
    } else {
        print_results(&done);
    }
    Ok(succeeded(&done))
}

/// Every test completed.
pub fn succeeded(suite: &Value) -> bool {
    suite["status"] == "COMPLETED"
        && suite["tests"]
            .as_array()
            .is_some_and(|t| t.iter().all(|t| t["status"] == "COMPLETED"))
}

/// Follow a suite until it ends; answers its final state.
pub async fn follow(client: &Client, id: &str, progress: bool) -> anyhow::Result<Value> {
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
    loop {
        let suite = client.suite(id).await?;
        for test in suite["tests"].as_array().into_iter().flatten() {
            let name = test["name"].as_str().unwrap_or("?").to_string();
            let bar = match by_test.iter().find(|(n, _)| *n == name) {
                Some((_, bar)) => bar.clone(),
                None => {
                    let bar = bars.add(
                        ProgressBar::new(1)
                            .with_style(style.clone())
                            .with_prefix(name.clone()),
                    );
                    by_test.push((name, bar.clone()));
                    bar
                }
            };
            bar.set_length(test["steps_total"].as_u64().unwrap_or(0).max(1));
            bar.set_position(test["steps_done"].as_u64().unwrap_or(0));
            let status = test["status"].as_str().unwrap_or("?");
            let steps: Vec<&str> = test["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            bar.set_message(if steps.is_empty() {
                status.to_string()
            } else {
                format!("{status}: {}", steps.join(", "))
            });
        }
        if matches!(
            suite["status"].as_str(),
            Some("COMPLETED" | "FAILED" | "CANCELLED")
        ) {
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
                client.cancel(id).await?;
            }
        }
    }
}

fn fmt_opt(v: &Value, decimals: usize) -> String {
    v.as_f64()
        .map_or_else(|| "-".to_string(), |x| format!("{x:.decimals$}"))
}

pub fn print_results(suite: &Value) {
    println!();
    println!(
        "suite {} ({}): {}",
        suite["name"].as_str().unwrap_or("?"),
        suite["id"].as_str().unwrap_or("?"),
        suite["status"].as_str().unwrap_or("?")
    );
    let result = &suite["result"];
    let rows = result["tests"].as_array().cloned().unwrap_or_default();
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
    for t in &rows {
        let lat = &t["latency_ms"];
        println!(
            "{:<20} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>9}",
            t["name"].as_str().unwrap_or("?"),
            t["status"].as_str().unwrap_or("?"),
            fmt_opt(&t["tps"], 1),
            fmt_opt(&lat["p50"], 3),
            fmt_opt(&lat["p95"], 3),
            fmt_opt(&lat["p99"], 3),
            fmt_opt(&lat["max"], 3),
            fmt_opt(&t["tps_delta_pct"], 1),
            t["errors"].as_u64().map_or("-".into(), |e| e.to_string()),
            fmt_opt(&t["duration_s"], 0),
        );
    }
    if rows.is_empty() {
        for t in suite["tests"].as_array().into_iter().flatten() {
            println!(
                "{:<20} {:>10}",
                t["name"].as_str().unwrap_or("?"),
                t["status"].as_str().unwrap_or("?")
            );
        }
    }
    if let Some(base) = result["baseline"].as_str() {
        println!(
            "baseline: {base}; best: {}; worst: {}",
            result["best"].as_str().unwrap_or("-"),
            result["worst"].as_str().unwrap_or("-")
        );
    }
    for t in suite["tests"].as_array().into_iter().flatten() {
        if let Some(e) = t["error"].as_str() {
            println!("{} failed: {e}", t["name"].as_str().unwrap_or("?"));
        }
    }
}
