//! The leak guard: machines must not outlive what they are for. Every interval it looks at
//! what the providers' leases say exists and destroys
//! - the machines of a run that has ended (its own teardown failed, or the server died
//!   between the run's end and its teardown) or that no longer exists, and
//! - the machines of a run past its TTL, cancelling the run first.
//!
//! One replica sweeps at a time (`engine::leader`): another takes over once the leader
//! stops renewing its lease. Destroying is
//! idempotent on every provider, so a sweep may race a run's own teardown harmlessly.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use engine::Engine;
use engine::clock::{Clock, SystemClock};
use engine::leader::Leadership;
use engine::model::RunStatus;
use uuid::Uuid;

use crate::infra::{
    DestroyFailure, Progress, Provider, Providers, destroy_all, machine_kind, network,
};
use crate::stroppy::workflows::machines_expire_at;

/// What one sweep did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Runs whose machines were destroyed because the run had ended or was gone.
    pub orphaned: Vec<Uuid>,
    /// Runs cancelled and destroyed because they outlived their TTL.
    pub expired: Vec<Uuid>,
    /// Destroys that failed (they are tried again next sweep), as `run: error`.
    pub failed: Vec<String>,
}

/// The key of the guard's leadership (one replica sweeps at a time).
const LEADER_KEY: &str = "leak-guard";

pub struct LeakGuard {
    pub engine: Arc<Engine>,
    /// Its findings are counted in `ratchet_leak_guard_findings_total`.
    pub telemetry: Arc<crate::telemetry::Telemetry>,
    pub providers: Providers,
    /// How often it sweeps (a failed destroy waits a few sweeps more each time).
    pub interval: Duration,
}

impl LeakGuard {
    /// Sweep every `interval` while this replica leads, until the engine shuts down.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        let interval = self.interval;
        // Unrenewed for this long, the leadership is free to take.
        let term = (interval * 3).max(Duration::from_secs(3));
        let leadership = Leadership::new(self.engine.leases(), LEADER_KEY, term);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match leadership.lead().await {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "leak guard: cannot take or renew its leadership");
                        continue;
                    }
                }
                let sweep = self.sweep().await;
                let metrics = &self.telemetry.metrics;
                metrics.leak_guard_swept();
                metrics.leak_guard_found("orphaned", sweep.orphaned.len());
                metrics.leak_guard_found("expired", sweep.expired.len());
                metrics.leak_guard_found("failed", sweep.failed.len());
                if !sweep.failed.is_empty() {
                    tracing::warn!(failed = ?sweep.failed, "leak guard: some machines could not be destroyed; retrying next sweep");
                }
            }
        })
    }

    /// One look at every provider's leases.
    pub async fn sweep(&self) -> Sweep {
        let mut sweep = Sweep::default();
        for provider in self.providers.all() {
            if let Err(e) = self.sweep_provider(provider.as_ref(), &mut sweep).await {
                sweep.failed.push(format!("{}: {e}", provider.name()));
            }
        }
        sweep
    }

    async fn sweep_provider(
        &self,
        provider: &dyn Provider,
        sweep: &mut Sweep,
    ) -> Result<(), crate::infra::ProviderError> {
        let leases = self.engine.leases();
        let mut kinds: Vec<&str> = provider.quotas().iter().map(|q| q.kind).collect();
        kinds.push(network::NETWORK);
        let mut holders = BTreeSet::new();
        for kind in kinds {
            for lease in leases.leases(Some(kind), None).await? {
                holders.insert(lease.holder);
            }
        }
        let machines = machine_kind(provider);
        for holder in holders {
            let Ok(run_id) = Uuid::parse_str(&holder) else {
                continue; // not a run's lease
            };
            let run = self.engine.reads().run(run_id).await?;
            let now = SystemClock.now();
            let ended = run.as_ref().is_none_or(|r| r.status.is_terminal());
            let expired = run
                .as_ref()
                .and_then(machines_expire_at)
                .is_some_and(|at| at <= now);
            if !ended && !expired {
                continue;
            }
            // A network block of a live run's other provider is not ours to give back.
            let holds_machines = !leases
                .leases(Some(machines), Some(&holder))
                .await?
                .is_empty();
            if !ended && !holds_machines {
                continue;
            }
            // A destroy that failed is tried again once its back-off is over.
            let failure = DestroyFailure::of_run(leases.as_ref(), provider, run_id).await?;
            if failure.is_some_and(|f| f.retry_at(self.interval) > now) {
                continue;
            }
            if expired && !ended {
                tracing::warn!(run = %run_id, provider = provider.name(), "leak guard: the test run outlived its TTL; cancelling it and destroying its machines");
                if let Err(e) = self.engine.cancel_run(run_id).await {
                    tracing::warn!(run = %run_id, error = %e, "leak guard: cannot cancel the run");
                }
            }
            let progress = Progress::server_log(format!("leak guard, run {run_id}"));
            match destroy_all(
                leases.as_ref(),
                self.engine.tokens().as_ref(),
                provider,
                run_id,
                &progress,
                now,
            )
            .await
            {
                Ok(destroyed) => {
                    if !destroyed.is_empty() {
                        tracing::warn!(run = %run_id, status = ?run.as_ref().map(|r| r.status).unwrap_or(RunStatus::Cancelled), machines = ?destroyed, "leak guard: destroyed machines left behind");
                    }
                    if ended {
                        sweep.orphaned.push(run_id);
                    } else {
                        sweep.expired.push(run_id);
                    }
                }
                Err(e) => sweep.failed.push(format!("{run_id}: {e}")),
            }
        }
        Ok(())
    }
}
