//! Quotas: how much of the host one tenant's data may take.
//!
//! Every tenant has the operator's defaults (`PLAZA_QUOTA_*`); the operator
//! may set any of them for one tenant (`PUT /api/v1/tenants/{id}/quotas`).
//!
//! | quota | counts | enforced at |
//! | --- | --- | --- |
//! | `storage_bytes` | the tenant's files and all its modules' blobs | file uploads (507), blob writes |
//! | `module_blob_bytes` | one module's blobs | blob writes |
//! | `module_kv_entries` | one module's key-value entries | writes of a new key |
//! | `module_sql_bytes` | one module's SQL namespace | SQLite: its page limit; PostgreSQL: writes and transactions, by sizes measured for all schemas every few seconds |
//!
//! Usage is read from the host's own tables when a write needs it, so two
//! writes racing may together pass a quota by at most their own sizes.
//! A module sees a refused write as `limit-exceeded` naming the quota; the
//! files API answers 507.

use std::time::{Duration, Instant};

use poem_openapi::Object;
use serde_json::json;
use sqlx::Acquire;

use crate::audit::{self, Actor};
use crate::config::Config;
use crate::db::{Db, DbError};

/// A tenant's quotas in effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Object)]
pub struct Quotas {
    /// Bytes of the tenant's files and module blobs together.
    pub storage_bytes: u64,
    /// Bytes of blobs of each module.
    pub module_blob_bytes: u64,
    /// Key-value entries of each module.
    pub module_kv_entries: u64,
    /// Bytes of each module's SQL namespace.
    pub module_sql_bytes: u64,
}

impl Quotas {
    /// The operator's defaults.
    pub fn defaults(config: &Config) -> Self {
        Self {
            storage_bytes: config.quota_storage_bytes,
            module_blob_bytes: config.quota_module_blob_bytes,
            module_kv_entries: config.quota_module_kv_entries,
            module_sql_bytes: config.quota_module_sql_bytes,
        }
    }

    fn with(self, o: &QuotaOverrides) -> Self {
        Self {
            storage_bytes: o.storage_bytes.unwrap_or(self.storage_bytes),
            module_blob_bytes: o.module_blob_bytes.unwrap_or(self.module_blob_bytes),
            module_kv_entries: o.module_kv_entries.unwrap_or(self.module_kv_entries),
            module_sql_bytes: o.module_sql_bytes.unwrap_or(self.module_sql_bytes),
        }
    }
}

/// What the operator set for one tenant; an absent value is the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Object)]
pub struct QuotaOverrides {
    pub storage_bytes: Option<u64>,
    pub module_blob_bytes: Option<u64>,
    pub module_kv_entries: Option<u64>,
    pub module_sql_bytes: Option<u64>,
}

/// A quota a write would pass.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("the {what} quota of {limit} {unit} is used up ({used} {unit} in use)")]
pub struct QuotaExceeded {
    pub what: &'static str,
    pub limit: u64,
    pub used: u64,
    pub unit: &'static str,
}

/// How long a tenant's quotas are kept in memory at most. A change is
/// announced on the change feed (`crate::changes`), and every process
/// forgets the tenant's quotas when it hears of it (at once on PostgreSQL,
/// within a second otherwise); this bound is only a safety net.
const KEEP: Duration = Duration::from_secs(300);
/// Tenants whose quotas are kept: more than a host serves, so that a call
/// never reads them from the database while they are unchanged (at 10,000
/// tenants, a few seconds' keep made every call read them).
const KEPT_TENANTS: usize = 200_000;

/// Every tenant's quotas, read from the database and kept until changed.
pub struct QuotaBook {
    defaults: Quotas,
    cache: quick_cache::sync::Cache<String, (Instant, Quotas)>,
}

impl std::fmt::Debug for QuotaBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuotaBook").field("defaults", &self.defaults).finish()
    }
}

impl QuotaBook {
    pub fn new(defaults: Quotas) -> Self {
        Self { defaults, cache: quick_cache::sync::Cache::new(KEPT_TENANTS) }
    }

    pub fn defaults(&self) -> Quotas {
        self.defaults
    }

    /// `tenant`'s quotas in effect.
    pub async fn of(&self, db: &Db, tenant: &str) -> Result<Quotas, DbError> {
        if let Some((at, quotas)) = self.cache.get(tenant)
            && at.elapsed() < KEEP
        {
            return Ok(quotas);
        }
        let quotas = self.defaults.with(&overrides(db, tenant).await?);
        self.cache.insert(tenant.to_owned(), (Instant::now(), quotas));
        Ok(quotas)
    }

    /// Drops what is kept of `tenant` (its quotas changed, or something
    /// else of it: the change feed does not say what).
    pub fn forget(&self, tenant: &str) {
        self.cache.remove(tenant);
    }

    /// Drops what is kept of every tenant (changes may have been missed).
    pub fn forget_all(&self) {
        self.cache.clear();
    }
}

type OverrideRow = (Option<i64>, Option<i64>, Option<i64>, Option<i64>);

fn unsigned(v: Option<i64>) -> Option<u64> {
    v.map(|n| u64::try_from(n).unwrap_or(0))
}

fn signed(v: Option<u64>) -> Option<i64> {
    v.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

/// What the operator set for `tenant`.
pub async fn overrides(db: &Db, tenant: &str) -> Result<QuotaOverrides, DbError> {
    let row: Option<OverrideRow> = sqlx::query_as(
        "SELECT storage_bytes, module_blob_bytes, module_kv_entries, module_sql_bytes \
         FROM tenant_quotas WHERE tenant_id = $1",
    )
    .bind(tenant)
    .fetch_optional(db.pool())
    .await?;
    Ok(row
        .map(|(s, b, k, q)| QuotaOverrides {
            storage_bytes: unsigned(s),
            module_blob_bytes: unsigned(b),
            module_kv_entries: unsigned(k),
            module_sql_bytes: unsigned(q),
        })
        .unwrap_or_default())
}

/// Replaces what the operator set for `tenant`, with its audit row.
pub async fn set(db: &Db, actor: &Actor, tenant: &str, o: &QuotaOverrides) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO tenant_quotas (tenant_id, storage_bytes, module_blob_bytes, module_kv_entries, \
         module_sql_bytes, updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id) DO UPDATE SET \
         storage_bytes = excluded.storage_bytes, module_blob_bytes = excluded.module_blob_bytes, \
         module_kv_entries = excluded.module_kv_entries, module_sql_bytes = excluded.module_sql_bytes, \
         updated_at = excluded.updated_at",
    )
    .bind(tenant)
    .bind(signed(o.storage_bytes))
    .bind(signed(o.module_blob_bytes))
    .bind(signed(o.module_kv_entries))
    .bind(signed(o.module_sql_bytes))
    .bind(crate::db::now())
    .execute(&mut *tx)
    .await?;
    let detail = json!({
        "storage_bytes": o.storage_bytes,
        "module_blob_bytes": o.module_blob_bytes,
        "module_kv_entries": o.module_kv_entries,
        "module_sql_bytes": o.module_sql_bytes,
    });
    audit::record(tx.acquire().await?, actor, "tenant.quotas", Some(tenant), detail).await?;
    crate::changes::announce(tx.acquire().await?, db.backend(), tenant, "*", "quotas").await?;
    tx.commit().await?;
    Ok(())
}

/// Bytes of `tenant`'s files and module blobs.
pub async fn storage_used(db: &Db, tenant: &str) -> Result<u64, DbError> {
    let (files, blobs): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM files WHERE tenant_id = $1), \
         (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM module_blobs WHERE tenant_id = $1)",
    )
    .bind(tenant)
    .fetch_one(db.pool())
    .await?;
    Ok(u64::try_from(files.saturating_add(blobs)).unwrap_or(0))
}

/// What a blob write of `module` for `tenant` starts from: the tenant's
/// stored bytes, the module's blob bytes, and the size of the blob at `key`
/// (which the write replaces).
pub async fn blob_use(db: &Db, tenant: &str, module: &str, key: &str) -> Result<(u64, u64, u64), DbError> {
    let (storage, module_bytes, replaced): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM files WHERE tenant_id = $1) \
              + (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM module_blobs WHERE tenant_id = $1), \
         (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM module_blobs WHERE tenant_id = $1 AND module = $2), \
         (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM module_blobs \
          WHERE tenant_id = $1 AND module = $2 AND key = $3)",
    )
    .bind(tenant)
    .bind(module)
    .bind(key)
    .fetch_one(db.pool())
    .await?;
    let u = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok((u(storage), u(module_bytes), u(replaced)))
}

/// Whether `module` of `tenant` may add the key `key`: an existing key is
/// always replaced; a new one needs room under `limit` live entries.
pub async fn kv_room(db: &Db, tenant: &str, module: &str, key: &str, limit: u64) -> Result<(), KvRoom> {
    let exists: Option<(i32,)> =
        sqlx::query_as("SELECT 1 FROM module_kv WHERE tenant_id = $1 AND module = $2 AND key = $3")
            .bind(tenant)
            .bind(module)
            .bind(key)
            .fetch_optional(db.pool())
            .await?;
    if exists.is_some() {
        return Ok(());
    }
    // Counted up to the limit only: the cost of the check stays bounded.
    let (live,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM (SELECT 1 FROM module_kv WHERE tenant_id = $1 AND module = $2 \
         AND (expires_at IS NULL OR expires_at > $3) LIMIT $4) AS live",
    )
    .bind(tenant)
    .bind(module)
    .bind(crate::db::now())
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_one(db.pool())
    .await?;
    let live = u64::try_from(live).unwrap_or(0);
    if live >= limit {
        return Err(KvRoom::Full(QuotaExceeded { what: "key-value entries", limit, used: live, unit: "entries" }));
    }
    Ok(())
}

/// Why a key could not be added.
#[derive(Debug, thiserror::Error)]
pub enum KvRoom {
    #[error(transparent)]
    Full(#[from] QuotaExceeded),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for KvRoom {
    fn from(e: sqlx::Error) -> Self {
        KvRoom::Db(e.into())
    }
}

/// Per module of `tenant`: bytes of blobs and key-value entries.
pub async fn module_usage(db: &Db, tenant: &str) -> Result<Vec<(String, u64, u64)>, DbError> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT module, CAST(SUM(bytes) AS BIGINT), CAST(SUM(entries) AS BIGINT) FROM ( \
           SELECT module, size AS bytes, 0 AS entries FROM module_blobs WHERE tenant_id = $1 \
           UNION ALL SELECT module, 0 AS bytes, 1 AS entries FROM module_kv WHERE tenant_id = $1 \
         ) AS used GROUP BY module ORDER BY module",
    )
    .bind(tenant)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(|(m, b, k)| (m, u64::try_from(b).unwrap_or(0), u64::try_from(k).unwrap_or(0))).collect())
}

/// Checks that `tenant` may grow its stored bytes by `delta` (`replaced`:
/// the bytes the write frees), against `limit`.
pub fn check_bytes(what: &'static str, limit: u64, used: u64, replaced: u64, adding: u64) -> Result<(), QuotaExceeded> {
    let after = used.saturating_sub(replaced).saturating_add(adding);
    if after > limit && adding > replaced {
        return Err(QuotaExceeded { what, limit, used, unit: "bytes" });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_only_what_they_set() {
        let d = Quotas { storage_bytes: 10, module_blob_bytes: 5, module_kv_entries: 3, module_sql_bytes: 7 };
        let o = QuotaOverrides { module_kv_entries: Some(100), ..QuotaOverrides::default() };
        assert_eq!(d.with(&o), Quotas { module_kv_entries: 100, ..d });
    }

    #[test]
    fn a_write_may_fill_a_quota_but_not_pass_it() {
        assert!(check_bytes("storage", 100, 60, 0, 40).is_ok());
        assert!(check_bytes("storage", 100, 60, 0, 41).is_err());
        assert!(check_bytes("storage", 100, 90, 50, 50).is_ok(), "replacing frees the old bytes");
        assert!(check_bytes("storage", 100, 150, 10, 5).is_ok(), "a shrinking write is always allowed");
        let e = check_bytes("storage", 100, 99, 0, 5).unwrap_err();
        assert_eq!(e.to_string(), "the storage quota of 100 bytes is used up (99 bytes in use)");
    }
}
