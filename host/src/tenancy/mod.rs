//! Tenants: who they are, whether they may be served, where their data lives.
//!
//! Plain functions over the database; the HTTP handlers and the CLI both
//! call them. Every change writes its audit row in the same transaction.

pub mod quotas;

use serde_json::json;
use sqlx::Acquire;

use crate::audit::{self, Actor};
use crate::db::{self, Db, DbError};
use crate::storage::Storage;

/// Why a tenant operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TenancyError {
    #[error(
        "invalid tenant id {0:?}: use 2 to 63 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen"
    )]
    InvalidSlug(String),
    #[error("invalid tenant name: {0}")]
    InvalidName(&'static str),
    #[error("tenant {0:?} does not exist")]
    NotFound(String),
    #[error("tenant {0:?} already exists")]
    AlreadyExists(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for TenancyError {
    fn from(e: sqlx::Error) -> Self {
        TenancyError::Db(e.into())
    }
}

/// Whether a tenant is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum, serde::Serialize)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    /// Served normally.
    Active,
    /// Known but refused: every `/t/{tenant}/…` request answers 403.
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }

    fn parse(s: &str) -> Self {
        if s == "suspended" { TenantStatus::Suspended } else { TenantStatus::Active }
    }
}

/// A tenant as stored.
#[derive(Debug, Clone, poem_openapi::Object, serde::Serialize)]
pub struct Tenant {
    /// The slug used in `/t/{tenant}/…`.
    pub id: String,
    pub name: String,
    pub status: TenantStatus,
    /// Which database holds the tenant's module namespaces (`main` is the host's own).
    pub db_location: String,
    /// The tenant's prefix in the object store.
    pub storage_prefix: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC.
    pub updated_at: String,
}

type TenantRow = (String, String, String, String, String, String, String);

macro_rules! tenant_columns {
    () => {
        "id, name, status, db_location, storage_prefix, created_at, updated_at"
    };
}

fn from_row((id, name, status, db_location, storage_prefix, created_at, updated_at): TenantRow) -> Tenant {
    Tenant { id, name, status: TenantStatus::parse(&status), db_location, storage_prefix, created_at, updated_at }
}

/// Checks a tenant slug: a DNS label (so it can become a subdomain), 2–63 chars.
pub fn validate_slug(slug: &str) -> Result<(), TenancyError> {
    let bytes = slug.as_bytes();
    let ok = (2..=63).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && !slug.ends_with('-');
    if ok { Ok(()) } else { Err(TenancyError::InvalidSlug(slug.to_owned())) }
}

fn validate_name(name: &str) -> Result<&str, TenancyError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(TenancyError::InvalidName("must not be empty"));
    }
    if name.chars().count() > 200 {
        return Err(TenancyError::InvalidName("must be at most 200 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(TenancyError::InvalidName("must not contain control characters"));
    }
    Ok(name)
}

/// Creates an active tenant whose module data lives on the host's own database.
pub async fn create(db: &Db, actor: &Actor, slug: &str, name: &str) -> Result<Tenant, TenancyError> {
    create_placed(db, actor, slug, name, "main").await
}

/// Creates an active tenant whose module namespaces live on `location`
/// (`main`, or a database of `PLAZA_DATABASES`: the caller checks it exists).
pub async fn create_placed(
    db: &Db,
    actor: &Actor,
    slug: &str,
    name: &str,
    location: &str,
) -> Result<Tenant, TenancyError> {
    validate_slug(slug)?;
    let name = validate_name(name)?;
    let now = db::now();
    let tenant = Tenant {
        id: slug.to_owned(),
        name: name.to_owned(),
        status: TenantStatus::Active,
        db_location: location.to_owned(),
        storage_prefix: format!("tenants/{slug}"),
        created_at: now.clone(),
        updated_at: now,
    };
    let mut tx = db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO tenants (id, name, status, db_location, storage_prefix, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&tenant.id)
    .bind(&tenant.name)
    .bind(tenant.status.as_str())
    .bind(&tenant.db_location)
    .bind(&tenant.storage_prefix)
    .bind(&tenant.created_at)
    .bind(&tenant.updated_at)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(TenancyError::AlreadyExists(slug.to_owned()));
    }
    audit::record(
        tx.acquire().await?,
        actor,
        "tenant.create",
        Some(slug),
        json!({ "name": tenant.name, "db_location": location }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(tenant = slug, actor = %actor.name, "tenant created");
    Ok(tenant)
}

/// One tenant, whatever its status.
pub async fn get(db: &Db, slug: &str) -> Result<Tenant, TenancyError> {
    validate_slug(slug).map_err(|_| TenancyError::NotFound(slug.to_owned()))?;
    let row: Option<TenantRow> = sqlx::query_as(concat!("SELECT ", tenant_columns!(), " FROM tenants WHERE id = $1"))
        .bind(slug)
        .fetch_optional(db.pool())
        .await?;
    row.map(from_row).ok_or_else(|| TenancyError::NotFound(slug.to_owned()))
}

/// Tenants ordered by id, `limit` at a time after `after`.
pub async fn list(db: &Db, after: Option<&str>, limit: i64) -> Result<Vec<Tenant>, TenancyError> {
    let rows: Vec<TenantRow> =
        sqlx::query_as(concat!("SELECT ", tenant_columns!(), " FROM tenants WHERE id > $1 ORDER BY id LIMIT $2"))
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(db.pool())
            .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Suspends or re-activates a tenant. Setting the status it already has is a no-op without an audit row.
pub async fn set_status(db: &Db, actor: &Actor, slug: &str, status: TenantStatus) -> Result<Tenant, TenancyError> {
    let mut tx = db.begin().await?;
    let changed = sqlx::query("UPDATE tenants SET status = $1, updated_at = $2 WHERE id = $3 AND status <> $1")
        .bind(status.as_str())
        .bind(db::now())
        .bind(slug)
        .execute(&mut *tx)
        .await?;
    if changed.rows_affected() > 0 {
        let action = match status {
            TenantStatus::Active => "tenant.resume",
            TenantStatus::Suspended => "tenant.suspend",
        };
        audit::record(tx.acquire().await?, actor, action, Some(slug), json!({})).await?;
        // Every process re-reads what the tenant runs: its jobs and event
        // deliveries stop while it is suspended.
        crate::changes::announce(tx.acquire().await?, db.backend(), slug, "*", action).await?;
    }
    tx.commit().await?;
    get(db, slug).await
}

/// Deletes a tenant, its file metadata (cascade) and then its objects.
///
/// The database change and its audit row commit first; objects are removed
/// after, so a storage failure leaves unreachable bytes to clean up, never
/// a tenant whose files point at nothing.
pub async fn delete(db: &Db, storage: &Storage, actor: &Actor, slug: &str) -> Result<(), TenancyError> {
    let tenant = get(db, slug).await?;
    let mut tx = db.begin().await?;
    let files: (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM files WHERE tenant_id = $1").bind(slug).fetch_one(&mut *tx).await?;
    sqlx::query("DELETE FROM files WHERE tenant_id = $1").bind(slug).execute(&mut *tx).await?;
    let deleted = sqlx::query("DELETE FROM tenants WHERE id = $1").bind(slug).execute(&mut *tx).await?;
    if deleted.rows_affected() == 0 {
        return Err(TenancyError::NotFound(slug.to_owned()));
    }
    audit::record(
        tx.acquire().await?,
        actor,
        "tenant.delete",
        Some(slug),
        json!({ "name": tenant.name, "files": files.0 }),
    )
    .await?;
    // Every process drops the tenant from what it serves.
    crate::changes::announce(tx.acquire().await?, db.backend(), slug, "*", "tenant.delete").await?;
    tx.commit().await?;
    if let Err(e) = storage.delete_prefix(&tenant.storage_prefix).await {
        tracing::warn!(tenant = slug, error = %e, "tenant deleted but some of its objects remain");
    }
    tracing::info!(tenant = slug, actor = %actor.name, "tenant deleted");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_dns_labels() {
        for ok in ["ab", "acme", "acme-2", "a1", &"a".repeat(63)] {
            assert!(validate_slug(ok).is_ok(), "{ok}");
        }
        for bad in ["a", "", "Acme", "1acme", "acme-", "ac_me", "ac me", "ácme", &"a".repeat(64), "../x"] {
            assert!(validate_slug(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(validate_name("  Acme  ").ok(), Some("Acme"));
        assert!(validate_name("   ").is_err());
        assert!(validate_name(&"x".repeat(201)).is_err());
        assert!(validate_name("a\u{0}b").is_err());
    }
}
