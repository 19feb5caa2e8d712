//! Quotas: the operator sets a tenant's (`/api/v1/tenants/{id}/quotas`),
//! the tenant's admins see what they use of them (`/t/{tenant}/usage`).
//! Handlers validate and delegate to [`crate::tenancy::quotas`].

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::Tag;
use crate::app::App;
use crate::auth::principal::ADMIN;
use crate::http::auth::Auth;
use crate::http::problem::{ApiError, ApiResult};
use crate::http::strict_json::StrictJson;
use crate::tenancy::{self, quotas};

pub struct UsageApi;

/// A tenant's quotas: what the operator set, and what is in effect.
#[derive(Object)]
pub struct TenantQuotas {
    /// Set for this tenant; an absent value is the host's default.
    pub overrides: quotas::QuotaOverrides,
    /// In effect: the overrides over the defaults.
    pub effective: quotas::Quotas,
}

/// What one module of the tenant stores.
#[derive(Object)]
pub struct ModuleUsage {
    pub module: String,
    /// Bytes of its blobs (counted in `storage_bytes` too).
    pub blob_bytes: u64,
    /// Its key-value entries.
    pub kv_entries: u64,
    /// Bytes of its SQL namespace.
    pub sql_bytes: u64,
}

/// What a tenant uses of its quotas.
#[derive(Object)]
pub struct Usage {
    pub quotas: quotas::Quotas,
    /// Bytes of files and module blobs together (the `storage_bytes` quota).
    pub storage_bytes: u64,
    /// Bytes of files alone.
    pub files_bytes: u64,
    /// Per module with data or an install.
    pub modules: Vec<ModuleUsage>,
}

#[OpenApi]
impl UsageApi {
    /// A tenant's quotas
    #[oai(
        path = "/api/v1/tenants/:tenant/quotas",
        method = "get",
        operation_id = "getTenantQuotas",
        tag = "Tag::Tenants"
    )]
    async fn quotas(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
    ) -> ApiResult<Json<TenantQuotas>> {
        auth.require_operator()?;
        tenancy::get(&app.db, &tenant).await?;
        Ok(Json(tenant_quotas(app, &tenant).await?))
    }

    /// Set a tenant's quotas
    ///
    /// Replaces what was set: a value left out (or null) is the host's
    /// default again. Takes effect at once in this process and within
    /// seconds in the others; what is stored already is kept, only growth
    /// past a quota is refused.
    #[oai(
        path = "/api/v1/tenants/:tenant/quotas",
        method = "put",
        operation_id = "setTenantQuotas",
        tag = "Tag::Tenants"
    )]
    async fn set_quotas(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        body: StrictJson<quotas::QuotaOverrides>,
    ) -> ApiResult<Json<TenantQuotas>> {
        let actor = auth.require_operator()?.actor();
        tenancy::get(&app.db, &tenant).await?;
        quotas::set(&app.db, &actor, &tenant, &body).await?;
        app.modules.services().quotas.forget(&tenant);
        app.modules.services().sql.close_tenant_pools(&tenant);
        Ok(Json(tenant_quotas(app, &tenant).await?))
    }

    /// The tenant's audit log
    ///
    /// What was done in the tenant and by whom, newest first (tenant admins;
    /// the operator's `/api/v1/tenants/{id}/audit` shows the same).
    #[oai(path = "/t/:tenant/audit", method = "get", operation_id = "getTenantAuditLog", tag = "Tag::Usage")]
    async fn audit(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        /// Most entries to return, 1–1000.
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")), default = "default_audit_limit")]
        limit: poem_openapi::param::Query<u32>,
    ) -> ApiResult<Json<Vec<crate::audit::AuditEntry>>> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        Ok(Json(crate::audit::for_tenant(&app.db, &tenant, i64::from(limit.0)).await?))
    }

    /// What the tenant uses of its quotas
    ///
    /// Files, and per module its blobs, key-value entries and SQL data,
    /// beside the quotas in effect (tenant admins).
    #[oai(path = "/t/:tenant/usage", method = "get", operation_id = "getTenantUsage", tag = "Tag::Usage")]
    async fn usage(&self, Data(app): Data<&Arc<App>>, auth: Auth, tenant: Path<String>) -> ApiResult<Json<Usage>> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        let services = app.modules.services();
        let storage_bytes = quotas::storage_used(&app.db, &tenant).await?;
        let mut modules: BTreeMap<String, (u64, u64)> =
            quotas::module_usage(&app.db, &tenant).await?.into_iter().map(|(m, b, k)| (m, (b, k))).collect();
        for install in crate::modules::installs::list(&app.db, &tenant).await? {
            modules.entry(install.module).or_default();
        }
        let blobs: u64 = modules.values().map(|(b, _)| b).sum();
        let mut out = Vec::with_capacity(modules.len());
        for (module, (blob_bytes, kv_entries)) in modules {
            let sql_bytes = services.sql.size(&tenant, &module).await.map_err(|e| ApiError::internal(&e))?;
            out.push(ModuleUsage { module, blob_bytes, kv_entries, sql_bytes });
        }
        Ok(Json(Usage {
            quotas: services.quotas.of(&app.db, &tenant).await?,
            storage_bytes,
            files_bytes: storage_bytes.saturating_sub(blobs),
            modules: out,
        }))
    }
}

async fn tenant_quotas(app: &App, tenant: &str) -> ApiResult<TenantQuotas> {
    Ok(TenantQuotas {
        overrides: quotas::overrides(&app.db, tenant).await?,
        effective: app.modules.services().quotas.of(&app.db, tenant).await?,
    })
}

fn default_audit_limit() -> u32 {
    100
}
