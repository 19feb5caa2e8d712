//! RFC 9457 (formerly 7807) problem documents: how a module says no.
//!
//! The shape matches the host's own errors (`type` as
//! `urn:plaza:problem:<slug>`, `title` the status phrase, `status`,
//! `detail`, `instance` the request path, `request_id`), so a client sees one
//! error format whether the host or a module refused the request.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, HostError};
use crate::response::{PROBLEM_JSON, Response};

/// An error answer: a status and a problem document.
///
/// Handlers return `Result<_, Problem>`; `?` converts a failed host call
/// ([`Error`]) with the mapping documented on `From<Error>`. Boxed inside so
/// that `Result<_, Problem>` stays one pointer wide on the error side.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem(Box<Inner>);

#[derive(Debug, Clone, PartialEq)]
struct Inner {
    status: u16,
    type_uri: String,
    title: String,
    detail: Option<String>,
    headers: Vec<(String, String)>,
    extensions: Map<String, Value>,
}

impl Problem {
    /// A problem with this status and title, of type `about:blank`.
    pub fn new(status: u16, title: impl Into<String>) -> Self {
        Self(Box::new(Inner {
            status,
            type_uri: "about:blank".to_owned(),
            title: title.into(),
            detail: None,
            headers: Vec::new(),
            extensions: Map::new(),
        }))
    }

    /// A problem of type `urn:plaza:problem:<slug>` titled with the status phrase.
    pub fn of_kind(status: u16, slug: &str) -> Self {
        let mut p = Self::new(status, reason_phrase(status));
        p.0.type_uri = format!("urn:plaza:problem:{slug}");
        p
    }

    /// Sets the detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.0.detail = Some(detail.into());
        self
    }

    /// Sets the type URI.
    pub fn with_type(mut self, uri: impl Into<String>) -> Self {
        self.0.type_uri = uri.into();
        self
    }

    /// Adds an extension member (e.g. the field that failed validation).
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.0.extensions.insert(key.into(), value.into());
        self
    }

    /// Adds a response header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.headers.push((name.into().to_ascii_lowercase(), value.into()));
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.0.status
    }

    /// The problem type URI (`urn:plaza:problem:<slug>` for the SDK's own).
    pub fn type_uri(&self) -> &str {
        &self.0.type_uri
    }

    /// The title: the status phrase for the SDK's own problems.
    pub fn title(&self) -> &str {
        &self.0.title
    }

    /// What went wrong with this request, if said.
    pub fn detail_text(&self) -> Option<&str> {
        self.0.detail.as_deref()
    }

    /// Extra response headers (e.g. `allow` on a 405).
    pub fn headers(&self) -> &[(String, String)] {
        &self.0.headers
    }

    /// Extension members, serialised after the standard ones.
    pub fn extensions(&self) -> &Map<String, Value> {
        &self.0.extensions
    }

    /// 404, without a detail: nothing here.
    pub fn not_found() -> Self {
        Self::of_kind(404, "not-found")
    }

    /// 400: the request cannot be read (malformed JSON, a bad parameter).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::of_kind(400, "bad-request").detail(detail)
    }

    /// 422: the request was read but its content is not acceptable.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::of_kind(422, "validation-failed").detail(detail)
    }

    /// 403: the caller may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::of_kind(403, "forbidden").detail(detail)
    }

    /// 409: the request conflicts with the current state.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::of_kind(409, "conflict").detail(detail)
    }

    /// 500: the module failed. The detail reaches the client: keep secrets out.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::of_kind(500, "internal").detail(detail)
    }

    /// The problem document as JSON text, with the request's path and id.
    pub fn to_json(&self, instance: Option<&str>, request_id: Option<&str>) -> String {
        #[derive(Serialize)]
        struct Doc<'a> {
            #[serde(rename = "type")]
            type_uri: &'a str,
            title: &'a str,
            status: u16,
            #[serde(skip_serializing_if = "Option::is_none")]
            detail: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            instance: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            request_id: Option<&'a str>,
            #[serde(flatten)]
            extensions: &'a Map<String, Value>,
        }
        let p = &self.0;
        let doc = Doc {
            type_uri: &p.type_uri,
            title: &p.title,
            status: p.status,
            detail: p.detail.as_deref(),
            instance,
            request_id,
            extensions: &p.extensions,
        };
        // Strings, numbers and a string-keyed map: serialising cannot fail.
        serde_json::to_string(&doc).unwrap_or_default()
    }

    /// The `application/problem+json` response, with the request's path and id.
    pub fn to_response(&self, instance: Option<&str>, request_id: Option<&str>) -> Response {
        let mut response = Response::new(self.0.status)
            .with_header("content-type", PROBLEM_JSON)
            .with_body(self.to_json(instance, request_id));
        for (name, value) in &self.0.headers {
            response = response.with_header(name, value);
        }
        response
    }
}

/// How a failed host call becomes an HTTP answer when a handler uses `?`:
///
/// | WIT case | status | why |
/// | --- | --- | --- |
/// | `undeclared-capability` | 500 | the module's own bug (its manifest misses a capability); the detail names it |
/// | `refused` | 403 | policy said no (a host not allowed, a statement naming another schema) |
/// | `invalid` | 400 | bad input to the host call (bad key, bad URL, bad SQL) |
/// | `limit-exceeded` | 429 | the call used more than its share (statements, rows, requests, sizes); 429 rather than 413 because most limits are per call, not about the request body, and the detail says which |
/// | `not-found` | 404 | |
/// | `conflict` | 409 | a constraint was violated |
/// | `unavailable` | 503 | the host or a remote failed (or the database stayed busy); retrying may help, and `Retry-After: 1` says so |
///
/// The problem type is `urn:plaza:problem:<kind>` and the detail the
/// error's text (e.g. `refused: host not allowed`).
impl From<Error> for Problem {
    fn from(err: Error) -> Self {
        let status = match &*err {
            HostError::UndeclaredCapability(_) => 500,
            HostError::Refused(_) => 403,
            HostError::Invalid(_) => 400,
            HostError::LimitExceeded(_) => 429,
            HostError::NotFound => 404,
            HostError::Conflict(_) => 409,
            HostError::Unavailable(_) => 503,
        };
        let problem = Self::of_kind(status, err.kind()).detail(err.to_string());
        if status == 503 { problem.header("retry-after", "1") } else { problem }
    }
}

impl From<HostError> for Problem {
    fn from(err: HostError) -> Self {
        Error::from(err).into()
    }
}

/// The standard phrase of a status (RFC 9110 wording where it changed).
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        422 => "Unprocessable Content",
        423 => "Locked",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Capability;

    fn json(p: &Problem) -> Value {
        serde_json::from_str(&p.to_json(Some("/x"), Some("req-1"))).unwrap()
    }

    #[test]
    fn problem_documents_carry_type_title_status_detail_instance_and_request_id() {
        let p = Problem::unprocessable("name is empty").with("field", "name");
        assert_eq!(
            json(&p),
            serde_json::json!({
                "type": "urn:plaza:problem:validation-failed",
                "title": "Unprocessable Content",
                "status": 422,
                "detail": "name is empty",
                "instance": "/x",
                "request_id": "req-1",
                "field": "name",
            })
        );
        // Standard members come first, in RFC order.
        assert!(p.to_json(None, None).starts_with(r#"{"type":"urn:plaza:problem:validation-failed","title""#));
        let r = p.to_response(None, None);
        assert_eq!(r.status, 422);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }

    #[test]
    fn not_found_has_no_detail_and_new_is_about_blank() {
        let v = json(&Problem::not_found());
        assert_eq!(v["status"], 404);
        assert!(v.get("detail").is_none());
        let v = json(&Problem::new(418, "I'm a teapot").detail("short and stout"));
        assert_eq!(v["type"], "about:blank");
        assert_eq!(v["title"], "I'm a teapot");
    }

    #[test]
    fn host_errors_map_to_statuses() {
        let cases = [
            (HostError::UndeclaredCapability(Capability::Kv), 500, "undeclared capability: kv"),
            (HostError::Refused("host not allowed".into()), 403, "refused: host not allowed"),
            (HostError::Invalid("bad key".into()), 400, "invalid: bad key"),
            (HostError::LimitExceeded("too many statements".into()), 429, "limit exceeded: too many statements"),
            (HostError::NotFound, 404, "not found"),
            (HostError::Conflict("unique".into()), 409, "conflict: unique"),
            (HostError::Unavailable("db down".into()), 503, "unavailable: db down"),
        ];
        for (err, status, detail) in cases {
            let kind = Error::from(err.clone()).kind();
            let p = Problem::from(err);
            assert_eq!(p.status(), status);
            assert_eq!(p.detail_text(), Some(detail));
            assert_eq!(p.type_uri(), format!("urn:plaza:problem:{kind}"));
            let retry = p.headers().iter().any(|(n, v)| n == "retry-after" && v == "1");
            assert_eq!(retry, status == 503, "only an unavailable host asks for a retry");
        }
    }
}
