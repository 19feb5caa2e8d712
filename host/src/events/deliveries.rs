//! The `event_deliveries` table: one row per (event, subscribing module),
//! its state, and the queries the dispatcher and the API need.
//!
//! Deliveries to one module of one tenant go strictly in event order: the
//! dispatcher only ever works on the oldest `pending` row of a queue, and a
//! process takes that row with a lease so that two processes never deliver
//! it at once. A row that failed waits for its back-off, holding the queue
//! (order over speed), until it succeeds or is parked as `dead`.

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, AssertSqlSafe};

use crate::db::{Db, DbError, format_time};

/// An event published by a module (or by the host, with source `plaza`).
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: String,
    pub tenant: String,
    pub source: String,
    pub event_type: String,
    pub payload: String,
    pub published_at: String,
}

/// Events not yet fanned out to their subscribers, oldest first.
pub async fn undispatched(db: &Db, limit: i64) -> Result<Vec<StoredEvent>, DbError> {
    let rows: Vec<(String, String, String, String, String, String)> = sqlx::query_as(
        "SELECT id, tenant_id, module, event_type, payload, published_at FROM event_outbox \
         WHERE dispatched = 0 ORDER BY id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(event_from_row).collect())
}

fn event_from_row(r: (String, String, String, String, String, String)) -> StoredEvent {
    StoredEvent { id: r.0, tenant: r.1, source: r.2, event_type: r.3, payload: r.4, published_at: r.5 }
}

/// One event by id.
pub async fn event(db: &Db, id: &str) -> Result<Option<StoredEvent>, DbError> {
    let row: Option<(String, String, String, String, String, String)> = sqlx::query_as(
        "SELECT id, tenant_id, module, event_type, payload, published_at FROM event_outbox WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(event_from_row))
}

/// Marks `event` fanned out and queues it for `subscribers`, in one
/// transaction. False when another process did it first.
pub async fn fan_out(db: &Db, event: &StoredEvent, subscribers: &[String]) -> Result<bool, DbError> {
    let mut tx = db.begin().await?;
    let marked = sqlx::query("UPDATE event_outbox SET dispatched = 1 WHERE id = $1 AND dispatched = 0")
        .bind(&event.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if marked == 0 {
        return Ok(false);
    }
    let now = crate::db::now();
    for module in subscribers {
        sqlx::query(
            "INSERT INTO event_deliveries (event_id, tenant_id, module, status, attempts, next_attempt_at, updated_at) \
             VALUES ($1, $2, $3, 'pending', 0, $4, $4) ON CONFLICT (event_id, module) DO NOTHING",
        )
        .bind(&event.id)
        .bind(&event.tenant)
        .bind(module)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Queues with pending deliveries: (tenant, module). A suspended tenant's
/// queues wait until it is resumed.
pub async fn pending_queues(db: &Db) -> Result<Vec<(String, String)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT DISTINCT d.tenant_id, d.module FROM event_deliveries d JOIN tenants t ON t.id = d.tenant_id \
         WHERE d.status = 'pending' AND t.status = 'active' ORDER BY d.tenant_id, d.module",
    )
    .fetch_all(db.pool())
    .await?)
}

/// The head of a queue: its oldest pending delivery.
#[derive(Debug, Clone)]
pub struct Head {
    pub event_id: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub lease_until: Option<String>,
}

pub async fn head(db: &Db, tenant: &str, module: &str) -> Result<Option<Head>, DbError> {
    let row: Option<(String, i64, String, Option<String>)> = sqlx::query_as(
        "SELECT event_id, attempts, next_attempt_at, lease_until FROM event_deliveries \
         WHERE tenant_id = $1 AND module = $2 AND status = 'pending' ORDER BY event_id LIMIT 1",
    )
    .bind(tenant)
    .bind(module)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|r| Head { event_id: r.0, attempts: r.1, next_attempt_at: r.2, lease_until: r.3 }))
}

/// Takes the head for one attempt, unless another process holds it.
pub async fn take(
    db: &Db,
    module: &str,
    head: &Head,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<bool, DbError> {
    let taken = sqlx::query(
        "UPDATE event_deliveries SET attempts = attempts + 1, lease_until = $3, updated_at = $4 \
         WHERE event_id = $1 AND module = $2 AND status = 'pending' AND attempts = $5 \
         AND (lease_until IS NULL OR lease_until < $4)",
    )
    .bind(&head.event_id)
    .bind(module)
    .bind(format_time(lease_until))
    .bind(format_time(now))
    .bind(head.attempts)
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(taken == 1)
}

/// How an attempt ended.
pub enum Attempt<'a> {
    Delivered,
    /// Failed; try again at the given time.
    Retry(&'a str, DateTime<Utc>),
    /// Failed for the last time: parked until an admin retries it.
    Dead(&'a str),
}

pub async fn settle(db: &Db, event_id: &str, module: &str, attempt: Attempt<'_>) -> Result<(), DbError> {
    let now = crate::db::now();
    let (status, error, next, delivered) = match attempt {
        Attempt::Delivered => ("delivered", None, now.clone(), Some(now.clone())),
        Attempt::Retry(e, at) => ("pending", Some(e), format_time(at), None),
        Attempt::Dead(e) => ("dead", Some(e), now.clone(), None),
    };
    sqlx::query(
        "UPDATE event_deliveries SET status = $3, last_error = $4, next_attempt_at = $5, delivered_at = $6, \
         lease_until = NULL, updated_at = $7 WHERE event_id = $1 AND module = $2 AND status = 'pending'",
    )
    .bind(event_id)
    .bind(module)
    .bind(status)
    .bind(error)
    .bind(next)
    .bind(delivered)
    .bind(&now)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Gives an attempt back untried (the module is not enabled any more).
pub async fn release(db: &Db, event_id: &str, module: &str) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE event_deliveries SET attempts = attempts - 1, lease_until = NULL \
         WHERE event_id = $1 AND module = $2 AND status = 'pending'",
    )
    .bind(event_id)
    .bind(module)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// One delivery with its event, as the API lists it.
#[derive(Debug, Clone, poem_openapi::Object)]
pub struct Delivery {
    pub event_id: String,
    pub event_type: String,
    /// The publishing module (`plaza` for the host's own events).
    pub source: String,
    /// The event's payload (JSON).
    pub payload: serde_json::Value,
    /// RFC 3339, UTC.
    pub published_at: String,
    /// The subscribing module.
    pub module: String,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// When a pending delivery is tried next (RFC 3339, UTC).
    pub next_attempt_at: String,
    pub delivered_at: Option<String>,
}

type DeliveryRow =
    (String, String, String, String, String, String, String, i64, Option<String>, String, Option<String>);

const DELIVERY_COLUMNS: &str = "d.event_id, e.event_type, e.module, e.payload, e.published_at, d.module, d.status, \
                                d.attempts, d.last_error, d.next_attempt_at, d.delivered_at";

fn delivery_from_row(r: DeliveryRow) -> Delivery {
    Delivery {
        event_id: r.0,
        event_type: r.1,
        source: r.2,
        payload: serde_json::from_str(&r.3).unwrap_or(serde_json::Value::String(r.3)),
        published_at: r.4,
        module: r.5,
        status: r.6,
        attempts: r.7,
        last_error: r.8,
        next_attempt_at: r.9,
        delivered_at: r.10,
    }
}

/// A tenant's deliveries, newest event first, filtered by status and module.
pub async fn list(
    db: &Db,
    tenant: &str,
    status: Option<&str>,
    module: Option<&str>,
    limit: i64,
) -> Result<Vec<Delivery>, DbError> {
    let rows: Vec<DeliveryRow> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM event_deliveries d JOIN event_outbox e ON e.id = d.event_id \
         WHERE d.tenant_id = $1 AND ($2 = '' OR d.status = $2) AND ($3 = '' OR d.module = $3) \
         ORDER BY d.event_id DESC, d.module LIMIT $4"
    )))
    .bind(tenant)
    .bind(status.unwrap_or(""))
    .bind(module.unwrap_or(""))
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(delivery_from_row).collect())
}

/// Puts a tenant's dead deliveries of `event_id` (to `module`, or to every
/// module) back in their queues, to be tried at once. Returns them (none:
/// there was no such dead delivery).
pub async fn retry_dead(
    db: &Db,
    actor: &crate::audit::Actor,
    tenant: &str,
    event_id: &str,
    module: Option<&str>,
) -> Result<Vec<Delivery>, DbError> {
    let mut tx = db.begin().await?;
    let retried = sqlx::query(
        "UPDATE event_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $4, lease_until = NULL, \
         updated_at = $4 WHERE tenant_id = $1 AND event_id = $2 AND ($3 = '' OR module = $3) AND status = 'dead'",
    )
    .bind(tenant)
    .bind(event_id)
    .bind(module.unwrap_or(""))
    .bind(crate::db::now())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if retried == 0 {
        return Ok(Vec::new());
    }
    let detail = serde_json::json!({ "event_id": event_id, "module": module, "deliveries": retried });
    crate::audit::record(&mut tx, actor, "event.retry", Some(tenant), detail).await?;
    tx.commit().await?;
    let rows: Vec<DeliveryRow> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM event_deliveries d JOIN event_outbox e ON e.id = d.event_id \
         WHERE d.tenant_id = $1 AND d.event_id = $2 AND ($3 = '' OR d.module = $3) AND d.status = 'pending' \
         ORDER BY d.module"
    )))
    .bind(tenant)
    .bind(event_id)
    .bind(module.unwrap_or(""))
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(delivery_from_row).collect())
}

/// Deletes every delivery to `module` for `tenant` (the module was purged),
/// inside the caller's transaction; returns how many were not delivered yet.
pub async fn drop_for_module(conn: &mut AnyConnection, tenant: &str, module: &str) -> Result<u64, DbError> {
    let (undelivered,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM event_deliveries WHERE tenant_id = $1 AND module = $2 AND status <> 'delivered'",
    )
    .bind(tenant)
    .bind(module)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM event_deliveries WHERE tenant_id = $1 AND module = $2")
        .bind(tenant)
        .bind(module)
        .execute(&mut *conn)
        .await?;
    Ok(u64::try_from(undelivered).unwrap_or(0))
}

/// Deletes events older than `before` whose deliveries are all done (their
/// delivered rows go with them). Dead or pending ones are kept.
pub async fn prune(db: &Db, before: DateTime<Utc>) -> Result<u64, DbError> {
    Ok(sqlx::query(
        "DELETE FROM event_outbox WHERE dispatched = 1 AND published_at < $1 AND NOT EXISTS \
         (SELECT 1 FROM event_deliveries d WHERE d.event_id = event_outbox.id AND d.status <> 'delivered')",
    )
    .bind(format_time(before))
    .execute(db.pool())
    .await?
    .rows_affected())
}

/// Writes a host event (source `plaza`: `module.enabled`, `member.added`…)
/// to the outbox inside the caller's transaction.
pub async fn publish_host_event(
    conn: &mut AnyConnection,
    tenant: &str,
    event_type: &str,
    payload: &serde_json::Value,
) -> Result<String, DbError> {
    let id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO event_outbox (id, tenant_id, module, event_type, payload, request_id, published_at) \
         VALUES ($1, $2, 'plaza', $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(tenant)
    .bind(event_type)
    .bind(payload.to_string())
    .bind(crate::context::request_id())
    .bind(crate::db::now())
    .execute(conn)
    .await?;
    Ok(id)
}
