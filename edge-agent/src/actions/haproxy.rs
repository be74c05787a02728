//! `haproxy.start`: HAProxy handing each new connection to the next server that accepts
//! connections (TCP, round robin) — how a read-only load spreads over a test's standbys.
//! A daemon under the unprivileged PostgreSQL user when the agent is root, its files under
//! `<work dir>/haproxy`; the machine's teardown stops it.

use std::path::Path;
use std::time::Duration;

use protocol::actions::{HaproxyInstance, HaproxyStartInput};

use crate::actions::postgres::{run_as, write_private};
use crate::actions::process::{self, Cmd};
use crate::actions::{ActionContext, ActionError, ActionResult, output};

const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// At most this many servers behind one listener (a test has at most three replicas).
const MAX_SERVERS: usize = 16;

pub async fn start(ctx: &ActionContext) -> ActionResult {
    let input: HaproxyStartInput = ctx.input_as()?;
    check(&input)?;
    let ids = run_as(ctx)?;
    let dir = ctx.work_dir.join("haproxy");
    stop_running(&dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| ActionError::retryable(format!("cannot create {}: {e}", dir.display())))?;
    if let Some((uid, gid)) = ids {
        nix::unistd::chown(&dir, Some(uid.into()), Some(gid.into())).map_err(|e| {
            ActionError::fatal(format!("cannot hand {} to uid {uid}: {e}", dir.display()))
        })?;
    }
    let config = dir.join("haproxy.cfg");
    write_private(&config, &render(&input, &dir), ids)?;
    let program = process::system_program("haproxy");
    let daemon = Cmd::new(&program)
        .arg("-f")
        .arg(&config)
        .cwd(&dir)
        .run_as(ids);
    let finished = process::run(&daemon, ctx, |_, _| {}).await.map_err(|e| {
        ActionError::fatal(format!(
            "cannot run haproxy (is it installed on this machine?): {}",
            e.message
        ))
    })?;
    if !finished.success() {
        return Err(ActionError::fatal(finished.failure("haproxy")));
    }
    wait_listening(ctx, &input).await?;
    let version = process::clean_command(&program, &ctx.attempt_dir)
        .arg("-v")
        .output()
        .await
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "HAProxy".into());
    ctx.log.line(format!(
        "ratchet-agent: {version} on {}:{} spreads connections over {}",
        input.listen_address,
        input.port,
        input
            .servers
            .iter()
            .map(|s| format!("{}:{}", s.host, s.port))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    output(&HaproxyInstance {
        host: input.listen_address.clone(),
        port: input.port,
        version,
        servers: input.servers.clone(),
    })
}

/// Every address lands in the config file: plain host names or addresses only.
fn check(input: &HaproxyStartInput) -> Result<(), ActionError> {
    if input.servers.is_empty() || input.servers.len() > MAX_SERVERS {
        return Err(ActionError::fatal(format!(
            "invalid input at `servers`: give 1 to {MAX_SERVERS} servers"
        )));
    }
    let hosts = std::iter::once(("listen_address".to_string(), &input.listen_address)).chain(
        input
            .servers
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("servers[{i}].host"), &s.host)),
    );
    for (field, host) in hosts {
        let plain = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
        if !plain {
            return Err(ActionError::fatal(format!(
                "invalid input at `{field}`: `{host}` is not a host name or IPv4 address"
            )));
        }
    }
    Ok(())
}

/// A TCP listener with a connect check on every server each second: a server that stops
/// accepting connections gets no new ones.
fn render(input: &HaproxyStartInput, dir: &Path) -> String {
    let mut cfg = format!(
        "global\n  daemon\n  pidfile {}/haproxy.pid\n  maxconn 4096\n\n\
         defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 1h\n  timeout server 1h\n\n\
         listen servers\n  bind {}:{}\n  balance roundrobin\n",
        dir.display(),
        input.listen_address,
        input.port
    );
    for (i, s) in input.servers.iter().enumerate() {
        cfg.push_str(&format!(
            "  server server_{} {}:{} check inter 1s rise 1 fall 2\n",
            i + 1,
            s.host,
            s.port
        ));
    }
    cfg
}

/// An HAProxy an earlier attempt left running, gone (its port is this one's).
async fn stop_running(dir: &Path) {
    let Some(pid) = std::fs::read_to_string(dir.join("haproxy.pid"))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    else {
        return;
    };
    let pid = nix::unistd::Pid::from_raw(pid);
    if nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).is_ok() {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while nix::sys::signal::kill(pid, None).is_ok() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    }
}

async fn wait_listening(ctx: &ActionContext, input: &HaproxyStartInput) -> Result<(), ActionError> {
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    let address = format!("{}:{}", input.listen_address, input.port);
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        match tokio::net::TcpStream::connect(&address).await {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
            () = ctx.cancel.cancelled() => return Err(ActionError::retryable("cancelled")),
        }
    }
    Err(ActionError::retryable(format!(
        "HAProxy did not listen on {address} within {READY_TIMEOUT:?}: {last}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::actions::Endpoint;

    fn input(servers: &[&str]) -> HaproxyStartInput {
        HaproxyStartInput {
            listen_address: "127.1.0.40".into(),
            port: 5432,
            servers: servers
                .iter()
                .map(|h| Endpoint {
                    host: h.to_string(),
                    port: 5432,
                })
                .collect(),
        }
    }

    #[test]
    fn each_server_is_checked_and_taken_in_turn() {
        let cfg = render(
            &input(&["127.1.0.20", "127.1.0.30"]),
            Path::new("/w/haproxy"),
        );
        assert!(
            cfg.contains("bind 127.1.0.40:5432\n  balance roundrobin"),
            "{cfg}"
        );
        assert!(cfg.contains("server server_1 127.1.0.20:5432 check inter 1s rise 1"));
        assert!(cfg.contains("server server_2 127.1.0.30:5432 check inter 1s rise 1"));
        assert!(cfg.contains("pidfile /w/haproxy/haproxy.pid"));
    }

    #[test]
    fn only_plain_addresses_reach_the_config() {
        assert!(check(&input(&["127.1.0.20"])).is_ok());
        assert!(check(&input(&[])).is_err());
        let injected = check(&input(&["127.1.0.20\n  stats enable"])).unwrap_err();
        assert!(
            injected.message.contains("servers[0].host"),
            "{}",
            injected.message
        );
    }
}
