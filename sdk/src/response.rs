//! Answers: the generated `response` record with constructors, and typed
//! wrappers whose type also gives the route's response schema.

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Problem;
use crate::bindings::plaza::module::types::Header;
pub use crate::bindings::plaza::module::types::Response;

/// The media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";
const JSON: &str = "application/json";

impl Response {
    /// An empty response with this status.
    pub fn new(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: Vec::new() }
    }

    /// Adds a header (the name is lower-cased, as the contract wants).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push(Header { name: name.into().to_ascii_lowercase(), value: value.into() });
        self
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// `value` as JSON with this status. A value that cannot be serialised
    /// (a map with non-string keys) is a bug: the answer is then a 500
    /// problem saying so, rather than a panic.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Self::new(status).with_header("content-type", JSON).with_body(body),
            Err(err) => Problem::internal(format!("cannot serialise the response: {err}")).to_response(None, None),
        }
    }

    /// 201 with `value` as JSON.
    pub fn created<T: Serialize + ?Sized>(value: &T) -> Self {
        Self::json(201, value)
    }

    /// 200 with raw bytes of this content type.
    pub fn bytes(content_type: &str, data: impl Into<Vec<u8>>) -> Self {
        Self::new(200).with_header("content-type", content_type).with_body(data)
    }

    /// 200 with UTF-8 text.
    pub fn text(text: impl Into<String>) -> Self {
        Self::bytes("text/plain; charset=utf-8", text.into())
    }

    /// 204, no body.
    pub fn no_content() -> Self {
        Self::new(204)
    }

    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
    }

    /// Whether the status is 2xx (useful on `http` answers).
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body parsed as JSON (useful on `http` answers).
    pub fn body_json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The body as text, invalid UTF-8 replaced.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What a handler may return on success. The type also tells the route's
/// response schema, so `Result<Json<Greeting>, Problem>` documents itself.
pub trait IntoResponse {
    /// The response to send.
    fn into_response(self) -> Response;

    /// JSON Schema (as JSON text) of the success body, if it has one.
    fn response_schema() -> Option<String> {
        None
    }
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

/// A JSON body: as a handler's second argument, the parsed request body
/// (malformed JSON → 400, wrong shape → 422); as its return value, a 200
/// answer. Either way its schema goes into the manifest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: Serialize + JsonSchema> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        Response::json(200, &self.0)
    }

    fn response_schema() -> Option<String> {
        Some(crate::schema_json::<T>())
    }
}

/// A 201 answer with a JSON body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Created<T>(pub T);

impl<T: Serialize + JsonSchema> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        Response::created(&self.0)
    }

    fn response_schema() -> Option<String> {
        Some(crate::schema_json::<T>())
    }
}

/// A 202 answer with a JSON body: the work was taken and goes on after the
/// answer (a message queued for delivery).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accepted<T>(pub T);

impl<T: Serialize + JsonSchema> IntoResponse for Accepted<T> {
    fn into_response(self) -> Response {
        Response::json(202, &self.0)
    }

    fn response_schema() -> Option<String> {
        Some(crate::schema_json::<T>())
    }
}

/// A 204 answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoContent;

impl IntoResponse for NoContent {
    fn into_response(self) -> Response {
        Response::no_content()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn constructors_set_status_type_and_body() {
        let r = Response::created(&serde_json::json!({"id": 1}));
        assert_eq!((r.status, r.header("Content-Type"), r.body.as_slice()), (201, Some(JSON), &br#"{"id":1}"#[..]));
        let r = Response::bytes("image/png", vec![1, 2]);
        assert_eq!((r.status, r.header("content-type"), r.body.as_slice()), (200, Some("image/png"), &[1_u8, 2][..]));
        assert_eq!(Response::no_content().status, 204);
        assert_eq!(NoContent.into_response().status, 204);
        assert_eq!(Accepted(serde_json::json!({"id": "m1"})).into_response().status, 202);
    }

    #[test]
    fn an_unserialisable_value_is_a_500_problem() {
        let mut bad = HashMap::new();
        bad.insert((1, 2), 3);
        let r = Response::json(200, &bad);
        assert_eq!(r.status, 500);
        assert_eq!(r.header("content-type"), Some(PROBLEM_JSON));
    }
}
