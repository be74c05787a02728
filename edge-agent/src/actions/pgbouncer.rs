//! `pgbouncer.start`: a PgBouncer in front of one server, and its `SHOW STATS` for a load
//! that goes through it. It runs as a daemon of the agent's (it outlives the task, like a
//! database) under
//! the unprivileged PostgreSQL user when the agent is root (PgBouncer refuses root), with
//! its files under `<work dir>/pgbouncer`; the machine's teardown stops it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use protocol::actions::{PgbouncerInstance, PgbouncerStartInput, PoolerStats};

use crate::actions::postgres::{check_password, run_as, write_private};
use crate::actions::process;
use crate::actions::{ActionContext, ActionError, ActionResult, output, plain_host};

const POOL_MODES: &[&str] = &["session", "transaction", "statement"];
const READY_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn start(ctx: &ActionContext) -> ActionResult {
    let input: PgbouncerStartInput = ctx.input_as()?;
    check(&input)?;
    let ids = run_as(ctx)?;
    let dir = crate::actions::fresh_daemon_dir(ctx, "pgbouncer", ids)?;
    // The password in a file only PgBouncer's user reads: it logs in to the server with
    // it (SCRAM) and checks the clients' against it.
    write_private(
        &dir.join("userlist.txt"),
        &format!("\"postgres\" \"{}\"\n", input.password.replace('"', "\"\"")),
        ids,
    )?;
    write_private(&dir.join("pgbouncer.ini"), &config(&input, &dir), ids)?;

    let log = dir.join("pgbouncer.out");
    process::spawn_daemon(
        ctx,
        &process::system_program("pgbouncer"),
        &[dir.join("pgbouncer.ini").into_os_string()],
        &log,
        &dir,
        ids,
    )?;
    let admin = Admin {
        host: &input.listen_address,
        port: input.port,
        password: &input.password,
    };
    let version = wait_ready(ctx, &admin)
        .await
        .inspect_err(|_| log_tail(ctx, &dir))?;
    ctx.log.line(format!(
        "ratchet-agent: {version} on {}:{} pools {} connections ({} mode) to {}:{}",
        input.listen_address,
        input.port,
        input.pool_size,
        input.pool_mode,
        input.server_host,
        input.server_port
    ));
    output(&PgbouncerInstance {
        host: input.listen_address.clone(),
        port: input.port,
        version,
        pool_mode: input.pool_mode.clone(),
        pool_size: input.pool_size,
    })
}

fn check(input: &PgbouncerStartInput) -> Result<(), ActionError> {
    if !POOL_MODES.contains(&input.pool_mode.as_str()) {
        return Err(ActionError::fatal(format!(
            "invalid input at `pool_mode`: `{}` is not one of {}",
            input.pool_mode,
            POOL_MODES.join(", ")
        )));
    }
    if input.pool_size == 0 || input.max_clients == 0 {
        return Err(ActionError::fatal(
            "invalid input: `pool_size` and `max_clients` must be at least 1",
        ));
    }
    // Each lands in the ini file: one plain token each.
    plain_host("listen_address", &input.listen_address)?;
    plain_host("server_host", &input.server_host)?;
    check_password(&input.password)
}

/// Clients connect over TCP only (a socket path under a deep work dir could pass the
/// kernel's 107 bytes).
fn config(input: &PgbouncerStartInput, dir: &Path) -> String {
    let d = dir.display();
    format!(
        "[databases]\n* = host={} port={}\n\n[pgbouncer]\n\
         listen_addr = {}\nlisten_port = {}\nunix_socket_dir =\n\
         auth_type = scram-sha-256\nauth_file = {d}/userlist.txt\n\
         admin_users = postgres\nstats_users = postgres\n\
         pool_mode = {}\ndefault_pool_size = {}\nmax_client_conn = {}\n\
         logfile = {d}/pgbouncer.log\n\
         ignore_startup_parameters = extra_float_digits,options\n",
        input.server_host,
        input.server_port,
        input.listen_address,
        input.port,
        input.pool_mode,
        input.pool_size,
        input.max_clients,
    )
}

fn log_tail(ctx: &ActionContext, dir: &Path) {
    let text = std::fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    for line in &lines[lines.len().saturating_sub(15)..] {
        ctx.log.line(format!("pgbouncer: {line}"));
    }
}

/// PgBouncer's admin console (the `pgbouncer` database), over TCP as `postgres`.
pub struct Admin<'a> {
    pub host: &'a str,
    pub port: u16,
    pub password: &'a str,
}

impl Admin<'_> {
    /// One `SHOW` command; its rows as maps from column names to values.
    async fn show(&self, home: &Path, what: &str) -> Result<Vec<BTreeMap<String, String>>, String> {
        let out = process::clean_command("psql", home)
            .env("PGPASSWORD", self.password)
            .args(["-X", "-A", "-P", "footer=off", "-h", self.host])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "pgbouncer",
            ])
            .args(["-c", &format!("SHOW {what}")])
            .output();
        let out = tokio::time::timeout(Duration::from_secs(5), out)
            .await
            .map_err(|_| format!("SHOW {what} took longer than 5 s"))?
            .map_err(|e| format!("cannot run psql: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(parse_rows(&String::from_utf8_lossy(&out.stdout)))
    }

    /// `SHOW STATS`' counters for one database.
    pub async fn stats(&self, home: &Path, database: &str) -> Option<BTreeMap<String, f64>> {
        let rows = self.show(home, "STATS").await.ok()?;
        let row = rows
            .into_iter()
            .find(|r| r.get("database").map(String::as_str) == Some(database))?;
        Some(
            row.into_iter()
                .filter_map(|(k, v)| v.trim().parse::<f64>().ok().map(|v| (k, v)))
                .collect(),
        )
    }
}

/// `psql -A` output: a header line, then rows, `|`-separated.
fn parse_rows(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = text.lines().filter(|l| !l.is_empty());
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let columns: Vec<&str> = header.split('|').collect();
    lines
        .map(|line| {
            columns
                .iter()
                .zip(line.split('|'))
                .map(|(c, v)| (c.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// What moved between two `SHOW STATS` of the same database.
pub fn stats_between(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> PoolerStats {
    let delta = |key: &str| {
        (after.get(key).copied().unwrap_or(0.0) - before.get(key).copied().unwrap_or(0.0)).max(0.0)
    };
    PoolerStats {
        transactions: delta("total_xact_count"),
        queries: delta("total_query_count"),
        // PgBouncer counts microseconds.
        wait_ms: delta("total_wait_time") / 1000.0,
        received_bytes: delta("total_received"),
        sent_bytes: delta("total_sent"),
    }
}

async fn wait_ready(ctx: &ActionContext, admin: &Admin<'_>) -> Result<String, ActionError> {
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        match admin.show(&ctx.attempt_dir, "VERSION").await {
            Ok(rows) => {
                if let Some(version) = rows.first().and_then(|r| r.values().next()) {
                    return Ok(version.trim().to_string());
                }
            }
            Err(e) => last = e,
        }
        ctx.pause(Duration::from_millis(200)).await?;
    }
    Err(ActionError::retryable(format!(
        "PgBouncer on {}:{} did not answer within {READY_TIMEOUT:?}: {last}",
        admin.host, admin.port
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_stats_is_read_by_its_header_and_differenced() {
        let before = "database|total_xact_count|total_query_count|total_received|total_sent|total_wait_time\n\
                      pgbouncer|1|1|0|0|0\npostgres|10|30|1000|2000|500\n";
        let after = "database|total_xact_count|total_query_count|total_received|total_sent|total_wait_time\n\
                     postgres|110|530|5000|9000|2500\n";
        let row = |text: &str| -> BTreeMap<String, f64> {
            parse_rows(text)
                .into_iter()
                .find(|r| r["database"] == "postgres")
                .unwrap()
                .into_iter()
                .filter_map(|(k, v)| v.parse().ok().map(|v| (k, v)))
                .collect()
        };
        let stats = stats_between(&row(before), &row(after));
        assert_eq!(stats.transactions, 100.0);
        assert_eq!(stats.queries, 500.0);
        assert_eq!(stats.wait_ms, 2.0);
        assert_eq!(stats.sent_bytes, 7000.0);
    }

    #[test]
    fn modes_sizes_and_hosts_are_checked_before_the_ini_is_written() {
        let good = PgbouncerStartInput {
            listen_address: "127.1.0.30".into(),
            port: 6432,
            server_host: "127.1.0.10".into(),
            server_port: 5432,
            password: "a-per-run-password-0123".into(),
            pool_mode: "transaction".into(),
            pool_size: 10,
            max_clients: 100,
        };
        assert!(check(&good).is_ok());
        let bad_mode = PgbouncerStartInput {
            pool_mode: "sessions".into(),
            ..good.clone()
        };
        assert!(check(&bad_mode).unwrap_err().message.contains("pool_mode"));
        let injected = PgbouncerStartInput {
            server_host: "x\nadmin_users = nobody".into(),
            ..good.clone()
        };
        assert!(
            check(&injected)
                .unwrap_err()
                .message
                .contains("server_host")
        );
        let zero = PgbouncerStartInput {
            pool_size: 0,
            ..good
        };
        assert!(check(&zero).is_err());
    }
}
