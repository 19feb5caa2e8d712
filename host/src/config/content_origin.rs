//! `PLAZA_MODULE_CONTENT_URL`: the operator's origin(s) for module content,
//! read once with the rest of the configuration. What the host serves there
//! and with which headers is the HTTP layer's (`http/origin.rs`).

use std::sync::Arc;

/// The operator's origin(s) for module content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentOrigin {
    kind: Kind,
    /// `:port` when the URL names one, else empty.
    port: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// `{tenant}.<suffix>`: one origin per tenant, paths `/{module}/…`.
    PerTenant { suffix: String },
    /// One host for every tenant, paths `/t/{tenant}/{module}/…`.
    Shared { host: String },
}

/// A module request that came in on a content origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentTarget {
    pub tenant: String,
    /// The path below the tenant, `/{module}/…`.
    pub path: String,
    /// True when the origin is this tenant's alone.
    pub own_origin: bool,
}

impl ContentOrigin {
    /// Reads `PLAZA_MODULE_CONTENT_URL`: empty is none; otherwise an
    /// `http(s)://` URL without path, whose host may start with `{tenant}.`.
    pub fn parse(raw: &str) -> Result<Option<Arc<Self>>, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        let (scheme, rest) = raw.split_once("://").ok_or_else(|| format!("{raw:?} is not an http(s) URL"))?;
        if scheme != "http" && scheme != "https" {
            return Err(format!("{raw:?}: use http:// or https://"));
        }
        let authority = rest.trim_end_matches('/');
        if authority.contains('/') || authority.contains('?') || authority.contains('@') {
            return Err(format!("{raw:?}: give an origin only, without a path"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => (h, format!(":{p}")),
            _ => (authority, String::new()),
        };
        let host = host.to_ascii_lowercase();
        let valid = |h: &str| {
            !h.is_empty()
                && h.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        };
        let kind = match host.strip_prefix("{tenant}.") {
            Some(suffix) if valid(suffix) => Kind::PerTenant { suffix: suffix.to_owned() },
            None if valid(&host) => Kind::Shared { host },
            _ => return Err(format!("{raw:?}: not a host name (a per-tenant origin starts with `{{tenant}}.`)")),
        };
        Ok(Some(Arc::new(Self { kind, port })))
    }

    /// Whether a request with this `Host` header came in on a content origin.
    pub fn serves(&self, host_header: &str) -> bool {
        self.tenant_of_host(host_header).is_some()
    }

    /// `Some(tenant)` for a per-tenant origin, `Some("")` for the shared one.
    fn tenant_of_host<'a>(&self, host_header: &'a str) -> Option<&'a str> {
        let host =
            host_header.strip_suffix(self.port.as_str()).filter(|_| !self.port.is_empty()).unwrap_or(host_header);
        match &self.kind {
            Kind::PerTenant { suffix } => {
                let tenant = host.strip_suffix(suffix.as_str())?.strip_suffix('.')?;
                (!tenant.is_empty() && !tenant.contains('.')).then_some(tenant)
            }
            Kind::Shared { host: shared } => host.eq_ignore_ascii_case(shared).then_some(""),
        }
    }

    /// The module request a content-origin request names, if any.
    pub fn target(&self, host_header: &str, path: &str) -> Option<ContentTarget> {
        let tenant = self.tenant_of_host(host_header)?;
        if tenant.is_empty() {
            let rest = path.strip_prefix("/t/")?;
            let (tenant, below) = rest.split_once('/')?;
            return Some(ContentTarget { tenant: tenant.to_owned(), path: format!("/{below}"), own_origin: false });
        }
        Some(ContentTarget { tenant: tenant.to_ascii_lowercase(), path: path.to_owned(), own_origin: true })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn per_tenant_origins_name_the_tenant() {
        let o = ContentOrigin::parse("https://{tenant}.modules.example.com").unwrap().unwrap();
        let t = o.target("acme.modules.example.com", "/blog/posts").unwrap();
        assert_eq!(t, ContentTarget { tenant: "acme".into(), path: "/blog/posts".into(), own_origin: true });
        assert!(o.target("modules.example.com", "/blog").is_none());
        assert!(o.target("a.b.modules.example.com", "/blog").is_none(), "one label only");
        assert!(o.target("api.example.com", "/t/acme/blog").is_none());
        assert!(!o.serves("example.com"));
    }

    #[test]
    fn a_shared_origin_takes_the_tenant_from_the_path() {
        let o = ContentOrigin::parse("http://content.localhost:8080/").unwrap().unwrap();
        let t = o.target("content.localhost:8080", "/t/acme/blog/posts").unwrap();
        assert_eq!(t, ContentTarget { tenant: "acme".into(), path: "/blog/posts".into(), own_origin: false });
        assert!(o.target("content.localhost:9090", "/t/acme/blog").is_none(), "another port is another origin");
        assert!(o.target("content.localhost:8080", "/api/v1/tenants").is_none());
    }

    #[test]
    fn bad_content_urls_are_refused() {
        assert_eq!(ContentOrigin::parse("").unwrap(), None);
        for bad in ["ftp://x", "https://x.example.com/path", "nonsense", "https://{tenant}.", "https://a..b"] {
            assert!(ContentOrigin::parse(bad).is_err(), "{bad}");
        }
    }
}
