//! `etcd.start`: a one-member etcd, the store a Patroni cluster keeps its leader lock in.
//! The v2 API is on (Patroni's `etcd` client speaks it). A daemon under the unprivileged
//! PostgreSQL user when the agent is root, its data under `<work dir>/etcd`.

use std::ffi::OsString;
use std::time::Duration;

use protocol::actions::{EtcdInstance, EtcdStartInput};

use crate::actions::postgres::run_as;
use crate::actions::process;
use crate::actions::{ActionContext, ActionResult, output, plain_host};

const READY_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn start(ctx: &ActionContext) -> ActionResult {
    let input: EtcdStartInput = ctx.input_as()?;
    plain_host("listen_address", &input.listen_address)?;
    let ids = run_as(ctx)?;
    let dir = crate::actions::fresh_daemon_dir(ctx, "etcd", ids)?;
    let url = |port: u16| format!("http://{}:{port}", input.listen_address);
    let (client, peer) = (url(input.client_port), url(input.peer_port));
    let args: Vec<OsString> = [
        "--name",
        "dcs",
        "--data-dir",
        &dir.join("data").to_string_lossy(),
        "--listen-client-urls",
        &client,
        "--advertise-client-urls",
        &client,
        "--listen-peer-urls",
        &peer,
        "--initial-advertise-peer-urls",
        &peer,
        "--initial-cluster",
        &format!("dcs={peer}"),
        "--enable-v2=true",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    let program = process::system_program("etcd");
    let log = dir.join("etcd.log");
    process::spawn_daemon(ctx, &program, &args, &log, &dir, ids)?;
    let health = format!("{client}/health");
    if let Err(e) = crate::actions::wait_http_ok(ctx, &health, READY_TIMEOUT).await {
        for line in process::tail_of(&log, 10) {
            ctx.log.line(format!("etcd: {line}"));
        }
        return Err(e);
    }
    let version = process::version_line(&program, "--version", &ctx.attempt_dir)
        .await
        .unwrap_or_else(|| "etcd".into());
    ctx.log.line(format!(
        "ratchet-agent: {version} serves {client} (v2 API on)"
    ));
    output(&EtcdInstance {
        host: input.listen_address.clone(),
        port: input.client_port,
        version,
    })
}
