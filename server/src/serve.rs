//! `ratchet serve`: open the store and the bus, bind, serve until SIGINT/SIGTERM, then
//! drain requests and close connections.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use engine::clock::SystemClock;
use engine::store::{self, DatabaseTarget};
use engine::{Engine, EngineConfig};

use protocol::actions::PostgresRuntime;

use crate::config::{Runtime, ServeArgs, StoreArgs};
use crate::infra::agent_binary::AgentBinary;
use crate::infra::leak_guard::LeakGuard;
use crate::infra::local::{self, LocalProvider};
use crate::infra::network::NetworkPool;
use crate::infra::terraform::Terraform;
use crate::infra::yandex::state::StateBackend;
use crate::infra::yandex::{VmDefaults, YandexConfig, YandexParts, YandexProvider};
use crate::infra::{Provider, Providers};
use crate::state::AppState;
use crate::stroppy::workflows::{self, Domain};
use crate::telemetry::Telemetry;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    // Bind first: a port in use is the cheapest mistake to report.
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (set RATCHET_LISTEN or --listen to a free address)",
                args.listen
            )
        })?;
    let hatchet_listener = match args.hatchet_listen {
        Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.with_context(|| {
            format!(
                "cannot listen on {addr} for Hatchet (set RATCHET_HATCHET_LISTEN to a free address)"
            )
        })?),
        None => None,
    };
    run_on(args, listener, hatchet_listener, shutdown_signal()).await
}

/// Serve on bound listeners (the HTTP API, and Hatchet's gRPC if given) until `shutdown`.
pub async fn run_on(
    args: ServeArgs,
    listener: tokio::net::TcpListener,
    hatchet_listener: Option<tokio::net::TcpListener>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = open_store(&args.store).await?;
    let bus = engine::bus::connect(args.valkey_url.as_deref()).await?;
    let installation = store.installation().await?;
    let bound = listener.local_addr()?;
    tracing::info!(
        listen = %bound,
        store = %store.kind(),
        bus = %bus.kind(),
        installation = %installation.id,
        "ratchet {} serving on http://{}",
        env!("CARGO_PKG_VERSION"),
        bound
    );

    let stroppy_pins = crate::stroppy::releases::Pins::parse(&args.stroppy_releases)?;
    // The engine's sweeper runs from start-up (timeouts, lost workers, sleeps of runs left
    // by an earlier process); workers register with it as the domain and agents arrive.
    if args.agent_lease < std::time::Duration::from_secs(2) {
        anyhow::bail!("RATCHET_AGENT_LEASE must be at least 2s");
    }
    let defaults = EngineConfig::default();
    let config = EngineConfig {
        worker_timeout: args.agent_lease,
        // The in-process workers beat well within the lease, or they would look lost.
        heartbeat_interval: defaults.heartbeat_interval.min(args.agent_lease / 3),
        ..defaults
    };
    let engine = Arc::new(Engine::with(
        store.clone(),
        bus.clone(),
        Arc::new(SystemClock),
        config,
    ));
    let telemetry = Telemetry::start(engine.reads(), args.trace_url_template.clone())?;
    engine.observe(telemetry.clone());
    let metrics_token = metrics_token(args.metrics_token.as_deref())?;
    if let Some(token) =
        crate::tokens::bootstrap_admin(store.as_ref(), args.admin_token.as_deref(), engine.now())
            .await?
    {
        show_first_admin_token(&token, &args.store.data_dir)?;
    }
    let agent_path = args
        .agent_bin
        .clone()
        .unwrap_or_else(local::default_agent_binary);
    // Served to cloud machines; a missing binary matters to them only (and is said then).
    let agent_binary = AgentBinary::load(agent_path.clone());
    let domain = start_domain(
        &engine,
        &telemetry,
        &args,
        bound,
        &agent_path,
        agent_binary.as_ref(),
    )
    .await?;
    let agent_binary = agent_binary.ok();
    let state = AppState {
        reads: engine.reads(),
        engine: engine.clone(),
        agent_lease: args.agent_lease,
        limits: Default::default(),
        stroppy_pins,
        providers: domain.providers,
        agent_binary,
        telemetry: telemetry.clone(),
        metrics_token,
    };
    let hatchet = match hatchet_listener {
        Some(listener) => {
            let tenant = installation.id.to_string();
            Some(crate::hatchet::start(&engine, listener, tenant, args.agent_lease).await?)
        }
        None => None,
    };
    axum::serve(listener, crate::api::router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .context("the HTTP server failed")?;
    // Listening workers hold their streams open: they are cut, not drained.
    if let Some(hatchet) = hatchet {
        hatchet.abort();
    }

    tracing::info!("shutting down");
    engine.shutdown().await;
    telemetry.shutdown();
    bus.close().await;
    store.close().await;
    Ok(())
}

/// `RATCHET_METRICS_TOKEN` as the digest requests are checked against.
fn metrics_token(token: Option<&str>) -> anyhow::Result<Option<[u8; 32]>> {
    use sha2::Digest;
    match token.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) if t.len() < 16 => {
            anyhow::bail!("RATCHET_METRICS_TOKEN must be at least 16 characters")
        }
        Some(t) => Ok(Some(sha2::Sha256::digest(t.as_bytes()).into())),
    }
}

/// The first start's admin token goes to a person, never into the log stream (which may be
/// shipped anywhere): on the terminal when there is one, else into a file only this user
/// reads, whose path the log names. Only the token's hash is kept in the database.
fn show_first_admin_token(token: &str, data_dir: &Path) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprintln!(
            "\nFirst start: created the admin API token (shown only now; keep it):\n\n    {token}\n\nUse it as `Authorization: Bearer <token>`.\n"
        );
        return Ok(());
    }
    let path = data_dir.join("first-admin-token");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::remove_file(&path);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(format!("{token}\n").as_bytes()))
            .with_context(|| format!("cannot write the admin token to {}", path.display()))?;
    }
    tracing::warn!(
        file = %path.display(),
        "first start: created the admin API token; it is in this file only (read it, keep it elsewhere, delete the file)"
    );
    Ok(())
}

/// Register the suite workflows, make the providers and start the worker for the
/// server-side steps and the leak guard.
async fn start_domain(
    engine: &Arc<Engine>,
    telemetry: &Arc<Telemetry>,
    args: &ServeArgs,
    bound: std::net::SocketAddr,
    agent_path: &Path,
    agent_binary: Result<&AgentBinary, &std::io::Error>,
) -> anyhow::Result<Domain> {
    for def in workflows::definitions() {
        engine
            .register_workflow(&def)
            .await
            .with_context(|| format!("cannot register the workflow {}", def.name))?;
    }
    let mut url_args = args.clone();
    url_args.listen = bound;
    let data_dir = std::fs::canonicalize(&args.store.data_dir)?;
    let unreachable = crate::infra::local::prepare_machines_dir(&data_dir);
    if let Some(problem) = &unreachable {
        tracing::error!("{problem}");
    }
    let local = LocalProvider {
        tokens: engine.tokens(),
        leases: engine.leases(),
        data_dir: data_dir.clone(),
        server_url: url_args.agent_facing_url(),
        agent_binary: agent_path.to_path_buf(),
        quota: LocalProvider::quota(args.local_max_machines, args.local_max_cores),
        network: NetworkPool::loopback(),
        unreachable,
    };
    let yandex = if args.yandex.enabled() {
        let agent = agent_binary.map_err(|e| {
            anyhow::anyhow!(
                "the yandex target serves the agent binary to its VMs: cannot read {}: {e} (build it with `cargo build -p ratchet-agent`, or set RATCHET_AGENT_BIN)",
                agent_path.display()
            )
        })?;
        let provider = yandex_provider(engine, args, &url_args, data_dir, agent).await?;
        Some(Arc::new(provider) as Arc<dyn Provider>)
    } else {
        None
    };
    let providers = Providers {
        local: Arc::new(local),
        yandex,
    };
    let domain = Domain {
        reads: engine.reads(),
        leases: engine.leases(),
        tokens: engine.tokens(),
        providers: providers.clone(),
    };
    engine.start_worker(workflows::worker(Arc::new(domain.clone())));
    LeakGuard {
        engine: engine.clone(),
        telemetry: telemetry.clone(),
        providers,
        interval: args.leak_guard_interval,
    }
    .spawn();
    Ok(domain)
}

async fn yandex_provider(
    engine: &Engine,
    args: &ServeArgs,
    url_args: &ServeArgs,
    data_dir: std::path::PathBuf,
    agent: &AgentBinary,
) -> anyhow::Result<YandexProvider> {
    let y = &args.yandex;
    let subnets = NetworkPool::parse(&y.subnet_pool)
        .map_err(|e| anyhow::anyhow!("RATCHET_YANDEX_SUBNET_POOL: {e}"))?;
    let config = YandexConfig {
        module: y.module.clone(),
        folder_id: y.folder_id.clone().unwrap_or_default(),
        zone: y.zone.clone(),
        network_id: y.network_id.clone(),
        nat_gateway: y.nat_gateway,
        server_url: y
            .server_url
            .clone()
            .unwrap_or_else(|| url_args.agent_facing_url()),
        server_cidrs: y.server_cidrs.clone(),
        egress_cidrs: y.egress_cidrs.clone(),
        vm: VmDefaults {
            platform: y.platform.clone(),
            core_fraction: y.core_fraction,
            disk_type: y.disk_type.clone(),
            image_family: y.image_family.clone(),
            image_id: y.image_id.clone(),
            public_ip: y.public_ip,
        },
        database_runtime: match y.database_runtime {
            Runtime::Docker => PostgresRuntime::Docker,
            Runtime::Native => PostgresRuntime::Native,
        },
        subnets,
        max_vms: y.max_vms,
        max_cores: y.max_cores,
        max_memory_gb: y.max_memory_gb,
        agent_wait: y.agent_wait,
    };
    let terraform = Terraform {
        bin: y
            .terraform_bin
            .clone()
            .unwrap_or_else(|| "terraform".into()),
        cli_config: y.terraform_cli_config.clone(),
    };
    let state_url = y.terraform_state_url.clone().or_else(|| {
        args.store
            .database_url
            .clone()
            .filter(|u| u.starts_with("postgres"))
    });
    let state = match state_url {
        Some(url) if url != "local" => {
            // Terraform's PostgreSQL driver (lib/pq) knows no `prefer` or `allow`.
            if ["sslmode=prefer", "sslmode=allow"]
                .iter()
                .any(|m| url.contains(m))
            {
                anyhow::bail!(
                    "Terraform's pg backend takes sslmode disable, require, verify-ca or verify-full, not prefer or allow: set RATCHET_TERRAFORM_STATE_URL to a URL with one of those (or to `local`)"
                );
            }
            StateBackend::Postgres { url }
        }
        _ => StateBackend::Local,
    };
    let installation = engine.installation().await?;
    let provider = YandexProvider::new(
        config,
        YandexParts {
            terraform,
            state,
            tokens: engine.tokens(),
            leases: engine.leases(),
            data_dir,
            agent_sha256: agent.sha256.clone(),
            installation: installation.id.to_string(),
        },
    )
    .map_err(anyhow::Error::msg)?;
    tracing::info!(module = ?y.module, folder = ?y.folder_id, "the yandex target is on");
    Ok(provider)
}

pub async fn migrate(args: StoreArgs) -> anyhow::Result<()> {
    let store = open_store(&args).await?;
    tracing::info!(store = %store.kind(), "migrations applied");
    store.close().await;
    Ok(())
}

pub async fn open_store(args: &StoreArgs) -> anyhow::Result<Arc<dyn store::Store>> {
    let target = DatabaseTarget::from_url(args.database_url.as_deref(), &args.data_dir)?;
    prepare_data_dir(&args.data_dir)?;
    Ok(store::connect(&target).await?)
}

/// The data dir must exist and be writable even with PostgreSQL: local machines' work dirs
/// and Terraform state live there.
fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    let hint = "set RATCHET_DATA_DIR or --data-dir to a writable directory";
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data dir {} ({hint})", dir.display()))?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"ok")
        .with_context(|| format!("the data dir {} is not writable ({hint})", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
