//! Which module runs for which tenant, at which version.

use serde_json::json;
use sqlx::Acquire;

use super::{ModuleError, Modules};
use crate::audit::{self, Actor};
use crate::db::Db;

/// A module's install for a tenant.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Install {
    pub tenant: String,
    pub module: String,
    pub version: String,
    pub sha256: String,
    /// `enabled` or `disabled`.
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

type InstallRow = (String, String, String, String, String, String, String);

fn from_row(r: InstallRow) -> Install {
    Install { tenant: r.0, module: r.1, version: r.2, sha256: r.3, status: r.4, created_at: r.5, updated_at: r.6 }
}

/// The install of `module` for `tenant`, if any.
pub async fn get(db: &Db, tenant: &str, module: &str) -> Result<Option<Install>, crate::db::DbError> {
    let row: Option<InstallRow> = sqlx::query_as(
        "SELECT tenant_id, module, version, sha256, status, created_at, updated_at \
         FROM module_installs WHERE tenant_id = $1 AND module = $2",
    )
    .bind(tenant)
    .bind(module)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(from_row))
}

/// Every install of `tenant`.
pub async fn list(db: &Db, tenant: &str) -> Result<Vec<Install>, crate::db::DbError> {
    let rows: Vec<InstallRow> = sqlx::query_as(
        "SELECT tenant_id, module, version, sha256, status, created_at, updated_at \
         FROM module_installs WHERE tenant_id = $1 ORDER BY module",
    )
    .bind(tenant)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

impl Modules {
    /// Enables a loaded module for a tenant: creates its namespace, runs its
    /// pending migrations (all or none), and records the install. Enabling
    /// again re-runs pending migrations and switches to the loaded version.
    pub async fn enable(&self, tenant: &str, name: &str, actor: &Actor) -> Result<Install, ModuleError> {
        let db = &self.services.db;
        crate::tenancy::get(db, tenant).await?;
        let module = self.get(name).ok_or_else(|| ModuleError::Unknown(name.to_owned()))?;
        let sql = &self.services.sql;
        sql.create(tenant, name).await?;
        let applied = sql.migrate(tenant, name, &module.manifest.migrations).await?;
        let now = crate::db::now();
        let mut conn = db.pool().acquire().await?;
        let mut tx = conn.begin().await?;
        sqlx::query(
            "INSERT INTO module_installs (tenant_id, module, version, sha256, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'enabled', $5, $5) ON CONFLICT (tenant_id, module) \
             DO UPDATE SET version = excluded.version, sha256 = excluded.sha256, status = 'enabled', \
             updated_at = excluded.updated_at",
        )
        .bind(tenant)
        .bind(name)
        .bind(module.version())
        .bind(&module.sha256)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            actor,
            "module.enable",
            Some(tenant),
            json!({ "module": name, "version": module.version(), "sha256": module.sha256, "migrations_applied": applied }),
        )
        .await?;
        tx.commit().await?;
        get(db, tenant, name)
            .await?
            .ok_or_else(|| ModuleError::NotEnabled { tenant: tenant.into(), module: name.into() })
    }

    /// Disables a module for a tenant: its routes stop answering; its data stays.
    pub async fn disable(&self, tenant: &str, name: &str, actor: &Actor) -> Result<Install, ModuleError> {
        let db = &self.services.db;
        let mut conn = db.pool().acquire().await?;
        let mut tx = conn.begin().await?;
        let done = sqlx::query(
            "UPDATE module_installs SET status = 'disabled', updated_at = $3 WHERE tenant_id = $1 AND module = $2",
        )
        .bind(tenant)
        .bind(name)
        .bind(crate::db::now())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(ModuleError::NotEnabled { tenant: tenant.into(), module: name.into() });
        }
        audit::record(&mut tx, actor, "module.disable", Some(tenant), json!({ "module": name })).await?;
        tx.commit().await?;
        get(db, tenant, name)
            .await?
            .ok_or_else(|| ModuleError::NotEnabled { tenant: tenant.into(), module: name.into() })
    }
}

/// Drops the SQL namespaces of every module a tenant has installed: called
/// when the tenant is deleted (its other module data goes with its rows and
/// its storage prefix).
pub async fn drop_namespaces(
    ns: &crate::capabilities::sql::Namespaces,
    db: &Db,
    tenant: &str,
) -> Result<usize, ModuleError> {
    let all = list(db, tenant).await?;
    for install in &all {
        ns.drop_namespace(tenant, &install.module).await?;
    }
    Ok(all.len())
}
