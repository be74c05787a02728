//! The lease facet: leases on shared resources, exclusive per (kind, key), counted
//! against a limit under the dialect's lock.

macro_rules! sql_leases {
    ($store:ident, $db:ty) => {
        #[async_trait]
        impl LeaseStore for $store {
            async fn acquire_lease(&self, lease: &Lease, limit: Option<LeaseLimit>, now: Millis) -> Result<bool, StoreError> {
                let mut tx = self.writer().begin().await?;
                if !<$store as Dialect>::LOCK_LEASES.is_empty() {
                    sqlx::query(<$store as Dialect>::LOCK_LEASES).execute(&mut *tx).await?;
                }
                let holder: Option<String> = sqlx::query_scalar("SELECT holder FROM leases WHERE kind = $1 AND key = $2")
                    .bind(&lease.kind)
                    .bind(&lease.key)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(holder) = holder {
                    return Ok(holder == lease.holder);
                }
                if let Some(limit) = limit {
                    let (count, amount): (i64, i64) = sqlx::query_as("SELECT COUNT(*), CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM leases WHERE kind = $1")
                        .bind(&lease.kind)
                        .fetch_one(&mut *tx)
                        .await?;
                    if count + 1 > limit.count || amount + lease.amount > limit.amount {
                        return Ok(false);
                    }
                }
                sqlx::query("INSERT INTO leases (kind, key, holder, amount, data, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(&lease.kind)
                    .bind(&lease.key)
                    .bind(&lease.holder)
                    .bind(lease.amount)
                    .bind(lease.data.clone().map(Json))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn update_lease_data(&self, kind: &str, key: &str, data: &Value) -> Result<(), StoreError> {
                sqlx::query("UPDATE leases SET data = $1 WHERE kind = $2 AND key = $3")
                    .bind(Json(data))
                    .bind(kind)
                    .bind(key)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn leases(&self, kind: Option<&str>, holder: Option<&str>) -> Result<Vec<Lease>, StoreError> {
                let mut qb: QueryBuilder<$db> = QueryBuilder::new("SELECT kind, key, holder, amount, data FROM leases WHERE 1 = 1");
                if let Some(kind) = kind {
                    qb.push(" AND kind = ").push_bind(kind.to_string());
                }
                if let Some(holder) = holder {
                    qb.push(" AND holder = ").push_bind(holder.to_string());
                }
                qb.push(" ORDER BY kind, key");
                qb.build()
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(|row| {
                        Ok(Lease {
                            kind: row.try_get("kind")?,
                            key: row.try_get("key")?,
                            holder: row.try_get("holder")?,
                            amount: row.try_get("amount")?,
                            data: row.try_get::<Option<Json<Value>>, _>("data")?.map(|j| j.0),
                        })
                    })
                    .collect()
            }

            async fn release_lease(&self, kind: &str, key: &str) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM leases WHERE kind = $1 AND key = $2")
                    .bind(kind)
                    .bind(key)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}
