//! The host's OpenAPI operations, one file per area.

pub mod files;
pub mod ops;
pub mod tenants;

/// Tags group operations in the document and in Swagger UI.
#[derive(poem_openapi::Tags)]
pub enum Tag {
    /// Liveness, readiness and metrics.
    Operations,
    /// Tenant administration (platform operator).
    Tenants,
    /// A tenant's files on the object store.
    Files,
}

/// Every operation of the host API.
pub type HostApi = (ops::OpsApi, tenants::TenantsApi, files::FilesApi);

/// The host API's operations, ready to mount.
pub fn host_api() -> HostApi {
    (ops::OpsApi, tenants::TenantsApi, files::FilesApi)
}
