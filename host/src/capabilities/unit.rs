//! The shape every capability has, after Spin's factors: one [`Unit`] per
//! WIT import, listed once in [`super`]'s `capabilities!` line.
//!
//! A unit owns, and nothing else touches:
//!
//! - its **host-wide state** ([`Unit::Shared`]), built once when the host
//!   starts ([`Unit::init`]): a connection cache, an HTTP client;
//! - its **part of each module version's grant** ([`Unit::Grant`]),
//!   computed once from the manifest when the version is loaded
//!   ([`Unit::configure`]): the hosts it may call, its vetted statements;
//! - its **per-call state** ([`Unit::PerCall`]), built for each call
//!   ([`Unit::prepare`]): budgets spent, an open transaction;
//! - its **link** into the component linker ([`Unit::link`]): its own WIT
//!   interface, implemented on [`CallState`];
//! - its **hooks** into a call's life: before the call waits on something
//!   slow ([`Unit::before_wait`]), when its deadline passes
//!   ([`Unit::interrupt`]) and when it ends ([`Unit::finish`]).
//!
//! Each host function checks the grant ([`super::Grant`]: the declared
//! capabilities and each unit's part) with [`CallState::scope_for`] before
//! doing anything.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::Linker;

use super::{CallState, Scope, Services};
use crate::config::Config;
use crate::contract::{CallLimits, Capability, Manifest};
use crate::db::Db;

/// What a unit's host-wide state is built from.
pub struct InitContext<'a> {
    pub config: &'a Config,
    pub db: &'a Db,
}

/// Why a unit could not start (the host does not start either).
#[derive(Debug, thiserror::Error)]
#[error("the {capability} capability cannot start: {message}")]
pub struct InitError {
    pub capability: &'static str,
    pub message: String,
}

impl InitError {
    pub fn new(capability: Capability, message: impl std::fmt::Display) -> Self {
        Self { capability: capability.name(), message: message.to_string() }
    }
}

/// What a unit's per-call state is built from.
pub struct Prepare<'a> {
    pub limits: &'a CallLimits,
    /// When the call must be over, host work included.
    pub deadline: Instant,
}

/// How a call ended, for the units' [`Unit::finish`] hooks.
pub struct End<'a> {
    pub services: &'a Arc<Services>,
    /// `None` for a call that read a manifest (nothing was granted).
    pub scope: Option<&'a Arc<Scope>>,
    /// Whether the guest's export returned without trapping.
    pub success: bool,
}

/// One capability: its state, its link and its hooks.
pub trait Unit {
    /// The capability of the contract this unit implements (its name in
    /// manifests, errors and metrics is `CAPABILITY.name()`).
    const CAPABILITY: Capability;
    /// State shared by every call, built once.
    type Shared: Send + Sync + 'static;
    /// State of one call.
    type PerCall: Send + 'static;
    /// This unit's part of a module version's grant.
    type Grant: Send + Sync + std::fmt::Debug + 'static;

    /// Builds the host-wide state when the host starts.
    fn init(cx: &InitContext<'_>) -> impl Future<Output = Result<Self::Shared, InitError>> + Send;

    /// This unit's part of the grant of the module version of `manifest`
    /// (validated), computed once when the version is loaded.
    fn configure(manifest: &Manifest) -> Self::Grant;

    /// The per-call state of a call with `call`'s limits.
    fn prepare(shared: &Self::Shared, call: &Prepare<'_>) -> Self::PerCall;

    /// Adds this capability's WIT interface to `linker`; `get` finds the
    /// call's [`CallState`] in the store's data.
    fn link<T: Send + 'static>(linker: &mut Linker<T>, get: fn(&mut T) -> &mut CallState) -> wasmtime::Result<()>;

    /// The call is about to wait on something slow (an outbound request,
    /// the object store): give back what other calls may need meanwhile.
    fn before_wait(_call: &mut Self::PerCall) {}

    /// The call's deadline passed while host work of this unit may be
    /// running outside the call's task: stop it.
    fn interrupt(_call: &Self::PerCall) {}

    /// The call ended: release what it holds, write what it left to write.
    /// Hooks run in the order the units are listed.
    fn finish(_call: &mut Self::PerCall, _end: &End<'_>) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// A unit with no state of its own, host-wide or per call (its rows live in
/// the host's database or object store): only its interface to link.
/// `stateless_unit!(Kv, Capability::Kv, wit)` declares `pub struct Kv` for
/// the bindings module `wit`.
macro_rules! stateless_unit {
    ($(#[$doc:meta])* $unit:ident, $capability:expr, $wit:ident) => {
        $(#[$doc])*
        pub struct $unit;

        impl $crate::capabilities::Unit for $unit {
            const CAPABILITY: $crate::contract::Capability = $capability;
            type Shared = ();
            type PerCall = ();
            type Grant = ();

            async fn init(
                _: &$crate::capabilities::InitContext<'_>,
            ) -> Result<(), $crate::capabilities::InitError> {
                Ok(())
            }

            fn configure(_: &$crate::contract::Manifest) {}

            fn prepare(_: &(), _: &$crate::capabilities::Prepare<'_>) {}

            fn link<T: Send + 'static>(
                linker: &mut wasmtime::component::Linker<T>,
                get: fn(&mut T) -> &mut $crate::capabilities::CallState,
            ) -> wasmtime::Result<()> {
                $wit::add_to_linker::<T, wasmtime::component::HasSelf<$crate::capabilities::CallState>>(linker, get)
            }
        }
    };
}
pub(crate) use stateless_unit;
