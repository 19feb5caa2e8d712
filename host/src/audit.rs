//! The audit log: who did what to which tenant, when.
//!
//! Rows are written with the same connection (and so in the same
//! transaction) as the change they describe: a change is never stored
//! without its audit row, nor an audit row without its change.

use serde_json::Value;
use sqlx::AnyConnection;

use crate::db::{self, Db, DbError};

/// Who is acting: `operator`, `cli:<user>`, later a user id or API key.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
}

impl Actor {
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }

    /// The local user running a CLI command.
    pub fn cli() -> Self {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        Self::new(format!("cli:{user}"))
    }
}

/// Appends one audit row on `conn` (pass the transaction of the change).
pub async fn record(
    conn: &mut AnyConnection,
    actor: &Actor,
    action: &str,
    tenant: Option<&str>,
    detail: Value,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, tenant_id, request_id, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(db::now())
    .bind(&actor.name)
    .bind(action)
    .bind(tenant)
    .bind(crate::context::request_id())
    .bind(detail.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// One row of the audit log.
#[derive(Debug, Clone, poem_openapi::Object)]
pub struct AuditEntry {
    pub id: i64,
    /// When it happened (RFC 3339, UTC).
    pub at: String,
    pub actor: String,
    /// What was done, e.g. `tenant.create`.
    pub action: String,
    pub tenant_id: Option<String>,
    pub request_id: Option<String>,
    /// Action-specific details.
    pub detail: Value,
}

type AuditRow = (i64, String, String, String, Option<String>, Option<String>, String);

/// The newest audit rows of a tenant, newest first.
pub async fn for_tenant(db: &Db, tenant: &str, limit: i64) -> Result<Vec<AuditEntry>, DbError> {
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT id, at, actor, action, tenant_id, request_id, detail FROM audit_log \
         WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(tenant)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, at, actor, action, tenant_id, request_id, detail)| AuditEntry {
            id,
            at,
            actor,
            action,
            tenant_id,
            request_id,
            detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
        })
        .collect())
}
