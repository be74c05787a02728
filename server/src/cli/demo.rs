//! `ratchet demo`: the server on the embedded default, the example local suite submitted
//! to it and followed to the end, the results printed with the dashboard's URL, and the
//! server kept serving until Ctrl-C.

use std::time::Duration;

use anyhow::Context;

use crate::cli::run::{Client, follow, print_results};
use crate::config::ServeArgs;
use crate::document::Format;

/// The example every newcomer runs first (also in `examples/`).
const EXAMPLE: &str = include_str!("../../../examples/suite-local.yaml");

/// Where the demo's server logs.
pub fn log_file(args: &ServeArgs) -> std::path::PathBuf {
    args.store.data_dir.join("server.log")
}

pub async fn run(mut args: ServeArgs) -> anyhow::Result<()> {
    // The demo needs a token to drive its own server: keep one in the data dir (owner-only).
    std::fs::create_dir_all(&args.store.data_dir).with_context(|| {
        format!(
            "cannot create the data dir {}",
            args.store.data_dir.display()
        )
    })?;
    let token = match &args.admin_token {
        Some(t) => t.clone(),
        None => demo_token(&args.store.data_dir)?,
    };
    args.admin_token = Some(token.clone());
    let log = log_file(&args);
    let url = args.agent_facing_url();
    let server = tokio::spawn(crate::serve::run(args));
    let client = Client::new(&url, &token);
    wait_ready(&url, &server).await?;

    eprintln!(
        "\nRatchet is up: dashboard {url} (API token: {token})\nServer log: {}\nRunning the example suite (examples/suite-local.yaml)…\n",
        log.display()
    );
    let suite = client.submit(EXAMPLE.to_string(), Format::Yaml).await?;
    let id = suite.id;
    let done = follow(&client, id, true).await?;
    print_results(&done);
    println!(
        "\nSee it in the dashboard: {url}/suites/{id}  (token: {token})\nThe server keeps serving; Ctrl-C stops it."
    );
    server.await.context("the server task failed")?
}

fn demo_token(data_dir: &std::path::Path) -> anyhow::Result<String> {
    let path = data_dir.join("demo-admin-token");
    if let Ok(t) = std::fs::read_to_string(&path)
        && t.trim().len() >= 16
    {
        return Ok(t.trim().to_string());
    }
    let token = crate::tokens::generate(crate::tokens::KIND_API);
    crate::infra::write_private(&path, &token)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(token)
}

pub(crate) async fn wait_ready(
    url: &str,
    server: &tokio::task::JoinHandle<anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for _ in 0..600 {
        if server.is_finished() {
            anyhow::bail!("the server stopped during start-up (see the error above)");
        }
        if http
            .get(format!("{url}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the server did not become ready within 60 s")
}
