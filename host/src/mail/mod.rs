//! Mail that modules send in a tenant's name (the `mail` capability of
//! `plaza:module@1.1`): the durable queue, the tenants' sender settings and
//! the delivery worker.
//!
//! A message is built whole when it is sent (the RFC 5322 bytes the relay
//! will get, attachments included, `Bcc` only in the envelope) and stored in
//! `mail_messages` before the send is acknowledged; the worker
//! ([`delivery`]) then hands it to the tenant's SMTP relay, or the
//! operator's, retrying transient failures with back-off until it is sent
//! or, after the last attempt, marked failed with the relay's reply.

pub mod delivery;
pub mod settings;

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use serde::Serialize;

use crate::db::{Db, DbError};

pub use delivery::Worker;

/// Recipients of one message (to, cc and bcc together).
pub const MAX_RECIPIENTS: usize = 50;
/// Size of one message, bodies and attachments together, before encoding.
pub const MAX_MESSAGE_BYTES: usize = 10 << 20;
/// Attachments of one message.
pub const MAX_ATTACHMENTS: usize = 20;
/// Longest subject, in characters.
const MAX_SUBJECT_CHARS: usize = 998;

/// Why a message could not be stored, or its status read.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The message itself is wrong: the sender's fault.
    #[error("{0}")]
    Invalid(String),
    /// The tenant's rate or daily quota is spent.
    #[error("{0}")]
    Limit(String),
    /// No relay is configured for the tenant, or the relay URL is unusable.
    #[error("{0}")]
    NoRelay(String),
    #[error("no such message")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for MailError {
    fn from(e: sqlx::Error) -> Self {
        MailError::Db(e.into())
    }
}

/// A file to attach, already read from the sending module's blobs.
pub struct AttachmentFile {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// A message as a module asks for it, before it is built.
pub struct Draft {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub reply_to: Option<String>,
    pub subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<AttachmentFile>,
}

/// Where a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Queued,
    Sent,
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Sent => "sent",
            State::Failed => "failed",
        }
    }

    fn parse(s: &str) -> State {
        match s {
            "sent" => State::Sent,
            "failed" => State::Failed,
            _ => State::Queued,
        }
    }
}

/// A message's delivery, as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub id: String,
    pub state: State,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

fn mailbox(what: &str, address: &str) -> Result<Mailbox, MailError> {
    address.parse().map_err(|e| MailError::Invalid(format!("{what} {address:?} is not a mail address: {e}")))
}

/// Builds the message from `draft` with the tenant's `from`: checks every
/// address and size, and returns it with the bytes of the message and its
/// envelope's recipients.
pub fn build(from: &Mailbox, draft: Draft) -> Result<(Vec<u8>, Vec<String>), MailError> {
    let recipients = draft.to.len() + draft.cc.len() + draft.bcc.len();
    if recipients == 0 {
        return Err(MailError::Invalid("give at least one recipient".into()));
    }
    if recipients > MAX_RECIPIENTS {
        return Err(MailError::Invalid(format!("a message may have {MAX_RECIPIENTS} recipients")));
    }
    if draft.subject.chars().count() > MAX_SUBJECT_CHARS || draft.subject.chars().any(char::is_control) {
        return Err(MailError::Invalid(format!(
            "the subject must be one line of at most {MAX_SUBJECT_CHARS} characters"
        )));
    }
    if draft.attachments.len() > MAX_ATTACHMENTS {
        return Err(MailError::Invalid(format!("a message may have {MAX_ATTACHMENTS} attachments")));
    }
    let size = draft.text.as_ref().map_or(0, String::len)
        + draft.html.as_ref().map_or(0, String::len)
        + draft.attachments.iter().map(|a| a.data.len()).sum::<usize>();
    if size > MAX_MESSAGE_BYTES {
        return Err(MailError::Limit(format!("a message may be {MAX_MESSAGE_BYTES} bytes, attachments included")));
    }
    let mut builder = Message::builder().from(from.clone()).subject(draft.subject);
    for to in &draft.to {
        builder = builder.to(mailbox("to", to)?);
    }
    for cc in &draft.cc {
        builder = builder.cc(mailbox("cc", cc)?);
    }
    for bcc in &draft.bcc {
        builder = builder.bcc(mailbox("bcc", bcc)?);
    }
    if let Some(reply_to) = &draft.reply_to {
        builder = builder.reply_to(mailbox("reply-to", reply_to)?);
    }
    let body = match (draft.text, draft.html) {
        (Some(text), Some(html)) => MultiPart::alternative_plain_html(text, html),
        (Some(text), None) => MultiPart::mixed().singlepart(SinglePart::plain(text)),
        (None, Some(html)) => MultiPart::mixed().singlepart(SinglePart::html(html)),
        (None, None) => return Err(MailError::Invalid("give a text or an HTML body".into())),
    };
    let message = if draft.attachments.is_empty() {
        builder.multipart(body)
    } else {
        let mut mixed = MultiPart::mixed().multipart(body);
        for file in draft.attachments {
            if file.filename.is_empty() || file.filename.len() > 255 || file.filename.chars().any(char::is_control) {
                return Err(MailError::Invalid("an attachment's file name must be 1 to 255 characters".into()));
            }
            let content_type = ContentType::parse(&file.content_type)
                .map_err(|_| MailError::Invalid(format!("{:?} is not a media type", file.content_type)))?;
            mixed = mixed.singlepart(Attachment::new(file.filename).body(file.data, content_type));
        }
        builder.multipart(mixed)
    }
    .map_err(|e| MailError::Invalid(e.to_string()))?;
    let recipients = message.envelope().to().iter().map(ToString::to_string).collect();
    Ok((message.formatted(), recipients))
}

/// A message ready to store.
pub struct Queued<'a> {
    pub tenant: &'a str,
    pub module: &'a str,
    pub sender: &'a str,
    pub subject: &'a str,
    pub recipients: &'a [String],
    pub raw: &'a [u8],
    pub request_id: Option<&'a str>,
}

/// Stores a message for delivery; returns its id. Once this returns, the
/// message survives a crash: the worker will deliver it.
pub async fn enqueue(db: &Db, message: Queued<'_>) -> Result<String, MailError> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = crate::db::now();
    let recipients = serde_json::to_string(message.recipients).map_err(|e| MailError::Invalid(e.to_string()))?;
    sqlx::query(
        "INSERT INTO mail_messages (id, tenant_id, module, state, sender, recipients, subject, raw, attempts, \
         next_attempt_at, request_id, created_at) VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, 0, $8, $9, $8)",
    )
    .bind(&id)
    .bind(message.tenant)
    .bind(message.module)
    .bind(message.sender)
    .bind(recipients)
    .bind(message.subject)
    .bind(message.raw)
    .bind(&now)
    .bind(message.request_id)
    .execute(db.pool())
    .await?;
    Ok(id)
}

/// Messages the tenant's modules stored since `since` (RFC 3339, UTC).
pub async fn sent_since(db: &Db, tenant: &str, since: &str) -> Result<u64, MailError> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM mail_messages WHERE tenant_id = $1 AND created_at >= $2")
        .bind(tenant)
        .bind(since)
        .fetch_one(db.pool())
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The delivery of message `id`, if `module` sent it for `tenant`.
pub async fn status(db: &Db, tenant: &str, module: &str, id: &str) -> Result<Status, MailError> {
    type Row = (String, String, i64, Option<String>, String, Option<String>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, state, attempts, last_error, created_at, sent_at FROM mail_messages \
         WHERE id = $1 AND tenant_id = $2 AND module = $3",
    )
    .bind(id)
    .bind(tenant)
    .bind(module)
    .fetch_optional(db.pool())
    .await?;
    let (id, state, attempts, last_error, created_at, sent_at) = row.ok_or(MailError::NotFound)?;
    Ok(Status {
        id,
        state: State::parse(&state),
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        last_error,
        created_at,
        sent_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> Draft {
        Draft {
            to: vec!["ana@example.com".into()],
            cc: vec![],
            bcc: vec!["hidden@example.com".into()],
            reply_to: None,
            subject: "Hola".into(),
            text: Some("plain".into()),
            html: Some("<p>html</p>".into()),
            attachments: vec![AttachmentFile {
                filename: "a.bin".into(),
                content_type: "application/octet-stream".into(),
                data: vec![0, 1, 2],
            }],
        }
    }

    #[test]
    fn bcc_is_in_the_envelope_only() {
        let from: Mailbox = "Acme <mail@acme.test>".parse().unwrap();
        let (raw, recipients) = build(&from, draft()).unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(recipients.contains(&"hidden@example.com".to_owned()), "{recipients:?}");
        assert!(!text.contains("hidden@example.com"), "{text}");
        assert!(text.contains("multipart/alternative") && text.contains("multipart/mixed"), "{text}");
    }

    #[test]
    fn bad_input_is_refused_before_anything_is_stored() {
        let from: Mailbox = "mail@acme.test".parse().unwrap();
        let mut d = draft();
        d.to = vec!["not an address".into()];
        assert!(matches!(build(&from, d), Err(MailError::Invalid(_))));
        let mut d = draft();
        d.subject = "two\r\nlines".into();
        assert!(matches!(build(&from, d), Err(MailError::Invalid(_))));
        let mut d = draft();
        (d.text, d.html) = (None, None);
        assert!(matches!(build(&from, d), Err(MailError::Invalid(_))));
        let mut d = draft();
        (d.to, d.bcc) = (vec![], vec![]);
        assert!(matches!(build(&from, d), Err(MailError::Invalid(_))));
    }
}
