//! Spain: VeriFactu records of each invoice and their life with the AEAT.
//!
//! A document is stored with its record in one transaction: a *registro de
//! alta* for an invoice, a *registro de anulación* for a cancellation, each
//! with its Huella chained to the issuer's previous record. The chain's head
//! is one row per issuer (`chain_heads`), taken with an `UPDATE` that holds
//! it until the transaction ends, so concurrent invoices line up one after
//! the other: no fork, no retry. Then `recorded` → `sent` → `accepted`,
//! `accepted_with_errors` or `rejected` with the AEAT's answer kept per
//! record; when the AEAT cannot be reached the `retry` job sends again.

use plaza_sdk::listing::{Page, PageRequest, paged};
use plaza_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::authority;
use crate::documents::{self, DocumentRow, Kind, Message};
use crate::es::{huella, qr, xml};
use crate::invoice::Invoice;
use crate::settings::{AEAT_TEST, Spain, Tenant};
use crate::{pdf, print};

/// A stored record of the chain.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RecordRow {
    pub id: i64,
    pub issuer: String,
    /// Position in the issuer's chain, from 1.
    pub seq: i64,
    pub document_id: i64,
    /// `alta` or `anulacion`.
    pub record_type: String,
    pub num_serie: String,
    pub fecha_expedicion: String,
    pub tipo_factura: String,
    pub cuota_total: String,
    pub importe_total: String,
    pub previous_huella: String,
    pub huella: String,
    pub generated_at: String,
    /// pending, accepted, accepted_with_errors, rejected.
    pub state: String,
    pub csv: Option<String>,
    pub error_code: Option<String>,
    pub error_text: Option<String>,
}

const RECORD_COLUMNS: &str = "id, issuer, seq, document_id, record_type, num_serie, fecha_expedicion, tipo_factura, \
     cuota_total, importe_total, previous_huella, huella, generated_at, state, csv, error_code, error_text";

impl RecordRow {
    /// The Huella this record's fields give, chained to `previous`.
    pub fn recompute(&self, previous: &str) -> String {
        if self.record_type == "anulacion" {
            huella::huella_anulacion(&huella::Anulacion {
                id_emisor_factura_anulada: &self.issuer,
                num_serie_factura_anulada: &self.num_serie,
                fecha_expedicion_factura_anulada: &self.fecha_expedicion,
                huella_anterior: previous,
                fecha_hora_huso_gen_registro: &self.generated_at,
            })
        } else {
            huella::huella_alta(&huella::Alta {
                id_emisor_factura: &self.issuer,
                num_serie_factura: &self.num_serie,
                fecha_expedicion_factura: &self.fecha_expedicion,
                tipo_factura: &self.tipo_factura,
                cuota_total: &self.cuota_total,
                importe_total: &self.importe_total,
                huella_anterior: previous,
                fecha_hora_huso_gen_registro: &self.generated_at,
            })
        }
    }

    fn id_factura(&self) -> xml::IdFactura {
        xml::IdFactura {
            id_emisor_factura: self.issuer.clone(),
            num_serie_factura: self.num_serie.clone(),
            fecha_expedicion_factura: self.fecha_expedicion.clone(),
        }
    }
}

/// F2 (simplified) when the customer has no Spanish tax id, else F1.
fn tipo_factura(invoice: &Invoice) -> xml::TipoFactura {
    let id = invoice.customer.tax_id.trim();
    if id.is_empty() || id == "CONSUMIDOR-FINAL" || id.len() != 9 { xml::TipoFactura::F2 } else { xml::TipoFactura::F1 }
}

/// Stores a document and its record at the head of the issuer's chain, in
/// the caller's transaction. `None`: the sale has this document already.
pub fn create(
    tenant: &Tenant,
    es: &Spain,
    kind: Kind,
    origin: &str,
    sale_id: Option<i64>,
    invoice: &Invoice,
    corrected: Option<&DocumentRow>,
) -> Result<Option<i64>, Problem> {
    let new = documents::NewDocument {
        country: "ES",
        kind,
        origin,
        sale_id,
        corrects_id: corrected.map(|d| d.id),
        state: "recorded",
        access_key: None,
        xml: None,
        invoice,
    };
    let Some(id) = documents::insert(&new)? else { return Ok(None) };
    let issuer = es.nif.as_str();
    sql::execute(
        "INSERT INTO chain_heads (issuer, seq, huella) VALUES ($1, 0, '') ON CONFLICT (issuer) DO NOTHING",
        &params![issuer],
    )?;
    #[derive(Deserialize)]
    struct Head {
        seq: i64,
        huella: String,
    }
    // Holds the head until this transaction ends: the next record waits here.
    let head: Head = sql::query_one_as(
        "UPDATE chain_heads SET seq = seq + 1 WHERE issuer = $1 RETURNING seq, huella",
        &params![issuer],
    )?
    .ok_or_else(|| Problem::internal("the chain has no head"))?;
    let record = RecordRow {
        id: 0,
        issuer: issuer.to_owned(),
        seq: head.seq,
        document_id: id,
        record_type: (if kind == Kind::Cancellation { "anulacion" } else { "alta" }).to_owned(),
        num_serie: invoice.number.clone(),
        fecha_expedicion: print::dmy(&invoice.issue_date, '-'),
        tipo_factura: tipo_factura(invoice).as_str().to_owned(),
        cuota_total: invoice.tax.clone(),
        importe_total: invoice.total.clone(),
        previous_huella: head.huella.clone(),
        huella: String::new(),
        generated_at: tenant.now_with_offset(),
        state: "pending".to_owned(),
        csv: None,
        error_code: None,
        error_text: None,
    };
    let huella = record.recompute(&head.huella);
    sql::execute("UPDATE chain_heads SET huella = $1 WHERE issuer = $2", &params![huella.as_str(), issuer])?;
    let now = time::now_rfc3339();
    sql::execute(
        "INSERT INTO records (issuer, seq, document_id, record_type, num_serie, fecha_expedicion, tipo_factura, \
         cuota_total, importe_total, previous_huella, huella, generated_at, state, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'pending', $13, $13)",
        &params![
            issuer,
            record.seq,
            id,
            record.record_type.as_str(),
            record.num_serie.as_str(),
            record.fecha_expedicion.as_str(),
            record.tipo_factura.as_str(),
            record.cuota_total.as_str(),
            record.importe_total.as_str(),
            record.previous_huella.as_str(),
            huella,
            record.generated_at.as_str(),
            now
        ],
    )?;
    Ok(Some(id))
}

fn record_of(document_id: i64) -> Result<RecordRow, Problem> {
    sql::query_one_as(&format!("SELECT {RECORD_COLUMNS} FROM records WHERE document_id = $1"), &params![document_id])?
        .ok_or_else(|| Problem::internal("a Spanish document without its record"))
}

fn previous_of(record: &RecordRow) -> Result<Option<RecordRow>, Problem> {
    Ok(sql::query_one_as(
        &format!("SELECT {RECORD_COLUMNS} FROM records WHERE issuer = $1 AND seq = $2"),
        &params![record.issuer.as_str(), record.seq - 1],
    )?)
}

fn qr_url(es: &Spain, record: &RecordRow) -> String {
    let environment = if es.production { qr::Environment::Production } else { qr::Environment::Test };
    qr::url(environment, &record.issuer, &record.num_serie, &record.fecha_expedicion, &record.importe_total)
}

fn sistema(es: &Spain) -> xml::SistemaInformatico {
    xml::SistemaInformatico {
        nombre_razon: es.name.clone(),
        nif: es.nif.clone(),
        nombre_sistema_informatico: "Plaza einvoicing".to_owned(),
        id_sistema_informatico: "PZ".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        numero_instalacion: "1".to_owned(),
        tipo_uso_posible_solo_verifactu: true,
        tipo_uso_posible_multi_ot: true,
        indicador_multiples_ot: false,
    }
}

/// The registro as the AEAT's XML carries it, from what was stored (the
/// Huella is recomputed from the same fields and must match).
fn registro(es: &Spain, record: &RecordRow, invoice: &Invoice) -> Result<xml::Registro, Problem> {
    let encadenamiento = match previous_of(record)? {
        Some(prev) => xml::Encadenamiento::RegistroAnterior { id_factura: prev.id_factura(), huella: prev.huella },
        None => xml::Encadenamiento::PrimerRegistro,
    };
    let registro = if record.record_type == "anulacion" {
        xml::Registro::Anulacion(xml::RegistroAnulacion {
            id_factura: record.id_factura(),
            encadenamiento,
            sistema_informatico: sistema(es),
            fecha_hora_huso_gen_registro: record.generated_at.clone(),
        })
    } else {
        let simplified = record.tipo_factura == "F2";
        xml::Registro::Alta(xml::RegistroAlta {
            id_factura: record.id_factura(),
            nombre_razon_emisor: es.name.clone(),
            tipo_factura: if simplified { xml::TipoFactura::F2 } else { xml::TipoFactura::F1 },
            descripcion_operacion: "Venta".to_owned(),
            destinatarios: if simplified {
                Vec::new()
            } else {
                vec![xml::Destinatario {
                    nombre_razon: invoice.customer.name.clone(),
                    nif: invoice.customer.tax_id.clone(),
                }]
            },
            desglose: invoice
                .taxes
                .iter()
                .map(|t| xml::DetalleDesglose::iva_general(&t.percent, &t.base, &t.tax))
                .collect(),
            cuota_total: record.cuota_total.clone(),
            importe_total: record.importe_total.clone(),
            encadenamiento,
            sistema_informatico: sistema(es),
            fecha_hora_huso_gen_registro: record.generated_at.clone(),
        })
    };
    if registro.huella() != record.huella {
        return Err(Problem::internal(format!("record {} does not hash to its stored Huella", record.seq)));
    }
    Ok(registro)
}

/// Moves a document on: its PDF, then its submission.
pub fn advance(es: &Spain, doc: DocumentRow) -> Result<(), Problem> {
    let record = record_of(doc.id)?;
    if doc.pdf_key.is_none() && doc.kind == Kind::Invoice.as_str() {
        let invoice = doc.invoice()?;
        let matrix = qr::modules(&qr_url(es, &record)).ok().map(|m| (m.width, m.dark));
        let printable = print::spanish(es, &invoice, record.tipo_factura == "F2", matrix, &record.huella);
        let key = format!("invoices/{}.pdf", doc.id);
        blob::put(&key, pdf::render(&printable), "application/pdf")?;
        sql::execute("UPDATE documents SET pdf_key = $1 WHERE id = $2", &params![key, doc.id])?;
    }
    if matches!(doc.state.as_str(), "recorded" | "sent") {
        send(es, &doc, &record)?;
    }
    Ok(())
}

fn send(es: &Spain, doc: &DocumentRow, record: &RecordRow) -> Result<(), Problem> {
    let invoice = doc.invoice()?;
    let registro = registro(es, record, &invoice)?;
    let obligado = xml::ObligadoEmision { nombre_razon: es.name.clone(), nif: es.nif.clone() };
    let request = xml::request(&obligado, &[registro]).map_err(|e| Problem::unprocessable(e.to_string()))?;
    sql::execute(
        "UPDATE documents SET state = 'sent', signed_xml = $1, updated_at = $2 WHERE id = $3",
        &params![request.as_str(), time::now_rfc3339(), doc.id],
    )?;
    sql::execute("UPDATE records SET xml = $1 WHERE id = $2", &params![request.as_str(), record.id])?;
    let endpoint = es.endpoint.clone().unwrap_or_else(|| AEAT_TEST.to_owned());
    authority::arm(doc)?;
    let body = match authority::post_soap("the AEAT", &endpoint, request) {
        Ok(b) => b,
        Err(why) => return authority::no_answer(doc, why),
    };
    let text = String::from_utf8_lossy(&body).into_owned();
    let answer = match xml::parse_response(&text) {
        Ok(a) => a,
        Err(e) => {
            return documents::schedule_retry(
                doc.id,
                doc.attempts,
                &format!("the AEAT's answer was not understood: {e}"),
            );
        }
    };
    let (state, csv, code, description) = match answer {
        xml::Respuesta::Fault(f) => ("rejected", None, Some(f.code), Some(f.message)),
        xml::Respuesta::Envio(envio) => {
            let line = envio.lineas.into_iter().next();
            match line {
                None => ("rejected", envio.csv, None, Some("the answer has no line for the record".to_owned())),
                Some(l) => {
                    let state = match (l.estado_registro, &l.duplicado) {
                        (xml::EstadoRegistro::Correcto, _) => "accepted",
                        (xml::EstadoRegistro::AceptadoConErrores, _) => "accepted_with_errors",
                        // A resend after a lost answer: the AEAT had it already.
                        (xml::EstadoRegistro::Incorrecto, Some(d)) if d.estado == "Correcta" => "accepted",
                        (xml::EstadoRegistro::Incorrecto, Some(d)) if d.estado == "AceptadaConErrores" => {
                            "accepted_with_errors"
                        }
                        (xml::EstadoRegistro::Incorrecto, _) => "rejected",
                    };
                    (state, envio.csv, l.codigo_error, l.descripcion_error)
                }
            }
        }
    };
    let record_state = if state == "rejected" { "rejected" } else { state };
    sql::execute(
        "UPDATE records SET state = $1, answer_xml = $2, csv = $3, error_code = $4, error_text = $5, updated_at = $6 \
         WHERE id = $7",
        &params![
            record_state,
            text.as_str(),
            csv.clone(),
            code.clone(),
            description.clone(),
            time::now_rfc3339(),
            record.id
        ],
    )?;
    sql::execute("UPDATE documents SET answer_xml = $1 WHERE id = $2", &params![text, doc.id])?;
    let messages: Vec<Message> = match (&code, &description) {
        (None, None) => Vec::new(),
        _ => vec![Message {
            code: code.unwrap_or_default(),
            text: description.unwrap_or_default(),
            detail: csv.map(|c| format!("CSV {c}")),
            kind: Some((if state == "rejected" { "ERROR" } else { "ADVERTENCIA" }).to_owned()),
        }],
    };
    documents::settle(doc.id, state, Some(&messages), true)
}

// ----- routes -----

/// `GET /documents/{id}/qr`: the verification QR of a Spanish invoice.
pub fn qr(req: &Request) -> Result<Response, Problem> {
    let doc = documents::found(req)?;
    if doc.country != "ES" || doc.kind != Kind::Invoice.as_str() {
        return Err(Problem::not_found().detail("only Spanish invoices have a VeriFactu QR"));
    }
    let es = match Tenant::required()?.issuer {
        crate::settings::Issuer::Spain(es) => es,
        crate::settings::Issuer::Ecuador(_) => return Err(Problem::not_found()),
    };
    let svg = qr::svg(&qr_url(&es, &record_of(doc.id)?)).map_err(|e| Problem::internal(e.to_string()))?;
    Ok(Response::bytes("image/svg+xml", svg))
}

/// `GET /chain`: the records in chain order (`issuer` to pick one chain).
pub fn list_records(req: &Request) -> Result<Json<Page<RecordRow>>, Problem> {
    let page = PageRequest::from_request(req)?;
    let (from, params) = match req.query_param("issuer") {
        Some(i) => ("FROM records WHERE issuer = $1".to_owned(), vec![i.into()]),
        None => ("FROM records".to_owned(), Vec::new()),
    };
    Ok(Json(paged(RECORD_COLUMNS, &from, "issuer, seq", &params, page)?))
}

/// Where a chain breaks.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct BrokenLink {
    pub issuer: String,
    pub seq: i64,
    pub record_id: i64,
    pub document_id: i64,
    /// What is wrong, in words.
    pub reason: String,
    pub expected: String,
    pub found: String,
}

/// The result of a chain check.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ChainCheck {
    /// Records checked.
    pub records: i64,
    /// Whether every record hashes to its Huella and names its predecessor's.
    pub valid: bool,
    /// The first broken link, in chain order.
    pub first_broken: Option<BrokenLink>,
}

/// Walks a chain in order, remembering the last record seen.
#[derive(Default)]
struct ChainWalk {
    /// (issuer, seq, Huella) of the previous record.
    previous: Option<(String, i64, String)>,
}

impl ChainWalk {
    /// Checks the next record: its position follows the previous one of
    /// its issuer, it names that record's Huella (empty for the first),
    /// and its fields hash to its own Huella.
    fn next(&mut self, r: &RecordRow) -> Option<BrokenLink> {
        let broken = |reason: &str, expected: String, found: String| BrokenLink {
            issuer: r.issuer.clone(),
            seq: r.seq,
            record_id: r.id,
            document_id: r.document_id,
            reason: reason.to_owned(),
            expected,
            found,
        };
        let (expected_seq, expected_previous) = match self.previous.take() {
            Some((issuer, seq, huella)) if issuer == r.issuer => (seq + 1, huella),
            _ => (1, String::new()),
        };
        if r.seq != expected_seq {
            return Some(broken("a record is missing before this one", expected_seq.to_string(), r.seq.to_string()));
        }
        if r.previous_huella != expected_previous {
            return Some(broken(
                "it does not name the previous record's Huella",
                expected_previous,
                r.previous_huella.clone(),
            ));
        }
        let recomputed = r.recompute(&r.previous_huella);
        if recomputed != r.huella {
            return Some(broken("its fields do not hash to its Huella", recomputed, r.huella.clone()));
        }
        self.previous = Some((r.issuer.clone(), r.seq, r.huella.clone()));
        None
    }
}

/// `GET /chain/verify`: recomputes every Huella, in chain order.
pub fn verify_chain(_: &Request) -> Result<Json<ChainCheck>, Problem> {
    // Read in pages: a chain can be long, a call's rows are limited.
    const PAGE: i64 = 500;
    let mut walk = ChainWalk::default();
    let mut checked = 0;
    loop {
        let batch: Vec<RecordRow> = sql::query_as(
            &format!("SELECT {RECORD_COLUMNS} FROM records ORDER BY issuer, seq LIMIT $1 OFFSET $2"),
            &params![PAGE, checked],
        )?;
        let n = batch.len() as i64;
        for r in &batch {
            checked += 1;
            if let Some(broken) = walk.next(r) {
                return Ok(Json(ChainCheck { records: checked, valid: false, first_broken: Some(broken) }));
            }
        }
        if n < PAGE {
            return Ok(Json(ChainCheck { records: checked, valid: true, first_broken: None }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first broken link of records in chain order.
    fn first_broken(records: &[RecordRow]) -> Option<BrokenLink> {
        let mut walk = ChainWalk::default();
        records.iter().find_map(|r| walk.next(r))
    }

    fn chain(n: usize) -> Vec<RecordRow> {
        let mut out: Vec<RecordRow> = Vec::new();
        for i in 0..n {
            let previous = out.last().map(|r| r.huella.clone()).unwrap_or_default();
            let mut r = RecordRow {
                id: i as i64 + 1,
                issuer: "89890001K".into(),
                seq: i as i64 + 1,
                document_id: i as i64 + 1,
                record_type: (if i == 2 { "anulacion" } else { "alta" }).into(),
                num_serie: format!("A-{i}"),
                fecha_expedicion: "07-12-2026".into(),
                tipo_factura: "F2".into(),
                cuota_total: "2.10".into(),
                importe_total: "12.10".into(),
                previous_huella: previous.clone(),
                huella: String::new(),
                generated_at: "2026-12-07T10:00:00+01:00".into(),
                state: "pending".into(),
                csv: None,
                error_code: None,
                error_text: None,
            };
            r.huella = r.recompute(&previous);
            out.push(r);
        }
        out
    }

    #[test]
    fn an_intact_chain_has_no_broken_link() {
        assert_eq!(first_broken(&chain(5)), None);
        assert_eq!(chain(1)[0].previous_huella, "", "the first record chains to an empty Huella");
    }

    #[test]
    fn a_changed_amount_breaks_its_own_link_first() {
        let mut c = chain(5);
        c[3].importe_total = "121.00".into();
        let broken = first_broken(&c).unwrap();
        assert_eq!((broken.seq, broken.reason.as_str()), (4, "its fields do not hash to its Huella"));
    }

    #[test]
    fn a_removed_record_and_a_fork_are_found() {
        let mut c = chain(5);
        c.remove(2);
        assert_eq!(first_broken(&c).map(|b| b.seq), Some(4));
        let mut forked = chain(5);
        forked[4].previous_huella = forked[2].huella.clone();
        forked[4].huella = forked[4].recompute(&forked[2].huella);
        let broken = first_broken(&forked).unwrap();
        assert_eq!((broken.seq, broken.reason.as_str()), (5, "it does not name the previous record's Huella"));
    }
}
