//! RFC 9457 (formerly 7807) problem details: the one error shape of the API.
//!
//! Domain errors are `thiserror` enums in their own modules; they are mapped
//! to an [`ApiError`] here, once, and rendered as `application/problem+json`
//! carrying the request id. Server faults are logged in full but answered
//! with a generic detail, never a stack trace or an internal message.

use poem::http::{HeaderValue, StatusCode, header};
use poem::{IntoResponse, Response};
use poem_openapi::registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object};

use crate::context;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Problem")]
pub struct Problem {
    /// A URI reference naming the kind of problem.
    #[oai(rename = "type")]
    pub kind: String,
    /// Short, human-readable summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for a human.
    #[oai(skip_serializing_if_is_none)]
    pub detail: Option<String>,
    /// The request path.
    #[oai(skip_serializing_if_is_none)]
    pub instance: Option<String>,
    /// The request id, also sent back in `X-Request-Id`: quote it when reporting a problem.
    #[oai(skip_serializing_if_is_none)]
    pub request_id: Option<String>,
}

/// An error on its way to the client: a status, a problem kind and a detail.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// Short slug of the problem kind, e.g. `tenant-not-found`.
    pub kind: &'static str,
    pub detail: String,
    /// Extra headers such as `WWW-Authenticate` or `Retry-After`.
    pub headers: Vec<(header::HeaderName, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, detail: impl Into<String>) -> Self {
        Self { status, kind, detail: detail.into(), headers: Vec::new() }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }

    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
            .with_header(header::WWW_AUTHENTICATE, "Bearer realm=\"plaza\"")
    }

    pub fn forbidden(kind: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, kind, detail)
    }

    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "limit-exceeded", detail)
    }

    pub fn not_found(kind: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, kind, detail)
    }

    pub fn conflict(kind: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, kind, detail)
    }

    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }

    /// A fault of the server: the cause is logged here, the client sees a generic detail.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to handle this request; quote the request id when reporting it",
        )
    }

    pub fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The problem document, with the current request's id and path.
    pub fn to_problem(&self) -> Problem {
        let ctx = context::current();
        Problem {
            kind: format!("urn:plaza:problem:{}", self.kind),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: Some(self.detail.clone()),
            instance: ctx.as_ref().map(|c| c.path.clone()),
            request_id: ctx.map(|c| c.request_id.clone()),
        }
    }

    /// Maps an error raised by poem or poem-openapi (routing, parsing,
    /// content negotiation) to the matching problem.
    pub fn from_poem(err: &poem::Error) -> Self {
        use poem_openapi::error::{ContentTypeError, ParseRequestPayloadError};
        if let Some(api) = err.downcast_ref::<ApiError>() {
            return api.clone();
        }
        let status = err.status();
        // JSON bodies are `StrictJson`, which answers with its own problems;
        // what poem-openapi's other payloads could not read does not fit.
        if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
            return Self::unprocessable(format!("invalid request body: {}", e.reason));
        }
        if err.is::<poem_openapi::error::AuthorizationError>() {
            return Self::unauthorized("missing credentials: send `Authorization: Bearer <token>`");
        }
        if err.is::<ContentTypeError>() {
            return Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", err.to_string());
        }
        if status.is_server_error() {
            return Self::internal(err);
        }
        let kind = match status {
            StatusCode::NOT_FOUND => "not-found",
            StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
            StatusCode::PAYLOAD_TOO_LARGE => "payload-too-large",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::UNPROCESSABLE_ENTITY => "validation-failed",
            _ => "bad-request",
        };
        let detail = match status {
            StatusCode::NOT_FOUND => "no such route".to_owned(),
            StatusCode::METHOD_NOT_ALLOWED => "method not allowed on this route".to_owned(),
            _ => err.to_string(),
        };
        let mut api = Self::new(status, kind, detail);
        if status == StatusCode::UNAUTHORIZED {
            api = api.with_header(header::WWW_AUTHENTICATE, "Bearer realm=\"plaza\"");
        }
        api
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.kind, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        self.clone().into_response()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&poem_openapi::types::ToJSON::to_json(&self.to_problem())).unwrap_or_default();
        let mut resp = Response::builder().status(self.status).content_type(PROBLEM_JSON).body(body);
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, value);
            }
        }
        resp
    }
}

/// The error statuses every operation may answer, as the OpenAPI document lists them.
const DOCUMENTED: &[(u16, &str)] = &[
    (400, "Malformed request (bad JSON, bad parameter)"),
    (401, "Missing or invalid credentials"),
    (403, "Authenticated but not allowed, or tenant suspended"),
    (404, "No such tenant or resource"),
    (409, "Conflicts with the current state"),
    (413, "Request body too large"),
    (415, "Unsupported content type"),
    (422, "Well-formed but invalid request"),
    (429, "Too many attempts: wait `Retry-After` seconds"),
    (500, "Server fault (a bug: quote the request id)"),
    (503, "A dependency is unavailable, or the database stayed busy: retry after `Retry-After` seconds"),
    (507, "A quota of the tenant is used up"),
];

impl ApiResponse for ApiError {
    const BAD_REQUEST_HANDLER: bool = true;

    fn meta() -> MetaResponses {
        MetaResponses {
            responses: DOCUMENTED
                .iter()
                .map(|&(status, description)| MetaResponse {
                    description,
                    status: Some(status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: PROBLEM_JSON,
                        schema: MetaSchemaRef::Reference(Problem::name().into_owned()),
                    }],
                    headers: vec![MetaHeader {
                        name: "X-Request-Id".into(),
                        description: Some("The request id, echoed or generated".into()),
                        required: true,
                        deprecated: false,
                        schema: String::schema_ref(),
                    }],
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }

    fn from_parse_request_error(err: poem::Error) -> Self {
        Self::from_poem(&err)
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

/// A JSON body sent as `application/problem+json`: for problems that carry
/// extension members (such as the failed checks of `/ready`).
pub struct ProblemJson<T>(pub T);

impl<T: poem_openapi::types::Type + Send> poem_openapi::payload::Payload for ProblemJson<T> {
    const CONTENT_TYPE: &'static str = PROBLEM_JSON;

    fn check_content_type(content_type: &str) -> bool {
        content_type.starts_with(PROBLEM_JSON)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: poem_openapi::types::ToJSON + Send> IntoResponse for ProblemJson<T> {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.0.to_json()).unwrap_or_default();
        Response::builder().content_type(PROBLEM_JSON).body(body)
    }
}
