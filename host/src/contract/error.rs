//! The error of a host call, as capabilities raise it.

use super::GuestError;

/// A capability call's failure: either an error the module sees (its WIT
/// `error`), or a trap that ends the call (a host failure the module must
/// not be able to swallow).
#[derive(Debug)]
pub enum CapError {
    Guest(GuestError),
    Trap(wasmtime::Error),
}

impl From<GuestError> for CapError {
    fn from(e: GuestError) -> Self {
        CapError::Guest(e)
    }
}

impl CapError {
    pub fn refused(why: impl Into<String>) -> Self {
        CapError::Guest(GuestError::Refused(why.into()))
    }
    pub fn invalid(why: impl Into<String>) -> Self {
        CapError::Guest(GuestError::Invalid(why.into()))
    }
    pub fn limit(why: impl Into<String>) -> Self {
        CapError::Guest(GuestError::LimitExceeded(why.into()))
    }
    pub fn unavailable(why: impl Into<String>) -> Self {
        CapError::Guest(GuestError::Unavailable(why.into()))
    }
}
