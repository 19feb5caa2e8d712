//! `erp` and `einvoicing` together over HTTP against a real host with its
//! workers (SQLite in pass 1 of `cargo xtask test`, PostgreSQL in pass 3),
//! and the tax-authority mock of plaza-testing on loopback: a sale
//! confirmed at the counter becomes an authorized, signed factura with no
//! other call (the events relay delivers `erp.sale-confirmed`); a tenant
//! with `erp` but without `einvoicing` gets nothing, and so does a tenant
//! whose `einvoicing` has no country yet. Every state and answer is covered
//! by `testing/tests/einvoicing.rs`; this suite checks the real chain of
//! processes: HTTP, outbox, relay, module, SRI.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, modules_dir};
use plaza_testing::tax_mock::{self, TaxMock};
use reqwest::Method;
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/einvoicing/tests/fixtures");
    std::fs::read_to_string(dir.join(name)).unwrap()
}

async fn call(s: &TestServer, key: &str, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = s.client.request(method, s.url(path)).header("x-api-key", key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[track_caller]
fn ok((status, body): (u16, Value), expected: u16) -> Value {
    assert_eq!(status, expected, "{body}");
    body
}

/// A shop with erp ready to sell one product from series 001-001.
async fn erp_shop(s: &TestServer, tenant: &str, modules: &[&str]) -> String {
    s.tenant_with(tenant, modules).await;
    let admin = s.api_key(tenant, &["admin"]).await;
    let erp = format!("/t/{tenant}/erp");
    let company = json!({ "name": "Tienda Don Pepe", "tax_id": "1790011674001", "address": "Quito" });
    ok(
        call(
            s,
            &admin,
            Method::PUT,
            &format!("/t/{tenant}/modules/erp/config/company"),
            Some(json!({ "value": company })),
        )
        .await,
        204,
    );
    let warehouse = ok(
        call(s, &admin, Method::POST, &format!("{erp}/warehouses"), Some(json!({ "code": "M", "name": "Bodega" })))
            .await,
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let series = json!({ "establishment": "001", "point": "001", "name": "Caja" });
    ok(call(s, &admin, Method::POST, &format!("{erp}/series"), Some(series)).await, 201);
    let product = json!({ "sku": "ARZ", "name": "Arroz 2 kg", "price": "2.50", "tax_code": "iva15" });
    let id =
        ok(call(s, &admin, Method::POST, &format!("{erp}/products"), Some(product)).await, 201)["id"].as_i64().unwrap();
    let adjustment = json!({ "product_id": id, "warehouse_id": warehouse, "quantity": "50", "reason": "conteo" });
    ok(call(s, &admin, Method::POST, &format!("{erp}/stock/adjustments"), Some(adjustment)).await, 201);
    admin
}

/// Confirms a sale of two units at the counter, paid in cash; its id.
async fn sell(s: &TestServer, tenant: &str, admin: &str) -> i64 {
    let erp = format!("/t/{tenant}/erp");
    let products = ok(call(s, admin, Method::GET, &format!("{erp}/products"), None).await, 200);
    let product = products["items"][0]["id"].as_i64().unwrap();
    let sale = json!({ "lines": [{ "product_id": product, "quantity": "2" }], "confirm": true });
    let sale = ok(call(s, admin, Method::POST, &format!("{erp}/sales"), Some(sale)).await, 201);
    sale["id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_confirmed_in_erp_becomes_an_authorized_invoice_with_no_other_call() {
    let mock = TaxMock::start().await.unwrap();
    let s = TestServer::start_with(|c| {
        c.modules_dir = modules_dir().display().to_string();
        c.module_allow_private_hosts = true;
    })
    .await;
    let admin = erp_shop(&s, "shop", &["erp", "einvoicing"]).await;
    let settings = |key: &str| format!("/t/shop/modules/einvoicing/config/{key}");
    ok(call(&s, &admin, Method::PUT, &settings("country"), Some(json!({ "value": "EC" }))).await, 204);
    let ecuador = json!({
        "ruc": "1790011674001", "razon_social": "Tienda Don Pepe S.A.", "dir_matriz": "Quito",
        "establecimiento": "001", "punto_emision": "900", "ambiente": 1, "obligado_contabilidad": false,
        "sri_url": mock.url(),
    });
    ok(call(&s, &admin, Method::PUT, &settings("ecuador"), Some(json!({ "value": ecuador }))).await, 204);
    let cert = fixture("test-rsa.cert.pem");
    let upload = json!({ "certificate_pem": cert, "private_key_pem": fixture("test-rsa.key.pem") });
    ok(call(&s, &admin, Method::PUT, "/t/shop/modules/einvoicing/certificates/firma", Some(upload)).await, 200);
    // Neighbours: erp without einvoicing, and einvoicing without a country.
    let solo = erp_shop(&s, "solo-erp", &["erp"]).await;
    let unset = erp_shop(&s, "sin-pais", &["erp", "einvoicing"]).await;

    let sale = sell(&s, "shop", &admin).await;
    let started = Instant::now();
    let doc = loop {
        let (status, page) =
            call(&s, &admin, Method::GET, &format!("/t/shop/einvoicing/documents?sale_id={sale}"), None).await;
        assert_eq!(status, 200, "{page}");
        if let Some(doc) = page["items"].as_array().and_then(|i| i.first()).filter(|d| d["state"] == "authorized") {
            break doc.clone();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "not authorized in a minute: {page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(doc["kind"], "invoice");
    assert_eq!(doc["total_cents"], 575, "2 × 2.50 + 15 % IVA");
    let received = mock.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].access_key, doc["access_key"].as_str().unwrap());
    let signed = s
        .client
        .get(s.url(&format!("/t/shop/einvoicing/documents/{}/signed-xml", doc["id"])))
        .header("x-api-key", &admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(tax_mock::xmlsec1_verifies(&signed, &cert).unwrap(), "xmlsec1 accepts what the SRI received");
    assert!(signed.contains("<factura id=\"comprobante\"") && signed.contains("<importeTotal>5.75</importeTotal>"));

    // The neighbours' sales: no document, nothing sent.
    sell(&s, "solo-erp", &solo).await;
    sell(&s, "sin-pais", &unset).await;
    // Wait until sin-pais's einvoicing has had the event (and did nothing with it).
    let started = Instant::now();
    loop {
        let path = "/t/sin-pais/events?module=einvoicing&status=delivered";
        let delivered = ok(call(&s, &unset, Method::GET, path, None).await, 200);
        if delivered.as_array().is_some_and(|d| !d.is_empty()) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the event never reached sin-pais's einvoicing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let to_solo = ok(call(&s, &solo, Method::GET, "/t/solo-erp/events?module=einvoicing", None).await, 200);
    assert_eq!(to_solo, json!([]), "no delivery to a module the tenant does not have");
    assert_eq!(call(&s, &solo, Method::GET, "/t/solo-erp/einvoicing/documents", None).await.0, 404);
    let (status, page) = call(&s, &unset, Method::GET, "/t/sin-pais/einvoicing/documents", None).await;
    assert_eq!((status, page["total"].as_i64()), (200, Some(0)), "{page}");
    assert_eq!(mock.received().len(), 1, "only the shop's invoice reached the SRI");
    s.stop().await;
}
