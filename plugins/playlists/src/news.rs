//! The news feed: producers write, admins approve or reject, everyone reads
//! the approved items. Admin-written items start pending too.

use plaza_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{self, Errors, Page, PageRequest};

const COLUMNS: &str = "id, title, body, status, owner_id, reason, reviewed_by, reviewed_at, created_at, updated_at";

pub const PENDING: &str = "pending";
pub const APPROVED: &str = "approved";
pub const REJECTED: &str = "rejected";
const STATUSES: [&str; 3] = [PENDING, APPROVED, REJECTED];

/// A news item.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct News {
    pub id: i64,
    pub title: String,
    pub body: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// The user who wrote it.
    pub owner_id: String,
    /// Why it was rejected (when it was).
    pub reason: Option<String>,
    /// The admin who approved or rejected it last.
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub updated_at: String,
}

/// A new news item.
#[derive(Deserialize, JsonSchema)]
pub struct NewNews {
    /// 1 to 200 characters.
    title: String,
    /// 1 to 20000 characters.
    body: String,
}

/// Changes to a news item: absent fields stay as they are.
#[derive(Deserialize, JsonSchema)]
pub struct NewsChanges {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    body: Option<String>,
}

/// The `status` filter of the admin listing.
#[derive(Deserialize)]
struct StatusQuery {
    status: Option<String>,
}

// ----- handlers -----

pub fn list(req: &Request) -> Result<Json<Page<News>>, Problem> {
    let page = PageRequest::from_request(req)?;
    common::paged(COLUMNS, "FROM news WHERE status = $1", "created_at DESC, id DESC", &params![APPROVED], page)
        .map(Json)
}

pub fn get(req: &Request) -> Result<Json<News>, Problem> {
    let id = common::id(req)?;
    match find(id)? {
        news if news.status == APPROVED => Ok(Json(news)),
        _ => Err(Problem::not_found().detail(format!("no news {id}"))),
    }
}

pub fn list_admin(req: &Request) -> Result<Json<Page<News>>, Problem> {
    let page = PageRequest::from_request(req)?;
    let StatusQuery { status } = req.query()?;
    let status = status.map(|s| check_status(&s)).transpose()?;
    let caller = req.caller();
    let owner = if common::is_admin(caller) { None } else { Some(common::user_id(caller)?) };
    let (filter, params) = match (owner, status) {
        (None, None) => ("FROM news", vec![]),
        (None, Some(s)) => ("FROM news WHERE status = $1", vec![s.into()]),
        (Some(o), None) => ("FROM news WHERE owner_id = $1", vec![o.into()]),
        (Some(o), Some(s)) => ("FROM news WHERE owner_id = $1 AND status = $2", vec![o.into(), s.into()]),
    };
    common::paged(COLUMNS, filter, "created_at DESC, id DESC", &params, page).map(Json)
}

pub fn create(req: &Request, Json(new): Json<NewNews>) -> Result<Created<News>, Problem> {
    let owner = common::user_id(req.caller())?;
    let (title, body) = check(&new.title, &new.body)?;
    insert(&title, &body, owner).map(Created)
}

pub fn update(req: &Request, Json(changes): Json<NewsChanges>) -> Result<Json<News>, Problem> {
    let news = owned(req)?;
    edit(news, changes, common::is_admin(req.caller())).map(Json)
}

pub fn approve(req: &Request) -> Result<Json<News>, Problem> {
    let id = common::id(req)?;
    review(id, APPROVED, None, common::user_id(req.caller())?).map(Json)
}

pub fn reject(req: &Request) -> Result<Json<News>, Problem> {
    let id = common::id(req)?;
    find(id)?;
    let reason = common::required_reason(req)?;
    review(id, REJECTED, Some(&reason), common::user_id(req.caller())?).map(Json)
}

pub fn delete(req: &Request) -> Result<NoContent, Problem> {
    let news = owned(req)?;
    sql::execute("DELETE FROM news WHERE id = $1", &params![news.id])?;
    Ok(NoContent)
}

/// The item of the path, if the caller may change it (404, 403).
fn owned(req: &Request) -> Result<News, Problem> {
    let news = find(common::id(req)?)?;
    common::ensure_owner(req.caller(), &news.owner_id, &format!("news {}", news.id))?;
    Ok(news)
}

// ----- logic -----

fn check_status(status: &str) -> Result<&'static str, Problem> {
    STATUSES
        .into_iter()
        .find(|s| *s == status)
        .ok_or_else(|| common::invalid("status", format!("`status` is one of {}, not `{status}`", STATUSES.join(", "))))
}

fn check(title: &str, body: &str) -> Result<(String, String), Problem> {
    let mut errors = Errors::default();
    let title = common::text(&mut errors, "title", title, 1, 200);
    let body = common::text(&mut errors, "body", body, 1, 20_000);
    errors.finish()?;
    Ok((title, body))
}

/// The item in any status, or 404.
pub fn find(id: i64) -> Result<News, Problem> {
    sql::query_one_as(&format!("SELECT {COLUMNS} FROM news WHERE id = $1"), &params![id])?
        .ok_or_else(|| Problem::not_found().detail(format!("no news {id}")))
}

fn insert(title: &str, body: &str, owner: &str) -> Result<News, Problem> {
    let now = time::now_rfc3339();
    let news: Option<News> = sql::query_one_as(
        &format!(
            "INSERT INTO news (title, body, status, owner_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING {COLUMNS}"
        ),
        &params![title, body, PENDING, owner, now],
    )?;
    news.ok_or_else(|| Problem::internal("INSERT … RETURNING gave no row"))
}

/// A producer edits while pending or rejected, and the item goes (back) to
/// pending; an admin edits in any status, which stays.
fn edit(news: News, changes: NewsChanges, admin: bool) -> Result<News, Problem> {
    let status = if admin {
        news.status.as_str()
    } else if news.status == APPROVED {
        return Err(Problem::conflict(format!("news {} is approved: only an admin may change it now", news.id))
            .with("current_status", news.status));
    } else {
        PENDING
    };
    let (title, body) =
        check(changes.title.as_deref().unwrap_or(&news.title), changes.body.as_deref().unwrap_or(&news.body))?;
    // Back to pending forgets the rejection's reason; an admin's edit keeps it.
    let reason = if status == PENDING { None } else { news.reason.as_deref() };
    let saved: Option<News> = sql::query_one_as(
        &format!(
            "UPDATE news SET title = $1, body = $2, status = $3, reason = $4, updated_at = $5 \
             WHERE id = $6 RETURNING {COLUMNS}"
        ),
        &params![title, body, status, reason, time::now_rfc3339(), news.id],
    )?;
    saved.ok_or_else(|| Problem::not_found().detail(format!("no news {}", news.id)))
}

/// Approves or rejects a pending item (409 from any other status).
fn review(id: i64, to: &str, reason: Option<&str>, by: &str) -> Result<News, Problem> {
    let now = time::now_rfc3339();
    let changed = sql::execute(
        "UPDATE news SET status = $1, reason = $2, reviewed_by = $3, reviewed_at = $4, updated_at = $4 \
         WHERE id = $5 AND status = $6",
        &params![to, reason, by, now.as_str(), id, PENDING],
    )?;
    let news = find(id)?;
    if changed == 0 {
        return Err(Problem::conflict(format!("news {id} is {}: only a pending item can become {to}", news.status))
            .with("current_status", news.status)
            .with("wanted_status", to));
    }
    if to == APPROVED {
        events::publish("playlists.news.approved", &serde_json::json!({ "id": id, "title": news.title }))?;
    }
    plaza_sdk::info!("news {id} {to} by {by}");
    Ok(news)
}
