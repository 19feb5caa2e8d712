//! What a module may do, one unit per WIT import: `sql`, `kv`, `blob`,
//! `http`, `events`, `config`, `log`, `crypto` and (since 1.1) `mail` and
//! `push`.
//!
//! Every capability has the same shape, after Spin's factors ([`Unit`], in
//! `unit.rs`): its host-wide state built once, its per-call state, its link
//! into the component linker and its end-of-call hooks. The one
//! `capabilities!` list below builds [`Services`] (every unit's host-wide
//! state), [`Units`] (every unit's state for one call) and [`link`] from
//! them. What a module version may use is its [`Grant`], read from its
//! manifest once at install.
//!
//! Each import checks the grant first — an undeclared capability is refused
//! with `error.undeclared-capability` — and scopes everything it touches to
//! (tenant, module): a module cannot even name another tenant.
//!
//! Units do not reach into each other, with one explicit exception: `sql`
//! offers other units its open transaction ([`sql::TxHook`]), which
//! `events` uses for its outbox.

mod unit;

use unit::stateless_unit;
pub use unit::{End, InitContext, InitError, Prepare, Unit};

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

pub use crate::contract::CapError;
use crate::contract::{CallLimits, Capability, GuestError, Manifest};
use crate::db::Db;
use crate::metrics::Metrics;
use crate::storage::Storage;
use crate::tenancy::quotas::QuotaBook;

/// Declares the set of capabilities, one `name: module::Unit` line each,
/// and builds from it what holds them all: the host-wide [`Services`], the
/// per-call [`Units`], the linking and the hooks. Adding a capability is
/// its file plus its line here (and its interface in the WIT).
macro_rules! capabilities {
    ($($name:ident: $module:ident::$unit:ident),* $(,)?) => {
        $(pub mod $name;)*

        /// Host-wide state: what every capability shares (the host's
        /// database, object store, metrics and quotas) and each unit's own,
        /// under the unit's name. Built once at start.
        pub struct Services {
            pub db: Db,
            pub storage: Storage,
            pub metrics: Arc<Metrics>,
            /// Each tenant's quotas (storage, blobs, KV entries, SQL size).
            pub quotas: QuotaBook,
            /// The wall clock modules read through WASI.
            pub clock: crate::runtime::clock::ModuleClock,
            $(pub $name: <$module::$unit as Unit>::Shared,)*
        }

        impl Services {
            /// Builds every unit's host-wide state.
            pub async fn start(
                cx: &InitContext<'_>,
                storage: Storage,
                metrics: Arc<Metrics>,
                quotas: QuotaBook,
            ) -> Result<Self, InitError> {
                Ok(Self {
                    db: cx.db.clone(),
                    storage,
                    metrics,
                    quotas,
                    clock: crate::runtime::clock::ModuleClock::default(),
                    $($name: <$module::$unit as Unit>::init(cx).await?,)*
                })
            }
        }

        /// Each unit's part of a module version's grant, under the unit's name.
        #[derive(Debug)]
        pub struct Grants {
            $(pub $name: <$module::$unit as Unit>::Grant,)*
        }

        impl Grants {
            fn configure(manifest: &Manifest) -> Self {
                Self { $($name: <$module::$unit as Unit>::configure(manifest),)* }
            }
        }

        /// Each unit's state for one call, under the unit's name.
        pub struct Units {
            $(pub(crate) $name: <$module::$unit as Unit>::PerCall,)*
        }

        impl Units {
            fn prepare(services: &Services, call: &Prepare<'_>) -> Self {
                Self { $($name: <$module::$unit as Unit>::prepare(&services.$name, call),)* }
            }

            fn before_wait(&mut self) {
                $(<$module::$unit as Unit>::before_wait(&mut self.$name);)*
            }

            fn interrupt(&self) {
                $(<$module::$unit as Unit>::interrupt(&self.$name);)*
            }

            async fn finish(&mut self, end: &End<'_>) {
                $(<$module::$unit as Unit>::finish(&mut self.$name, end).await;)*
            }
        }

        /// Links WASI (with an empty context) and every capability's
        /// interface into the linker of a store whose data holds a
        /// [`CallState`] (`get` finds it).
        pub fn link<T: WasiView + Send + 'static>(
            linker: &mut Linker<T>,
            get: fn(&mut T) -> &mut CallState,
        ) -> wasmtime::Result<()> {
            wasmtime_wasi::p2::add_to_linker_async(linker)?;
            crate::contract::plaza::module::types::add_to_linker::<T, HasSelf<CallState>>(linker, get)?;
            $(<$module::$unit as Unit>::link(linker, get)?;)*
            Ok(())
        }
    };
}

// The order is the order of the end-of-call hooks: an open SQL transaction
// is rolled back before the events published outside one are written.
capabilities! {
    sql: sql::Sql,
    events: events::Events,
    kv: kv::Kv,
    blob: blob::Blob,
    http: http::Http,
    config: config::Config,
    crypto: crypto::Crypto,
    mail: mail::Mail,
    push: push::Push,
    log: log::Log,
}

/// What one module version was granted: read from its manifest once.
#[derive(Debug)]
pub struct Grant {
    pub module: String,
    pub version: String,
    /// The capabilities its manifest declares: the others are refused.
    pub capabilities: Vec<Capability>,
    pub limits: CallLimits,
    /// Each capability's own part (allowed hosts, vetted statements).
    pub units: Grants,
}

impl Grant {
    /// The grant of a validated `manifest`, with its limits capped, and the
    /// capabilities of 1.x its component `imports`.
    pub fn new(manifest: &Manifest, imports: &[Capability], limits: CallLimits) -> Self {
        let mut capabilities: Vec<Capability> = manifest.capabilities.iter().map(|&c| Capability::listed(c)).collect();
        capabilities.extend_from_slice(imports);
        Self {
            module: manifest.name.clone(),
            version: manifest.version.clone(),
            capabilities,
            limits,
            units: Grants::configure(manifest),
        }
    }
}

/// Who a call is for: the (tenant, module) pair every capability is scoped to.
#[derive(Debug, Clone)]
pub struct Scope {
    pub tenant: String,
    pub grant: Arc<Grant>,
    pub request_id: String,
}

impl Scope {
    pub fn module(&self) -> &str {
        &self.grant.module
    }
}

/// The data of one call's store: WASI with nothing granted, the memory
/// limiter, and the per-call state of each capability.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    services: Arc<Services>,
    /// `None` while a manifest is read: every capability is refused then.
    scope: Option<Arc<Scope>>,
    limits: CallLimits,
    deadline: Instant,
    /// Each capability's state for this call.
    pub(crate) units: Units,
    /// Kept until the call has released everything (its tenant's share).
    holds: Vec<Box<dyn std::any::Any + Send>>,
}

impl CallState {
    /// A call for `scope` (or the manifest sandbox when `None`).
    pub fn new(services: Arc<Services>, scope: Option<Arc<Scope>>, limits: CallLimits) -> Self {
        // WASI with nothing in it: no preopened directory, no environment,
        // no arguments, no stdin, no sockets; clocks and random only.
        let mut wasi = WasiCtxBuilder::new();
        wasi.allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false);
        if let Some(clock) = services.clock.for_call() {
            wasi.wall_clock(clock);
        }
        let wasi = wasi.build();
        let deadline = Instant::now() + limits.deadline;
        let units = Units::prepare(&services, &Prepare { limits: &limits, deadline });
        Self { wasi, table: ResourceTable::new(), services, scope, limits, deadline, units, holds: Vec::new() }
    }

    /// Keeps `value` until the call's state is dropped: after the call has
    /// given back its connections, even when its answer went out earlier.
    pub fn hold(&mut self, value: impl std::any::Any + Send) {
        self.holds.push(Box::new(value));
    }

    /// Stops the call's host work that runs outside its task (a SQLite
    /// statement), once its deadline has passed.
    pub fn interrupt(&self) {
        self.units.interrupt();
    }

    /// The call is about to wait on something slow (an outbound request,
    /// the object store): each capability gives back what other calls may
    /// need meanwhile (the SQL connection outside a transaction).
    pub(crate) fn before_wait(&mut self) {
        self.units.before_wait();
    }

    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    pub fn limits(&self) -> &CallLimits {
        &self.limits
    }

    /// When the call must be over (host capabilities included).
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The scope of the call, if the module declared `capability`.
    pub(crate) fn scope_for(&self, capability: Capability) -> Result<Arc<Scope>, CapError> {
        let Some(scope) = &self.scope else {
            return Err(CapError::refused(format!(
                "{} is not available while the manifest is read",
                capability.name()
            )));
        };
        if !scope.grant.capabilities.contains(&capability) {
            self.services.metrics.module_refusal(scope.module(), capability.name());
            tracing::warn!(
                tenant = %scope.tenant,
                module = %scope.module(),
                capability = capability.name(),
                "module used a capability its manifest does not declare"
            );
            return Err(match capability.as_listed() {
                Some(listed) => CapError::Guest(GuestError::UndeclaredCapability(listed)),
                None => CapError::refused(format!("the module does not import {}", capability.name())),
            });
        }
        Ok(Arc::clone(scope))
    }

    /// Ends the call: each capability's end-of-call hook, in the order
    /// they are listed (an open transaction is rolled back, then events
    /// published outside one are written if the call succeeded).
    pub async fn finish(&mut self, success: bool) {
        let end = End { services: &self.services, scope: self.scope.as_ref(), success };
        self.units.finish(&end).await;
    }
}

impl CallState {
    /// The call's WASI context (nothing in it but clocks and randomness).
    pub fn wasi(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl crate::contract::plaza::module::types::Host for CallState {
    fn convert_error(&mut self, err: CapError) -> wasmtime::Result<GuestError> {
        match err {
            CapError::Guest(e) => Ok(e),
            CapError::Trap(e) => Err(e),
        }
    }
}
