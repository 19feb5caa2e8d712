//! Each tenant's live stream: items modules address to a user or a role
//! (the `push` capability's `to-stream`), read by signed-in browsers as
//! server-sent events at `/t/{tenant}/stream` and resumed with
//! `Last-Event-ID`.
//!
//! Items are numbered per tenant. An append takes the next number by
//! updating the tenant's row of `stream_heads`, which stays locked until the
//! append commits, so a tenant's items become visible in number order: a
//! reader that saw item n and asks for what follows never misses an item
//! that committed late. Readers are woken in this process by [`Hub`]; items
//! appended by another process are found by a short poll.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::db::{Db, DbError, format_time};

/// Largest `data` of one item (JSON text).
pub const MAX_DATA_BYTES: usize = 16 * 1024;
/// How long items are kept for readers resuming after a disconnect.
const KEEP: TimeDelta = TimeDelta::days(7);
/// Items one read returns at most.
const PAGE: i64 = 200;
/// How often a reader looks for items appended by another process.
pub const POLL: Duration = Duration::from_secs(2);

/// Who an item is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    User(String),
    Role(String),
}

/// One item of a tenant's stream.
#[derive(Debug, Clone, Serialize, poem_openapi::Object)]
pub struct Item {
    /// Its number in the tenant's stream: the SSE `id`.
    pub id: i64,
    /// What it is, e.g. `notifications.created`: the SSE `event`.
    pub kind: String,
    /// The module that sent it.
    pub module: String,
    /// Its data, JSON.
    pub data: serde_json::Value,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// Readers one tenant may have connected to one process.
pub const MAX_READERS_PER_TENANT: usize = 200;

/// Wakes this process's readers when an item is appended here, and counts
/// each tenant's readers.
pub struct Hub {
    appended: broadcast::Sender<String>,
    readers: Arc<Mutex<HashMap<String, usize>>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self { appended: broadcast::channel(1024).0, readers: Arc::default() }
    }
}

/// A connected reader's place among its tenant's; given back on drop.
pub struct ReaderSlot {
    tenant: String,
    readers: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for ReaderSlot {
    fn drop(&mut self) {
        if let Ok(mut readers) = self.readers.lock()
            && let Some(n) = readers.get_mut(&self.tenant)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                readers.remove(&self.tenant);
            }
        }
    }
}

impl Hub {
    /// A place for one more reader of `tenant`, if it has fewer than
    /// [`MAX_READERS_PER_TENANT`] here: one tenant's open streams cannot
    /// take a process's connections and polls from the others.
    pub fn reader(&self, tenant: &str) -> Option<ReaderSlot> {
        let mut readers = self.readers.lock().ok()?;
        let n = readers.entry(tenant.to_owned()).or_insert(0);
        if *n >= MAX_READERS_PER_TENANT {
            return None;
        }
        *n += 1;
        Some(ReaderSlot { tenant: tenant.to_owned(), readers: Arc::clone(&self.readers) })
    }

    /// A receiver of the tenants whose streams grew.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.appended.subscribe()
    }

    /// Appends an item to `tenant`'s stream; returns its number.
    pub async fn append(
        &self,
        db: &Db,
        tenant: &str,
        module: &str,
        audience: &Audience,
        kind: &str,
        data: &str,
    ) -> Result<i64, DbError> {
        let (user, role) = match audience {
            Audience::User(u) => (Some(u.as_str()), None),
            Audience::Role(r) => (None, Some(r.as_str())),
        };
        let mut tx = db.begin().await?;
        let (seq,): (i64,) = sqlx::query_as(
            "INSERT INTO stream_heads (tenant_id, seq) VALUES ($1, 1) \
             ON CONFLICT (tenant_id) DO UPDATE SET seq = stream_heads.seq + 1 RETURNING seq",
        )
        .bind(tenant)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO stream_items (tenant_id, seq, user_id, role, module, kind, data, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(tenant)
        .bind(seq)
        .bind(user)
        .bind(role)
        .bind(module)
        .bind(kind)
        .bind(data)
        .bind(crate::db::now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        // No reader connected is no error.
        let _ = self.appended.send(tenant.to_owned());
        Ok(seq)
    }
}

/// The items of `tenant`'s stream after `after` that are for `user` or for
/// a role `holds` says the reader has (the host's role rule, from the
/// caller's layer), oldest first, at most a page; and the number read up to
/// (items for others are skipped, not read again).
pub async fn read(
    db: &Db,
    tenant: &str,
    user: &str,
    holds: &(dyn Fn(&str) -> bool + Send + Sync),
    after: i64,
) -> Result<(Vec<Item>, i64), DbError> {
    type Row = (i64, Option<String>, Option<String>, String, String, String, String);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT seq, user_id, role, module, kind, data, created_at FROM stream_items \
         WHERE tenant_id = $1 AND seq > $2 AND (user_id = $3 OR role IS NOT NULL) ORDER BY seq LIMIT $4",
    )
    .bind(tenant)
    .bind(after)
    .bind(user)
    .bind(PAGE)
    .fetch_all(db.pool())
    .await?;
    let read_to = rows.last().map_or(after, |r| r.0);
    let items = rows
        .into_iter()
        .filter(|(_, for_user, role, ..)| for_user.as_deref() == Some(user) || role.as_deref().is_some_and(holds))
        .map(|(id, _, _, module, kind, data, created_at)| Item {
            id,
            kind,
            module,
            data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
            created_at,
        })
        .collect();
    Ok((items, read_to))
}

/// The number of the tenant's newest item (0 for none): where a reader
/// without `Last-Event-ID` starts.
pub async fn head(db: &Db, tenant: &str) -> Result<i64, DbError> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT seq FROM stream_heads WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map_or(0, |(seq,)| seq))
}

/// Deletes items past [`KEEP`].
pub async fn prune(db: &Db) -> Result<u64, DbError> {
    let before = format_time(Utc::now() - KEEP);
    let done = sqlx::query("DELETE FROM stream_items WHERE created_at < $1").bind(before).execute(db.pool()).await?;
    Ok(done.rows_affected())
}
