//! The host's OpenAPI operations, one file per area.

pub mod auth;
pub mod events;
pub mod files;
pub mod jobs;
pub mod mail;
pub mod members;
pub mod ops;
pub mod registry;
pub mod stream;
pub mod tenant_modules;
pub mod tenants;
pub mod usage;

/// Tags group operations in the document and in Swagger UI.
#[derive(poem_openapi::Tags)]
pub enum Tag {
    /// Liveness, readiness and metrics.
    Operations,
    /// Tenant administration (platform operator).
    Tenants,
    /// A tenant's files on the object store.
    Files,
    /// Accounts, sign-in, sessions and MFA.
    Auth,
    /// A tenant's members and invitations (tenant admins).
    Members,
    /// A tenant's API keys (tenant admins).
    #[oai(rename = "API keys")]
    ApiKeys,
    /// The module registry: publish, list, yank (publishing is the operator's).
    Registry,
    /// A tenant's modules: enable, upgrade, roll back, disable, purge, configure (tenant admins).
    Modules,
    /// Scheduled jobs of a tenant's modules and their runs (tenant admins).
    Jobs,
    /// Event deliveries between a tenant's modules, and the dead-letter list (tenant admins).
    Events,
    /// What a tenant uses of its quotas, and its audit log (tenant admins).
    Usage,
    /// The sender and SMTP relay of the mail a tenant's modules send (tenant admins).
    Mail,
    /// The caller's live stream: server-sent events from the tenant's modules.
    Stream,
}

/// Lists every operation group once, making the tuple type and its value.
macro_rules! host_api {
    ($($group:ident :: $api:ident),+ $(,)?) => {
        /// Every operation of the host API.
        pub type HostApi = ($($group::$api,)+);

        /// The host API's operations, ready to mount.
        pub fn host_api() -> HostApi {
            ($($group::$api,)+)
        }
    };
}

host_api!(
    ops::OpsApi,
    auth::AuthApi,
    auth::JwksApi,
    tenants::TenantsApi,
    members::MembersApi,
    files::FilesApi,
    registry::RegistryApi,
    tenant_modules::TenantModulesApi,
    jobs::JobsApi,
    events::EventsApi,
    usage::UsageApi,
    mail::MailApi,
    stream::StreamApi,
);
