//! The token facet: bearer tokens by their SHA-256, revocation and expiry.

macro_rules! sql_tokens {
    ($store:ident, $db:ty) => {
        #[async_trait]
        impl TokenStore for $store {
            async fn put_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO tokens (id, kind, name, token_hash, scopes, labels, run_id, worker_id, created_at, expires_at, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(t.id)
                .bind(&t.kind)
                .bind(&t.name)
                .bind(&t.token_hash)
                .bind(Json(&t.scopes))
                .bind(Json(&t.labels))
                .bind(t.run_id)
                .bind(t.worker_id)
                .bind(t.created_at)
                .bind(t.expires_at)
                .bind(t.revoked_at)
                .execute(self.writer())
                .await
                .map_err(|e| match e.as_database_error() {
                    Some(d) if d.is_unique_violation() => StoreError::Conflict(format!("a token with id {} or the same secret exists", t.id)),
                    _ => e.into(),
                })?;
                Ok(())
            }

            async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
                sqlx::query(concat!("SELECT ", token_columns!(), " FROM tokens WHERE token_hash = $1"))
                    .bind(hash)
                    .fetch_optional(self.reader())
                    .await?
                    .as_ref()
                    .map(token_from_row)
                    .transpose()
            }

            async fn tokens(&self, kind: &str) -> Result<Vec<TokenRecord>, StoreError> {
                sqlx::query(concat!("SELECT ", token_columns!(), " FROM tokens WHERE kind = $1 ORDER BY created_at DESC, id DESC"))
                    .bind(kind)
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(token_from_row)
                    .collect()
            }

            async fn revoke_token(&self, id: Uuid, now: Millis) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(now)
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn revoke_run_tokens(&self, run_id: RunId, now: Millis) -> Result<u64, StoreError> {
                let done = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE run_id = $2 AND revoked_at IS NULL")
                    .bind(now)
                    .bind(run_id)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected())
            }

            async fn extend_token(&self, id: Uuid, expires_at: Millis) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE tokens SET expires_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(expires_at)
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}
