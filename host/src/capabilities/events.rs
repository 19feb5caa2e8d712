//! The `events` capability: domain events, published with the module's data.
//!
//! Inside a module transaction an event is written to the namespace's own
//! outbox (`_plaza_outbox`) in that transaction, so the event exists if and
//! only if the data does; once the transaction commits it is moved to the
//! host's `event_outbox`, where delivery (jobs and events) reads it. An event
//! published outside a transaction is kept until the call ends and written
//! only if the call succeeded.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sqlx::AssertSqlSafe;
use wasmtime::component::{HasSelf, Linker};

use super::sql::TxHook;
use super::sql::pool::{self, PoolError};
use super::{CallState, CapError, End, InitContext, InitError, Prepare, Scope, Services, Unit};
use crate::contract::{Capability, Manifest};
use crate::contract::plaza::module::events::{self as wit, Host};
use crate::db::DbError;

/// Events one call may publish.
const MAX_EVENTS_PER_CALL: usize = 100;
/// Size of one payload (JSON text).
const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// An event published by a call, not yet in the host's outbox.
#[derive(Debug, Clone)]
pub struct PendingEvent {
    pub id: String,
    pub event_type: String,
    pub payload: String,
    pub request_id: Option<String>,
    pub published_at: String,
}

/// Events published outside a transaction, kept until the call ends.
pub type Pending = Vec<PendingEvent>;

/// The `events` unit: nothing host-wide; per call, the events published
/// outside a transaction, written when the call succeeds.
pub struct Events;

impl Unit for Events {
    const CAPABILITY: Capability = Capability::Events;
    type Shared = ();
    type PerCall = Pending;

    type Grant = ();

    async fn init(_: &InitContext<'_>) -> Result<(), InitError> {
        Ok(())
    }

    fn configure(_: &Manifest) {}

    fn prepare(_: &(), _: &Prepare<'_>) -> Pending {
        Pending::new()
    }

    fn link<T: Send + 'static>(linker: &mut Linker<T>, get: fn(&mut T) -> &mut CallState) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<CallState>>(linker, get)
    }

    /// Events published outside a transaction are written if the call
    /// succeeded (after `sql`'s hook has rolled back an open transaction).
    async fn finish(pending: &mut Pending, end: &End<'_>) {
        let pending = std::mem::take(pending);
        if !end.success || pending.is_empty() {
            return;
        }
        if let Some(scope) = end.scope
            && let Err(e) = write_committed(end.services, scope, pending).await
        {
            tracing::error!(tenant = %scope.tenant, module = %scope.module(), error = %e, "events not written");
        }
    }
}

/// The events written to the namespace's outbox in the open transaction:
/// relayed to the host's outbox once it commits, forgotten if it rolls back.
#[derive(Default)]
struct Outbox(Vec<PendingEvent>);

impl TxHook for Outbox {
    fn committed<'a>(
        self: Box<Self>,
        services: &'a Arc<Services>,
        scope: &'a Scope,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(relay(services, scope, self.0))
    }
}

/// Writes an event into the namespace's outbox, in the open transaction.
const OUTBOX_INSERT: &str = "INSERT INTO _plaza_outbox (id, event_type, payload, request_id, published_at) \
                             VALUES ($1, $2, $3, $4, $5)";

/// Event types: `blog.post-published`, `hello.greeted`: dotted lower-case words.
pub fn valid_type(t: &str) -> bool {
    (3..=128).contains(&t.len())
        && t.as_bytes()[0].is_ascii_lowercase()
        && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'))
        && t.contains('.')
}

impl Host for CallState {
    async fn publish(&mut self, event_type: String, payload: String) -> Result<String, CapError> {
        let scope = self.scope_for(Capability::Events)?;
        if !valid_type(&event_type) {
            return Err(CapError::invalid(format!(
                "event type {event_type:?}: use dotted lower-case words such as \"{}.created\"",
                scope.module()
            )));
        }
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(CapError::limit(format!("an event payload may be {MAX_PAYLOAD_BYTES} bytes")));
        }
        if serde_json::from_str::<serde::de::IgnoredAny>(&payload).is_err() {
            return Err(CapError::invalid("the payload must be JSON text"));
        }
        let in_transaction = self.units.sql.hook::<Outbox>().map_or(0, |outbox| outbox.0.len());
        if self.units.events.len() + in_transaction >= MAX_EVENTS_PER_CALL {
            return Err(CapError::limit(format!("a call may publish {MAX_EVENTS_PER_CALL} events")));
        }
        let event = PendingEvent {
            id: uuid::Uuid::now_v7().to_string(),
            event_type,
            payload,
            request_id: Some(scope.request_id.clone()),
            published_at: crate::db::now(),
        };
        let id = event.id.clone();
        let sql = &mut self.units.sql;
        if sql.in_transaction() {
            let params = [
                Some(event.id.as_str()),
                Some(event.event_type.as_str()),
                Some(event.payload.as_str()),
                event.request_id.as_deref(),
                Some(event.published_at.as_str()),
            ];
            sql.execute_in_transaction(OUTBOX_INSERT, &params).await?;
            sql.hook_mut::<Outbox>()?.0.push(event);
        } else {
            self.units.events.push(event);
        }
        Ok(id)
    }
}

/// Writes events to the host's outbox in one transaction.
pub async fn write_committed(services: &Services, scope: &Scope, events: Vec<PendingEvent>) -> Result<(), DbError> {
    let mut tx = services.db.begin().await?;
    for e in &events {
        sqlx::query(
            "INSERT INTO event_outbox (id, tenant_id, module, event_type, payload, request_id, published_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&e.id)
        .bind(&scope.tenant)
        .bind(scope.module())
        .bind(&e.event_type)
        .bind(&e.payload)
        .bind(e.request_id.clone())
        .bind(&e.published_at)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// How long the relay's own statements on a namespace may run (host work,
/// after the module's transaction committed: not the call's deadline).
fn relay_deadline() -> std::time::Instant {
    std::time::Instant::now() + std::time::Duration::from_secs(10)
}

/// Moves events of a committed module transaction from the namespace's
/// outbox to the host's. The whole namespace outbox is moved, so events a
/// process left there (it stopped between the module's commit and this
/// step) go out with the next ones. A failure leaves them in the namespace's
/// outbox, where the next relay of that namespace finds them.
pub async fn relay(services: &Arc<Services>, scope: &Scope, events: Vec<PendingEvent>) {
    let ns = &services.sql;
    type Row = (String, String, String, Option<String>, String);
    const SELECT: &str =
        "SELECT id, event_type, payload, request_id, published_at FROM _plaza_outbox ORDER BY id LIMIT 1000";
    let stored: Result<Vec<Row>, String> = async {
        if let Ok(Some(mut conn)) = ns.sqlite_conn(&scope.tenant, scope.module(), relay_deadline()).await {
            // A commit of the namespace locks readers out for a moment.
            let read = || -> Result<Vec<Row>, PoolError> {
                let mut stmt = conn.db()?.prepare_cached(SELECT)?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            };
            pool::while_busy(relay_deadline(), read).await.map_err(|e| e.to_string())
        } else if let Ok(Some(crate::capabilities::sql::namespace::PgPlace { pool, names })) =
            ns.pg_place(&scope.tenant, scope.module()).await
        {
            let qualified = SELECT.replace("_plaza_outbox", &format!("{}._plaza_outbox", names.schema));
            sqlx::query_as(AssertSqlSafe(qualified)).fetch_all(&pool).await.map_err(|e| e.to_string())
        } else {
            Ok(Vec::new())
        }
    }
    .await;
    let events = match stored {
        Ok(rows) if !rows.is_empty() => rows
            .into_iter()
            .map(|(id, event_type, payload, request_id, published_at)| PendingEvent {
                id,
                event_type,
                payload,
                request_id,
                published_at,
            })
            .collect(),
        Ok(_) => events,
        Err(e) => {
            tracing::warn!(error = %e, "module outbox not read; relaying this call's events only");
            events
        }
    };
    let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    if let Err(e) = write_committed(services, scope, events).await {
        tracing::error!(tenant = %scope.tenant, module = %scope.module(), error = %e, "events stay in the module outbox");
        return;
    }
    let result: Result<(), String> = async {
        if let Ok(Some(conn)) = ns.sqlite_conn(&scope.tenant, scope.module(), relay_deadline()).await {
            // A write of the namespace: it takes its turn among the module's
            // writers (outside it, SQLite's busy handler lost to them again and
            // again while they wrote back to back), and one commit for all.
            let mut tx = conn.begin().await.map_err(|e| e.to_string())?;
            for id in &ids {
                tx.db().map_err(|e| e.to_string())?.execute("DELETE FROM _plaza_outbox WHERE id = ?1", [id]).map_err(|e| e.to_string())?;
            }
            tx.commit().await.map_err(|e| e.to_string())?;
        } else if let Ok(Some(crate::capabilities::sql::namespace::PgPlace { pool, names })) =
            ns.pg_place(&scope.tenant, scope.module()).await
        {
            let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
            for id in &ids {
                sqlx::query(AssertSqlSafe(format!("DELETE FROM {}._plaza_outbox WHERE id = $1", names.schema)))
                    .bind(id)
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "relayed events not removed from the module outbox (delivery dedupes by id)");
    }
}
