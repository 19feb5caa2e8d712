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

/// Every metric the host exports.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub db_connections: Gauge,
    pub db_idle_connections: Gauge,
    pub db_max_connections: Gauge,
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
        Self { registry, requests, latency, db_connections, db_idle_connections, db_max_connections }
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
