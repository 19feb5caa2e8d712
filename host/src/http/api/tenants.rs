//! `/api/v1/tenants`: the operator's tenant administration. Handlers
//! validate and delegate to [`crate::tenancy`].

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::Tag;
use crate::app::App;
use crate::audit::{self, AuditEntry};
use crate::http::auth::Auth;
use crate::http::problem::{ApiError, ApiResult};
use crate::http::strict_json::StrictJson;
use crate::tenancy::{self, Tenant, TenantStatus};

pub struct TenantsApi;

/// A tenant to create.
#[derive(Object)]
pub struct NewTenant {
    /// The slug used in `/t/{tenant}/…`: 2–63 lowercase letters, digits and hyphens, starting with a letter.
    pub id: String,
    /// Display name, up to 200 characters.
    pub name: String,
    /// Which database holds the tenant's module namespaces: `main` (the
    /// host's own, the default) or a name from `PLAZA_DATABASES`. Fixed once
    /// the tenant exists.
    pub database: Option<String>,
}

/// One page of tenants.
#[derive(Object)]
pub struct TenantPage {
    pub items: Vec<Tenant>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum Created {
    /// The tenant was created.
    #[oai(status = 201)]
    Created(Json<Tenant>, #[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
pub enum Deleted {
    /// The tenant and its files are gone; its audit trail stays.
    #[oai(status = 204)]
    Deleted,
}

#[OpenApi(prefix_path = "/api/v1/tenants", tag = "Tag::Tenants")]
impl TenantsApi {
    /// Create a tenant
    #[oai(path = "/", method = "post", operation_id = "createTenant")]
    async fn create(&self, Data(app): Data<&Arc<App>>, auth: Auth, body: StrictJson<NewTenant>) -> ApiResult<Created> {
        let actor = auth.require_operator()?.actor();
        let location = body.database.as_deref().unwrap_or("main");
        if !app.modules.services().sql.has_location(location) {
            return Err(ApiError::unprocessable(format!(
                "database: {location:?} is not a database this host can place tenants on (see PLAZA_DATABASES)"
            )));
        }
        let tenant = tenancy::create_placed(&app.db, &actor, &body.id, &body.name, location).await?;
        let location = format!("/api/v1/tenants/{}", tenant.id);
        Ok(Created::Created(Json(tenant), location))
    }

    /// List tenants
    ///
    /// Ordered by id; follow `next_cursor` for more.
    #[oai(path = "/", method = "get", operation_id = "listTenants")]
    async fn list(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        /// Items per page, 1–500.
        #[oai(validator(minimum(value = "1"), maximum(value = "500")), default = "default_limit")]
        limit: Query<u32>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<TenantPage>> {
        auth.require_operator()?;
        let limit = i64::from(limit.0);
        let mut items = tenancy::list(&app.db, cursor.0.as_deref(), limit + 1).await?;
        let next_cursor = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|t| t.id.clone())
        } else {
            None
        };
        Ok(Json(TenantPage { items, next_cursor }))
    }

    /// Get a tenant
    #[oai(path = "/:tenant", method = "get", operation_id = "getTenant")]
    async fn get(&self, Data(app): Data<&Arc<App>>, auth: Auth, tenant: Path<String>) -> ApiResult<Json<Tenant>> {
        auth.require_operator()?;
        Ok(Json(tenancy::get(&app.db, &tenant).await?))
    }

    /// Suspend a tenant
    ///
    /// Its routes answer 403 until it is resumed; nothing is deleted.
    #[oai(path = "/:tenant/suspend", method = "post", operation_id = "suspendTenant")]
    async fn suspend(&self, Data(app): Data<&Arc<App>>, auth: Auth, tenant: Path<String>) -> ApiResult<Json<Tenant>> {
        let actor = auth.require_operator()?.actor();
        tenancy::get(&app.db, &tenant).await?;
        let changed = tenancy::set_status(&app.db, &actor, &tenant, TenantStatus::Suspended).await?;
        app.modules.tenant_changed(&tenant).await;
        Ok(Json(changed))
    }

    /// Resume a suspended tenant
    #[oai(path = "/:tenant/resume", method = "post", operation_id = "resumeTenant")]
    async fn resume(&self, Data(app): Data<&Arc<App>>, auth: Auth, tenant: Path<String>) -> ApiResult<Json<Tenant>> {
        let actor = auth.require_operator()?.actor();
        tenancy::get(&app.db, &tenant).await?;
        let changed = tenancy::set_status(&app.db, &actor, &tenant, TenantStatus::Active).await?;
        app.modules.tenant_changed(&tenant).await;
        Ok(Json(changed))
    }

    /// Delete a tenant
    ///
    /// Removes the tenant, its file metadata and its objects. The audit log keeps its history.
    #[oai(path = "/:tenant", method = "delete", operation_id = "deleteTenant")]
    async fn delete(&self, Data(app): Data<&Arc<App>>, auth: Auth, tenant: Path<String>) -> ApiResult<Deleted> {
        let actor = auth.require_operator()?.actor();
        tenancy::get(&app.db, &tenant).await?;
        crate::modules::installs::drop_namespaces(&app.modules.services().sql, &app.db, &tenant)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        tenancy::delete(&app.db, &app.storage, &actor, &tenant).await?;
        app.modules.forget_tenant(&tenant);
        Ok(Deleted::Deleted)
    }

    /// A tenant's audit log
    ///
    /// Newest first; kept after the tenant is deleted.
    #[oai(path = "/:tenant/audit", method = "get", operation_id = "getTenantAudit")]
    async fn audit(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        /// Most entries to return, 1–1000.
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")), default = "default_limit")]
        limit: Query<u32>,
    ) -> ApiResult<Json<Vec<AuditEntry>>> {
        auth.require_operator()?;
        Ok(Json(audit::for_tenant(&app.db, &tenant, i64::from(limit.0)).await?))
    }
}

fn default_limit() -> u32 {
    100
}
