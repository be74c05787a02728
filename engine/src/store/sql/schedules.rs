//! The schedule facet: crons and one-off scheduled runs; each tick and each run is taken
//! by exactly one replica.

macro_rules! sql_schedules {
    ($store:ident, $db:ty) => {
        #[async_trait]
        impl ScheduleStore for $store {
            async fn put_cron(&self, c: &CronRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO crons (id, name, workflow, version, expression, input, next_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (name) DO UPDATE SET workflow = excluded.workflow, version = excluded.version, \
                     expression = excluded.expression, input = excluded.input, next_at = excluded.next_at",
                )
                .bind(c.id)
                .bind(&c.name)
                .bind(&c.workflow)
                .bind(&c.version)
                .bind(&c.expression)
                .bind(Json(&c.input))
                .bind(c.next_at)
                .bind(c.created_at)
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn crons(&self) -> Result<Vec<CronRecord>, StoreError> {
                sqlx::query("SELECT id, name, workflow, version, expression, input, next_at, created_at FROM crons ORDER BY name")
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(|row| {
                        Ok(CronRecord {
                            id: row.try_get("id")?,
                            name: row.try_get("name")?,
                            workflow: row.try_get("workflow")?,
                            version: row.try_get("version")?,
                            expression: row.try_get("expression")?,
                            input: row.try_get::<Json<Value>, _>("input")?.0,
                            next_at: row.try_get("next_at")?,
                            created_at: row.try_get("created_at")?,
                        })
                    })
                    .collect()
            }

            async fn delete_cron(&self, id: Uuid) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM crons WHERE id = $1").bind(id).execute(self.writer()).await?;
                Ok(done.rows_affected() > 0)
            }

            async fn claim_cron_tick(&self, cron_id: Uuid, tick: Millis, next_at: Millis) -> Result<bool, StoreError> {
                let mut tx = self.writer().begin().await?;
                let claimed = sqlx::query("INSERT INTO cron_firings (cron_id, tick) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(cron_id)
                    .bind(tick)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
                if claimed {
                    sqlx::query("UPDATE crons SET next_at = $1 WHERE id = $2 AND next_at <= $3")
                        .bind(next_at)
                        .bind(cron_id)
                        .bind(tick)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(claimed)
            }

            async fn put_scheduled_run(&self, r: &ScheduledRun) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO scheduled_runs (id, workflow, version, input, at, run_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(r.id)
                    .bind(&r.workflow)
                    .bind(&r.version)
                    .bind(Json(&r.input))
                    .bind(r.at)
                    .bind(r.run_id)
                    .bind(r.created_at)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn scheduled_runs(&self) -> Result<Vec<ScheduledRun>, StoreError> {
                // A scheduled run is claimed (its run id set) just before its run is created:
                // the id shows once the run exists, so it can always be followed.
                sqlx::query(
                    "SELECT s.id, s.workflow, s.version, s.input, s.at, r.id AS run_id, s.created_at \
                     FROM scheduled_runs s LEFT JOIN runs r ON r.id = s.run_id ORDER BY s.at, s.id",
                )
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(|row| {
                        Ok(ScheduledRun {
                            id: row.try_get("id")?,
                            workflow: row.try_get("workflow")?,
                            version: row.try_get("version")?,
                            input: row.try_get::<Json<Value>, _>("input")?.0,
                            at: row.try_get("at")?,
                            run_id: row.try_get("run_id")?,
                            created_at: row.try_get("created_at")?,
                        })
                    })
                    .collect()
            }

            async fn delete_scheduled_run(&self, id: Uuid) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM scheduled_runs WHERE id = $1").bind(id).execute(self.writer()).await?;
                Ok(done.rows_affected() > 0)
            }

            async fn claim_scheduled_run(&self, id: Uuid, run_id: RunId) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE scheduled_runs SET run_id = $1 WHERE id = $2 AND run_id IS NULL")
                    .bind(run_id)
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}
