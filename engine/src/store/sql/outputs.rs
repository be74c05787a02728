//! The output facet: what running attempts write (log lines, progress points, memos); a
//! re-sent line or point is stored once.

macro_rules! sql_outputs {
    ($store:ident, $db:ty) => {
        #[async_trait]
        impl OutputStore for $store {
            async fn append_logs(&self, lines: &[LogLine]) -> Result<(), StoreError> {
                for chunk in lines.chunks(1000) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new("INSERT INTO task_logs (run_id, task_id, attempt, seq, at, line) ");
                    qb.push_values(chunk, |mut b, l| {
                        b.push_bind(l.run_id)
                            .push_bind(l.task_id)
                            .push_bind(l.attempt)
                            .push_bind(l.seq)
                            .push_bind(l.at)
                            .push_bind(l.line.clone());
                    });
                    qb.push(" ON CONFLICT (task_id, attempt, seq) DO NOTHING");
                    qb.build().execute(self.writer()).await?;
                }
                Ok(())
            }

            async fn append_progress(&self, points: &[ProgressRow]) -> Result<(), StoreError> {
                for chunk in points.chunks(1000) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new("INSERT INTO task_progress (run_id, task_id, attempt, seq, at, \"values\") ");
                    qb.push_values(chunk, |mut b, p| {
                        b.push_bind(p.run_id)
                            .push_bind(p.task_id)
                            .push_bind(p.attempt)
                            .push_bind(p.seq)
                            .push_bind(p.at)
                            .push_bind(Json(p.values.clone()));
                    });
                    qb.push(" ON CONFLICT (task_id, attempt, seq) DO NOTHING");
                    qb.build().execute(self.writer()).await?;
                }
                Ok(())
            }

            async fn memo_get(&self, task_id: TaskId, key: &str) -> Result<Option<Value>, StoreError> {
                let value: Option<Json<Value>> = sqlx::query_scalar("SELECT value FROM task_memos WHERE task_id = $1 AND key = $2")
                    .bind(task_id)
                    .bind(key)
                    .fetch_optional(self.reader())
                    .await?;
                Ok(value.map(|j| j.0))
            }

            async fn memo_put(&self, task_id: TaskId, key: &str, value: &Value) -> Result<Value, StoreError> {
                sqlx::query("INSERT INTO task_memos (task_id, key, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                    .bind(task_id)
                    .bind(key)
                    .bind(Json(value))
                    .execute(self.writer())
                    .await?;
                let stored: Json<Value> = sqlx::query_scalar("SELECT value FROM task_memos WHERE task_id = $1 AND key = $2")
                    .bind(task_id)
                    .bind(key)
                    .fetch_one(self.writer())
                    .await?;
                Ok(stored.0)
            }
        }
    };
}
