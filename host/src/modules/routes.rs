//! A module's route table: its manifest's templates compiled once into one
//! matcher per method, so a request finds its route without parsing again.

use std::collections::BTreeSet;
use std::collections::HashMap;

use crate::contract::{Method, Route};

/// Why a request matched no route.
#[derive(Debug, PartialEq, Eq)]
pub enum Miss {
    NotFound,
    /// The path exists with other methods (for `Allow`).
    MethodNotAllowed(Vec<&'static str>),
}

/// Why a route table could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("route {method} {path}: {detail}")]
    Invalid { method: &'static str, path: String, detail: String },
}

/// The routes of one module version.
#[derive(Debug, Default)]
pub struct RouteTable {
    by_method: HashMap<&'static str, matchit::Router<usize>>,
    /// By route index: whether its request body is JSON.
    json_bodies: Vec<bool>,
}

impl RouteTable {
    /// Compiles the routes; duplicate or malformed templates are refused.
    pub fn build(routes: &[Route]) -> Result<Self, RouteError> {
        let mut table = RouteTable::default();
        for (i, r) in routes.iter().enumerate() {
            let method = r.method.as_str();
            let invalid = |detail: String| RouteError::Invalid { method, path: r.path.clone(), detail };
            if !r.path.starts_with('/') || r.path.len() > 512 {
                return Err(invalid("a path template starts with `/` and has at most 512 bytes".into()));
            }
            if r.path.contains("{*") {
                return Err(invalid("catch-all parameters are not supported; name each segment".into()));
            }
            table.by_method.entry(method).or_default().insert(r.path.clone(), i).map_err(|e| invalid(e.to_string()))?;
            table.json_bodies.push(super::openapi::takes_json(r));
        }
        Ok(table)
    }

    /// Whether the route at `index` takes a JSON body.
    pub fn takes_json(&self, index: usize) -> bool {
        self.json_bodies.get(index).copied().unwrap_or(false)
    }

    /// The index of the route for `method` and `path`, and the path's parameters.
    /// HEAD falls back to GET.
    pub fn find(&self, method: Method, path: &str) -> Result<(usize, Vec<(String, String)>), Miss> {
        let lookup = |m: &str| {
            self.by_method.get(m).and_then(|router| router.at(path).ok()).map(|found| {
                let params = found.params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
                (*found.value, params)
            })
        };
        if let Some(hit) = lookup(method.as_str()) {
            return Ok(hit);
        }
        if method == Method::Head
            && let Some(hit) = lookup("GET")
        {
            return Ok(hit);
        }
        let allowed: BTreeSet<&'static str> =
            self.by_method.iter().filter(|(_, router)| router.at(path).is_ok()).map(|(m, _)| *m).collect();
        if allowed.is_empty() {
            Err(Miss::NotFound)
        } else {
            Err(Miss::MethodNotAllowed(allowed.into_iter().collect()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Access;

    fn route(method: Method, path: &str) -> Route {
        Route {
            method,
            path: path.into(),
            operation_id: String::new(),
            summary: String::new(),
            description: None,
            request_schema: None,
            response_schema: None,
            access: Access::Public,
            deprecated: false,
        }
    }

    #[test]
    fn finds_routes_with_parameters_and_tells_405_from_404() {
        let t = RouteTable::build(&[
            route(Method::Get, "/posts"),
            route(Method::Get, "/posts/{slug}"),
            route(Method::Delete, "/posts/{slug}"),
        ])
        .unwrap();
        assert_eq!(t.find(Method::Get, "/posts/hello"), Ok((1, vec![("slug".into(), "hello".into())])));
        assert_eq!(t.find(Method::Head, "/posts").map(|h| h.0), Ok(0));
        assert_eq!(t.find(Method::Post, "/posts/x"), Err(Miss::MethodNotAllowed(vec!["DELETE", "GET"])));
        assert_eq!(t.find(Method::Get, "/nope"), Err(Miss::NotFound));
    }

    #[test]
    fn duplicate_routes_are_refused() {
        assert!(RouteTable::build(&[route(Method::Get, "/a/{x}"), route(Method::Get, "/a/{y}")]).is_err());
        assert!(RouteTable::build(&[route(Method::Get, "no-slash")]).is_err());
    }
}
