//! The `kv` capability: a key-value store per (tenant, module), in a host
//! table keyed by (tenant, module, key). Values may expire.

use super::{CallState, CapError, stateless_unit};
use crate::contract::Capability;
use crate::contract::plaza::module::kv::{self as wit, Host};
use crate::tenancy::quotas;

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// Most keys one listing returns.
pub const MAX_LIST: u32 = 1000;
/// Longest time to live: ten years.
const MAX_TTL_SECONDS: u32 = 10 * 366 * 24 * 3600;

stateless_unit!(
    /// The `kv` unit: its rows live in the host database; nothing per call.
    Kv,
    Capability::Kv,
    wit
);

fn check_key(key: &str) -> Result<(), CapError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES || key.chars().any(char::is_control) {
        return Err(CapError::invalid(format!(
            "a key is 1 to {MAX_KEY_BYTES} bytes of text without control characters"
        )));
    }
    Ok(())
}

fn db(e: impl std::fmt::Display) -> CapError {
    tracing::error!(error = %e, "kv capability failed");
    CapError::unavailable("the key-value store is not available; try again")
}

impl Host for CallState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, CapError> {
        let scope = self.scope_for(Capability::Kv)?;
        check_key(&key)?;
        let row: Option<(Vec<u8>, Option<String>)> =
            sqlx::query_as("SELECT value, expires_at FROM module_kv WHERE tenant_id = $1 AND module = $2 AND key = $3")
                .bind(&scope.tenant)
                .bind(scope.module())
                .bind(&key)
                .fetch_optional(self.services().db.pool())
                .await
                .map_err(db)?;
        Ok(match row {
            Some((_, Some(expires))) if expires <= crate::db::now() => None,
            Some((value, _)) => Some(value),
            None => None,
        })
    }

    async fn set(&mut self, key: String, value: Vec<u8>, ttl_seconds: Option<u32>) -> Result<(), CapError> {
        let scope = self.scope_for(Capability::Kv)?;
        check_key(&key)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(CapError::limit(format!("a value may be {MAX_VALUE_BYTES} bytes")));
        }
        let expires = match ttl_seconds {
            Some(0) => return Err(CapError::invalid("a time to live is at least one second")),
            Some(s) if s > MAX_TTL_SECONDS => return Err(CapError::invalid("a time to live is at most ten years")),
            Some(s) => Some(crate::db::format_time(chrono::Utc::now() + chrono::Duration::seconds(i64::from(s)))),
            None => None,
        };
        let services = std::sync::Arc::clone(self.services());
        let limit = services.quotas.of(&services.db, &scope.tenant).await.map_err(db)?.module_kv_entries;
        match quotas::kv_room(&services.db, &scope.tenant, scope.module(), &key, limit).await {
            Ok(()) => {}
            Err(quotas::KvRoom::Full(e)) => return Err(CapError::limit(e.to_string())),
            Err(quotas::KvRoom::Db(e)) => return Err(db(e)),
        }
        sqlx::query(
            "INSERT INTO module_kv (tenant_id, module, key, value, expires_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (tenant_id, module, key) \
             DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at",
        )
        .bind(&scope.tenant)
        .bind(scope.module())
        .bind(&key)
        .bind(value)
        .bind(expires)
        .bind(crate::db::now())
        .execute(self.services().db.pool())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn delete(&mut self, key: String) -> Result<bool, CapError> {
        let scope = self.scope_for(Capability::Kv)?;
        check_key(&key)?;
        let done = sqlx::query(
            "DELETE FROM module_kv WHERE tenant_id = $1 AND module = $2 AND key = $3 \
             AND (expires_at IS NULL OR expires_at > $4)",
        )
        .bind(&scope.tenant)
        .bind(scope.module())
        .bind(&key)
        .bind(crate::db::now())
        .execute(self.services().db.pool())
        .await
        .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_keys(&mut self, prefix: String, cursor: Option<String>, limit: u32) -> Result<Vec<String>, CapError> {
        let scope = self.scope_for(Capability::Kv)?;
        if prefix.len() > MAX_KEY_BYTES {
            return Err(CapError::invalid("the prefix is longer than any key"));
        }
        let limit = i64::from(limit.clamp(1, MAX_LIST));
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT key FROM module_kv WHERE tenant_id = $1 AND module = $2 \
             AND substr(key, 1, length($3)) = $3 AND key > $4 \
             AND (expires_at IS NULL OR expires_at > $5) ORDER BY key LIMIT $6",
        )
        .bind(&scope.tenant)
        .bind(scope.module())
        .bind(&prefix)
        .bind(cursor.unwrap_or_default())
        .bind(crate::db::now())
        .bind(limit)
        .fetch_all(self.services().db.pool())
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(|(k,)| k).collect())
    }
}
