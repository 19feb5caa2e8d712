//! The notifications module's SQL.

use plaza_sdk::listing::{self, PageRequest};
use plaza_sdk::prelude::*;
use plaza_sdk::sql::Value;
use plaza_sdk::{Problem, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::NewDevice;
use crate::rules::{Audience, Checked, Reader};

/// A notification, as its reader sees it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Notification {
    pub id: i64,
    /// The member it was sent to, or
    pub user_id: Option<String>,
    /// the role it was sent to.
    pub role: Option<String>,
    pub title: String,
    pub body: String,
    /// What it is about, e.g. `info`, `expediente-moved`.
    #[serde(rename(serialize = "type", deserialize = "kind"))]
    pub kind: String,
    pub action_url: Option<String>,
    /// `api` or `event`.
    pub source: String,
    /// The user who sent it, or the module whose event raised it.
    pub sent_by: Option<String>,
    /// Whether the reader has read it.
    #[serde(default, deserialize_with = "as_bool")]
    pub read: bool,
    /// RFC 3339 UTC.
    pub created_at: String,
}

/// A registered browser.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Device {
    pub id: i64,
    pub label: Option<String>,
    /// The push service's host (the full endpoint is a secret of sorts).
    #[serde(skip_deserializing)]
    pub push_service: String,
    #[serde(skip_serializing)]
    pub endpoint: String,
    #[serde(skip_serializing)]
    pub p256dh: String,
    #[serde(skip_serializing)]
    pub auth: String,
    pub created_at: String,
}

/// `0`/`1` (SQLite) or a boolean (PostgreSQL).
fn as_bool<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<bool, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => b,
        serde_json::Value::Number(n) => n.as_i64().unwrap_or(0) != 0,
        _ => false,
    })
}

const COLUMNS: &str =
    "n.id, n.user_id, n.role, n.title, n.body, n.kind, n.action_url, n.source, n.sent_by, n.created_at";

/// `… WHERE` the reader may see `n` (theirs, or their role's, not hidden),
/// with the parameters it uses: `$1` the reader's id, then the roles.
fn visible_to(reader: &Reader) -> (String, Vec<Value>) {
    let mut params: Vec<Value> = vec![reader.user.clone().into()];
    let roles = if reader.roles.is_empty() {
        "FALSE".to_owned()
    } else {
        let marks: Vec<String> = reader
            .roles
            .iter()
            .map(|r| {
                params.push(r.clone().into());
                format!("${}", params.len())
            })
            .collect();
        format!("n.role IN ({})", marks.join(", "))
    };
    let clause = format!(
        "(n.user_id = $1 OR {roles}) AND NOT EXISTS \
         (SELECT 1 FROM hidden h WHERE h.notification_id = n.id AND h.user_id = $1)"
    );
    (clause, params)
}

const UNREAD: &str = "NOT EXISTS (SELECT 1 FROM reads r WHERE r.notification_id = n.id AND r.user_id = $1)";

pub fn insert(c: &Checked, source: &str, sent_by: Option<&str>, event_id: Option<&str>) -> Result<Notification> {
    let (user, role) = match &c.audience {
        Audience::User(u) => (Some(u.clone()), None),
        Audience::Role(r) => (None, Some(r.clone())),
    };
    let created_at = time::now_rfc3339();
    let rows = sql::query(
        "INSERT INTO notifications (user_id, role, title, body, kind, action_url, source, sent_by, event_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        &params![
            user.clone(),
            role.clone(),
            &c.title,
            &c.body,
            &c.kind,
            c.action_url.clone(),
            source,
            sent_by,
            event_id,
            &created_at
        ],
    )?;
    let id = rows.get(0, "id").and_then(Value::as_i64).ok_or_else(|| Error::invalid("no id returned"))?;
    Ok(Notification {
        id,
        user_id: user,
        role,
        title: c.title.clone(),
        body: c.body.clone(),
        kind: c.kind.clone(),
        action_url: c.action_url.clone(),
        source: source.to_owned(),
        sent_by: sent_by.map(str::to_owned),
        read: false,
        created_at,
    })
}

pub fn event_seen(event_id: &str) -> Result<bool> {
    Ok(!sql::query("SELECT 1 AS one FROM notifications WHERE event_id = $1", &params![event_id])?.is_empty())
}

/// A notification and its audience, for pushing.
pub fn with_audience(id: i64) -> Result<Option<(Notification, Audience)>> {
    let n: Option<Notification> =
        sql::query_one_as(&format!("SELECT {COLUMNS} FROM notifications n WHERE n.id = $1"), &params![id])?;
    Ok(n.and_then(|n| {
        let audience = match (&n.user_id, &n.role) {
            (Some(u), _) => Audience::User(u.clone()),
            (None, Some(r)) => Audience::Role(r.clone()),
            (None, None) => return None,
        };
        Some((n, audience))
    }))
}

pub fn list(
    reader: &Reader,
    unread_only: bool,
    page: PageRequest,
) -> std::result::Result<(Vec<Notification>, i64), Problem> {
    let (visible, mut params) = visible_to(reader);
    let unread = if unread_only { format!(" AND {UNREAD}") } else { String::new() };
    let from_where = format!("FROM notifications n WHERE {visible}{unread}");
    let total = listing::count(&format!("SELECT COUNT(*) AS n {from_where}"), &params)?;
    let n = params.len();
    params.push(page.per_page.into());
    params.push(page.offset().into());
    let items = sql::query_as(
        &format!(
            "SELECT {COLUMNS}, CASE WHEN {UNREAD} THEN 0 ELSE 1 END AS read {from_where} \
             ORDER BY n.id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        ),
        &params,
    )?;
    Ok((items, total))
}

pub fn unread_count(reader: &Reader) -> std::result::Result<i64, Problem> {
    let (visible, params) = visible_to(reader);
    listing::count(&format!("SELECT COUNT(*) AS n FROM notifications n WHERE {visible} AND {UNREAD}"), &params)
}

pub fn is_visible(reader: &Reader, id: i64) -> Result<bool> {
    let (visible, mut params) = visible_to(reader);
    params.push(id.into());
    let rows = sql::query(
        &format!("SELECT 1 AS one FROM notifications n WHERE {visible} AND n.id = ${}", params.len()),
        &params,
    )?;
    Ok(!rows.is_empty())
}

pub fn mark_read(reader: &Reader, id: i64) -> Result<()> {
    sql::execute(
        "INSERT INTO reads (notification_id, user_id, read_at) VALUES ($1, $2, $3) \
         ON CONFLICT (notification_id, user_id) DO NOTHING",
        &params![id, &reader.user, time::now_rfc3339()],
    )?;
    Ok(())
}

pub fn mark_unread(reader: &Reader, id: i64) -> Result<()> {
    sql::execute("DELETE FROM reads WHERE notification_id = $1 AND user_id = $2", &params![id, &reader.user])?;
    Ok(())
}

pub fn mark_all_read(reader: &Reader) -> Result<i64> {
    let (visible, mut params) = visible_to(reader);
    params.push(time::now_rfc3339().into());
    let n = sql::execute(
        &format!(
            "INSERT INTO reads (notification_id, user_id, read_at) \
             SELECT n.id, $1, ${} FROM notifications n WHERE {visible} AND {UNREAD}",
            params.len()
        ),
        &params,
    )?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Deletes a notification for its reader: the row when it was theirs alone,
/// else a mark that hides it from them.
pub fn delete_for(reader: &Reader, id: i64) -> Result<()> {
    let own = sql::execute("DELETE FROM notifications WHERE id = $1 AND user_id = $2", &params![id, &reader.user])?;
    if own == 0 {
        sql::execute(
            "INSERT INTO hidden (notification_id, user_id) VALUES ($1, $2) ON CONFLICT (notification_id, user_id) DO NOTHING",
            &params![id, &reader.user],
        )?;
    }
    Ok(())
}

const DEVICE_COLUMNS: &str = "id, label, endpoint, p256dh, auth, created_at";

fn with_service(mut d: Device) -> Device {
    d.push_service =
        url::Url::parse(&d.endpoint).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
    d
}

fn audience_filter(audience: &Audience) -> (&'static str, Value) {
    match audience {
        Audience::User(u) => ("user_id = $1", u.clone().into()),
        Audience::Role(r) => ("roles LIKE $1", format!("% {r} %").into()),
    }
}

pub fn has_devices(audience: &Audience) -> Result<bool> {
    let (clause, value) = audience_filter(audience);
    Ok(!sql::query(&format!("SELECT 1 AS one FROM devices WHERE {clause} LIMIT 1"), &[value])?.is_empty())
}

pub fn devices_for(audience: &Audience, after: i64, limit: i64) -> Result<Vec<Device>> {
    let (clause, value) = audience_filter(audience);
    sql::query_as(
        &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE {clause} AND id > $2 ORDER BY id LIMIT $3"),
        &[value, after.into(), limit.into()],
    )
}

pub fn devices_of(user: &str) -> Result<Vec<Device>> {
    let devices: Vec<Device> =
        sql::query_as(&format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE user_id = $1 ORDER BY id"), &params![user])?;
    Ok(devices.into_iter().map(with_service).collect())
}

/// Stores a browser for the reader; a browser registered again (same
/// endpoint) is updated and becomes the reader's.
pub fn register(reader: &Reader, new: &NewDevice) -> Result<Device> {
    let rows = sql::query(
        "INSERT INTO devices (user_id, roles, endpoint, p256dh, auth, label, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, roles = excluded.roles, \
         p256dh = excluded.p256dh, auth = excluded.auth, label = excluded.label RETURNING id",
        &params![
            &reader.user,
            reader.roles_field(),
            &new.endpoint,
            &new.keys.p256dh,
            &new.keys.auth,
            new.label.clone(),
            time::now_rfc3339()
        ],
    )?;
    let id = rows.get(0, "id").and_then(Value::as_i64).ok_or_else(|| Error::invalid("no id returned"))?;
    let device: Option<Device> =
        sql::query_one_as(&format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1"), &params![id])?;
    device.map(with_service).ok_or_else(|| Error::invalid("the device was not stored"))
}

pub fn unregister(user: &str, id: i64) -> Result<bool> {
    Ok(sql::execute("DELETE FROM devices WHERE id = $1 AND user_id = $2", &params![id, user])? > 0)
}

pub fn forget_device(id: i64) -> Result<()> {
    sql::execute("DELETE FROM devices WHERE id = $1", &params![id])?;
    Ok(())
}
