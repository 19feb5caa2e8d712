//! The request a handler gets: the generated `request` record with typed
//! accessors that turn bad input into the right problem (400/422), so a
//! handler never answers a 500 for a client's mistake.

use std::fmt::Display;
use std::str::FromStr;

use serde::de::DeserializeOwned;

use crate::Problem;
use crate::bindings::plaza::module::types::Caller;
pub use crate::bindings::plaza::module::types::Request;

impl Request {
    /// The body parsed as JSON: 400 when it is empty or not JSON, 422 when
    /// it is JSON of the wrong shape (a missing field, a string for a number).
    ///
    /// The content type is not checked: clients that forget the header are
    /// served as long as the body is JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        parse_json_body(&self.body)
    }

    /// The body as UTF-8 text (400 when it is not).
    pub fn text(&self) -> Result<&str, Problem> {
        std::str::from_utf8(&self.body).map_err(|_| Problem::bad_request("the body is not UTF-8 text"))
    }

    /// The raw body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// A path parameter of the matched route template, as text.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.path_params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A path parameter parsed with `FromStr`: 400 naming the parameter when
    /// it does not parse (`/greetings/abc` for a numeric id), 500 when the
    /// route has no such parameter (a typo in the handler, the module's bug).
    pub fn path_param<T>(&self, name: &str) -> Result<T, Problem>
    where
        T: FromStr,
        T::Err: Display,
    {
        let raw = self
            .param(name)
            .ok_or_else(|| Problem::internal(format!("route `{}` has no path parameter `{name}`", self.route)))?;
        raw.parse().map_err(|err| Problem::bad_request(format!("path parameter `{name}`: `{raw}`: {err}")))
    }

    /// The query parameters deserialised into `T` (as from a form:
    /// numbers and booleans parse from text, `Option` fields may be absent,
    /// unknown parameters are ignored unless `T` denies them): 400 when they
    /// do not fit.
    pub fn query<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        // The host hands over decoded pairs; encode them again so that
        // serde_urlencoded's deserializer (which parses numbers, booleans and
        // options from text) can read them. Encoding then decoding is lossless.
        let encoded = serde_urlencoded::to_string(&self.query)
            .map_err(|err| Problem::bad_request(format!("query string: {err}")))?;
        serde_urlencoded::from_str(&encoded).map_err(|err| Problem::bad_request(format!("query string: {err}")))
    }

    /// The first value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated query parameter, in order.
    pub fn query_params<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.query.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
    }

    /// The `content-type` header.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// Who is calling: tenant, user, roles, request id.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }
}

impl Caller {
    /// Whether the caller holds this role in the tenant, as the host's route
    /// checks decide it: `owner` ⊇ `admin` ⊇ `member`; any other role (one a
    /// module defines) is held only by name.
    pub fn has_role(&self, role: &str) -> bool {
        let rank = |r: &str| match r {
            "owner" => 3,
            "admin" => 2,
            "member" => 1,
            _ => 0,
        };
        self.roles.iter().any(|r| r == role || (rank(role) > 0 && rank(r) >= rank(role)))
    }

    /// The signed-in user's id, `None` for an anonymous caller.
    pub fn user(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    /// The signed-in user's id, or a 401 problem for an anonymous caller
    /// (a route that acts for someone needs to know who).
    pub fn require_user(&self) -> Result<&str, Problem> {
        self.user().ok_or_else(|| Problem::of_kind(401, "unauthorized").detail("sign in first"))
    }
}

/// Malformed or empty → 400; JSON of the wrong shape → 422 (the same rule as
/// the host's own API).
pub(crate) fn parse_json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::bad_request("the request needs a JSON body"));
    }
    serde_json::from_slice(body).map_err(|err| {
        if err.is_data() {
            Problem::unprocessable(format!("invalid request body: {err}"))
        } else {
            Problem::bad_request(format!("malformed JSON body: {err}"))
        }
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::{Header, Method};

    #[test]
    fn has_role_follows_the_host_hierarchy() {
        let caller = |roles: &[&str]| Caller {
            tenant: "acme".into(),
            user_id: None,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            request_id: String::new(),
        };
        assert!(caller(&["owner"]).has_role("member"));
        assert!(caller(&["admin"]).has_role("admin"));
        assert!(!caller(&["member"]).has_role("admin"));
        assert!(!caller(&["owner"]).has_role("editor"), "module roles are held only by name");
        assert!(caller(&["editor"]).has_role("editor"));
    }

    pub(crate) fn request(method: Method, route: &str) -> Request {
        Request {
            method,
            path: route.to_owned(),
            route: route.to_owned(),
            path_params: Vec::new(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
            caller: Caller {
                tenant: "acme".into(),
                user_id: Some("u1".into()),
                roles: vec!["member".into()],
                request_id: "req-1".into(),
            },
        }
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct New {
        name: String,
    }

    #[test]
    fn json_bodies_fail_with_400_or_422() {
        let mut req = request(Method::Post, "/g");
        assert_eq!(req.json::<New>().unwrap_err().status(), 400);
        req.body = b"{\"name\":".to_vec();
        assert_eq!(req.json::<New>().unwrap_err().status(), 400);
        req.body = b"{\"name\":1}".to_vec();
        let p = req.json::<New>().unwrap_err();
        assert_eq!(p.status(), 422);
        assert!(p.detail_text().unwrap().contains("invalid type"));
        req.body = b"{\"name\":\"x\"}".to_vec();
        assert_eq!(req.json::<New>().unwrap(), New { name: "x".into() });
    }

    #[test]
    fn path_params_parse_or_fail_with_400() {
        let mut req = request(Method::Get, "/g/{id}");
        req.path_params = vec![("id".into(), "42".into())];
        assert_eq!(req.path_param::<i64>("id").unwrap(), 42);
        req.path_params = vec![("id".into(), "abc".into())];
        assert_eq!(req.path_param::<i64>("id").unwrap_err().status(), 400);
        assert_eq!(req.path_param::<i64>("nope").unwrap_err().status(), 500);
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Page {
        prefix: Option<String>,
        limit: Option<u32>,
        all: Option<bool>,
    }

    #[test]
    fn query_parameters_deserialise_from_decoded_pairs() {
        let mut req = request(Method::Get, "/kv");
        req.query = vec![("prefix".into(), "a b&c=d".into()), ("limit".into(), "5".into()), ("x".into(), "y".into())];
        assert_eq!(req.query::<Page>().unwrap(), Page { prefix: Some("a b&c=d".into()), limit: Some(5), all: None });
        assert_eq!(req.query_param("limit"), Some("5"));
        req.query = vec![("limit".into(), "many".into())];
        assert_eq!(req.query::<Page>().unwrap_err().status(), 400);
    }

    #[test]
    fn headers_are_case_insensitive() {
        let mut req = request(Method::Get, "/");
        req.headers = vec![Header { name: "content-type".into(), value: "text/plain".into() }];
        assert_eq!(req.header("Content-Type"), Some("text/plain"));
        assert!(req.caller().has_role("member"));
        assert_eq!(req.caller().user(), Some("u1"));
    }
}
