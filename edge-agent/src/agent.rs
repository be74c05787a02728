//! The agent's main loop: register, long-poll for work, run attempts up to the slots, stop
//! the attempts the server cancels, and deliver logs and results through the outbox. The
//! server may go away at any time: the agent keeps running what it has, buffers what it
//! owes, and reconnects with back-off and jitter.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use protocol::{
    Assignment, AttemptRef, AttemptResult, HostFacts, MAX_POLL_WAIT_S, PROTOCOL_VERSION, Poll,
    Registration, TaskResult, actions,
};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::actions::ActionContext;
use crate::backoff::Backoff;
use crate::client::{CallError, Client};
use crate::config::Config;
use crate::outbox::{LogSink, Outbox, ProgressSink};

/// How long a graceful shutdown waits for the outbox to drain.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

struct Running {
    cancel: CancellationToken,
}

pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let config = Arc::new(config);
    std::fs::create_dir_all(&config.work_dir).with_context(|| {
        format!(
            "cannot create the work dir {} (RATCHET_AGENT_WORK_DIR)",
            config.work_dir.display()
        )
    })?;
    let work_dir = std::fs::canonicalize(&config.work_dir)?;
    crate::actions::process::kill_leftovers(&work_dir);
    // Its own machine, all along: a load on another machine asks for the windows it ran in.
    crate::actions::sampler::keep_history();
    let client = Client::new(&config.server_url)?;
    let registration = Registration {
        name: config.name.clone().unwrap_or_else(hostname),
        version: env!("CARGO_PKG_VERSION").to_string(),
        protocol: PROTOCOL_VERSION,
        labels: config.parsed_labels()?,
        actions: actions::ALL.iter().map(|a| a.to_string()).collect(),
        slots: config.slots.max(1),
        host: host_facts(),
    };

    let Some(registered) = register(&client, &config, &registration, &shutdown).await? else {
        return Ok(());
    };
    tracing::info!(agent_id = %registered.agent_id, run = ?registered.run_id, labels = ?registered.labels, "registered");
    let (session_tx, session_rx) = watch::channel(registered.session_token);
    let mut lease = Duration::from_secs(u64::from(registered.lease_s.max(2)));

    let outbox = Arc::new(Outbox::default());
    let stop_sending = CancellationToken::new();
    let sender = tokio::spawn(outbox.clone().send_loop(
        client.clone(),
        session_rx.clone(),
        stop_sending.clone(),
    ));

    let mut running: HashMap<AttemptRef, Running> = HashMap::new();
    let mut attempts = JoinSet::new();
    let (finished_tx, mut finished) = mpsc::unbounded_channel::<AttemptRef>();
    // Retries well within the lease: a server that restarts gives its agents one lease to
    // come back before their attempts count as lost.
    let retry_cap =
        |lease: Duration| (lease / 3).clamp(Duration::from_secs(1), Duration::from_secs(30));
    let mut backoff = Backoff::new(Duration::from_millis(500), retry_cap(lease));
    let mut last_contact = tokio::time::Instant::now();

    while !shutdown.is_cancelled() {
        while let Ok(done) = finished.try_recv() {
            running.remove(&done);
        }
        while attempts.try_join_next().is_some() {}
        let free_slots = registration.slots.saturating_sub(running.len() as u32);
        let mut listed: Vec<AttemptRef> = running.keys().copied().collect();
        listed.extend(outbox.undelivered_results());
        let poll = Poll {
            running: listed,
            free_slots,
            // Poll again well within the lease: the poll is the heartbeat.
            wait_s: u32::try_from((lease / 3).as_secs())
                .unwrap_or(MAX_POLL_WAIT_S)
                .clamp(1, MAX_POLL_WAIT_S),
            run_id: None,
        };
        let session = session_rx.borrow().clone();
        let answer = tokio::select! {
            answer = client.poll(&session, &poll) => answer,
            () = shutdown.cancelled() => break,
            // A poll that asked for nothing can be dropped safely when a slot frees up.
            Some(done) = finished.recv(), if free_slots == 0 => {
                running.remove(&done);
                continue;
            }
        };
        match answer {
            Ok(answer) => {
                backoff.reset();
                last_contact = tokio::time::Instant::now();
                for stop in answer.cancellations {
                    if let Some(r) = running.get(&stop) {
                        tracing::info!(task = %stop.task_id, attempt = stop.attempt, "the server cancelled the attempt");
                        r.cancel.cancel();
                    }
                }
                for assignment in answer.assignments {
                    let key = AttemptRef {
                        task_id: assignment.task_id,
                        attempt: assignment.attempt,
                    };
                    let cancel = CancellationToken::new();
                    running.insert(
                        key,
                        Running {
                            cancel: cancel.clone(),
                        },
                    );
                    let (config, outbox, finished_tx, work_dir) = (
                        config.clone(),
                        outbox.clone(),
                        finished_tx.clone(),
                        work_dir.clone(),
                    );
                    attempts.spawn(async move {
                        execute(assignment, config, work_dir, outbox, cancel).await;
                        let _ = finished_tx.send(key);
                    });
                }
            }
            Err(CallError::Refused {
                status: 401,
                detail,
            }) => {
                // The session is gone (revoked, or the server lost its state): enroll again.
                // Attempts of the old session cannot report any more; stop them.
                tracing::warn!(%detail, "the session was refused; registering again");
                for r in running.values() {
                    r.cancel.cancel();
                }
                let Some(again) = register(&client, &config, &registration, &shutdown).await?
                else {
                    break;
                };
                lease = Duration::from_secs(u64::from(again.lease_s.max(2)));
                backoff = Backoff::new(Duration::from_millis(500), retry_cap(lease));
                let _ = session_tx.send(again.session_token);
            }
            Err(e) => {
                if config
                    .give_up_after
                    .is_some_and(|limit| last_contact.elapsed() > limit)
                {
                    tracing::error!(error = %e, "the server has been unreachable too long; stopping");
                    break;
                }
                let delay = backoff.next_delay();
                tracing::warn!(error = %e, retry_in = ?delay, "poll failed");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shutdown.cancelled() => break,
                }
            }
        }
    }

    // Graceful shutdown: stop what we started, hand the attempts back, deliver what we owe.
    tracing::info!(running = running.len(), "shutting down");
    for r in running.values() {
        r.cancel.cancel();
    }
    while attempts.join_next().await.is_some() {}
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while !outbox.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!("the server did not take every buffered message before shutdown");
    }
    stop_sending.cancel();
    let _ = sender.await;
    let session = session_rx.borrow().clone();
    if let Err(e) = client.deregister(&session).await {
        tracing::warn!(error = %e, "cannot deregister");
    }
    Ok(())
}

/// Register until it works; a refusal (bad token, wrong protocol) is final. `None` when
/// asked to shut down first.
async fn register(
    client: &Client,
    config: &Config,
    registration: &Registration,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<protocol::Registered>> {
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    let started = tokio::time::Instant::now();
    loop {
        match client
            .register(config.enrollment_token(), registration)
            .await
        {
            Ok(registered) => return Ok(Some(registered)),
            Err(CallError::Refused { status, detail }) => anyhow::bail!(
                "the server at {} refused the registration ({status}): {detail}",
                config.server_url
            ),
            Err(e) => {
                if config
                    .give_up_after
                    .is_some_and(|limit| started.elapsed() > limit)
                {
                    anyhow::bail!(
                        "the server at {} has been unreachable too long: {e}",
                        config.server_url
                    );
                }
                let delay = backoff.next_delay();
                tracing::warn!(error = %e, retry_in = ?delay, "cannot register yet");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shutdown.cancelled() => return Ok(None),
                }
            }
        }
    }
}

/// Run one attempt in its own directory and queue its result. A cancelled attempt reports
/// nothing: the server already knows (or, on our own shutdown, the deregistration hands
/// the attempt back).
async fn execute(
    assignment: Assignment,
    config: Arc<Config>,
    work_dir: PathBuf,
    outbox: Arc<Outbox>,
    cancel: CancellationToken,
) {
    let key = AttemptRef {
        task_id: assignment.task_id,
        attempt: assignment.attempt,
    };
    let attempt_dir = work_dir
        .join("tasks")
        .join(format!("{}-{}", assignment.task_id, assignment.attempt));
    let log = LogSink::new(key, outbox.clone());
    tracing::info!(run = %assignment.run_id, task = %assignment.task_name, action = %assignment.action, attempt = assignment.attempt, "starting");
    let trace = telemetry::Trace::start(
        assignment.traceparent.as_deref(),
        assignment.action.clone(),
        vec![
            telemetry::opentelemetry::KeyValue::new("ratchet.task", assignment.task_name.clone()),
            telemetry::opentelemetry::KeyValue::new(
                "ratchet.attempt",
                i64::from(assignment.attempt),
            ),
        ],
    );
    let ctx = ActionContext {
        trace: trace.clone(),
        input: assignment.input.clone(),
        work_dir,
        attempt_dir: attempt_dir.clone(),
        log: log.clone(),
        progress: ProgressSink::new(key, outbox.clone()),
        cancel: cancel.clone(),
        config,
    };
    let outcome = match std::fs::create_dir_all(&attempt_dir) {
        Ok(()) => crate::actions::run(&assignment.action, &ctx).await,
        Err(e) => Err(crate::actions::ActionError::retryable(format!(
            "cannot create the task's directory {}: {e}",
            attempt_dir.display()
        ))),
    };
    let _ = std::fs::remove_dir_all(&attempt_dir);
    if cancel.is_cancelled() {
        trace.end(Some("cancelled"));
        log.line("ratchet-agent: the attempt was cancelled; its processes are stopped");
        return;
    }
    trace.end(outcome.as_ref().err().map(|e| e.message.as_str()));
    let result = match outcome {
        Ok(mut output) => {
            for line in crate::fit::fit_output(&mut output) {
                log.line(line);
            }
            AttemptResult::Completed { output }
        }
        Err(e) => {
            log.line(format!("ratchet-agent: {}", e.message));
            AttemptResult::Failed {
                error: e.message,
                retryable: e.retryable,
            }
        }
    };
    outbox.result(TaskResult {
        task_id: key.task_id,
        attempt: key.attempt,
        result,
    });
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "agent".into())
}

fn host_facts() -> HostFacts {
    let memory_mb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024);
    HostFacts {
        hostname: hostname(),
        os: std::env::consts::OS.into(),
        arch: std::env::consts::ARCH.into(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        memory_mb,
    }
}
