//! Where documents come from (erp's events, the API) and the one place
//! that moves any of them on ([`advance`]), by country.

use plaza_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::documents::{self, Document, DocumentRow, Kind};
use crate::invoice::{Invoice, InvoiceInput, Sale};
use crate::settings::{Issuer, Tenant};
use crate::{authority, ecuador, spain};

/// How many due documents one run of the `retry` job takes.
const RETRY_BATCH: i64 = 50;

/// Moves a stored document on, with the tenant's issuer of its country.
pub fn advance(tenant: &Tenant, doc: DocumentRow) -> Result<(), Problem> {
    match (&tenant.issuer, doc.country.as_str()) {
        (Issuer::Ecuador(ec), "EC") => ecuador::advance(tenant, ec, doc),
        (Issuer::Spain(es), "ES") => spain::advance(es, doc),
        _ => Err(Problem::conflict(format!(
            "document {} is from {}, but the tenant now issues in {}",
            doc.id,
            doc.country,
            tenant.country()
        ))),
    }
}

/// Moves a document on as far as it goes now. A step the module cannot
/// take is recorded on the document and retried by the job, never reported
/// as the caller's failure: the document exists, and a client that retried
/// its request would issue a second one. Returns that step's problem.
fn try_advance(tenant: &Tenant, doc: DocumentRow) -> Result<Option<Problem>, Problem> {
    let (id, attempts) = (doc.id, doc.attempts);
    if doc.is_final() {
        return Ok(None);
    }
    let Err(p) = advance(tenant, doc) else { return Ok(None) };
    // Out of this call's requests: the retry was armed before the call.
    if p.type_uri() != authority::OUT_OF_BUDGET {
        documents::schedule_retry(id, attempts, &failed(&p))?;
    }
    Ok(Some(p))
}

/// [`try_advance`], then the document as it is now.
fn advance_and_read(tenant: &Tenant, id: i64) -> Result<DocumentRow, Problem> {
    let doc = documents::row(id)?.ok_or_else(Problem::not_found)?;
    try_advance(tenant, doc)?;
    documents::row(id)?.ok_or_else(Problem::not_found)
}

/// Stores a new document of the tenant's country, in the caller's
/// transaction (Spain: with its record in the chain). `corrected`: the
/// invoice a credit note or cancellation is about, and why. `None`: the
/// sale has a document of this kind already.
fn store(
    tenant: &Tenant,
    kind: Kind,
    origin: &str,
    sale_id: Option<i64>,
    invoice: &Invoice,
    corrected: Option<(&DocumentRow, &str)>,
) -> Result<Option<i64>, Problem> {
    match &tenant.issuer {
        Issuer::Ecuador(ec) => ecuador::create(ec, kind, origin, sale_id, invoice, corrected),
        Issuer::Spain(es) => spain::create(tenant, es, kind, origin, sale_id, invoice, corrected.map(|(d, _)| d)),
    }
}

fn failed(p: &Problem) -> String {
    p.detail_text().unwrap_or(p.title()).to_owned()
}

// ----- from erp -----

/// `erp.sale-confirmed`: one invoice per sale, however often the event
/// comes (the document is keyed by the sale, not by the event).
pub fn sale_confirmed(event: &Event) -> Result<(), String> {
    let Some(tenant) = Tenant::load().map_err(|p| failed(&p))? else {
        return Ok(()); // the tenant has not chosen a country: nothing to issue
    };
    let sale: Sale = serde_json::from_str(&event.payload).map_err(|e| format!("erp.sale-confirmed payload: {e}"))?;
    let sale_id = sale.id;
    let invoice = Invoice::from_sale(sale)?;
    let made = match documents::of_sale(Kind::Invoice, sale_id).map_err(|p| failed(&p))? {
        Some(existing) => Ok(Some(existing.id)),
        None => sql::transaction(|| store(&tenant, Kind::Invoice, "erp", Some(sale_id), &invoice, None)),
    };
    let id = stored(made, Kind::Invoice, sale_id)?;
    advance_and_read(&tenant, id).map(|_| ()).map_err(|p| failed(&p))
}

/// The document a create made, or the one another delivery of the same
/// sale stored meanwhile (the insert lost the race on the sale's key).
fn stored(made: Result<Option<i64>, Problem>, kind: Kind, sale_id: i64) -> Result<i64, String> {
    match made {
        Ok(Some(id)) => Ok(id),
        Ok(None) | Err(_) if let Ok(Some(existing)) = documents::of_sale(kind, sale_id) => Ok(existing.id),
        Ok(None) => Err(format!("sale {sale_id}'s {} vanished", kind.as_str())),
        Err(p) => Err(failed(&p)),
    }
}

#[derive(Deserialize)]
struct Cancelled {
    id: i64,
}

/// `erp.sale-cancelled`: the invoice of the sale, if it has one, is
/// corrected: a nota de crédito (Ecuador) or a registro de anulación (Spain).
pub fn sale_cancelled(event: &Event) -> Result<(), String> {
    let Some(tenant) = Tenant::load().map_err(|p| failed(&p))? else { return Ok(()) };
    let sale: Cancelled =
        serde_json::from_str(&event.payload).map_err(|e| format!("erp.sale-cancelled payload: {e}"))?;
    let Some(invoice) = documents::of_sale(Kind::Invoice, sale.id).map_err(|p| failed(&p))? else {
        return Ok(()); // cancelled before it was invoiced
    };
    let kind = correction_kind(&tenant);
    let made = match documents::of_sale(kind, sale.id).map_err(|p| failed(&p))? {
        Some(existing) => Ok(Some(existing.id)),
        None => correct(&tenant, &invoice, "Venta anulada").map(Some),
    };
    let id = stored(made, kind, sale.id)?;
    advance_and_read(&tenant, id).map(|_| ()).map_err(|p| failed(&p))
}

fn correction_kind(tenant: &Tenant) -> Kind {
    match tenant.issuer {
        Issuer::Ecuador(_) => Kind::CreditNote,
        Issuer::Spain(_) => Kind::Cancellation,
    }
}

/// The credit note (Ecuador: the whole invoice, numbered in the module's
/// own emission point) or the cancellation record (Spain) of an invoice.
fn correct(tenant: &Tenant, invoice: &DocumentRow, reason: &str) -> Result<i64, Problem> {
    let original = invoice.invoice()?;
    let kind = correction_kind(tenant);
    sql::transaction(|| {
        let body = match &tenant.issuer {
            Issuer::Ecuador(ec) => {
                let series = format!("{}-{}", ec.establecimiento, ec.punto_emision);
                let n = documents::next_number(kind, &series)?;
                Invoice {
                    number: format!("{series}-{n:09}"),
                    issue_date: tenant.today(),
                    notes: reason.to_owned(),
                    ..original.clone()
                }
            }
            // The anulación names the invoice it cancels: same number and date.
            Issuer::Spain(_) => original.clone(),
        };
        let made = store(tenant, kind, &invoice.origin, invoice.sale_id, &body, Some((invoice, reason)))?;
        made.ok_or_else(|| Problem::conflict("the invoice is corrected already"))
    })
}

// ----- the API -----

/// `POST /invoices`: an invoice that did not come from a sale.
pub fn create_invoice(req: &Request) -> Result<Created<Document>, Problem> {
    let tenant = Tenant::required()?;
    let input: InvoiceInput = req.json()?;
    let (series, currency, ecuador) = match &tenant.issuer {
        Issuer::Ecuador(ec) => (format!("{}-{}", ec.establecimiento, ec.punto_emision), "USD", true),
        Issuer::Spain(es) => (es.series.clone().unwrap_or_else(|| "API".to_owned()), "EUR", false),
    };
    // Checked before a number is drawn, so bad input takes none.
    let checked = input.into_invoice(String::new(), tenant.today(), currency, ecuador)?;
    let id = sql::transaction(|| {
        let n = documents::next_number(Kind::Invoice, &series)?;
        let number = if ecuador { format!("{series}-{n:09}") } else { format!("{series}-{n:06}") };
        let invoice = Invoice { number, ..checked.clone() };
        store(&tenant, Kind::Invoice, "api", None, &invoice, None)?
            .ok_or_else(|| Problem::internal("an API invoice collided with a sale's"))
    })?;
    Ok(Created(advance_and_read(&tenant, id)?.try_into()?))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionInput {
    /// Why (the nota de crédito's `motivo`); 1 to 300 characters.
    pub reason: String,
}

/// `POST /documents/{id}/correct`: a nota de crédito (Ecuador) or a
/// registro de anulación (Spain) for an invoice.
pub fn correct_invoice(req: &Request) -> Result<Created<Document>, Problem> {
    let tenant = Tenant::required()?;
    let invoice = documents::found(req)?;
    let input: CorrectionInput = req.json()?;
    let reason = input.reason.trim();
    if reason.is_empty() || reason.chars().count() > 300 {
        return Err(plaza_sdk::validation::invalid("reason", "the reason has 1 to 300 characters"));
    }
    if invoice.kind != Kind::Invoice.as_str() {
        return Err(state_conflict(&invoice, "corrected (only invoices are)"));
    }
    if !matches!(invoice.state.as_str(), "authorized" | "accepted" | "accepted_with_errors" | "recorded" | "sent")
        && invoice.country == "EC"
    {
        return Err(state_conflict(&invoice, "corrected (only an authorized invoice is)"));
    }
    let corrections =
        plaza_sdk::listing::count("SELECT COUNT(*) AS n FROM documents WHERE corrects_id = $1", &params![invoice.id])?;
    if corrections > 0 {
        return Err(Problem::conflict("the invoice is corrected already")
            .with_type("urn:plaza:problem:einvoicing:already-corrected"));
    }
    let id = correct(&tenant, &invoice, reason)?;
    Ok(Created(advance_and_read(&tenant, id)?.try_into()?))
}

pub fn state_conflict(doc: &DocumentRow, action: &str) -> Problem {
    Problem::conflict(format!("a document in state `{}` cannot be {action}", doc.state))
        .with_type("urn:plaza:problem:einvoicing:invalid-state")
        .with("state", doc.state.as_str())
}

/// `POST /documents/{id}/submit`: try now instead of waiting for the job
/// (also sends a `returned` document again, once its cause is fixed).
pub fn submit(req: &Request) -> Result<Json<Document>, Problem> {
    let tenant = Tenant::required()?;
    let doc = documents::found(req)?;
    match doc.state.as_str() {
        // The SRI did not register a returned document: the same clave may go again.
        "returned" => documents::settle(doc.id, "signed", None, false)?,
        _ if doc.is_final() => return Err(state_conflict(&doc, "submitted")),
        _ => {}
    }
    Ok(Json(advance_and_read(&tenant, doc.id)?.try_into()?))
}

/// The `retry` job: every document whose next try is due.
pub fn retry_job() -> Result<(), String> {
    let Some(tenant) = Tenant::load().map_err(|p| failed(&p))? else { return Ok(()) };
    let due = documents::due(RETRY_BATCH).map_err(|p| failed(&p))?;
    let mut errors = Vec::new();
    for doc in due {
        let id = doc.id;
        match try_advance(&tenant, doc) {
            // The rest waits for the next run, with a fresh budget.
            Ok(Some(p)) if p.type_uri() == authority::OUT_OF_BUDGET => break,
            Ok(_) => {}
            Err(p) => errors.push(format!("document {id}: {}", failed(&p))),
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
}
