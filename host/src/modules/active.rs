//! What each tenant runs right now, kept in memory, and how every host
//! process learns that it changed.
//!
//! A request looks its tenant and module up here, not in the database. The
//! entry of a tenant is built once (the tenant's record, its enabled
//! installs, each with its component loaded) and replaced whole when the
//! tenant or its modules change, so a request sees either the old set or
//! the new one, never a half. Calls already running finish on the version
//! they started with.
//!
//! A tenant that does not exist gets no entry (a request for it reads the
//! database again), so unknown names cannot fill this cache.
//!
//! Changes reach this process three ways (a tenant's own changes — suspended,
//! resumed, deleted — are announced like its modules'):
//! - this process made them: the lifecycle code refreshes the tenant;
//! - PostgreSQL `NOTIFY plaza_modules, '<tenant>'`, sent in the same
//!   transaction as the change, heard by a `LISTEN` task;
//! - a safety net: every second the newest id of `module_changes` is read;
//!   a higher one refreshes the tenants changed since. This also covers
//!   SQLite, where a CLI process and a server share one database file.
//!
//! A refresh loads (and if need be compiles) the new components before it
//! swaps the entry in, so no request waits for a compiler or fails between
//! the old version and the new. Every process compiles a version as soon
//! as it is published (`NOTIFY plaza_registry`), so that a later enable or
//! upgrade has nothing left to compile anywhere.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use super::{Install, LoadedModule, ModuleError, Modules, installs};
use crate::changes;
use crate::tenancy::{self, TenancyError, Tenant};

/// The channel new registry versions are announced on (payload: the SHA-256),
/// so that every process compiles them before any tenant enables them.
pub const PUBLISHED: &str = "plaza_registry";

/// How often the safety net reads `module_changes`.
const RECHECK: Duration = Duration::from_secs(1);
/// Rows of `module_changes` older than this are deleted (a process that
/// was away longer reloads everything when it comes back anyway: it starts
/// with an empty view). Checked every [`PRUNE_EVERY`] re-checks.
const KEEP_CHANGES: chrono::TimeDelta = chrono::TimeDelta::days(1);
const PRUNE_EVERY: u32 = 3600;

/// One enabled module of a tenant.
#[derive(Clone)]
pub struct ActiveModule {
    pub install: Install,
    /// The loaded component, or why it could not be loaded.
    pub module: Result<Arc<LoadedModule>, String>,
}

/// One tenant as requests see it: its record and its enabled modules, by name.
pub struct TenantModules {
    pub tenant: Tenant,
    pub modules: HashMap<String, ActiveModule>,
}

impl TenantModules {
    pub fn get(&self, name: &str) -> Option<&ActiveModule> {
        self.modules.get(name)
    }

    /// The loaded modules, by name (those that failed to load left out).
    pub fn loaded(&self) -> Vec<Arc<LoadedModule>> {
        let mut all: Vec<_> = self.modules.values().filter_map(|a| a.module.as_ref().ok().cloned()).collect();
        all.sort_by(|a, b| a.name().cmp(b.name()));
        all
    }
}

/// The per-process cache of [`TenantModules`].
#[derive(Default)]
pub struct Active {
    tenants: RwLock<HashMap<String, Arc<TenantModules>>>,
    /// The newest `module_changes` id this process has acted on.
    seen: AtomicI64,
    /// Bumped by every change this process hears of, before it re-reads:
    /// a read that saw the counter move meanwhile may be stale, and is
    /// done again instead of being stored over a fresher one.
    changes: std::sync::atomic::AtomicU64,
}

impl Active {
    fn cached(&self, tenant: &str) -> Option<Arc<TenantModules>> {
        self.tenants.read().ok().and_then(|t| t.get(tenant).cloned())
    }

    fn store(&self, tenant: &str, modules: Arc<TenantModules>) {
        if let Ok(mut t) = self.tenants.write() {
            t.insert(tenant.to_owned(), modules);
        }
    }

    /// Forgets a tenant (deleted): its next request reads it afresh.
    pub fn forget(&self, tenant: &str) {
        if let Ok(mut t) = self.tenants.write() {
            t.remove(tenant);
        }
    }

    /// How many changes this process has heard of.
    pub fn generation(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    fn forget_all(&self) {
        if let Ok(mut t) = self.tenants.write() {
            t.clear();
        }
    }
}

impl Modules {
    /// `tenant` and the modules it has enabled: from memory, else read and
    /// loaded. A tenant that does not exist is [`TenancyError::NotFound`].
    pub async fn enabled(&self, tenant: &str) -> Result<Arc<TenantModules>, ModuleError> {
        if let Some(hit) = self.active.cached(tenant) {
            return Ok(hit);
        }
        self.load_tenant(tenant).await
    }

    /// After a change of `tenant`'s modules: reads its installs again, loads
    /// what they need, and swaps the tenant's entry.
    pub async fn refresh(&self, tenant: &str) -> Result<Arc<TenantModules>, ModuleError> {
        self.active.changes.fetch_add(1, Ordering::AcqRel);
        self.load_tenant(tenant).await
    }

    /// Builds and stores a tenant's entry, again if a change was heard of
    /// while it was being read.
    async fn load_tenant(&self, tenant: &str) -> Result<Arc<TenantModules>, ModuleError> {
        loop {
            let before = self.active.changes.load(Ordering::Acquire);
            let entry = self.read_tenant(tenant).await?;
            if self.active.changes.load(Ordering::Acquire) == before {
                self.active.store(tenant, Arc::clone(&entry));
                return Ok(entry);
            }
        }
    }

    async fn read_tenant(&self, tenant: &str) -> Result<Arc<TenantModules>, ModuleError> {
        let record = tenancy::get(&self.services.db, tenant).await?;
        let all = installs::list(&self.services.db, tenant).await?;
        let mut modules = HashMap::new();
        for install in all.into_iter().filter(|i| i.status == "enabled") {
            let module = self.load_sha(&install.sha256).await.map_err(|e| {
                tracing::error!(tenant, module = %install.module, sha256 = %install.sha256, error = %e, "enabled module cannot be loaded");
                e.to_string()
            });
            modules.insert(install.module.clone(), ActiveModule { install, module });
        }
        Ok(Arc::new(TenantModules { tenant: record, modules }))
    }

    /// After this process changed `tenant` itself (suspended or resumed
    /// it): its next request sees the change at once, not at the next
    /// re-check. On failure it is dropped from memory and read afresh.
    pub async fn tenant_changed(&self, tenant: &str) {
        if let Err(e) = self.refresh_known(tenant).await {
            tracing::warn!(tenant, error = %e, "cannot refresh a changed tenant; dropping it from memory");
            self.active.forget(tenant);
        }
    }

    /// Re-reads a changed tenant this process holds, and forgets its quotas
    /// and certificates (the feed does not say what changed); a tenant
    /// deleted meanwhile is dropped from memory.
    async fn refresh_known(&self, tenant: &str) -> Result<(), ModuleError> {
        self.services.quotas.forget(tenant);
        self.services.crypto.forget_tenant_certificates(tenant);
        if self.active.cached(tenant).is_none() {
            return Ok(());
        }
        match self.refresh(tenant).await {
            Ok(_) => Ok(()),
            Err(ModuleError::Tenancy(TenancyError::NotFound(_))) => {
                self.active.forget(tenant);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Refreshes the tenants changed since the last look at `module_changes`.
    async fn catch_up(&self) -> Result<(), ModuleError> {
        let seen = self.active.seen.load(Ordering::Acquire);
        let newest = changes::newest(&self.services.db).await?;
        if newest <= seen {
            return Ok(());
        }
        self.active.changes.fetch_add(1, Ordering::AcqRel);
        for tenant in changes::tenants_between(&self.services.db, seen, newest).await? {
            self.refresh_known(&tenant).await?;
        }
        self.active.seen.fetch_max(newest, Ordering::AcqRel);
        Ok(())
    }

    /// Starts the tasks that keep this process's view current: the safety
    /// net, and on PostgreSQL the `LISTEN` task. They stop with the process
    /// (or when the modules are dropped).
    pub(super) async fn watch_changes(self: &Arc<Self>) -> Result<(), ModuleError> {
        self.active.seen.store(changes::newest(&self.services.db).await?, Ordering::Release);
        let weak = Arc::downgrade(self);
        tokio::spawn(recheck(weak.clone()));
        if let Some(pool) = self.services.sql.pg() {
            let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
            listener.listen_all([changes::CHANNEL, PUBLISHED]).await?;
            tokio::spawn(listen(weak, listener));
        }
        Ok(())
    }
}

async fn recheck(modules: Weak<Modules>) {
    let mut tick = tokio::time::interval(RECHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks: u32 = 0;
    loop {
        tick.tick().await;
        let Some(modules) = modules.upgrade() else { return };
        if let Err(e) = modules.catch_up().await {
            tracing::warn!(error = %e, "cannot read module changes; retrying");
        }
        ticks = ticks.wrapping_add(1);
        if ticks.is_multiple_of(PRUNE_EVERY)
            && let Err(e) = changes::prune(&modules.services.db, KEEP_CHANGES).await
        {
            tracing::warn!(error = %e, "cannot prune module changes");
        }
    }
}

async fn listen(modules: Weak<Modules>, mut listener: sqlx::postgres::PgListener) {
    loop {
        let received = listener.try_recv().await;
        let Some(modules) = modules.upgrade() else { return };
        match received {
            Ok(Some(note)) if note.channel() == PUBLISHED => {
                let sha = note.payload().to_owned();
                // In the background: a compile must not hold up notifications.
                tokio::spawn(async move {
                    if let Err(e) = modules.load_sha(&sha).await {
                        tracing::warn!(sha256 = %sha, error = %e, "cannot prepare a newly published module");
                    }
                });
            }
            Ok(Some(note)) => {
                let tenant = note.payload();
                modules.active.changes.fetch_add(1, Ordering::AcqRel);
                if let Err(e) = modules.refresh_known(tenant).await {
                    tracing::warn!(tenant, error = %e, "cannot refresh a tenant's modules; dropping it from memory");
                    modules.active.forget(tenant);
                }
            }
            // The connection dropped (sqlx reconnects on the next call):
            // notifications may have been missed, so nothing cached is trusted.
            Ok(None) => {
                tracing::warn!("module change notifications interrupted; reloading every tenant's modules");
                modules.active.changes.fetch_add(1, Ordering::AcqRel);
                modules.active.forget_all();
                modules.services.quotas.forget_all();
                modules.services.crypto.forget_all_certificates();
            }
            Err(e) => {
                tracing::warn!(error = %e, "module change listener failed; retrying");
                drop(modules);
                tokio::time::sleep(RECHECK).await;
            }
        }
    }
}
