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

pub use crate::config::content_origin::{ContentOrigin, ContentTarget};

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
}
