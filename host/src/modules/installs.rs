//! Which module runs for which tenant, at which version.

use super::ModuleError;
use crate::db::Db;

/// A module's install for a tenant.
#[derive(Debug, Clone, poem_openapi::Object, serde::Serialize)]
pub struct Install {
    pub tenant: String,
    pub module: String,
    /// The version that runs.
    pub version: String,
    /// Hex SHA-256 of the component that runs.
    pub sha256: String,
    /// `enabled` or `disabled` (routes, jobs and subscriptions stopped; data kept).
    pub status: String,
    /// The version range the tenant asked for.
    pub version_range: String,
    /// The version that ran before the last upgrade: what rollback goes back to.
    pub previous_version: Option<String>,
    #[oai(skip)]
    #[serde(skip)]
    pub previous_sha256: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC.
    pub updated_at: String,
}

type InstallRow = (String, String, String, String, String, String, Option<String>, Option<String>, String, String);

const COLUMNS: &str = "tenant_id, module, version, sha256, status, version_range, previous_version, previous_sha256, \
                       created_at, updated_at";

fn from_row(r: InstallRow) -> Install {
    Install {
        tenant: r.0,
        module: r.1,
        version: r.2,
        sha256: r.3,
        status: r.4,
        version_range: r.5,
        previous_version: r.6,
        previous_sha256: r.7,
        created_at: r.8,
        updated_at: r.9,
    }
}

/// The install of `module` for `tenant`, if any.
pub async fn get(db: &Db, tenant: &str, module: &str) -> Result<Option<Install>, crate::db::DbError> {
    let row: Option<InstallRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM module_installs WHERE tenant_id = $1 AND module = $2"
    )))
    .bind(tenant)
    .bind(module)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(from_row))
}

/// Every install of `tenant`.
pub async fn list(db: &Db, tenant: &str) -> Result<Vec<Install>, crate::db::DbError> {
    let rows: Vec<InstallRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM module_installs WHERE tenant_id = $1 ORDER BY module"
    )))
    .bind(tenant)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
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
