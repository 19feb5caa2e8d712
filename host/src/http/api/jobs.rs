//! `/t/{tenant}/jobs`: the scheduled jobs of a tenant's modules, their runs,
//! and running one now (tenant admins). Logic in [`crate::jobs`].

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;

use super::Tag;
use crate::app::App;
use crate::auth::principal::ADMIN;
use crate::http::auth::Auth;
use crate::http::problem::{ApiError, ApiResult};
use crate::jobs::runs::{self, JobRunRecord};
use crate::workers::{self, JobError, JobInfo};

pub struct JobsApi;

fn default_limit() -> u32 {
    50
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        let detail = e.to_string();
        match e {
            JobError::UnknownJob { .. } => ApiError::not_found("job-not-found", detail),
            JobError::Collision { .. } => ApiError::conflict("job-run-collision", detail),
            JobError::Module(m) => m.into(),
            JobError::Db(db) => db.into(),
        }
    }
}

#[OpenApi(tag = "Tag::Jobs")]
impl JobsApi {
    /// List the tenant's jobs
    ///
    /// Every job the tenant's enabled modules declare, with its schedule and next fire.
    #[oai(path = "/t/:tenant/jobs", method = "get", operation_id = "listJobs")]
    async fn list(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
    ) -> ApiResult<Json<Vec<JobInfo>>> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        Ok(Json(workers::list_jobs(&app.modules, &tenant).await?))
    }

    /// List job runs
    ///
    /// Newest first: scheduled and manual runs with their outcome and error.
    #[oai(path = "/t/:tenant/jobs/runs", method = "get", operation_id = "listJobRuns")]
    async fn runs(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        /// Only this module's runs.
        module: Query<Option<String>>,
        /// Only this job's runs.
        job: Query<Option<String>>,
        /// At most this many, 1–500.
        #[oai(validator(minimum(value = "1"), maximum(value = "500")), default = "default_limit")]
        limit: Query<u32>,
    ) -> ApiResult<Json<Vec<JobRunRecord>>> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        let list = runs::list(&app.db, &tenant, module.0.as_deref(), job.0.as_deref(), i64::from(limit.0)).await?;
        Ok(Json(list))
    }

    /// Run a job now
    ///
    /// Runs the job at once (outside its schedule) and answers when it has
    /// finished, with the run: `succeeded`, or `failed` with the reason.
    #[oai(path = "/t/:tenant/jobs/:module/:job/run", method = "post", operation_id = "runJob")]
    async fn run(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        module: Path<String>,
        job: Path<String>,
    ) -> ApiResult<Json<JobRunRecord>> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        let actor = auth.principal().actor();
        Ok(Json(workers::run_now(&app.modules, &app.db, &app.metrics, &actor, &tenant, &module, &job).await?))
    }
}
