//! The `http` capability: outbound requests to the hosts a module's manifest
//! allows, never to the host's own network.
//!
//! Three checks, all needed: the URL's host must be on the allow-list; an
//! IP literal must be a public address; and a name must resolve only to
//! public addresses — checked by the client's own resolver, so the address
//! connected to is the address checked (no DNS rebinding between check and
//! use). Redirects are not followed: the module sees them and decides.
//! Loopback, private, link-local and other special ranges are refused unless
//! the operator allows them (`PLAZA_MODULE_ALLOW_PRIVATE_HOSTS`, development).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use wasmtime::component::{HasSelf, Linker};

use super::{CallState, CapError, InitContext, InitError, Prepare, Unit};
use crate::contract::plaza::module::http::{self as wit, Host, OutgoingRequest};
use crate::contract::{Capability, Header, Manifest, Response};

/// Largest request body a module may send.
const MAX_REQUEST_BYTES: usize = 8 << 20;
/// Largest response body a module may receive.
const MAX_RESPONSE_BYTES: usize = 8 << 20;
/// Longest a request may take when the module gives no timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The `http` unit: the host's one outbound client; per call, the requests
/// sent.
pub struct Http;

impl Unit for Http {
    const CAPABILITY: Capability = Capability::Http;
    type Shared = Outbound;
    /// Requests the call has sent.
    type PerCall = u32;
    /// The hosts the module's manifest allows.
    type Grant = Vec<String>;

    async fn init(cx: &InitContext<'_>) -> Result<Outbound, InitError> {
        Outbound::new(cx.config.module_allow_private_hosts).map_err(|e| InitError::new(Self::CAPABILITY, e))
    }

    fn configure(manifest: &Manifest) -> Vec<String> {
        manifest.allowed_hosts.clone()
    }

    fn prepare(_: &Outbound, _: &Prepare<'_>) -> u32 {
        0
    }

    fn link<T: Send + 'static>(linker: &mut Linker<T>, get: fn(&mut T) -> &mut CallState) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<CallState>>(linker, get)
    }
}

/// The one outbound client of the host, built once.
pub struct Outbound {
    /// Also how `push` reaches the push services.
    pub(crate) client: reqwest::Client,
    pub(crate) allow_private: bool,
}

impl Outbound {
    pub fn new(allow_private: bool) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("plaza-module/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, allow_private })
    }
}

/// True for addresses a module may never reach unless the operator allows
/// private networks: loopback, private, link-local, CGNAT, multicast,
/// unspecified, documentation and reserved ranges, and IPv6 forms of them.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal_v4(v4);
            }
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local
                || (seg[0] & 0xffc0) == 0xfe80 // link local
                || (seg[0] == 0x64 && seg[1] == 0xff9b) // NAT64 reaches IPv4 space
                || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
                || seg[0] == 0x2002 // 6to4 embeds IPv4
        }
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10, carrier-grade NAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking
        || o[0] >= 240 // reserved
}

/// True when `host` is on the allow-list: exact names, or `*.example.com`
/// for the subdomains of example.com (not example.com itself).
pub fn host_allowed(allowed: &[String], host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    allowed.iter().any(|pattern| {
        let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
        match pattern.strip_prefix("*.") {
            Some(base) => host.len() > base.len() + 1 && host.ends_with(&format!(".{base}")),
            None => host == pattern,
        }
    })
}

/// Resolves names, then drops internal addresses (all of them: a name that
/// resolves to any internal address is refused outright).
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private && addrs.iter().any(|a| is_internal(a.ip())) {
                return Err(Box::new(InternalAddress(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            if addrs.is_empty() {
                return Err(Box::new(InternalAddress(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0} resolves to an internal address")]
struct InternalAddress(String);

fn method(m: crate::contract::Method) -> reqwest::Method {
    use crate::contract::Method as M;
    match m {
        M::Get => reqwest::Method::GET,
        M::Head => reqwest::Method::HEAD,
        M::Post => reqwest::Method::POST,
        M::Put => reqwest::Method::PUT,
        M::Patch => reqwest::Method::PATCH,
        M::Delete => reqwest::Method::DELETE,
        M::Options => reqwest::Method::OPTIONS,
    }
}

/// Headers a module may not set: the client sets them from the request.
const FORBIDDEN_HEADERS: &[&str] =
    &["host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer", "proxy-authorization"];

/// The scheme every outbound URL must have: `https`, or `http` where the
/// operator allows private hosts. Also `push`'s check of an endpoint.
pub(crate) fn check_scheme(url: &url::Url, allow_private: bool) -> Result<(), CapError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_private => Ok(()),
        "http" => Err(CapError::refused("only https:// URLs may be requested")),
        other => Err(CapError::refused(format!("the {other}: scheme may not be requested"))),
    }
}

/// Refuses a URL whose host is an internal IP literal (names are checked by
/// the client's resolver when it connects). Also `push`'s check.
pub(crate) fn check_literal(url: &url::Url, allow_private: bool) -> Result<(), CapError> {
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        _ => None,
    };
    match literal.filter(|ip| !allow_private && is_internal(*ip)) {
        Some(ip) => Err(CapError::refused(format!("{ip} is an internal address"))),
        None => Ok(()),
    }
}

impl CallState {
    /// Checks a request against the grant and the operator's policy.
    fn vet_request(&self, allowed: &[String], url: &url::Url) -> Result<(), CapError> {
        let allow_private = self.services().http.allow_private;
        check_scheme(url, allow_private)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(CapError::invalid("put credentials in a header, not in the URL"));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(CapError::invalid("the URL has no host")),
        };
        if !host_allowed(allowed, &host) {
            return Err(CapError::refused(format!("{host} is not on the module's list of allowed hosts")));
        }
        check_literal(url, allow_private)
    }
}

impl Host for CallState {
    async fn send(&mut self, request: OutgoingRequest) -> Result<Response, CapError> {
        let scope = self.scope_for(Capability::Http)?;
        self.before_wait();
        if self.units.http >= self.limits().http_requests {
            return Err(CapError::limit(format!("a call may send {} outbound requests", self.limits().http_requests)));
        }
        let url = url::Url::parse(&request.url).map_err(|e| CapError::invalid(format!("URL: {e}")))?;
        if let Err(e) = self.vet_request(&scope.grant.units.http, &url) {
            self.services().metrics.module_refusal(scope.module(), "http");
            tracing::warn!(tenant = %scope.tenant, module = %scope.module(), url = %url.host_str().unwrap_or(""), "outbound request refused");
            return Err(e);
        }
        if request.body.len() > MAX_REQUEST_BYTES {
            return Err(CapError::limit(format!("a request body may be {MAX_REQUEST_BYTES} bytes")));
        }
        self.units.http += 1;
        let remaining = self.deadline().saturating_duration_since(Instant::now());
        let timeout = request.timeout_ms.map_or(DEFAULT_TIMEOUT, |ms| Duration::from_millis(ms.into())).min(remaining);
        let mut builder = self.services().http.client.request(method(request.method), url).timeout(timeout);
        for h in &request.headers {
            let name = h.name.to_ascii_lowercase();
            if FORBIDDEN_HEADERS.contains(&name.as_str()) {
                return Err(CapError::invalid(format!("the {name} header is set by the host")));
            }
            builder = builder.header(name, &h.value);
        }
        let mut response = builder.body(request.body).send().await.map_err(|e| send_error(&e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| v.to_str().ok().map(|v| Header { name: n.as_str().to_owned(), value: v.to_owned() }))
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| send_error(&e))? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(CapError::limit(format!("a response body may be {MAX_RESPONSE_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response { status, headers, body })
    }
}

pub(crate) fn send_error(e: &reqwest::Error) -> CapError {
    // The resolver's refusal travels inside reqwest's error chain.
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        if let Some(internal) = s.downcast_ref::<InternalAddress>() {
            return CapError::refused(internal.to_string());
        }
        source = s.source();
    }
    if e.is_timeout() {
        CapError::limit("the outbound request timed out")
    } else {
        CapError::unavailable(format!("the outbound request failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip} should be internal");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip} should be public");
        }
    }

    #[test]
    fn allow_list_matches_names_and_wildcards() {
        let allowed = vec!["api.example.com".to_owned(), "*.sri.gob.ec".to_owned()];
        assert!(host_allowed(&allowed, "api.example.com"));
        assert!(host_allowed(&allowed, "API.Example.com."));
        assert!(host_allowed(&allowed, "celcer.sri.gob.ec"));
        assert!(!host_allowed(&allowed, "sri.gob.ec"));
        assert!(!host_allowed(&allowed, "evilsri.gob.ec"));
        assert!(!host_allowed(&allowed, "api.example.com.evil.net"));
        assert!(!host_allowed(&allowed, "example.com"));
    }
}
