//! Where module content runs, and the headers it runs with.
//!
//! Every tenant's modules answer on the host's origin, where the host's
//! cookies live. A page a module serves there must not be able to act as
//! whoever opens it, so the host, never the module, decides the security
//! headers of every module response:
//!
//! - a module's own security headers (CSP, frame options, HSTS, CORS,
//!   cross-origin policies, `Clear-Site-Data`, cookies…) are dropped
//!   ([`is_reserved_response_header`]);
//! - every module response on the host's origin carries a `sandbox` CSP:
//!   the browser gives the page an opaque origin, so it reads no cookie and
//!   no storage of the host, and its requests to the host are cross-site
//!   (no `SameSite` cookie goes with them) and cross-origin (CORS keeps
//!   their answers from it). Scripts, forms and pop-ups still run inside
//!   the sandbox, so a module's own pages work;
//! - an operator may give module content origins of its own
//!   (`PLAZA_MODULE_CONTENT_URL`, [`ContentOrigin`]): one per tenant
//!   (`https://{tenant}.modules.example.com`), where pages run unsandboxed
//!   because no other tenant and no host cookie shares the origin, or one
//!   for all (`https://content.example.com`), still sandboxed. The host's
//!   API is not served there, and cookie sign-in is not honoured there.

use std::sync::Arc;

/// Headers a module may not set on its responses: the host's security
/// policy, framing, and state of the host's origin.
pub fn is_reserved_response_header(name: &str) -> bool {
    const EXACT: &[&str] = &[
        // Framing and the host's own.
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "upgrade",
        "te",
        "trailer",
        "proxy-authenticate",
        "x-request-id",
        // State of the host's origin.
        "set-cookie",
        "clear-site-data",
        "service-worker-allowed",
        // The host's security policy.
        "content-security-policy",
        "content-security-policy-report-only",
        "x-frame-options",
        "x-content-type-options",
        "x-xss-protection",
        "x-permitted-cross-domain-policies",
        "referrer-policy",
        "strict-transport-security",
        "permissions-policy",
        "origin-agent-cluster",
        "timing-allow-origin",
        "alt-svc",
    ];
    const PREFIXES: &[&str] = &["access-control-", "cross-origin-"];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The policy of a module response served where other tenants' content or
/// the host's cookies share the origin: an opaque origin for the document,
/// its scripts and forms allowed inside it, nothing from elsewhere but
/// images, and no framing.
pub const SANDBOXED_CSP: &str = "sandbox allow-scripts allow-forms allow-popups allow-downloads; \
     default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob: https:; media-src 'self' blob: https:; font-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The policy of a module response on a tenant's own content origin: the
/// same rules without the sandbox (the origin is the tenant's alone).
pub const OWN_ORIGIN_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; media-src 'self' blob: https:; \
     font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

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

/// The content security policy of a module response.
pub fn module_csp(own_origin: bool) -> &'static str {
    if own_origin { OWN_ORIGIN_CSP } else { SANDBOXED_CSP }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn module_security_headers_are_reserved() {
        for name in [
            "content-security-policy",
            "access-control-allow-origin",
            "access-control-allow-credentials",
            "cross-origin-opener-policy",
            "strict-transport-security",
            "x-frame-options",
            "set-cookie",
            "clear-site-data",
        ] {
            assert!(is_reserved_response_header(name), "{name}");
        }
        for name in ["content-type", "cache-control", "etag", "location", "x-total-count", "content-disposition"] {
            assert!(!is_reserved_response_header(name), "{name}");
        }
    }

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
