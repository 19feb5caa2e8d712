//! Ecuador: a document's life with the SRI.
//!
//! `generated` (the XML and its clave de acceso are stored with the
//! document, so every retry sends the same clave) → `signed` (XAdES-BES
//! with the tenant's certificate, in the host) → `sent` (handed to
//! `RecepcionComprobantesOffline`) → `received` → `authorized` (then the
//! RIDE is made), or `returned` / `not_authorized` with the SRI's messages.
//! When the SRI cannot be reached, or answers "en proceso", the document
//! keeps its state and the `retry` job tries again with back-off. A
//! reception answered "CLAVE ACCESO REGISTRADA" means an earlier try got
//! through: the document goes on to authorization.

use plaza_sdk::crypto::HashAlgorithm;
use plaza_sdk::prelude::*;

use crate::authority;
use crate::documents::{self, DocumentRow, Kind, Message};
use crate::ec::{clave, sri, xades, xml};
use crate::invoice::Invoice;
use crate::settings::{Ecuador, Tenant};
use crate::{pdf, print};

/// `001-002-000000123` → ("001", "002", 123).
pub fn split_number(number: &str) -> Option<(&str, &str, u64)> {
    let mut parts = number.split('-');
    let (estab, point, seq) = (parts.next()?, parts.next()?, parts.next()?);
    let ok = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some() || !ok(estab, 3) || !ok(point, 3) || seq.is_empty() || seq.len() > 9 {
        return None;
    }
    Some((estab, point, seq.parse().ok()?))
}

fn cod_doc(kind: Kind) -> &'static str {
    match kind {
        Kind::CreditNote => "04",
        _ => "01",
    }
}

/// The clave de acceso of a document: its parts are all known when it is
/// made, and the código numérico is derived from them, so the same
/// document always has the same clave.
pub fn access_key(ec: &Ecuador, kind: Kind, invoice: &Invoice) -> Result<String, Problem> {
    let (estab, point, sequential) = split_number(&invoice.number).ok_or_else(|| {
        Problem::unprocessable(format!("`{}` is not an SRI number 001-001-000000001", invoice.number))
    })?;
    let date: jiff::civil::Date =
        invoice.issue_date.parse().map_err(|_| Problem::unprocessable("the issue date is not YYYY-MM-DD"))?;
    let seed = format!("{}|{}|{}", ec.ruc, cod_doc(kind), invoice.number);
    let numeric_code = clave::numeric_code(seed.as_bytes());
    clave::AccessKey {
        date,
        doc_type: cod_doc(kind),
        ruc: &ec.ruc,
        environment: ec.ambiente,
        establishment: estab,
        emission_point: point,
        sequential,
        numeric_code: &numeric_code,
    }
    .build()
    .map_err(|e| Problem::unprocessable(format!("clave de acceso: {e}")))
}

/// The SRI's `formaPago` of a payment method (ficha técnica, tabla 24).
fn forma_pago(method: &str) -> &'static str {
    match method {
        "cash" => "01",
        "card" => "19",
        "transfer" => "20",
        _ => "20",
    }
}

/// The customer's `tipoIdentificacionComprador` when erp did not give one.
fn id_type(tax_id: &str) -> &'static str {
    match tax_id.len() {
        _ if tax_id == "9999999999999" => "07",
        13 if tax_id.bytes().all(|b| b.is_ascii_digit()) => "04",
        10 if tax_id.bytes().all(|b| b.is_ascii_digit()) => "05",
        _ => "06",
    }
}

/// The comprobante of a stored invoice (`corrected`: the invoice a credit note is about).
pub fn comprobante(
    ec: &Ecuador,
    kind: Kind,
    invoice: &Invoice,
    access_key: &str,
    corrected: Option<(&Invoice, &str)>,
) -> Result<xml::Comprobante, Problem> {
    let bad = |what: &str| Problem::unprocessable(what.to_owned());
    let (estab, point, sequential) =
        split_number(&invoice.number).ok_or_else(|| bad("the number is not an SRI number"))?;
    let date = |d: &str| d.parse::<jiff::civil::Date>().map_err(|_| bad("a date is not YYYY-MM-DD"));
    let code_of = |sri_code: &Option<String>| sri_code.clone().ok_or_else(|| bad("a tax rate has no SRI code"));
    let mut lines = Vec::with_capacity(invoice.lines.len());
    for l in &invoice.lines {
        lines.push(xml::Line {
            code: l.code.clone(),
            description: l.description.clone(),
            quantity: l.quantity.clone(),
            unit_price: l.unit_price.clone(),
            discount: l.discount.clone(),
            total_without_tax: l.net.clone(),
            taxes: vec![xml::LineTax {
                code: "2".into(),
                rate_code: code_of(&l.sri_code)?,
                rate: l.tax_percent.clone(),
                base: l.net.clone(),
                amount: l.tax.clone(),
            }],
        });
    }
    let mut tax_totals = Vec::with_capacity(invoice.taxes.len());
    for t in &invoice.taxes {
        tax_totals.push(xml::TaxTotal {
            code: "2".into(),
            rate_code: code_of(&t.sri_code)?,
            base: t.base.clone(),
            amount: t.tax.clone(),
        });
    }
    let kind = match (kind, corrected) {
        (Kind::CreditNote, Some((original, reason))) => xml::Kind::NotaCredito {
            modified_number: original.number.clone(),
            modified_date: date(&original.issue_date)?,
            reason: reason.to_owned(),
        },
        _ => xml::Kind::Factura,
    };
    let mut additional = Vec::new();
    if let Some(email) = invoice.customer.email.as_ref().filter(|e| !e.is_empty()) {
        additional.push(("email".to_owned(), email.clone()));
    }
    if !invoice.notes.trim().is_empty() {
        additional.push(("observaciones".to_owned(), invoice.notes.trim().chars().take(300).collect()));
    }
    Ok(xml::Comprobante {
        kind,
        environment: if ec.ambiente == 2 { xml::Environment::Production } else { xml::Environment::Testing },
        access_key: access_key.to_owned(),
        sequential: format!("{sequential:09}"),
        issue_date: date(&invoice.issue_date)?,
        issuer: xml::Issuer {
            ruc: ec.ruc.clone(),
            legal_name: ec.razon_social.clone(),
            trade_name: ec.nombre_comercial.clone(),
            head_office_address: ec.dir_matriz.clone(),
            establishment: estab.to_owned(),
            emission_point: point.to_owned(),
            establishment_address: ec.dir_establecimiento.clone(),
            special_taxpayer: ec.contribuyente_especial.clone(),
            keeps_accounts: ec.obligado_contabilidad,
            withholding_agent: None,
            rimpe: None,
        },
        buyer: xml::Buyer {
            id_type: invoice.customer.id_type.clone().unwrap_or_else(|| id_type(&invoice.customer.tax_id).to_owned()),
            id: invoice.customer.tax_id.clone(),
            name: invoice.customer.name.clone(),
            address: invoice.customer.address.clone(),
        },
        lines,
        total_without_tax: invoice.base.clone(),
        total_discount: invoice.discount.clone(),
        tax_totals,
        tip: "0.00".into(),
        total: invoice.total.clone(),
        payments: invoice
            .payments
            .iter()
            .map(|p| xml::Payment {
                method: forma_pago(&p.method).into(),
                total: p.amount.clone(),
                term: None,
                time_unit: None,
            })
            .collect(),
        additional,
    })
}

/// Stores a new document in state `generated` with its clave and XML;
/// `None` if the sale already has one of this kind. In the caller's
/// transaction.
pub fn create(
    ec: &Ecuador,
    kind: Kind,
    origin: &str,
    sale_id: Option<i64>,
    invoice: &Invoice,
    corrected: Option<(&DocumentRow, &str)>,
) -> Result<Option<i64>, Problem> {
    let key = access_key(ec, kind, invoice)?;
    let original = match corrected {
        Some((row, reason)) => Some((row.invoice()?, reason)),
        None => None,
    };
    let comprobante = comprobante(ec, kind, invoice, &key, original.as_ref().map(|(i, r)| (i, *r)))?;
    let text = xml::comprobante_xml(&comprobante).map_err(|e| Problem::unprocessable(e.to_string()))?;
    let new = documents::NewDocument {
        country: "EC",
        kind,
        origin,
        sale_id,
        corrects_id: corrected.map(|(row, _)| row.id),
        state: "generated",
        access_key: Some(&key),
        xml: Some(&text),
        invoice,
    };
    documents::insert(&new)
}

/// Moves a document as far as it can go now. Never fails for the SRI's
/// sake (that is recorded on the document); fails only when the module
/// cannot do its part (no certificate, storage down).
pub fn advance(tenant: &Tenant, ec: &Ecuador, doc: DocumentRow) -> Result<(), Problem> {
    let mut doc = doc;
    if doc.state == "generated" {
        // A credit note waits for its invoice's authorization.
        if let Some(invoice_id) = doc.corrects_id {
            let authorized = documents::row(invoice_id)?.is_some_and(|i| i.state == "authorized");
            if !authorized {
                let why = "waiting for the invoice it corrects to be authorized";
                return documents::schedule_retry(doc.id, doc.attempts, why);
            }
        }
        sign(tenant, &doc)?;
        doc.state = "signed".into();
    }
    if matches!(doc.state.as_str(), "signed" | "sent") {
        match send(ec, &doc)? {
            Some(state) => doc.state = state.into(),
            None => return Ok(()),
        }
    }
    if doc.state == "received" {
        authorize(ec, &doc)?;
    }
    Ok(())
}

/// Signs the stored XML with the tenant's certificate (the key stays in
/// the host) and stores the result.
fn sign(tenant: &Tenant, doc: &DocumentRow) -> Result<(), Problem> {
    #[derive(serde::Deserialize)]
    struct Xml {
        xml: Option<String>,
    }
    let unsigned = sql::query_one_as::<Xml>("SELECT xml FROM documents WHERE id = $1", &params![doc.id])?
        .and_then(|x| x.xml)
        .ok_or_else(|| Problem::internal("the document has no XML"))?;
    let certificate = crypto::certificate(&tenant.certificate)?;
    let signing_time = tenant.now_with_offset();
    let seed = doc.access_key.clone().unwrap_or_else(|| doc.id.to_string());
    let name = tenant.certificate.clone();
    let signed = xades::sign(&unsigned, &certificate, &signing_time, &seed, |hash, data| {
        let hash = match hash {
            xades::Hash::Sha1 => HashAlgorithm::Sha1,
            xades::Hash::Sha256 => HashAlgorithm::Sha256,
        };
        crypto::sign_raw(&name, hash, data)
    })
    .map_err(|e| Problem::unprocessable(format!("signing: {e}")))?;
    sql::execute(
        "UPDATE documents SET signed_xml = $1, state = 'signed', updated_at = $2 WHERE id = $3",
        &params![signed, time::now_rfc3339(), doc.id],
    )?;
    Ok(())
}

/// Where a document goes: the configured `sri_url`, else the SRI's host
/// of the document's own ambiente (digit 24 of its clave), so a pruebas
/// document made before a switch to producción is never sent there.
fn base_url(ec: &Ecuador, access_key: Option<&str>) -> String {
    let production = access_key.and_then(|k| k.get(23..24)) == Some("2");
    ec.sri_url
        .clone()
        .unwrap_or_else(|| (if production { sri::PRODUCTION } else { sri::TESTING }).to_owned())
        .trim_end_matches('/')
        .to_owned()
}

fn messages(list: &[sri::Message]) -> Vec<Message> {
    list.iter()
        .map(|m| Message {
            code: m.identifier.clone(),
            text: m.message.clone(),
            detail: m.additional_info.clone(),
            kind: m.kind.clone(),
        })
        .collect()
}

/// Reception: the new state, or `None` when the document waits for a retry.
fn send(ec: &Ecuador, doc: &DocumentRow) -> Result<Option<&'static str>, Problem> {
    #[derive(serde::Deserialize)]
    struct Signed {
        signed_xml: Option<String>,
    }
    let signed = sql::query_one_as::<Signed>("SELECT signed_xml FROM documents WHERE id = $1", &params![doc.id])?
        .and_then(|s| s.signed_xml)
        .ok_or_else(|| Problem::internal("the document is not signed"))?;
    // Marked before the call: if the answer is lost, the next try sends the
    // same clave again, and the SRI says it has it.
    sql::execute(
        "UPDATE documents SET state = 'sent', updated_at = $1 WHERE id = $2",
        &params![time::now_rfc3339(), doc.id],
    )?;
    authority::arm(doc)?;
    let url = format!("{}{}", base_url(ec, doc.access_key.as_deref()), sri::RECEPTION_PATH);
    let body = match authority::post_soap("the SRI", &url, sri::reception_request(&signed)) {
        Ok(b) => b,
        Err(why) => return authority::no_answer(doc, why).map(|()| None),
    };
    match sri::parse_reception(&body) {
        Ok(sri::Reception::Received) => {
            documents::settle(doc.id, "received", None, true)?;
            Ok(Some("received"))
        }
        Ok(sri::Reception::Returned { messages: m }) if sri::already_received(&m) => {
            documents::settle(doc.id, "received", Some(&messages(&m)), true)?;
            Ok(Some("received"))
        }
        Ok(sri::Reception::Returned { messages: m }) => {
            documents::settle(doc.id, "returned", Some(&messages(&m)), true)?;
            Ok(Some("returned"))
        }
        Err(e) => documents::schedule_retry(
            doc.id,
            doc.attempts,
            &format!("the SRI's reception answer was not understood: {e}"),
        )
        .map(|()| None),
    }
}

/// Authorization: authorized (with the RIDE), not authorized, or a retry.
fn authorize(ec: &Ecuador, doc: &DocumentRow) -> Result<(), Problem> {
    let url = format!("{}{}", base_url(ec, doc.access_key.as_deref()), sri::AUTHORIZATION_PATH);
    let Some(access_key) = doc.access_key.as_deref() else {
        return Err(Problem::internal("an Ecuadorian document without a clave"));
    };
    authority::arm(doc)?;
    let body = match authority::post_soap("the SRI", &url, sri::authorization_request(access_key)) {
        Ok(b) => b,
        Err(why) => return authority::no_answer(doc, why),
    };
    match sri::parse_authorization(&body) {
        Ok(sri::Authorization::Authorized { number, date, environment, comprobante_xml, messages: m }) => {
            let answer = sri::authorized_document(&number, &date, &environment, &comprobante_xml);
            sql::execute(
                "UPDATE documents SET state = 'authorized', authorization_number = $1, authorized_at = $2, \
                 answer_xml = $3, messages = COALESCE($4, messages), next_attempt_at = NULL, last_error = NULL, \
                 updated_at = $5 WHERE id = $6",
                &params![
                    number.clone(),
                    date.clone(),
                    answer,
                    // The reception's messages (a "43") stay unless the authorization has its own.
                    (!m.is_empty()).then(|| serde_json::to_string(&messages(&m)).unwrap_or_else(|_| "[]".into())),
                    time::now_rfc3339(),
                    doc.id
                ],
            )?;
            ride(doc, ec, &number, &date)?;
            events::publish(
                "einvoicing.document-authorized",
                &serde_json::json!({
                    "id": doc.id, "kind": doc.kind, "sale_id": doc.sale_id, "number": doc.number,
                    "access_key": access_key, "authorization_number": number,
                }),
            )?;
            Ok(())
        }
        Ok(sri::Authorization::NotAuthorized { messages: m }) => {
            let answer = String::from_utf8_lossy(&body).into_owned();
            sql::execute("UPDATE documents SET answer_xml = $1 WHERE id = $2", &params![answer, doc.id])?;
            documents::settle(doc.id, "not_authorized", Some(&messages(&m)), true)
        }
        Ok(sri::Authorization::InProcess) => {
            documents::schedule_retry(doc.id, doc.attempts, "the SRI has the document in process")
        }
        Err(e) => documents::schedule_retry(
            doc.id,
            doc.attempts,
            &format!("the SRI's authorization answer was not understood: {e}"),
        ),
    }
}

/// The RIDE: the printed invoice with its clave as a Code 128 barcode,
/// stored in the module's blobs.
fn ride(doc: &DocumentRow, ec: &Ecuador, number: &str, date: &str) -> Result<(), Problem> {
    let invoice = doc.invoice()?;
    let corrected = match doc.corrects_id {
        Some(id) => documents::row(id)?.map(|d| d.invoice()).transpose()?,
        None => None,
    };
    let credit_note = doc.kind == Kind::CreditNote.as_str();
    let printable = print::ride(&print::Ride {
        title: if credit_note { "NOTA DE CRÉDITO" } else { "FACTURA" },
        ec,
        invoice: &invoice,
        access_key: doc.access_key.as_deref().unwrap_or_default(),
        authorization_number: number,
        authorized_at: date,
        modifies: corrected.as_ref().map(|c| (c.number.as_str(), c.issue_date.as_str(), invoice.notes.as_str())),
    });
    let key = format!("ride/{}-{}.pdf", doc.kind, doc.number);
    blob::put(&key, pdf::render(&printable), "application/pdf")?;
    sql::execute("UPDATE documents SET pdf_key = $1 WHERE id = $2", &params![key, doc.id])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_goes_to_the_sri_of_its_own_ambiente() {
        let mut ec = Ecuador {
            ruc: "1790011674001".into(),
            razon_social: "X".into(),
            nombre_comercial: None,
            dir_matriz: "Quito".into(),
            dir_establecimiento: None,
            establecimiento: "001".into(),
            punto_emision: "900".into(),
            ambiente: 2,
            obligado_contabilidad: false,
            contribuyente_especial: None,
            sri_url: None,
        };
        let pruebas = "0712202601179001167400110010010000000411234567811";
        let produccion = "0712202601179001167400120010010000000411234567811";
        assert_eq!(base_url(&ec, Some(pruebas)), sri::TESTING, "made in pruebas, still pruebas");
        assert_eq!(base_url(&ec, Some(produccion)), sri::PRODUCTION);
        ec.sri_url = Some("http://127.0.0.1:8089/".into());
        assert_eq!(base_url(&ec, Some(produccion)), "http://127.0.0.1:8089");
    }

    #[test]
    fn numbers_split_into_the_sri_series() {
        assert_eq!(split_number("001-002-000000123"), Some(("001", "002", 123)));
        for bad in ["001-002", "01-002-1", "001-002-1234567890", "a01-002-1", "001-002-3-4"] {
            assert_eq!(split_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn id_types_follow_the_tax_id() {
        assert_eq!(id_type("9999999999999"), "07");
        assert_eq!(id_type("1790012345001"), "04");
        assert_eq!(id_type("1710034065"), "05");
        assert_eq!(id_type("AB123456"), "06");
    }
}
