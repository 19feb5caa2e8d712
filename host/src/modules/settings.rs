//! A module's settings and secrets for a tenant, as tenant admins manage
//! them (set, list, delete), each change audited. Modules read them through
//! the `config` capability ([`crate::capabilities::config`]).

use serde_json::json;
use sqlx::AnyConnection;

use crate::audit::{self, Actor};
use crate::capabilities::config::{MAX_VALUE_BYTES, valid_name};
use crate::db::{Db, DbError};

/// Why a setting could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid setting name {0:?}: use 1 to 128 letters, digits, `.`, `_` or `-`")]
    Name(String),
    #[error("the value of a setting must be JSON: {0}")]
    NotJson(String),
    #[error("a value may be {MAX_VALUE_BYTES} bytes")]
    TooLarge,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Stores a setting (`secret = false`, `value` is JSON text) or a secret.
pub async fn set(db: &Db, tenant: &str, module: &str, key: &str, value: &str, secret: bool) -> Result<(), ConfigError> {
    let mut conn = db.pool().acquire().await.map_err(DbError::from)?;
    upsert(&mut conn, tenant, module, key, value, secret).await
}

/// [`set`], with its audit row in the same transaction (secrets' values never in it).
pub async fn set_audited(
    db: &Db,
    actor: &Actor,
    tenant: &str,
    module: &str,
    key: &str,
    value: &str,
    secret: bool,
) -> Result<(), ConfigError> {
    let mut tx = db.begin().await.map_err(DbError::from)?;
    upsert(&mut tx, tenant, module, key, value, secret).await?;
    let action = if secret { "module.secret.set" } else { "module.setting.set" };
    audit::record(&mut tx, actor, action, Some(tenant), json!({ "module": module, "key": key })).await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(())
}

async fn upsert(
    conn: &mut AnyConnection,
    tenant: &str,
    module: &str,
    key: &str,
    value: &str,
    secret: bool,
) -> Result<(), ConfigError> {
    if !valid_name(key) {
        return Err(ConfigError::Name(key.to_owned()));
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(ConfigError::TooLarge);
    }
    if !secret && let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(value) {
        return Err(ConfigError::NotJson(e.to_string()));
    }
    sqlx::query(
        "INSERT INTO module_config (tenant_id, module, key, value, is_secret, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, module, key) \
         DO UPDATE SET value = excluded.value, is_secret = excluded.is_secret, updated_at = excluded.updated_at",
    )
    .bind(tenant)
    .bind(module)
    .bind(key)
    .bind(value)
    .bind(secret)
    .bind(crate::db::now())
    .execute(conn)
    .await
    .map_err(DbError::from)?;
    Ok(())
}

/// Removes a setting or secret, with its audit row; false when there was none.
pub async fn delete(db: &Db, actor: &Actor, tenant: &str, module: &str, key: &str) -> Result<bool, DbError> {
    let mut tx = db.begin().await?;
    let done = sqlx::query("DELETE FROM module_config WHERE tenant_id = $1 AND module = $2 AND key = $3")
        .bind(tenant)
        .bind(module)
        .bind(key)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    audit::record(&mut tx, actor, "module.setting.delete", Some(tenant), json!({ "module": module, "key": key }))
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// The names of a module's settings for a tenant, each with its value, or
/// `None` for secrets (never shown).
pub async fn list(db: &Db, tenant: &str, module: &str) -> Result<Vec<(String, Option<String>)>, DbError> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT key, value, CAST(CASE WHEN is_secret THEN 1 ELSE 0 END AS BIGINT) FROM module_config \
         WHERE tenant_id = $1 AND module = $2 ORDER BY key",
    )
    .bind(tenant)
    .bind(module)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(|(k, v, secret)| (k, (secret == 0).then_some(v))).collect())
}
