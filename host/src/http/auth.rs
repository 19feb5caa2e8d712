//! Authentication at the HTTP edge: the OpenAPI security schemes (bearer
//! and API key, so Swagger UI's Authorize button offers both), their checks,
//! and the cookie mode for browser front ends.

use std::sync::Arc;

use poem::http::{HeaderValue, Method, header};
use poem::{Request, RequestBody};
use poem_openapi::auth::{ApiKey, Bearer};
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, SecurityScheme};

use super::problem::ApiError;
use crate::app::App;
use crate::auth::principal::{Principal, authorize};
use crate::auth::{self, CookieNames, api_keys};
use crate::tenancy::Tenant;

/// Header that must repeat the CSRF cookie on unsafe requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A host-issued JWT, an external IdP's JWT, an API key or the operator token.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_bearer", rename = "bearerAuth")]
pub struct BearerAuth(Principal);

/// A tenant API key in the `X-API-Key` header.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "X-API-Key", key_in = "header", checker = "check_api_key", rename = "apiKey")]
pub struct ApiKeyAuth(Principal);

/// Any accepted credential: `X-API-Key` when that header is present, else
/// the bearer token.
pub enum Auth {
    Bearer(BearerAuth),
    ApiKey(ApiKeyAuth),
}

// Written by hand rather than derived: the derived "one of" extractor tries
// each scheme and reports the last one's error, so a rejected bearer token
// would read "no X-API-Key header". Choosing by header keeps the real reason.
impl<'a> ApiExtractor<'a> for Auth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        BearerAuth::register(registry);
        ApiKeyAuth::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        let mut schemes = BearerAuth::security_schemes();
        schemes.extend(ApiKeyAuth::security_schemes());
        schemes
    }

    async fn from_request(
        req: &'a Request,
        body: &mut RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        if req.headers().contains_key("x-api-key") {
            ApiKeyAuth::from_request(req, body, ExtractParamOptions::default()).await.map(Auth::ApiKey)
        } else {
            BearerAuth::from_request(req, body, ExtractParamOptions::default()).await.map(Auth::Bearer)
        }
    }
}

impl Auth {
    /// Who is calling.
    pub fn principal(&self) -> &Principal {
        match self {
            Auth::Bearer(b) => &b.0,
            Auth::ApiKey(k) => &k.0,
        }
    }

    /// Refuses anyone but a platform operator.
    pub fn require_operator(&self) -> Result<&Principal, ApiError> {
        let p = self.principal();
        if p.is_operator() {
            Ok(p)
        } else {
            Err(ApiError::forbidden("operator-only", "this needs a platform operator"))
        }
    }

    /// The tenant, if the caller may act there with `need` (`None`: any role).
    pub async fn tenant(&self, app: &App, tenant: &str, need: Option<&str>) -> Result<(Tenant, Vec<String>), ApiError> {
        Ok(authorize(&app.db, self.principal(), tenant, need).await?)
    }
}

fn app_of(req: &Request) -> Result<&Arc<App>, ApiError> {
    req.data::<Arc<App>>().ok_or_else(|| ApiError::internal(&"application state missing from request"))
}

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    Ok(bearer_principal(app_of(req)?, &bearer.token).await?)
}

async fn check_api_key(req: &Request, key: ApiKey) -> poem::Result<Principal> {
    Ok(api_key_principal(app_of(req)?, &key.key).await?)
}

/// The principal of a bearer token: a host or IdP JWT, or the operator token.
async fn bearer_principal(app: &App, token: &str) -> Result<Principal, ApiError> {
    Ok(auth::resolve_bearer(&app.db, &app.identity, &app.operator, token).await?)
}

/// The principal of an `X-API-Key` value.
async fn api_key_principal(app: &App, key: &str) -> Result<Principal, ApiError> {
    if !key.starts_with(api_keys::PREFIX) {
        return Err(ApiError::unauthorized("not an API key"));
    }
    Ok(api_keys::authenticate(&app.db, key).await?)
}

/// The credentials of a request outside the OpenAPI operations (module
/// routes, which may be public): `None` without any, else the same checks
/// as the security schemes above, chosen the same way (`X-API-Key` when
/// present, else the bearer token).
pub async fn credentials(app: &App, req: &Request) -> Result<Option<Principal>, ApiError> {
    if let Some(key) = req.headers().get("x-api-key") {
        let key = key.to_str().map_err(|_| ApiError::unauthorized("unreadable API key"))?;
        return api_key_principal(app, key).await.map(Some);
    }
    let Some(value) = req.headers().get(header::AUTHORIZATION) else { return Ok(None) };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .ok_or_else(|| ApiError::unauthorized("use `Authorization: Bearer <token>`"))?;
    bearer_principal(app, token.trim()).await.map(Some)
}

/// A cookie's value from the `Cookie` header(s).
pub fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// A `Set-Cookie` value of cookie mode: `SameSite=Strict`, `Secure` when
/// configured, `Max-Age` in seconds (0 removes it).
pub fn set_cookie(name: &str, value: &str, path: &str, http_only: bool, max_age_secs: u64, secure: bool) -> String {
    cookie::Cookie::build((name, value))
        .path(path)
        .http_only(http_only)
        .same_site(cookie::SameSite::Strict)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(i64::try_from(max_age_secs).unwrap_or(i64::MAX)))
        .build()
        .to_string()
}

/// True when an unsafe request repeats the CSRF cookie in its header.
pub fn csrf_ok(req: &Request, names: CookieNames) -> bool {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let header = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    match (cookie(req, names.csrf), header) {
        (Some(c), Some(h)) => !c.is_empty() && subtle::ConstantTimeEq::ct_eq(c.as_bytes(), h.as_bytes()).into(),
        _ => false,
    }
}

/// Routes that take no access token: a stale access cookie must not get in
/// the way of signing in again.
const SIGN_IN_PATHS: &[&str] = &[
    "/api/v1/auth/register",
    "/api/v1/auth/login",
    "/api/v1/auth/login/mfa",
    "/api/v1/auth/refresh",
    "/api/v1/auth/logout",
];

/// Cookie mode: a request that carries the access cookie and no other
/// credential is authenticated by it, after the double-submit CSRF check
/// for unsafe methods.
pub fn cookie_to_bearer(req: &mut Request, names: CookieNames) -> Result<(), ApiError> {
    if req.headers().contains_key(header::AUTHORIZATION)
        || req.headers().contains_key("x-api-key")
        || SIGN_IN_PATHS.contains(&req.uri().path())
    {
        return Ok(());
    }
    let Some(token) = cookie(req, names.access) else { return Ok(()) };
    if !csrf_ok(req, names) {
        return Err(ApiError::forbidden(
            "csrf",
            "cookie-authenticated requests must repeat the CSRF cookie in X-CSRF-Token",
        ));
    }
    if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
        req.headers_mut().insert(header::AUTHORIZATION, value);
    }
    Ok(())
}
