//! `haproxy.start`: HAProxy handing each new connection to the next server that accepts
//! connections (TCP, round robin) — how a read-only load spreads over a test's standbys.
//! A daemon under the unprivileged PostgreSQL user when the agent is root, its files under
//! `<work dir>/haproxy`; the machine's teardown stops it.

use std::time::Duration;

use protocol::actions::{HaproxyInstance, HaproxyStartInput};

use crate::actions::postgres::{run_as, write_private};
use crate::actions::process;
use crate::actions::{ActionContext, ActionError, ActionResult, output, plain_host};

const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Two failed health checks a second apart, and a margin.
const CHECKS_SETTLE: Duration = Duration::from_millis(2500);
/// At most this many servers behind one listener (a test has at most three replicas).
const MAX_SERVERS: usize = 16;

pub async fn start(ctx: &ActionContext) -> ActionResult {
    let input: HaproxyStartInput = ctx.input_as()?;
    check(&input)?;
    let ids = run_as(ctx)?;
    let dir = crate::actions::fresh_daemon_dir(ctx, "haproxy", ids)?;
    let config = dir.join("haproxy.cfg");
    write_private(&config, &render(&input), ids)?;
    let program = process::system_program("haproxy");
    // In the foreground (`-db`): the agent makes it a daemon.
    process::spawn_daemon(
        ctx,
        &program,
        &["-db".into(), "-f".into(), config.clone().into_os_string()],
        &dir.join("haproxy.log"),
        &dir,
        ids,
    )?;
    wait_listening(ctx, &input).await?;
    if input.http_check.is_some() {
        // HAProxy counts a server up until its checks say otherwise: until two have failed
        // (`fall 2`, a second apart) a follower could still get connections.
        ctx.pause(CHECKS_SETTLE).await?;
    }
    let version = process::version_line(&program, "-v", &ctx.attempt_dir)
        .await
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

/// Every address and the health path land in the config file: plain tokens only.
fn check(input: &HaproxyStartInput) -> Result<(), ActionError> {
    if input.servers.is_empty() || input.servers.len() > MAX_SERVERS {
        return Err(ActionError::fatal(format!(
            "invalid input at `servers`: give 1 to {MAX_SERVERS} servers"
        )));
    }
    plain_host("listen_address", &input.listen_address)?;
    for (i, s) in input.servers.iter().enumerate() {
        plain_host(&format!("servers[{i}].host"), &s.host)?;
    }
    if let Some(http) = &input.http_check {
        let plain = http.path.starts_with('/')
            && http
                .path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_'));
        if !plain {
            return Err(ActionError::fatal(format!(
                "invalid input at `http_check.path`: `{}` is not a plain path such as /primary",
                http.path
            )));
        }
    }
    Ok(())
}

/// A TCP listener checking every server each second — that it accepts connections, or
/// that its health URL answers 200 — and cutting the connections of a server that fails.
fn render(input: &HaproxyStartInput) -> String {
    let mut cfg = format!(
        "global\n  maxconn 4096\n\n\
         defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 1h\n  timeout server 1h\n\n\
         listen servers\n  bind {}:{}\n  balance roundrobin\n",
        input.listen_address, input.port
    );
    let mut check = String::from("check");
    if let Some(http) = &input.http_check {
        cfg.push_str(&format!(
            "  option httpchk GET {}\n  http-check expect status 200\n",
            http.path
        ));
        check.push_str(&format!(" port {}", http.port));
    }
    cfg.push_str("  default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions\n");
    for (i, s) in input.servers.iter().enumerate() {
        cfg.push_str(&format!(
            "  server server_{} {}:{} {check}\n",
            i + 1,
            s.host,
            s.port
        ));
    }
    cfg
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
        ctx.pause(Duration::from_millis(200)).await?;
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
            http_check: None,
        }
    }

    #[test]
    fn each_server_is_checked_and_taken_in_turn() {
        let cfg = render(&input(&["127.1.0.20", "127.1.0.30"]));
        assert!(
            cfg.contains("bind 127.1.0.40:5432\n  balance roundrobin"),
            "{cfg}"
        );
        assert!(cfg.contains("server server_1 127.1.0.20:5432 check\n"));
        assert!(cfg.contains("server server_2 127.1.0.30:5432 check\n"));
        assert!(cfg.contains("inter 1s fall 2 rise 1 on-marked-down shutdown-sessions"));
        // To the leader only: Patroni's REST API says which.
        let leader = HaproxyStartInput {
            http_check: Some(protocol::actions::HttpCheck {
                port: 8008,
                path: "/primary".into(),
            }),
            ..input(&["127.1.0.10", "127.1.0.20"])
        };
        let cfg = render(&leader);
        assert!(cfg.contains("option httpchk GET /primary\n  http-check expect status 200"));
        assert!(cfg.contains("server server_2 127.1.0.20:5432 check port 8008"));
        let bad = HaproxyStartInput {
            http_check: Some(protocol::actions::HttpCheck {
                port: 8008,
                path: "/primary\n  stats enable".into(),
            }),
            ..leader
        };
        assert!(check(&bad).unwrap_err().message.contains("http_check.path"));
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
