//! `postgres.start` / `postgres.stop`: a PostgreSQL server of the requested major version,
//! with the requested `postgresql.conf` settings, listening on the requested address.
//!
//! Runtime `native` uses the machine's initdb + pg_ctl (the server outlives the task: it
//! is stopped by `postgres.stop`). When the agent runs as root, PostgreSQL runs as an
//! unprivileged user (it refuses root). Runtime `docker` runs `postgres:<version>` with
//! host networking.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::unistd::{Uid, User, chown};
use protocol::actions::{
    PgSetting, PostgresInstance, PostgresRuntime, PostgresStartInput, PostgresStopInput,
    PostgresStopped, Replication,
};
use serde_json::Value;

use crate::actions::process::{self, Cmd, Stream};
use crate::actions::{ActionContext, ActionError, ActionResult, output};

/// How long a starting server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn start(ctx: &ActionContext) -> ActionResult {
    let input: PostgresStartInput = ctx.input_as()?;
    check_name(&input.name)?;
    check_password(&input.password)?;
    let settings = render_settings(&input.settings)?;
    if let Some(replication) = &input.replication {
        check_replication(replication)?;
    }
    if let Some(member) = &input.patroni {
        if input.runtime != PostgresRuntime::Native || input.replication.is_some() {
            return Err(ActionError::fatal(
                "invalid input at `patroni`: a Patroni member runs natively, and Patroni does its replication",
            ));
        }
        return crate::actions::patroni::start_member(ctx, &input, member, &settings).await;
    }
    match input.runtime {
        PostgresRuntime::Native => start_native(ctx, &input, &settings).await,
        PostgresRuntime::Docker if input.replication.is_some() => Err(ActionError::fatal(
            "invalid input at `replication`: streaming replication runs on the native runtime only",
        )),
        PostgresRuntime::Docker => start_docker(ctx, &input).await,
    }
}

/// Standby names go into `synchronous_standby_names` and a connection string unquoted.
fn check_replication(replication: &Replication) -> Result<(), ActionError> {
    let names: Vec<&String> = match replication {
        Replication::Primary { standbys, .. } => standbys.iter().collect(),
        Replication::Standby {
            application_name, ..
        } => vec![application_name],
    };
    match names.iter().find(|n| {
        n.is_empty()
            || n.len() > 63
            || !n
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }) {
        Some(bad) => Err(ActionError::fatal(format!(
            "invalid input at `replication`: standby name `{bad}` must be 1-63 of [a-z0-9_]"
        ))),
        None => Ok(()),
    }
}

pub async fn stop(ctx: &ActionContext) -> ActionResult {
    let input: PostgresStopInput = ctx.input_as()?;
    check_name(&input.name)?;
    match input.runtime {
        PostgresRuntime::Native => stop_native(ctx, &input).await,
        PostgresRuntime::Docker => stop_docker(ctx, &input).await,
    }
}

/// Instance names become directory and container names.
fn check_name(name: &str) -> Result<(), ActionError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ActionError::fatal(format!(
            "invalid input at `name`: `{name}` must be 1-64 letters, digits, '-' or '_'"
        )))
    }
}

/// Every connection authenticates with this password (scram-sha-256).
pub(crate) fn check_password(password: &str) -> Result<(), ActionError> {
    if password.len() < 16 || password.chars().any(char::is_control) {
        return Err(ActionError::fatal(
            "invalid input at `password`: give at least 16 characters, no control characters",
        ));
    }
    Ok(())
}

/// `postgresql.conf` lines for the settings; names are checked against the settings policy
/// (nothing that runs programs, loads libraries or names files), values quoted.
fn render_settings(
    settings: &BTreeMap<String, Value>,
) -> Result<Vec<(String, String)>, ActionError> {
    let mut lines = Vec::new();
    for (key, value) in settings {
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err(ActionError::fatal(format!(
                "invalid input at `settings.{key}`: not a PostgreSQL setting name"
            )));
        }
        if let Some(why) = protocol::settings::refused(key) {
            return Err(ActionError::fatal(format!(
                "invalid input at `settings.{key}`: not allowed: {why}"
            )));
        }
        let value = match value {
            Value::String(s) if s.chars().any(char::is_control) => {
                return Err(ActionError::fatal(format!(
                    "invalid input at `settings.{key}`: the value holds a control character (a line break?)"
                )));
            }
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => {
                if *b {
                    "on".into()
                } else {
                    "off".into()
                }
            }
            other => {
                return Err(ActionError::fatal(format!(
                    "invalid input at `settings.{key}`: expected a string, number or boolean, got {other}"
                )));
            }
        };
        lines.push((key.clone(), value));
    }
    Ok(lines)
}

fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// The instance's directory: `<work dir>/postgres/<name>`.
pub(crate) fn instance_dir(ctx: &ActionContext, name: &str) -> PathBuf {
    ctx.work_dir.join("postgres").join(name)
}

/// The (uid, gid) PostgreSQL runs as: ours, or the configured unprivileged user as root.
pub(crate) fn run_as(ctx: &ActionContext) -> Result<Option<(u32, u32)>, ActionError> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    let name = &ctx.config.pg_os_user;
    let user = User::from_name(name).ok().flatten().ok_or_else(|| {
        ActionError::fatal(format!(
            "the agent runs as root and PostgreSQL refuses root, but there is no user `{name}` to run it as (create it, or set RATCHET_AGENT_PG_USER)"
        ))
    })?;
    Ok(Some((user.uid.as_raw(), user.gid.as_raw())))
}

/// The server binaries of a major version: configured, in the usual packaging places, or
/// where `pg_config` points — checked by asking `postgres --version`.
pub(crate) async fn find_bin_dir(
    ctx: &ActionContext,
    version: u32,
) -> Result<PathBuf, ActionError> {
    let configured = ctx
        .config
        .pg_bin_dir_map()
        .map_err(|e| ActionError::fatal(format!("{e:#}")))?;
    let mut candidates: Vec<PathBuf> = configured.get(&version).cloned().into_iter().collect();
    let versions_dir = ctx.config.pg_versions_dir();
    candidates.push(versions_dir.join(version.to_string()).join("bin"));
    candidates.push(PathBuf::from(format!("/usr/lib/postgresql/{version}/bin")));
    candidates.push(PathBuf::from(format!("/usr/pgsql-{version}/bin")));
    if let Ok(out) = process::clean_command("pg_config", &ctx.attempt_dir)
        .arg("--bindir")
        .output()
        .await
    {
        candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    let mut seen = Vec::new();
    for dir in candidates {
        let Ok(out) = process::clean_command(dir.join("postgres"), &ctx.attempt_dir)
            .arg("--version")
            .output()
            .await
        else {
            continue;
        };
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if crate::pg_install::server_major(&text) == Some(version) {
            return Ok(dir);
        }
        seen.push(format!("{} ({})", dir.display(), text.trim()));
    }
    // None here: install a build of it (what `ratchet pg install` does).
    let log = ctx.log.clone();
    match crate::pg_install::install(
        &versions_dir,
        version,
        &ctx.config.pg_registry,
        &move |line| log.line(line),
    )
    .await
    {
        Ok(installed) => Ok(installed.bin),
        Err(e) => Err(ActionError::fatal(format!(
            "PostgreSQL {version} is not installed on this machine (looked in RATCHET_AGENT_PG_BIN_DIRS, {}, /usr/lib/postgresql/{version}/bin, /usr/pgsql-{version}/bin and pg_config{}), and installing it failed: {e:#}; install it (`ratchet pg install {version}`), or use runtime `docker`",
            versions_dir.join(version.to_string()).join("bin").display(),
            if seen.is_empty() {
                String::new()
            } else {
                format!("; found only {}", seen.join(", "))
            }
        ))),
    }
}

/// Is a server running on this data dir (its postmaster.pid names a live process)?
pub(crate) fn running_pid(data: &Path) -> Option<i32> {
    let pid = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
    let pid: i32 = pid.lines().next()?.trim().parse().ok()?;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
        .ok()
        .map(|()| pid)
}

async fn start_native(
    ctx: &ActionContext,
    input: &PostgresStartInput,
    settings: &[(String, String)],
) -> ActionResult {
    let bin = find_bin_dir(ctx, input.version).await?;
    let ids = run_as(ctx)?;
    let dir = instance_dir(ctx, &input.name);
    let data = dir.join("data");
    if let Some(pid) = running_pid(&data) {
        return Err(ActionError::fatal(format!(
            "instance `{}` is already running (pid {pid}); stop it first with postgres.stop",
            input.name
        )));
    }
    // A leftover of an earlier attempt is started afresh.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| ActionError::retryable(format!("cannot create {}: {e}", dir.display())))?;
    if let Some((uid, gid)) = ids {
        chown(&dir, Some(uid.into()), Some(gid.into())).map_err(|e| {
            ActionError::fatal(format!("cannot hand {} to uid {uid}: {e}", dir.display()))
        })?;
    }
    ctx.log.line(format!(
        "ratchet-agent: PostgreSQL {} from {} in {}",
        input.version,
        bin.display(),
        data.display()
    ));

    match &input.replication {
        Some(Replication::Standby {
            primary_host,
            primary_port,
            ..
        }) => {
            base_backup(ctx, &bin, input, &data, ids, primary_host, *primary_port).await?;
        }
        _ => initdb(ctx, &bin, input, &dir, &data, ids).await?,
    }

    // Our settings go last in postgresql.conf, so they win over the defaults.
    let mut conf = String::from("\n# --- set by ratchet-agent (postgres.start) ---\n");
    conf.push_str(&format!(
        "listen_addresses = {}\n",
        quote(&input.listen_address)
    ));
    conf.push_str(&format!("port = {}\n", input.port));
    conf.push_str(&format!(
        "unix_socket_directories = {}\n",
        quote(&socket_dir(&dir))
    ));
    for (key, value) in settings {
        conf.push_str(&format!("{key} = {}\n", quote(value)));
    }
    if input.stat_statements {
        // The agent's own line, not a suite's setting (those may not load libraries).
        conf.push_str("shared_preload_libraries = 'pg_stat_statements'\n");
    }
    conf.push_str(&replication_conf(input, &input.password));
    append(&data.join("postgresql.conf"), &conf)?;
    if matches!(input.replication, Some(Replication::Standby { .. })) {
        std::fs::write(data.join("standby.signal"), "").map_err(|e| {
            ActionError::retryable(format!(
                "cannot write {}/standby.signal: {e}",
                data.display()
            ))
        })?;
    }
    // Load generators connect over TCP from the benchmark's network (loopback for local
    // machines; a private subnet for cloud ones).
    // A standby's copy has the primary's lines already.
    if !matches!(input.replication, Some(Replication::Standby { .. })) {
        append(&data.join("pg_hba.conf"), &hba_lines(input))?;
    }

    let log = dir.join("postgres.log");
    let pg_ctl = Cmd::new(bin.join("pg_ctl"))
        .args(["start", "--wait", "--timeout=60", "--pgdata"])
        .arg(&data)
        .arg("--log")
        .arg(&log)
        .cwd(&dir)
        .run_as(ids);
    let started = process::run(&pg_ctl, ctx, |_, _| {}).await;
    if ctx.cancel.is_cancelled() || !matches!(&started, Ok(f) if f.success()) {
        // The database's own words say why (a bad setting, a port in use, ...).
        let server_log = process::tail_of(&log, 15);
        for line in &server_log {
            ctx.log.line(format!("postgres: {line}"));
        }
        stop_server(ctx, &bin, &data, ids).await;
        started?;
        return Err(ActionError::fatal(format!(
            "PostgreSQL {} did not start:\n{}",
            input.version,
            server_log.join("\n")
        )));
    }

    let psql = Psql {
        bin: &bin,
        host: &input.listen_address,
        port: input.port,
        password: &input.password,
    };
    let server_version = wait_ready(ctx, &psql).await.inspect_err(|_| {
        for line in process::tail_of(&log, 15) {
            ctx.log.line(format!("postgres: {line}"));
        }
    })?;
    ctx.log.line(format!(
        "ratchet-agent: PostgreSQL {server_version} accepts connections on {}:{}",
        input.listen_address, input.port
    ));
    let standby = matches!(input.replication, Some(Replication::Standby { .. }));
    // A standby has the primary's extensions (and could not create one).
    if input.stat_statements && !standby {
        create_stat_statements(ctx, &psql).await?;
    }
    if let Some(Replication::Primary {
        standbys,
        synchronous,
    }) = &input.replication
    {
        create_slots(ctx, &psql, standbys).await?;
        if *synchronous {
            // Only now: a synchronous primary's commits wait for a standby, and none
            // exists yet (making one needs no commit).
            make_synchronous(ctx, &psql, standbys).await?;
        }
    }
    output(&native_instance(ctx, input, &psql, &data, server_version).await)
}

/// A native server that answers, as `postgres.start` reports it: with every setting in
/// effect and its machine.
pub(crate) async fn native_instance(
    ctx: &ActionContext,
    input: &PostgresStartInput,
    psql: &Psql<'_>,
    data: &Path,
    server_version: String,
) -> PostgresInstance {
    PostgresInstance {
        name: input.name.clone(),
        runtime: PostgresRuntime::Native,
        server_version,
        host: input.listen_address.clone(),
        port: input.port,
        user: "postgres".into(),
        database: "postgres".into(),
        data_dir: Some(data.display().to_string()),
        container: None,
        settings: settings_in_effect(ctx, psql).await,
        machine: Some(crate::machine::describe(&ctx.work_dir)),
    }
}

/// Where the server's Unix-domain socket goes: its instance dir, or none when the socket's
/// path would pass the kernel's 107 bytes (a deep work dir; everything connects over TCP).
pub(crate) fn socket_dir(dir: &Path) -> String {
    const MAX_SOCKET_PATH: usize = 107;
    let dir = dir.to_string_lossy();
    if dir.len() + "/.s.PGSQL.65535".len() <= MAX_SOCKET_PATH {
        dir.into_owned()
    } else {
        String::new()
    }
}

/// A fresh cluster: initdb with the run's password.
async fn initdb(
    ctx: &ActionContext,
    bin: &Path,
    input: &PostgresStartInput,
    dir: &Path,
    data: &Path,
    ids: Option<(u32, u32)>,
) -> Result<(), ActionError> {
    // The password reaches initdb in a file only its user can read, removed at once.
    let pwfile = dir.join("initdb-password");
    write_private(&pwfile, &input.password, ids)?;
    let initdb = Cmd::new(bin.join("initdb"))
        .args([
            "--auth=scram-sha-256",
            "--username=postgres",
            "--encoding=UTF8",
            "--no-sync",
        ])
        .arg(format!("--pwfile={}", pwfile.display()))
        .arg("--pgdata")
        .arg(data)
        .cwd(dir)
        .run_as(ids);
    let finished = process::run(&initdb, ctx, |_, _| {}).await;
    let _ = std::fs::remove_file(&pwfile);
    let finished = finished?;
    if !finished.success() {
        return Err(ActionError::fatal(finished.failure("initdb")));
    }
    Ok(())
}

/// A standby's data: a copy of the primary's, streamed by `pg_basebackup` of the same
/// major version.
async fn base_backup(
    ctx: &ActionContext,
    bin: &Path,
    input: &PostgresStartInput,
    data: &Path,
    ids: Option<(u32, u32)>,
    primary_host: &str,
    primary_port: u16,
) -> Result<(), ActionError> {
    let tool = client_tool(bin, "pg_basebackup", input.version)?;
    let Some(Replication::Standby {
        application_name: slot,
        ..
    }) = &input.replication
    else {
        return Err(ActionError::fatal("a base backup is for a standby"));
    };
    // Its slot on the primary (made when the primary started) keeps the WAL it has not
    // received yet: from before the copy starts, whatever else checkpoints meanwhile.
    ctx.log.line(format!(
        "ratchet-agent: copying the primary {primary_host}:{primary_port} with {} (slot {slot})",
        tool.display()
    ));
    let copy = Cmd::new(tool)
        .args(["-h", primary_host, "-p", &primary_port.to_string()])
        .args(["-U", "postgres", "-X", "stream", "-c", "fast", "--no-sync"])
        .args(["--slot", slot, "-D"])
        .arg(data)
        .env("PGPASSWORD", &input.password)
        .cwd(data.parent().unwrap_or(data))
        .run_as(ids);
    let finished = process::run(&copy, ctx, |_, _| {}).await?;
    if !finished.success() {
        return Err(ActionError::retryable(finished.failure("pg_basebackup")));
    }
    Ok(())
}

/// A client program of major `version`: beside the server, or where the machine's
/// packages put it (the npm builds ship the server alone).
fn client_tool(bin: &Path, name: &str, version: u32) -> Result<PathBuf, ActionError> {
    [
        bin.join(name),
        PathBuf::from(format!("/usr/lib/postgresql/{version}/bin/{name}")),
        PathBuf::from(format!("/usr/pgsql-{version}/bin/{name}")),
    ]
    .into_iter()
    .find(|p| p.exists())
    .ok_or_else(|| {
        ActionError::fatal(format!(
            "a standby of PostgreSQL {version} needs {name} {version}, which this machine lacks (looked beside the server in {}, /usr/lib/postgresql/{version}/bin and /usr/pgsql-{version}/bin); install PostgreSQL {version}'s client programs",
            bin.display()
        ))
    })
}

/// The replication lines of a server's `postgresql.conf` (after the suite's settings, so
/// they win).
fn replication_conf(input: &PostgresStartInput, password: &str) -> String {
    match &input.replication {
        None => String::new(),
        Some(Replication::Primary { standbys, .. }) => format!(
            "wal_level = 'replica'\nmax_wal_senders = {}\nhot_standby = 'on'\n",
            standbys.len() + 10
        ),
        Some(Replication::Standby {
            primary_host,
            primary_port,
            application_name,
        }) => {
            let conninfo = format!(
                "host={} port={primary_port} user=postgres password={} application_name={application_name}",
                conninfo_value(primary_host),
                conninfo_value(password)
            );
            // The primary's own lines came with its copy: a standby synchronises nobody.
            format!(
                "primary_conninfo = {}\nprimary_slot_name = {}\nhot_standby = 'on'\nsynchronous_standby_names = ''\n",
                quote(&conninfo),
                quote(application_name)
            )
        }
    }
}

/// A value in a libpq connection string.
fn conninfo_value(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A physical replication slot per standby, its WAL reserved from now on.
async fn create_slots(
    ctx: &ActionContext,
    psql: &Psql<'_>,
    standbys: &[String],
) -> Result<(), ActionError> {
    for name in standbys {
        let sql = format!("SELECT pg_create_physical_replication_slot('{name}', true)");
        let out = psql.query(ctx, &sql).await?;
        if !out.status.success() {
            return Err(ActionError::fatal(format!(
                "cannot create the replication slot {name}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    Ok(())
}

/// Each commit waits for any one of the standbys from now on.
async fn make_synchronous(
    ctx: &ActionContext,
    psql: &Psql<'_>,
    standbys: &[String],
) -> Result<(), ActionError> {
    let names = format!("ANY 1 ({})", standbys.join(", "));
    let sql = format!(
        "ALTER SYSTEM SET synchronous_standby_names = {}",
        quote(&names)
    );
    for sql in [sql.as_str(), "SELECT pg_reload_conf()"] {
        let out = psql.query(ctx, sql).await?;
        if !out.status.success() {
            return Err(ActionError::fatal(format!(
                "cannot make the primary synchronous ({sql}): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    ctx.log.line(format!(
        "ratchet-agent: commits wait for a standby: synchronous_standby_names = '{names}'"
    ));
    Ok(())
}

/// Write `text` to a new file readable by its owner only (`ids` when PostgreSQL runs as
/// another user).
pub(crate) fn write_private(
    path: &Path,
    text: &str,
    ids: Option<(u32, u32)>,
) -> Result<(), ActionError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let failed =
        |e: std::io::Error| ActionError::retryable(format!("cannot write {}: {e}", path.display()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)?;
    if let Some((uid, gid)) = ids {
        chown(path, Some(uid.into()), Some(gid.into())).map_err(|e| {
            ActionError::fatal(format!("cannot hand {} to uid {uid}: {e}", path.display()))
        })?;
    }
    Ok(())
}

fn append(path: &Path, text: &str) -> Result<(), ActionError> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| ActionError::retryable(format!("cannot write {}: {e}", path.display())))
}

/// The benchmark's networks: loopback for local machines, private subnets for cloud ones.
pub(crate) const NETWORKS: [&str; 4] = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
];

/// The run's password from the benchmark's [`NETWORKS`], for the load and, on a primary,
/// the standbys.
fn hba_lines(input: &PostgresStartInput) -> String {
    let mut databases = vec!["all"];
    if matches!(input.replication, Some(Replication::Primary { .. })) {
        databases.push("replication");
    }
    let mut lines = String::from(
        "\n# --- set by ratchet-agent: the run's password from the benchmark's networks ---\n",
    );
    for database in databases {
        for network in NETWORKS {
            lines.push_str(&format!("host {database} all {network} scram-sha-256\n"));
        }
    }
    lines
}

/// `psql` from the server's own bin dir (or the machine's, for builds that ship none), to
/// the instance over TCP as `postgres`, the way the load connects.
pub(crate) struct Psql<'a> {
    pub bin: &'a Path,
    pub host: &'a str,
    pub port: u16,
    pub password: &'a str,
}

impl Psql<'_> {
    /// Run one query, its rows unaligned and without headers.
    pub(crate) async fn query(
        &self,
        ctx: &ActionContext,
        sql: &str,
    ) -> Result<std::process::Output, ActionError> {
        let own = self.bin.join("psql");
        let psql = if own.exists() {
            own
        } else {
            PathBuf::from("psql")
        };
        process::clean_command(psql, &ctx.attempt_dir)
            .env("PGPASSWORD", self.password)
            .args([
                "-X",
                "-A",
                "-t",
                "-h",
                self.host,
                "-p",
                &self.port.to_string(),
            ])
            .args(["-U", "postgres", "-d", "postgres", "-c", sql])
            .output()
            .await
            .map_err(|e| {
                ActionError::fatal(format!("cannot run psql from {}: {e}", self.bin.display()))
            })
    }
}

/// Readiness is a real connection over TCP, the way the load will connect.
pub(crate) async fn wait_ready(
    ctx: &ActionContext,
    psql: &Psql<'_>,
) -> Result<String, ActionError> {
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        let out = psql.query(ctx, "SHOW server_version").await?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).trim().to_string());
        }
        last = String::from_utf8_lossy(&out.stderr).trim().to_string();
        ctx.pause(Duration::from_millis(200)).await?;
    }
    Err(ActionError::retryable(format!(
        "PostgreSQL on {}:{} did not accept connections within {READY_TIMEOUT:?}: {last}",
        psql.host, psql.port
    )))
}

pub(crate) async fn create_stat_statements(
    ctx: &ActionContext,
    psql: &Psql<'_>,
) -> Result<(), ActionError> {
    let out = psql
        .query(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .await?;
    if !out.status.success() {
        return Err(ActionError::fatal(format!(
            "cannot create the pg_stat_statements extension (is PostgreSQL's contrib installed?): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Every row of `pg_settings`, the ones changed from their built-in default first: what
/// the test really ran with. Empty (and said in the log) if the query fails.
async fn settings_in_effect(ctx: &ActionContext, psql: &Psql<'_>) -> Vec<PgSetting> {
    const QUERY: &str = "SELECT coalesce(json_agg(json_build_object('name', name, 'setting', setting, \
        'unit', unit, 'source', source, 'context', context, 'boot_val', boot_val) \
        ORDER BY (setting IS DISTINCT FROM boot_val) DESC, name), '[]') FROM pg_settings";
    let parsed = psql
        .query(ctx, QUERY)
        .await
        .map_err(|e| e.message)
        .and_then(|o| {
            if o.status.success() {
                serde_json::from_slice::<Vec<PgSetting>>(&o.stdout).map_err(|e| e.to_string())
            } else {
                Err(String::from_utf8_lossy(&o.stderr).trim().to_string())
            }
        });
    parsed.unwrap_or_else(|e| {
        ctx.log
            .line(format!("ratchet-agent: cannot read pg_settings: {e}"));
        Vec::new()
    })
}

/// Stop a native server: fast shutdown, then immediate, then SIGKILL of the postmaster.
async fn stop_server(
    ctx: &ActionContext,
    bin: &Path,
    data: &Path,
    ids: Option<(u32, u32)>,
) -> bool {
    let Some(pid) = running_pid(data) else {
        return false;
    };
    for mode in ["fast", "immediate"] {
        let out = process::clean_command(bin.join("pg_ctl"), &ctx.attempt_dir)
            .args(["stop", "--wait", "--timeout=30", "--mode", mode, "--pgdata"])
            .arg(data)
            .uid(ids.map_or_else(|| Uid::effective().as_raw(), |(u, _)| u))
            .gid(ids.map_or_else(|| nix::unistd::Gid::effective().as_raw(), |(_, g)| g))
            .output()
            .await;
        if running_pid(data).is_none() {
            ctx.log.line(format!(
                "ratchet-agent: PostgreSQL stopped ({mode} shutdown)"
            ));
            return true;
        }
        if let Ok(out) = out {
            ctx.log.line(format!(
                "pg_ctl stop --mode {mode}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    true
}

async fn stop_native(ctx: &ActionContext, input: &PostgresStopInput) -> ActionResult {
    let dir = instance_dir(ctx, &input.name);
    let data = dir.join("data");
    let was_running = match running_pid(&data) {
        Some(_) => {
            let version = std::fs::read_to_string(data.join("PG_VERSION")).unwrap_or_default();
            let version = version.trim().parse::<u32>().map_err(|_| {
                ActionError::fatal(format!("{} has no readable PG_VERSION", data.display()))
            })?;
            let bin = find_bin_dir(ctx, version).await?;
            stop_server(ctx, &bin, &data, run_as(ctx)?).await
        }
        None => false,
    };
    let mut removed_data = false;
    if !input.keep_data && dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| ActionError::retryable(format!("cannot remove {}: {e}", dir.display())))?;
        removed_data = true;
    }
    output(&PostgresStopped {
        name: input.name.clone(),
        was_running,
        removed_data,
    })
}

fn container_name(name: &str) -> String {
    format!("ratchet-pg-{name}")
}

/// `docker run` arguments for an instance (host networking; settings as `-c`).
pub fn docker_run_args(input: &PostgresStartInput) -> Result<Vec<String>, ActionError> {
    let image = input
        .image
        .clone()
        .unwrap_or_else(|| format!("postgres:{}", input.version));
    let mut args: Vec<String> = vec![
        "run".into(),
        "--detach".into(),
        "--name".into(),
        container_name(&input.name),
        "--network".into(),
        "host".into(),
        // The password comes from docker's own environment (`--env NAME` without a value),
        // so it is on no command line; every connection needs it.
        "--env".into(),
        "POSTGRES_PASSWORD".into(),
        "--env".into(),
        "POSTGRES_HOST_AUTH_METHOD=scram-sha-256".into(),
        "--env".into(),
        "POSTGRES_INITDB_ARGS=--auth=scram-sha-256".into(),
        image,
        "postgres".into(),
        "-c".into(),
        format!("listen_addresses={}", input.listen_address),
        "-c".into(),
        format!("port={}", input.port),
    ];
    for (key, value) in render_settings(&input.settings)? {
        args.push("-c".into());
        args.push(format!("{key}={value}"));
    }
    if input.stat_statements {
        args.push("-c".into());
        args.push("shared_preload_libraries=pg_stat_statements".into());
    }
    Ok(args)
}

async fn start_docker(ctx: &ActionContext, input: &PostgresStartInput) -> ActionResult {
    let container = container_name(&input.name);
    // A leftover container of an earlier attempt goes first.
    let _ = process::run(
        &Cmd::new("docker").args(["rm", "--force", &container]),
        ctx,
        |_, _| {},
    )
    .await;
    let run = Cmd::new("docker")
        .args(docker_run_args(input)?)
        .env("POSTGRES_PASSWORD", &input.password);
    let finished = process::run(&run, ctx, |_, _| {}).await?;
    if !finished.success() {
        return Err(ActionError::fatal(finished.failure("docker run")));
    }
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    // psql inside the container, over TCP as the load connects.
    let psql = |sql: &str| {
        Cmd::new("docker")
            .args([
                "exec",
                "--env",
                "PGPASSWORD",
                &container,
                "psql",
                "-X",
                "-A",
                "-t",
            ])
            .args(["-h", &input.listen_address, "-p", &input.port.to_string()])
            .args(["-U", "postgres", "-c", sql])
            .env("PGPASSWORD", &input.password)
    };
    let query = psql("SHOW server_version");
    loop {
        let mut version = String::new();
        let answer = process::run(&query, ctx, |s, l| {
            if s == Stream::Stdout && !l.trim().is_empty() {
                version = l.trim().to_string();
            }
        })
        .await?;
        if answer.success() && !version.is_empty() {
            if input.stat_statements {
                let create = psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
                let created = process::run(&create, ctx, |_, _| {}).await?;
                if !created.success() {
                    return Err(ActionError::fatal(
                        created.failure("CREATE EXTENSION pg_stat_statements"),
                    ));
                }
            }
            return output(&PostgresInstance {
                name: input.name.clone(),
                runtime: PostgresRuntime::Docker,
                server_version: version,
                host: input.listen_address.clone(),
                port: input.port,
                user: "postgres".into(),
                database: "postgres".into(),
                data_dir: None,
                container: Some(container),
                settings: Vec::new(),
                machine: Some(crate::machine::describe(&ctx.work_dir)),
            });
        }
        if tokio::time::Instant::now() >= deadline {
            let _ = process::run(
                &Cmd::new("docker").args(["logs", "--tail", "20", &container]),
                ctx,
                |_, _| {},
            )
            .await;
            return Err(ActionError::fatal(format!(
                "the container {container} did not accept connections within {READY_TIMEOUT:?} (its log is above)"
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn stop_docker(ctx: &ActionContext, input: &PostgresStopInput) -> ActionResult {
    let container = container_name(&input.name);
    let mut args = vec!["rm", "--force"];
    if !input.keep_data {
        args.push("--volumes");
    }
    args.push(&container);
    let finished = process::run(&Cmd::new("docker").args(args), ctx, |_, _| {}).await?;
    let was_running = finished.success()
        && !finished
            .tail
            .iter()
            .any(|l| l.contains("No such container"));
    output(&PostgresStopped {
        name: input.name.clone(),
        was_running,
        removed_data: !input.keep_data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Docker is not on the build machine: the command construction is what is tested.
    #[test]
    fn docker_runtime_builds_a_host_network_run_with_settings() {
        let input: PostgresStartInput = serde_json::from_value(serde_json::json!({
            "name": "db1", "version": 16, "runtime": "docker", "listen_address": "10.1.0.5", "port": 5433,
            "settings": {"shared_buffers": "1GB", "max_connections": 200, "fsync": false},
            "password": "a-per-run-password-0123"
        }))
        .unwrap();
        let args = docker_run_args(&input).unwrap();
        assert_eq!(
            args.join(" "),
            "run --detach --name ratchet-pg-db1 --network host --env POSTGRES_PASSWORD \
             --env POSTGRES_HOST_AUTH_METHOD=scram-sha-256 --env POSTGRES_INITDB_ARGS=--auth=scram-sha-256 postgres:16 postgres \
             -c listen_addresses=10.1.0.5 -c port=5433 -c fsync=off -c max_connections=200 -c shared_buffers=1GB"
        );
        // No `trust` anywhere, and the password on no command line.
        assert!(
            !args
                .iter()
                .any(|a| a.contains("trust") || a.contains("a-per-run-password"))
        );
    }

    #[test]
    fn bad_setting_names_and_values_are_refused_with_their_path() {
        let bad = BTreeMap::from([("shared buffers".to_string(), Value::from("1GB"))]);
        assert!(
            render_settings(&bad)
                .unwrap_err()
                .message
                .contains("settings.shared buffers")
        );
        let bad = BTreeMap::from([("archive_command".to_string(), Value::from("cp %p /tmp/x"))]);
        assert!(
            render_settings(&bad)
                .unwrap_err()
                .message
                .contains("run a program")
        );
        let bad = BTreeMap::from([(
            "work_mem".to_string(),
            Value::from("4MB'\narchive_command = 'x"),
        )]);
        assert!(
            render_settings(&bad)
                .unwrap_err()
                .message
                .contains("control")
        );
        let bad = BTreeMap::from([("work_mem".to_string(), serde_json::json!(["4MB"]))]);
        assert!(
            render_settings(&bad)
                .unwrap_err()
                .message
                .contains("settings.work_mem")
        );
    }

    fn replicated(replication: Replication) -> PostgresStartInput {
        PostgresStartInput {
            replication: Some(replication),
            ..serde_json::from_value(serde_json::json!({
                "version": 15, "password": "it's-a-per-run-password"
            }))
            .unwrap()
        }
    }

    #[test]
    fn a_standby_streams_from_its_primary_through_its_own_slot() {
        let standby = replicated(Replication::Standby {
            primary_host: "127.1.0.10".into(),
            primary_port: 5432,
            application_name: "replica_1".into(),
        });
        let conf = replication_conf(&standby, &standby.password);
        // The password is quoted for libpq inside a quoted postgresql.conf value.
        assert!(
            conf.contains(
                r"primary_conninfo = 'host=''127.1.0.10'' port=5432 user=postgres password=''it\\''s-a-per-run-password'' application_name=replica_1'"
            ),
            "{conf}"
        );
        assert!(conf.contains("primary_slot_name = 'replica_1'"), "{conf}");
        assert!(conf.contains("synchronous_standby_names = ''"), "{conf}");
        // Its pg_hba.conf is the primary's copy.
        let primary = replicated(Replication::Primary {
            standbys: vec!["replica_1".into()],
            synchronous: true,
        });
        assert!(hba_lines(&primary).contains("host replication all 127.0.0.0/8 scram-sha-256"));
        assert!(!hba_lines(&primary).contains("trust"));
        let single: PostgresStartInput = serde_json::from_value(serde_json::json!({
            "version": 15, "password": "a-per-run-password-0123"
        }))
        .unwrap();
        assert!(!hba_lines(&single).contains("replication"));
        assert!(replication_conf(&single, "x").is_empty());
    }

    #[test]
    fn standby_names_must_be_plain_identifiers() {
        for bad in ["Replica", "a b", "x,y", "", "r)"] {
            let primary = Replication::Primary {
                standbys: vec![bad.into()],
                synchronous: true,
            };
            assert!(check_replication(&primary).is_err(), "{bad:?}");
        }
        assert!(
            check_replication(&Replication::Primary {
                standbys: vec!["replica_1".into(), "replica_2".into()],
                synchronous: false,
            })
            .is_ok()
        );
    }

    #[test]
    fn a_socket_path_the_kernel_refuses_is_no_socket() {
        assert_eq!(
            socket_dir(Path::new("/var/lib/w/postgres/main")),
            "/var/lib/w/postgres/main"
        );
        let deep = format!("/tmp/{}/postgres/bench", "x".repeat(90));
        assert_eq!(socket_dir(Path::new(&deep)), "");
    }

    #[test]
    fn values_are_quoted_for_postgresql_conf() {
        assert_eq!(quote("it's"), "'it''s'");
        assert_eq!(quote(r"C:\x"), r"'C:\\x'");
    }

    #[test]
    fn instance_names_must_be_safe_for_paths_and_containers() {
        assert!(check_name("db-1_a").is_ok());
        assert!(check_name("../etc").is_err());
        assert!(check_name("").is_err());
    }
}
