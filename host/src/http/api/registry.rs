//! `/api/v1/registry/*`: the module catalogue. Publishing and yanking are
//! the operator's; reading the catalogue is open to anyone signed in.
//! Handlers validate and delegate to [`crate::modules::registry`].

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::multipart::Upload;
use poem_openapi::{ApiResponse, Multipart, Object, OpenApi};

use super::Tag;
use crate::app::App;
use crate::http::auth::Auth;
use crate::http::problem::{ApiError, ApiResult};
use crate::http::strict_json::StrictJson;
use crate::modules::registry::{self, ModuleSummary, PackageVersion};

pub struct RegistryApi;

/// A package to publish.
#[derive(Multipart)]
pub struct PublishForm {
    /// The module's WebAssembly component (`.wasm`).
    pub package: Upload,
    /// The publisher's signature, the JSON that `plaza module sign` writes
    /// (`{"sha256", "key", "signature"}`). Required unless the host runs
    /// with `PLAZA_ALLOW_UNSIGNED_MODULES`.
    pub signature: Option<String>,
}

/// Yank or restore a version.
#[derive(Object)]
pub struct YankRequest {
    /// `true`: no new installs of this version; `false`: installable again.
    pub yanked: bool,
}

#[derive(ApiResponse)]
pub enum Published {
    /// The version is in the registry.
    #[oai(status = 201)]
    Created(Json<PackageVersion>, #[oai(header = "Location")] String),
}

#[OpenApi(prefix_path = "/api/v1/registry", tag = "Tag::Registry")]
impl RegistryApi {
    /// Publish a module version
    ///
    /// The signature is checked against the trusted publisher keys, the
    /// component is compiled and its manifest read and validated, then the
    /// component is stored by its SHA-256. A version is never overwritten.
    #[oai(path = "/modules", method = "post", operation_id = "publishModule")]
    async fn publish(&self, Data(app): Data<&Arc<App>>, auth: Auth, form: PublishForm) -> ApiResult<Published> {
        let actor = auth.require_operator()?.actor();
        let signature = match form.signature.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(text) => Some(
                plaza_registry::PackageSignature::from_json(text.as_bytes())
                    .map_err(|e| ApiError::unprocessable(format!("signature: {e}")))?,
            ),
            None => None,
        };
        let wasm = form.package.into_vec().await.map_err(|e| ApiError::bad_request(format!("package: {e}")))?;
        let published = app.modules.publish(wasm, signature, &actor).await?;
        let location = format!("/api/v1/registry/modules/{}/versions/{}", published.name, published.version);
        Ok(Published::Created(Json(published), location))
    }

    /// List the catalogue
    #[oai(path = "/modules", method = "get", operation_id = "listRegistryModules")]
    async fn list(&self, Data(app): Data<&Arc<App>>, _auth: Auth) -> ApiResult<Json<Vec<ModuleSummary>>> {
        Ok(Json(registry::list(&app.db).await?))
    }

    /// List the versions of a module, with their manifests
    #[oai(path = "/modules/:name/versions", method = "get", operation_id = "listModuleVersions")]
    async fn versions(
        &self,
        Data(app): Data<&Arc<App>>,
        _auth: Auth,
        name: Path<String>,
    ) -> ApiResult<Json<Vec<PackageVersion>>> {
        let mut all = registry::versions(&app.db, &name).await?;
        if all.is_empty() {
            return Err(ApiError::not_found("module-not-found", format!("module {:?} is not in the registry", name.0)));
        }
        app.modules.mark_trusted(&mut all);
        Ok(Json(all))
    }

    /// One version of a module
    #[oai(path = "/modules/:name/versions/:version", method = "get", operation_id = "getModuleVersion")]
    async fn version(
        &self,
        Data(app): Data<&Arc<App>>,
        _auth: Auth,
        name: Path<String>,
        version: Path<String>,
    ) -> ApiResult<Json<PackageVersion>> {
        let mut one = [registry::version(&app.db, &name, &version).await?];
        app.modules.mark_trusted(&mut one);
        let [one] = one;
        Ok(Json(one))
    }

    /// Yank (or restore) a version
    ///
    /// A yanked version keeps running where it is installed; it cannot be
    /// newly enabled, nor chosen by a version range.
    #[oai(path = "/modules/:name/versions/:version/yank", method = "put", operation_id = "yankModuleVersion")]
    async fn yank(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        name: Path<String>,
        version: Path<String>,
        body: StrictJson<YankRequest>,
    ) -> ApiResult<Json<PackageVersion>> {
        let actor = auth.require_operator()?.actor();
        Ok(Json(registry::set_yanked(&app.db, &actor, &name, &version, body.yanked).await?))
    }
}
