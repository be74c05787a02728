//! `ratchet -handshake-file F …`: Ratchet as the engine of Hatchet's
//! `Hatchet.from_embedded()` (with `HATCHET_CLIENT_EMBEDDED_BINARY_PATH` set to `ratchet`).
//!
//! The SDK starts the binary with Go-style single-dash flags and a piped stdin, waits for
//! `F` to hold `{"token", "tenant_id", "grpc_address", "api_url"}`, and ends the process
//! with SIGTERM; the process also ends when its stdin closes, so it never outlives the
//! program that started it. It serves the REST API, the dashboard and Hatchet's gRPC
//! protocol, on SQLite in a data dir of its own per working directory unless given
//! `-database-url`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;
use engine::clock::{Clock, SystemClock};
use tokio::io::AsyncReadExt;

use crate::config::ServeArgs;
use crate::tokens::{KIND_API, NewToken, Scope};

/// The flags `hatchet_sdk/embedded.py` passes (single-dash in its Go original).
#[derive(Debug, Parser)]
#[command(name = "ratchet (as Hatchet's embedded engine)")]
pub struct EmbeddedArgs {
    /// Where to write the handshake once ready.
    #[arg(long)]
    pub handshake_file: PathBuf,
    /// PostgreSQL instead of the embedded SQLite.
    #[arg(long)]
    pub database_url: Option<String>,
    /// The data dir (SQLite and local machines); a per-directory one under
    /// ~/.ratchet/embedded if unset. (Hatchet keeps its bundled PostgreSQL there.)
    #[arg(long)]
    pub postgres_data_dir: Option<PathBuf>,
    /// gRPC port; a free one if unset.
    #[arg(long)]
    pub grpc_port: Option<u16>,
    /// REST API and dashboard port; a free one if unset.
    #[arg(long)]
    pub api_port: Option<u16>,
    /// Accepted for compatibility: the REST API is always served (the SDK uses it).
    #[arg(long)]
    pub no_api: bool,
    /// Accepted for compatibility: the migrations always run (they are idempotent).
    #[arg(long)]
    pub no_migrations: bool,
    /// `error`, `warn`, `info`, `debug` (default `warn`: the SDK's terminal is the user's).
    #[arg(long, default_value = "warn")]
    pub log_level: String,
    /// Accepted for compatibility and ignored: Ratchet needs no message queue.
    #[arg(long)]
    pub rabbitmq_url: Option<String>,
}

/// Is this command line the SDK's?
pub fn is_embedded(args: &[String]) -> bool {
    args.iter()
        .skip(1)
        .any(|a| a == "-handshake-file" || a.starts_with("-handshake-file="))
}

/// The SDK's flags as clap reads them (`-grpc-port` → `--grpc-port`).
pub fn parse(args: &[String]) -> Result<EmbeddedArgs, clap::Error> {
    let args = args.iter().enumerate().map(|(i, a)| {
        if i > 0 && a.starts_with('-') && !a.starts_with("--") && a.len() > 2 {
            format!("-{a}")
        } else {
            a.clone()
        }
    });
    EmbeddedArgs::try_parse_from(args)
}

pub async fn run(args: EmbeddedArgs) -> anyhow::Result<()> {
    if args.rabbitmq_url.is_some() {
        tracing::warn!("-rabbitmq-url is ignored: Ratchet needs no message queue");
    }
    let data_dir = match &args.postgres_data_dir {
        Some(dir) => dir.clone(),
        None => default_data_dir()?,
    };
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
    let api = bind(args.api_port, "-api-port").await?;
    let grpc = bind(args.grpc_port, "-grpc-port").await?;
    let (api_addr, grpc_addr) = (api.local_addr()?, grpc.local_addr()?);
    let api_url = format!("http://{api_addr}");

    let mut flags = vec![
        "ratchet".to_string(),
        format!("--listen={api_addr}"),
        format!("--hatchet-listen={grpc_addr}"),
        format!("--public-url={api_url}"),
        format!("--data-dir={}", data_dir.display()),
    ];
    if let Some(url) = &args.database_url {
        flags.push(format!("--database-url={url}"));
    }
    let serve = ServeFlags::try_parse_from(flags)?.serve;

    // The SDK's token: created before the server starts, revoked when it stops.
    let store = crate::serve::open_store(&serve.store).await?;
    let now = SystemClock.now();
    let tenant_id = store.installation().await?.id.to_string();
    let key = crate::hatchet::signing_key(store.as_ref(), now).await?;
    let new = NewToken {
        kind: KIND_API,
        name: "hatchet-embedded".into(),
        scopes: vec![Scope::Admin.as_str().into()],
        labels: Default::default(),
        run_id: None,
        worker_id: None,
        expires_at: None,
    };
    let claims = crate::hatchet::HatchetToken {
        tenant_id: tenant_id.clone(),
        server_url: api_url.clone(),
        grpc_address: grpc_addr.to_string(),
    };
    let (token, record) =
        crate::hatchet::create_token(store.as_ref(), &key, new, claims, now).await?;
    store.close().await;

    let stop = async {
        tokio::select! {
            () = crate::serve::shutdown_signal() => {}
            () = stdin_closed() => tracing::info!("stdin closed: stopping"),
        }
    };
    let server = tokio::spawn(crate::serve::run_on(serve.clone(), api, Some(grpc), stop));
    super::demo::wait_ready(&api_url, &server).await?;
    let handshake = serde_json::json!({
        "token": token,
        "tenant_id": tenant_id,
        "grpc_address": grpc_addr.to_string(),
        "api_url": api_url,
    });
    write_handshake(&args.handshake_file, &handshake)?;
    eprintln!(
        "ratchet: the embedded Hatchet engine is ready (dashboard {api_url}, gRPC {grpc_addr}, data {})",
        data_dir.display()
    );
    let served = server.await.context("the server task failed")?;

    let store = crate::serve::open_store(&serve.store).await?;
    let _ = store.revoke_token(record.id, SystemClock.now()).await;
    store.close().await;
    served
}

/// `serve`'s flags, parsed from a command line built here (its environment variables
/// still apply to what it does not name).
#[derive(Parser)]
struct ServeFlags {
    #[command(flatten)]
    serve: ServeArgs,
}

async fn bind(port: Option<u16>, flag: &str) -> anyhow::Result<tokio::net::TcpListener> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port.unwrap_or(0)));
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} ({flag})"))
}

/// One data dir per working directory, as Hatchet keeps one per project.
fn default_data_dir() -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let home = std::env::var_os("HOME").context("HOME is not set: pass -postgres-data-dir")?;
    let digest = &crate::tokens::hash(&cwd.to_string_lossy())[..12];
    let name = cwd
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Path::new(&home)
        .join(".ratchet/embedded")
        .join(format!("{name}-{digest}")))
}

/// Written whole (a temporary file renamed into place): the SDK never reads half of it.
/// It holds an admin token: only its owner may read it, from its first byte.
fn write_handshake(path: &Path, handshake: &serde_json::Value) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    crate::infra::write_private(&tmp, &handshake.to_string())
        .with_context(|| format!("cannot write the handshake {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot write the handshake {}", path.display()))
}

/// Ends when stdin reaches its end (the parent closed the pipe or exited).
async fn stdin_closed() {
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 256];
    loop {
        match stdin.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn the_sdks_command_line_is_recognised_and_parsed() {
        let args = line(&[
            "ratchet",
            "-handshake-file",
            "/tmp/h.json",
            "-grpc-port",
            "7077",
            "-no-api",
            "-log-level",
            "debug",
        ]);
        assert!(is_embedded(&args));
        assert!(!is_embedded(&line(&["ratchet", "serve"])));
        let parsed = parse(&args).unwrap();
        assert_eq!(parsed.handshake_file, PathBuf::from("/tmp/h.json"));
        assert_eq!(parsed.grpc_port, Some(7077));
        assert!(parsed.no_api);
        assert_eq!(parsed.log_level, "debug");
        let err = parse(&line(&[
            "ratchet",
            "-handshake-file",
            "h",
            "-grpc-port",
            "many",
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("many"), "{err}");
    }
}
