//! What a module may do, one file per WIT import: `sql`, `kv`, `blob`,
//! `http`, `events`, `config`, `log` and `crypto`.
//!
//! Every capability has the same shape, after Spin's factors: host-wide
//! state built once ([`Services`]), a grant per module version ([`Grant`]:
//! what its manifest declared, its limits), and per-call state ([`CallState`]:
//! the (tenant, module) scope, budgets, open transaction, pending events).
//! Each import checks the grant first — an undeclared capability is refused
//! with `error.undeclared-capability` — and scopes everything it touches to
//! (tenant, module): a module cannot even name another tenant.

pub mod blob;
pub mod config;
pub mod crypto;
pub mod events;
pub mod http;
pub mod kv;
pub mod log;
pub mod sql;

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

pub use crate::contract::CapError;
use crate::contract::{CallLimits, Capability, GuestError};
use crate::db::Db;
use crate::metrics::Metrics;
use crate::storage::Storage;

/// Host-wide state every capability shares: built once at start.
pub struct Services {
    pub db: Db,
    pub storage: Storage,
    pub sql: sql::Namespaces,
    pub http: http::Outbound,
    pub keys: crypto::KeyCache,
    pub metrics: Arc<Metrics>,
    /// Each tenant's quotas (storage, blobs, KV entries, SQL size).
    pub quotas: crate::tenancy::quotas::QuotaBook,
}

/// What one module version was granted: read from its manifest once.
#[derive(Debug)]
pub struct Grant {
    pub module: String,
    pub version: String,
    pub capabilities: Vec<Capability>,
    pub allowed_hosts: Vec<String>,
    pub limits: CallLimits,
    /// Vetted SQL of this module, by statement text: parsed once.
    pub statements: sql::StatementCache,
}

impl Grant {
    pub fn new(
        module: String,
        version: String,
        capabilities: Vec<Capability>,
        allowed_hosts: Vec<String>,
        limits: CallLimits,
    ) -> Self {
        Self { module, version, capabilities, allowed_hosts, limits, statements: sql::StatementCache::new() }
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

/// What a call has used of its budgets.
#[derive(Debug, Default)]
pub struct Usage {
    pub sql_statements: u32,
    pub sql_rows: u32,
    pub http_requests: u32,
    pub log_lines: u32,
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
    pub(crate) usage: Usage,
    pub(crate) sql: sql::Session,
    pub(crate) events: events::Pending,
    /// Kept until the call has released everything (its tenant's share).
    holds: Vec<Box<dyn std::any::Any + Send>>,
}

impl CallState {
    /// A call for `scope` (or the manifest sandbox when `None`).
    pub fn new(services: Arc<Services>, scope: Option<Arc<Scope>>, limits: CallLimits) -> Self {
        // WASI with nothing in it: no preopened directory, no environment,
        // no arguments, no stdin, no sockets; clocks and random only.
        let wasi = WasiCtxBuilder::new().allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false).build();
        let deadline = Instant::now() + limits.deadline;
        Self {
            wasi,
            table: ResourceTable::new(),
            services,
            scope,
            limits,
            deadline,
            usage: Usage::default(),
            sql: sql::Session::new(sql::Budget::with_steps(deadline, limits.sql_work)),
            events: events::Pending::default(),
            holds: Vec::new(),
        }
    }

    /// Keeps `value` until the call's state is dropped: after the call has
    /// given back its connections, even when its answer went out earlier.
    pub fn hold(&mut self, value: impl std::any::Any + Send) {
        self.holds.push(Box::new(value));
    }

    /// Stops the call's host work that runs outside its task (a SQLite
    /// statement), once its deadline has passed.
    pub fn interrupt(&self) {
        self.sql.interrupt();
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
            return Err(CapError::Guest(GuestError::UndeclaredCapability(capability)));
        }
        Ok(Arc::clone(scope))
    }

    /// Ends the call: an open transaction is rolled back, and events
    /// published outside a transaction are written when the call succeeded.
    pub async fn finish(&mut self, success: bool) {
        let open = self.sql.rollback_open().await;
        if open && let Some(scope) = &self.scope {
            tracing::warn!(tenant = %scope.tenant, module = %scope.module(), "transaction left open; rolled back");
        }
        let pending = std::mem::take(&mut self.events);
        if !success || pending.is_empty() {
            return;
        }
        if let Some(scope) = self.scope.clone()
            && let Err(e) = events::write_committed(&self.services, &scope, pending).await
        {
            tracing::error!(tenant = %scope.tenant, module = %scope.module(), error = %e, "events not written");
        }
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

/// Links WASI (with the empty context above) and every Plaza import into
/// the linker of a store whose data holds a [`CallState`] (`get` finds it).
pub fn link<T: WasiView + Send + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
    get: fn(&mut T) -> &mut CallState,
) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    crate::contract::Module::add_to_linker::<T, wasmtime::component::HasSelf<CallState>>(linker, get)?;
    Ok(())
}
