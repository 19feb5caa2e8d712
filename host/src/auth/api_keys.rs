//! Tenant API keys for services and integrations: named, limited to roles,
//! shown once, stored as a digest, last use recorded, revocable.

use serde_json::json;
use sqlx::Acquire;

use super::principal::{self, OWNER, Principal};
use super::{AuthError, secrets};
use crate::audit::{self, Actor};
use crate::db::{self, Db};

/// The prefix every key starts with, so a bearer value is recognised as one.
pub const PREFIX: &str = "plz_ak_";

/// An API key as listed (never its secret).
#[derive(Debug, Clone, poem_openapi::Object)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    pub roles: Vec<String>,
    pub created_by: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    #[oai(skip_serializing_if_is_none)]
    pub last_used_at: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub revoked_at: Option<String>,
}

type KeyRow = (String, String, String, String, String, String, Option<String>, Option<String>);

fn from_row((id, name, prefix, roles, created_by, created_at, last_used_at, revoked_at): KeyRow) -> ApiKey {
    ApiKey {
        id,
        name,
        prefix,
        roles: serde_json::from_str(&roles).unwrap_or_default(),
        created_by,
        created_at,
        last_used_at,
        revoked_at,
    }
}

/// Creates a key; returns it and its secret (shown once).
pub async fn create(
    db: &Db,
    actor: &Actor,
    tenant: &str,
    name: &str,
    roles: &[String],
) -> Result<(ApiKey, String), AuthError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AuthError::Invalid("a key name has 1 to 100 printable characters".into()));
    }
    principal::validate_roles(roles)?;
    if roles.iter().any(|r| r == OWNER) {
        return Err(AuthError::Invalid("an API key cannot hold the owner role".into()));
    }
    let secret = secrets::random_token(PREFIX, 32);
    let key = ApiKey {
        id: uuid::Uuid::now_v7().to_string(),
        name: name.to_owned(),
        prefix: secret.chars().take(PREFIX.len() + 6).collect(),
        roles: roles.to_vec(),
        created_by: actor.name.clone(),
        created_at: db::now(),
        last_used_at: None,
        revoked_at: None,
    };
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, roles, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&key.id)
    .bind(tenant)
    .bind(&key.name)
    .bind(&key.prefix)
    .bind(secrets::digest(&secret))
    .bind(serde_json::to_string(roles).unwrap_or_default())
    .bind(&key.created_by)
    .bind(&key.created_at)
    .execute(&mut *tx)
    .await?;
    audit::record(
        tx.acquire().await?,
        actor,
        "api_key.create",
        Some(tenant),
        json!({ "id": key.id, "name": key.name, "roles": roles }),
    )
    .await?;
    tx.commit().await?;
    Ok((key, secret))
}

/// The keys of a tenant, newest first.
pub async fn list(db: &Db, tenant: &str) -> Result<Vec<ApiKey>, AuthError> {
    let rows: Vec<KeyRow> = sqlx::query_as(
        "SELECT id, name, prefix, roles, created_by, created_at, last_used_at, revoked_at FROM api_keys \
         WHERE tenant_id = $1 ORDER BY id DESC",
    )
    .bind(tenant)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Revokes a key of `tenant`.
pub async fn revoke(db: &Db, actor: &Actor, tenant: &str, id: &str) -> Result<(), AuthError> {
    let mut tx = db.begin().await?;
    let done =
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND tenant_id = $3 AND revoked_at IS NULL")
            .bind(db::now())
            .bind(id)
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
    if done.rows_affected() == 0 {
        return Err(AuthError::NotFound("API key"));
    }
    audit::record(tx.acquire().await?, actor, "api_key.revoke", Some(tenant), json!({ "id": id })).await?;
    tx.commit().await?;
    Ok(())
}

/// Resolves a presented key; records its use (at most once a minute per key).
pub async fn authenticate(db: &Db, secret: &str) -> Result<Principal, AuthError> {
    let row: Option<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, tenant_id, roles, last_used_at FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
    )
    .bind(secrets::digest(secret))
    .fetch_optional(db.pool())
    .await?;
    let (id, tenant, roles, last_used) = row.ok_or(AuthError::InvalidToken("unknown or revoked API key"))?;
    let now = chrono::Utc::now();
    let stale = last_used.is_none_or(|t| now - db::parse_time(&t) > chrono::Duration::seconds(60));
    if stale {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(db::format_time(now))
            .bind(&id)
            .execute(db.pool())
            .await?;
    }
    Ok(Principal::ApiKey { id, tenant, roles: serde_json::from_str(&roles).unwrap_or_default() })
}
