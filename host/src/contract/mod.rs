//! The contract between the host and its modules, on the host's side: the
//! bindings generated from the one WIT file, `sdk/wit/plaza.wit`, and the
//! types that cross it.
//!
//! The runtime (which instantiates components and calls their exports) and
//! the capabilities (which implement their imports) both depend on this
//! module, and neither on the other.
//!
//! Imports are `async` (capabilities do I/O on the host's runtime) and
//! `trappable` (a host bug traps the call instead of lying to the module);
//! `plaza:module/types.error` maps to [`CapError`], so capability code uses
//! `?` and decides per error whether the guest sees it or the call traps.

mod error;
mod limits;

pub use error::CapError;
pub use limits::CallLimits;

wasmtime::component::bindgen!({
    path: "../sdk/wit",
    world: "module",
    imports: { default: async | trappable },
    exports: { default: async },
    trappable_error_type: { "plaza:module/types.error" => CapError },
});

pub use self::plaza::module::types::{
    Access, Caller, Capability, Dependency, Error as GuestError, Header, Job, Limits, Method, Migration, Route,
};

impl Capability {
    /// The name used in manifests, errors and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Sql => "sql",
            Capability::Kv => "kv",
            Capability::Blob => "blob",
            Capability::Http => "http",
            Capability::Events => "events",
            Capability::Config => "config",
            Capability::Log => "log",
            Capability::Crypto => "crypto",
        }
    }
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        Some(match s {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            _ => return None,
        })
    }
}
