//! The bundled `gdi` module through plaza-testing: the org chart and
//! document types, every state transition of a document (legal and
//! illegal), signers' acts that chain and verify, gapless numbering under
//! racing signatures and injected failures, the new year, PDFs read back by
//! poppler's `pdftotext`, public verification, expedientes with fojas and
//! pases, search, and a second municipality that sees none of it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeSet;
use std::sync::Arc;

use plaza_testing::{Client, Running, TestHost, TestResponse};
use serde_json::{Value, json};

fn gdi_wasm() -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/modules/gdi.wasm");
    assert!(path.exists(), "run `cargo xtask plugins` first (cargo xtask test does)");
    path
}

/// The body as JSON, after checking the status (the body is in the message).
#[track_caller]
fn expect(resp: &TestResponse, status: u16) -> Value {
    assert_eq!(resp.status, status, "{}", resp.text());
    if resp.body.is_empty() { Value::Null } else { resp.json() }
}

/// A 409 problem naming the state the action was refused in.
#[track_caller]
fn refused_in(resp: &TestResponse, state: &str) {
    let doc = expect(resp, 409);
    assert_eq!(doc["state"], state, "{doc}");
    assert_eq!(resp.problem_type().as_deref(), Some("urn:plaza:problem:gdi:invalid-state"));
}

/// A municipality: sectors INTEN, SECGOB and HAC; a writer of SECGOB, a
/// secretary who signs for SECGOB, the intendente who numbers for INTEN,
/// and a reader; types DECRE (numbered by the Intendente) and NOTA.
struct Muni {
    host: Running,
    writer: Client,
    secretary: Client,
    intendente: Client,
    reader: Client,
    secretary_id: String,
    intendente_id: String,
}

async fn user_id(client: &Client) -> String {
    expect(&client.get("/me").await, 200)["user_id"].as_str().unwrap().to_owned()
}

async fn member(admin: &Client, user: &str, sector: &str, name: &str, position: &str, sign: bool, number: bool) {
    let body = json!({ "full_name": name, "position": position, "can_sign": sign, "can_number": number });
    expect(&admin.put_json(&format!("/members/{user}/sectors/{sector}"), &body).await, 200);
}

async fn org(admin: &Client) {
    for (code, name, parent) in [
        ("INTEN", "Intendencia", None),
        ("SECGOB", "Secretaría de Gobierno", Some("INTEN")),
        ("HAC", "Secretaría de Hacienda", Some("INTEN")),
    ] {
        expect(&admin.post_json("/sectors", &json!({ "code": code, "name": name, "parent_code": parent })).await, 201);
    }
    let decre = json!({
        "code": "DECRE", "name": "Decreto", "numbered": true, "numbering_positions": ["Intendente"],
        "template": [
            { "name": "visto", "label": "Visto", "required": true, "schema": { "type": "string", "minLength": 3 } },
            { "name": "monto", "label": "Monto", "schema": { "type": "number", "minimum": 0 } }
        ]
    });
    expect(&admin.post_json("/document-types", &decre).await, 201);
    let nota = json!({ "code": "NOTA", "name": "Nota", "numbered": true, "numbering_positions": ["Secretario", "Intendente"] });
    expect(&admin.post_json("/document-types", &nota).await, 201);
}

async fn muni() -> Muni {
    let host = TestHost::new()
        .module(gdi_wasm())
        .tenant("muni")
        .user(["admin"])
        .config("eco", json!("MUNI"))
        .config("municipality", json!("Municipalidad de San Martín"))
        .start()
        .await
        .expect("the host starts with gdi");
    org(&host).await;
    let writer = host.as_user(&["gdi-writer"]).await.unwrap();
    let secretary = host.as_user(&["gdi-signer", "gdi-writer"]).await.unwrap();
    let intendente = host.as_user(&["gdi-signer"]).await.unwrap();
    let reader = host.as_user(&["gdi-reader"]).await.unwrap();
    let writer_id = user_id(&writer).await;
    let secretary_id = user_id(&secretary).await;
    let intendente_id = user_id(&intendente).await;
    member(&host, &writer_id, "SECGOB", "Ana Núñez", "Administrativa", false, false).await;
    member(&host, &secretary_id, "SECGOB", "José Peña", "Secretario", true, false).await;
    member(&host, &intendente_id, "INTEN", "María Ibáñez", "Intendente", true, true).await;
    Muni { host, writer, secretary, intendente, reader, secretary_id, intendente_id }
}

impl Muni {
    fn signers(&self) -> Value {
        json!([
            { "user_id": self.secretary_id, "sector_code": "SECGOB" },
            { "user_id": self.intendente_id, "sector_code": "INTEN" }
        ])
    }

    /// A DECRE draft of SECGOB, signed by the secretary then the intendente.
    async fn draft(&self, subject: &str) -> i64 {
        let body = json!({
            "type_code": "DECRE", "sector_code": "SECGOB", "reference": "Expte. interno",
            "subject": subject,
            "body_markdown": "# Considerando\n\nQue la **contratación** es necesaria.\n\n- Artículo 1º: apruébase.\n- Artículo 2º: comuníquese.",
            "fields": { "visto": "la nota de la Secretaría", "monto": 1500.5 },
            "signers": self.signers()
        });
        expect(&self.writer.post_json("/documents", &body).await, 201)["id"].as_i64().unwrap()
    }

    /// Submits and has every signer sign; the signed document.
    async fn signed(&self, subject: &str) -> Value {
        let id = self.draft(subject).await;
        expect(&self.writer.post_json(&format!("/documents/{id}/submit"), &json!({})).await, 200);
        expect(&self.secretary.post_json(&format!("/documents/{id}/sign"), &json!({})).await, 200);
        expect(&self.intendente.post_json(&format!("/documents/{id}/sign"), &json!({})).await, 200)
    }
}

fn year_now() -> i64 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    // Days to civil year (UTC), without a date crate.
    let days = i64::try_from(secs / 86_400).unwrap();
    let (mut year, mut left) = (1970, days);
    loop {
        let len = if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 { 366 } else { 365 };
        if left < len {
            return year;
        }
        left -= len;
        year += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_decree_is_written_signed_in_order_numbered_and_verifiable() {
    let m = muni().await;
    let id = m.draft("Contratación de luminarias para la plaza").await;
    let draft = expect(&m.reader.get(&format!("/documents/{id}")).await, 200);
    assert_eq!(draft["state"], "draft");
    assert_eq!(draft["number"], Value::Null);
    assert_eq!(draft["signers"].as_array().unwrap().len(), 2);
    assert_eq!(draft["signers"][1]["numbers"], true);

    // Only the awaited signer may sign; the numbering signer is last.
    expect(&m.writer.post_json(&format!("/documents/{id}/submit"), &json!({})).await, 200);
    expect(&m.intendente.post_json(&format!("/documents/{id}/sign"), &json!({})).await, 403);
    let half = expect(&m.secretary.post_json(&format!("/documents/{id}/sign"), &json!({})).await, 200);
    assert_eq!(half["state"], "awaiting_signatures");
    assert_eq!(half["current_step"], 2);
    assert!(half["signers"][0]["signature"].is_string());
    expect(&m.secretary.post_json(&format!("/documents/{id}/sign"), &json!({})).await, 403);
    let signed = expect(&m.intendente.post_json(&format!("/documents/{id}/sign"), &json!({})).await, 200);
    assert_eq!(signed["state"], "signed");
    let number = signed["number"].as_str().unwrap();
    assert_eq!(number, format!("DECRE-{}-00000001-MUNI-INTEN", year_now()));

    // The final PDF is stored with its SHA-256, and the public can verify both.
    let pdf = m.reader.get(&format!("/documents/{id}/pdf")).await;
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    assert!(pdf.body.starts_with(b"%PDF-"));
    let sha = sha256_hex(&pdf.body);
    assert_eq!(signed["pdf_sha256"], sha.as_str());
    let public = m.host.anonymous();
    let verified = expect(&public.get(&format!("/verify/{number}")).await, 200);
    assert_eq!(verified["pdf_sha256"], sha.as_str());
    assert_eq!(verified["type_name"], "Decreto");
    let names: Vec<&str> =
        verified["signers"].as_array().unwrap().iter().map(|s| s["full_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["José Peña", "María Ibáñez"]);
    expect(&public.get("/verify/DECRE-2000-00000001-MUNI-INTEN").await, 404);
    let genuine =
        expect(&public.request("POST", "/verify", &[("content-type", "application/pdf")], pdf.body.clone()).await, 200);
    assert_eq!(genuine["genuine"], true);
    assert_eq!(genuine["number"], number);
    let mut altered = pdf.body.clone();
    let at = altered.len() / 2;
    altered[at] ^= 0x01;
    let forged = expect(&public.request("POST", "/verify", &[("content-type", "application/pdf")], altered).await, 200);
    assert_eq!(forged["genuine"], false);
    // Everything but verification needs credentials.
    expect(&public.get(&format!("/documents/{id}")).await, 401);

    // A signed document is immutable: every change is a 409 naming the state.
    refused_in(&m.writer.put_json(&format!("/documents/{id}"), &json!({ "subject": "otro" })).await, "signed");
    refused_in(&m.writer.post_json(&format!("/documents/{id}/submit"), &json!({})).await, "signed");
    refused_in(&m.intendente.post_json(&format!("/documents/{id}/sign"), &json!({})).await, "signed");
    refused_in(&m.intendente.post_json(&format!("/documents/{id}/reject"), &json!({ "reason": "no" })).await, "signed");
    refused_in(&m.writer.post_json(&format!("/documents/{id}/cancel"), &json!({})).await, "signed");
    refused_in(
        &m.writer.put_bytes(&format!("/documents/{id}/attachments/a.txt"), "text/plain", b"x".to_vec()).await,
        "signed",
    );
    refused_in(&m.writer.delete(&format!("/documents/{id}/attachments/a.txt")).await, "signed");

    // The history lists every act in order.
    let history = expect(&m.reader.get(&format!("/documents/{id}/history")).await, 200);
    let actions: Vec<&str> = history.as_array().unwrap().iter().map(|h| h["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["created", "submitted", "signed", "signed", "numbered"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_signers_act_chains_to_the_previous_one_and_verifies_with_the_public_key() {
    let m = muni().await;
    let signed = m.signed("Cadena de firmas").await;
    let key = expect(&m.reader.get("/signing-key").await, 200);
    let key = hex(key["public_key"].as_str().unwrap());
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key.try_into().unwrap()).unwrap();
    let signers = signed["signers"].as_array().unwrap();
    for s in signers {
        let digest = hex(s["digest"].as_str().unwrap());
        let signature = ed25519_dalek::Signature::from_slice(&hex(s["signature"].as_str().unwrap())).unwrap();
        key.verify_strict(&digest, &signature).expect("the host's signature of the act verifies");
    }
    assert_ne!(signers[0]["digest"], signers[1]["digest"]);
    // A forged act does not verify.
    let mut digest = hex(signers[1]["digest"].as_str().unwrap());
    digest[0] ^= 1;
    let signature = ed25519_dalek::Signature::from_slice(&hex(signers[1]["signature"].as_str().unwrap())).unwrap();
    assert!(key.verify_strict(&digest, &signature).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn illegal_transitions_are_409s_naming_the_state() {
    let m = muni().await;
    let id = m.draft("Transiciones").await;
    let path = |action: &str| format!("/documents/{id}/{action}");
    refused_in(&m.secretary.post_json(&path("sign"), &json!({})).await, "draft");
    refused_in(&m.secretary.post_json(&path("reject"), &json!({ "reason": "no" })).await, "draft");
    expect(&m.reader.get(&format!("/documents/{id}/pdf")).await, 409);
    expect(&m.writer.post_json(&path("submit"), &json!({})).await, 200);
    refused_in(&m.writer.post_json(&path("submit"), &json!({})).await, "awaiting_signatures");
    refused_in(
        &m.writer.put_json(&format!("/documents/{id}"), &json!({ "subject": "x" })).await,
        "awaiting_signatures",
    );
    // Rejected: back to the writer with a reason, earlier acts voided.
    expect(&m.secretary.post_json(&path("sign"), &json!({})).await, 200);
    expect(&m.secretary.post_json(&path("reject"), &json!({ "reason": "no" })).await, 403);
    let body = expect(&m.intendente.post_json(&path("reject"), &json!({ "reason": "  " })).await, 422);
    assert_eq!(body["errors"][0]["field"], "reason");
    let rejected =
        expect(&m.intendente.post_json(&path("reject"), &json!({ "reason": "Falta el dictamen" })).await, 200);
    assert_eq!(rejected["state"], "rejected");
    assert_eq!(rejected["rejection_reason"], "Falta el dictamen");
    assert!(rejected["signers"].as_array().unwrap().iter().all(|s| s["signed_at"].is_null()));
    refused_in(&m.intendente.post_json(&path("sign"), &json!({})).await, "rejected");
    // Edited, it is a draft again and goes round once more.
    let edited = expect(
        &m.writer.put_json(&format!("/documents/{id}"), &json!({ "body_markdown": "Con dictamen." })).await,
        200,
    );
    assert_eq!(edited["state"], "draft");
    expect(&m.writer.post_json(&path("submit"), &json!({})).await, 200);
    // Cancelled: final, and nothing more.
    let cancelled = expect(&m.writer.post_json(&path("cancel"), &json!({})).await, 200);
    assert_eq!(cancelled["state"], "cancelled");
    for (client, action) in [(&m.secretary, "sign"), (&m.writer, "submit"), (&m.writer, "cancel")] {
        refused_in(&client.post_json(&path(action), &json!({})).await, "cancelled");
    }
    // A stale version is a 409 too.
    let other = m.draft("Versiones").await;
    let stale = m.writer.put_json(&format!("/documents/{other}"), &json!({ "subject": "y", "version": 99 })).await;
    assert_eq!(expect(&stale, 409)["type"], "urn:plaza:problem:gdi:concurrent-change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signers_and_fields_are_checked_when_named() {
    let m = muni().await;
    let base = |signers: Value, fields: Value| json!({ "type_code": "DECRE", "sector_code": "SECGOB", "subject": "Controles", "fields": fields, "signers": signers });
    let fields = json!({ "visto": "la nota" });
    // The numbering signer must be last, may number, and hold a numbering position.
    let wrong_order = json!([
        { "user_id": m.intendente_id, "sector_code": "INTEN" },
        { "user_id": m.secretary_id, "sector_code": "SECGOB" }
    ]);
    let body = expect(&m.writer.post_json("/documents", &base(wrong_order, fields.clone())).await, 422);
    assert_eq!(body["errors"][0]["field"], "signers[1]");
    let not_member = json!([{ "user_id": m.intendente_id, "sector_code": "HAC" }]);
    expect(&m.writer.post_json("/documents", &base(not_member, fields.clone())).await, 422);
    let twice = json!([{ "user_id": m.secretary_id, "sector_code": "SECGOB" }, { "user_id": m.secretary_id, "sector_code": "SECGOB" }]);
    expect(&m.writer.post_json("/documents", &base(twice, fields.clone())).await, 422);
    // Fields follow the type's template.
    let bad =
        expect(&m.writer.post_json("/documents", &base(m.signers(), json!({ "monto": -3, "otro": 1 }))).await, 422);
    let named: BTreeSet<&str> =
        bad["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(named, BTreeSet::from(["fields.visto", "fields.monto", "fields.otro"]));
    // A writer writes only for their own sectors; readers do not write.
    let hac = json!({ "type_code": "NOTA", "sector_code": "HAC", "subject": "Ajena" });
    expect(&m.writer.post_json("/documents", &hac).await, 403);
    expect(&m.reader.post_json("/documents", &base(m.signers(), fields.clone())).await, 403);
    // Submitting needs at least one signer.
    let lonely = expect(&m.writer.post_json("/documents", &base(json!([]), fields)).await, 201);
    let id = lonely["id"].as_i64().unwrap();
    expect(&m.writer.post_json(&format!("/documents/{id}/submit"), &json!({})).await, 422);
    // Types: codes are checked, the schema of fields is published.
    expect(
        &m.host
            .post_json("/document-types", &json!({ "code": "bad code", "name": "x", "numbering_positions": ["a"] }))
            .await,
        422,
    );
    expect(&m.host.post_json("/document-types", &json!({ "code": "DISPO", "name": "x" })).await, 422);
    let decre = expect(&m.reader.get("/document-types/DECRE").await, 200);
    assert_eq!(decre["fields_schema"]["required"], json!(["visto"]));
    expect(&m.writer.post_json("/sectors", &json!({ "code": "OBRAS", "name": "Obras" })).await, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_racing_final_signatures_get_numbers_1_to_50() {
    let m = Arc::new(muni().await);
    let mut ids = Vec::new();
    for i in 0..50 {
        let id = m.draft(&format!("Carrera {i}")).await;
        expect(&m.writer.post_json(&format!("/documents/{id}/submit"), &json!({})).await, 200);
        expect(&m.secretary.post_json(&format!("/documents/{id}/sign"), &json!({})).await, 200);
        ids.push(id);
    }
    let racing = ids.iter().map(|id| {
        let m = Arc::clone(&m);
        let id = *id;
        tokio::spawn(async move { m.intendente.post_json(&format!("/documents/{id}/sign"), &json!({})).await })
    });
    let mut seqs = Vec::new();
    for handle in racing {
        let resp = handle.await.unwrap();
        let doc = expect(&resp, 200);
        let number = doc["number"].as_str().unwrap();
        seqs.push(number.split('-').nth(2).unwrap().parse::<i64>().unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failure_after_the_number_is_drawn_leaves_no_gap() {
    let m = muni().await;
    m.signed("Primero").await;
    let id = m.draft("Segundo").await;
    expect(&m.writer.post_json(&format!("/documents/{id}/submit"), &json!({})).await, 200);
    expect(&m.secretary.post_json(&format!("/documents/{id}/sign"), &json!({})).await, 200);
    // Storing the final PDF fails: the tenant's storage is full.
    let app = m.host.app();
    let actor = plaza::audit::Actor::new("test");
    let full = plaza::tenancy::quotas::QuotaOverrides { storage_bytes: Some(1), ..Default::default() };
    plaza::tenancy::quotas::set(&app.db, &actor, "muni", &full).await.unwrap();
    app.modules.services().quotas.forget("muni");
    let failed = m.intendente.post_json(&format!("/documents/{id}/sign"), &json!({})).await;
    assert_eq!(failed.status, 429, "{}", failed.text());
    let still = expect(&m.reader.get(&format!("/documents/{id}")).await, 200);
    assert_eq!(still["state"], "awaiting_signatures");
    assert_eq!(still["number"], Value::Null);
    assert!(still["signers"][1]["signed_at"].is_null());
    // Room again: the same number the failed try drew, no gap.
    let room = plaza::tenancy::quotas::QuotaOverrides::default();
    plaza::tenancy::quotas::set(&app.db, &actor, "muni", &room).await.unwrap();
    app.modules.services().quotas.forget("muni");
    let signed = expect(&m.intendente.post_json(&format!("/documents/{id}/sign"), &json!({})).await, 200);
    assert_eq!(signed["number"], format!("DECRE-{}-00000002-MUNI-INTEN", year_now()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn numbering_restarts_on_the_first_of_january() {
    let m = muni().await;
    let year = year_now();
    let first = m.signed("Este año").await;
    assert_eq!(first["number"], format!("DECRE-{year}-00000001-MUNI-INTEN"));
    // The clock modules see moves to 2 January next year (UTC, the default zone).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let next_year = unix_of_january(year + 1) + 86_400;
    m.host.shift_module_clock(i64::try_from(next_year).unwrap() - i64::try_from(now).unwrap());
    let second = m.signed("Año nuevo").await;
    assert_eq!(second["number"], format!("DECRE-{}-00000001-MUNI-INTEN", year + 1));
    let third = m.signed("Año nuevo, otro").await;
    assert_eq!(third["number"], format!("DECRE-{}-00000002-MUNI-INTEN", year + 1));
    let exp = json!({ "sector_code": "SECGOB", "subject": "Año nuevo", "procedure_type": "Nota",
        "initiator": { "kind": "office", "name": "Mesa de entradas" } });
    let created = expect(&m.writer.post_json("/expedientes", &exp).await, 201);
    assert_eq!(created["number"], format!("EX-{}-00000001-MUNI-SECGOB", year + 1));
    // Listing by year tells the two apart.
    let old = expect(&m.reader.get(&format!("/documents?year={year}")).await, 200);
    assert_eq!(old["total"], 1);
    m.host.shift_module_clock(0);
}

fn unix_of_january(year: i64) -> u64 {
    let days: i64 = (1970..year).map(|y| if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 { 366 } else { 365 }).sum();
    u64::try_from(days * 86_400).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pdfs_carry_the_number_the_signers_and_the_accents() {
    let Some(pdftotext) = tool("pdftotext") else { return };
    let m = muni().await;
    let id = m.draft("Señalización de la avenida Güemes").await;
    let preview = m.reader.get(&format!("/documents/{id}/preview.pdf")).await;
    assert_eq!(preview.status, 200);
    let text = pdf_text(&pdftotext, &preview.body);
    assert!(text.contains("BORRADOR"), "{text}");
    assert!(text.contains("Señalización de la avenida Güemes"), "{text}");
    assert!(text.contains("Artículo 1º: apruébase."), "{text}");
    expect(&m.writer.post_json(&format!("/documents/{id}/submit"), &json!({})).await, 200);
    expect(&m.secretary.post_json(&format!("/documents/{id}/sign"), &json!({})).await, 200);
    let signed = expect(&m.intendente.post_json(&format!("/documents/{id}/sign"), &json!({})).await, 200);
    let number = signed["number"].as_str().unwrap();
    let pdf = m.reader.get(&format!("/documents/{id}/pdf")).await;
    let text = pdf_text(&pdftotext, &pdf.body);
    for expected in [
        number,
        "José Peña",
        "María Ibáñez",
        "Secretaría",
        "Municipalidad de San Martín",
        "Visto: la nota de la Secretaría",
    ] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
    assert!(!text.contains("BORRADOR"), "{text}");
    // It prints the SHA-256 of its content, which anyone holding the
    // content recomputes.
    let content = json!([
        "plaza-gdi-content-v1",
        "DECRE",
        number,
        signed["reference"],
        signed["subject"],
        signed["body_markdown"],
        signed["fields"].to_string()
    ]);
    let digest = sha256_hex(content.to_string().as_bytes());
    assert!(text.contains(&format!("Huella SHA-256 del contenido: {digest}")), "{digest} in {text}");
    // The PDF carries a PAdES signature poppler verifies, with the tenant's
    // (self-signed, test) certificate; one byte changed in the signed range
    // and it no longer verifies.
    let pdfsig = tool("pdfsig").unwrap();
    let report = pdf_signatures(&pdfsig, &pdf.body);
    eprintln!("pdfsig of the final PDF:\n{report}");
    assert!(report.contains("Signature is Valid"), "{report}");
    assert!(report.contains("muni gdi gdi - self-signed TEST certificate"), "{report}");
    assert!(report.contains("ETSI.CAdES.detached"), "{report}");
    let mut altered = pdf.body.clone();
    let at = pdf.body.windows(7).position(|w| w == b"/Title ").unwrap() + 9;
    altered[at] = if altered[at] == b'X' { b'Y' } else { b'X' };
    let report = pdf_signatures(&pdfsig, &altered);
    assert!(!report.contains("Signature is Valid"), "{report}");
    assert!(report.contains("Digest Mismatch"), "{report}");
    // A long body runs onto more pages.
    let long = json!({ "type_code": "NOTA", "sector_code": "SECGOB", "subject": "Larga",
        "body_markdown": "Párrafo con tildes y eñes. ".repeat(2000) });
    let long = expect(&m.writer.post_json("/documents", &long).await, 201);
    let preview = m.reader.get(&format!("/documents/{}/preview.pdf", long["id"])).await;
    let text = pdf_text(&pdftotext, &preview.body);
    assert!(text.contains("Página 3 de"), "{}", &text[..200.min(text.len())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expedientes_collect_signed_documents_and_move_between_sectors() {
    let m = muni().await;
    let new = json!({ "sector_code": "SECGOB", "subject": "Habilitación comercial Kiosco Ñandú",
        "procedure_type": "Habilitación", "initiator": { "kind": "citizen", "name": "Luis Gómez", "id_number": "20123456" } });
    expect(&m.reader.post_json("/expedientes", &new).await, 403);
    let exp = expect(&m.writer.post_json("/expedientes", &new).await, 201);
    let eid = exp["id"].as_i64().unwrap();
    assert_eq!(exp["number"], format!("EX-{}-00000001-MUNI-SECGOB", year_now()));
    assert_eq!(exp["state"], "open");
    assert_eq!(exp["current_sector"], "SECGOB");
    let cover = m.reader.get(&format!("/expedientes/{eid}/cover.pdf")).await;
    assert_eq!(cover.status, 200);
    assert_eq!(exp["cover_sha256"], sha256_hex(&cover.body).as_str());
    if let Some(pdftotext) = tool("pdftotext") {
        let text = pdf_text(&pdftotext, &cover.body);
        assert!(text.contains("Kiosco Ñandú") && text.contains("CARÁTULA"), "{text}");
    }

    // Only signed documents become fojas, in order, once each.
    let draft = m.draft("Borrador").await;
    refused_in(
        &m.writer.post_json(&format!("/expedientes/{eid}/documents"), &json!({ "document_id": draft })).await,
        "draft",
    );
    let one = m.signed("Informe técnico").await["id"].as_i64().unwrap();
    let two = m.signed("Dictamen").await["id"].as_i64().unwrap();
    let foja = expect(
        &m.writer.post_json(&format!("/expedientes/{eid}/documents"), &json!({ "document_id": one })).await,
        201,
    );
    assert_eq!(foja["foja"], 1);
    let foja = expect(
        &m.writer.post_json(&format!("/expedientes/{eid}/documents"), &json!({ "document_id": two })).await,
        201,
    );
    assert_eq!(foja["foja"], 2);
    expect(&m.writer.post_json(&format!("/expedientes/{eid}/documents"), &json!({ "document_id": one })).await, 409);
    expect(&m.writer.post_json(&format!("/expedientes/{eid}/documents"), &json!({ "document_id": 999 })).await, 422);
    let fojas = expect(&m.reader.get(&format!("/expedientes/{eid}/documents")).await, 200);
    let order: Vec<i64> = fojas.as_array().unwrap().iter().map(|f| f["document_id"].as_i64().unwrap()).collect();
    assert_eq!(order, [one, two]);

    // A pase to HAC: from then on only HAC acts on it.
    expect(
        &m.writer.post_json(&format!("/expedientes/{eid}/moves"), &json!({ "to_sector": "SECGOB", "note": "x" })).await,
        422,
    );
    expect(
        &m.writer.post_json(&format!("/expedientes/{eid}/moves"), &json!({ "to_sector": "NADA", "note": "x" })).await,
        422,
    );
    let moved = m
        .writer
        .post_json(&format!("/expedientes/{eid}/moves"), &json!({ "to_sector": "HAC", "note": "Para su intervención" }))
        .await;
    let moved = expect(&moved, 201);
    assert_eq!((moved["from_sector"].as_str(), moved["to_sector"].as_str()), (Some("SECGOB"), Some("HAC")));
    let now = expect(&m.reader.get(&format!("/expedientes/{eid}")).await, 200);
    assert_eq!(now["current_sector"], "HAC");
    assert_eq!(now["state"], "in_progress");
    expect(&m.writer.post_json(&format!("/expedientes/{eid}/documents"), &json!({ "document_id": two })).await, 403);
    expect(
        &m.writer.post_json(&format!("/expedientes/{eid}/moves"), &json!({ "to_sector": "INTEN", "note": "x" })).await,
        403,
    );
    expect(&m.writer.post_json(&format!("/expedientes/{eid}/archive"), &json!({})).await, 403);
    let history = expect(&m.reader.get(&format!("/expedientes/{eid}/moves")).await, 200);
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(history[0]["note"], "Para su intervención");

    // HAC's intendente... is not in HAC; make the writer a member and archive.
    let writer_id = user_id(&m.writer).await;
    member(&m.host, &writer_id, "HAC", "Ana Núñez", "Administrativa", false, false).await;
    let archived = expect(&m.writer.post_json(&format!("/expedientes/{eid}/archive"), &json!({})).await, 200);
    assert_eq!(archived["state"], "archived");
    refused_in(
        &m.writer.post_json(&format!("/expedientes/{eid}/moves"), &json!({ "to_sector": "INTEN", "note": "x" })).await,
        "archived",
    );
    refused_in(
        &m.writer.post_json(&format!("/expedientes/{eid}/documents"), &json!({ "document_id": two })).await,
        "archived",
    );
    refused_in(&m.writer.post_json(&format!("/expedientes/{eid}/archive"), &json!({})).await, "archived");

    // Search.
    let found = expect(&m.reader.get("/expedientes?q=nandu&state=archived").await, 200);
    assert_eq!(found["total"], 1);
    let none = expect(&m.reader.get("/expedientes?sector=SECGOB").await, 200);
    assert_eq!(none["total"], 0);
    expect(&m.reader.get("/expedientes?state=closed").await, 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn documents_are_found_by_number_type_sector_state_words_and_signer() {
    let m = muni().await;
    let signed = m.signed("Poda de árboles en barrio Norte").await;
    m.draft("Compra de papelería").await;
    let number = signed["number"].as_str().unwrap();
    let total = |v: Value| v["total"].as_i64().unwrap();
    assert_eq!(total(expect(&m.reader.get("/documents").await, 200)), 2);
    assert_eq!(total(expect(&m.reader.get(&format!("/documents?number={number}")).await, 200)), 1);
    assert_eq!(total(expect(&m.reader.get("/documents?q=ARBOLES+norte").await, 200)), 1);
    assert_eq!(total(expect(&m.reader.get("/documents?q=papeleria").await, 200)), 1);
    assert_eq!(total(expect(&m.reader.get("/documents?state=draft").await, 200)), 1);
    assert_eq!(total(expect(&m.reader.get("/documents?type=NOTA").await, 200)), 0);
    assert_eq!(total(expect(&m.reader.get("/documents?sector=SECGOB&type=DECRE").await, 200)), 2);
    assert_eq!(
        total(expect(&m.reader.get(&format!("/documents?signer={}&state=signed", m.intendente_id)).await, 200)),
        1
    );
    assert_eq!(total(expect(&m.reader.get(&format!("/documents?year={}", year_now())).await, 200)), 1);
    expect(&m.reader.get("/documents?state=lost").await, 422);
    expect(&m.reader.get("/documents?per_page=0").await, 422);
    let page = expect(&m.reader.get("/documents?per_page=1&page=2").await, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attachments_belong_to_drafts() {
    let m = muni().await;
    let id = m.draft("Con adjunto").await;
    let put = m
        .writer
        .put_bytes(&format!("/documents/{id}/attachments/plano.pdf"), "application/pdf", b"%PDF-1.4 plano".to_vec())
        .await;
    let att = expect(&put, 200);
    assert_eq!(att["sha256"], sha256_hex(b"%PDF-1.4 plano").as_str());
    let got = m.reader.get(&format!("/documents/{id}/attachments/plano.pdf")).await;
    assert_eq!((got.status, got.body.as_slice()), (200, b"%PDF-1.4 plano".as_slice()));
    expect(
        &m.writer.put_bytes(&format!("/documents/{id}/attachments/..secret"), "text/plain", b"x".to_vec()).await,
        422,
    );
    expect(&m.reader.put_bytes(&format!("/documents/{id}/attachments/x.txt"), "text/plain", b"x".to_vec()).await, 403);
    let doc = expect(&m.reader.get(&format!("/documents/{id}")).await, 200);
    assert_eq!(doc["attachments"][0]["name"], "plano.pdf");
    expect(&m.writer.delete(&format!("/documents/{id}/attachments/plano.pdf")).await, 204);
    expect(&m.reader.get(&format!("/documents/{id}/attachments/plano.pdf")).await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_municipality_sees_and_changes_nothing_of_the_first() {
    let m = muni().await;
    let signed = m.signed("Solo de muni").await;
    let id = signed["id"].as_i64().unwrap();
    let number = signed["number"].as_str().unwrap().to_owned();
    let exp = json!({ "sector_code": "SECGOB", "subject": "De muni", "procedure_type": "Nota",
        "initiator": { "kind": "office", "name": "Mesa" } });
    let eid = expect(&m.writer.post_json("/expedientes", &exp).await, 201)["id"].as_i64().unwrap();

    let other = m.host.other_tenant("villa", &["admin", "gdi-admin", "gdi-writer"]).await.unwrap();
    for path in ["/documents", "/expedientes"] {
        assert_eq!(expect(&other.get(path).await, 200)["total"], 0, "{path}");
    }
    assert_eq!(expect(&other.get("/sectors").await, 200), json!([]));
    for path in [
        format!("/documents/{id}"),
        format!("/documents/{id}/pdf"),
        format!("/expedientes/{eid}"),
        format!("/expedientes/{eid}/cover.pdf"),
    ] {
        expect(&other.get(&path).await, 404);
    }
    expect(&other.get(&format!("/verify/{number}")).await, 404);
    expect(&other.post_json(&format!("/documents/{id}/cancel"), &json!({})).await, 404);
    expect(&other.post_json(&format!("/expedientes/{eid}/archive"), &json!({})).await, 404);
    // Its own sequence starts at 1, and its key is its own.
    org(&other).await;
    let key_muni = expect(&m.reader.get("/signing-key").await, 200)["public_key"].clone();
    let key_villa = expect(&other.get("/signing-key").await, 200)["public_key"].clone();
    assert_ne!(key_muni, key_villa);
    let still = expect(&m.reader.get(&format!("/documents/{id}")).await, 200);
    assert_eq!(still["state"], "signed");
}

// ----- helpers -----

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

/// A poppler tool on PATH. `cargo xtask test` installs poppler-utils and
/// sets `PLAZA_TEST_POPPLER`, so there a missing tool fails the test;
/// elsewhere the test says it skipped.
fn tool(name: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()));
    if found.is_none() {
        assert!(std::env::var_os("PLAZA_TEST_POPPLER").is_none(), "{name} is missing: install poppler-utils");
        eprintln!("skipped: {name} (poppler-utils) is not installed");
    }
    found
}

/// What `pdfsig` says of a PDF's signatures.
fn pdf_signatures(pdfsig: &std::path::Path, pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signed.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new(pdfsig).arg(&path).output().unwrap();
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn pdf_text(pdftotext: &std::path::Path, pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new(pdftotext).arg(&path).arg("-").output().unwrap();
    assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_org_chart_and_the_types_are_managed_by_gdi_admins() {
    let m = muni().await;
    let sectors = expect(&m.reader.get("/sectors").await, 200);
    assert_eq!(sectors.as_array().unwrap().len(), 3);
    assert_eq!(expect(&m.reader.get("/sectors/HAC").await, 200)["parent_code"], "INTEN");
    expect(&m.reader.get("/sectors/NADA").await, 404);
    expect(&m.host.post_json("/sectors", &json!({ "code": "HAC", "name": "Otra" })).await, 409);
    expect(
        &m.host.post_json("/sectors", &json!({ "code": "OBRAS", "name": "Obras", "parent_code": "NADA" })).await,
        422,
    );
    // Re-parenting may not make a cycle; renaming and deactivating work.
    let cycle = m.host.put_json("/sectors/INTEN", &json!({ "parent_code": "HAC" })).await;
    assert_eq!(expect(&cycle, 422)["errors"][0]["field"], "parent_code");
    let renamed = expect(
        &m.host
            .put_json("/sectors/HAC", &json!({ "name": "Secretaría de Hacienda y Finanzas", "parent_code": null }))
            .await,
        200,
    );
    assert_eq!(
        (renamed["name"].as_str(), renamed["parent_code"].as_str()),
        (Some("Secretaría de Hacienda y Finanzas"), None)
    );
    expect(&m.reader.put_json("/sectors/HAC", &json!({ "name": "x" })).await, 403);
    let inactive = expect(&m.host.put_json("/sectors/HAC", &json!({ "active": false })).await, 200);
    assert_eq!(inactive["active"], false);
    let writer_id = user_id(&m.writer).await;
    let body = json!({ "full_name": "Ana", "position": "Administrativa" });
    expect(&m.host.put_json(&format!("/members/{writer_id}/sectors/HAC"), &body).await, 422);
    // Members: listed by sector, changed, removed.
    let secgob = expect(&m.reader.get("/members?sector=SECGOB").await, 200);
    assert_eq!(secgob.as_array().unwrap().len(), 2);
    let numbers_without_signing = json!({ "full_name": "X", "position": "Y", "can_sign": false, "can_number": true });
    expect(&m.host.put_json(&format!("/members/{writer_id}/sectors/SECGOB"), &numbers_without_signing).await, 422);
    expect(&m.host.delete(&format!("/members/{writer_id}/sectors/SECGOB")).await, 204);
    expect(&m.host.delete(&format!("/members/{writer_id}/sectors/SECGOB")).await, 404);
    assert_eq!(expect(&m.reader.get("/members?sector=SECGOB").await, 200).as_array().unwrap().len(), 1);
    let hac = json!({ "type_code": "NOTA", "sector_code": "SECGOB", "subject": "Sin sector" });
    expect(&m.writer.post_json("/documents", &hac).await, 403);
    // Types: listed, changed, deactivated (no new documents of it).
    assert_eq!(expect(&m.reader.get("/document-types").await, 200).as_array().unwrap().len(), 2);
    let changed = expect(
        &m.host.put_json("/document-types/NOTA", &json!({ "name": "Nota interna", "numbered": false })).await,
        200,
    );
    assert_eq!((changed["name"].as_str(), changed["numbered"].as_bool()), (Some("Nota interna"), Some(false)));
    expect(&m.host.put_json("/document-types/DECRE", &json!({ "numbering_positions": [] })).await, 422);
    expect(&m.host.put_json("/document-types/NADA", &json!({ "name": "x" })).await, 404);
    expect(&m.host.put_json("/document-types/NOTA", &json!({ "active": false })).await, 200);
    member(&m.host, &writer_id, "SECGOB", "Ana Núñez", "Administrativa", false, false).await;
    let nota = json!({ "type_code": "NOTA", "sector_code": "SECGOB", "subject": "Tipo inactivo" });
    assert_eq!(expect(&m.writer.post_json("/documents", &nota).await, 422)["errors"][0]["field"], "type_code");
    expect(&m.reader.get("/document-types/NADA").await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unnumbered_type_is_signed_without_a_number() {
    let m = muni().await;
    expect(&m.host.put_json("/document-types/NOTA", &json!({ "numbered": false })).await, 200);
    let body = json!({ "type_code": "NOTA", "sector_code": "SECGOB", "subject": "Nota simple",
        "signers": [{ "user_id": m.secretary_id, "sector_code": "SECGOB" }] });
    let id = expect(&m.writer.post_json("/documents", &body).await, 201)["id"].as_i64().unwrap();
    expect(&m.writer.post_json(&format!("/documents/{id}/submit"), &json!({})).await, 200);
    let signed = expect(&m.secretary.post_json(&format!("/documents/{id}/sign"), &json!({})).await, 200);
    assert_eq!(signed["state"], "signed");
    assert_eq!(signed["number"], Value::Null);
    let pdf = m.reader.get(&format!("/documents/{id}/pdf")).await;
    assert_eq!(signed["pdf_sha256"], sha256_hex(&pdf.body).as_str());
    // The next numbered document still gets number 1: nothing was drawn.
    let decree = m.signed("Numerado").await;
    assert!(decree["number"].as_str().unwrap().contains("-00000001-"), "{decree}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_other_transition_of_the_lifecycle() {
    let m = muni().await;
    // draft → cancelled.
    let a = m.draft("Cancelada en borrador").await;
    expect(&m.reader.post_json(&format!("/documents/{a}/cancel"), &json!({})).await, 403);
    let cancelled = expect(&m.writer.post_json(&format!("/documents/{a}/cancel"), &json!({})).await, 200);
    assert_eq!(cancelled["state"], "cancelled");
    refused_in(&m.writer.put_json(&format!("/documents/{a}"), &json!({ "subject": "x" })).await, "cancelled");
    // rejected → awaiting_signatures (resubmitted as it was), then rejected → cancelled.
    let b = m.draft("Devuelta y reenviada").await;
    expect(&m.writer.post_json(&format!("/documents/{b}/submit"), &json!({})).await, 200);
    expect(&m.secretary.post_json(&format!("/documents/{b}/reject"), &json!({ "reason": "Revisar" })).await, 200);
    let again = expect(&m.writer.post_json(&format!("/documents/{b}/submit"), &json!({})).await, 200);
    assert_eq!((again["state"].as_str(), again["current_step"].as_i64()), (Some("awaiting_signatures"), Some(1)));
    assert_eq!(again["rejection_reason"], Value::Null);
    expect(&m.secretary.post_json(&format!("/documents/{b}/reject"), &json!({ "reason": "Otra vez" })).await, 200);
    let gone = expect(
        &m.host.as_user(&["gdi-admin"]).await.unwrap().post_json(&format!("/documents/{b}/cancel"), &json!({})).await,
        200,
    );
    assert_eq!(gone["state"], "cancelled");
    // The history tells the whole story.
    let history = expect(&m.reader.get(&format!("/documents/{b}/history")).await, 200);
    let actions: Vec<&str> = history.as_array().unwrap().iter().map(|h| h["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["created", "submitted", "rejected", "submitted", "rejected", "cancelled"]);
    // An expediente archived while open: read-only at once.
    let exp = json!({ "sector_code": "SECGOB", "subject": "Archivo directo", "procedure_type": "Nota",
        "initiator": { "kind": "office", "name": "Mesa" } });
    let eid = expect(&m.writer.post_json("/expedientes", &exp).await, 201)["id"].as_i64().unwrap();
    assert_eq!(
        expect(&m.writer.post_json(&format!("/expedientes/{eid}/archive"), &json!({})).await, 200)["state"],
        "archived"
    );
    refused_in(
        &m.writer.post_json(&format!("/expedientes/{eid}/moves"), &json!({ "to_sector": "HAC", "note": "x" })).await,
        "archived",
    );
}
