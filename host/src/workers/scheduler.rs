//! Scheduled jobs: every job a module declares runs for every tenant that
//! has the module enabled, on its cron schedule, through `run-job`.
//!
//! Each serving process runs the scheduler; a fire runs once however many
//! there are, because running it starts by inserting its row in `job_runs`
//! under a unique (tenant, module, job, fire time) key. A run carries a
//! lease of its deadline plus a second: a run still `running` after that
//! was lost with its process, and another process runs it again, so a
//! killed process delays a fire by at most about the job's deadline.
//!
//! After downtime a job runs once for the latest missed fire, not once per
//! missed slot ([`crate::jobs::schedule::Schedule::latest_due`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::contract::JobRun;
use crate::db::{Db, DbError, format_time, try_parse_time};
use crate::jobs::JobSpec;
use crate::jobs::runs::{self, JobRunRecord, NewRun};
use crate::metrics::Metrics;
use crate::modules::{LoadedModule, ModuleError, Modules};

/// How often the scheduler wakes: the resolution of six-field schedules.
const TICK: Duration = Duration::from_millis(250);
/// The plan is rebuilt at least this often, changes heard of or not.
const REPLAN: Duration = Duration::from_secs(30);
/// Runs of a fire before it is given up (its process died each time).
const MAX_ATTEMPTS: i64 = 3;
/// Finished runs are kept this long (each job's newest always).
const KEEP_RUNS: TimeDelta = TimeDelta::days(30);
/// Ticks between two prunings: about an hour.
const PRUNE_EVERY: u64 = 3600 * 1000 / TICK.as_millis() as u64;

/// Why a manual run could not be started.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("module {module:?} has no job {job:?}")]
    UnknownJob { module: String, job: String },
    #[error("a run of {module}/{job} was asked for in the same instant; ask again")]
    Collision { module: String, job: String },
    #[error(transparent)]
    Module(#[from] ModuleError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// One job of one tenant in the plan.
struct Planned {
    module: Arc<LoadedModule>,
    job: usize,
    /// The newest fire taken (or the moment the module was enabled).
    last: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
}

/// (tenant, module, job).
type Key = (String, String, String);

/// The scheduler of one host process.
pub struct Scheduler {
    modules: Arc<Modules>,
    db: Db,
    metrics: Arc<Metrics>,
    plan: HashMap<Key, Planned>,
}

impl Scheduler {
    pub fn new(modules: Arc<Modules>, db: Db, metrics: Arc<Metrics>) -> Self {
        Self { modules, db, metrics, plan: HashMap::new() }
    }

    /// Runs until `stop` says so.
    pub async fn run(mut self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut planned_at: Option<(u64, tokio::time::Instant)> = None;
        let mut ticks: u64 = 0;
        loop {
            let generation = self.modules.generation();
            let stale = planned_at.is_none_or(|(g, at)| g != generation || at.elapsed() >= REPLAN);
            if stale {
                match self.replan().await {
                    Ok(()) => planned_at = Some((generation, tokio::time::Instant::now())),
                    Err(e) => tracing::warn!(error = %e, "job plan not rebuilt; keeping the old one"),
                }
            }
            self.fire_due().await;
            if ticks.is_multiple_of(2) {
                self.take_over_abandoned().await;
            }
            if ticks.is_multiple_of(PRUNE_EVERY) {
                match runs::prune(&self.db, Utc::now() - KEEP_RUNS).await {
                    Ok(n) if n > 0 => tracing::info!(runs = n, "old job runs pruned"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "pruning job runs failed"),
                }
            }
            ticks += 1;
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Rebuilds the plan from the enabled installs of active tenants (a
    /// suspended tenant's jobs stop), keeping what it knew of jobs that stay.
    async fn replan(&mut self) -> Result<(), ModuleError> {
        let installs: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT i.tenant_id, i.module, i.sha256, i.updated_at FROM module_installs i \
             JOIN tenants t ON t.id = i.tenant_id WHERE i.status = 'enabled' AND t.status = 'active'",
        )
        .fetch_all(self.db.pool())
        .await?;
        let mut fired: HashMap<Key, DateTime<Utc>> = HashMap::new();
        for (key, at) in runs::last_fires(&self.db).await? {
            if let Some(t) = try_parse_time(&at) {
                fired.insert(key, t);
            }
        }
        let mut plan = HashMap::new();
        for (tenant, name, sha256, enabled_at) in installs {
            let module = match self.modules.load_sha(&sha256).await {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(tenant, module = name, error = %e, "jobs of a module that cannot load are skipped");
                    continue;
                }
            };
            let enabled_at = try_parse_time(&enabled_at).unwrap_or_else(Utc::now);
            for (i, job) in module.jobs.iter().enumerate() {
                let key = (tenant.clone(), name.clone(), job.name.clone());
                // Fires before the module was (re-)enabled are not owed.
                let mut last = fired.get(&key).copied().unwrap_or(enabled_at).max(enabled_at);
                if let Some(old) = self.plan.get(&key) {
                    last = last.max(old.last);
                }
                let next = job.schedule.next_after(last);
                plan.insert(key, Planned { module: Arc::clone(&module), job: i, last, next });
            }
        }
        self.plan = plan;
        Ok(())
    }

    /// Takes every fire that is due and runs it in the background.
    async fn fire_due(&mut self) {
        let now = Utc::now();
        for ((tenant, module_name, job_name), planned) in self.plan.iter_mut() {
            if planned.next.is_none_or(|n| n > now) {
                continue;
            }
            let job = &planned.module.jobs[planned.job];
            let Some(fire) = job.schedule.latest_due(planned.last, now) else {
                planned.next = job.schedule.next_after(planned.last);
                continue;
            };
            planned.last = fire;
            planned.next = job.schedule.next_after(fire);
            let lease_until = now + crate::runtime::limits::lease(job.deadline);
            let fire_time = format_time_secs(fire);
            let claim = runs::claim(
                &self.db,
                &NewRun {
                    tenant,
                    module: module_name,
                    job: job_name,
                    version: planned.module.version(),
                    fire_time: &fire_time,
                    trigger: "schedule",
                    lease_until,
                },
            )
            .await;
            match claim {
                Ok(Some(run_id)) => {
                    let (modules, db, metrics) =
                        (Arc::clone(&self.modules), self.db.clone(), Arc::clone(&self.metrics));
                    let module = Arc::clone(&planned.module);
                    let (tenant, job) = (tenant.clone(), job.clone());
                    tokio::spawn(async move {
                        execute(&modules, &db, &metrics, &module, &tenant, &job, &fire_time, &run_id).await;
                    });
                }
                // Another process took this fire.
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(tenant, module = module_name, job = job_name, error = %e, "a fire could not be taken")
                }
            }
        }
    }

    /// Runs again the fires whose process died while running them.
    async fn take_over_abandoned(&self) {
        let now = Utc::now();
        let lost = match runs::abandoned(&self.db, now).await {
            Ok(lost) => lost,
            Err(e) => {
                tracing::warn!(error = %e, "abandoned job runs not read");
                return;
            }
        };
        for run in lost {
            let found = self.modules.enabled(&run.tenant).await.ok().and_then(|active| {
                let module = active.get(&run.module)?.module.as_ref().ok()?.clone();
                let job = module.jobs.iter().find(|j| j.name == run.job)?.clone();
                Some((module, job))
            });
            let Some((module, job)) = found.filter(|_| run.attempts < MAX_ATTEMPTS) else {
                let why = if run.attempts >= MAX_ATTEMPTS {
                    format!("given up: its host process stopped during each of {} runs", run.attempts)
                } else {
                    "the module or job is no longer enabled".to_owned()
                };
                if let Err(e) = runs::finish(&self.db, &run.id, Some(&why)).await {
                    tracing::warn!(error = %e, "an abandoned job run could not be closed");
                }
                continue;
            };
            match runs::take_over(
                &self.db,
                &run,
                module.version(),
                now,
                now + crate::runtime::limits::lease(job.deadline),
            )
            .await
            {
                Ok(true) => {
                    tracing::info!(tenant = %run.tenant, module = %run.module, job = %run.job, fire = %run.fire_time, "running a fire whose process stopped");
                    let (modules, db, metrics) =
                        (Arc::clone(&self.modules), self.db.clone(), Arc::clone(&self.metrics));
                    tokio::spawn(async move {
                        execute(&modules, &db, &metrics, &module, &run.tenant, &job, &run.fire_time, &run.id).await;
                    });
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "an abandoned job run could not be taken over"),
            }
        }
    }
}

/// Runs `job` of `module` for `tenant` now (a tenant admin asked), waits
/// for it and returns the run.
pub async fn run_now(
    modules: &Arc<Modules>,
    db: &Db,
    metrics: &Arc<Metrics>,
    actor: &crate::audit::Actor,
    tenant: &str,
    module_name: &str,
    job_name: &str,
) -> Result<JobRunRecord, JobError> {
    let active = modules.enabled(tenant).await?;
    let module = active
        .get(module_name)
        .ok_or_else(|| ModuleError::NotEnabled { tenant: tenant.into(), module: module_name.into() })?
        .module
        .clone()
        .map_err(|e| ModuleError::Refused(format!("module {module_name:?} cannot run: {e}")))?;
    let job = module
        .jobs
        .iter()
        .find(|j| j.name == job_name)
        .ok_or_else(|| JobError::UnknownJob { module: module_name.into(), job: job_name.into() })?
        .clone();
    let now = Utc::now();
    let fire_time = format_time(now);
    let run = NewRun {
        tenant,
        module: module_name,
        job: job_name,
        version: module.version(),
        fire_time: &fire_time,
        trigger: "manual",
        lease_until: now + crate::runtime::limits::lease(job.deadline),
    };
    let Some(run_id) = runs::claim(db, &run).await? else {
        return Err(JobError::Collision { module: module_name.into(), job: job_name.into() });
    };
    let mut conn = db.pool().acquire().await.map_err(DbError::from)?;
    let detail = serde_json::json!({ "module": module_name, "job": job_name, "run_id": run_id });
    crate::audit::record(&mut conn, actor, "job.run", Some(tenant), detail).await?;
    drop(conn);
    execute(modules, db, metrics, &module, tenant, &job, &fire_time, &run_id).await;
    Ok(runs::get(db, tenant, &run_id).await?.ok_or(DbError::Sqlx(sqlx::Error::RowNotFound))?)
}

/// Calls `run-job` and records the outcome.
#[allow(clippy::too_many_arguments)]
async fn execute(
    modules: &Modules,
    db: &Db,
    metrics: &Metrics,
    module: &LoadedModule,
    tenant: &str,
    job: &JobSpec,
    fire_time: &str,
    run_id: &str,
) {
    let run = JobRun { name: job.name.clone(), fire_time: fire_time.to_owned(), run_id: run_id.to_owned() };
    let error = match modules.run_job(module, tenant, run, job.deadline).await {
        Ok(Ok(())) => None,
        Ok(Err(reason)) => Some(format!("the job failed: {reason}")),
        Err(e) => Some(format!("the call failed: {e}")),
    };
    metrics.job_run(module.name(), &job.name, if error.is_some() { "failed" } else { "succeeded" });
    if let Some(e) = &error {
        tracing::warn!(tenant, module = module.name(), job = %job.name, fire_time, error = %e, "job run failed");
    }
    if let Err(e) = runs::finish(db, run_id, error.as_deref()).await {
        tracing::warn!(tenant, module = module.name(), job = %job.name, error = %e, "job run outcome not recorded");
    }
}

/// Scheduled fire times are whole seconds: one spelling per fire, for the unique key.
fn format_time_secs(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A tenant's jobs with their next fire, for the API.
#[derive(Debug, Clone, poem_openapi::Object)]
pub struct JobInfo {
    pub module: String,
    pub job: String,
    /// The cron expression, as the module declared it.
    pub schedule: String,
    /// IANA time zone of the schedule.
    pub timezone: String,
    pub deadline_ms: u64,
    /// RFC 3339, UTC.
    pub next_fire: Option<String>,
}

/// The jobs of a tenant's enabled modules.
pub async fn list(modules: &Modules, tenant: &str) -> Result<Vec<JobInfo>, ModuleError> {
    let active = modules.enabled(tenant).await?;
    let now = Utc::now();
    let mut out = Vec::new();
    for module in active.loaded() {
        for spec in &module.jobs {
            out.push(JobInfo {
                module: module.name().to_owned(),
                job: spec.name.clone(),
                schedule: spec.expression.clone(),
                timezone: spec.timezone.clone().unwrap_or_else(|| "UTC".into()),
                deadline_ms: u64::try_from(spec.deadline.as_millis()).unwrap_or(u64::MAX),
                next_fire: spec.schedule.next_after(now).map(format_time_secs),
            });
        }
    }
    Ok(out)
}
