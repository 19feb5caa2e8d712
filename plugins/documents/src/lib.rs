//! `documents`: a tenant's documents — Markdown with a title and a type, in
//! folders — with their version history, sharing with members and roles,
//! full-text search with ranking and highlights, attachments, and Markdown
//! and PDF exports.
//!
//! Who may do what is decided in [`access`] (owners, tenant admins and
//! documents managers do everything; `edit` shares read and change; `view`
//! shares read; anyone else gets a 404). The SQL is in [`store`], the
//! search's query and highlight handling in [`search`], the exports in
//! [`export`].

mod access;
mod export;
mod search;
mod store;

use plaza_sdk::listing::{Page, PageRequest};
use plaza_sdk::prelude::*;
use plaza_sdk::validation::{self, Errors};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use access::{Access, GranteeKind, MANAGER, Permission, Who};
use store::{Attachment, DocumentRow, DocumentSummary, Filters, Folder, Hit, Share, Version};

/// The event published when a document is shared (or a share's permission
/// changes).
pub const SHARED: &str = "documents.shared";
/// Longest title, in characters.
const MAX_TITLE: usize = 300;
/// Longest content, in characters (PostgreSQL's tsvector of a document
/// must stay under 1 MB).
const MAX_CONTENT: usize = 200_000;
/// Longest type, in characters.
const MAX_TYPE: usize = 50;
/// Longest folder name, in characters.
const MAX_FOLDER: usize = 200;
/// Largest attachment, in bytes (the host's request-body limit, 1 MiB by
/// default, applies first).
const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;
/// Attachments of one document.
const MAX_ATTACHMENTS: usize = 100;

struct Documents;

impl plaza_sdk::Module for Documents {
    fn router() -> Router {
        // Every tenant member, and keys or people holding only the module role.
        const USERS: [&str; 2] = ["member", MANAGER];
        Router::new("documents", env!("CARGO_PKG_VERSION"))
            .description(
                "Documents in Markdown with a type, in folders: version history with restore, sharing with \
                 members or roles (view or edit), full-text search with ranking and highlights on SQLite and \
                 PostgreSQL, attachments, and Markdown and PDF exports. Publishes documents.shared.",
            )
            .capabilities([Capability::Sql, Capability::Blob, Capability::Events, Capability::Log])
            .define_roles([MANAGER])
            .migration_pg(
                1,
                "documents, folders, versions, shares, attachments and the search index",
                include_str!("../migrations/0001_documents.sql"),
                include_str!("../migrations/0001_documents.postgres.sql"),
            )
            // ----- documents -----
            .get("/documents", list_documents)
            .roles(USERS)
            .summary(
                "Documents the caller may view, last changed first (query `folder` (an id or `none`), `type`, \
                 `owner` (a user id or `me`), `page`, `per_page`)",
            )
            .response::<Page<DocumentSummary>>()
            .post("/documents", create_document)
            .roles(USERS)
            .summary("Create a document owned by the caller (`title`, `content` in Markdown, `type`, `folder_id`)")
            .get("/documents/{id}", get_document)
            .roles(USERS)
            .summary("One document with its content and the caller's access; 404 when the caller may not view it")
            .patch("/documents/{id}", update_document)
            .roles(USERS)
            .summary(
                "Change title, content, type or folder (owner, admins and `edit` shares); a new title or content \
                 keeps the previous version in the history",
            )
            .put("/documents/{id}", update_document)
            .roles(USERS)
            .summary("As PATCH: absent fields stay")
            .delete("/documents/{id}", delete_document)
            .roles(USERS)
            .summary("Delete a document with its history, shares and attachments (owner and admins)")
            // ----- versions -----
            .get("/documents/{id}/versions", list_versions)
            .roles(USERS)
            .summary("The document's versions, newest first, the current one included (without content)")
            .get("/documents/{id}/versions/{version}", get_version)
            .roles(USERS)
            .summary("One version with its content")
            .post("/documents/{id}/versions/{version}/restore", restore_version)
            .roles(USERS)
            .summary("Make a new version whose title and content are those of an earlier one (history kept)")
            .request::<NoInput>()
            // ----- sharing -----
            .get("/documents/{id}/shares", list_shares)
            .roles(USERS)
            .summary("Who the document is shared with (owner and admins)")
            .post("/documents/{id}/shares", share_document)
            .roles(USERS)
            .summary(
                "Share with a `user_id` or a `role`, `permission` `view` or `edit` (owner and admins; publishes \
                 documents.shared); 201 for a new share, 200 for a changed one",
            )
            .delete("/documents/{id}/shares/{kind}/{grantee}", unshare_document)
            .roles(USERS)
            .summary("Stop sharing with a user (`/shares/users/{user_id}`) or a role (`/shares/roles/{role}`)")
            // ----- attachments -----
            .get("/documents/{id}/attachments", list_attachments)
            .roles(USERS)
            .summary("The document's attachments")
            .post("/documents/{id}/attachments", upload_attachment)
            .roles(USERS)
            .summary("Attach a file: the raw body with its content-type, query `filename` (owner, admins, `edit`)")
            .request::<FileBytes>()
            .get("/documents/{id}/attachments/{attachment}", download_attachment)
            .roles(USERS)
            .summary("An attachment's bytes, with its content type")
            .response::<FileBytes>()
            .delete("/documents/{id}/attachments/{attachment}", delete_attachment)
            .roles(USERS)
            .summary("Remove an attachment (owner, admins, `edit`)")
            // ----- exports -----
            .get("/documents/{id}/export.md", export_markdown)
            .roles(USERS)
            .summary("The document as Markdown with a front matter (title, type, folder, updated_at)")
            .response::<MarkdownFile>()
            .get("/documents/{id}/export.pdf", export_pdf)
            .roles(USERS)
            .summary("The document as a PDF")
            .response::<PdfFile>()
            // ----- search -----
            .get("/search", search_documents)
            .roles(USERS)
            .summary(
                "Documents the caller may view holding every word of `q`, best first, with highlighted title and \
                 snippet as HTML (query `q`, `folder`, `type`, `owner`, `page`, `per_page`)",
            )
            .response::<Page<Hit>>()
            // ----- folders -----
            .get("/folders", list_folders)
            .roles(USERS)
            .summary("The tenant's folders, by name (query `page`, `per_page`)")
            .response::<Page<Folder>>()
            .post("/folders", create_folder)
            .roles(USERS)
            .summary("Create a folder (`name`, unique)")
            .patch("/folders/{id}", rename_folder)
            .roles(USERS)
            .summary("Rename a folder (its creator and admins)")
            .delete("/folders/{id}", delete_folder)
            .roles(USERS)
            .summary("Delete an empty folder (its creator and admins); 409 while it holds documents")
    }
}

plaza_sdk::export!(Documents);

// ----- request and response types -----

/// A file's bytes, with its own content type.
#[derive(JsonSchema)]
#[schemars(extend("contentMediaType" = "application/octet-stream", "contentEncoding" = "binary"))]
#[allow(dead_code)] // a schema only
struct FileBytes(String);

/// Markdown with a YAML front matter.
#[derive(JsonSchema)]
#[schemars(extend("contentMediaType" = "text/markdown"))]
#[allow(dead_code)] // a schema only
struct MarkdownFile(String);

/// A PDF file.
#[derive(JsonSchema)]
#[schemars(extend("contentMediaType" = "application/pdf", "contentEncoding" = "binary"))]
#[allow(dead_code)] // a schema only
struct PdfFile(String);

/// A new document.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDocument {
    /// 1 to 300 characters.
    pub title: String,
    /// Markdown, at most 200 000 characters.
    #[serde(default)]
    pub content: String,
    /// Free text such as `note`, `policy`, `minutes`: 1 to 50 characters;
    /// `note` when absent.
    #[serde(rename = "type")]
    pub doc_type: Option<String>,
    /// The folder it goes in, if any.
    pub folder_id: Option<i64>,
}

/// A change to a document: absent fields stay; `folder_id: null` takes it
/// out of its folder.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentChange {
    pub title: Option<String>,
    pub content: Option<String>,
    #[serde(rename = "type")]
    pub doc_type: Option<String>,
    #[serde(default, deserialize_with = "validation::present")]
    #[schemars(with = "Option<i64>")]
    pub folder_id: Option<Option<i64>>,
    /// The version the change was made from: when given and no longer
    /// current, the change is refused with 409.
    pub version: Option<i64>,
}

/// A document with its content and what the caller may do with it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Document {
    pub id: i64,
    pub title: String,
    /// Markdown.
    pub content: String,
    #[serde(rename = "type")]
    pub doc_type: String,
    pub folder_id: Option<i64>,
    /// The folder's name.
    pub folder: Option<String>,
    /// The owner's user id.
    pub owner: String,
    /// The current version's number, from 1.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    /// Who wrote the current version.
    pub updated_by: String,
    /// The caller's access: `full` (owner, admin, manager), `edit` or `view`.
    pub access: Access,
}

/// A share to make: a user or a role, and a permission.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// A member's user id (or give `role`).
    pub user_id: Option<String>,
    /// A role name such as `member` or a module role (or give `user_id`).
    pub role: Option<String>,
    /// `view` or `edit`.
    pub permission: String,
}

/// A folder to create or rename.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FolderInput {
    /// 1 to 200 characters, unique in the tenant.
    pub name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Versions {
    pub items: Vec<Version>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Shares {
    pub items: Vec<Share>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Attachments {
    pub items: Vec<Attachment>,
}

/// The payload of `documents.shared`.
#[derive(Debug, Serialize)]
struct Shared<'a> {
    document_id: i64,
    title: &'a str,
    /// Set for a share with a user.
    user_id: Option<&'a str>,
    /// Set for a share with a role.
    role: Option<&'a str>,
    permission: &'a str,
    shared_by: &'a str,
}

// ----- helpers -----

fn who(req: &Request) -> Result<Who, Problem> {
    Who::from_caller(req.caller()).ok_or_else(|| Problem::forbidden("documents need a caller with a user id"))
}

fn no_document(id: i64) -> Problem {
    Problem::not_found().detail(format!("no document {id}"))
}

/// The document of the path and the caller's access, or 404 when the
/// caller may not view it.
fn viewable(req: &Request, who: &Who) -> Result<(DocumentRow, Access), Problem> {
    let id: i64 = req.path_param("id")?;
    store::visible(who, id)?.ok_or_else(|| no_document(id))
}

/// As [`viewable`], and 403 when the caller may view but not edit.
fn editable(req: &Request, who: &Who) -> Result<DocumentRow, Problem> {
    let (doc, access) = viewable(req, who)?;
    if !access.can_edit() {
        return Err(Problem::forbidden(format!("document {} is shared with you to view, not to edit", doc.id)));
    }
    Ok(doc)
}

/// As [`viewable`], and 403 unless the caller is the owner, an admin or a
/// documents manager.
fn owned(req: &Request, who: &Who, what: &str) -> Result<DocumentRow, Problem> {
    let (doc, access) = viewable(req, who)?;
    if !access.is_full() {
        return Err(Problem::forbidden(format!("only the owner of document {} and admins may {what}", doc.id)));
    }
    Ok(doc)
}

fn view(doc: DocumentRow, access: Access) -> Result<Document, Problem> {
    let folder = match doc.folder_id {
        Some(id) => store::folder(id)?.map(|f| f.name),
        None => None,
    };
    Ok(Document {
        id: doc.id,
        title: doc.title,
        content: doc.content,
        doc_type: doc.doc_type,
        folder_id: doc.folder_id,
        folder,
        owner: doc.owner,
        version: doc.version,
        created_at: doc.created_at,
        updated_at: doc.updated_at,
        updated_by: doc.updated_by,
        access,
    })
}

/// Checks a title, content and type; returns them trimmed (the content as given).
fn checked_fields(errors: &mut Errors, title: &str, content: &str, doc_type: &str) -> (String, String) {
    let title = validation::text(errors, "title", title, 1, MAX_TITLE);
    errors.check(!title.chars().any(char::is_control), "title", || "`title` must be one line".into());
    let count = content.chars().count();
    errors.check(count <= MAX_CONTENT, "content", || {
        format!("`content` has at most {MAX_CONTENT} characters, not {count}")
    });
    let doc_type = validation::text(errors, "type", doc_type, 1, MAX_TYPE);
    errors.check(!doc_type.chars().any(char::is_control), "type", || "`type` must be one line".into());
    (title, doc_type)
}

/// 422 naming `folder_id` when the folder does not exist.
fn check_folder(folder_id: Option<i64>) -> Result<(), Problem> {
    match folder_id {
        Some(id) if store::folder(id)?.is_none() => {
            Err(validation::invalid("folder_id", format!("there is no folder {id}")))
        }
        _ => Ok(()),
    }
}

/// The listing and search filters of the query.
fn filters(req: &Request, who: &Who) -> Result<Filters, Problem> {
    let mut f = Filters::default();
    if let Some(folder) = req.query_param("folder").map(str::trim).filter(|s| !s.is_empty()) {
        f.folder = Some(if folder == "none" {
            None
        } else {
            Some(folder.parse().map_err(|_| {
                validation::invalid("folder", format!("`folder` is a folder id or `none`, not {folder:?}"))
            })?)
        });
    }
    f.doc_type = req.query_param("type").map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    f.owner = req
        .query_param("owner")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|o| if o == "me" { who.user.clone() } else { o.to_owned() });
    Ok(f)
}

// ----- documents -----

fn list_documents(req: &Request) -> Result<Json<Page<DocumentSummary>>, Problem> {
    let who = who(req)?;
    let page = PageRequest::from_request(req)?;
    Ok(Json(store::list(&who, &filters(req, &who)?, page)?))
}

fn create_document(req: &Request, Json(body): Json<NewDocument>) -> Result<Created<Document>, Problem> {
    let who = who(req)?;
    let mut errors = Errors::default();
    let (title, doc_type) =
        checked_fields(&mut errors, &body.title, &body.content, body.doc_type.as_deref().unwrap_or("note"));
    errors.finish()?;
    check_folder(body.folder_id)?;
    let now = time::now_rfc3339();
    let doc = sql::transaction(|| {
        store::insert(&store::NewDocument {
            title: &title,
            content: &body.content,
            doc_type: &doc_type,
            folder_id: body.folder_id,
            owner: &who.user,
            now: &now,
        })
    })?;
    Ok(Created(view(doc, Access::Full)?))
}

fn get_document(req: &Request) -> Result<Json<Document>, Problem> {
    let who = who(req)?;
    let (doc, access) = viewable(req, &who)?;
    Ok(Json(view(doc, access)?))
}

fn update_document(req: &Request, Json(body): Json<DocumentChange>) -> Result<Json<Document>, Problem> {
    let who = who(req)?;
    let (current, access) = viewable(req, &who)?;
    if !access.can_edit() {
        return Err(Problem::forbidden(format!("document {} is shared with you to view, not to edit", current.id)));
    }
    if let Some(expected) = body.version
        && expected != current.version
    {
        return Err(Problem::conflict(format!(
            "document {} is at version {}, not {expected}; read it again",
            current.id, current.version
        ))
        .with("version", current.version));
    }
    let mut errors = Errors::default();
    let (title, doc_type) = checked_fields(
        &mut errors,
        body.title.as_deref().unwrap_or(&current.title),
        body.content.as_deref().unwrap_or(&current.content),
        body.doc_type.as_deref().unwrap_or(&current.doc_type),
    );
    errors.finish()?;
    let folder_id = body.folder_id.unwrap_or(current.folder_id);
    if folder_id != current.folder_id {
        check_folder(folder_id)?;
    }
    let content = body.content.as_deref().unwrap_or(&current.content);
    let now = time::now_rfc3339();
    let doc = sql::transaction(|| {
        store::update(
            &current,
            &store::Change { title: &title, content, doc_type: &doc_type, folder_id, by: &who.user, now: &now },
        )
    })?;
    Ok(Json(view(doc, access)?))
}

fn delete_document(req: &Request) -> Result<NoContent, Problem> {
    let who = who(req)?;
    let doc = owned(req, &who, "delete it")?;
    let keys = sql::transaction(|| store::delete(doc.id))?;
    for key in keys {
        if let Err(e) = blob::delete(&key) {
            log::warn(format!("attachment {key} of deleted document {} not deleted: {e}", doc.id));
        }
    }
    Ok(NoContent)
}

// ----- versions -----

fn list_versions(req: &Request) -> Result<Json<Versions>, Problem> {
    let who = who(req)?;
    let (doc, _) = viewable(req, &who)?;
    let mut items = vec![Version {
        version: doc.version,
        title: doc.title.clone(),
        content: None,
        author: doc.updated_by.clone(),
        created_at: doc.content_updated_at.clone(),
        current: true,
    }];
    items.extend(store::versions(doc.id)?);
    Ok(Json(Versions { items }))
}

/// Version `n` of `doc`: the current one, or one from the history.
fn version_of(doc: &DocumentRow, n: i64) -> Result<Version, Problem> {
    if n == doc.version {
        return Ok(Version {
            version: doc.version,
            title: doc.title.clone(),
            content: Some(doc.content.clone()),
            author: doc.updated_by.clone(),
            created_at: doc.content_updated_at.clone(),
            current: true,
        });
    }
    store::version(doc.id, n)?
        .ok_or_else(|| Problem::not_found().detail(format!("document {} has no version {n}", doc.id)))
}

fn get_version(req: &Request) -> Result<Json<Version>, Problem> {
    let who = who(req)?;
    let (doc, _) = viewable(req, &who)?;
    let n: i64 = req.path_param("version")?;
    Ok(Json(version_of(&doc, n)?))
}

fn restore_version(req: &Request) -> Result<Json<Document>, Problem> {
    let who = who(req)?;
    let (current, access) = viewable(req, &who)?;
    if !access.can_edit() {
        return Err(Problem::forbidden(format!("document {} is shared with you to view, not to edit", current.id)));
    }
    let n: i64 = req.path_param("version")?;
    let old = version_of(&current, n)?;
    let content = old.content.unwrap_or_default();
    let now = time::now_rfc3339();
    let doc = sql::transaction(|| {
        store::update(
            &current,
            &store::Change {
                title: &old.title,
                content: &content,
                doc_type: &current.doc_type,
                folder_id: current.folder_id,
                by: &who.user,
                now: &now,
            },
        )
    })?;
    plaza_sdk::info!("document {} restored to version {n} as version {}", doc.id, doc.version);
    Ok(Json(view(doc, access)?))
}

// ----- sharing -----

fn list_shares(req: &Request) -> Result<Json<Shares>, Problem> {
    let who = who(req)?;
    let doc = owned(req, &who, "see its shares")?;
    Ok(Json(Shares { items: store::shares(doc.id)? }))
}

/// Who a share is for, checked: 422 naming the field otherwise.
fn grantee(body: &ShareRequest) -> Result<(GranteeKind, String, Permission), Problem> {
    let mut errors = Errors::default();
    let target = match (&body.user_id, &body.role) {
        (Some(user), None) => {
            let user = user.trim();
            errors.check(access::valid_user_id(user), "user_id", || {
                "`user_id` is a user id: 1 to 200 characters without spaces".into()
            });
            Some((GranteeKind::User, user.to_owned()))
        }
        (None, Some(role)) => {
            let role = role.trim();
            errors.check(access::valid_role(role), "role", || {
                "`role` is a role name: lower-case letters, digits, `-` and `_`".into()
            });
            Some((GranteeKind::Role, role.to_owned()))
        }
        _ => {
            errors.add("user_id", "give either `user_id` or `role`");
            None
        }
    };
    let permission = Permission::parse(body.permission.trim());
    errors.check(permission.is_some(), "permission", || {
        format!("`permission` is `view` or `edit`, not {:?}", body.permission)
    });
    errors.finish()?;
    match (target, permission) {
        (Some((kind, grantee)), Some(permission)) => Ok((kind, grantee, permission)),
        _ => Err(validation::invalid("permission", "invalid share")),
    }
}

fn share_document(req: &Request, Json(body): Json<ShareRequest>) -> Result<Response, Problem> {
    let who = who(req)?;
    let doc = owned(req, &who, "share it")?;
    let (kind, grantee, permission) = grantee(&body)?;
    if kind == GranteeKind::User && grantee == doc.owner {
        return Err(validation::invalid("user_id", "the owner has every right on the document already"));
    }
    let before = store::share(doc.id, kind, &grantee)?;
    let now = time::now_rfc3339();
    let share = sql::transaction(|| -> Result<Share, Problem> {
        let share = store::put_share(doc.id, kind, &grantee, permission, &who.user, &now)?;
        if before.as_ref().is_none_or(|b| b.permission != share.permission) {
            events::publish(
                SHARED,
                &Shared {
                    document_id: doc.id,
                    title: &doc.title,
                    user_id: (kind == GranteeKind::User).then_some(grantee.as_str()),
                    role: (kind == GranteeKind::Role).then_some(grantee.as_str()),
                    permission: permission.as_str(),
                    shared_by: &who.user,
                },
            )?;
        }
        Ok(share)
    })?;
    Ok(Response::json(if before.is_some() { 200 } else { 201 }, &share))
}

fn unshare_document(req: &Request) -> Result<NoContent, Problem> {
    let who = who(req)?;
    let doc = owned(req, &who, "change its shares")?;
    let kind_text: String = req.path_param("kind")?;
    let kind = GranteeKind::parse(&kind_text).ok_or_else(|| {
        Problem::not_found().detail(format!("shares are under `users` or `roles`, not {kind_text:?}"))
    })?;
    let grantee: String = req.path_param("grantee")?;
    if store::delete_share(doc.id, kind, &grantee)? {
        Ok(NoContent)
    } else {
        Err(Problem::not_found().detail(format!(
            "document {} is not shared with the {} {grantee:?}",
            doc.id,
            kind.as_str()
        )))
    }
}

// ----- attachments -----

fn list_attachments(req: &Request) -> Result<Json<Attachments>, Problem> {
    let who = who(req)?;
    let (doc, _) = viewable(req, &who)?;
    Ok(Json(Attachments { items: store::attachments(doc.id)? }))
}

/// An attachment's file name: 1 to 255 characters, no path separators or
/// control characters.
fn valid_filename(name: &str) -> bool {
    let len = name.chars().count();
    (1..=255).contains(&len)
        && name != "."
        && name != ".."
        && !name.chars().any(|c| c.is_control() || c == '/' || c == '\\')
}

/// A media type as a blob takes it: `type/subtype`, parameters kept, one line.
fn valid_media_type(media_type: &str) -> bool {
    let essence = media_type.split(';').next().unwrap_or("").trim();
    let mut parts = essence.split('/');
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b));
    matches!((parts.next(), parts.next(), parts.next()), (Some(t), Some(s), None) if token(t) && token(s))
        && media_type.len() <= 200
        && !media_type.chars().any(char::is_control)
}

fn upload_attachment(req: &Request) -> Result<Created<Attachment>, Problem> {
    let who = who(req)?;
    let doc = editable(req, &who)?;
    let filename = req.query_param("filename").map(str::trim).unwrap_or("");
    let content_type = req.content_type().map(str::trim).unwrap_or("");
    let body = req.body();
    let mut errors = Errors::default();
    errors.check(valid_filename(filename), "filename", || {
        "query `filename`: 1 to 255 characters, without `/`, `\\` or control characters".into()
    });
    errors.check(valid_media_type(content_type), "content-type", || {
        format!("the content-type header must be a media type such as `application/pdf`, not {content_type:?}")
    });
    errors.check(!body.is_empty(), "body", || "the body is the file: it is empty".into());
    errors.finish()?;
    if body.len() > MAX_ATTACHMENT_BYTES {
        return Err(Problem::of_kind(413, "payload-too-large")
            .detail(format!("an attachment has at most {MAX_ATTACHMENT_BYTES} bytes, not {}", body.len())));
    }
    if store::attachments(doc.id)?.len() >= MAX_ATTACHMENTS {
        return Err(Problem::conflict(format!("document {} has {MAX_ATTACHMENTS} attachments already", doc.id)));
    }
    let size = i64::try_from(body.len()).unwrap_or(i64::MAX);
    let now = time::now_rfc3339();
    // The record and the blob together: a failed store rolls the record back.
    let attachment = sql::transaction(|| -> Result<Attachment, Problem> {
        let attachment = store::insert_attachment(doc.id, filename, content_type, size, &who.user, &now)?;
        store::touch(doc.id, &now)?;
        blob::put(&store::attachment_key(doc.id, attachment.id), body, content_type)?;
        Ok(attachment)
    })?;
    Ok(Created(attachment))
}

/// `filename` for a `content-disposition` header: quotes, backslashes and
/// anything outside printable ASCII replaced, the UTF-8 name in `filename*`.
fn disposition(filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let mut encoded = String::new();
    for b in filename.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

fn download_attachment(req: &Request) -> Result<Response, Problem> {
    let who = who(req)?;
    let (doc, _) = viewable(req, &who)?;
    let id: i64 = req.path_param("attachment")?;
    let missing = || Problem::not_found().detail(format!("document {} has no attachment {id}", doc.id));
    let attachment = store::attachment(doc.id, id)?.ok_or_else(missing)?;
    let object = blob::get(&store::attachment_key(doc.id, id))?.ok_or_else(missing)?;
    Ok(Response::bytes(&attachment.content_type, object.data)
        .with_header("content-disposition", disposition(&attachment.filename))
        .with_header("x-content-type-options", "nosniff")
        .with_header("content-security-policy", "sandbox"))
}

fn delete_attachment(req: &Request) -> Result<NoContent, Problem> {
    let who = who(req)?;
    let doc = editable(req, &who)?;
    let id: i64 = req.path_param("attachment")?;
    let now = time::now_rfc3339();
    let deleted = sql::transaction(|| -> Result<bool, Problem> {
        let deleted = store::delete_attachment(doc.id, id)?;
        if deleted {
            store::touch(doc.id, &now)?;
        }
        Ok(deleted)
    })?;
    if !deleted {
        return Err(Problem::not_found().detail(format!("document {} has no attachment {id}", doc.id)));
    }
    blob::delete(&store::attachment_key(doc.id, id))?;
    Ok(NoContent)
}

// ----- exports -----

fn exported<'a>(doc: &'a DocumentRow, folder: Option<&'a str>) -> export::Exported<'a> {
    export::Exported {
        title: &doc.title,
        doc_type: &doc.doc_type,
        folder,
        updated_at: &doc.updated_at,
        content: &doc.content,
    }
}

fn folder_name(doc: &DocumentRow) -> Result<Option<String>, Problem> {
    Ok(match doc.folder_id {
        Some(id) => store::folder(id)?.map(|f| f.name),
        None => None,
    })
}

fn export_markdown(req: &Request) -> Result<Response, Problem> {
    let who = who(req)?;
    let (doc, _) = viewable(req, &who)?;
    let folder = folder_name(&doc)?;
    let text = export::markdown(&exported(&doc, folder.as_deref()));
    let name = format!("{}.md", export::file_stem(&doc.title, doc.id));
    Ok(Response::bytes("text/markdown; charset=utf-8", text.into_bytes())
        .with_header("content-disposition", disposition(&name)))
}

fn export_pdf(req: &Request) -> Result<Response, Problem> {
    let who = who(req)?;
    let (doc, _) = viewable(req, &who)?;
    let folder = folder_name(&doc)?;
    let bytes = export::pdf(&exported(&doc, folder.as_deref()));
    if bytes.is_empty() {
        return Err(Problem::internal("the PDF could not be rendered"));
    }
    let name = format!("{}.pdf", export::file_stem(&doc.title, doc.id));
    Ok(Response::bytes("application/pdf", bytes).with_header("content-disposition", disposition(&name)))
}

// ----- search -----

fn search_documents(req: &Request) -> Result<Json<Page<Hit>>, Problem> {
    let who = who(req)?;
    let q = req.query_param("q").unwrap_or("");
    let words = search::words(q);
    if words.is_empty() {
        return Err(validation::invalid("q", "`q` needs at least one word (letters or digits)"));
    }
    if words.len() > search::MAX_WORDS {
        return Err(validation::invalid("q", format!("`q` has at most {} words", search::MAX_WORDS)));
    }
    let page = PageRequest::from_request(req)?;
    Ok(Json(store::search(&who, &words, &filters(req, &who)?, page)?))
}

// ----- folders -----

fn list_folders(req: &Request) -> Result<Json<Page<Folder>>, Problem> {
    Ok(Json(store::folders(PageRequest::from_request(req)?)?))
}

fn folder_name_checked(name: &str) -> Result<String, Problem> {
    let mut errors = Errors::default();
    let name = validation::text(&mut errors, "name", name, 1, MAX_FOLDER);
    errors.check(!name.chars().any(char::is_control), "name", || "`name` must be one line".into());
    errors.finish()?;
    if store::folder_named(&name)?.is_some() {
        return Err(validation::taken("name", format!("there is a folder named {name:?} already")));
    }
    Ok(name)
}

fn create_folder(req: &Request, Json(body): Json<FolderInput>) -> Result<Created<Folder>, Problem> {
    let who = who(req)?;
    let name = folder_name_checked(&body.name)?;
    Ok(Created(store::insert_folder(&name, &who.user, &time::now_rfc3339())?))
}

/// The folder of the path, if the caller created it or manages everything.
fn managed_folder(req: &Request, who: &Who) -> Result<Folder, Problem> {
    let id: i64 = req.path_param("id")?;
    let folder = store::folder(id)?.ok_or_else(|| Problem::not_found().detail(format!("no folder {id}")))?;
    if !who.manages_all && folder.created_by != who.user {
        return Err(Problem::forbidden(format!("only the creator of folder {id} and admins may change it")));
    }
    Ok(folder)
}

fn rename_folder(req: &Request, Json(body): Json<FolderInput>) -> Result<Json<Folder>, Problem> {
    let who = who(req)?;
    let folder = managed_folder(req, &who)?;
    if body.name.trim() == folder.name {
        return Ok(Json(folder));
    }
    let name = folder_name_checked(&body.name)?;
    store::rename_folder(folder.id, &name, &time::now_rfc3339())?
        .map(Json)
        .ok_or_else(|| Problem::not_found().detail(format!("no folder {}", folder.id)))
}

fn delete_folder(req: &Request) -> Result<NoContent, Problem> {
    let who = who(req)?;
    let folder = managed_folder(req, &who)?;
    let count = store::folder_documents(folder.id)?;
    if count > 0 {
        return Err(Problem::conflict(format!(
            "folder {:?} is not empty: move or delete its documents first",
            folder.name
        ))
        .with("documents", count));
    }
    store::delete_folder(folder.id)?;
    Ok(NoContent)
}

#[cfg(test)]
mod tests {
    use plaza_sdk::{Access as RouteAccess, Module};

    use super::*;

    /// The manifest builds natively: every route has access and a summary,
    /// and every one admits members and the module's manager role.
    #[test]
    fn the_manifest_describes_every_route() {
        let manifest = Documents::router().manifest();
        assert_eq!(manifest.name, "documents");
        assert_eq!(manifest.routes.len(), 23);
        for route in &manifest.routes {
            assert!(!route.summary.is_empty(), "{}", route.path);
            match &route.access {
                RouteAccess::Roles(roles) => assert_eq!(roles, &["member", MANAGER], "{}", route.path),
                RouteAccess::Public => panic!("{} is public", route.path),
            }
        }
        assert_eq!(manifest.roles, [MANAGER]);
        assert!(manifest.migrations[0].postgres_sql.as_deref().is_some_and(|sql| sql.contains("tsvector")));
        assert!(manifest.migrations[0].sql.contains("USING fts5(title, content)"));
    }

    #[test]
    fn share_requests_name_one_grantee_and_a_permission() {
        let req = |user: Option<&str>, role: Option<&str>, permission: &str| ShareRequest {
            user_id: user.map(str::to_owned),
            role: role.map(str::to_owned),
            permission: permission.to_owned(),
        };
        let ok = grantee(&req(Some(" u-1 "), None, "view")).ok();
        assert_eq!(ok, Some((GranteeKind::User, "u-1".to_owned(), Permission::View)));
        let ok = grantee(&req(None, Some("member"), "edit")).ok();
        assert_eq!(ok, Some((GranteeKind::Role, "member".to_owned(), Permission::Edit)));
        let field =
            |r: ShareRequest| grantee(&r).err().map(|p| (p.status(), p.extensions()["errors"][0]["field"].clone()));
        assert_eq!(field(req(None, None, "view")), Some((422, "user_id".into())));
        assert_eq!(field(req(Some("a"), Some("b"), "view")), Some((422, "user_id".into())));
        assert_eq!(field(req(Some("a"), None, "admin")), Some((422, "permission".into())));
        assert_eq!(field(req(None, Some("Not A Role"), "view")), Some((422, "role".into())));
    }

    #[test]
    fn fields_are_checked_and_named() {
        let mut errors = Errors::default();
        let (title, doc_type) = checked_fields(&mut errors, "  Leave policy ", "text", " policy ");
        assert_eq!((title.as_str(), doc_type.as_str()), ("Leave policy", "policy"));
        assert!(errors.finish().is_ok());
        let mut errors = Errors::default();
        checked_fields(&mut errors, "", &"x".repeat(MAX_CONTENT + 1), "a\nb");
        let problem = errors.finish().err();
        let fields: Vec<String> = problem
            .map(|p| {
                p.extensions()["errors"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect())
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        assert_eq!(fields, ["title", "content", "type"]);
    }

    #[test]
    fn file_names_media_types_and_dispositions_are_safe() {
        assert!(valid_filename("minutes 2026.pdf") && valid_filename("acta-ñandú.docx"));
        for bad in ["", ".", "..", "a/b", "a\\b", "a\nb", &"x".repeat(256)] {
            assert!(!valid_filename(bad), "{bad:?}");
        }
        assert!(valid_media_type("application/pdf") && valid_media_type("text/plain; charset=utf-8"));
        for bad in ["", "pdf", "a/b/c", "text/plain\r\nx: y", "a /b"] {
            assert!(!valid_media_type(bad), "{bad:?}");
        }
        assert_eq!(
            disposition("acta \"final\"ñ.pdf"),
            "attachment; filename=\"acta _final__.pdf\"; filename*=UTF-8''acta%20%22final%22%C3%B1.pdf"
        );
    }
}
