//! The bundled `einvoicing` module through plaza-testing (SQLite in pass 1
//! of `cargo xtask test`, PostgreSQL in pass 3), against the tax-authority
//! mock (`plaza_testing::tax_mock`) on loopback: every answer of the SRI's
//! reception and authorization and of the AEAT's VeriFactu service, the
//! signature checked by Debian's `xmlsec1`, the RIDE read back by poppler,
//! one invoice per sale however often the event comes, one VeriFactu chain
//! under 20 concurrent invoices, and a second tenant that sees and signs
//! none of it. The published examples of the clave de acceso and the Huella
//! are checked by the module's unit tests (`ec/clave.rs`, `es/huella.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::process::Command;
use std::sync::Arc;

use plaza_testing::tax_mock::{self, TaxMock};
use plaza_testing::{Running, TestHost, TestResponse};
use serde_json::{Value, json};

fn wasm() -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/modules/einvoicing.wasm");
    assert!(path.exists(), "run `cargo xtask plugins` first (cargo xtask test does)");
    path
}

fn fixture(name: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/einvoicing/tests/fixtures");
    std::fs::read_to_string(dir.join(name)).unwrap()
}

#[track_caller]
fn expect(resp: &TestResponse, status: u16) -> Value {
    assert_eq!(resp.status, status, "{}", resp.text());
    if resp.header("content-type").is_some_and(|t| t.contains("json")) { resp.json() } else { Value::Null }
}

fn ecuador(mock: &TaxMock) -> Value {
    json!({
        "ruc": "1790011674001",
        "razon_social": "Tienda Don Pepe S.A.",
        "nombre_comercial": "Don Pepe",
        "dir_matriz": "Av. Amazonas N24-03 y Colón, Quito",
        "establecimiento": "001",
        "punto_emision": "900",
        "ambiente": 1,
        "obligado_contabilidad": true,
        "sri_url": mock.url(),
    })
}

/// Tenant `tienda` issuing in Ecuador to `mock`, an admin calling.
fn issuing_in_ecuador(mock: &TaxMock) -> TestHost {
    TestHost::new()
        .module(wasm())
        .tenant("tienda")
        .user(["admin"])
        .allow_private_hosts()
        .config("country", json!("EC"))
        .config("ecuador", ecuador(mock))
}

/// A tenant issuing in Ecuador with an installed RSA certificate, and the mock.
async fn ecuadorian_shop() -> (Running, TaxMock) {
    let mock = TaxMock::start().await.unwrap();
    let host = issuing_in_ecuador(&mock).config("timezone", json!("America/Guayaquil")).start().await.unwrap();
    host.install_certificate("tienda", "firma", &fixture("test-rsa.cert.pem"), &fixture("test-rsa.key.pem"))
        .await
        .unwrap();
    (host, mock)
}

/// An `erp.sale-confirmed` payload as erp publishes it (its `Sale`): two
/// lines at 15 % and one at 0 %, paid in cash.
fn sale(id: i64, number: &str) -> Value {
    json!({
        "id": id, "state": "confirmed", "series": "001-001", "number": number, "issue_date": "2026-12-07",
        "currency": "USD",
        "seller": { "user_id": "u1", "company": { "name": "Tienda Don Pepe", "tax_id": "1790011674001" } },
        "customer": {
            "id": 7, "tax_id": "1710034065", "tax_id_kind": "cedula", "sri_id_type": "05", "name": "Peña & Hijos <Cía>",
            "email": "ana@example.com", "phone": null, "address": "Quito", "custom": {}, "active": true,
            "created_at": "2026-12-01T00:00:00Z", "updated_at": "2026-12-01T00:00:00Z"
        },
        "warehouse_id": 1, "notes": "",
        "lines": [
            { "line_no": 1, "product_id": 1, "sku": "ARZ-1", "description": "Arroz 2 kg", "quantity": "3",
              "unit_price": "2.50", "discount_percent": "0", "discount_amount": "0", "gross": "7.50", "discount": "0.00",
              "net": "7.50", "tax_code": "iva15", "tax_percent": "15", "tax": "1.13" },
            { "line_no": 2, "product_id": 2, "sku": "ACE-1", "description": "Aceite 1 l", "quantity": "1",
              "unit_price": "4.00", "discount_percent": "10", "discount_amount": "0", "gross": "4.00",
              "discount": "0.40", "net": "3.60", "tax_code": "iva15", "tax_percent": "15", "tax": "0.54" },
            { "line_no": 3, "product_id": 3, "sku": "PAN-1", "description": "Pan", "quantity": "0.750",
              "unit_price": "2.00", "discount_percent": "0", "discount_amount": "0", "gross": "1.50", "discount": "0.00",
              "net": "1.50", "tax_code": "iva0", "tax_percent": "0", "tax": "0.00" }
        ],
        "taxes": [
            { "tax_code": "iva0", "tax_percent": "0", "sri_code": "0", "base": "1.50", "tax": "0.00" },
            { "tax_code": "iva15", "tax_percent": "15", "sri_code": "4", "base": "11.10", "tax": "1.67" }
        ],
        "subtotal": "13.00", "discount": "0.40", "base": "12.60", "tax": "1.67", "total": "14.27", "paid": "14.27",
        "due": "0.00",
        "payments": [{ "id": 1, "method": "cash", "amount": "14.27", "tendered": "20.00", "change": "5.73",
                       "reference": null, "user_id": "u1", "at": "2026-12-07T15:00:00Z" }],
        "version": 3, "created_at": "2026-12-07T15:00:00Z", "confirmed_at": "2026-12-07T15:00:00Z",
        "paid_at": "2026-12-07T15:00:00Z", "cancelled_at": null, "updated_at": "2026-12-07T15:00:00Z"
    })
}

async fn documents(host: &Running, query: &str) -> Vec<Value> {
    let page = expect(&host.get(&format!("/documents{query}")).await, 200);
    page["items"].as_array().unwrap().clone()
}

async fn document(host: &Running, id: i64) -> Value {
    expect(&host.get(&format!("/documents/{id}")).await, 200)
}

/// Whether `xmlsec1 --verify` accepts `xml` with `cert_pem` trusted.
fn xmlsec_verifies(xml: &str, cert_pem: &str) -> bool {
    tax_mock::xmlsec1_verifies(xml, cert_pem).expect("xmlsec1 (Debian's xmlsec1; cargo xtask test installs it)")
}

fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdftotext").arg(&path).arg("-").output().expect("pdftotext (poppler-utils)");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn a_confirmed_sale_becomes_an_authorized_signed_factura_once() {
    let (host, mock) = ecuadorian_shop().await;
    let payload = sale(41, "001-001-000000041");
    host.deliver_with_id("evt-1", "erp.sale-confirmed", &payload).await.unwrap().unwrap();

    let docs = documents(&host, "").await;
    assert_eq!(docs.len(), 1);
    let doc = document(&host, docs[0]["id"].as_i64().unwrap()).await;
    assert_eq!(doc["state"], "authorized", "{doc}");
    assert_eq!(doc["kind"], "invoice");
    assert_eq!(doc["number"], "001-001-000000041");
    let key = doc["access_key"].as_str().unwrap().to_owned();
    // Date, codDoc 01, RUC, ambiente 1, serie 001001, secuencial, código numérico, emisión 1, check digit.
    assert_eq!(&key[..8], "07122026");
    assert_eq!(&key[8..10], "01");
    assert_eq!(&key[10..23], "1790011674001");
    assert_eq!(&key[23..24], "1");
    assert_eq!(&key[24..30], "001001");
    assert_eq!(&key[30..39], "000000041");
    assert_eq!(&key[47..48], "1");
    assert_eq!(doc["authorization_number"], key.as_str());
    assert_eq!(mock.received().len(), 1);
    assert_eq!(mock.received()[0].access_key, key);

    // The same event again, and the same sale under another event id: still one invoice, sent once.
    host.deliver_with_id("evt-1", "erp.sale-confirmed", &payload).await.unwrap().unwrap();
    host.deliver_with_id("evt-2", "erp.sale-confirmed", &payload).await.unwrap().unwrap();
    assert_eq!(documents(&host, "").await.len(), 1);
    assert_eq!(mock.received().len(), 1, "never sent twice");

    // The XML as the SRI's schema has it, with the sale's amounts.
    let id = doc["id"].as_i64().unwrap();
    let xml = host.get(&format!("/documents/{id}/xml")).await.text();
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><factura id=\"comprobante\" version=\"1.1.0\">")
    );
    for part in [
        "<claveAcceso>",
        "<totalSinImpuestos>12.60</totalSinImpuestos>",
        "<importeTotal>14.27</importeTotal>",
        "<codigoPorcentaje>4</codigoPorcentaje>",
        "<formaPago>01</formaPago>",
        "<razonSocialComprador>Peña &amp; Hijos &lt;Cía&gt;</razonSocialComprador>",
        "<cantidad>0.750</cantidad>",
    ] {
        assert!(xml.contains(part), "{part} in {xml}");
    }

    // The signed XML verifies with the certificate, and not once an amount changed.
    let signed = host.get(&format!("/documents/{id}/signed-xml")).await.text();
    assert_eq!(signed, mock.received()[0].xml, "what was sent is what is kept");
    let cert = fixture("test-rsa.cert.pem");
    assert!(xmlsec_verifies(&signed, &cert), "xmlsec1 accepts the signed factura");
    let tampered = signed.replace("<importeTotal>14.27</importeTotal>", "<importeTotal>1.27</importeTotal>");
    assert_ne!(tampered, signed);
    assert!(!xmlsec_verifies(&tampered, &cert), "xmlsec1 rejects a changed amount");

    // The authorization as received, and the RIDE with the clave.
    // The "XML autorizado" a buyer receives: the authorization with the signed comprobante.
    let answer = host.get(&format!("/documents/{id}/answer")).await.text();
    assert!(answer.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><autorizacion><estado>AUTORIZADO</estado>"));
    assert!(answer.contains(&format!("<numeroAutorizacion>{key}</numeroAutorizacion>")));
    assert!(answer.contains(&format!("<comprobante><![CDATA[{signed}]]></comprobante>")));
    let pdf = host.get(&format!("/documents/{id}/pdf")).await;
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    let text = pdf_text(&pdf.body);
    for part in ["FACTURA", "001-001-000000041", key.as_str(), "PRUEBAS", "14.27", "Peña & Hijos <Cía>"] {
        assert!(text.contains(part), "{part} in the RIDE: {text}");
    }
}

#[tokio::test]
async fn every_answer_of_the_sri_is_recorded_and_retried_where_it_should_be() {
    let (host, mock) = ecuadorian_shop().await;
    let id_of = |docs: &[Value], number: &str| {
        docs.iter().find(|d| d["number"] == number).and_then(|d| d["id"].as_i64()).unwrap()
    };

    // Down: the document waits, signed and marked sent, with a retry due.
    mock.set_reception(tax_mock::Reception::Down);
    host.deliver("erp.sale-confirmed", &sale(1, "001-001-000000001")).await.unwrap().unwrap();
    let one = id_of(&documents(&host, "").await, "001-001-000000001");
    let doc = document(&host, one).await;
    assert_eq!(doc["state"], "sent", "{doc}");
    assert!(doc["next_attempt_at"].is_string());
    assert!(doc["last_error"].as_str().unwrap().contains("503"), "{doc}");
    // The job does nothing before the retry is due …
    mock.set_reception(tax_mock::Reception::Received);
    mock.set_authorization(tax_mock::Authorization::InProcess);
    assert_eq!(host.run_job("retry").await.unwrap().status, "succeeded");
    assert_eq!(document(&host, one).await["state"], "sent");
    // … then sends it: received, authorization in process.
    host.shift_module_clock(3600);
    assert_eq!(host.run_job("retry").await.unwrap().status, "succeeded");
    let doc = document(&host, one).await;
    assert_eq!(doc["state"], "received", "{doc}");
    assert!(doc["last_error"].as_str().unwrap().contains("in process"));
    // Authorized on the next due try.
    mock.set_authorization(tax_mock::Authorization::Authorized);
    host.shift_module_clock(7200);
    host.run_job("retry").await.unwrap();
    assert_eq!(document(&host, one).await["state"], "authorized");
    host.shift_module_clock(0);

    // Returned with the SRI's messages; sent again with the same clave once fixed.
    mock.set_reception(tax_mock::Reception::Returned);
    host.deliver("erp.sale-confirmed", &sale(2, "001-001-000000002")).await.unwrap().unwrap();
    let two = id_of(&documents(&host, "").await, "001-001-000000002");
    let doc = document(&host, two).await;
    assert_eq!(doc["state"], "returned");
    assert_eq!(doc["messages"][0]["code"], "35");
    assert_eq!(doc["messages"][0]["text"], "ARCHIVO NO CUMPLE ESTRUCTURA XML");
    assert!(doc["next_attempt_at"].is_null(), "a returned document is not retried by itself");
    mock.set_reception(tax_mock::Reception::Received);
    let doc = expect(&host.post_json(&format!("/documents/{two}/submit"), &json!({})).await, 200);
    assert_eq!(doc["state"], "authorized");
    let key = doc["access_key"].as_str().unwrap();
    assert_eq!(mock.received().iter().filter(|r| r.access_key == key).count(), 2, "the same clave both times");

    // Not authorized: final, with the messages; a submit is refused naming the state.
    mock.set_authorization(tax_mock::Authorization::NotAuthorized);
    host.deliver("erp.sale-confirmed", &sale(3, "001-001-000000003")).await.unwrap().unwrap();
    let three = id_of(&documents(&host, "").await, "001-001-000000003");
    let doc = document(&host, three).await;
    assert_eq!(doc["state"], "not_authorized");
    assert_eq!(doc["messages"][0]["code"], "39");
    let refused = host.post_json(&format!("/documents/{three}/submit"), &json!({})).await;
    assert_eq!(expect(&refused, 409)["state"], "not_authorized");
    assert_eq!(refused.problem_type().as_deref(), Some("urn:plaza:problem:einvoicing:invalid-state"));
    mock.set_authorization(tax_mock::Authorization::Authorized);

    // The answer lost after the SRI took it: the next send hears "43" and goes on to authorization.
    mock.set_reception(tax_mock::Reception::LostAnswer);
    host.deliver("erp.sale-confirmed", &sale(4, "001-001-000000004")).await.unwrap().unwrap();
    let four = id_of(&documents(&host, "").await, "001-001-000000004");
    assert_eq!(document(&host, four).await["state"], "sent");
    mock.set_reception(tax_mock::Reception::Received);
    let doc = expect(&host.post_json(&format!("/documents/{four}/submit"), &json!({})).await, 200);
    assert_eq!(doc["state"], "authorized", "{doc}");
    assert!(doc["messages"].as_array().unwrap().iter().any(|m| m["code"] == "43"));

    // Listing by state.
    let authorized = documents(&host, "?state=authorized").await;
    assert_eq!(authorized.len(), 3);
    assert_eq!(documents(&host, "?state=not_authorized").await.len(), 1);
    assert_eq!(documents(&host, "?customer=pena").await.len(), 4, "accents folded");
    assert_eq!(documents(&host, "?from=2026-12-08").await.len(), 0);
    assert_eq!(expect(&host.get("/documents?from=ayer").await, 422)["errors"][0]["field"], "from");
}

#[tokio::test]
async fn a_call_cut_at_its_deadline_or_out_of_requests_is_picked_up_by_the_retry_job() {
    let mock = TaxMock::start().await.unwrap();
    let host = issuing_in_ecuador(&mock).deadline_ms(2_000).start().await.unwrap();
    // The SRI takes longer than the call may last: the host cuts the call
    // after the reception, and the document still has its next try armed.
    mock.set_authorization(tax_mock::Authorization::Slow);
    let cut = host.deliver("erp.sale-confirmed", &sale(1, "001-001-000000001")).await;
    assert!(!matches!(cut, Ok(Ok(()))), "the call was cut: {cut:?}");
    let doc = documents(&host, "").await.remove(0);
    let doc = document(&host, doc["id"].as_i64().unwrap()).await;
    assert_eq!(doc["state"], "received", "{doc}");
    assert!(doc["next_attempt_at"].is_string(), "armed before the call: {doc}");
    mock.set_authorization(tax_mock::Authorization::Authorized);
    host.shift_module_clock(3600);
    host.run_job("retry").await.unwrap();
    assert_eq!(document(&host, doc["id"].as_i64().unwrap()).await["state"], "authorized");
    host.shift_module_clock(0);

    // Six documents wait while the SRI is down; a run of the job may send
    // 10 requests (the host's per-call cap), two per document: five go
    // through, the sixth waits for the next run without counting it as a
    // failure of the SRI.
    mock.set_reception(tax_mock::Reception::Down);
    for i in 2..=7 {
        host.deliver("erp.sale-confirmed", &sale(i, &format!("001-001-{i:09}"))).await.unwrap().unwrap();
    }
    assert_eq!(documents(&host, "?state=sent").await.len(), 6);
    mock.set_reception(tax_mock::Reception::Received);
    host.shift_module_clock(3600);
    assert_eq!(host.run_job("retry").await.unwrap().status, "succeeded");
    assert_eq!(documents(&host, "?state=authorized").await.len(), 6, "five more, and the first one");
    let waiting = documents(&host, "?state=sent").await;
    assert_eq!(waiting.len(), 1);
    let waiting = document(&host, waiting[0]["id"].as_i64().unwrap()).await;
    assert!(waiting["last_error"].as_str().unwrap().contains("503"), "still the SRI's error: {waiting}");
    assert_eq!(waiting["attempts"], 1, "the refused request is not the SRI's failure");
    host.shift_module_clock(7200);
    host.run_job("retry").await.unwrap();
    host.shift_module_clock(0);
    assert_eq!(documents(&host, "?state=authorized").await.len(), 7);
}

#[tokio::test]
async fn a_cancelled_sale_gets_a_credit_note_and_the_api_issues_and_corrects_invoices() {
    let (host, mock) = ecuadorian_shop().await;
    host.deliver("erp.sale-confirmed", &sale(9, "001-001-000000009")).await.unwrap().unwrap();
    // A sale cancelled before it was invoiced elsewhere: nothing to correct.
    host.deliver("erp.sale-cancelled", &json!({ "id": 99, "number": "001-001-000000099" })).await.unwrap().unwrap();
    host.deliver("erp.sale-cancelled", &json!({ "id": 9, "number": "001-001-000000009" })).await.unwrap().unwrap();
    host.deliver("erp.sale-cancelled", &json!({ "id": 9, "number": "001-001-000000009" })).await.unwrap().unwrap();
    let notes = documents(&host, "?kind=credit-note").await;
    assert_eq!(notes.len(), 1, "one credit note however often the event comes");
    let note = document(&host, notes[0]["id"].as_i64().unwrap()).await;
    assert_eq!(note["state"], "authorized", "{note}");
    assert_eq!(note["number"], "001-900-000000001", "the module's own emission point");
    assert_eq!(&note["access_key"].as_str().unwrap()[8..10], "04");
    let xml = host.get(&format!("/documents/{}/signed-xml", note["id"])).await.text();
    for part in [
        "<notaCredito id=\"comprobante\" version=\"1.1.0\">",
        "<codDocModificado>01</codDocModificado>",
        "<numDocModificado>001-001-000000009</numDocModificado>",
        "<valorModificacion>14.27</valorModificacion>",
        "<motivo>Venta anulada</motivo>",
    ] {
        assert!(xml.contains(part), "{part} in {xml}");
    }
    assert!(xmlsec_verifies(&xml, &fixture("test-rsa.cert.pem")));
    let text = pdf_text(&host.get(&format!("/documents/{}/pdf", note["id"])).await.body);
    assert!(text.contains("NOTA DE CRÉDITO") && text.contains("001-001-000000009"), "{text}");

    // The API: bad input named field by field, nothing numbered.
    let bad = host
        .post_json(
            "/invoices",
            &json!({ "customer": { "tax_id": "", "name": "" }, "lines": [
            { "code": "X", "description": "X", "quantity": "0", "unit_price": "1", "tax_percent": "16" }
        ] }),
        )
        .await;
    let doc = expect(&bad, 422);
    let fields: Vec<&str> = doc["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    for f in ["customer.tax_id", "customer.name", "lines[0].quantity", "lines[0].tax_percent"] {
        assert!(fields.contains(&f), "{f} in {doc}");
    }
    let made = host
        .post_json("/invoices", &json!({
            "customer": { "tax_id": "1790011674001", "name": "Distribuidora Andina" },
            "lines": [{ "code": "S-1", "description": "Servicio de instalación", "quantity": "2", "unit_price": "50",
                        "discount": "10.00", "tax_percent": "15" }],
            "payments": [{ "method": "transfer", "amount": "103.50" }]
        }))
        .await;
    let invoice = expect(&made, 201);
    assert_eq!(invoice["number"], "001-900-000000001", "invoices and credit notes count apart");
    assert_eq!(invoice["state"], "authorized");
    assert_eq!(invoice["invoice"]["total"], "103.50");
    assert_eq!(invoice["invoice"]["taxes"][0]["tax"], "13.50");
    let id = invoice["id"].as_i64().unwrap();
    let correct = |reason: &str| json!({ "reason": reason });
    assert_eq!(
        expect(&host.post_json(&format!("/documents/{id}/correct"), &correct("")).await, 422)["errors"][0]["field"],
        "reason"
    );
    let note = expect(&host.post_json(&format!("/documents/{id}/correct"), &correct("Devolución")).await, 201);
    assert_eq!(note["kind"], "credit-note");
    assert_eq!(note["number"], "001-900-000000002");
    let again = host.post_json(&format!("/documents/{id}/correct"), &correct("Otra vez")).await;
    assert_eq!(again.status, 409);
    let on_note = host.post_json(&format!("/documents/{}/correct", note["id"]), &correct("x")).await;
    assert_eq!(expect(&on_note, 409)["state"], "authorized");
    assert_eq!(mock.received().len(), 4);
}

async fn spanish_shop(mock: &TaxMock) -> Running {
    TestHost::new()
        .module(wasm())
        .tenant("tienda-es")
        .user(["admin"])
        .allow_private_hosts()
        .config("country", json!("ES"))
        .config("timezone", json!("Europe/Madrid"))
        .config("spain", json!({ "nif": "89890001K", "name": "Ultramarinos Pérez S.L.", "endpoint": mock.aeat_url() }))
        .start()
        .await
        .unwrap()
}

fn spanish_sale(id: i64) -> Value {
    let mut s = sale(id, &format!("001-001-{id:09}"));
    s["currency"] = json!("EUR");
    s["customer"]["tax_id"] = json!("CONSUMIDOR-FINAL");
    s["customer"]["sri_id_type"] = Value::Null;
    s["taxes"] = json!([
        { "tax_code": "iva0", "tax_percent": "0", "sri_code": null, "base": "1.50", "tax": "0.00" },
        { "tax_code": "iva21", "tax_percent": "21", "sri_code": null, "base": "11.10", "tax": "2.33" }
    ]);
    s["tax"] = json!("2.33");
    s["total"] = json!("14.93");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spanish_invoices_form_one_chain_under_concurrency_and_every_aeat_answer_is_kept() {
    let mock = TaxMock::start().await.unwrap();
    let host = Arc::new(spanish_shop(&mock).await);
    let racing: Vec<_> = (1..=20)
        .map(|i| {
            let host = Arc::clone(&host);
            tokio::spawn(async move { host.deliver("erp.sale-confirmed", &spanish_sale(i)).await.unwrap() })
        })
        .collect();
    for r in racing {
        r.await.unwrap().unwrap();
    }
    let chain = expect(&host.get("/chain?per_page=100").await, 200);
    let records = chain["items"].as_array().unwrap();
    assert_eq!(records.len(), 20);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["seq"], i as i64 + 1);
        let previous = if i == 0 { "" } else { records[i - 1]["huella"].as_str().unwrap() };
        assert_eq!(r["previous_huella"], previous, "record {} names its predecessor", i + 1);
        assert_eq!(r["huella"].as_str().unwrap().len(), 64);
        assert_eq!(r["state"], "accepted");
    }
    let check = expect(&host.get("/chain/verify").await, 200);
    assert_eq!(check, json!({ "records": 20, "valid": true, "first_broken": null }));
    assert_eq!(mock.aeat_requests().len(), 20);
    let first = mock.aeat_requests().into_iter().find(|r| r.contains("<sum1:PrimerRegistro>S<")).unwrap_or_default();
    assert!(first.contains("RegFactuSistemaFacturacion"), "{first}");
    assert!(mock.received().is_empty(), "a Spanish tenant sends nothing to the SRI");

    // The invoice's QR and PDF.
    let doc = documents(&host, "?sale_id=1").await.remove(0);
    let id = doc["id"].as_i64().unwrap();
    let qr = host.get(&format!("/documents/{id}/qr")).await;
    assert_eq!(qr.header("content-type"), Some("image/svg+xml"));
    assert!(qr.text().contains("<svg"));
    let text = pdf_text(&host.get(&format!("/documents/{id}/pdf")).await.body);
    for part in ["FACTURA SIMPLIFICADA", "89890001K", "VERI*FACTU", "14.93"] {
        assert!(text.contains(part), "{part} in {text}");
    }

    // Each answer of the AEAT, kept on the record and the document.
    let outcome = |answer, sale_id| {
        let host = Arc::clone(&host);
        let mock = mock.clone();
        async move {
            mock.set_aeat(answer);
            host.deliver("erp.sale-confirmed", &spanish_sale(sale_id)).await.unwrap().unwrap();
            let doc = documents(&host, &format!("?sale_id={sale_id}")).await.remove(0);
            document(&host, doc["id"].as_i64().unwrap()).await
        }
    };
    let with_errors = outcome(tax_mock::Aeat::AcceptedWithErrors, 21).await;
    assert_eq!(with_errors["state"], "accepted_with_errors");
    assert_eq!(with_errors["messages"][0]["code"], "2005");
    let incorrect = outcome(tax_mock::Aeat::Incorrect, 22).await;
    assert_eq!(incorrect["state"], "rejected");
    assert_eq!(incorrect["messages"][0]["code"], "1100");
    let fault = outcome(tax_mock::Aeat::Fault, 23).await;
    assert_eq!(fault["state"], "rejected");
    assert!(fault["messages"][0]["text"].as_str().unwrap().contains("4102"), "{fault}");
    let down = outcome(tax_mock::Aeat::Down, 24).await;
    assert_eq!(down["state"], "sent");
    assert!(down["next_attempt_at"].is_string());
    mock.set_aeat(tax_mock::Aeat::Correct);
    host.shift_module_clock(3600);
    host.run_job("retry").await.unwrap();
    host.shift_module_clock(0);
    assert_eq!(document(&host, down["id"].as_i64().unwrap()).await["state"], "accepted");
    let answer = host.get(&format!("/documents/{}/answer", down["id"])).await.text();
    assert!(answer.contains("<tikR:EstadoRegistro>Correcto</tikR:EstadoRegistro>"));

    // A cancelled sale: a registro de anulación at the end of the same chain.
    host.deliver("erp.sale-cancelled", &json!({ "id": 3, "number": "001-001-000000003" })).await.unwrap().unwrap();
    let chain = expect(&host.get("/chain?per_page=100").await, 200);
    let last = chain["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["seq"].as_i64(), last["record_type"].as_str()), (Some(25), Some("anulacion")));
    assert!(mock.aeat_requests().last().unwrap().contains("RegistroAnulacion"));
    assert_eq!(expect(&host.get("/chain/verify").await, 200)["valid"], true);
}

/// Changes one record's ImporteTotal behind the module's back, in its own
/// namespace: the SQLite file of (tenant, einvoicing), or its PostgreSQL schema.
async fn tamper_with_record(host: &Running, tenant: &str, seq: i64) {
    use sqlx::Connection;
    let update = format!("UPDATE records SET importe_total = '999.99' WHERE seq = {seq}");
    match std::env::var("PLAZA_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let pool = host.app().db.pool();
            let schema: (String,) = sqlx::query_as(
                "SELECT table_schema::text FROM information_schema.tables WHERE table_name = 'records' \
                 AND table_schema LIKE '%einvoicing%'",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            let statement = update.replace("UPDATE records", &format!("UPDATE \"{}\".records", schema.0));
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(pool).await.unwrap();
        }
        _ => {
            let file = host.app().config.data_dir.join("modules").join(tenant).join("einvoicing.db");
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display())).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(update)).execute(&mut conn).await.unwrap();
        }
    }
}

#[tokio::test]
async fn the_chain_check_names_the_first_record_changed_behind_its_back() {
    let mock = TaxMock::start().await.unwrap();
    let host = spanish_shop(&mock).await;
    for i in 1..=4 {
        host.deliver("erp.sale-confirmed", &spanish_sale(i)).await.unwrap().unwrap();
    }
    assert_eq!(expect(&host.get("/chain/verify").await, 200)["valid"], true);
    tamper_with_record(&host, "tienda-es", 3).await;
    let check = expect(&host.get("/chain/verify").await, 200);
    assert_eq!(check["valid"], false, "{check}");
    assert_eq!(check["first_broken"]["seq"], 3);
    assert_eq!(check["first_broken"]["reason"], "its fields do not hash to its Huella");
    assert_eq!(check["records"], 3, "the check stops at the first broken link");
}

#[tokio::test]
async fn other_tenants_see_nothing_and_sign_with_their_own_certificate() {
    let (host, mock) = ecuadorian_shop().await;
    host.deliver("erp.sale-confirmed", &sale(5, "001-001-000000005")).await.unwrap().unwrap();
    let mine = documents(&host, "").await[0]["id"].as_i64().unwrap();

    let other = host.other_tenant("vecino", &["admin"]).await.unwrap();
    for path in ["/documents", "/chain"] {
        let page = other.get(path).await;
        assert_eq!(page.status, 200);
        assert_eq!(page.json::<Value>()["total"], 0, "{path}");
    }
    for suffix in ["", "/xml", "/signed-xml", "/answer", "/pdf"] {
        assert_eq!(other.get(&format!("/documents/{mine}{suffix}")).await.status, 404, "{suffix}");
    }
    assert_eq!(other.post_json(&format!("/documents/{mine}/submit"), &json!({})).await.status, 409, "not configured");
    // Configured, the other tenant's invoice is signed with its own (self-signed test) certificate, not ours.
    host.configure("vecino", "country", &json!("EC")).await.unwrap();
    host.configure("vecino", "ecuador", &ecuador(&mock)).await.unwrap();
    let made = other
        .post_json(
            "/invoices",
            &json!({
                "customer": { "tax_id": "9999999999999", "name": "CONSUMIDOR FINAL" },
                "lines": [{ "code": "A", "description": "A", "quantity": "1", "unit_price": "1", "tax_percent": "15" }]
            }),
        )
        .await;
    let theirs = expect(&made, 201);
    let their_xml = other.get(&format!("/documents/{}/signed-xml", theirs["id"])).await.text();
    let our_cert_b64: String = fixture("test-rsa.cert.pem").lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!their_xml.contains(&our_cert_b64[..60]), "another tenant never signs with our certificate");
    assert!(!xmlsec_verifies(&their_xml, &fixture("test-rsa.cert.pem")));
    let ours = host.get(&format!("/documents/{mine}/signed-xml")).await.text();
    assert!(ours.contains(&our_cert_b64[..60]));
    assert_eq!(documents(&host, "").await.len(), 1, "ours still one");

    // Roles: a reader reads, does not issue; no credentials, nothing.
    let reader = host.as_user(&["einvoicing-reader"]).await.unwrap();
    assert_eq!(reader.get("/documents").await.status, 200);
    assert_eq!(reader.post_json("/invoices", &json!({})).await.status, 403);
    assert_eq!(host.anonymous().get("/documents").await.status, 401);
    let seller = host.as_user(&["erp-seller"]).await.unwrap();
    assert_eq!(seller.get("/documents").await.status, 403);
}

#[tokio::test]
async fn a_tenant_without_a_country_issues_nothing() {
    let mock = TaxMock::start().await.unwrap();
    let host =
        TestHost::new().module(wasm()).tenant("nada").user(["admin"]).allow_private_hosts().start().await.unwrap();
    host.deliver("erp.sale-confirmed", &sale(1, "001-001-000000001")).await.unwrap().unwrap();
    assert_eq!(documents(&host, "").await.len(), 0);
    assert!(mock.received().is_empty() && mock.aeat_requests().is_empty());
    let refused =
        host.post_json("/invoices", &json!({ "customer": { "tax_id": "1", "name": "x" }, "lines": [] })).await;
    assert_eq!(refused.status, 409);
    assert_eq!(refused.problem_type().as_deref(), Some("urn:plaza:problem:einvoicing:not-configured"));

    // A time zone that is none stops issuing (dates would be wrong), named in the problem.
    host.configure("nada", "country", &json!("EC")).await.unwrap();
    host.configure("nada", "ecuador", &ecuador(&mock)).await.unwrap();
    host.configure("nada", "timezone", &json!("Marte/Olympus")).await.unwrap();
    let body = json!({ "customer": { "tax_id": "9999999999999", "name": "CONSUMIDOR FINAL" },
                       "lines": [{ "code": "A", "description": "A", "quantity": "1", "unit_price": "1", "tax_percent": "15" }] });
    let refused = host.post_json("/invoices", &body).await;
    assert_eq!(expect(&refused, 409)["setting"], "timezone");
    let retried = host.deliver("erp.sale-confirmed", &sale(2, "001-001-000000002")).await.unwrap();
    assert!(retried.is_err(), "the event is retried, not dropped");
    assert_eq!(documents(&host, "").await.len(), 0);
    assert!(mock.received().is_empty());
}
