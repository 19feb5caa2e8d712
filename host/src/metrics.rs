//! Prometheus metrics of one host process.
//!
//! One registry per [`crate::App`] (not a global), so several servers in one
//! test process never mix their counts.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// One module version's `ok` call counter and its call durations (see
/// [`Metrics::module_call_series`]); clones share the series.
#[derive(Debug, Clone)]
pub struct ModuleCallSeries {
    ok: Counter,
    seconds: Histogram,
}

/// Labels of a served request. `route` is the route template, never the raw
/// path, so that the number of series stays bounded.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

/// Labels of a latency observation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

/// Labels of a module's calls.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModuleCallLabels {
    pub module: String,
    pub version: String,
    /// `ok`, `error_status` (5xx from the module), `refused` (a job or event
    /// handler returned an error), `deadline`, `memory`, `trap`, `response_too_large`, `busy`.
    pub outcome: String,
}

/// Labels naming a module (and version).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModuleLabels {
    pub module: String,
    pub version: String,
}

/// Labels of a refused capability use.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    pub module: String,
    pub capability: String,
}

/// Labels naming a module.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModuleNameLabels {
    pub module: String,
}

/// Labels of a job run.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub module: String,
    pub job: String,
    /// `succeeded` or `failed`.
    pub outcome: String,
}

/// Every metric the host exports.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub db_connections: Gauge,
    pub db_idle_connections: Gauge,
    pub db_max_connections: Gauge,
    pub module_calls: Family<ModuleCallLabels, Counter>,
    pub module_call_seconds: Family<ModuleNameLabels, Histogram>,
    pub module_compiles: Family<ModuleLabels, Counter>,
    pub module_sql_parses: Family<ModuleNameLabels, Counter>,
    pub module_refusals: Family<RefusalLabels, Counter>,
    pub module_log_lines: Family<LogLabels, Counter>,
    pub job_runs: Family<JobLabels, Counter>,
    /// By publishing module (`plaza` for the host's own events).
    pub events_published: Family<ModuleNameLabels, Counter>,
    /// The next three by subscribing module.
    pub events_delivered: Family<ModuleNameLabels, Counter>,
    pub events_retried: Family<ModuleNameLabels, Counter>,
    pub events_dead: Family<ModuleNameLabels, Counter>,
    pub event_delivery_lag: Family<ModuleNameLabels, Histogram>,
    /// Module calls refused by a tenant's fair share, and calls that waited
    /// for one of the tenant's slots. Series appear only for tenants that
    /// were held back.
    pub tenant_calls_rejected: Family<ShareLabels, Counter>,
    pub tenant_calls_queued: Family<ShareLabels, Counter>,
}

/// Labels of a tenant's calls held back by the fair share.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShareLabels {
    pub tenant: String,
    /// `queue_full`, `waited` (no slot within the wait), `rate` (anonymous
    /// rate limit); for queued calls, always `queued`.
    pub reason: String,
}

/// Labels of module log lines.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LogLabels {
    pub module: String,
    pub level: String,
}

impl Metrics {
    pub fn new(db_max: u32) -> Self {
        let mut registry = Registry::with_prefix("plaza");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests served", requests.clone());
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to serve HTTP requests, up to the response head",
            latency.clone(),
        );
        let db_connections = Gauge::default();
        registry.register("db_pool_connections", "Open database connections", db_connections.clone());
        let db_idle_connections = Gauge::default();
        registry.register("db_pool_idle_connections", "Idle database connections", db_idle_connections.clone());
        let db_max_connections = Gauge::default();
        db_max_connections.set(i64::from(db_max));
        registry.register("db_pool_max_connections", "Configured pool size", db_max_connections.clone());
        let module_calls = Family::<ModuleCallLabels, Counter>::default();
        registry.register("module_calls", "Module calls, by outcome", module_calls.clone());
        let module_call_seconds = Family::<ModuleNameLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0])
        });
        registry.register("module_call_duration_seconds", "Time of module calls", module_call_seconds.clone());
        let module_compiles = Family::<ModuleLabels, Counter>::default();
        registry.register(
            "module_compiles",
            "Module components compiled by this process (not loaded from the cache)",
            module_compiles.clone(),
        );
        let module_sql_parses = Family::<ModuleNameLabels, Counter>::default();
        registry.register(
            "module_sql_parses",
            "Module SQL statements parsed and vetted (each distinct statement once)",
            module_sql_parses.clone(),
        );
        let module_refusals = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "module_capability_refusals",
            "Capability uses refused: undeclared, or against policy",
            module_refusals.clone(),
        );
        let module_log_lines = Family::<LogLabels, Counter>::default();
        registry.register("module_log_lines", "Log lines written by modules, by level", module_log_lines.clone());
        let job_runs = Family::<JobLabels, Counter>::default();
        registry.register("job_runs", "Scheduled and manual job runs, by outcome", job_runs.clone());
        let events_published = Family::<ModuleNameLabels, Counter>::default();
        registry.register(
            "events_published",
            "Events fanned out to subscribers, by publisher",
            events_published.clone(),
        );
        let events_delivered = Family::<ModuleNameLabels, Counter>::default();
        registry.register(
            "events_delivered",
            "Event deliveries that succeeded, by subscriber",
            events_delivered.clone(),
        );
        let events_retried = Family::<ModuleNameLabels, Counter>::default();
        registry.register(
            "events_retried",
            "Event deliveries that failed and wait for a retry",
            events_retried.clone(),
        );
        let events_dead = Family::<ModuleNameLabels, Counter>::default();
        registry.register("events_dead_lettered", "Event deliveries given up (dead-letter list)", events_dead.clone());
        let event_delivery_lag = Family::<ModuleNameLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 600.0, 3600.0])
        });
        registry.register(
            "event_delivery_lag_seconds",
            "From publication to successful delivery",
            event_delivery_lag.clone(),
        );
        let tenant_calls_rejected = Family::<ShareLabels, Counter>::default();
        registry.register(
            "tenant_calls_rejected",
            "Module calls refused because their tenant used its share (429)",
            tenant_calls_rejected.clone(),
        );
        let tenant_calls_queued = Family::<ShareLabels, Counter>::default();
        registry.register(
            "tenant_calls_queued",
            "Module calls that waited for one of their tenant's slots",
            tenant_calls_queued.clone(),
        );
        Self {
            tenant_calls_rejected,
            tenant_calls_queued,
            job_runs,
            events_published,
            events_delivered,
            events_retried,
            events_dead,
            event_delivery_lag,
            module_log_lines,
            registry,
            requests,
            latency,
            db_connections,
            db_idle_connections,
            db_max_connections,
            module_calls,
            module_call_seconds,
            module_compiles,
            module_sql_parses,
            module_refusals,
        }
    }

    /// A module version's call series for the outcome nearly every call
    /// has (`ok`), resolved once when the version is loaded: a call then
    /// counts itself without building and hashing its labels.
    pub fn module_call_series(&self, module: &str, version: &str) -> ModuleCallSeries {
        let labels =
            ModuleCallLabels { module: module.to_owned(), version: version.to_owned(), outcome: "ok".to_owned() };
        ModuleCallSeries {
            ok: self.module_calls.get_or_create(&labels).clone(),
            seconds: self.module_call_seconds.get_or_create(&ModuleNameLabels { module: module.to_owned() }).clone(),
        }
    }

    /// Counts one module call by its outcome.
    pub fn module_call(&self, series: &ModuleCallSeries, module: &str, version: &str, outcome: &str, seconds: f64) {
        if outcome == "ok" {
            series.ok.inc();
        } else {
            self.module_calls
                .get_or_create(&ModuleCallLabels {
                    module: module.to_owned(),
                    version: version.to_owned(),
                    outcome: outcome.to_owned(),
                })
                .inc();
        }
        series.seconds.observe(seconds);
    }

    /// Counts a compile of a module version.
    pub fn module_compile(&self, module: &str, version: &str) {
        self.module_compiles
            .get_or_create(&ModuleLabels { module: module.to_owned(), version: version.to_owned() })
            .inc();
    }

    /// Counts a parse of a module's SQL statement.
    pub fn module_sql_parse(&self, module: &str) {
        self.module_sql_parses.get_or_create(&ModuleNameLabels { module: module.to_owned() }).inc();
    }

    /// Counts a module's log line.
    pub fn module_log(&self, module: &str, level: &str) {
        self.module_log_lines.get_or_create(&LogLabels { module: module.to_owned(), level: level.to_owned() }).inc();
    }

    /// Counts a refused capability use.
    pub fn module_refusal(&self, module: &str, capability: &str) {
        self.module_refusals
            .get_or_create(&RefusalLabels { module: module.to_owned(), capability: capability.to_owned() })
            .inc();
    }

    /// Counts a finished job run.
    pub fn job_run(&self, module: &str, job: &str, outcome: &str) {
        self.job_runs
            .get_or_create(&JobLabels { module: module.to_owned(), job: job.to_owned(), outcome: outcome.to_owned() })
            .inc();
    }

    /// Counts an event fanned out, by its publisher.
    pub fn event_published(&self, source: &str) {
        self.events_published.get_or_create(&ModuleNameLabels { module: source.to_owned() }).inc();
    }

    /// Counts a successful delivery and its lag.
    pub fn event_delivered(&self, module: &str, lag_seconds: f64) {
        let labels = ModuleNameLabels { module: module.to_owned() };
        self.events_delivered.get_or_create(&labels).inc();
        self.event_delivery_lag.get_or_create(&labels).observe(lag_seconds);
    }

    /// Counts a failed delivery that will be retried.
    pub fn event_retried(&self, module: &str) {
        self.events_retried.get_or_create(&ModuleNameLabels { module: module.to_owned() }).inc();
    }

    /// Counts a delivery given up.
    pub fn event_dead(&self, module: &str) {
        self.events_dead.get_or_create(&ModuleNameLabels { module: module.to_owned() }).inc();
    }

    /// Counts a call refused by its tenant's share.
    pub fn tenant_call_rejected(&self, tenant: &str, reason: &str) {
        self.tenant_calls_rejected
            .get_or_create(&ShareLabels { tenant: tenant.to_owned(), reason: reason.to_owned() })
            .inc();
    }

    /// Counts a call that waited for one of its tenant's slots.
    pub fn tenant_call_queued(&self, tenant: &str) {
        self.tenant_calls_queued
            .get_or_create(&ShareLabels { tenant: tenant.to_owned(), reason: "queued".to_owned() })
            .inc();
    }

    /// Counts one request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels { method: method.to_owned(), route: route.to_owned(), status })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { method: method.to_owned(), route: route.to_owned() })
            .observe(seconds);
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
