//! Liveness, readiness and metrics: what probes and scrapers call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::web::Data;
use poem_openapi::payload::{Json, PlainText, Response};
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::Tag;
use crate::app::App;
use crate::context;
use crate::http::problem::{ApiResult, ProblemJson};

/// Operations endpoints.
pub struct OpsApi;

/// The liveness answer.
#[derive(Object)]
pub struct Health {
    /// Always `ok` when the process serves HTTP.
    pub status: String,
}

/// One readiness check.
#[derive(Object)]
pub struct Check {
    /// `database` or `object_store`.
    pub name: String,
    pub ok: bool,
    /// What failed, when it failed.
    #[oai(skip_serializing_if_is_none)]
    pub detail: Option<String>,
    pub elapsed_ms: f64,
}

/// Readiness: every check, with its outcome.
#[derive(Object)]
pub struct Readiness {
    /// `ready`.
    pub status: String,
    pub checks: Vec<Check>,
}

#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// Every dependency answers.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// At least one dependency does not answer; the problem lists every check.
    #[oai(status = 503)]
    NotReady(ProblemJson<NotReady>),
}

/// The problem answered by `/ready` when a check fails.
#[derive(Object)]
pub struct NotReady {
    #[oai(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[oai(skip_serializing_if_is_none)]
    pub instance: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub request_id: Option<String>,
    pub checks: Vec<Check>,
}

/// How long one readiness check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs one check. `/ready` is anonymous, so a failure is described in
/// general terms (`failure`); the error itself, which may name hosts or
/// paths, goes to the log only.
async fn check<F, E>(name: &str, failure: &str, fut: F) -> Check
where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let start = Instant::now();
    let outcome = tokio::time::timeout(CHECK_TIMEOUT, fut).await;
    let detail = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => {
            tracing::warn!(check = name, error = %e, "readiness check failed");
            Some(failure.to_owned())
        }
        Err(_) => {
            tracing::warn!(check = name, "readiness check timed out");
            Some(format!("no answer within {} ms", CHECK_TIMEOUT.as_millis()))
        }
    };
    Check { name: name.into(), ok: detail.is_none(), detail, elapsed_ms: start.elapsed().as_secs_f64() * 1000.0 }
}

#[OpenApi(tag = "Tag::Operations")]
impl OpsApi {
    /// Liveness probe
    ///
    /// Answers 200 while the process serves HTTP; checks no dependency.
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self) -> ApiResult<Json<Health>> {
        Ok(Json(Health { status: "ok".into() }))
    }

    /// Liveness probe (Kubernetes spelling)
    ///
    /// The same as `/health`, for probes that expect `/healthz`.
    #[oai(path = "/healthz", method = "get", operation_id = "healthz")]
    async fn healthz(&self) -> ApiResult<Json<Health>> {
        Ok(Json(Health { status: "ok".into() }))
    }

    /// Readiness probe
    ///
    /// Checks the database and the object store; 503 lists what failed.
    #[oai(path = "/ready", method = "get", operation_id = "ready")]
    async fn ready(&self, Data(app): Data<&Arc<App>>) -> ApiResult<ReadyResponse> {
        let (db, store) = tokio::join!(
            check("database", "the database did not answer a query", app.db.ping()),
            check("object_store", "the object store did not return the readiness object", app.storage.ping()),
        );
        let checks = vec![db, store];
        Ok(if checks.iter().all(|c| c.ok) {
            ReadyResponse::Ready(Json(Readiness { status: "ready".into(), checks }))
        } else {
            let failed: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name.as_str()).collect();
            ReadyResponse::NotReady(ProblemJson(NotReady {
                kind: "urn:plaza:problem:not-ready".into(),
                title: "Service Unavailable".into(),
                status: 503,
                detail: format!("failing checks: {}", failed.join(", ")),
                instance: Some("/ready".into()),
                request_id: context::request_id(),
                checks,
            }))
        })
    }

    /// Prometheus metrics
    ///
    /// Requests by method, route template and status; latency histograms;
    /// database pool gauges. Text exposition format.
    #[oai(path = "/metrics", method = "get", operation_id = "metrics")]
    async fn metrics(&self, Data(app): Data<&Arc<App>>) -> ApiResult<Response<PlainText<String>>> {
        let (size, idle) = app.db.pool_stats();
        app.metrics.db_connections.set(i64::from(size));
        app.metrics.db_idle_connections.set(i64::try_from(idle).unwrap_or(i64::MAX));
        // The encoder writes OpenMetrics text; Prometheus reads it under its own type.
        Ok(Response::new(PlainText(app.metrics.encode()))
            .header("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8"))
    }
}
