//! `/t/{tenant}/modules`: a tenant admin's modules — enable, upgrade, roll
//! back, disable, purge, configure. Handlers check the caller and delegate
//! to [`crate::modules::lifecycle`].

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::Value;

use super::Tag;
use crate::app::App;
use crate::auth::principal::ADMIN;
use crate::capabilities::crypto::certificates;
use crate::http::auth::Auth;
use crate::http::problem::{ApiError, ApiResult};
use crate::http::strict_json::StrictJson;
use crate::modules::Install;
use crate::modules::installs;
use crate::modules::lifecycle::Change;
use crate::modules::settings as config;

pub struct TenantModulesApi;

/// A module to enable.
#[derive(Object)]
pub struct EnableRequest {
    /// The module's name in the registry.
    pub name: String,
    /// A semver range such as `^1.2`, `>=1.0, <2` or `=1.0.3`; the highest
    /// matching version that is not yanked is enabled. Default: any (or, for
    /// a disabled module, the version it had).
    pub version: Option<String>,
}

/// Where to upgrade to.
#[derive(Object)]
pub struct UpgradeRequest {
    /// A semver range; default: the newest version.
    pub version: Option<String>,
}

/// Purging needs the module's name again: its data is deleted for good.
#[derive(Object)]
pub struct PurgeRequest {
    /// The module's name, typed again.
    pub confirm: String,
}

/// A certificate and its private key, for a module's CMS signatures.
#[derive(Object)]
pub struct CertificateUpload {
    /// The X.509 certificate, PEM (`-----BEGIN CERTIFICATE-----`).
    pub certificate_pem: String,
    /// Its private key, PEM: PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE
    /// KEY`), unencrypted; ECDSA P-256 or RSA. Never shown again, nor logged.
    pub private_key_pem: String,
}

/// What Plaza shows of an installed certificate (never its key).
#[derive(Object)]
pub struct CertificateView {
    pub name: String,
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    /// SHA-256 fingerprint of the DER certificate, hex.
    pub sha256: String,
    /// Made by Plaza on first use because none was installed: for testing only.
    pub self_signed: bool,
    pub key_type: String,
}

impl CertificateView {
    fn new(name: String, info: crate::capabilities::crypto::x509::CertificateInfo) -> Self {
        Self {
            name,
            subject: info.subject,
            issuer: info.issuer,
            serial: info.serial,
            not_before: info.not_before,
            not_after: info.not_after,
            sha256: info.sha256,
            self_signed: info.self_signed,
            key_type: info.key_type.to_owned(),
        }
    }
}

/// A setting or secret to store.
#[derive(Object)]
pub struct SettingValue {
    /// The value: any JSON for a setting, a string for a secret.
    pub value: Value,
    /// A secret is never shown again, nor logged; the module reads it with `config.secret`.
    #[oai(default)]
    pub secret: bool,
}

/// One setting of a module; secrets show no value.
#[derive(Object)]
pub struct Setting {
    pub key: String,
    pub secret: bool,
    /// The JSON value; absent for secrets.
    pub value: Option<Value>,
}

#[derive(ApiResponse)]
pub enum Done {
    /// Done.
    #[oai(status = 204)]
    Done,
}

#[OpenApi(tag = "Tag::Modules")]
impl TenantModulesApi {
    /// List the tenant's modules
    #[oai(path = "/t/:tenant/modules", method = "get", operation_id = "listTenantModules")]
    async fn list(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
    ) -> ApiResult<Json<Vec<Install>>> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        Ok(Json(installs::list(&app.db, &tenant).await?))
    }

    /// Enable a module
    ///
    /// Resolves the version range and the module's dependencies (enabled
    /// too, dependencies first), creates each module's SQL namespace and
    /// runs its migrations. Enabling a disabled module brings its data back.
    #[oai(path = "/t/:tenant/modules", method = "post", operation_id = "enableModule")]
    async fn enable(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        body: StrictJson<EnableRequest>,
    ) -> ApiResult<Json<Change>> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        let actor = auth.principal().actor();
        Ok(Json(app.modules.enable(&tenant, &body.name, body.version.as_deref(), &actor).await?))
    }

    /// One installed module
    #[oai(path = "/t/:tenant/modules/:name", method = "get", operation_id = "getTenantModule")]
    async fn get(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        name: Path<String>,
    ) -> ApiResult<Json<Install>> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        installs::get(&app.db, &tenant, &name).await?.map(Json).ok_or_else(|| not_installed(&tenant, &name))
    }

    /// Upgrade a module
    ///
    /// The new version's pending migrations run in one transaction; if one
    /// fails, the tenant stays on the old version with its data untouched
    /// and the answer (409 `migration-failed`) names the migration.
    #[oai(path = "/t/:tenant/modules/:name/upgrade", method = "post", operation_id = "upgradeModule")]
    async fn upgrade(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        name: Path<String>,
        body: StrictJson<UpgradeRequest>,
    ) -> ApiResult<Json<Change>> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        let actor = auth.principal().actor();
        Ok(Json(app.modules.upgrade(&tenant, &name, body.version.as_deref(), &actor).await?))
    }

    /// Roll a module back
    ///
    /// Back to the version that ran before the last upgrade, when every
    /// migration applied since only added to the schema.
    #[oai(path = "/t/:tenant/modules/:name/rollback", method = "post", operation_id = "rollbackModule")]
    async fn rollback(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        name: Path<String>,
    ) -> ApiResult<Json<Change>> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        let actor = auth.principal().actor();
        Ok(Json(app.modules.rollback(&tenant, &name, &actor).await?))
    }

    /// Disable a module
    ///
    /// Its routes, jobs and subscriptions stop; its data is kept.
    #[oai(path = "/t/:tenant/modules/:name/disable", method = "post", operation_id = "disableModule")]
    async fn disable(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        name: Path<String>,
    ) -> ApiResult<Json<Install>> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        let actor = auth.principal().actor();
        Ok(Json(app.modules.disable(&tenant, &name, &actor).await?))
    }

    /// Purge a module's data
    ///
    /// Drops the module's SQL namespace, blobs, KV, settings and key for
    /// this tenant, for good. Refused while an enabled module depends on it.
    #[oai(path = "/t/:tenant/modules/:name/purge", method = "post", operation_id = "purgeModule")]
    async fn purge(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        name: Path<String>,
        body: StrictJson<PurgeRequest>,
    ) -> ApiResult<Done> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        if body.confirm != name.0 {
            return Err(ApiError::unprocessable(format!(
                "confirm: type the module's name ({:?}) to purge its data",
                name.0
            )));
        }
        let actor = auth.principal().actor();
        app.modules.purge(&tenant, &name, &actor).await?;
        Ok(Done::Done)
    }

    /// List a module's settings
    #[oai(path = "/t/:tenant/modules/:name/config", method = "get", operation_id = "listModuleSettings")]
    async fn settings(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        name: Path<String>,
    ) -> ApiResult<Json<Vec<Setting>>> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        installs::get(&app.db, &tenant, &name).await?.ok_or_else(|| not_installed(&tenant, &name))?;
        let all = config::list(&app.db, &tenant, &name).await?;
        Ok(Json(
            all.into_iter()
                .map(|(key, value)| Setting {
                    key,
                    secret: value.is_none(),
                    value: value.and_then(|v| serde_json::from_str(&v).ok()),
                })
                .collect(),
        ))
    }

    /// Set a setting or a secret
    #[oai(path = "/t/:tenant/modules/:name/config/:key", method = "put", operation_id = "setModuleSetting")]
    async fn set_setting(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        name: Path<String>,
        key: Path<String>,
        body: StrictJson<SettingValue>,
    ) -> ApiResult<Done> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        let text = if body.secret {
            body.value.as_str().ok_or_else(|| ApiError::unprocessable("value: a secret is a string"))?.to_owned()
        } else {
            body.value.to_string()
        };
        let actor = auth.principal().actor();
        app.modules.configure(&tenant, &name, &key, &text, body.secret, &actor).await?;
        Ok(Done::Done)
    }

    /// List a module's signing certificates
    ///
    /// The X.509 certificates the module signs CMS / PDF signatures with
    /// (`crypto.sign-cms`), by name; self-signed ones were made on first use
    /// because none was installed, and are for testing only.
    #[oai(path = "/t/:tenant/modules/:name/certificates", method = "get", operation_id = "listModuleCertificates")]
    async fn certificates(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        name: Path<String>,
    ) -> ApiResult<Json<Vec<CertificateView>>> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        installs::get(&app.db, &tenant, &name).await?.ok_or_else(|| not_installed(&tenant, &name))?;
        let all = certificates::list(&app.db, &tenant, &name).await.map_err(certificate_error)?;
        Ok(Json(all.into_iter().map(|(n, c)| CertificateView::new(n, c.info())).collect()))
    }

    /// Install a signing certificate
    ///
    /// Installs (or replaces) the certificate `cert` the module names in its
    /// signatures, with its private key. The key must belong to the
    /// certificate; it stays in Plaza and no module ever reads it.
    #[oai(
        path = "/t/:tenant/modules/:name/certificates/:cert",
        method = "put",
        operation_id = "installModuleCertificate"
    )]
    async fn install_certificate(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        name: Path<String>,
        cert: Path<String>,
        body: StrictJson<CertificateUpload>,
    ) -> ApiResult<Json<CertificateView>> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        installs::get(&app.db, &tenant, &name).await?.ok_or_else(|| not_installed(&tenant, &name))?;
        let actor = auth.principal().actor();
        let info = certificates::install_pem(
            app.modules.services(),
            &actor,
            &tenant,
            &name,
            &cert,
            &body.certificate_pem,
            &body.private_key_pem,
        )
        .await
        .map_err(certificate_error)?;
        Ok(Json(CertificateView::new(cert.0, info)))
    }

    /// Remove a setting or a secret
    #[oai(path = "/t/:tenant/modules/:name/config/:key", method = "delete", operation_id = "deleteModuleSetting")]
    async fn delete_setting(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        name: Path<String>,
        key: Path<String>,
    ) -> ApiResult<Done> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        let actor = auth.principal().actor();
        if !config::delete(&app.db, &actor, &tenant, &name, &key).await? {
            return Err(ApiError::not_found(
                "setting-not-found",
                format!("module {:?} has no setting {:?}", name.0, key.0),
            ));
        }
        Ok(Done::Done)
    }
}

fn certificate_error(e: certificates::StoreError) -> ApiError {
    match e {
        certificates::StoreError::X509(x) => ApiError::unprocessable(x.to_string()),
        certificates::StoreError::Db(d) => ApiError::internal(&d),
    }
}

fn not_installed(tenant: &str, name: &str) -> ApiError {
    ApiError::not_found("module-not-installed", format!("tenant {tenant:?} has no module {name:?}"))
}
