//! The `job_runs` table: taking a fire, finishing a run, taking over a run
//! whose process died, and listing a tenant's runs.

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use crate::db::{Db, DbError, format_time};

/// One run of a job, as the API lists it.
#[derive(Debug, Clone, poem_openapi::Object, serde::Serialize)]
pub struct JobRunRecord {
    pub id: String,
    pub module: String,
    pub job: String,
    /// RFC 3339, UTC: the fire this run is for (a manual run: when it was asked for).
    pub fire_time: String,
    /// `schedule` or `manual`.
    pub trigger: String,
    /// The module version that ran it.
    pub version: String,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    /// Why it failed.
    pub error: Option<String>,
    /// Runs started for this fire (more than one when a host process died mid-run).
    pub attempts: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
}

type RunRow = (String, String, String, String, String, String, String, Option<String>, i64, String, Option<String>);

const COLUMNS: &str = "id, module, job, fire_time, trigger, version, status, error, attempts, started_at, finished_at";

fn from_row(r: RunRow) -> JobRunRecord {
    JobRunRecord {
        id: r.0,
        module: r.1,
        job: r.2,
        fire_time: r.3,
        trigger: r.4,
        version: r.5,
        status: r.6,
        error: r.7,
        attempts: r.8,
        started_at: r.9,
        finished_at: r.10,
    }
}

/// What a new run is for.
pub struct NewRun<'a> {
    pub tenant: &'a str,
    pub module: &'a str,
    pub job: &'a str,
    pub version: &'a str,
    pub fire_time: &'a str,
    pub trigger: &'a str,
    pub lease_until: DateTime<Utc>,
}

/// Takes a fire: inserts its row unless some process already did. Returns
/// the run's id when this caller took it.
pub async fn claim(db: &Db, run: &NewRun<'_>) -> Result<Option<String>, DbError> {
    let id = uuid::Uuid::now_v7().to_string();
    let taken = sqlx::query(
        "INSERT INTO job_runs (id, tenant_id, module, job, fire_time, trigger, version, status, attempts, \
         started_at, lease_until) VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', 1, $8, $9) \
         ON CONFLICT (tenant_id, module, job, fire_time) DO NOTHING",
    )
    .bind(&id)
    .bind(run.tenant)
    .bind(run.module)
    .bind(run.job)
    .bind(run.fire_time)
    .bind(run.trigger)
    .bind(run.version)
    .bind(crate::db::now())
    .bind(format_time(run.lease_until))
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok((taken == 1).then_some(id))
}

/// A run left `running` by a process that died.
#[derive(Debug, Clone)]
pub struct Abandoned {
    pub id: String,
    pub tenant: String,
    pub module: String,
    pub job: String,
    pub fire_time: String,
    pub attempts: i64,
}

/// Runs still `running` whose lease has passed.
pub async fn abandoned(db: &Db, now: DateTime<Utc>) -> Result<Vec<Abandoned>, DbError> {
    let rows: Vec<(String, String, String, String, String, i64)> = sqlx::query_as(
        "SELECT id, tenant_id, module, job, fire_time, attempts FROM job_runs \
         WHERE status = 'running' AND lease_until < $1 ORDER BY started_at LIMIT 100",
    )
    .bind(format_time(now))
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Abandoned { id: r.0, tenant: r.1, module: r.2, job: r.3, fire_time: r.4, attempts: r.5 })
        .collect())
}

/// Takes over an abandoned run, unless another process just did.
pub async fn take_over(
    db: &Db,
    run: &Abandoned,
    version: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<bool, DbError> {
    let taken = sqlx::query(
        "UPDATE job_runs SET attempts = attempts + 1, version = $2, started_at = $3, lease_until = $4 \
         WHERE id = $1 AND status = 'running' AND attempts = $5 AND lease_until < $3",
    )
    .bind(&run.id)
    .bind(version)
    .bind(format_time(now))
    .bind(format_time(lease_until))
    .bind(run.attempts)
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(taken == 1)
}

/// Records how a run ended.
pub async fn finish(db: &Db, id: &str, error: Option<&str>) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE job_runs SET status = $2, error = $3, finished_at = $4, lease_until = NULL \
         WHERE id = $1 AND status = 'running'",
    )
    .bind(id)
    .bind(if error.is_some() { "failed" } else { "succeeded" })
    .bind(error)
    .bind(crate::db::now())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The newest scheduled fire run (or taken) of every job, since `fire_time`
/// is where the next scheduled one is looked for.
pub async fn last_fires(db: &Db) -> Result<Vec<((String, String, String), String)>, DbError> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT tenant_id, module, job, MAX(fire_time) FROM job_runs WHERE trigger = 'schedule' \
         GROUP BY tenant_id, module, job",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(|r| ((r.0, r.1, r.2), r.3)).collect())
}

/// One run, if it belongs to `tenant`.
pub async fn get(db: &Db, tenant: &str, id: &str) -> Result<Option<JobRunRecord>, DbError> {
    let row: Option<RunRow> =
        sqlx::query_as(AssertSqlSafe(format!("SELECT {COLUMNS} FROM job_runs WHERE tenant_id = $1 AND id = $2")))
            .bind(tenant)
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(from_row))
}

/// A tenant's runs, newest first, optionally of one module or job.
pub async fn list(
    db: &Db,
    tenant: &str,
    module: Option<&str>,
    job: Option<&str>,
    limit: i64,
) -> Result<Vec<JobRunRecord>, DbError> {
    let rows: Vec<RunRow> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM job_runs WHERE tenant_id = $1 AND ($2 = '' OR module = $2) AND ($3 = '' OR job = $3) \
         ORDER BY started_at DESC, id DESC LIMIT $4"
    )))
    .bind(tenant)
    .bind(module.unwrap_or(""))
    .bind(job.unwrap_or(""))
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Deletes finished runs older than `before` (the history is kept bounded),
/// except each job's newest: the scheduler looks for the next fire after it.
pub async fn prune(db: &Db, before: DateTime<Utc>) -> Result<u64, DbError> {
    Ok(sqlx::query(
        "DELETE FROM job_runs WHERE status <> 'running' AND started_at < $1 AND EXISTS (SELECT 1 FROM job_runs n \
         WHERE n.tenant_id = job_runs.tenant_id AND n.module = job_runs.module AND n.job = job_runs.job \
         AND n.fire_time > job_runs.fire_time)",
    )
    .bind(format_time(before))
    .execute(db.pool())
    .await?
    .rows_affected())
}
