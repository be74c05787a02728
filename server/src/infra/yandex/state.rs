//! Where a deployment's Terraform state lives: in its work dir, or — when the server runs on
//! PostgreSQL — in that database through Terraform's `pg` backend, one schema per
//! deployment (`terraform_<deployment id>`), dropped once a destroy has emptied it.

use std::path::Path;

use sqlx::Connection;

#[derive(Debug, Clone)]
pub enum StateBackend {
    /// `terraform.tfstate` in the deployment's work dir.
    Local,
    /// Terraform's `pg` backend on this connection string (it carries a password: it is
    /// written to a 0600 file, and masked in Terraform's output).
    Postgres { url: String },
}

/// The backend block's file in a work dir (absent with the local backend).
pub const BACKEND_FILE: &str = "ratchet-backend.tf.json";

/// The schema of a deployment's state.
pub fn schema(deployment_id: &str) -> String {
    format!("terraform_{}", deployment_id.replace('-', "_"))
}

impl StateBackend {
    /// Write the backend block into `dir` (nothing for the local backend).
    pub fn configure(&self, dir: &Path, deployment_id: &str) -> std::io::Result<()> {
        let Self::Postgres { url } = self else {
            return Ok(());
        };
        let block = serde_json::json!({
            "terraform": { "backend": { "pg": {
                "conn_str": literal(url),
                "schema_name": schema(deployment_id),
            } } }
        });
        crate::infra::write_private(&dir.join(BACKEND_FILE), &block.to_string())
    }

    /// The secret part of the backend's settings, to be masked.
    pub fn secret(&self) -> Option<&str> {
        match self {
            Self::Local => None,
            Self::Postgres { url } => Some(url),
        }
    }

    /// Drop a deployment's (emptied) state.
    pub async fn forget(&self, deployment_id: &str) -> Result<(), String> {
        let Self::Postgres { url } = self else {
            return Ok(());
        };
        let mut db = sqlx::PgConnection::connect(url)
            .await
            .map_err(|e| format!("cannot reach the state database: {e}"))?;
        // The name is ours (`terraform_` and [a-z0-9]), never a caller's.
        let drop = format!("DROP SCHEMA IF EXISTS {} CASCADE", schema(deployment_id));
        sqlx::query(sqlx::AssertSqlSafe(drop))
            .execute(&mut db)
            .await
            .map_err(|e| format!("cannot drop the state's schema: {e}"))?;
        Ok(())
    }
}

/// `text` as a literal string of Terraform's JSON syntax, whose strings are templates: the
/// template sequences are escaped.
fn literal(text: &str) -> String {
    text.replace("${", "$${").replace("%{", "%%{")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_with_template_sequences_stays_literal() {
        assert_eq!(
            literal("postgres://u:p${x}%{y}@h/db"),
            "postgres://u:p$${x}%%{y}@h/db"
        );
    }

    #[test]
    fn schemas_are_plain_identifiers() {
        assert_eq!(schema("r0a1b2c3d4e5f"), "terraform_r0a1b2c3d4e5f");
    }
}
