//! Crons and one-off scheduled runs. The sweeper fires what is due; the store makes each
//! cron tick and each scheduled run start exactly one run, however many replicas sweep.
//! Missed ticks (the server was down) are not caught up: the next tick is counted from now.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::engine::{Engine, EngineError, Inner};
use crate::model::{CronRecord, Millis, ScheduledRun};
use crate::store::{NewRun, StoreError};

/// The first tick of `expression` (5 or 6 fields, UTC) strictly after `after`.
pub fn next_tick(expression: &str, after: Millis) -> Result<Millis, String> {
    let cron = croner::Cron::from_str(expression)
        .map_err(|e| format!("`{expression}` is not a cron expression: {e}"))?;
    let from = DateTime::<Utc>::from_timestamp_millis(after)
        .ok_or_else(|| format!("{after} is not a time"))?;
    cron.find_next_occurrence(&from, false)
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("`{expression}` never fires: {e}"))
}

impl Engine {
    /// Create (or replace, by name) a cron of a registered workflow.
    pub async fn create_cron(
        &self,
        name: &str,
        workflow: &str,
        version: &str,
        expression: &str,
        input: Value,
    ) -> Result<CronRecord, EngineError> {
        if self.store().workflow(workflow, version).await?.is_none() {
            return Err(EngineError::UnknownWorkflow(format!(
                "{workflow}@{version}"
            )));
        }
        let now = self.now();
        let cron = CronRecord {
            id: Uuid::now_v7(),
            name: name.to_string(),
            workflow: workflow.to_string(),
            version: version.to_string(),
            expression: expression.to_string(),
            input,
            next_at: next_tick(expression, now).map_err(EngineError::InvalidSchedule)?,
            created_at: now,
        };
        self.store().put_cron(&cron).await?;
        Ok(cron)
    }

    /// Start a run of a registered workflow once, at `at`.
    pub async fn schedule_run(
        &self,
        workflow: &str,
        version: &str,
        input: Value,
        at: Millis,
    ) -> Result<ScheduledRun, EngineError> {
        if self.store().workflow(workflow, version).await?.is_none() {
            return Err(EngineError::UnknownWorkflow(format!(
                "{workflow}@{version}"
            )));
        }
        let run = ScheduledRun {
            id: Uuid::now_v7(),
            workflow: workflow.to_string(),
            version: version.to_string(),
            input,
            at,
            run_id: None,
            created_at: self.now(),
        };
        self.store().put_scheduled_run(&run).await?;
        Ok(run)
    }
}

impl Inner {
    /// Start what is due. Called by the sweeper.
    pub(crate) async fn fire_schedules(&self) -> Result<(), StoreError> {
        let now = self.clock.now();
        for cron in self.store.crons().await? {
            if cron.next_at > now {
                continue;
            }
            let Ok(next) = next_tick(&cron.expression, now) else {
                continue;
            };
            if self
                .store
                .claim_cron_tick(cron.id, cron.next_at, next)
                .await?
            {
                self.start(
                    &cron.workflow,
                    &cron.version,
                    cron.input.clone(),
                    Uuid::now_v7(),
                    &format!("cron {}", cron.name),
                )
                .await;
            }
        }
        for scheduled in self.store.scheduled_runs().await? {
            if scheduled.run_id.is_some() || scheduled.at > now {
                continue;
            }
            let run_id = Uuid::now_v7();
            if self.store.claim_scheduled_run(scheduled.id, run_id).await? {
                self.start(
                    &scheduled.workflow,
                    &scheduled.version,
                    scheduled.input.clone(),
                    run_id,
                    "a scheduled run",
                )
                .await;
            }
        }
        Ok(())
    }

    async fn start(&self, workflow: &str, version: &str, input: Value, id: Uuid, why: &str) {
        let new = NewRun {
            id,
            workflow: workflow.to_string(),
            version: version.to_string(),
            input,
            parent: None,
        };
        if let Err(e) = self.creations.submit(new).await {
            tracing::warn!(workflow, error = %e, "{why} could not start its run");
        }
    }
}
