//! The HTTP edge: the router, its middleware, the OpenAPI document and
//! Swagger UI. Handlers live in [`api`]; they validate input and delegate to
//! plain functions in the domain modules.

pub mod api;
pub mod auth;
// The native side of `cargo xtask bench`, kept with the benchmarks: not
// part of any build without the `bench` feature.
#[cfg(feature = "bench")]
#[path = "../../benches/native/blog.rs"]
mod bench;
pub mod connection;
pub mod console;
pub mod docs;
mod errors;
pub mod middleware;
pub mod modules;
pub mod origin;
pub mod problem;
pub mod strict_json;

use std::collections::HashMap;
use std::sync::Arc;

use poem::endpoint::make_sync;
use poem::middleware::{CatchPanic, Cors};
use poem::{Endpoint, EndpointExt, Response, Route};
use poem_openapi::OpenApiService;
use serde_json::Value;

use crate::app::App;
use middleware::Layers;

const TITLE: &str = "Plaza";
const DESCRIPTION: &str = "Multi-tenant plugin host for business software. \
Errors are `application/problem+json` (RFC 9457) and carry the request id, \
also returned in the `X-Request-Id` header.";

/// The OpenAPI service of the host API.
pub fn api_service() -> OpenApiService<api::HostApi, ()> {
    OpenApiService::new(api::host_api(), TITLE, env!("CARGO_PKG_VERSION")).description(DESCRIPTION)
}

/// The host's OpenAPI document, as served at `/openapi.json`.
///
/// poem-openapi leaves `security` out of operations that need none; the
/// document states it (`security: []`) so that every operation declares its
/// requirement and clients know which calls are anonymous.
pub fn spec() -> Value {
    let mut doc: Value = serde_json::from_str(&api_service().spec()).unwrap_or(Value::Null);
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for op in item.values_mut().filter_map(Value::as_object_mut) {
                op.entry("security").or_insert_with(|| Value::Array(Vec::new()));
            }
        }
    }
    doc
}

/// operationId → path template, for metric labels.
fn operation_routes(doc: &Value) -> HashMap<String, String> {
    let mut routes = HashMap::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for op in item.as_object().into_iter().flat_map(|o| o.values()) {
                if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                    routes.insert(id.to_owned(), path.clone());
                }
            }
        }
    }
    routes
}

/// The whole HTTP application of one host process.
pub fn router(app: Arc<App>) -> impl Endpoint<Output = Response> + 'static {
    let service = api_service();
    let doc = spec();
    // Checked by `Config::validate`: a bad URL never gets this far.
    let content = origin::ContentOrigin::parse(&app.config.module_content_url).ok().flatten();
    let layers = Arc::new(Layers {
        metrics: Arc::clone(&app.metrics),
        routes: operation_routes(&doc),
        max_body_bytes: app.config.max_body_bytes,
        max_upload_bytes: app.config.max_upload_bytes,
        cookies: app.identity.cookies,
        content: content.clone(),
        hsts: app.config.public_url.starts_with("https://"),
    });
    let spec_json = bytes::Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
    let assets = docs::SwaggerAssets::from_bundled_page(&service.swagger_ui_html());

    let mut routes = Route::new().at(
        "/openapi.json",
        make_sync(move |_| Response::builder().content_type("application/json").body(spec_json.clone())),
    );
    routes = routes.nest("/console", console::endpoint());
    match assets {
        Some(assets) => routes = routes.nest("/docs", docs::endpoint(assets, "Plaza API", "/openapi.json")),
        None => tracing::error!("Swagger UI assets not found in poem-openapi's page; /docs disabled"),
    }
    let mut host_segments: Vec<String> = doc["paths"]
        .as_object()
        .map(|paths| {
            paths
                .keys()
                .filter_map(|p| p.strip_prefix("/t/{tenant}/"))
                .filter_map(|rest| rest.split('/').next())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    host_segments.extend(crate::modules::manifest::RESERVED_NAMES.iter().map(|s| (*s).to_owned()));
    host_segments.sort();
    host_segments.dedup();
    #[cfg(feature = "bench")]
    let routes = routes.nest("/bench", bench::endpoint());
    let routes = routes.nest(
        "/",
        modules::ModulesOrApi {
            api: poem::IntoEndpoint::into_endpoint(service),
            host_segments: host_segments.clone(),
            host_spec: Arc::new(doc.clone()),
        },
    );
    let routes = match content {
        Some(content) => modules::ContentOrHost { host: routes, content, host_segments }.boxed(),
        None => routes.boxed(),
    };

    let origins = app.config.cors_origin_list();
    let inner = routes.with(CatchPanic::new().with_handler(middleware::panic_to_problem)).data(app);
    let inner = if origins.is_empty() {
        inner.map_to_response().boxed()
    } else {
        let cors = Cors::new()
            .allow_origins(origins)
            .allow_methods(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
            .allow_headers([
                "authorization",
                "content-type",
                "x-request-id",
                "x-api-key",
                "x-csrf-token",
                "range",
                "if-none-match",
            ])
            // Cookie mode from a front end on another (same-site) origin.
            .allow_credentials(true)
            .expose_headers(["x-request-id", "etag", "content-range", "content-length", "location", "retry-after"])
            .max_age(600);
        inner.with(cors).map_to_response().boxed()
    };
    middleware::outer(inner, layers)
}
