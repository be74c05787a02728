//! The record facet: small named documents by (namespace, key), replaced whole.

macro_rules! sql_records {
    ($store:ident, $db:ty) => {
        #[async_trait]
        impl RecordStore for $store {
            async fn put_record(&self, namespace: &str, key: &str, value: &Value, now: Millis) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO records (namespace, key, value, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                )
                .bind(namespace)
                .bind(key)
                .bind(Json(value))
                .bind(now)
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn record(&self, namespace: &str, key: &str) -> Result<Option<Record>, StoreError> {
                sqlx::query("SELECT namespace, key, value, updated_at FROM records WHERE namespace = $1 AND key = $2")
                    .bind(namespace)
                    .bind(key)
                    .fetch_optional(self.reader())
                    .await?
                    .as_ref()
                    .map(record_from_row)
                    .transpose()
            }

            async fn records(&self, namespace: &str) -> Result<Vec<Record>, StoreError> {
                sqlx::query("SELECT namespace, key, value, updated_at FROM records WHERE namespace = $1 ORDER BY key")
                    .bind(namespace)
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(record_from_row)
                    .collect()
            }

            async fn delete_record(&self, namespace: &str, key: &str) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM records WHERE namespace = $1 AND key = $2")
                    .bind(namespace)
                    .bind(key)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() > 0)
            }
        }

        fn record_from_row(row: &Row_) -> Result<Record, StoreError> {
            Ok(Record {
                namespace: row.try_get("namespace")?,
                key: row.try_get("key")?,
                value: row.try_get::<Json<Value>, _>("value")?.0,
                updated_at: row.try_get("updated_at")?,
            })
        }
    };
}
