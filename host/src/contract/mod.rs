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
    Access, Caller, Dependency, Error as GuestError, Header, Job, Limits, Method, Migration, Route,
};

/// The capabilities of 1.0, as a manifest lists them (`types.capability`).
pub use self::plaza::module::types::Capability as ListedCapability;

/// A capability a module may be granted: the ones its manifest lists, and
/// those added in 1.x, which it declares by importing their interface
/// (types never change within 1.x, so the WIT enum keeps the 1.0 list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    Sql,
    Kv,
    Blob,
    Http,
    Events,
    Config,
    Log,
    Crypto,
    /// Since 1.1: declared by importing `plaza:module/mail`.
    Mail,
    /// Since 1.1: declared by importing `plaza:module/push`.
    Push,
}

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
            Capability::Mail => "mail",
            Capability::Push => "push",
        }
    }

    /// The capability a manifest lists.
    pub fn listed(c: ListedCapability) -> Self {
        match c {
            ListedCapability::Sql => Capability::Sql,
            ListedCapability::Kv => Capability::Kv,
            ListedCapability::Blob => Capability::Blob,
            ListedCapability::Http => Capability::Http,
            ListedCapability::Events => Capability::Events,
            ListedCapability::Config => Capability::Config,
            ListedCapability::Log => Capability::Log,
            ListedCapability::Crypto => Capability::Crypto,
        }
    }

    /// How a 1.0 manifest names it; `None` for a capability of 1.x.
    pub fn as_listed(self) -> Option<ListedCapability> {
        Some(match self {
            Capability::Sql => ListedCapability::Sql,
            Capability::Kv => ListedCapability::Kv,
            Capability::Blob => ListedCapability::Blob,
            Capability::Http => ListedCapability::Http,
            Capability::Events => ListedCapability::Events,
            Capability::Config => ListedCapability::Config,
            Capability::Log => ListedCapability::Log,
            Capability::Crypto => ListedCapability::Crypto,
            Capability::Mail | Capability::Push => return None,
        })
    }

    /// The capabilities of 1.x a component declares by its imports (names
    /// such as `plaza:module/mail@1.1.0`).
    pub fn imported<'a>(imports: impl IntoIterator<Item = &'a str>) -> Vec<Capability> {
        let mut found = Vec::new();
        for name in imports {
            let capability = match name.strip_prefix("plaza:module/").and_then(|rest| rest.split('@').next()) {
                Some("mail") => Capability::Mail,
                Some("push") => Capability::Push,
                _ => continue,
            };
            if !found.contains(&capability) {
                found.push(capability);
            }
        }
        found
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
