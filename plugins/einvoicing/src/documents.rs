//! The fiscal documents: how they are stored, listed, read and downloaded.
//! What happens to one after it is stored (signing, sending, the
//! authority's answers) is in [`crate::ecuador`] and [`crate::spain`];
//! [`crate::issue`] decides which.

use plaza_sdk::listing::{Filter, Page, PageRequest, paged, returned_id};
use plaza_sdk::prelude::*;
use plaza_sdk::validation::invalid;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::invoice::Invoice;

/// What a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Invoice,
    /// Ecuador's nota de crédito (codDoc 04) for a cancelled sale.
    CreditNote,
    /// Spain's registro de anulación of an invoice.
    Cancellation,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invoice => "invoice",
            Self::CreditNote => "credit-note",
            Self::Cancellation => "cancellation",
        }
    }
}

/// States after which nothing more is sent.
pub const FINAL_STATES: [&str; 6] =
    ["authorized", "not_authorized", "returned", "accepted", "accepted_with_errors", "rejected"];

#[derive(Debug, Clone, Deserialize)]
pub struct DocumentRow {
    pub id: i64,
    pub country: String,
    pub kind: String,
    pub origin: String,
    pub sale_id: Option<i64>,
    pub corrects_id: Option<i64>,
    pub number: String,
    pub issue_date: String,
    pub state: String,
    pub access_key: Option<String>,
    pub body: String,
    pub authorization_number: Option<String>,
    pub authorized_at: Option<String>,
    pub messages: String,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub pdf_key: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

pub const COLUMNS: &str = "id, country, kind, origin, sale_id, corrects_id, number, issue_date, state, access_key, \
     body, authorization_number, authorized_at, messages, attempts, next_attempt_at, last_error, pdf_key, created_at, \
     updated_at";

impl DocumentRow {
    pub fn invoice(&self) -> Result<Invoice, Problem> {
        serde_json::from_str(&self.body).map_err(|e| Problem::internal(format!("stored invoice unreadable: {e}")))
    }

    pub fn is_final(&self) -> bool {
        FINAL_STATES.contains(&self.state.as_str())
    }
}

/// One message of a tax authority, as it sent it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Message {
    /// The SRI's `identificador`, or the AEAT's error code.
    pub code: String,
    pub text: String,
    #[serde(default)]
    pub detail: Option<String>,
    /// `ERROR`, `ADVERTENCIA`, `INFORMATIVO`.
    #[serde(default)]
    pub kind: Option<String>,
}

/// A document as the API shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Document {
    pub id: i64,
    /// `EC` or `ES`.
    pub country: String,
    /// `invoice`, `credit-note` (Ecuador) or `cancellation` (Spain's registro de anulación).
    pub kind: String,
    /// `erp` (from a sale) or `api`.
    pub origin: String,
    pub sale_id: Option<i64>,
    /// The invoice a credit note or cancellation is about.
    pub corrects_id: Option<i64>,
    pub number: String,
    pub issue_date: String,
    /// Ecuador: generated, signed, sent, received, authorized, returned,
    /// not_authorized. Spain: recorded, sent, accepted, accepted_with_errors,
    /// rejected.
    pub state: String,
    /// Ecuador's 49-digit clave de acceso.
    pub access_key: Option<String>,
    pub authorization_number: Option<String>,
    pub authorized_at: Option<String>,
    /// The tax authority's messages, as it sent them.
    pub messages: Vec<Message>,
    /// Submissions tried so far.
    pub attempts: i64,
    /// When the next try is due, if one is.
    pub next_attempt_at: Option<String>,
    /// Why the last try failed (the service was down, an answer unreadable).
    pub last_error: Option<String>,
    pub invoice: Invoice,
    pub created_at: String,
    pub updated_at: String,
}

impl TryFrom<DocumentRow> for Document {
    type Error = Problem;
    fn try_from(r: DocumentRow) -> Result<Self, Problem> {
        let invoice = r.invoice()?;
        Ok(Self {
            id: r.id,
            country: r.country,
            kind: r.kind,
            origin: r.origin,
            sale_id: r.sale_id,
            corrects_id: r.corrects_id,
            number: r.number,
            issue_date: r.issue_date,
            state: r.state,
            access_key: r.access_key,
            authorization_number: r.authorization_number,
            authorized_at: r.authorized_at,
            messages: serde_json::from_str(&r.messages).unwrap_or_default(),
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            last_error: r.last_error,
            invoice,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// A summary row of the listing.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub id: i64,
    pub country: String,
    pub kind: String,
    pub number: String,
    pub issue_date: String,
    pub state: String,
    pub customer_tax_id: String,
    pub customer_name: String,
    pub total_cents: i64,
    pub currency: String,
    pub access_key: Option<String>,
    pub sale_id: Option<i64>,
}

// ----- storage -----

pub fn row(id: i64) -> Result<Option<DocumentRow>, Problem> {
    Ok(sql::query_one_as(&format!("SELECT {COLUMNS} FROM documents WHERE id = $1"), &params![id])?)
}

pub fn found(req: &Request) -> Result<DocumentRow, Problem> {
    let id: i64 = req.path_param("id")?;
    row(id)?.ok_or_else(Problem::not_found)
}

/// A new document's fields.
pub struct NewDocument<'a> {
    pub country: &'a str,
    pub kind: Kind,
    pub origin: &'a str,
    pub sale_id: Option<i64>,
    pub corrects_id: Option<i64>,
    pub state: &'a str,
    pub access_key: Option<&'a str>,
    /// The document's XML, when it is built before it is stored (Ecuador).
    pub xml: Option<&'a str>,
    pub invoice: &'a Invoice,
}

/// Stores a document; `None` when the sale already has one of this kind
/// (a redelivered event): the caller goes on with the stored one.
pub fn insert(new: &NewDocument<'_>) -> Result<Option<i64>, Problem> {
    let inv = new.invoice;
    let now = time::now_rfc3339();
    let body = serde_json::to_string(inv).map_err(|e| Problem::internal(e.to_string()))?;
    let search =
        deunicode::deunicode(&format!("{} {} {}", inv.customer.name, inv.customer.tax_id, inv.number)).to_lowercase();
    let rows = sql::query(
        "INSERT INTO documents (country, kind, origin, sale_id, corrects_id, number, issue_date, customer_tax_id, \
         customer_name, search_text, base_cents, tax_cents, total_cents, currency, state, access_key, xml, body, \
         messages, attempts, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, '[]', 0, $19, $19) \
         ON CONFLICT (kind, sale_id) DO NOTHING RETURNING id",
        &params![
            new.country,
            new.kind.as_str(),
            new.origin,
            new.sale_id,
            new.corrects_id,
            inv.number.as_str(),
            inv.issue_date.as_str(),
            inv.customer.tax_id.as_str(),
            inv.customer.name.as_str(),
            search,
            Invoice::cents(&inv.base),
            Invoice::cents(&inv.tax),
            Invoice::cents(&inv.total),
            inv.currency.as_str(),
            new.state,
            new.access_key,
            new.xml,
            body,
            now
        ],
    )?;
    if rows.rows.is_empty() { Ok(None) } else { returned_id(&rows).map(Some) }
}

/// The document of `kind` made for a sale, if any.
pub fn of_sale(kind: Kind, sale_id: i64) -> Result<Option<DocumentRow>, Problem> {
    Ok(sql::query_one_as(
        &format!("SELECT {COLUMNS} FROM documents WHERE kind = $1 AND sale_id = $2"),
        &params![kind.as_str(), sale_id],
    )?)
}

/// The next number of a series the module draws itself; in the caller's
/// transaction, so a failed document gives its number back.
pub fn next_number(kind: Kind, series: &str) -> Result<i64, Problem> {
    let rows = sql::query(
        "INSERT INTO sequences (kind, series, last) VALUES ($1, $2, 1) \
         ON CONFLICT (kind, series) DO UPDATE SET last = sequences.last + 1 RETURNING last",
        &params![kind.as_str(), series],
    )?;
    rows.get(0, "last").and_then(sql::Value::as_i64).ok_or_else(|| Problem::internal("no number drawn"))
}

/// Records where a document stands after an answer or a decision: its
/// state and, when given, the authority's messages. Nothing is due any
/// more (a step that needs a retry arms it again).
pub fn settle(id: i64, state: &str, messages: Option<&[Message]>, counts_as_attempt: bool) -> Result<(), Problem> {
    let messages = match messages {
        Some(m) => Some(serde_json::to_string(m).map_err(|e| Problem::internal(e.to_string()))?),
        None => None,
    };
    sql::execute(
        "UPDATE documents SET state = $1, messages = COALESCE($2, messages), next_attempt_at = NULL, \
         last_error = NULL, attempts = attempts + $3, updated_at = $4 WHERE id = $5",
        &params![state, messages, i64::from(counts_as_attempt), time::now_rfc3339(), id],
    )?;
    Ok(())
}

/// A step the module could not take (no certificate yet, storage down):
/// the document keeps its state, says why, and the `retry` job comes back.
pub fn schedule_retry(id: i64, attempts: i64, why: &str) -> Result<(), Problem> {
    log::warn(format!("document {id}: {why}; retrying later"));
    sql::execute(
        "UPDATE documents SET next_attempt_at = $1, last_error = $2, attempts = attempts + 1, updated_at = $3 \
         WHERE id = $4",
        &params![backoff(attempts), why, time::now_rfc3339(), id],
    )?;
    Ok(())
}

/// When to try again after `attempts` failed tries: 1, 2, 4 … minutes,
/// at most an hour apart.
pub fn backoff(attempts: i64) -> String {
    let minutes = 1_i64 << attempts.clamp(0, 6);
    time::rfc3339(time::now_unix() + minutes.min(60) * 60)
}

/// Documents due for another try, oldest first.
pub fn due(limit: i64) -> Result<Vec<DocumentRow>, Problem> {
    Ok(sql::query_as(
        &format!(
            "SELECT {COLUMNS} FROM documents WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $2"
        ),
        &params![time::now_rfc3339(), limit],
    )?)
}

// ----- routes -----

/// `GET /documents`: by `state`, `kind`, `from`/`to` (issue date), `customer`
/// (words of the name or the tax id), `sale_id`; newest first.
pub fn list(req: &Request) -> Result<Json<Page<Summary>>, Problem> {
    let mut f = Filter::default();
    f.eq(req, "state", "state");
    f.eq(req, "kind", "kind");
    f.eq_int(req, "sale_id", "sale_id")?;
    for (param, op) in [("from", ">="), ("to", "<=")] {
        if let Some(v) = req.query_param(param) {
            let d: jiff::civil::Date =
                v.trim().parse().map_err(|_| invalid(param, format!("`{param}` is a date YYYY-MM-DD, not {v:?}")))?;
            f.add(&format!("issue_date {op} ?"), d.to_string().into());
        }
    }
    if let Some(words) = req.query_param("customer") {
        let folded = deunicode::deunicode(words).to_lowercase();
        let words: Vec<String> = folded.split_whitespace().map(str::to_owned).collect();
        f.words("search_text", &words);
    }
    let page = PageRequest::from_request(req)?;
    let columns = "id, country, kind, number, issue_date, state, customer_tax_id, customer_name, total_cents, \
                   currency, access_key, sale_id";
    let (from, params) = f.from("documents");
    Ok(Json(paged(columns, &from, "id DESC", &params, page)?))
}

pub fn get(req: &Request) -> Result<Json<Document>, Problem> {
    Ok(Json(found(req)?.try_into()?))
}

fn xml_column(req: &Request, column: &str, what: &str) -> Result<Response, Problem> {
    let id: i64 = req.path_param("id")?;
    #[derive(Deserialize)]
    struct Text {
        text: Option<String>,
    }
    let row: Text = sql::query_one_as(&format!("SELECT {column} AS text FROM documents WHERE id = $1"), &params![id])?
        .ok_or_else(Problem::not_found)?;
    let text = row.text.ok_or_else(|| Problem::not_found().detail(format!("the document has no {what} yet")))?;
    Ok(Response::bytes("application/xml; charset=utf-8", text))
}

/// `GET /documents/{id}/xml`: the document as built, before signing.
pub fn xml(req: &Request) -> Result<Response, Problem> {
    xml_column(req, "xml", "XML")
}

/// `GET /documents/{id}/signed-xml`: what was sent.
pub fn signed_xml(req: &Request) -> Result<Response, Problem> {
    xml_column(req, "signed_xml", "signed XML")
}

/// `GET /documents/{id}/answer`: the authorization (SRI) or the answer (AEAT).
pub fn answer(req: &Request) -> Result<Response, Problem> {
    xml_column(req, "answer_xml", "answer from the tax authority")
}

/// `GET /documents/{id}/pdf`: the RIDE (Ecuador, once authorized) or the invoice with its QR (Spain).
pub fn pdf(req: &Request) -> Result<Response, Problem> {
    let doc = found(req)?;
    let key = doc.pdf_key.ok_or_else(|| {
        Problem::not_found().detail("the PDF is made once the document is authorized (Ecuador) or recorded (Spain)")
    })?;
    let object = blob::get(&key)?.ok_or_else(Problem::not_found)?;
    Ok(Response::bytes("application/pdf", object.data)
        .with_header("content-disposition", format!("inline; filename=\"{}.pdf\"", doc.number.replace('"', ""))))
}
