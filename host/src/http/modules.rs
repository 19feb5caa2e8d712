//! `/t/{tenant}/{module}/{path…}`: requests to modules.
//!
//! Routes of modules are not poem routes (they change at run time): one
//! endpoint in front of the host API takes every `/t/{tenant}/{segment}/…`
//! whose segment is not one of the host's own, and does what a route would:
//! authenticate, find the module and its route, check the route's roles,
//! translate the request into the contract's, call, translate back.

use std::sync::Arc;

use poem::http::{HeaderName, HeaderValue, Method as HttpMethod, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::payload::Payload;

use super::origin::{self, ContentOrigin};
use super::problem::ApiError;
use crate::App;
use crate::auth::principal::{self, Principal};
use crate::context;
use crate::contract::{self as wit, Access, Method};
use crate::modules::{LoadedModule, routes::Miss};
use crate::runtime::CallError;
use crate::tenancy::{self, TenancyError, TenantStatus};

/// Tags a response with the module route that served it, for `/metrics`.
#[derive(Debug, Clone)]
pub struct ModuleRoute(pub String);

/// The host API, with module requests taken out in front of it.
pub struct ModulesOrApi<E> {
    pub api: E,
    /// The `/t/{tenant}/{segment}` segments the host API serves.
    pub host_segments: Vec<String>,
    /// The host's OpenAPI document, the base of every tenant's.
    pub host_spec: Arc<serde_json::Value>,
}

/// Everything the host serves, with requests on the operator's module
/// content origin taken out in front: there, module routes and nothing else.
pub struct ContentOrHost<E> {
    pub host: E,
    pub content: Arc<ContentOrigin>,
    /// The `/t/{tenant}/{segment}` segments the host API serves.
    pub host_segments: Vec<String>,
}

impl<E: Endpoint> Endpoint for ContentOrHost<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let Some(host) = request_host(&req).filter(|h| self.content.serves(h)) else {
            return self.host.call(req).await.map(IntoResponse::into_response);
        };
        let module = self.content.target(host, req.uri().path()).and_then(|t| {
            module_target(&format!("/t/{}{}", t.tenant, t.path), &self.host_segments)
                .map(|(tenant, module, rest)| (tenant, module, rest, t.own_origin))
        });
        Ok(match module {
            Some((tenant, module, rest, own_origin)) => dispatch(req, &tenant, &module, &rest, own_origin).await,
            None => ApiError::not_found("not-found", "this origin serves module content only").into_response(),
        })
    }
}

impl<E: Endpoint> Endpoint for ModulesOrApi<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        if let Some(tenant) = req
            .uri()
            .path()
            .strip_prefix("/t/")
            .and_then(|r| r.strip_suffix("/openapi.json"))
            .filter(|t| !t.contains('/'))
        {
            let tenant = tenant.to_owned();
            return Ok(tenant_openapi(&req, &tenant, &self.host_spec).await.into_response());
        }
        if let Some(tenant) = req
            .uri()
            .path()
            .strip_prefix("/t/")
            .and_then(|r| r.strip_suffix("/docs").or_else(|| r.strip_suffix("/docs/")))
            .filter(|t| !t.contains('/'))
        {
            return Ok(tenant_docs(&req, tenant).await.into_response());
        }
        let target = module_target(req.uri().path(), &self.host_segments);
        match target {
            Some((tenant, module, rest)) => Ok(dispatch(req, &tenant, &module, &rest, false).await.into_response()),
            None => self.api.call(req).await.map(IntoResponse::into_response),
        }
    }
}

/// The request's host, from `Host` (HTTP/1.1) or the URI (HTTP/2).
pub fn request_host(req: &Request) -> Option<&str> {
    req.headers().get(header::HOST).and_then(|v| v.to_str().ok()).or_else(|| req.uri().host())
}

/// `(tenant, module, rest)` when `path` is a module request.
fn module_target(path: &str, host_segments: &[String]) -> Option<(String, String, String)> {
    let rest = path.strip_prefix("/t/")?;
    let (tenant, rest) = rest.split_once('/')?;
    let (module, rest) = match rest.split_once('/') {
        Some((m, r)) => (m, format!("/{r}")),
        None => (rest, "/".to_owned()),
    };
    if module.is_empty() || host_segments.iter().any(|s| s == module) {
        return None;
    }
    Some((tenant.to_owned(), module.to_owned(), rest))
}

/// `/t/{tenant}/openapi.json`: the host's tenant API and the routes of every
/// module the tenant has enabled, for the tenant's members. Without
/// credentials it is the public part only (the routes anyone may call), so
/// that Swagger UI can show them and its Authorize button; the docs page
/// fetches the whole document again once authorized.
async fn tenant_openapi(req: &Request, tenant: &str, host_spec: &serde_json::Value) -> Response {
    let Some(app) = req.data::<Arc<App>>().cloned() else {
        return ApiError::internal(&"application state missing").into_response();
    };
    let result: Result<Response, ApiError> = async {
        let public_only = match super::auth::credentials(&app, req).await? {
            Some(principal) => {
                principal::authorize(&app.db, &principal, tenant, None).await?;
                false
            }
            None => {
                tenancy::get(&app.db, tenant).await.map_err(|e| match e {
                    TenancyError::Db(e) => ApiError::internal(&e),
                    _ => ApiError::not_found("tenant-not-found", format!("tenant {tenant:?} does not exist")),
                })?;
                true
            }
        };
        let loaded = app.modules.enabled(tenant).await?.loaded();
        let refs: Vec<&LoadedModule> = loaded.iter().map(Arc::as_ref).collect();
        let mut doc = crate::modules::openapi::tenant_document(host_spec, tenant, &refs);
        if public_only {
            crate::modules::openapi::keep_public_operations(&mut doc);
        }
        Ok(Response::builder().content_type("application/json").body(serde_json::to_vec(&doc).unwrap_or_default()))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `/t/{tenant}/docs`: Swagger UI on the tenant's document (the page is the
/// host's, with its bundled assets; the document itself needs credentials,
/// which the browser sends in cookie mode, or Swagger UI's Authorize button).
async fn tenant_docs(req: &Request, tenant: &str) -> Response {
    let Some(app) = req.data::<Arc<App>>().cloned() else {
        return ApiError::internal(&"application state missing").into_response();
    };
    match tenancy::get(&app.db, tenant).await {
        Ok(_) => {
            let html =
                super::docs::page(&format!("Plaza API for tenant {tenant}"), &format!("/t/{tenant}/openapi.json"));
            poem::web::Html(html).with_header(header::CONTENT_SECURITY_POLICY, super::docs::DOCS_CSP).into_response()
        }
        Err(TenancyError::Db(e)) => ApiError::internal(&e).into_response(),
        Err(_) => ApiError::not_found("tenant-not-found", format!("tenant {tenant:?} does not exist")).into_response(),
    }
}

fn no_module(tenant: &str, module: &str) -> ApiError {
    ApiError::not_found("module-not-found", format!("tenant {tenant:?} has no module {module:?}"))
}

/// Headers a module never sees: credentials stay with the host.
const PRIVATE_REQUEST_HEADERS: &[&str] = &["authorization", "cookie", "x-api-key", "x-csrf-token"];

/// `own_origin`: the request came in on the tenant's own content origin.
async fn dispatch(mut req: Request, tenant: &str, module_name: &str, rest: &str, own_origin: bool) -> Response {
    let Some(app) = req.data::<Arc<App>>().cloned() else {
        return ApiError::internal(&"application state missing").into_response();
    };
    match serve(&app, &mut req, tenant, module_name, rest, own_origin).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn serve(
    app: &App,
    req: &mut Request,
    tenant: &str,
    name: &str,
    rest: &str,
    own_origin: bool,
) -> Result<Response, ApiError> {
    let principal = super::auth::credentials(app, req).await?;
    // The tenant's record and modules, from memory.
    let enabled = app.modules.enabled(tenant).await?;
    let active = enabled.get(name).ok_or_else(|| no_module(tenant, name))?;
    let module = active.module.clone().map_err(|_| {
        ApiError::unavailable(format!("module {name:?} {} cannot be loaded on this host", active.install.version))
    })?;
    let method = Method::parse(req.method().as_str())
        .ok_or_else(|| ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "method not supported"))?;
    let (index, raw_params) = match module.routes.find(method, rest) {
        Ok(hit) => hit,
        Err(Miss::NotFound) => {
            return Err(ApiError::not_found("route-not-found", format!("module {name:?} has no route {rest}")));
        }
        Err(Miss::MethodNotAllowed(allowed)) => {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                format!("{rest} answers {}", allowed.join(", ")),
            )
            .with_header(header::ALLOW, allowed.join(", ")));
        }
    };
    let route = &module.manifest.routes[index];
    // Who may call: public routes anyone (callers still identified when they
    // send credentials); others the tenant's members holding a listed role.
    // (The tenant was read above: the roles come straight from the
    // principal, with `authorize`'s rules — no access reads as no tenant.)
    let suspended = enabled.tenant.status == TenantStatus::Suspended;
    let roles = match &principal {
        Some(p) => p.roles_in(&app.db, tenant).await.map_err(|e| ApiError::internal(&e))?.filter(|r| !r.is_empty()),
        None => None,
    };
    let roles = match (&route.access, roles) {
        (Access::Public, roles) => {
            if suspended {
                return Err(principal::AccessError::Suspended(tenant.to_owned()).into());
            }
            if principal.is_none() {
                app.modules.share().anonymous_request(tenant).map_err(tenant_busy)?;
            }
            roles.unwrap_or_default()
        }
        (Access::Roles(_), None) if principal.is_none() => {
            return Err(ApiError::unauthorized("this route needs credentials"));
        }
        (Access::Roles(_), None) => return Err(principal::AccessError::NoTenant(tenant.to_owned()).into()),
        (Access::Roles(need), Some(roles)) => {
            if suspended {
                return Err(principal::AccessError::Suspended(tenant.to_owned()).into());
            }
            if !need.iter().any(|n| principal::has_role(&roles, n)) {
                return Err(ApiError::forbidden(
                    "missing-role",
                    format!("this route needs one of the roles: {}", need.join(", ")),
                ));
            }
            roles
        }
    };
    let json = module.routes.takes_json(index);
    let request = translate(req, method, rest, route, json, raw_params, principal.as_ref(), tenant, roles).await?;
    let request_id = context::request_id().unwrap_or_default();
    let label = format!("/t/{{tenant}}/{name}{}", route.path);
    let is_head = *req.method() == HttpMethod::HEAD;
    let answer = app.modules.call(&module, tenant, &request_id, request).await;
    let mut resp = match answer {
        Ok(r) => translate_back(&module, r, is_head, own_origin)?,
        Err(e) => return Err(call_problem(&module, &e)),
    };
    resp.set_data(ModuleRoute(label));
    Ok(resp)
}

#[allow(clippy::too_many_arguments)]
async fn translate(
    req: &mut Request,
    method: Method,
    rest: &str,
    route: &wit::Route,
    json: bool,
    raw_params: Vec<(String, String)>,
    principal: Option<&Principal>,
    tenant: &str,
    roles: Vec<String>,
) -> Result<wit::Request, ApiError> {
    let mut path_params = Vec::with_capacity(raw_params.len());
    for (k, v) in raw_params {
        let v = percent_encoding::percent_decode_str(&v)
            .decode_utf8()
            .map_err(|_| ApiError::bad_request(format!("path parameter {k:?} is not UTF-8")))?;
        path_params.push((k, v.into_owned()));
    }
    let query =
        req.uri().query().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    let headers = req
        .headers()
        .iter()
        .filter(|(n, _)| !PRIVATE_REQUEST_HEADERS.contains(&n.as_str()))
        .filter_map(|(n, v)| v.to_str().ok().map(|v| wit::Header { name: n.as_str().to_owned(), value: v.to_owned() }))
        .collect();
    let body = req.take_body().into_vec().await.map_err(|e| ApiError::from_poem(&poem::Error::from(e)))?;
    // A route with a JSON schema takes JSON: a body sent as anything else
    // (`text/plain`, as an HTML form may send without a preflight) is refused.
    if json && !body.is_empty() {
        let json = req
            .content_type()
            .is_some_and(<poem_openapi::payload::Json<serde_json::Value> as Payload>::check_content_type);
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                format!(
                    "this route takes `application/json`, not {:?}",
                    req.content_type().unwrap_or("a body without a content type")
                ),
            ));
        }
    }
    Ok(wit::Request {
        method,
        path: rest.to_owned(),
        route: route.path.clone(),
        path_params,
        query,
        headers,
        body,
        caller: wit::Caller {
            tenant: tenant.to_owned(),
            user_id: principal.map(Principal::user_id),
            roles,
            request_id: context::request_id().unwrap_or_default(),
        },
    })
}

/// The module's answer as an HTTP response, with the host's security
/// headers in place of any the module set (see [`super::origin`]).
fn translate_back(
    module: &LoadedModule,
    r: wit::Response,
    is_head: bool,
    own_origin: bool,
) -> Result<Response, ApiError> {
    // A final status only: an informational one (1xx, 101 Switching
    // Protocols among them) would leave the client without an answer.
    let status =
        StatusCode::from_u16(r.status).ok().filter(|s| (200..=599).contains(&s.as_u16())).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "module-invalid-response",
                format!(
                    "module {:?} answered with status {}, which is not a final HTTP status",
                    module.name(),
                    r.status
                ),
            )
        })?;
    let mut builder = Response::builder().status(status);
    for h in r.headers {
        let name = h.name.to_ascii_lowercase();
        if origin::is_reserved_response_header(&name) {
            continue;
        }
        match (HeaderName::try_from(name.as_str()), HeaderValue::from_str(&h.value)) {
            (Ok(n), Ok(v)) => builder = builder.header(n, v),
            _ => tracing::warn!(module = module.name(), header = %name, "invalid response header dropped"),
        }
    }
    let builder = builder
        .header(header::CONTENT_SECURITY_POLICY, origin::module_csp(own_origin))
        .header("cross-origin-opener-policy", "same-origin");
    Ok(if is_head { builder.finish() } else { builder.body(r.body) })
}

/// A call held back by its tenant's fair share: 429, to try again shortly.
fn tenant_busy(refusal: crate::runtime::share::Refusal) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "tenant-busy", format!("{refusal}; try again shortly"))
        .with_header(header::RETRY_AFTER, "1")
}

/// What a client sees when a call fails: the module named, the cause said,
/// nothing of the host's internals.
fn call_problem(module: &LoadedModule, e: &CallError) -> ApiError {
    let name = module.name();
    match e {
        CallError::Deadline(d) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "module-timeout",
            format!("module {name:?} did not answer within {} ms", d.as_millis()),
        ),
        CallError::Memory { limit, .. } => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "module-memory-exceeded",
            format!("module {name:?} tried to use more than its memory limit of {limit} bytes"),
        ),
        CallError::Trap(why) => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "module-failed", format!("module {name:?} failed: {why}"))
        }
        CallError::Instantiate(_) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "module-failed",
            format!("module {name:?} could not be started"),
        ),
        CallError::ResponseTooLarge { size, limit } => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "module-response-too-large",
            format!("module {name:?} answered with {size} bytes; the limit is {limit}"),
        ),
        CallError::Busy => ApiError::unavailable("too many module calls are running; try again shortly")
            .with_header(header::RETRY_AFTER, "1"),
        CallError::TenantBusy(refusal) => tenant_busy(*refusal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths_are_told_from_host_paths() {
        let host = vec!["files".to_owned(), "members".to_owned()];
        assert_eq!(
            module_target("/t/acme/hello/greetings/1", &host),
            Some(("acme".into(), "hello".into(), "/greetings/1".into()))
        );
        assert_eq!(module_target("/t/acme/hello", &host), Some(("acme".into(), "hello".into(), "/".into())));
        assert_eq!(module_target("/t/acme/files/x", &host), None);
        assert_eq!(module_target("/t/acme", &host), None);
        assert_eq!(module_target("/api/v1/tenants", &host), None);
    }
}
