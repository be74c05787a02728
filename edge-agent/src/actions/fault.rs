//! `postgres.fault`: a fault scheduled during a load, done by the agent of the server's own
//! machine. It waits until the measured load is on the server (a session whose
//! `application_name` is the load's marker), then `at_s` more, then kills the server — and
//! its Patroni, like a lost machine — or crashes it and starts it again. For a Patroni
//! member it then asks the other members who leads, so the result says when the cluster
//! had a leader again.

use std::time::Duration;

use protocol::actions::{FaultInjected, FaultKind, PostgresFaultInput};

use crate::actions::postgres::{
    Psql, check_password, find_bin_dir, instance_dir, run_as, running_pid, wait_ready,
};
use crate::actions::process::{self, Cmd};
use crate::actions::{ActionContext, ActionError, ActionResult, output, plain_host};

/// How long a cluster may take to elect a new leader before the fault says it did not.
const ELECTION_TIMEOUT: Duration = Duration::from_secs(90);

pub async fn inject(ctx: &ActionContext) -> ActionResult {
    let input: PostgresFaultInput = ctx.input_as()?;
    check_password(&input.password)?;
    plain_host("host", &input.host)?;
    for (name, peer) in &input.peers {
        plain_host(&format!("peers.{name}.host"), &peer.host)?;
    }
    if input.load_marker.is_empty()
        || !input
            .load_marker
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(ActionError::fatal(
            "invalid input at `load_marker`: use [a-z0-9-]",
        ));
    }
    let dir = instance_dir(ctx, &input.name);
    let data = dir.join("data");
    let version = std::fs::read_to_string(data.join("PG_VERSION"))
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .ok_or_else(|| {
            ActionError::fatal(format!(
                "there is no instance `{}` on this machine to fault",
                input.name
            ))
        })?;
    let bin = find_bin_dir(ctx, version).await?;
    let psql = Psql {
        bin: &bin,
        host: &input.host,
        port: input.port,
        password: &input.password,
    };
    wait_for_load(ctx, &psql, &input).await?;
    ctx.log.line(format!(
        "ratchet-agent: the measured load is on; {:?} in {} s",
        input.kind, input.at_s
    ));
    ctx.pause(Duration::from_secs(input.at_s)).await?;

    let patroni = dir.join("patroni.yml");
    let managed = patroni.exists();
    let at_ms = crate::outbox::now_ms();
    if input.kind == FaultKind::Kill && managed {
        process::kill_naming(&patroni);
    }
    match running_pid(&data) {
        Some(pid) => process::kill_with_children(pid).await,
        None => ctx
            .log
            .line("ratchet-agent: the server was not running when the fault came"),
    }
    ctx.log.line(format!(
        "ratchet-agent: {} the server on {}:{}",
        match input.kind {
            FaultKind::Kill => "killed",
            FaultKind::Restart => "crashed",
        },
        input.host,
        input.port
    ));
    let mut injected = FaultInjected {
        kind: match input.kind {
            FaultKind::Kill => "kill",
            FaultKind::Restart => "restart",
        }
        .into(),
        at_ms,
        ..Default::default()
    };
    if input.kind == FaultKind::Restart {
        if !managed {
            start_again(ctx, &bin, &dir).await?;
        }
        // Patroni starts its own server again.
        wait_ready(ctx, &psql).await?;
        injected.recovered_at_ms = Some(crate::outbox::now_ms());
        ctx.log
            .line("ratchet-agent: the server accepts connections again");
    }
    if !input.peers.is_empty()
        && let Some((leader, at)) = wait_for_leader(ctx, &input).await?
    {
        ctx.log.line(format!(
            "ratchet-agent: {leader} leads the cluster, {:.1} s after the fault",
            (at - at_ms) as f64 / 1000.0
        ));
        injected.new_leader = Some(leader);
        injected.new_leader_at_ms = Some(at);
    }
    output(&injected)
}

/// How long the load's sessions may be gone before its measured window (between its
/// initialisation and warm-up there are none for a moment) before it counts as failed.
const LOAD_GONE: Duration = Duration::from_secs(30);

/// Until a session of the measured load shows on the server; an error when the load never
/// came or went away before its measured window (the test is failing: nothing to fault).
async fn wait_for_load(
    ctx: &ActionContext,
    psql: &Psql<'_>,
    input: &PostgresFaultInput,
) -> Result<(), ActionError> {
    use protocol::actions::LOAD_MARKER_PREFIX;
    let sql = format!(
        "SELECT count(*) FILTER (WHERE application_name = '{}') || '/' || \
         count(*) FILTER (WHERE application_name LIKE '{LOAD_MARKER_PREFIX}%') FROM pg_stat_activity",
        input.load_marker
    );
    let started = tokio::time::Instant::now();
    let mut last_seen: Option<tokio::time::Instant> = None;
    loop {
        let counts = match psql.query(ctx, &sql).await {
            Ok(out) if out.status.success() => {
                String::from_utf8_lossy(&out.stdout).trim().to_string()
            }
            _ => String::new(),
        };
        let (measured, any) = counts
            .split_once('/')
            .map(|(m, a)| (m.parse::<u32>().unwrap_or(0), a.parse::<u32>().unwrap_or(0)))
            .unwrap_or((0, 0));
        if measured > 0 {
            return Ok(());
        }
        if any > 0 {
            last_seen = Some(tokio::time::Instant::now());
        }
        let gone = match last_seen {
            Some(at) => at.elapsed() > LOAD_GONE,
            None => started.elapsed() > Duration::from_secs(input.wait_s),
        };
        if gone {
            return Err(ActionError::fatal(format!(
                "the load {} {}:{} before its measured window: no fault injected",
                if last_seen.is_some() {
                    "left"
                } else {
                    "never reached"
                },
                input.host,
                input.port
            )));
        }
        ctx.pause(Duration::from_millis(100)).await?;
    }
}

/// A crashed native server started again on its data (crash recovery).
async fn start_again(
    ctx: &ActionContext,
    bin: &std::path::Path,
    dir: &std::path::Path,
) -> Result<(), ActionError> {
    // The killed postmaster lingers as a zombie where whoever adopted it does not reap it
    // (an init that reaps nothing), and its lock files would stop the new one: every
    // process of it is dead already.
    let _ = std::fs::remove_file(dir.join("data").join("postmaster.pid"));
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(".s.PGSQL.") && name.ends_with(".lock") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let pg_ctl = Cmd::new(bin.join("pg_ctl"))
        .args(["start", "--wait", "--timeout=120", "--pgdata"])
        .arg(dir.join("data"))
        .arg("--log")
        .arg(dir.join("postgres.log"))
        .cwd(dir)
        .run_as(run_as(ctx)?);
    let started = process::run(&pg_ctl, ctx, |_, _| {}).await?;
    if !started.success() {
        let log = process::tail_of(&dir.join("postgres.log"), 10);
        return Err(ActionError::fatal(format!(
            "{}\n{}",
            started.failure("pg_ctl start"),
            log.join("\n")
        )));
    }
    Ok(())
}

/// The member leading the cluster once one answers `/primary`, and when.
async fn wait_for_leader(
    ctx: &ActionContext,
    input: &PostgresFaultInput,
) -> Result<Option<(String, i64)>, ActionError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .map_err(|e| ActionError::fatal(format!("cannot make an HTTP client: {e}")))?;
    let deadline = tokio::time::Instant::now() + ELECTION_TIMEOUT;
    while tokio::time::Instant::now() < deadline {
        for (name, peer) in &input.peers {
            let leads = client
                .get(format!("http://{}:{}/primary", peer.host, peer.port))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if leads {
                return Ok(Some((name.clone(), crate::outbox::now_ms())));
            }
        }
        ctx.pause(Duration::from_millis(200)).await?;
    }
    ctx.log.line(format!(
        "ratchet-agent: no member led the cluster within {ELECTION_TIMEOUT:?} of the fault"
    ));
    Ok(None)
}
