//! Documents: drafts written by a sector's writers, the signers they name
//! in order, the lifecycle `draft → awaiting_signatures → signed` (plus
//! `rejected` and `cancelled`), attachments, the preview PDF and search.
//! Signing itself, with numbering, is in [`crate::signing`].

use plaza_sdk::listing::{Filter, Page, PageRequest, paged};
use plaza_sdk::prelude::*;
use plaza_sdk::validation::{Errors, invalid, text};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Map;

use crate::common::{self, GdiFilter, Tenant};
use crate::logic::{self, DocAction, DocState};
use crate::org::{self, DocType};
use crate::pdf;

/// A document with its signers and attachments.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Document {
    pub id: i64,
    pub type_code: String,
    pub sector_code: String,
    pub reference: String,
    pub subject: String,
    pub body_markdown: String,
    /// The template's fields, checked against the type's JSON Schema.
    #[schemars(with = "serde_json::Value")]
    pub fields: serde_json::Value,
    pub state: DocState,
    /// Bumped by every change.
    pub version: i64,
    /// The step whose signer is awaited (1-based), 0 outside `awaiting_signatures`.
    pub current_step: i64,
    pub rejection_reason: Option<String>,
    /// `TYPE-YYYY-NNNNNNNN-ECO-DEPT`, once the numbering signer signed.
    pub number: Option<String>,
    pub number_year: Option<i64>,
    pub signed_at: Option<String>,
    /// SHA-256 (hex) of the final PDF.
    pub pdf_sha256: Option<String>,
    pub pdf_size: Option<i64>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub signers: Vec<Signer>,
    pub attachments: Vec<Attachment>,
}

/// One signer of a document, and their act once they signed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Signer {
    pub step: i64,
    pub user_id: String,
    pub sector_code: String,
    pub full_name: String,
    pub position: String,
    /// The last signer, who numbers the document.
    pub numbers: bool,
    pub signed_at: Option<String>,
    /// SHA-256 (hex) of the act's canonical bytes (content, signer, time,
    /// the previous act's signature, and at the last step the number and
    /// the final PDF's hash).
    pub digest: Option<String>,
    /// The host's Ed25519 signature of `digest` (hex), with the tenant's key
    /// for this module (`GET /signing-key`).
    pub signature: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub created_at: String,
}

/// A document in a listing (no body).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DocumentSummary {
    pub id: i64,
    pub type_code: String,
    pub sector_code: String,
    pub reference: String,
    pub subject: String,
    pub state: DocState,
    pub number: Option<String>,
    pub number_year: Option<i64>,
    pub signed_at: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

/// One row of `documents`.
#[derive(Debug, Clone, Deserialize)]
pub struct DocRow {
    pub id: i64,
    pub type_code: String,
    pub sector_code: String,
    pub reference: String,
    pub subject: String,
    pub body_markdown: String,
    pub fields: String,
    pub state: DocState,
    pub version: i64,
    pub current_step: i64,
    pub rejection_reason: Option<String>,
    pub number: Option<String>,
    pub number_year: Option<i64>,
    pub signed_at: Option<String>,
    pub pdf_key: Option<String>,
    pub pdf_sha256: Option<String>,
    pub pdf_size: Option<i64>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

const DOC_COLUMNS: &str = "id, type_code, sector_code, reference, subject, body_markdown, fields, state, version, \
    current_step, rejection_reason, number, number_year, signed_at, pdf_key, pdf_sha256, pdf_size, created_by, \
    created_at, updated_at";
const SUMMARY_COLUMNS: &str = "id, type_code, sector_code, reference, subject, state, number, number_year, signed_at, created_by, created_at, updated_at";
const SIGNER_COLUMNS: &str = "step, user_id, sector_code, full_name, position, numbers, signed_at, digest, signature";

pub fn row(id: i64) -> Result<Option<DocRow>, Problem> {
    Ok(sql::query_one_as(&format!("SELECT {DOC_COLUMNS} FROM documents WHERE id = $1"), &params![id])?)
}

pub fn signers(id: i64) -> Result<Vec<Signer>, Problem> {
    Ok(sql::query_as(
        &format!("SELECT {SIGNER_COLUMNS} FROM document_signers WHERE document_id = $1 ORDER BY step"),
        &params![id],
    )?)
}

fn attachments(id: i64) -> Result<Vec<Attachment>, Problem> {
    Ok(sql::query_as(
        "SELECT name, content_type, size, sha256, created_at FROM document_attachments WHERE document_id = $1 ORDER BY name",
        &params![id],
    )?)
}

pub fn full(row: DocRow) -> Result<Document, Problem> {
    let signers = signers(row.id)?;
    let attachments = attachments(row.id)?;
    Ok(Document {
        fields: serde_json::from_str(&row.fields).unwrap_or_else(|_| serde_json::Value::Object(Map::new())),
        id: row.id,
        type_code: row.type_code,
        sector_code: row.sector_code,
        reference: row.reference,
        subject: row.subject,
        body_markdown: row.body_markdown,
        state: row.state,
        version: row.version,
        current_step: row.current_step,
        rejection_reason: row.rejection_reason,
        number: row.number,
        number_year: row.number_year,
        signed_at: row.signed_at,
        pdf_sha256: row.pdf_sha256,
        pdf_size: row.pdf_size,
        created_by: row.created_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
        signers,
        attachments,
    })
}

fn found(req: &Request) -> Result<DocRow, Problem> {
    row(common::id(req)?)?.ok_or_else(Problem::not_found)
}

/// 409 unless the lifecycle allows `action` in the document's state.
pub fn allow(doc: &DocRow, action: DocAction) -> Result<DocState, Problem> {
    logic::doc_transition(doc.state, action).ok_or_else(|| {
        let verb = match action {
            DocAction::Edit => "changed",
            DocAction::Submit => "submitted",
            DocAction::Sign => "signed",
            DocAction::Reject => "rejected",
            DocAction::Cancel => "cancelled",
        };
        common::state_conflict("document", doc.state.as_str(), verb)
    })
}

// ----- writing -----

/// A signer the writer names.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct SignerRef {
    pub user_id: String,
    /// The sector they sign for (its code is the number's `DEPT` when they
    /// sign last).
    pub sector_code: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewDocument {
    pub type_code: String,
    /// The writer's sector, which the document belongs to.
    pub sector_code: String,
    /// A short reference line (`Ref.: Expte. ...`).
    #[serde(default)]
    pub reference: String,
    pub subject: String,
    /// Markdown (headings, paragraphs, lists, emphasis).
    #[serde(default)]
    pub body_markdown: String,
    /// The type's template fields.
    #[serde(default)]
    #[schemars(with = "serde_json::Value")]
    pub fields: Map<String, serde_json::Value>,
    /// In signing order; the last one numbers.
    #[serde(default)]
    pub signers: Vec<SignerRef>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DocumentChange {
    pub reference: Option<String>,
    pub subject: Option<String>,
    pub body_markdown: Option<String>,
    #[schemars(with = "Option<serde_json::Value>")]
    pub fields: Option<Map<String, serde_json::Value>>,
    pub signers: Option<Vec<SignerRef>>,
    /// The version read: a change made meanwhile is a 409.
    pub version: Option<i64>,
}

/// Checks the named signers: members of their sector who may sign, each
/// once; the last one may number and holds one of the type's numbering
/// positions. Returns them with their names and positions.
fn resolve_signers(doc_type: &DocType, refs: &[SignerRef], require: bool) -> Result<Vec<Signer>, Problem> {
    let mut errors = Errors::default();
    if refs.len() > logic::SIGNERS_MAX {
        errors.add("signers", format!("at most {} signers", logic::SIGNERS_MAX));
    }
    if require && refs.is_empty() {
        errors.add("signers", "name at least one signer; the last one numbers");
    }
    errors.finish()?;
    let mut errors = Errors::default();
    let mut out: Vec<Signer> = Vec::with_capacity(refs.len());
    for (i, r) in refs.iter().enumerate() {
        let field = format!("signers[{i}]");
        if refs[..i].iter().any(|o| o.user_id == r.user_id) {
            errors.add(&field, format!("{} appears twice", r.user_id));
            continue;
        }
        let Some(m) = common::membership(&r.user_id, &r.sector_code)? else {
            errors.add(&field, format!("{} is not a member of sector {}", r.user_id, r.sector_code));
            continue;
        };
        if !m.can_sign {
            errors.add(&field, format!("{} may not sign for sector {}", m.full_name, r.sector_code));
            continue;
        }
        let last = i + 1 == refs.len();
        if last && doc_type.numbered {
            if !m.can_number {
                errors.add(&field, format!("the last signer numbers, and {} may not number", m.full_name));
            } else if !doc_type.numbering_positions.iter().any(|p| p == &m.position) {
                errors.add(
                    &field,
                    format!(
                        "the last signer numbers a {}, which needs one of the positions {:?}, not {:?}",
                        doc_type.code, doc_type.numbering_positions, m.position
                    ),
                );
            }
        }
        out.push(Signer {
            step: i64::try_from(i + 1).unwrap_or(i64::MAX),
            user_id: m.user_id,
            sector_code: m.sector_code,
            full_name: m.full_name,
            position: m.position,
            numbers: last && doc_type.numbered,
            signed_at: None,
            digest: None,
            signature: None,
        });
    }
    errors.finish()?;
    Ok(out)
}

fn store_signers(id: i64, signers: &[Signer]) -> Result<(), Problem> {
    sql::execute("DELETE FROM document_signers WHERE document_id = $1", &params![id])?;
    for s in signers {
        sql::execute(
            "INSERT INTO document_signers (document_id, step, user_id, sector_code, full_name, position, numbers) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &params![
                id,
                s.step,
                s.user_id.as_str(),
                s.sector_code.as_str(),
                s.full_name.as_str(),
                s.position.as_str(),
                s.numbers
            ],
        )?;
    }
    Ok(())
}

struct Content {
    reference: String,
    subject: String,
    body: String,
    fields: Map<String, serde_json::Value>,
}

fn check_content(doc_type: &DocType, content: Content) -> Result<Content, Problem> {
    let mut errors = Errors::default();
    let reference = text(&mut errors, "reference", &content.reference, 0, logic::TEXT_MAX);
    let subject = text(&mut errors, "subject", &content.subject, 1, logic::TEXT_MAX);
    errors.check(content.body.len() <= logic::BODY_MAX, "body_markdown", || {
        format!("the body has at most {} bytes", logic::BODY_MAX)
    });
    for (field, rule) in logic::check_fields(&doc_type.template, &content.fields) {
        errors.add(&field, format!("`{field}` {rule}"));
    }
    errors.finish()?;
    Ok(Content { reference, subject, body: content.body, fields: content.fields })
}

fn search_text(c: &Content) -> String {
    let fields: Vec<String> = c.fields.values().filter_map(|v| v.as_str().map(str::to_owned)).collect();
    let mut parts = vec![c.reference.as_str(), c.subject.as_str(), c.body.as_str()];
    parts.extend(fields.iter().map(String::as_str));
    logic::search_text(&parts)
}

pub fn create(req: &Request, Json(new): Json<NewDocument>) -> Result<Created<Document>, Problem> {
    let caller = req.caller();
    let user = caller.require_user()?;
    let doc_type = match org::doc_type(&new.type_code)? {
        Some(t) if t.active => t,
        Some(_) => return Err(invalid("type_code", format!("document type {} is inactive", new.type_code))),
        None => return Err(invalid("type_code", format!("there is no document type {}", new.type_code))),
    };
    org::active_sector("sector_code", &new.sector_code)?;
    common::require_member(caller, &new.sector_code, "write its documents")?;
    let content = check_content(
        &doc_type,
        Content { reference: new.reference, subject: new.subject, body: new.body_markdown, fields: new.fields },
    )?;
    let signers = resolve_signers(&doc_type, &new.signers, false)?;
    let now = time::now_rfc3339();
    let id = sql::transaction(|| -> Result<i64, Problem> {
        let rows = sql::query(
            "INSERT INTO documents (type_code, sector_code, reference, subject, body_markdown, fields, state, version, \
             current_step, search_text, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, 0, $8, $9, $10, $10) RETURNING id",
            &params![
                doc_type.code.as_str(),
                new.sector_code.as_str(),
                content.reference.as_str(),
                content.subject.as_str(),
                content.body.as_str(),
                serde_json::Value::Object(content.fields.clone()).to_string(),
                DocState::Draft.as_str(),
                search_text(&content),
                user,
                now.as_str()
            ],
        )?;
        let id = plaza_sdk::listing::returned_id(&rows)?;
        store_signers(id, &signers)?;
        common::history(id, "created", user, None)?;
        Ok(id)
    })?;
    full(row(id)?.ok_or_else(Problem::not_found)?).map(Created)
}

pub fn get(req: &Request) -> Result<Json<Document>, Problem> {
    full(found(req)?).map(Json)
}

/// The writer of a document: a member of its sector.
fn require_writer(caller: &Caller, doc: &DocRow) -> Result<(), Problem> {
    common::require_member(caller, &doc.sector_code, "change its documents").map(|_| ())
}

pub fn update(req: &Request, Json(change): Json<DocumentChange>) -> Result<Json<Document>, Problem> {
    let caller = req.caller();
    let user = caller.require_user()?;
    let doc = found(req)?;
    allow(&doc, DocAction::Edit)?;
    require_writer(caller, &doc)?;
    if change.version.is_some_and(|v| v != doc.version) {
        return Err(common::changed_meanwhile("document"));
    }
    let doc_type = org::doc_type(&doc.type_code)?.ok_or_else(Problem::not_found)?;
    let fields = change.fields.unwrap_or_else(|| serde_json::from_str(&doc.fields).unwrap_or_default());
    let content = check_content(
        &doc_type,
        Content {
            reference: change.reference.unwrap_or_else(|| doc.reference.clone()),
            subject: change.subject.unwrap_or_else(|| doc.subject.clone()),
            body: change.body_markdown.unwrap_or_else(|| doc.body_markdown.clone()),
            fields,
        },
    )?;
    let signers = change.signers.as_deref().map(|s| resolve_signers(&doc_type, s, false)).transpose()?;
    sql::transaction(|| -> Result<(), Problem> {
        let n = sql::execute(
            "UPDATE documents SET reference = $1, subject = $2, body_markdown = $3, fields = $4, search_text = $5, \
             state = $6, version = version + 1, updated_at = $7 WHERE id = $8 AND version = $9",
            &params![
                content.reference.as_str(),
                content.subject.as_str(),
                content.body.as_str(),
                serde_json::Value::Object(content.fields.clone()).to_string(),
                search_text(&content),
                DocState::Draft.as_str(),
                time::now_rfc3339(),
                doc.id,
                doc.version
            ],
        )?;
        if n == 0 {
            return Err(common::changed_meanwhile("document"));
        }
        if let Some(signers) = &signers {
            store_signers(doc.id, signers)?;
        }
        common::history(doc.id, "edited", user, None)
    })?;
    full(row(doc.id)?.ok_or_else(Problem::not_found)?).map(Json)
}

/// Sends a draft to its first signer (the signers are checked again: a
/// membership may have changed since they were named).
pub fn submit(req: &Request) -> Result<Json<Document>, Problem> {
    let caller = req.caller();
    let user = caller.require_user()?;
    let doc = found(req)?;
    let next = allow(&doc, DocAction::Submit)?;
    require_writer(caller, &doc)?;
    let doc_type = org::doc_type(&doc.type_code)?.ok_or_else(Problem::not_found)?;
    let named: Vec<SignerRef> =
        signers(doc.id)?.into_iter().map(|s| SignerRef { user_id: s.user_id, sector_code: s.sector_code }).collect();
    let signers = resolve_signers(&doc_type, &named, true)?;
    sql::transaction(|| -> Result<(), Problem> {
        let n = sql::execute(
            "UPDATE documents SET state = $1, current_step = 1, rejection_reason = NULL, version = version + 1, \
             updated_at = $2 WHERE id = $3 AND version = $4",
            &params![next.as_str(), time::now_rfc3339(), doc.id, doc.version],
        )?;
        if n == 0 {
            return Err(common::changed_meanwhile("document"));
        }
        store_signers(doc.id, &signers)?;
        common::history(doc.id, "submitted", user, None)
    })?;
    full(row(doc.id)?.ok_or_else(Problem::not_found)?).map(Json)
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Rejection {
    /// Why the document goes back to its writer: 1 to 1000 characters.
    pub reason: String,
}

/// The current signer returns the document to its writer with a reason;
/// the acts of earlier signers are voided (kept in the history).
pub fn reject(req: &Request, Json(body): Json<Rejection>) -> Result<Json<Document>, Problem> {
    let caller = req.caller();
    let user = caller.require_user()?;
    let doc = found(req)?;
    let next = allow(&doc, DocAction::Reject)?;
    let mut errors = Errors::default();
    let reason = text(&mut errors, "reason", &body.reason, 1, 1000);
    errors.finish()?;
    let current = current_signer(&doc)?;
    if current.user_id != user {
        return Err(Problem::forbidden(format!(
            "the document awaits {} (step {}): only they may sign or return it",
            current.full_name, current.step
        )));
    }
    sql::transaction(|| -> Result<(), Problem> {
        let n = sql::execute(
            "UPDATE documents SET state = $1, current_step = 0, rejection_reason = $2, version = version + 1, \
             updated_at = $3 WHERE id = $4 AND version = $5",
            &params![next.as_str(), reason.as_str(), time::now_rfc3339(), doc.id, doc.version],
        )?;
        if n == 0 {
            return Err(common::changed_meanwhile("document"));
        }
        for s in signers(doc.id)?.iter().filter(|s| s.signed_at.is_some()) {
            let detail =
                format!("step {} by {} voided; digest {}", s.step, s.user_id, s.digest.as_deref().unwrap_or(""));
            common::history(doc.id, "act-voided", user, Some(&detail))?;
        }
        sql::execute(
            "UPDATE document_signers SET signed_at = NULL, digest = NULL, signature = NULL WHERE document_id = $1",
            &params![doc.id],
        )?;
        common::history(doc.id, "rejected", user, Some(&reason))
    })?;
    full(row(doc.id)?.ok_or_else(Problem::not_found)?).map(Json)
}

/// The writer (any member of the sector) or a gdi admin withdraws a
/// document that is not signed.
pub fn cancel(req: &Request) -> Result<Json<Document>, Problem> {
    let caller = req.caller();
    let user = caller.require_user()?;
    let doc = found(req)?;
    let next = allow(&doc, DocAction::Cancel)?;
    if !caller.has_role(common::GDI_ADMIN) {
        require_writer(caller, &doc)?;
    }
    sql::transaction(|| -> Result<(), Problem> {
        let n = sql::execute(
            "UPDATE documents SET state = $1, current_step = 0, version = version + 1, updated_at = $2 \
             WHERE id = $3 AND version = $4",
            &params![next.as_str(), time::now_rfc3339(), doc.id, doc.version],
        )?;
        if n == 0 {
            return Err(common::changed_meanwhile("document"));
        }
        common::history(doc.id, "cancelled", user, None)
    })?;
    full(row(doc.id)?.ok_or_else(Problem::not_found)?).map(Json)
}

/// The signer the document awaits.
pub fn current_signer(doc: &DocRow) -> Result<Signer, Problem> {
    signers(doc.id)?
        .into_iter()
        .find(|s| s.step == doc.current_step)
        .ok_or_else(|| Problem::internal("the document awaits a step with no signer"))
}

// ----- history -----

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct HistoryEntry {
    pub action: String,
    pub user_id: String,
    pub detail: Option<String>,
    pub at: String,
}

pub fn history(req: &Request) -> Result<Json<Vec<HistoryEntry>>, Problem> {
    let doc = found(req)?;
    Ok(Json(sql::query_as(
        "SELECT action, user_id, detail, at FROM document_history WHERE document_id = $1 ORDER BY id LIMIT 1000",
        &params![doc.id],
    )?))
}

// ----- attachments -----

fn attachment_name(req: &Request) -> Result<String, Problem> {
    let name: String = req.path_param("name")?;
    let ok = (1..=100).contains(&name.len())
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok { Ok(name) } else { Err(invalid("name", "an attachment name has 1 to 100 letters, digits, `.`, `_` or `-`")) }
}

fn attachment_key(id: i64, name: &str) -> String {
    format!("documents/{id}/attachments/{name}")
}

pub fn put_attachment(req: &Request) -> Result<Json<Attachment>, Problem> {
    let caller = req.caller();
    let user = caller.require_user()?;
    let doc = found(req)?;
    allow(&doc, DocAction::Edit)?;
    require_writer(caller, &doc)?;
    let name = attachment_name(req)?;
    let data = req.body();
    if data.is_empty() {
        return Err(invalid("body", "the attachment is empty"));
    }
    if data.len() > logic::ATTACHMENT_MAX {
        return Err(Problem::new(413, "Content Too Large")
            .detail(format!("an attachment has at most {} bytes", logic::ATTACHMENT_MAX)));
    }
    let content_type = req.content_type().unwrap_or("application/octet-stream").to_owned();
    let sha = common::sha256_hex(data);
    blob::put(&attachment_key(doc.id, &name), data, &content_type)?;
    let now = time::now_rfc3339();
    sql::transaction(|| -> Result<(), Problem> {
        sql::execute(
            "INSERT INTO document_attachments (document_id, name, content_type, size, sha256, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (document_id, name) DO UPDATE SET \
             content_type = excluded.content_type, size = excluded.size, sha256 = excluded.sha256, created_at = excluded.created_at",
            &params![
                doc.id,
                name.as_str(),
                content_type.as_str(),
                i64::try_from(data.len()).unwrap_or(i64::MAX),
                sha.as_str(),
                now.as_str()
            ],
        )?;
        common::history(doc.id, "attached", user, Some(&name))
    })?;
    Ok(Json(Attachment {
        name,
        content_type,
        size: i64::try_from(data.len()).unwrap_or(i64::MAX),
        sha256: sha,
        created_at: now,
    }))
}

pub fn get_attachment(req: &Request) -> Result<Response, Problem> {
    let doc = found(req)?;
    let name = attachment_name(req)?;
    let object = blob::get(&attachment_key(doc.id, &name))?.ok_or_else(Problem::not_found)?;
    Ok(Response::bytes(&object.content_type, object.data))
}

pub fn delete_attachment(req: &Request) -> Result<NoContent, Problem> {
    let caller = req.caller();
    let user = caller.require_user()?;
    let doc = found(req)?;
    allow(&doc, DocAction::Edit)?;
    require_writer(caller, &doc)?;
    let name = attachment_name(req)?;
    let n = sql::execute(
        "DELETE FROM document_attachments WHERE document_id = $1 AND name = $2",
        &params![doc.id, name.as_str()],
    )?;
    if n == 0 {
        return Err(Problem::not_found());
    }
    blob::delete(&attachment_key(doc.id, &name))?;
    common::history(doc.id, "detached", user, Some(&name))?;
    Ok(NoContent)
}

// ----- PDFs -----

/// A preview of any document that is not signed: marked as a draft, no
/// number, rendered on each request (not stored).
pub fn preview(req: &Request) -> Result<Response, Problem> {
    let doc = found(req)?;
    let tenant = Tenant::load(req.caller())?;
    let doc_type = org::doc_type(&doc.type_code)?.ok_or_else(Problem::not_found)?;
    let full = full(doc)?;
    let bytes = pdf::preview(&pdf::DocumentPage { tenant: &tenant, doc_type: &doc_type, doc: &full, final_: None });
    Ok(Response::bytes("application/pdf", bytes))
}

/// The final PDF of a signed document, as stored at numbering.
pub fn final_pdf(req: &Request) -> Result<Response, Problem> {
    let doc = found(req)?;
    let key = doc.pdf_key.ok_or_else(|| {
        common::state_conflict("document", doc.state.as_str(), "downloaded as a final PDF (only signed ones have one)")
    })?;
    let object = blob::get(&key)?.ok_or_else(|| Problem::internal("the final PDF is missing from storage"))?;
    let name = doc.number.unwrap_or_else(|| format!("document-{}", doc.id));
    Ok(Response::bytes("application/pdf", object.data)
        .with_header("content-disposition", format!("inline; filename=\"{name}.pdf\"")))
}

// ----- search -----

pub fn list(req: &Request) -> Result<Json<Page<DocumentSummary>>, Problem> {
    let page = PageRequest::from_request(req)?;
    let mut filter = Filter::default();
    filter.eq(req, "number", "number");
    filter.eq(req, "type", "type_code");
    filter.eq(req, "sector", "sector_code");
    if let Some(s) = req.query_param("state") {
        let state = DocState::parse(s).ok_or_else(|| {
            invalid("state", format!("`state` is draft, awaiting_signatures, signed, rejected or cancelled, not {s:?}"))
        })?;
        filter.add("state = ?", state.as_str().into());
    }
    filter.year(req)?;
    if let Some(signer) = req.query_param("signer") {
        filter.add("id IN (SELECT document_id FROM document_signers WHERE user_id = ?)", signer.into());
    }
    filter.search(req);
    let (from, params) = filter.from("documents");
    paged(SUMMARY_COLUMNS, &from, "id DESC", &params, page).map(Json)
}
