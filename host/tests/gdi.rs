//! The bundled `gdi` module end to end over HTTP against a real host
//! (SQLite in pass 1 of `cargo xtask test`, PostgreSQL in pass 3): signers
//! who sign in with an external RS256 IdP (Auth0-style namespaced roles),
//! gapless numbering when 50 final signatures race over real connections,
//! a failure after the draw, the tenant's settings, and a second
//! municipality and another module of the same tenant that can touch none
//! of it; a real certificate installed through the API signs the final
//! PDFs, as poppler's `pdfsig` checks, and no other module can sign with it. The module's every route and transition is covered by
//! `testing/tests/gdi.rs`; this suite checks what needs a real server and
//! database.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{TestServer, modules_dir, sha256_hex};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};

// The external IdP (test-only keys, see fixtures/README.md), configured as
// an Auth0 tenant: issuer with a trailing slash, namespaced claims.
const IDP_KEY: &str = include_str!("fixtures/idp-key-1.pem");
const IDP_JWK: &str = include_str!("fixtures/idp-key-1.jwk.json");
const ISSUER: &str = "https://muni.auth0.test/";
const AUDIENCE: &str = "https://gdi.muni.test/api";
const TENANT_CLAIM: &str = "https://gdi.muni.test/tenant";
const ROLES_CLAIM: &str = "https://gdi.muni.test/roles";

#[poem::handler]
fn jwks() -> poem::web::Json<Value> {
    poem::web::Json(json!({ "keys": [serde_json::from_str::<Value>(IDP_JWK).unwrap()] }))
}

/// Serves the IdP's JWKS; its URL.
async fn idp() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(poem::Route::new().at("/jwks.json", poem::get(jwks))));
    format!("http://{addr}/jwks.json")
}

/// An RS256 token of the IdP for `subject` of `tenant` with `roles`.
fn idp_token(subject: &str, tenant: &str, roles: &[&str]) -> String {
    let body: String = IDP_KEY.lines().filter(|l| !l.starts_with("-----")).collect();
    let key = EncodingKey::from_rsa_der(&STANDARD.decode(body).unwrap());
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": now, "exp": now + 600 });
    claims[TENANT_CLAIM] = json!(tenant);
    claims[ROLES_CLAIM] = json!(roles);
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("idp-1".into());
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

/// A caller: a base URL and a bearer token or an API key.
#[derive(Clone)]
struct Caller {
    base: String,
    auth: Auth,
    client: reqwest::Client,
}

#[derive(Clone)]
enum Auth {
    Bearer(String),
    ApiKey(String),
    None,
}

impl Caller {
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        req = match &self.auth {
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::ApiKey(k) => req.header("x-api-key", k),
            Auth::None => req,
        };
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn ok(&self, method: Method, path: &str, body: Option<Value>, status: u16) -> Value {
        let (got, value) = self.send(method.clone(), path, body).await;
        assert_eq!(got, status, "{method} {path}: {value}");
        value
    }
}

struct Muni {
    s: TestServer,
    admin: Caller,
    writer: Caller,
    secretary: Caller,
    intendente: Caller,
}

/// A host trusting the IdP, tenants `muni` and `villa` with gdi (and
/// `hello` beside it in muni), muni's org chart, a writer with an API key
/// and two signers who sign in through the IdP.
async fn muni() -> Muni {
    let jwks_url = idp().await;
    let s = TestServer::start_with(move |c| {
        c.modules_dir = modules_dir().display().to_string();
        c.jwks_url = jwks_url;
        c.jwt_issuer = ISSUER.into();
        c.jwt_audience = AUDIENCE.into();
        c.tenant_claim = TENANT_CLAIM.into();
        c.roles_claim = ROLES_CLAIM.into();
    })
    .await;
    s.tenant_with("muni", &["gdi", "hello", "hostile"]).await;
    s.tenant_with("villa", &["gdi"]).await;
    let caller = |auth: Auth| Caller { base: format!("{}/t/muni/gdi", s.base), auth, client: s.client.clone() };
    let admin = caller(Auth::ApiKey(s.api_key("muni", &["admin", "gdi-admin"]).await));
    let writer = caller(Auth::ApiKey(s.api_key("muni", &["gdi-writer"]).await));
    let secretary = caller(Auth::Bearer(idp_token("auth0|secretario", "muni", &["gdi-signer"])));
    let intendente = caller(Auth::Bearer(idp_token("auth0|intendente", "muni", &["gdi-signer"])));
    for (key, value) in [("eco", json!("SMA")), ("timezone", json!("America/Argentina/Buenos_Aires"))] {
        let resp = s
            .req(Method::PUT, &format!("/t/muni/modules/gdi/config/{key}"))
            .json(&json!({ "value": value, "secret": false }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204, "{key}: {}", resp.text().await.unwrap());
    }
    for (code, name) in [("INTEN", "Intendencia"), ("SECGOB", "Secretaría de Gobierno"), ("HAC", "Hacienda")] {
        admin.ok(Method::POST, "/sectors", Some(json!({ "code": code, "name": name })), 201).await;
    }
    let decre = json!({ "code": "DECRE", "name": "Decreto", "numbering_positions": ["Intendente"] });
    admin.ok(Method::POST, "/document-types", Some(decre), 201).await;
    let me = |c: &Caller| {
        let c = c.clone();
        async move { c.ok(Method::GET, "/me", None, 200).await["user_id"].as_str().unwrap().to_owned() }
    };
    let (w, sec, int) = (me(&writer).await, me(&secretary).await, me(&intendente).await);
    assert_eq!(int, "external:auth0|intendente", "IdP users are named by their subject");
    for (user, sector, name, position, number) in [
        (&w, "SECGOB", "Ana Núñez", "Administrativa", false),
        (&sec, "SECGOB", "José Peña", "Secretario", false),
        (&int, "INTEN", "María Ibáñez", "Intendente", true),
    ] {
        let body = json!({ "full_name": name, "position": position, "can_sign": user != &w, "can_number": number });
        admin.ok(Method::PUT, &format!("/members/{user}/sectors/{sector}"), Some(body), 200).await;
    }
    Muni { s, admin, writer, secretary, intendente }
}

impl Muni {
    /// A decree of SECGOB awaiting the intendente's (numbering) signature.
    async fn awaiting_number(&self, subject: &str) -> i64 {
        let sec = self.secretary.ok(Method::GET, "/me", None, 200).await["user_id"].clone();
        let int = self.intendente.ok(Method::GET, "/me", None, 200).await["user_id"].clone();
        let body = json!({ "type_code": "DECRE", "sector_code": "SECGOB", "subject": subject, "body_markdown": "Artículo 1º.",
            "signers": [{ "user_id": sec, "sector_code": "SECGOB" }, { "user_id": int, "sector_code": "INTEN" }] });
        let id = self.writer.ok(Method::POST, "/documents", Some(body), 201).await["id"].as_i64().unwrap();
        self.writer.ok(Method::POST, &format!("/documents/{id}/submit"), Some(json!({})), 200).await;
        self.secretary.ok(Method::POST, &format!("/documents/{id}/sign"), Some(json!({})), 200).await;
        id
    }
}

fn year_in_buenos_aires() -> i64 {
    use chrono::Datelike;
    (chrono::Utc::now() - chrono::Duration::hours(3)).year().into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_final_signatures_racing_over_http_get_numbers_1_to_50() {
    let m = muni().await;
    let mut ids = Vec::new();
    for i in 0..50 {
        ids.push(m.awaiting_number(&format!("Decreto {i}")).await);
    }
    let intendente = Arc::new(m.intendente.clone());
    let racing: Vec<_> = ids
        .iter()
        .map(|id| {
            let c = Arc::clone(&intendente);
            let path = format!("/documents/{id}/sign");
            tokio::spawn(async move { c.send(Method::POST, &path, Some(json!({}))).await })
        })
        .collect();
    let mut seqs = Vec::new();
    for r in racing {
        let (status, doc) = r.await.unwrap();
        assert_eq!(status, 200, "{doc}");
        let number = doc["number"].as_str().unwrap();
        assert!(number.ends_with("-SMA-INTEN"), "{number}");
        seqs.push(number.split('-').nth(2).unwrap().parse::<i64>().unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>(), "no gap, no duplicate");
    // The year is the tenant's (Buenos Aires), and the public verifies each.
    let public = Caller { auth: Auth::None, ..m.writer.clone() };
    let first = format!("DECRE-{}-00000001-SMA-INTEN", year_in_buenos_aires());
    let verified = public.ok(Method::GET, &format!("/verify/{first}"), None, 200).await;
    let names: Vec<&str> =
        verified["signers"].as_array().unwrap().iter().map(|s| s["full_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["José Peña", "María Ibáñez"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_signature_that_fails_after_the_draw_gives_the_number_back() {
    let m = muni().await;
    let first = m.awaiting_number("Primero").await;
    m.intendente.ok(Method::POST, &format!("/documents/{first}/sign"), Some(json!({})), 200).await;
    let id = m.awaiting_number("Segundo").await;
    // The operator caps the tenant's storage: the final PDF cannot be stored.
    let resp =
        m.s.req(Method::PUT, "/api/v1/tenants/muni/quotas").json(&json!({ "storage_bytes": 1 })).send().await.unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    let (status, problem) = m.intendente.send(Method::POST, &format!("/documents/{id}/sign"), Some(json!({}))).await;
    assert_eq!(status, 429, "{problem}");
    let doc = m.writer.ok(Method::GET, &format!("/documents/{id}"), None, 200).await;
    assert_eq!((doc["state"].as_str(), doc["number"].as_str()), (Some("awaiting_signatures"), None));
    let resp = m.s.req(Method::PUT, "/api/v1/tenants/muni/quotas").json(&json!({})).send().await.unwrap();
    assert!(resp.status().is_success());
    let signed = m.intendente.ok(Method::POST, &format!("/documents/{id}/sign"), Some(json!({})), 200).await;
    assert_eq!(signed["number"], format!("DECRE-{}-00000002-SMA-INTEN", year_in_buenos_aires()));
    // The stored PDF is the one whose hash was recorded.
    let pdf = m.writer.client.get(format!("{}/documents/{id}/pdf", m.writer.base));
    let Auth::ApiKey(key) = &m.writer.auth else { unreachable!() };
    let bytes = pdf.header("x-api-key", key).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(signed["pdf_sha256"], sha256_hex(&bytes).as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_municipality_and_another_module_cannot_touch_gdi() {
    let m = muni().await;
    let id = m.awaiting_number("Reservado").await;
    let signed = m.intendente.ok(Method::POST, &format!("/documents/{id}/sign"), Some(json!({})), 200).await;
    let number = signed["number"].as_str().unwrap().to_owned();

    // villa's admin, and muni's signer presenting a token for villa.
    let villa_key = m.s.api_key("villa", &["admin", "gdi-admin", "gdi-writer"]).await;
    let villa =
        Caller { base: format!("{}/t/villa/gdi", m.s.base), auth: Auth::ApiKey(villa_key), client: m.s.client.clone() };
    assert_eq!(villa.ok(Method::GET, "/documents", None, 200).await["total"], 0);
    villa.ok(Method::GET, &format!("/documents/{id}"), None, 404).await;
    villa.ok(Method::GET, &format!("/documents/{id}/pdf"), None, 404).await;
    villa.ok(Method::GET, &format!("/verify/{number}"), None, 404).await;
    villa.ok(Method::POST, &format!("/documents/{id}/cancel"), Some(json!({})), 404).await;
    let (status, _) =
        Caller { auth: Auth::Bearer(idp_token("auth0|intendente", "muni", &["gdi-signer"])), ..villa.clone() }
            .send(Method::GET, "/documents", None)
            .await;
    assert!(matches!(status, 403 | 404), "a muni token is refused at villa: {status}");
    // villa's sequence is its own.
    villa.ok(Method::POST, "/sectors", Some(json!({ "code": "INTEN", "name": "Intendencia" })), 201).await;
    assert_eq!(m.admin.ok(Method::GET, "/sectors", None, 200).await.as_array().unwrap().len(), 3);

    // hello, in the same tenant, signs with its own key, not gdi's.
    let gdi_key = m.writer.ok(Method::GET, "/signing-key", None, 200).await["public_key"].as_str().unwrap().to_owned();
    let Auth::ApiKey(admin_key) = &m.admin.auth else { unreachable!() };
    let hello: Value =
        m.s.client
            .post(format!("{}/t/muni/hello/sign", m.s.base))
            .header("x-api-key", admin_key)
            .body("x")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let hello_key = hex::encode(STANDARD.decode(hello["public_key"].as_str().unwrap()).unwrap());
    assert_ne!(hello_key, gdi_key, "each module of a tenant has its own signing key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bad_setting_is_refused_or_a_clear_conflict_never_a_wrong_number() {
    let m = muni().await;
    let set = |key: &'static str, value: Value| {
        m.s.req(Method::PUT, &format!("/t/muni/modules/gdi/config/{key}"))
            .json(&json!({ "value": value, "secret": false }))
            .send()
    };
    // The host checks the module's settings schema: an ECO that cannot be
    // part of a number is refused when it is set.
    let resp = set("eco", json!("sma-1")).await.unwrap();
    assert_eq!(resp.status(), 422, "{}", resp.text().await.unwrap());
    // A time zone only the module can check: stored, and numbering then
    // answers 409 naming the setting, drawing nothing.
    assert_eq!(set("timezone", json!("Mars/Olympus")).await.unwrap().status(), 204);
    let id = m.awaiting_number("Con mala configuración").await;
    let (got, problem) = m.intendente.send(Method::POST, &format!("/documents/{id}/sign"), Some(json!({}))).await;
    assert_eq!(got, 409, "{problem}");
    assert_eq!(problem["setting"], "timezone");
    assert_eq!(set("timezone", json!("America/Argentina/Buenos_Aires")).await.unwrap().status(), 204);
    let signed = m.intendente.ok(Method::POST, &format!("/documents/{id}/sign"), Some(json!({})), 200).await;
    assert_eq!(signed["number"], format!("DECRE-{}-00000001-SMA-INTEN", year_in_buenos_aires()));
}

/// A PDF of the module, as bytes.
async fn pdf_bytes(c: &Caller, path: &str) -> Vec<u8> {
    let Auth::ApiKey(key) = &c.auth else { unreachable!("a writer has an API key") };
    let resp = c.client.get(format!("{}{path}", c.base)).header("x-api-key", key).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.bytes().await.unwrap().to_vec()
}

/// `pdfsig`'s report (poppler-utils; `cargo xtask test` installs it).
fn pdfsig(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signed.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdfsig").arg(&path).output().expect("pdfsig (poppler-utils) runs");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// An RSA certificate and key made with openssl, as a municipality's CA
/// would hand them over (PEM).
fn openssl_certificate(subject: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    let status = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", subject, "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    (std::fs::read_to_string(cert).unwrap(), std::fs::read_to_string(key).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_installed_certificate_signs_final_pdfs_and_no_other_module_can_use_it() {
    let m = muni().await;
    let (cert, key) = openssl_certificate("/CN=Municipalidad de San Martin/O=SMA/C=AR");
    let (_, other_key) = openssl_certificate("/CN=Otro");
    let put = |body: Value| m.s.req(Method::PUT, "/t/muni/modules/gdi/certificates/gdi").json(&body).send();
    // A key that is not the certificate's, or no PEM at all: 422, nothing stored.
    let resp = put(json!({ "certificate_pem": cert, "private_key_pem": other_key })).await.unwrap();
    assert_eq!(resp.status(), 422, "{}", resp.text().await.unwrap());
    let resp = put(json!({ "certificate_pem": "junk", "private_key_pem": key })).await.unwrap();
    assert_eq!(resp.status(), 422);
    let resp = m.s.req(Method::GET, "/t/muni/modules/gdi/certificates").send().await.unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap(), json!([]));
    // A tenant admin installs it.
    let resp = put(json!({ "certificate_pem": cert, "private_key_pem": key })).await.unwrap();
    assert_eq!(resp.status(), 200);
    let view: Value = resp.json().await.unwrap();
    assert_eq!((view["self_signed"].as_bool(), view["key_type"].as_str()), (Some(false), Some("RSA")));
    assert!(view["subject"].as_str().unwrap().contains("CN=Municipalidad de San Martin"), "{view}");
    let fingerprint = view["sha256"].as_str().unwrap().to_owned();
    assert!(!view.to_string().contains("PRIVATE"), "the key is never shown");
    let resp =
        m.s.req(Method::PUT, "/t/villa/modules/hello/certificates/gdi")
            .json(&json!({ "certificate_pem": cert, "private_key_pem": key }))
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status(), 404, "villa has no hello");

    // The final PDF carries a signature with it that pdfsig verifies.
    let id = m.awaiting_number("Firmado con certificado").await;
    m.intendente.ok(Method::POST, &format!("/documents/{id}/sign"), Some(json!({})), 200).await;
    let pdf = pdf_bytes(&m.writer, &format!("/documents/{id}/pdf")).await;
    let report = pdfsig(&pdf);
    assert!(report.contains("Signature is Valid"), "{report}");
    assert!(report.contains("Signer Certificate Common Name: Municipalidad de San Martin"), "{report}");
    let mut altered = pdf.clone();
    let at = pdf.windows(7).position(|w| w == b"/Title ").unwrap() + 9;
    altered[at] ^= 0x01;
    assert!(pdfsig(&altered).contains("Digest Mismatch"));

    // hostile, in the same tenant, asks for the certificate named `gdi`:
    // it gets one of its own (self-signed), never gdi's.
    let resp = m.s.anon(Method::GET, "/t/muni/hostile/certificate/gdi").send().await.unwrap();
    let stolen: Value = resp.json().await.unwrap();
    assert!(stolen["sha256"].is_string(), "{stolen}");
    assert_ne!(stolen["sha256"].as_str().unwrap(), fingerprint);
    let hostile_certs: Value =
        m.s.req(Method::GET, "/t/muni/modules/hostile/certificates").send().await.unwrap().json().await.unwrap();
    assert_eq!(hostile_certs[0]["self_signed"], true, "{hostile_certs}");
    let gdi_certs: Value =
        m.s.req(Method::GET, "/t/muni/modules/gdi/certificates").send().await.unwrap().json().await.unwrap();
    assert_eq!(gdi_certs.as_array().unwrap().len(), 1);
    assert_eq!(gdi_certs[0]["sha256"], fingerprint.as_str());
}

/// The event rows of `event_type` the tenant's modules published (the
/// outbox is filled when the module's transaction commits; the relay may
/// take a moment, so this waits for up to ten seconds).
async fn published(s: &TestServer, tenant: &str, event_type: &str, want: usize) -> Vec<Value> {
    for _ in 0..100 {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT payload FROM event_outbox WHERE tenant_id = $1 AND event_type = $2 ORDER BY id")
                .bind(tenant)
                .bind(event_type)
                .fetch_all(s.app.db.pool())
                .await
                .unwrap();
        if rows.len() >= want {
            return rows.iter().map(|(p,)| serde_json::from_str(p).unwrap()).collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("fewer than {want} {event_type} events for {tenant}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signing_and_pases_publish_their_events_for_other_modules() {
    let m = muni().await;
    let id = m.awaiting_number("Con evento").await;
    let signed = m.intendente.ok(Method::POST, &format!("/documents/{id}/sign"), Some(json!({})), 200).await;
    let events = published(&m.s, "muni", "gdi.document-signed", 1).await;
    assert_eq!(events.len(), 1, "one event for the last signature, none for the first: {events:?}");
    assert_eq!(events[0]["document_id"], id);
    assert_eq!(events[0]["number"], signed["number"]);
    assert_eq!(events[0]["pdf_sha256"], signed["pdf_sha256"]);
    let exp = json!({ "sector_code": "SECGOB", "subject": "Con pase", "procedure_type": "Nota",
        "initiator": { "kind": "citizen", "name": "Luis Gómez" } });
    let exp = m.writer.ok(Method::POST, "/expedientes", Some(exp), 201).await;
    let eid = exp["id"].as_i64().unwrap();
    let moved = m
        .writer
        .ok(
            Method::POST,
            &format!("/expedientes/{eid}/moves"),
            Some(json!({ "to_sector": "HAC", "note": "Intervenga" })),
            201,
        )
        .await;
    let events = published(&m.s, "muni", "gdi.expediente-moved", 1).await;
    assert_eq!(events[0]["expediente_id"], eid);
    assert_eq!(events[0]["move_id"], moved["id"]);
    assert_eq!((events[0]["from_sector"].as_str(), events[0]["to_sector"].as_str()), (Some("SECGOB"), Some("HAC")));
    // A failed signature publishes nothing.
    let resp =
        m.s.req(Method::PUT, "/api/v1/tenants/muni/quotas").json(&json!({ "storage_bytes": 1 })).send().await.unwrap();
    assert!(resp.status().is_success());
    let other = m.awaiting_number("Sin evento").await;
    let (status, _) = m.intendente.send(Method::POST, &format!("/documents/{other}/sign"), Some(json!({}))).await;
    assert_eq!(status, 429);
    assert_eq!(published(&m.s, "muni", "gdi.document-signed", 1).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_municipality_numbers_and_signs_with_its_own_sequence_and_certificate() {
    let m = muni().await;
    let id = m.awaiting_number("De muni").await;
    m.intendente.ok(Method::POST, &format!("/documents/{id}/sign"), Some(json!({})), 200).await;
    let key = m.s.api_key("villa", &["admin", "gdi-admin", "gdi-writer", "gdi-signer"]).await;
    let villa =
        Caller { base: format!("{}/t/villa/gdi", m.s.base), auth: Auth::ApiKey(key), client: m.s.client.clone() };
    villa.ok(Method::POST, "/sectors", Some(json!({ "code": "INTEN", "name": "Intendencia" })), 201).await;
    villa
        .ok(
            Method::POST,
            "/document-types",
            Some(json!({ "code": "DECRE", "name": "Decreto", "numbering_positions": ["Intendente"] })),
            201,
        )
        .await;
    let me = villa.ok(Method::GET, "/me", None, 200).await["user_id"].as_str().unwrap().to_owned();
    let body =
        json!({ "full_name": "Intendenta de Villa", "position": "Intendente", "can_sign": true, "can_number": true });
    villa.ok(Method::PUT, &format!("/members/{me}/sectors/INTEN"), Some(body), 200).await;
    let doc = json!({ "type_code": "DECRE", "sector_code": "INTEN", "subject": "De villa", "signers": [{ "user_id": me, "sector_code": "INTEN" }] });
    let vid = villa.ok(Method::POST, "/documents", Some(doc), 201).await["id"].as_i64().unwrap();
    villa.ok(Method::POST, &format!("/documents/{vid}/submit"), Some(json!({})), 200).await;
    let signed = villa.ok(Method::POST, &format!("/documents/{vid}/sign"), Some(json!({})), 200).await;
    assert_eq!(signed["number"], format!("DECRE-{}-00000001-MUNI-INTEN", chrono::Datelike::year(&chrono::Utc::now())));
    let report = pdfsig(&pdf_bytes(&villa, &format!("/documents/{vid}/pdf")).await);
    assert!(report.contains("Signature is Valid"), "{report}");
    assert!(report.contains("villa gdi gdi - self-signed TEST certificate"), "{report}");
    let muni_certs: Value =
        m.s.req(Method::GET, "/t/muni/modules/gdi/certificates").send().await.unwrap().json().await.unwrap();
    let villa_certs: Value =
        m.s.req(Method::GET, "/t/villa/modules/gdi/certificates").send().await.unwrap().json().await.unwrap();
    assert_ne!(muni_certs[0]["sha256"], villa_certs[0]["sha256"]);
    // muni's next number is unaffected by villa's.
    let next = m.awaiting_number("Otra de muni").await;
    let signed = m.intendente.ok(Method::POST, &format!("/documents/{next}/sign"), Some(json!({})), 200).await;
    assert!(signed["number"].as_str().unwrap().contains("-00000002-SMA-"), "{signed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_certificate_installed_by_another_process_signs_within_seconds() {
    // This process signs with the self-signed certificate it made and
    // cached; another process (another replica, the CLI) installs the real
    // one. The change feed must make this one drop its cached certificate.
    let m = muni().await;
    let first = m.awaiting_number("Antes").await;
    m.intendente.ok(Method::POST, &format!("/documents/{first}/sign"), Some(json!({})), 200).await;
    let (cert, key) = openssl_certificate("/CN=Municipio Real/O=SMA");
    let (certified, pkcs8) = plaza::capabilities::crypto::x509::Certified::from_pem(&cert, &key).unwrap();
    let actor = plaza::audit::Actor::new("another process");
    plaza::capabilities::crypto::certificates::install(&m.s.app.db, &actor, "muni", "gdi", "gdi", &certified, &pkcs8)
        .await
        .unwrap();
    // The CMS in /Contents is hex; the certificate's subject is in it.
    let wanted: String = "Municipio Real".bytes().map(|b| format!("{b:02X}")).collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let pdf = loop {
        let id = m.awaiting_number("Después").await;
        m.intendente.ok(Method::POST, &format!("/documents/{id}/sign"), Some(json!({})), 200).await;
        let pdf = pdf_bytes(&m.writer, &format!("/documents/{id}/pdf")).await;
        if String::from_utf8_lossy(&pdf).contains(&wanted) {
            break pdf;
        }
        assert!(std::time::Instant::now() < deadline, "the installed certificate was not used within 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let report = pdfsig(&pdf);
    assert!(report.contains("Signer Certificate Common Name: Municipio Real"), "{report}");
    assert!(report.contains("Signature is Valid"), "{report}");
}
