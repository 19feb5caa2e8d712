//! The mail module's SQL: templates, and the history of what it sent with
//! the last delivery status it read from the host.

use plaza_sdk::listing::{self, Filter, Page, PageRequest};
use plaza_sdk::prelude::*;
use plaza_sdk::{Result, mail};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Outgoing;

/// Queued messages whose status one listing refreshes from the host, oldest first.
const REFRESH_BATCH: i64 = 20;

/// A template.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Template {
    pub name: String,
    pub description: String,
    /// Jinja syntax.
    pub subject: String,
    /// The plain-text part, Jinja syntax.
    pub text: Option<String>,
    /// The HTML part, Jinja syntax; values are HTML-escaped.
    pub html: Option<String>,
    /// The admin who saved it last.
    pub updated_by: Option<String>,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

const TEMPLATE_COLUMNS: &str =
    "name, description, subject, text_body AS text, html_body AS html, updated_by, updated_at";

/// A sent message, with its delivery status.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SentItem {
    /// The host's message id.
    pub id: String,
    /// Every recipient (to, cc and bcc), space-separated.
    pub recipients: String,
    pub subject: String,
    /// The template it was rendered from, if any.
    pub template: Option<String>,
    /// `api` or `event`.
    pub source: String,
    /// The user who sent it through the API, or the module that asked by event.
    pub sent_by: Option<String>,
    /// `queued`, `sent` or `failed`.
    pub state: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// The relay's last error reply.
    pub last_error: Option<String>,
    /// RFC 3339 UTC, once the relay accepted it.
    pub sent_at: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
}

const SENT_COLUMNS: &str =
    "id, recipients, subject, template, source, sent_by, state, attempts, last_error, sent_at, created_at";

pub fn template(name: &str) -> Result<Option<Template>> {
    sql::query_one_as(&format!("SELECT {TEMPLATE_COLUMNS} FROM templates WHERE name = $1"), &params![name])
}

pub fn list_templates(page: PageRequest) -> Result<Page<Template>, Problem> {
    listing::paged(TEMPLATE_COLUMNS, "FROM templates", "name", &[], page)
}

pub fn save_template(t: &Template) -> Result<()> {
    sql::execute(
        "INSERT INTO templates (name, description, subject, text_body, html_body, updated_by, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO UPDATE SET description = excluded.description, \
         subject = excluded.subject, text_body = excluded.text_body, html_body = excluded.html_body, \
         updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        &params![
            &t.name,
            &t.description,
            &t.subject,
            t.text.clone(),
            t.html.clone(),
            t.updated_by.clone(),
            &t.updated_at
        ],
    )?;
    Ok(())
}

pub fn delete_template(name: &str) -> Result<bool> {
    Ok(sql::execute("DELETE FROM templates WHERE name = $1", &params![name])? > 0)
}

/// Whether the event `event_id` was sent already (deliveries are at least once).
pub fn event_sent(event_id: &str) -> Result<bool> {
    Ok(!sql::query("SELECT 1 AS one FROM sent WHERE event_id = $1", &params![event_id])?.is_empty())
}

/// Records a message the host queued as `id`.
pub fn record(id: &str, o: &Outgoing, source: &str, event_id: Option<&str>, sent_by: Option<&str>) -> Result<SentItem> {
    let r = &o.recipients;
    let recipients = r.to.iter().chain(&r.cc).chain(&r.bcc).map(|a| a.to_lowercase()).collect::<Vec<_>>().join(" ");
    let item = SentItem {
        id: id.to_owned(),
        recipients,
        subject: o.subject.clone(),
        template: o.template.clone(),
        source: source.to_owned(),
        sent_by: sent_by.map(str::to_owned),
        state: "queued".into(),
        attempts: 0,
        last_error: None,
        sent_at: None,
        created_at: time::now_rfc3339(),
    };
    sql::execute(
        "INSERT INTO sent (id, recipients, subject, template, source, event_id, sent_by, state, attempts, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $8)",
        &params![
            &item.id,
            &item.recipients,
            &item.subject,
            item.template.clone(),
            &item.source,
            event_id,
            item.sent_by.clone(),
            &item.created_at
        ],
    )?;
    Ok(item)
}

pub fn sent_item(id: &str) -> Result<Option<SentItem>> {
    sql::query_one_as(&format!("SELECT {SENT_COLUMNS} FROM sent WHERE id = $1"), &params![id])
}

/// Reads a queued message's status from the host and stores it.
pub fn refresh(mut item: SentItem) -> Result<SentItem> {
    if item.state != "queued" {
        return Ok(item);
    }
    let delivery = match mail::status(&item.id) {
        Ok(d) => d,
        // Pruned by the host (after 30 days): keep what was known.
        Err(e) if e.is_not_found() => return Ok(item),
        Err(e) => return Err(e),
    };
    item.state = mail::state_name(delivery.state).to_owned();
    item.attempts = i64::from(delivery.attempts);
    item.last_error = delivery.last_error;
    item.sent_at = delivery.sent_at;
    sql::execute(
        "UPDATE sent SET state = $1, attempts = $2, last_error = $3, sent_at = $4 WHERE id = $5",
        &params![&item.state, item.attempts, item.last_error.clone(), item.sent_at.clone(), &item.id],
    )?;
    Ok(item)
}

/// Refreshes the oldest queued messages, so a listing filtered by state is current.
pub fn refresh_queued() -> Result<()> {
    let queued: Vec<SentItem> = sql::query_as(
        &format!("SELECT {SENT_COLUMNS} FROM sent WHERE state = 'queued' ORDER BY created_at LIMIT $1"),
        &params![REFRESH_BATCH],
    )?;
    for item in queued {
        refresh(item)?;
    }
    Ok(())
}

/// The history, newest first, filtered by `state`, a recipient (`to`) or `template`.
pub fn list_sent(req: &Request, page: PageRequest) -> Result<Page<SentItem>, Problem> {
    let mut filter = Filter::default();
    if let Some(state) = req.query_param("state") {
        if !matches!(state, "queued" | "sent" | "failed") {
            return Err(plaza_sdk::validation::invalid("state", "`state` is queued, sent or failed"));
        }
        filter.add("state = ?", state.into());
    }
    if let Some(to) = req.query_param("to") {
        filter.words("recipients", &[to.trim().to_lowercase()]);
    }
    filter.eq(req, "template", "template");
    let (from_where, params) = filter.from("sent");
    listing::paged(SENT_COLUMNS, &from_where, "created_at DESC, id DESC", &params, page)
}
