//! `mail`: mail in the tenant's name, for people (through the API) and for
//! other modules (through the `mail.send-requested` event).
//!
//! - `POST /send` and `POST /send-template` queue a message with the host's
//!   `mail` capability and answer 202 with its id; the host delivers it with
//!   retries, from the tenant's sender address.
//! - `GET /sent` is the history with each message's delivery status
//!   (queued, sent or failed with the relay's reply), paged and filtered.
//! - Templates (subject, text and HTML in Jinja syntax; HTML auto-escaped;
//!   an unknown variable is an error) are managed by tenant admins, with a
//!   preview.
//!
//! The handlers validate and delegate: rendering is in [`templates`], the
//! SQL in [`store`].

mod store;
mod templates;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use plaza_sdk::listing::{Page, PageRequest};
use plaza_sdk::mail::{self, Attachment, Message};
use plaza_sdk::prelude::*;
use plaza_sdk::validation::{self, Errors};
use plaza_sdk::{Accepted, HostError};
use schemars::JsonSchema;
use serde::Deserialize;

use store::{SentItem, Template};
use templates::{Rendered, Sources};

/// The event other modules publish to have a message sent.
pub const SEND_REQUESTED: &str = "mail.send-requested";
/// Recipients of one message, all fields together (the host's limit too).
const MAX_RECIPIENTS: usize = 50;
/// Attachments of one message sent through the API.
const MAX_ATTACHMENTS: usize = 10;
/// Longest template source part, in characters.
const MAX_TEMPLATE_CHARS: usize = 100_000;

struct Mail;

impl plaza_sdk::Module for Mail {
    fn router() -> Router {
        const SENDERS: [&str; 2] = ["admin", "sender"];
        Router::new("mail", env!("CARGO_PKG_VERSION"))
            .description(
                "Mail in the tenant's name: send (with attachments) or send from a template, the sent history \
                 with delivery status, and templates managed by tenant admins. Other modules send by publishing \
                 mail.send-requested.",
            )
            // `mail` itself is declared by importing it (plaza:module 1.1).
            .capabilities([Capability::Sql, Capability::Blob, Capability::Log])
            .define_roles(["sender"])
            .migration(1, "templates and the sent history", include_str!("../migrations/0001_mail.sql"))
            .subscribe(SEND_REQUESTED)
            .post("/send", send)
            .roles(SENDERS)
            .summary("Send a message: to/cc/bcc, subject, text `body` and/or `html`, attachments (base64); 202 with its id")
            .post("/send-template", send_template)
            .roles(SENDERS)
            .summary("Send a message rendered from a template with `data`; 422 for an unknown template or a missing variable")
            .get("/sent", sent)
            .roles(SENDERS)
            .summary("Sent messages, newest first, with delivery status (query `state`, `to`, `template`, `page`, `per_page`)")
            .response::<Page<SentItem>>()
            .get("/sent/{id}", sent_one)
            .roles(SENDERS)
            .summary("One sent message and its delivery status")
            .get("/templates", list_templates)
            .roles(SENDERS)
            .summary("The tenant's templates, by name (query `page`, `per_page`)")
            .response::<Page<Template>>()
            .get("/templates/{name}", get_template)
            .roles(SENDERS)
            .summary("One template")
            .put("/templates/{name}", put_template)
            .roles(["admin"])
            .summary("Create or replace a template (subject, `text` and/or `html` in Jinja syntax)")
            .delete("/templates/{name}", delete_template)
            .roles(["admin"])
            .summary("Delete a template")
            .post("/templates/{name}/preview", preview_template)
            .roles(SENDERS)
            .summary("Render a template with `data` without sending it")
    }

    fn on_event(event: Event) -> Result<(), String> {
        if event.event_type != SEND_REQUESTED {
            return Ok(());
        }
        // At least once: a redelivered event was sent already.
        if store::event_sent(&event.id).map_err(|e| e.to_string())? {
            return Ok(());
        }
        let request: EventSend = serde_json::from_str(&event.payload)
            .map_err(|e| format!("{SEND_REQUESTED} from {}: not a message: {e}", event.source))?;
        let outgoing = match (&request.template, &request.subject) {
            (Some(name), _) => {
                let template = store::template(name)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("{SEND_REQUESTED} from {}: no template {name:?}", event.source))?;
                let rendered =
                    render(&template, &request.data).map_err(|p| p.detail_text().unwrap_or("").to_owned())?;
                Outgoing::rendered(&request.recipients, rendered, Some(name.clone()))
            }
            (None, Some(subject)) => Outgoing {
                recipients: request.recipients.clone(),
                subject: subject.clone(),
                text: request.body.clone(),
                html: request.html.clone(),
                template: None,
            },
            (None, None) => {
                return Err(format!("{SEND_REQUESTED} from {}: give a template or a subject", event.source));
            }
        };
        outgoing.check().map_err(|p| p.detail_text().unwrap_or("invalid message").to_owned())?;
        let id = mail::send(&outgoing.message(Vec::new())).map_err(|e| e.to_string())?;
        store::record(&id, &outgoing, "event", Some(&event.id), Some(&event.source)).map_err(|e| e.to_string())?;
        log::info(format!("{SEND_REQUESTED} {} from {}: queued as {id}", event.id, event.source));
        Ok(())
    }
}

plaza_sdk::export!(Mail);

// ----- request and response types -----

/// Who a message goes to.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recipients {
    /// At least one address in `to`, `cc` or `bcc`; at most 50 in all.
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default)]
    pub cc: Vec<String>,
    /// Not shown to the other recipients.
    #[serde(default)]
    pub bcc: Vec<String>,
    pub reply_to: Option<String>,
}

/// A file to attach.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAttachment {
    /// The name the recipient sees.
    pub filename: String,
    /// Its media type; `application/octet-stream` when absent.
    pub content_type: Option<String>,
    /// The file's bytes, base64 (standard alphabet, padded). The request
    /// body is limited by the host (1 MiB by default).
    pub content_base64: String,
}

/// A message to send.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    #[serde(flatten)]
    pub recipients: Recipients,
    /// One line, 1 to 998 characters.
    pub subject: String,
    /// The plain-text part.
    pub body: Option<String>,
    /// The HTML part (sent as given: it is the sender's own).
    pub html: Option<String>,
    /// At most 10 files.
    #[serde(default)]
    pub attachments: Vec<NewAttachment>,
}

/// A message rendered from a template.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateSend {
    #[serde(flatten)]
    pub recipients: Recipients,
    /// The template's name.
    pub template: String,
    /// The template's variables (a JSON object).
    #[serde(default = "empty_object")]
    pub data: serde_json::Value,
    #[serde(default)]
    pub attachments: Vec<NewAttachment>,
}

/// The payload of `mail.send-requested`: a template with data, or a subject
/// with a body.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct EventSend {
    #[serde(flatten)]
    pub recipients: Recipients,
    pub template: Option<String>,
    #[serde(default = "empty_object")]
    pub data: serde_json::Value,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub html: Option<String>,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// A template as an admin writes it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Jinja syntax, one line once rendered.
    pub subject: String,
    /// The plain-text part, Jinja syntax.
    pub text: Option<String>,
    /// The HTML part, Jinja syntax; every value is HTML-escaped.
    pub html: Option<String>,
}

/// Data to preview a template with.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    #[serde(default = "empty_object")]
    pub data: serde_json::Value,
}

/// A message about to be sent, whatever it came from.
pub struct Outgoing {
    pub recipients: Recipients,
    pub subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
    pub template: Option<String>,
}

impl Outgoing {
    fn rendered(recipients: &Recipients, r: Rendered, template: Option<String>) -> Self {
        Self { recipients: recipients.clone(), subject: r.subject, text: r.text, html: r.html, template }
    }

    /// What the module checks before asking the host (which checks again).
    fn check(&self) -> Result<(), Problem> {
        let mut errors = Errors::default();
        let r = &self.recipients;
        let count = r.to.len() + r.cc.len() + r.bcc.len();
        errors.check(count > 0, "to", || "give at least one recipient in `to`, `cc` or `bcc`".into());
        errors.check(count <= MAX_RECIPIENTS, "to", || format!("at most {MAX_RECIPIENTS} recipients in all"));
        for (field, list) in [("to", &r.to), ("cc", &r.cc), ("bcc", &r.bcc)] {
            for address in list {
                errors.check(plausible_address(address), field, || format!("{address:?} is not a mail address"));
            }
        }
        if let Some(reply_to) = &r.reply_to {
            errors.check(plausible_address(reply_to), "reply_to", || format!("{reply_to:?} is not a mail address"));
        }
        let subject_chars = self.subject.chars().count();
        errors
            .check((1..=998).contains(&subject_chars), "subject", || "the subject must be 1 to 998 characters".into());
        errors.check(!self.subject.chars().any(char::is_control), "subject", || "the subject must be one line".into());
        errors.check(self.text.is_some() || self.html.is_some(), "body", || {
            "give a text `body` or an `html` part".into()
        });
        errors.finish()
    }

    fn message(&self, attachments: Vec<Attachment>) -> Message {
        Message {
            to: self.recipients.to.clone(),
            cc: self.recipients.cc.clone(),
            bcc: self.recipients.bcc.clone(),
            reply_to: self.recipients.reply_to.clone(),
            subject: self.subject.clone(),
            text: self.text.clone(),
            html: self.html.clone(),
            attachments,
        }
    }
}

/// `local@domain`, no spaces or angle brackets: the host parses it fully.
fn plausible_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else { return false };
    !local.is_empty()
        && !domain.is_empty()
        && address.len() <= 254
        && !address.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
}

/// Template names: `[a-z0-9]+([-_.][a-z0-9]+)*`, at most 100 characters.
fn check_name(name: &str) -> Result<(), Problem> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .split(['-', '_', '.'])
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(validation::invalid(
            "name",
            format!("template name {name:?}: use lower-case letters and digits joined by `-`, `_` or `.`"),
        ))
    }
}

fn render(template: &Template, data: &serde_json::Value) -> Result<Rendered, Problem> {
    if !data.is_object() {
        return Err(validation::invalid("data", "`data` must be a JSON object"));
    }
    let sources =
        Sources { subject: &template.subject, text: template.text.as_deref(), html: template.html.as_deref() };
    templates::render(&sources, data).map_err(|e| {
        let problem = validation::invalid("data", format!("template {:?}: {e}", template.name));
        if e.missing { problem.with("missing_variable", true) } else { problem }
    })
}

/// A host refusal of the message's content is the client's error (422);
/// a spent rate or quota stays a 429, the rest maps as usual.
fn send_failed(e: Error) -> Problem {
    match &*e {
        HostError::Invalid(detail) => validation::invalid("message", detail.clone()),
        HostError::NotFound => validation::invalid("attachments", "an attachment could not be read"),
        _ => e.into(),
    }
}

/// Stores the request's attachments as blobs for the host to take.
fn stage(req: &Request, files: &[NewAttachment]) -> Result<(Vec<Attachment>, Vec<String>), Problem> {
    if files.len() > MAX_ATTACHMENTS {
        return Err(validation::invalid("attachments", format!("at most {MAX_ATTACHMENTS} attachments")));
    }
    let mut errors = Errors::default();
    let mut decoded = Vec::with_capacity(files.len());
    for (i, file) in files.iter().enumerate() {
        let name_ok = !file.filename.trim().is_empty()
            && file.filename.chars().count() <= 255
            && !file.filename.chars().any(|c| c.is_control() || c == '/' || c == '\\');
        errors.check(name_ok, "attachments", || format!("attachment {i}: a file name of 1 to 255 characters, no `/`"));
        match BASE64.decode(file.content_base64.as_bytes()) {
            Ok(bytes) => decoded.push(bytes),
            Err(_) => errors.add("attachments", format!("attachment {i}: `content_base64` is not base64")),
        }
    }
    errors.finish()?;
    let stamp: String = req.caller().request_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    let mut attachments = Vec::with_capacity(files.len());
    let mut keys = Vec::with_capacity(files.len());
    for (i, (file, bytes)) in files.iter().zip(decoded).enumerate() {
        let key = format!("outgoing/{stamp}/{i}");
        let content_type = file.content_type.clone().unwrap_or_else(|| "application/octet-stream".into());
        blob::put(&key, bytes, &content_type)?;
        attachments.push(Attachment {
            blob_key: key.clone(),
            filename: file.filename.clone(),
            content_type: Some(content_type),
        });
        keys.push(key);
    }
    Ok((attachments, keys))
}

/// Queues `outgoing` with the request's attachments and records it.
fn queue(req: &Request, outgoing: &Outgoing, files: &[NewAttachment]) -> Result<Accepted<SentItem>, Problem> {
    outgoing.check()?;
    let (attachments, keys) = stage(req, files)?;
    let sent = mail::send(&outgoing.message(attachments));
    // The host copied the files into the stored message: the staged blobs go either way.
    for key in keys {
        if let Err(e) = blob::delete(&key) {
            log::warn(format!("staged attachment {key} not deleted: {e}"));
        }
    }
    let id = sent.map_err(send_failed)?;
    let item = store::record(&id, outgoing, "api", None, req.caller().user_id.as_deref())?;
    Ok(Accepted(item))
}

// ----- handlers -----

fn send(req: &Request, Json(body): Json<SendRequest>) -> Result<Accepted<SentItem>, Problem> {
    let outgoing = Outgoing {
        recipients: body.recipients,
        subject: body.subject.trim().to_owned(),
        text: body.body,
        html: body.html,
        template: None,
    };
    queue(req, &outgoing, &body.attachments)
}

fn send_template(req: &Request, Json(body): Json<TemplateSend>) -> Result<Accepted<SentItem>, Problem> {
    check_name(&body.template)?;
    let template = store::template(&body.template)?
        .ok_or_else(|| validation::invalid("template", format!("there is no template {:?}", body.template)))?;
    let rendered = render(&template, &body.data)?;
    let outgoing = Outgoing::rendered(&body.recipients, rendered, Some(template.name));
    queue(req, &outgoing, &body.attachments)
}

fn sent(req: &Request) -> Result<Json<Page<SentItem>>, Problem> {
    let page = PageRequest::from_request(req)?;
    store::refresh_queued()?;
    Ok(Json(store::list_sent(req, page)?))
}

fn sent_one(req: &Request) -> Result<Json<SentItem>, Problem> {
    let id: String = req.path_param("id")?;
    let item = store::sent_item(&id)?.ok_or_else(|| Problem::not_found().detail(format!("no sent message {id:?}")))?;
    Ok(Json(store::refresh(item)?))
}

fn list_templates(req: &Request) -> Result<Json<Page<Template>>, Problem> {
    Ok(Json(store::list_templates(PageRequest::from_request(req)?)?))
}

fn get_template(req: &Request) -> Result<Json<Template>, Problem> {
    let name: String = req.path_param("name")?;
    store::template(&name)?.map(Json).ok_or_else(|| no_template(&name))
}

fn no_template(name: &str) -> Problem {
    Problem::not_found().detail(format!("there is no template {name:?}"))
}

fn put_template(req: &Request, Json(body): Json<TemplateInput>) -> Result<Json<Template>, Problem> {
    let name: String = req.path_param("name")?;
    check_name(&name)?;
    let mut errors = Errors::default();
    let subject = validation::text(&mut errors, "subject", &body.subject, 1, 2_000);
    errors.check(body.description.chars().count() <= 500, "description", || "at most 500 characters".into());
    errors.check(body.text.is_some() || body.html.is_some(), "text", || "give a `text` or an `html` part".into());
    for (field, part) in [("text", &body.text), ("html", &body.html)] {
        let long = part.as_ref().is_some_and(|p| p.chars().count() > MAX_TEMPLATE_CHARS);
        errors.check(!long, field, || format!("at most {MAX_TEMPLATE_CHARS} characters"));
    }
    errors.finish()?;
    let sources = Sources { subject: &subject, text: body.text.as_deref(), html: body.html.as_deref() };
    templates::check(&sources).map_err(|e| validation::invalid(e.part, e.detail))?;
    let template = Template {
        name,
        description: body.description.trim().to_owned(),
        subject,
        text: body.text,
        html: body.html,
        updated_by: req.caller().user_id.clone(),
        updated_at: time::now_rfc3339(),
    };
    store::save_template(&template)?;
    Ok(Json(template))
}

fn delete_template(req: &Request) -> Result<NoContent, Problem> {
    let name: String = req.path_param("name")?;
    if store::delete_template(&name)? { Ok(NoContent) } else { Err(no_template(&name)) }
}

fn preview_template(req: &Request, Json(body): Json<PreviewRequest>) -> Result<Json<Rendered>, Problem> {
    let name: String = req.path_param("name")?;
    let template = store::template(&name)?.ok_or_else(|| no_template(&name))?;
    Ok(Json(render(&template, &body.data)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_are_checked() {
        assert!(check_name("welcome").is_ok());
        assert!(check_name("order.shipped-v2").is_ok());
        for bad in ["", "Welcome", "a b", "-x", "x--y", "../x"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(plausible_address("ana@example.com"));
        for bad in ["ana", "@x", "a@", "a b@x", "<a@x>", "a@x,b@y"] {
            assert!(!plausible_address(bad), "{bad}");
        }
    }

    #[test]
    fn an_outgoing_message_needs_a_recipient_a_subject_and_a_body() {
        let mut o = Outgoing {
            recipients: Recipients { to: vec!["ana@example.com".into()], ..Recipients::default() },
            subject: "Hi".into(),
            text: Some("x".into()),
            html: None,
            template: None,
        };
        assert!(o.check().is_ok());
        o.subject = "two\nlines".into();
        assert_eq!(o.check().map_err(|p| p.status()), Err(422));
        o.subject = "Hi".into();
        o.text = None;
        assert_eq!(o.check().map_err(|p| p.status()), Err(422));
        o.text = Some("x".into());
        o.recipients.to.clear();
        assert_eq!(o.check().map_err(|p| p.status()), Err(422));
    }
}
