//! The change feed: how one part of the host tells every host process that
//! what a tenant runs changed, without importing the part that listens.
//!
//! A change is a `module_changes` row written in the transaction of the
//! change itself and, on PostgreSQL, a `NOTIFY` on [`CHANNEL`] with the
//! tenant as payload. Lifecycle steps announce the module they changed;
//! tenancy announces `*` when the tenant itself changed (suspended, resumed,
//! deleted). The modules layer listens (`modules/active.rs`), and reads the
//! feed once a second as a safety net.

use sqlx::AnyConnection;

use crate::db::{Backend, Db, DbError};

/// The PostgreSQL channel changes are announced on (payload: the tenant).
pub const CHANNEL: &str = "plaza_modules";

/// Announces, inside the caller's transaction, that what `tenant` runs
/// changed: `module` is the module, or `*` for the tenant itself.
pub async fn announce(
    conn: &mut AnyConnection,
    backend: Backend,
    tenant: &str,
    module: &str,
    action: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO module_changes (tenant_id, module, action, changed_at) VALUES ($1, $2, $3, $4)")
        .bind(tenant)
        .bind(module)
        .bind(action)
        .bind(crate::db::now())
        .execute(&mut *conn)
        .await?;
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(tenant).execute(&mut *conn).await?;
    }
    Ok(())
}

/// The id of the newest change (0 when there is none).
pub async fn newest(db: &Db) -> Result<i64, DbError> {
    let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM module_changes").fetch_one(db.pool()).await?;
    Ok(newest.unwrap_or(0))
}

/// The tenants changed after change `after`, up to change `upto`.
pub async fn tenants_between(db: &Db, after: i64, upto: i64) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar("SELECT DISTINCT tenant_id FROM module_changes WHERE id > $1 AND id <= $2")
        .bind(after)
        .bind(upto)
        .fetch_all(db.pool())
        .await?)
}

/// Deletes the changes older than `keep` (a process away longer reloads
/// everything when it comes back: it starts with an empty view).
pub async fn prune(db: &Db, keep: chrono::TimeDelta) -> Result<(), DbError> {
    let before = crate::db::format_time(chrono::Utc::now() - keep);
    sqlx::query("DELETE FROM module_changes WHERE changed_at < $1").bind(before).execute(db.pool()).await?;
    Ok(())
}
