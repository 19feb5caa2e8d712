//! The documents module's SQL. Everything runs through the portable
//! dialect but full-text search, which differs per database: an fts5 table
//! kept in step by the module on SQLite, a generated `tsvector` column on
//! PostgreSQL. Which database a namespace is on is told by the module's own
//! migration (the view `documents_backend`).

use std::sync::OnceLock;

use plaza_sdk::listing::{self, Page, PageRequest};
use plaza_sdk::prelude::*;
use plaza_sdk::{Result, sql::Value};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::access::{Access, Grant, GranteeKind, Permission, Who};
use crate::search;

/// The database of this namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Read once per call (each call runs in a fresh instance).
pub fn backend() -> Result<Backend> {
    static BACKEND: OnceLock<Backend> = OnceLock::new();
    if let Some(b) = BACKEND.get() {
        return Ok(*b);
    }
    #[derive(Deserialize)]
    struct Row {
        name: String,
    }
    let row: Option<Row> = sql::query_one_as("SELECT name FROM documents_backend", &[])?;
    let b = if row.is_some_and(|r| r.name == "postgres") { Backend::Postgres } else { Backend::Sqlite };
    Ok(*BACKEND.get_or_init(|| b))
}

// ----- rows -----

/// A document row, content included.
#[derive(Debug, Clone, Deserialize)]
pub struct DocumentRow {
    pub id: i64,
    pub title: String,
    pub content: String,
    pub doc_type: String,
    pub folder_id: Option<i64>,
    pub owner: String,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    pub updated_by: String,
    pub content_updated_at: String,
}

const DOCUMENT_COLUMNS: &str =
    "id, title, content, doc_type, folder_id, owner, version, created_at, updated_at, updated_by, content_updated_at";

/// A document in a listing: everything but the content.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DocumentSummary {
    pub id: i64,
    pub title: String,
    /// Free text: `note`, `policy`, `minutes`, …
    #[serde(rename = "type", alias = "doc_type")]
    pub doc_type: String,
    pub folder_id: Option<i64>,
    /// The owner's user id.
    pub owner: String,
    /// The current version's number.
    pub version: i64,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC: the last change of anything.
    pub updated_at: String,
}

const SUMMARY_COLUMNS: &str = "id, title, doc_type, folder_id, owner, version, created_at, updated_at";

/// A folder.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Folder {
    pub id: i64,
    pub name: String,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

const FOLDER_COLUMNS: &str = "id, name, created_by, created_at, updated_at";

/// An earlier version of a document (or its current one, `current`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Version {
    pub version: i64,
    pub title: String,
    /// Left out of listings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Who wrote this version.
    pub author: String,
    /// RFC 3339 UTC: when it was written.
    pub created_at: String,
    /// True for the document's current version.
    #[serde(default)]
    pub current: bool,
}

/// A share of a document.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Share {
    pub document_id: i64,
    /// `user` or `role`.
    pub grantee_kind: String,
    /// A user id, or a role name.
    pub grantee: String,
    /// `view` or `edit`.
    pub permission: String,
    pub shared_by: String,
    /// RFC 3339 UTC.
    pub created_at: String,
}

const SHARE_COLUMNS: &str = "document_id, grantee_kind, grantee, permission, shared_by, created_at";

/// An attachment's record; its bytes are a blob.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Attachment {
    pub id: i64,
    pub document_id: i64,
    pub filename: String,
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    pub uploaded_by: String,
    /// RFC 3339 UTC.
    pub created_at: String,
}

const ATTACHMENT_COLUMNS: &str = "id, document_id, filename, content_type, size, uploaded_by, created_at";

pub fn attachment_key(document_id: i64, attachment_id: i64) -> String {
    format!("documents/{document_id}/attachments/{attachment_id}")
}

// ----- visibility -----

/// A `WHERE` being built, with its parameters numbered in order.
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    params: Vec<Value>,
}

impl Where {
    /// The placeholder of a new parameter.
    fn param(&mut self, value: impl Into<Value>) -> String {
        self.params.push(value.into());
        format!("${}", self.params.len())
    }

    fn clause(&mut self, clause: String) {
        self.clauses.push(clause);
    }

    /// Only documents (`d`) `who` may view: everything for managers,
    /// otherwise their own and those shared with them or a role they hold.
    fn visible_to(&mut self, who: &Who) {
        if who.manages_all {
            return;
        }
        let user = self.param(who.user.as_str());
        let mut share = format!("(s.grantee_kind = 'user' AND s.grantee = {user})");
        if !who.roles.is_empty() {
            let roles: Vec<String> = who.roles.iter().map(|r| self.param(r.as_str())).collect();
            share.push_str(&format!(" OR (s.grantee_kind = 'role' AND s.grantee IN ({}))", roles.join(", ")));
        }
        self.clause(format!(
            "(d.owner = {user} OR EXISTS (SELECT 1 FROM shares AS s WHERE s.document_id = d.id AND ({share})))"
        ));
    }

    /// ` WHERE …` (or nothing), and the parameters.
    fn finish(self) -> (String, Vec<Value>) {
        let sql =
            if self.clauses.is_empty() { String::new() } else { format!(" WHERE {}", self.clauses.join(" AND ")) };
        (sql, self.params)
    }
}

// ----- documents -----

pub fn document(id: i64) -> Result<Option<DocumentRow>> {
    sql::query_one_as(&format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = $1"), &params![id])
}

pub fn grants(id: i64) -> Result<Vec<Grant>> {
    #[derive(Deserialize)]
    struct Row {
        grantee_kind: String,
        grantee: String,
        permission: String,
    }
    let rows: Vec<Row> =
        sql::query_as("SELECT grantee_kind, grantee, permission FROM shares WHERE document_id = $1", &params![id])?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(Grant {
                kind: GranteeKind::parse(&r.grantee_kind)?,
                grantee: r.grantee,
                permission: Permission::parse(&r.permission)?,
            })
        })
        .collect())
}

/// The document and the caller's access to it, `None` when it does not
/// exist or the caller may not even view it.
pub fn visible(who: &Who, id: i64) -> Result<Option<(DocumentRow, Access)>> {
    let Some(doc) = document(id)? else { return Ok(None) };
    let access = crate::access::access(who, &doc.owner, &if who.manages_all { Vec::new() } else { grants(id)? });
    Ok(access.can_view().then_some((doc, access)))
}

/// A page of the documents `who` may view, newest change first.
pub fn list(who: &Who, filters: &Filters, page: PageRequest) -> Result<Page<DocumentSummary>, Problem> {
    let mut w = Where::default();
    filters.apply(&mut w);
    w.visible_to(who);
    let (where_sql, params) = w.finish();
    let columns = SUMMARY_COLUMNS.split(", ").map(|c| format!("d.{c}")).collect::<Vec<_>>().join(", ");
    listing::paged(&columns, &format!("FROM documents AS d{where_sql}"), "d.updated_at DESC, d.id DESC", &params, page)
}

pub struct NewDocument<'a> {
    pub title: &'a str,
    pub content: &'a str,
    pub doc_type: &'a str,
    pub folder_id: Option<i64>,
    pub owner: &'a str,
    pub now: &'a str,
}

/// Inserts a document (and its search entry); call inside a transaction.
pub fn insert(new: &NewDocument<'_>) -> Result<DocumentRow, Problem> {
    let doc: DocumentRow = sql::query_one_as(
        &format!(
            "INSERT INTO documents (title, content, doc_type, folder_id, owner, version, created_at, updated_at, \
             updated_by, content_updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $6, $5, $6) RETURNING {DOCUMENT_COLUMNS}"
        ),
        &params![new.title, new.content, new.doc_type, new.folder_id, new.owner, new.now],
    )?
    .ok_or_else(|| Problem::internal("INSERT … RETURNING gave no row"))?;
    if backend()? == Backend::Sqlite {
        sql::execute(
            "INSERT INTO documents_fts (rowid, title, content) VALUES ($1, $2, $3)",
            &params![doc.id, doc.title.as_str(), doc.content.as_str()],
        )?;
    }
    Ok(doc)
}

/// What an update changes.
pub struct Change<'a> {
    pub title: &'a str,
    pub content: &'a str,
    pub doc_type: &'a str,
    pub folder_id: Option<i64>,
    pub by: &'a str,
    pub now: &'a str,
}

/// Applies `change` to `current`: when the title or the content changes,
/// the current version goes to the history first and the version number
/// goes up. Call inside a transaction. A concurrent update of the same
/// version makes the history's primary key refuse the second (409).
pub fn update(current: &DocumentRow, change: &Change<'_>) -> Result<DocumentRow, Problem> {
    let text_changed = change.title != current.title || change.content != current.content;
    let doc: Option<DocumentRow> = if text_changed {
        sql::execute(
            "INSERT INTO document_versions (document_id, version, title, content, author, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &params![
                current.id,
                current.version,
                current.title.as_str(),
                current.content.as_str(),
                current.updated_by.as_str(),
                current.content_updated_at.as_str()
            ],
        )?;
        sql::query_one_as(
            &format!(
                "UPDATE documents SET title = $1, content = $2, doc_type = $3, folder_id = $4, version = version + 1, \
                 updated_at = $5, updated_by = $6, content_updated_at = $5 WHERE id = $7 AND version = $8 \
                 RETURNING {DOCUMENT_COLUMNS}"
            ),
            &params![
                change.title,
                change.content,
                change.doc_type,
                change.folder_id,
                change.now,
                change.by,
                current.id,
                current.version
            ],
        )?
    } else {
        sql::query_one_as(
            &format!(
                "UPDATE documents SET doc_type = $1, folder_id = $2, updated_at = $3 WHERE id = $4 AND version = $5 \
                 RETURNING {DOCUMENT_COLUMNS}"
            ),
            &params![change.doc_type, change.folder_id, change.now, current.id, current.version],
        )?
    };
    let doc = doc.ok_or_else(|| {
        Problem::conflict(format!("document {} changed meanwhile; read it again and retry", current.id))
    })?;
    if text_changed && backend()? == Backend::Sqlite {
        sql::execute(
            "UPDATE documents_fts SET title = $1, content = $2 WHERE rowid = $3",
            &params![doc.title.as_str(), doc.content.as_str(), doc.id],
        )?;
    }
    Ok(doc)
}

/// Deletes a document with its versions, shares, attachment records and
/// search entry; returns the attachments' blob keys. Call inside a
/// transaction.
pub fn delete(id: i64) -> Result<Vec<String>> {
    let keys = attachments(id)?.into_iter().map(|a| attachment_key(id, a.id)).collect();
    for table in ["document_versions", "shares", "attachments"] {
        sql::execute(&format!("DELETE FROM {table} WHERE document_id = $1"), &params![id])?;
    }
    sql::execute("DELETE FROM documents WHERE id = $1", &params![id])?;
    if backend()? == Backend::Sqlite {
        sql::execute("DELETE FROM documents_fts WHERE rowid = $1", &params![id])?;
    }
    Ok(keys)
}

// ----- versions -----

pub fn versions(id: i64) -> Result<Vec<Version>> {
    sql::query_as(
        "SELECT version, title, author, created_at FROM document_versions WHERE document_id = $1 ORDER BY version DESC",
        &params![id],
    )
}

pub fn version(id: i64, version: i64) -> Result<Option<Version>> {
    sql::query_one_as(
        "SELECT version, title, content, author, created_at FROM document_versions \
         WHERE document_id = $1 AND version = $2",
        &params![id, version],
    )
}

// ----- shares -----

pub fn shares(id: i64) -> Result<Vec<Share>> {
    sql::query_as(
        &format!("SELECT {SHARE_COLUMNS} FROM shares WHERE document_id = $1 ORDER BY grantee_kind, grantee"),
        &params![id],
    )
}

pub fn share(id: i64, kind: GranteeKind, grantee: &str) -> Result<Option<Share>> {
    sql::query_one_as(
        &format!("SELECT {SHARE_COLUMNS} FROM shares WHERE document_id = $1 AND grantee_kind = $2 AND grantee = $3"),
        &params![id, kind.as_str(), grantee],
    )
}

/// Creates or changes a share; call inside a transaction.
pub fn put_share(
    id: i64,
    kind: GranteeKind,
    grantee: &str,
    permission: Permission,
    by: &str,
    now: &str,
) -> Result<Share, Problem> {
    sql::query_one_as(
        &format!(
            "INSERT INTO shares (document_id, grantee_kind, grantee, permission, shared_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (document_id, grantee_kind, grantee) DO UPDATE \
             SET permission = excluded.permission, shared_by = excluded.shared_by, created_at = excluded.created_at \
             RETURNING {SHARE_COLUMNS}"
        ),
        &params![id, kind.as_str(), grantee, permission.as_str(), by, now],
    )?
    .ok_or_else(|| Problem::internal("INSERT … RETURNING gave no row"))
}

pub fn delete_share(id: i64, kind: GranteeKind, grantee: &str) -> Result<bool> {
    Ok(sql::execute(
        "DELETE FROM shares WHERE document_id = $1 AND grantee_kind = $2 AND grantee = $3",
        &params![id, kind.as_str(), grantee],
    )? > 0)
}

// ----- folders -----

pub fn folders(page: PageRequest) -> Result<Page<Folder>, Problem> {
    listing::paged(FOLDER_COLUMNS, "FROM folders", "name, id", &[], page)
}

pub fn folder(id: i64) -> Result<Option<Folder>> {
    sql::query_one_as(&format!("SELECT {FOLDER_COLUMNS} FROM folders WHERE id = $1"), &params![id])
}

pub fn folder_named(name: &str) -> Result<Option<Folder>> {
    sql::query_one_as(&format!("SELECT {FOLDER_COLUMNS} FROM folders WHERE name = $1"), &params![name])
}

pub fn insert_folder(name: &str, by: &str, now: &str) -> Result<Folder, Problem> {
    sql::query_one_as(
        &format!(
            "INSERT INTO folders (name, created_by, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             RETURNING {FOLDER_COLUMNS}"
        ),
        &params![name, by, now],
    )?
    .ok_or_else(|| Problem::internal("INSERT … RETURNING gave no row"))
}

pub fn rename_folder(id: i64, name: &str, now: &str) -> Result<Option<Folder>> {
    sql::query_one_as(
        &format!("UPDATE folders SET name = $1, updated_at = $2 WHERE id = $3 RETURNING {FOLDER_COLUMNS}"),
        &params![name, now, id],
    )
}

pub fn folder_documents(id: i64) -> Result<i64, Problem> {
    listing::count("SELECT COUNT(*) AS n FROM documents WHERE folder_id = $1", &params![id])
}

pub fn delete_folder(id: i64) -> Result<bool> {
    Ok(sql::execute("DELETE FROM folders WHERE id = $1", &params![id])? > 0)
}

// ----- attachments -----

pub fn attachments(id: i64) -> Result<Vec<Attachment>> {
    sql::query_as(
        &format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE document_id = $1 ORDER BY id"),
        &params![id],
    )
}

pub fn attachment(document_id: i64, id: i64) -> Result<Option<Attachment>> {
    sql::query_one_as(
        &format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE document_id = $1 AND id = $2"),
        &params![document_id, id],
    )
}

pub fn insert_attachment(
    document_id: i64,
    filename: &str,
    content_type: &str,
    size: i64,
    by: &str,
    now: &str,
) -> Result<Attachment, Problem> {
    sql::query_one_as(
        &format!(
            "INSERT INTO attachments (document_id, filename, content_type, size, uploaded_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ATTACHMENT_COLUMNS}"
        ),
        &params![document_id, filename, content_type, size, by, now],
    )?
    .ok_or_else(|| Problem::internal("INSERT … RETURNING gave no row"))
}

pub fn delete_attachment(document_id: i64, id: i64) -> Result<bool> {
    Ok(sql::execute("DELETE FROM attachments WHERE document_id = $1 AND id = $2", &params![document_id, id])? > 0)
}

/// Marks the document changed (an attachment came or went).
pub fn touch(id: i64, now: &str) -> Result<()> {
    sql::execute("UPDATE documents SET updated_at = $1 WHERE id = $2", &params![now, id])?;
    Ok(())
}

// ----- search -----

/// One search hit.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Hit {
    pub id: i64,
    /// The title as plain text.
    pub title: String,
    /// The title as HTML: escaped, matches in `<mark>…</mark>`.
    pub title_html: String,
    /// A fragment of the content around matches, as HTML: escaped, matches
    /// in `<mark>…</mark>`, `…` where text was left out.
    pub snippet_html: String,
    #[serde(rename = "type")]
    pub doc_type: String,
    pub folder_id: Option<i64>,
    pub owner: String,
    pub updated_at: String,
    /// Relevance, higher first; comparable within one search only (bm25 on
    /// SQLite, ts_rank on PostgreSQL).
    pub score: f64,
}

#[derive(Deserialize)]
struct HitRow {
    id: i64,
    title: String,
    title_marked: Option<String>,
    snippet: Option<String>,
    doc_type: String,
    folder_id: Option<i64>,
    owner: String,
    updated_at: String,
    score: Option<f64>,
}

/// Narrowing of a listing or a search (on the documents, `d`).
#[derive(Debug, Default, Clone)]
pub struct Filters {
    /// `Some(None)`: documents in no folder.
    pub folder: Option<Option<i64>>,
    pub doc_type: Option<String>,
    pub owner: Option<String>,
}

impl Filters {
    fn apply(&self, w: &mut Where) {
        match self.folder {
            Some(Some(id)) => {
                let p = w.param(id);
                w.clause(format!("d.folder_id = {p}"));
            }
            Some(None) => w.clause("d.folder_id IS NULL".to_owned()),
            None => {}
        }
        if let Some(t) = &self.doc_type {
            let p = w.param(t.as_str());
            w.clause(format!("d.doc_type = {p}"));
        }
        if let Some(o) = &self.owner {
            let p = w.param(o.as_str());
            w.clause(format!("d.owner = {p}"));
        }
    }
}

/// The documents `who` may view that hold every one of `words`, best first.
pub fn search(who: &Who, words: &[String], filters: &Filters, page: PageRequest) -> Result<Page<Hit>, Problem> {
    let backend = backend()?;
    let mut w = Where::default();
    // The match condition first; its parameter is $1.
    let (from, score) = match backend {
        Backend::Sqlite => {
            let q = w.param(search::fts5_match(words));
            w.clause(format!("documents_fts MATCH {q}"));
            // bm25 is lower for better matches; the title weighs ten times the content.
            ("FROM documents_fts JOIN documents AS d ON d.id = documents_fts.rowid", "-bm25(documents_fts, 10.0, 1.0)")
        }
        Backend::Postgres => {
            let q = w.param(search::tsquery_text(words));
            w.clause(format!("d.search @@ plainto_tsquery('simple', {q})"));
            ("FROM documents AS d", "CAST(ts_rank(d.search, plainto_tsquery('simple', $1)) AS DOUBLE PRECISION)")
        }
    };
    filters.apply(&mut w);
    w.visible_to(who);
    let (where_sql, params) = w.finish();
    let total = listing::count(&format!("SELECT COUNT(*) AS n {from}{where_sql}"), &params)?;
    // The page's statement has the same parameters, then its own.
    let mut all = params;
    let n = all.len();
    let (a, b, limit, offset) = (n + 1, n + 2, n + 3, n + 4);
    let marks = match backend {
        Backend::Sqlite => {
            all.push(search::START.to_string().into());
            all.push(search::END.to_string().into());
            format!(
                "highlight(documents_fts, 0, ${a}, ${b}) AS title_marked, \
                 snippet(documents_fts, 1, ${a}, ${b}, '…', 24) AS snippet"
            )
        }
        Backend::Postgres => {
            all.push(search::headline_options(true).into());
            all.push(search::headline_options(false).into());
            format!(
                "ts_headline('simple', d.title, plainto_tsquery('simple', $1), ${a}) AS title_marked, \
                 ts_headline('simple', d.content, plainto_tsquery('simple', $1), ${b}) AS snippet"
            )
        }
    };
    all.push(page.per_page.into());
    all.push(page.offset().into());
    let statement = format!(
        "SELECT d.id, d.title, {marks}, d.doc_type, d.folder_id, d.owner, d.updated_at, {score} AS score \
         {from}{where_sql} ORDER BY score DESC, d.id DESC LIMIT ${limit} OFFSET ${offset}"
    );
    let rows: Vec<HitRow> = sql::query_as(&statement, &all)?;
    let items = rows
        .into_iter()
        .map(|r| Hit {
            id: r.id,
            title_html: search::marked_html(r.title_marked.as_deref().unwrap_or(&r.title)),
            title: r.title,
            snippet_html: search::marked_html(r.snippet.as_deref().unwrap_or("")),
            doc_type: r.doc_type,
            folder_id: r.folder_id,
            owner: r.owner,
            updated_at: r.updated_at,
            score: r.score.unwrap_or(0.0),
        })
        .collect();
    Ok(page.wrap(items, total))
}
