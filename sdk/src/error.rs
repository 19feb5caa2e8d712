//! Why a host call failed: the WIT `error` variant with a readable face.

use std::fmt;
use std::ops::Deref;

/// The WIT `error` variant itself, as generated from `plaza.wit`. Match on it
/// through [`Error`]'s `Deref`: `match &*err { HostError::NotFound => .. }`.
pub use crate::bindings::plaza::module::types::Error as HostError;

/// A failed host call.
///
/// A thin wrapper around the generated [`HostError`] so that the WIT stays
/// the only definition of the cases; the wrapper adds a human `Display`
/// (`undeclared capability: kv`, `refused: <detail>`, ...), [`Error::kind`]
/// and the mapping to HTTP problems (`impl From<Error> for Problem`).
#[derive(Clone, PartialEq)]
pub struct Error(HostError);

impl Error {
    /// `invalid(detail)`: the SDK also uses it for values it cannot encode
    /// or decode on the guest side (a row that does not fit the requested
    /// type, a payload that does not serialise), which are bugs of the same
    /// family as bad SQL.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self(HostError::Invalid(detail.into()))
    }

    /// The WIT case name: `undeclared-capability`, `refused`, `invalid`,
    /// `limit-exceeded`, `not-found`, `conflict` or `unavailable`.
    pub fn kind(&self) -> &'static str {
        match &self.0 {
            HostError::UndeclaredCapability(_) => "undeclared-capability",
            HostError::Refused(_) => "refused",
            HostError::Invalid(_) => "invalid",
            HostError::LimitExceeded(_) => "limit-exceeded",
            HostError::NotFound => "not-found",
            HostError::Conflict(_) => "conflict",
            HostError::Unavailable(_) => "unavailable",
        }
    }

    /// The host's detail text, for the cases that carry one.
    pub fn detail(&self) -> Option<&str> {
        match &self.0 {
            HostError::Refused(d)
            | HostError::Invalid(d)
            | HostError::LimitExceeded(d)
            | HostError::Conflict(d)
            | HostError::Unavailable(d) => Some(d),
            HostError::UndeclaredCapability(_) | HostError::NotFound => None,
        }
    }

    /// Whether this is `not-found`.
    pub fn is_not_found(&self) -> bool {
        matches!(self.0, HostError::NotFound)
    }

    /// The generated value.
    pub fn into_host(self) -> HostError {
        self.0
    }
}

impl From<HostError> for Error {
    fn from(e: HostError) -> Self {
        Self(e)
    }
}

impl Deref for Error {
    type Target = HostError;

    fn deref(&self) -> &HostError {
        &self.0
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            HostError::UndeclaredCapability(c) => {
                write!(f, "undeclared capability: {}", crate::router::capability_name(*c))
            }
            HostError::Refused(d) => write!(f, "refused: {d}"),
            HostError::Invalid(d) => write!(f, "invalid: {d}"),
            HostError::LimitExceeded(d) => write!(f, "limit exceeded: {d}"),
            HostError::NotFound => f.write_str("not found"),
            HostError::Conflict(d) => write!(f, "conflict: {d}"),
            HostError::Unavailable(d) => write!(f, "unavailable: {d}"),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Capability;

    #[test]
    fn display_and_kind_follow_the_wit_case() {
        let cases = [
            (HostError::UndeclaredCapability(Capability::Kv), "undeclared-capability", "undeclared capability: kv"),
            (HostError::Refused("no".into()), "refused", "refused: no"),
            (HostError::Invalid("bad sql".into()), "invalid", "invalid: bad sql"),
            (HostError::LimitExceeded("rows".into()), "limit-exceeded", "limit exceeded: rows"),
            (HostError::NotFound, "not-found", "not found"),
            (HostError::Conflict("unique".into()), "conflict", "conflict: unique"),
            (HostError::Unavailable("db".into()), "unavailable", "unavailable: db"),
        ];
        for (host, kind, text) in cases {
            let err = Error::from(host);
            assert_eq!(err.kind(), kind);
            assert_eq!(err.to_string(), text);
        }
    }
}
