//! Outbound HTTP (capability `http`) to the hosts the manifest allows;
//! private addresses are refused by the host.
//!
//! ```no_run
//! # use plaza_sdk::prelude::*;
//! # #[derive(serde::Deserialize)] struct Rates {}
//! # fn rates() -> Result<Rates, Problem> {
//! let answer = http::get("https://api.example.com/rates").header("accept", "application/json").send()?;
//! let rates: Rates = answer.body_json().map_err(|e| Problem::internal(e.to_string()))?;
//! # Ok(rates) }
//! ```

use serde::Serialize;

use crate::bindings::plaza::module::http as wit;
use crate::bindings::plaza::module::http::OutgoingRequest;
use crate::{Error, Header, Method, Response, Result};

/// An outgoing request being built; [`RequestBuilder::send`] sends it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until `.send()`"]
pub struct RequestBuilder {
    request: OutgoingRequest,
    /// A body that could not be encoded, reported by `send`.
    error: Option<Error>,
}

/// A request with any method.
pub fn request(method: Method, url: impl Into<String>) -> RequestBuilder {
    RequestBuilder {
        request: OutgoingRequest { method, url: url.into(), headers: Vec::new(), body: Vec::new(), timeout_ms: None },
        error: None,
    }
}

/// A `GET` request.
pub fn get(url: impl Into<String>) -> RequestBuilder {
    request(Method::Get, url)
}

/// A `POST` request.
pub fn post(url: impl Into<String>) -> RequestBuilder {
    request(Method::Post, url)
}

/// A `PUT` request.
pub fn put(url: impl Into<String>) -> RequestBuilder {
    request(Method::Put, url)
}

/// A `PATCH` request.
pub fn patch(url: impl Into<String>) -> RequestBuilder {
    request(Method::Patch, url)
}

/// A `DELETE` request.
pub fn delete(url: impl Into<String>) -> RequestBuilder {
    request(Method::Delete, url)
}

impl RequestBuilder {
    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.request.headers.push(Header { name: name.into().to_ascii_lowercase(), value: value.into() });
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.request.body = body.into();
        self
    }

    /// Sets a JSON body and its content type.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => {
                self.request.body = body;
                self.header("content-type", "application/json")
            }
            Err(err) => {
                self.error = Some(Error::invalid(format!("request body: {err}")));
                self
            }
        }
    }

    /// Gives up after this long (the host's own cap still applies).
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.request.timeout_ms = Some(ms);
        self
    }

    /// The request as it will be sent.
    pub fn as_request(&self) -> &OutgoingRequest {
        &self.request
    }

    /// Sends the request. Any status is an `Ok` answer; `Err` means it was
    /// not sent or no answer came (refused host, bad URL, timeout, limit).
    pub fn send(self) -> Result<Response> {
        if let Some(err) = self.error {
            return Err(err);
        }
        Ok(wit::send(&self.request)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_requests() {
        let r = post("https://example.com/x").header("X-Trace", "1").json(&serde_json::json!({"a": 1})).timeout_ms(500);
        let req = r.as_request();
        assert_eq!(req.method, Method::Post);
        assert_eq!(req.body, br#"{"a":1}"#);
        assert_eq!(req.headers[0].name, "x-trace");
        assert_eq!(req.headers[1].value, "application/json");
        assert_eq!(req.timeout_ms, Some(500));
    }
}
