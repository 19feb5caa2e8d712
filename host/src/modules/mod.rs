//! Modules this host can run, and which tenant runs which.
//!
//! - [`registry`]: published versions, signed and content-addressed.
//! - [`Modules::load_wasm`]: compile (once per wasm, cached on disk), read
//!   the manifest in a sandbox with no capabilities, check it, build the
//!   route table and the `InstancePre`. Nothing of this repeats per call;
//!   loaded components are kept by their SHA-256.
//! - [`lifecycle`]: enable, upgrade, roll back, disable, purge per tenant;
//!   [`installs`]: which version runs for whom.
//! - [`active`]: what each tenant runs, in memory, kept current across
//!   host processes.
//! - [`Modules::call`]: one request into one module for one tenant;
//!   [`Modules::run_job`] and [`Modules::deliver`]: a job run and an event
//!   delivery (scheduled by [`crate::workers`]).

pub mod active;
pub mod call;
pub mod installs;
pub mod lifecycle;
pub mod manifest;
pub mod openapi;
pub mod registry;
pub mod routes;
pub mod settings;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use wasmtime::component::Linker;

use crate::capabilities::{self, CallState, Grant, Scope, Services};
use crate::config::Config;
use crate::contract::{CallLimits, Capability};
use crate::contract::{Event, JobRun, Manifest, ModulePre, Request, Response};
use crate::db::Db;
use crate::jobs::JobSpec;
use crate::metrics::Metrics;
use crate::runtime::{CallError, EngineSettings, Invocation, Output, Runtime, RuntimeError, share};
use crate::storage::Storage;
use call::Call;
pub use installs::Install;
use routes::RouteTable;

/// Why a module could not be loaded, enabled or called.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("the component does not fit the plaza:module world: {0}")]
    Link(String),
    #[error("reading the manifest failed: {0}")]
    Manifest(String),
    #[error(transparent)]
    Invalid(#[from] manifest::ManifestError),
    #[error(transparent)]
    Routes(#[from] routes::RouteError),
    #[error("module {0:?} is not in the registry")]
    Unknown(String),
    #[error("{name} {version} is not in the registry")]
    NoSuchVersion { name: String, version: String },
    #[error("{name} {version} is already published{}; versions are never overwritten: publish a new version", if *.same { " (with these very bytes)" } else { " with other bytes" })]
    VersionExists { name: String, version: String, same: bool },
    #[error("the package is {size} bytes; at most {limit} are accepted")]
    TooLarge { size: usize, limit: usize },
    #[error(transparent)]
    Signature(#[from] plaza_registry::SignatureError),
    #[error(transparent)]
    Resolve(plaza_registry::ResolveError),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Setting(String),
    #[error(transparent)]
    Config(#[from] crate::modules::settings::ConfigError),
    #[error("the registry's copy of a component cannot be read: {0}")]
    Blob(String),
    #[error("module {module:?} is not enabled for tenant {tenant:?}")]
    NotEnabled { tenant: String, module: String },
    #[error(transparent)]
    Tenancy(#[from] crate::tenancy::TenancyError),
    #[error(transparent)]
    Namespace(#[from] capabilities::sql::NamespaceError),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("cannot start the module runtime: {0}")]
    Start(String),
}

impl From<sqlx::Error> for ModuleError {
    fn from(e: sqlx::Error) -> Self {
        ModuleError::Db(e.into())
    }
}

/// One module version, ready to call.
pub struct LoadedModule {
    pub manifest: Manifest,
    pub sha256: String,
    pub routes: RouteTable,
    pub grant: Arc<Grant>,
    /// The manifest's jobs, their schedules parsed once.
    pub jobs: Vec<JobSpec>,
    /// Its `/metrics` series of calls, resolved once.
    calls: crate::metrics::ModuleCallSeries,
    pre: ModulePre<Call>,
}

impl LoadedModule {
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    pub fn version(&self) -> &str {
        &self.manifest.version
    }

    /// The component, linked and ready to instantiate.
    pub fn pre(&self) -> &ModulePre<Call> {
        &self.pre
    }
}

/// The modules of this host process.
pub struct Modules {
    runtime: Arc<Runtime>,
    services: Arc<Services>,
    linker: Linker<Call>,
    caps: CallLimits,
    /// The longest a job run may take (`job_deadline_ms`).
    job_deadline: Duration,
    trust: registry::Trust,
    /// Every component this process has loaded, by SHA-256.
    loaded: RwLock<HashMap<String, Arc<LoadedModule>>>,
    /// One load at a time: two requests for a new version compile it once.
    loading: tokio::sync::Mutex<()>,
    active: active::Active,
    /// Each tenant's share of the calls.
    share: share::Share,
}

impl Modules {
    /// Builds the runtime and the capabilities' shared state, then loads
    /// the modules of `PLAZA_MODULES_DIR`, if set.
    pub async fn start(
        config: &Config,
        db: &Db,
        storage: &Storage,
        metrics: &Arc<Metrics>,
    ) -> Result<Arc<Self>, ModuleError> {
        let caps = CallLimits::caps(config);
        let settings = EngineSettings {
            max_concurrent_calls: config.module_concurrency,
            max_memory_bytes: caps.memory_bytes,
            ..EngineSettings::default()
        };
        let cache_dir = crate::config::absolute(&config.data_dir.join("cache").join("components"));
        let runtime = tokio::task::spawn_blocking(move || Runtime::new(settings, cache_dir))
            .await
            .map_err(|e| ModuleError::Start(e.to_string()))??;
        let services = Services::start(
            &capabilities::InitContext { config, db },
            storage.clone(),
            Arc::clone(metrics),
            crate::tenancy::quotas::QuotaBook::new(crate::tenancy::quotas::Quotas::defaults(config)),
        )
        .await
        .map_err(|e| ModuleError::Start(e.to_string()))?;
        let services = Arc::new(services);
        let mut linker = Linker::new(runtime.engine());
        capabilities::link(&mut linker, Call::state).map_err(|e| ModuleError::Start(format!("{e:#}")))?;
        let trust = registry::Trust {
            keys: plaza_registry::TrustedKeys::parse(&config.trusted_publishers)?,
            allow_unsigned: config.allow_unsigned_modules,
        };
        let modules = Arc::new(Self {
            runtime,
            services,
            linker,
            caps,
            job_deadline: Duration::from_millis(config.job_deadline_ms),
            trust,
            loaded: RwLock::new(HashMap::new()),
            loading: tokio::sync::Mutex::new(()),
            active: active::Active::default(),
            share: share::Share::new(share::ShareLimits::from_config(config), Arc::clone(metrics)),
        });
        if !config.modules_dir.is_empty() {
            modules.load_dir(Path::new(&config.modules_dir)).await?;
        }
        modules.watch_changes().await?;
        Ok(modules)
    }

    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Marks each version whose publisher key this host trusts.
    pub fn mark_trusted(&self, versions: &mut [registry::PackageVersion]) {
        for v in versions {
            v.publisher_trusted = v.publisher.as_deref().is_some_and(|k| self.trust.keys.trusts(k));
        }
    }

    /// Forgets what this process cached of a deleted tenant.
    pub fn forget_tenant(&self, tenant: &str) {
        self.active.forget(tenant);
        self.services.sql.forget_tenant(tenant);
    }

    /// Enters every `*.wasm` of `dir` into the registry as bundled, in name order.
    pub async fn load_dir(&self, dir: &Path) -> Result<Vec<Arc<LoadedModule>>, ModuleError> {
        let io = |source| ModuleError::Io { path: dir.display().to_string(), source };
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
            .collect();
        paths.sort();
        let mut loaded = Vec::new();
        for path in paths {
            let wasm = tokio::fs::read(&path)
                .await
                .map_err(|source| ModuleError::Io { path: path.display().to_string(), source })?;
            let module = self.register_bundled(wasm).await?;
            tracing::info!(module = module.name(), version = module.version(), sha256 = %module.sha256, path = %path.display(), "bundled module loaded");
            loaded.push(module);
        }
        Ok(loaded)
    }

    /// The component of that SHA-256: in memory, else read from the
    /// registry's store (hash checked) and loaded.
    pub async fn load_sha(&self, sha256: &str) -> Result<Arc<LoadedModule>, ModuleError> {
        if let Some(hit) = self.loaded_sha(sha256) {
            return Ok(hit);
        }
        let _one_at_a_time = self.loading.lock().await;
        if let Some(hit) = self.loaded_sha(sha256) {
            return Ok(hit);
        }
        let wasm = registry::fetch(&self.services.storage, sha256).await?;
        self.load_wasm(wasm).await
    }

    fn loaded_sha(&self, sha256: &str) -> Option<Arc<LoadedModule>> {
        self.loaded.read().ok().and_then(|l| l.get(sha256).cloned())
    }

    /// Compiles (or loads from the cache) a component, reads and checks its
    /// manifest, and keeps it by its SHA-256.
    pub async fn load_wasm(&self, wasm: Vec<u8>) -> Result<Arc<LoadedModule>, ModuleError> {
        let runtime = Arc::clone(&self.runtime);
        let (sha256, component, compiled) = tokio::task::spawn_blocking(move || runtime.cache().load_reporting(&wasm))
            .await
            .map_err(|e| ModuleError::Start(e.to_string()))??;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| ModuleError::Link(format!("{e:#}")))?;
        let pre = ModulePre::new(pre).map_err(|e| ModuleError::Link(format!("{e:#}")))?;
        let sandbox = Call::new(CallState::new(Arc::clone(&self.services), None, CallLimits::sandbox(&self.caps)));
        let manifest = match self.runtime.invoke(&pre, sandbox, Invocation::Manifest).await {
            Ok(Output::Manifest(m)) => *m,
            Ok(_) => return Err(ModuleError::Manifest("unexpected output".into())),
            Err(e) => return Err(ModuleError::Manifest(e.to_string())),
        };
        manifest::validate(&manifest)?;
        if compiled {
            self.services.metrics.module_compile(&manifest.name, &manifest.version);
        }
        let routes = RouteTable::build(&manifest.routes)?;
        let jobs = self.job_specs(&manifest)?;
        let engine = self.runtime.engine();
        let imports: Vec<String> =
            component.component_type().imports(engine).map(|(name, _)| name.to_owned()).collect();
        let imported = Capability::imported(imports.iter().map(String::as_str));
        let grant = Arc::new(Grant::new(&manifest, &imported, CallLimits::capped(&manifest.limits, &self.caps)));
        let calls = self.services.metrics.module_call_series(&manifest.name, &manifest.version);
        let module = Arc::new(LoadedModule { manifest, sha256, routes, grant, jobs, calls, pre });
        if let Ok(mut l) = self.loaded.write() {
            l.insert(module.sha256.clone(), Arc::clone(&module));
        }
        Ok(module)
    }

    /// The manifest's jobs with their schedules parsed, each deadline the
    /// job's own capped by the operator's `job_deadline_ms`.
    fn job_specs(&self, manifest: &Manifest) -> Result<Vec<JobSpec>, ModuleError> {
        manifest
            .jobs
            .iter()
            .map(|j| {
                let schedule =
                    crate::jobs::schedule::Schedule::parse(&j.schedule, j.timezone.as_deref()).map_err(|e| {
                        manifest::ManifestError {
                            module: manifest.name.clone(),
                            detail: format!("job {:?}: {e}", j.name),
                        }
                    })?;
                let wanted = j.deadline_ms.map_or(self.job_deadline, |ms| Duration::from_millis(ms.into()));
                Ok(JobSpec {
                    name: j.name.clone(),
                    expression: j.schedule.clone(),
                    timezone: j.timezone.clone(),
                    schedule,
                    deadline: wanted.min(self.job_deadline),
                })
            })
            .collect()
    }

    /// Bumped whenever this process hears that some tenant's modules
    /// changed: the scheduler rebuilds its plan when it moves.
    pub fn generation(&self) -> u64 {
        self.active.generation()
    }

    /// Each tenant's share of the calls (and its anonymous rate).
    pub fn share(&self) -> &share::Share {
        &self.share
    }

    /// Serves one request with `module` for `tenant`, counting the outcome.
    pub async fn call(
        &self,
        module: &LoadedModule,
        tenant: &str,
        request_id: &str,
        request: Request,
    ) -> Result<Response, CallError> {
        match self.invoke(module, tenant, request_id, module.grant.limits, Invocation::Handle(request)).await? {
            Output::Response(r) => Ok(r),
            _ => Err(CallError::Trap("the module answered a request with something else".into())),
        }
    }

    /// Runs one job of `module` for `tenant` within `deadline`: the
    /// module's verdict, or why the call failed.
    pub async fn run_job(
        &self,
        module: &LoadedModule,
        tenant: &str,
        run: JobRun,
        deadline: Duration,
    ) -> Result<Result<(), String>, CallError> {
        // A job's SQL work grows with its time: a run of five minutes may
        // scan as much as sixty calls of five seconds.
        let calls = (deadline.as_millis() / module.grant.limits.deadline.as_millis().max(1)).max(1);
        let sql_work = module.grant.limits.sql_work.saturating_mul(u64::try_from(calls).unwrap_or(u64::MAX));
        let limits = CallLimits { deadline, sql_work, ..module.grant.limits };
        let request_id = format!("job-{}", run.run_id);
        match self.invoke(module, tenant, &request_id, limits, Invocation::Job(run)).await? {
            Output::Done(verdict) => Ok(verdict),
            _ => Err(CallError::Trap("the module answered a job run with something else".into())),
        }
    }

    /// Delivers one event to `module` for `tenant`: the module's verdict,
    /// or why the call failed.
    pub async fn deliver(
        &self,
        module: &LoadedModule,
        tenant: &str,
        event: Event,
    ) -> Result<Result<(), String>, CallError> {
        let request_id = format!("event-{}", event.id);
        match self.invoke(module, tenant, &request_id, module.grant.limits, Invocation::Event(event)).await? {
            Output::Done(verdict) => Ok(verdict),
            _ => Err(CallError::Trap("the module answered an event with something else".into())),
        }
    }

    /// One call of any kind, scoped to (tenant, module), counted in `/metrics`.
    async fn invoke(
        &self,
        module: &LoadedModule,
        tenant: &str,
        request_id: &str,
        limits: CallLimits,
        invocation: Invocation,
    ) -> Result<Output, CallError> {
        let scope = Arc::new(Scope {
            tenant: tenant.to_owned(),
            grant: Arc::clone(&module.grant),
            request_id: request_id.to_owned(),
        });
        let started = Instant::now();
        let admitted = match invocation {
            Invocation::Handle(_) => self.share.admit(tenant, module.name(), limits.deadline).await,
            _ => self.share.admit_background(tenant, module.name(), limits.deadline).await,
        };
        let result = match admitted {
            Ok(ticket) => {
                let mut state = CallState::new(Arc::clone(&self.services), Some(scope), limits);
                // Released with the call's last resource, not its answer.
                state.hold(ticket);
                self.runtime.invoke(&module.pre, Call::new(state), invocation).await
            }
            Err(refusal) => Err(CallError::TenantBusy(refusal)),
        };
        let outcome = match &result {
            Ok(Output::Response(r)) if r.status >= 500 => "error_status",
            Ok(Output::Done(Err(_))) => "refused",
            Ok(_) => "ok",
            Err(e) => e.outcome(),
        };
        let seconds = started.elapsed().as_secs_f64();
        self.services.metrics.module_call(&module.calls, module.name(), module.version(), outcome, seconds);
        if let Err(e) = &result {
            tracing::warn!(tenant, module = module.name(), version = module.version(), error = %e, "module call failed");
        }
        result
    }
}
