//! The layers every request passes through, outermost first:
//! request id and tracing span, metrics and access log, security headers,
//! problem+json for every error, body size limit, panic catching.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use futures_util::StreamExt;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Body, Endpoint, IntoResponse, Request, Response};
use poem_openapi::OperationId;
use tracing::Instrument;

use super::problem::{ApiError, PROBLEM_JSON};
use crate::context::{self, RequestContext};
use crate::metrics::Metrics;

/// What the outer layer needs to know, built once at start-up.
pub struct Layers {
    pub metrics: Arc<Metrics>,
    /// operationId → route template, for metric labels.
    pub routes: HashMap<String, String>,
    pub max_body_bytes: u64,
    pub max_upload_bytes: u64,
    /// The names of cookie mode's cookies.
    pub cookies: crate::auth::CookieNames,
    /// The operator's origin(s) for module content: no cookie sign-in there.
    pub content: Option<Arc<super::origin::ContentOrigin>>,
    /// Send `Strict-Transport-Security` (the public URL is https).
    pub hsts: bool,
}

/// Paths served outside the OpenAPI service, labelled as themselves.
const STATIC_ROUTES: &[&str] = &["/docs", "/docs/", "/openapi.json", "/healthz"];

/// The request header carrying the request id, echoed on the response.
pub const REQUEST_ID: &str = "x-request-id";

/// Wraps `ep` in the outer layers.
pub fn outer<E: Endpoint + 'static>(ep: E, layers: Arc<Layers>) -> impl Endpoint<Output = Response> {
    poem::EndpointExt::around(ep, move |ep, req| {
        let layers = Arc::clone(&layers);
        async move { Ok(serve(ep, req, &layers).await) }
    })
}

async fn serve<E: Endpoint>(ep: Arc<E>, mut req: Request, layers: &Layers) -> Response {
    let start = Instant::now();
    let request_id = context::request_id_from_header(req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()));
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let tenant = context::tenant_of_path(&path).map(str::to_owned);
    let span = tracing::info_span!(
        "request",
        method = %method,
        path = %path,
        request_id = %request_id,
        tenant = tenant.as_deref().unwrap_or(""),
    );
    let ctx = Arc::new(RequestContext { request_id: request_id.clone(), path: path.clone(), tenant });

    // Set when a body of unknown length runs over its limit while a handler
    // reads it: whatever the handler then answers, the client gets a 413.
    let over_limit = Arc::new(AtomicU64::new(0));
    let mut resp = context::scope(
        ctx,
        async {
            if let Err(e) = limit_body(&mut req, layers, &over_limit) {
                drain(req.take_body()).await;
                return e.into_response();
            }
            let on_content_origin = layers
                .content
                .as_ref()
                .is_some_and(|c| super::modules::request_host(&req).is_some_and(|h| c.serves(h)));
            if !on_content_origin && let Err(e) = super::auth::cookie_to_bearer(&mut req, layers.cookies) {
                return e.into_response();
            }
            let resp = match ep.call(req).await {
                Ok(resp) => problem_for_plain_errors(resp.into_response()),
                Err(err) => {
                    let op = err.data::<OperationId>().copied();
                    let mut resp = ApiError::from_poem(&err).into_response();
                    if let Some(op) = op {
                        resp.set_data(op);
                    }
                    resp
                }
            };
            match over_limit.load(Ordering::Acquire) {
                0 => resp,
                limit => {
                    ApiError::too_large(format!("request body is over the limit of {limit} bytes")).into_response()
                }
            }
        }
        .instrument(span.clone()),
    )
    .await;

    let status = resp.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE || status == StatusCode::INSUFFICIENT_STORAGE {
        // The rest of the body was not read (too large, or over a quota):
        // tell the client not to reuse this connection (RFC 9110, 15.5.14).
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let route = route_label(&resp, &path, status, &layers.routes);
    let elapsed = start.elapsed();
    layers.metrics.observe(method.as_str(), &route, status.as_u16(), elapsed.as_secs_f64());
    set_common_headers(&mut resp, &request_id, layers.hsts);
    let ms = elapsed.as_secs_f64() * 1000.0;
    if status.is_server_error() {
        tracing::warn!(parent: &span, status = status.as_u16(), route = %route, elapsed_ms = ms, "served");
    } else {
        tracing::info!(parent: &span, status = status.as_u16(), route = %route, elapsed_ms = ms, "served");
    }
    resp
}

/// Refuses a body whose declared length is over the limit, and caps bodies of
/// unknown length while they stream (recording the limit in `over_limit`
/// when one runs over). File uploads get their own larger limit.
fn limit_body(req: &mut Request, layers: &Layers, over_limit: &Arc<AtomicU64>) -> Result<(), ApiError> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS | Method::DELETE) {
        return Ok(());
    }
    let upload = is_upload_path(req.uri().path());
    if upload && *req.method() == Method::PUT && !req.headers().contains_key(header::CONTENT_TYPE) {
        // A raw upload without a type (`curl -T`) is stored as opaque bytes
        // rather than refused by the payload parser.
        req.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    }
    let limit = if upload { layers.max_upload_bytes } else { layers.max_body_bytes };
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > limit => {
            Err(ApiError::too_large(format!("request body of {len} bytes is over the limit of {limit} bytes")))
        }
        Some(_) => Ok(()),
        None => {
            let body = req.take_body().into_bytes_stream();
            let over_limit = Arc::clone(over_limit);
            // Pass chunks through until the limit; past it, read (and drop)
            // what the client still sends, bounded, then fail the stream.
            let capped = futures_util::stream::unfold((body, 0u64, false), move |(mut body, mut seen, done)| {
                let over_limit = Arc::clone(&over_limit);
                async move {
                    if done {
                        return None;
                    }
                    match body.next().await? {
                        Err(e) => Some((Err(e), (body, seen, true))),
                        Ok(chunk) => {
                            seen += chunk.len() as u64;
                            if seen <= limit {
                                return Some((Ok(chunk), (body, seen, false)));
                            }
                            over_limit.store(limit.max(1), Ordering::Release);
                            drain_stream(&mut body).await;
                            let err = std::io::Error::other(format!("request body over {limit} bytes"));
                            Some((Err(err), (body, seen, true)))
                        }
                    }
                }
            });
            req.set_body(Body::from_bytes_stream(capped));
            Ok(())
        }
    }
}

/// Most bytes of a refused body read (and dropped) before answering.
const DRAIN_MAX: u64 = 8 << 20;
/// Longest time spent reading a refused body.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads and drops what the client is still sending of a refused body, up
/// to a bound, so that it reads the 413 instead of a broken pipe (a client
/// writing its body does not read the answer until it is done).
async fn drain(body: Body) {
    drain_stream(&mut body.into_bytes_stream()).await;
}

async fn drain_stream<S>(stream: &mut S)
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Unpin,
{
    let mut seen: u64 = 0;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(chunk)) = stream.next().await {
            seen += chunk.len() as u64;
            if seen > DRAIN_MAX {
                break;
            }
        }
    })
    .await;
}

fn is_upload_path(path: &str) -> bool {
    path == "/api/v1/registry/modules"
        || (context::tenant_of_path(path).is_some() && path.split('/').nth(3) == Some("files"))
}

/// Errors that poem answers itself (not through `ApiError`) get a problem body too.
fn problem_for_plain_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_problem =
        resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    // A module's own answer is its own: its errors may have any shape.
    let from_module = resp.data::<super::modules::ModuleRoute>().is_some();
    if (status.is_client_error() || status.is_server_error())
        && !is_problem
        && !from_module
        && status != StatusCode::RANGE_NOT_SATISFIABLE
    {
        let op = resp.data::<OperationId>().copied();
        let err = poem::Error::from_status(status);
        let mut fixed = ApiError::from_poem(&err).into_response();
        if let Some(op) = op {
            fixed.set_data(op);
        }
        return fixed;
    }
    resp
}

fn route_label(resp: &Response, path: &str, status: StatusCode, routes: &HashMap<String, String>) -> String {
    if let Some(route) = resp.data::<OperationId>().and_then(|op| routes.get(op.0)) {
        return route.clone();
    }
    if let Some(route) = resp.data::<super::modules::ModuleRoute>() {
        return route.0.clone();
    }
    if STATIC_ROUTES.contains(&path) || path.starts_with("/docs/assets/") {
        return path.to_owned();
    }
    if status == StatusCode::NOT_FOUND { "unmatched".into() } else { "other".into() }
}

/// The request id, and the host's security headers where the handler set
/// none (a module's own were dropped before: see `http/origin.rs`).
fn set_common_headers(resp: &mut Response, request_id: &str, hsts: bool) {
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID, v);
    }
    if hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000"));
    }
    let defaults: [(&str, &str); 5] = [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-resource-policy", "same-origin"),
        ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
    ];
    for (name, value) in defaults {
        if !headers.contains_key(name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
}

/// Turns a panic inside a handler into a logged 500 problem.
pub fn panic_to_problem(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let msg = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into());
    ApiError::internal(&format!("handler panicked: {msg}")).into_response()
}
