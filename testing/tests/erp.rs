//! The bundled `erp` module through plaza-testing (SQLite in pass 1 of
//! `cargo xtask test`, PostgreSQL in pass 3): the catalogue with custom
//! fields, customers and suppliers with tax ids checked by country, stock
//! movements, sales through every state (legal and illegal), their
//! arithmetic against hand-computed totals, racing sales of the last units
//! and racing confirmations in one series, purchases at cost, expenses with
//! receipts, imports of 50,000 rows, reports, roles, and a second company
//! that sees none of it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeSet;
use std::sync::Arc;

use plaza_testing::{Client, Running, TestHost, TestResponse};
use serde_json::{Value, json};

fn erp_wasm() -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/modules/erp.wasm");
    assert!(path.exists(), "run `cargo xtask plugins` first (cargo xtask test does)");
    path
}

/// The body as JSON, after checking the status (the body is in the message).
#[track_caller]
fn expect(resp: &TestResponse, status: u16) -> Value {
    assert_eq!(resp.status, status, "{}", resp.text());
    if resp.body.is_empty() || !resp.header("content-type").is_some_and(|t| t.contains("json")) {
        Value::Null
    } else {
        resp.json()
    }
}

/// A 409 problem naming the state the action was refused in.
#[track_caller]
fn refused_in(resp: &TestResponse, state: &str) {
    let doc = expect(resp, 409);
    assert_eq!(doc["state"], state, "{doc}");
    assert_eq!(resp.problem_type().as_deref(), Some("urn:plaza:problem:erp:invalid-state"));
}

/// A 422 whose errors name `field`; the problem.
#[track_caller]
fn invalid_field(resp: &TestResponse, field: &str) -> Value {
    let doc = expect(resp, 422);
    let fields: Vec<&str> = doc["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&field), "{field} not in {doc}");
    doc
}

/// An Ecuadorian shop: a warehouse, a series 001-001, three products (IVA
/// 15 %, 0 % and 5 %) with 100 units each, and callers of every role.
struct Shop {
    host: Running,
    seller: Client,
    stock: Client,
    accountant: Client,
    reader: Client,
    warehouse: i64,
    /// iva15 at 10.00, iva0 at 2.50, iva5 at 4.10, iva15 at 1.99 (sold by kg), iva15 at 0.30.
    products: Vec<i64>,
}

async fn shop() -> Shop {
    let host = TestHost::new()
        .module(erp_wasm())
        .tenant("tienda")
        .user(["admin"])
        .config("country", json!("EC"))
        .config("timezone", json!("America/Guayaquil"))
        .config("company", json!({ "name": "Tienda Don Pepe", "tax_id": "1790011674001", "address": "Quito" }))
        .config(
            "product_fields",
            json!([{ "name": "brand", "type": "text" }, { "name": "origin", "type": "choice", "options": ["EC", "CO"] }]),
        )
        .start()
        .await
        .expect("the host starts with erp");
    let warehouse =
        expect(&host.post_json("/warehouses", &json!({ "code": "MAIN", "name": "Bodega" })).await, 201)["id"]
            .as_i64()
            .unwrap();
    expect(&host.post_json("/series", &json!({ "establishment": "001", "point": "001", "name": "Caja 1" })).await, 201);
    let mut products = Vec::new();
    for (sku, name, price, tax, unit) in [
        ("ARROZ", "Arroz 1 kg", "10.00", "iva15", "unit"),
        ("PAN", "Pan", "2.50", "iva0", "unit"),
        ("LIBRO", "Libro", "4.10", "iva5", "unit"),
        ("QUESO", "Queso", "1.99", "iva15", "kg"),
        ("CHICLE", "Chicle", "0.30", "iva15", "unit"),
    ] {
        let p = json!({ "sku": sku, "name": name, "price": price, "tax_code": tax, "unit": unit, "cost": "1.00" });
        let id = expect(&host.post_json("/products", &p).await, 201)["id"].as_i64().unwrap();
        let adj =
            json!({ "product_id": id, "warehouse_id": warehouse, "quantity": "100", "reason": "inventario inicial" });
        expect(&host.post_json("/stock/adjustments", &adj).await, 201);
        products.push(id);
    }
    let seller = host.as_user(&["erp-seller"]).await.unwrap();
    let stock = host.as_user(&["erp-stock"]).await.unwrap();
    let accountant = host.as_user(&["erp-accountant"]).await.unwrap();
    let reader = host.as_user(&["erp-reader"]).await.unwrap();
    Shop { host, seller, stock, accountant, reader, warehouse, products }
}

impl Shop {
    fn line(&self, i: usize, quantity: &str) -> Value {
        json!({ "product_id": self.products[i], "quantity": quantity })
    }

    async fn stock_of(&self, i: usize) -> String {
        expect(&self.reader.get(&format!("/products/{}", self.products[i])).await, 200)["stock"]
            .as_str()
            .unwrap()
            .into()
    }

    /// A confirmed (numbered) sale of `lines`.
    async fn confirmed(&self, lines: Value) -> Value {
        expect(&self.seller.post_json("/sales", &json!({ "lines": lines, "confirm": true })).await, 201)
    }

    /// The payloads of the tenant's events of `event_type`, oldest first
    /// (the outbox row exists once the module's transaction committed).
    async fn events(&self, event_type: &str) -> Vec<Value> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT payload FROM event_outbox WHERE tenant_id = $1 AND event_type = $2 ORDER BY id")
                .bind("tienda")
                .bind(event_type)
                .fetch_all(self.host.app().db.pool())
                .await
                .unwrap();
        rows.iter().map(|(p,)| serde_json::from_str(p).unwrap()).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_catalogue_with_categories_custom_fields_and_warehouses() {
    let s = shop().await;
    let h = &s.host;
    let rates = expect(&s.reader.get("/tax-rates").await, 200);
    assert_eq!(rates["currency"], "USD");
    assert_eq!(rates["sri_tax_code"], "2");
    let codes: Vec<&str> = rates["rates"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["iva15", "iva5", "iva0", "no-objeto", "exento"]);

    // A tree of categories; a cycle is refused.
    let food = expect(&h.post_json("/categories", &json!({ "code": "FOOD", "name": "Alimentos" })).await, 201);
    let dairy = expect(
        &h.post_json("/categories", &json!({ "code": "DAIRY", "name": "Lácteos", "parent_id": food["id"] })).await,
        201,
    );
    invalid_field(
        &h.put_json(&format!("/categories/{}", food["id"]), &json!({ "parent_id": dairy["id"] })).await,
        "parent_id",
    );
    expect(&h.post_json("/categories", &json!({ "code": "FOOD", "name": "Otra" })).await, 409);
    assert_eq!(expect(&s.reader.get("/categories").await, 200).as_array().unwrap().len(), 2);
    let moved =
        expect(&h.put_json(&format!("/categories/{}", dairy["id"]), &json!({ "name": "Lácteos y huevos" })).await, 200);
    assert_eq!(expect(&s.reader.get(&format!("/categories/{}", dairy["id"])).await, 200), moved);
    assert_eq!(moved["parent_id"], food["id"], "a change that does not name the parent keeps it");
    expect(&s.reader.get("/categories/999").await, 404);

    // Custom fields are checked on write, field by field.
    let milk = json!({ "sku": "LECHE-1", "barcode": "7861001234567", "name": "Leche entera", "price": 0.95,
        "tax_code": "iva0", "category_id": dairy["id"], "low_stock_threshold": "12",
        "custom": { "brand": "Vita", "origin": "EC" } });
    let milk = expect(&h.post_json("/products", &milk).await, 201);
    assert_eq!(milk["price"], "0.95");
    assert_eq!(milk["custom"]["brand"], "Vita");
    assert_eq!(milk["stock"], "0");
    let bad = json!({ "sku": "X", "name": "X", "price": "1", "tax_code": "iva0", "custom": { "origin": "PE", "colour": "red" } });
    let doc = invalid_field(&h.post_json("/products", &bad).await, "custom.origin");
    assert!(doc["errors"].to_string().contains("custom.colour"), "{doc}");
    invalid_field(
        &h.post_json("/products", &json!({ "sku": "Y", "name": "Y", "price": "1", "tax_code": "iva21" })).await,
        "tax_code",
    );
    invalid_field(
        &h.post_json("/products", &json!({ "sku": "Y", "name": "Y", "price": "-1", "tax_code": "iva0" })).await,
        "price",
    );
    expect(
        &h.post_json("/products", &json!({ "sku": "LECHE-1", "name": "Otra", "price": "1", "tax_code": "iva0" })).await,
        409,
    );
    let twin =
        json!({ "sku": "LECHE-2", "barcode": "7861001234567", "name": "Otra", "price": "1", "tax_code": "IVA0" });
    assert_eq!(expect(&h.post_json("/products", &twin).await, 409)["field"], "barcode");
    let typed = json!({ "sku": "LECHE-3", "name": "Otra", "price": "1", "tax_code": "IVA0" });
    assert_eq!(expect(&h.post_json("/products", &typed).await, 201)["tax_code"], "iva0");

    // Listing: by category (with subcategories), by words, low stock.
    invalid_field(&s.reader.get("/stock?product_id=abc").await, "product_id");
    let in_food = expect(&s.reader.get(&format!("/products?category={}", food["id"])).await, 200);
    assert_eq!(in_food["total"], 1);
    assert_eq!(expect(&s.reader.get("/products?q=lech").await, 200)["items"][0]["sku"], "LECHE-1");
    assert_eq!(expect(&s.reader.get("/products?q=queso").await, 200)["total"], 1);
    let low = expect(&s.reader.get("/products?low_stock=true").await, 200);
    assert_eq!(low["total"], 1, "only the milk is under its threshold: {low}");

    // Updates keep what they do not name; a stale version is refused.
    let id = milk["id"].as_i64().unwrap();
    let changed = expect(&h.put_json(&format!("/products/{id}"), &json!({ "price": "1.05", "version": 1 })).await, 200);
    assert_eq!(
        (changed["price"].as_str(), changed["name"].as_str(), changed["version"].as_i64()),
        (Some("1.05"), Some("Leche entera"), Some(2))
    );
    expect(&h.put_json(&format!("/products/{id}"), &json!({ "price": "1.10", "version": 1 })).await, 409);

    // Warehouses.
    let second = expect(&h.post_json("/warehouses", &json!({ "code": "NORTE", "name": "Bodega norte" })).await, 201);
    expect(&h.post_json("/warehouses", &json!({ "code": "NORTE", "name": "Otra" })).await, 409);
    let off = expect(&h.put_json(&format!("/warehouses/{}", second["id"]), &json!({ "active": false })).await, 200);
    assert_eq!(off["active"], false);
    assert_eq!(expect(&s.reader.get("/warehouses").await, 200).as_array().unwrap().len(), 2);

    // Roles: a seller does not manage the catalogue; a reader does not sell.
    expect(
        &s.seller.post_json("/products", &json!({ "sku": "Z", "name": "Z", "price": "1", "tax_code": "iva0" })).await,
        403,
    );
    expect(&s.reader.post_json("/sales", &json!({ "lines": [s.line(0, "1")] })).await, 403);
    expect(&h.anonymous().get("/products").await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn customers_and_suppliers_have_their_tax_ids_checked() {
    let s = shop().await;
    // Published examples (python-stdnum's test suite): a cédula, a
    // company's RUC; the final consumer.
    let c = expect(
        &s.seller
            .post_json(
                "/customers",
                &json!({ "tax_id": "1714307103", "name": "María Pérez",
        "email": "maria@example.ec" }),
            )
            .await,
        201,
    );
    assert_eq!((c["tax_id_kind"].as_str(), c["sri_id_type"].as_str()), (Some("cedula"), Some("05")));
    let co = expect(
        &s.seller.post_json("/customers", &json!({ "tax_id": "1792060346-001", "name": "Comercial SA" })).await,
        201,
    );
    assert_eq!((co["tax_id"].as_str(), co["tax_id_kind"].as_str()), (Some("1792060346001"), Some("ruc-private")));
    // The check digit is wrong: 422 naming the field and the rule.
    let doc = invalid_field(
        &s.seller.post_json("/customers", &json!({ "tax_id": "1714307104", "name": "X" })).await,
        "tax_id",
    );
    assert!(doc["detail"].as_str().unwrap().contains("ec-cedula-check-digit"), "{doc}");
    // A company RUC SRI issued that fails the modulo-11 check: accepted
    // only once a person confirmed it in SRI's registry.
    invalid_field(
        &s.seller.post_json("/customers", &json!({ "tax_id": "1793213150001", "name": "Y" })).await,
        "tax_id",
    );
    expect(
        &s.seller
            .post_json("/customers", &json!({ "tax_id": "1793213150001", "name": "Y", "tax_id_confirmed": true }))
            .await,
        201,
    );
    // A passport is taken as given when it says so.
    let p = json!({ "tax_id": "AB123456", "tax_id_kind": "passport", "name": "John Doe" });
    assert_eq!(expect(&s.seller.post_json("/customers", &p).await, 201)["sri_id_type"], "06");
    // Duplicates are conflicts; the same id may be a supplier too.
    expect(&s.seller.post_json("/customers", &json!({ "tax_id": "1714307103", "name": "Otra" })).await, 409);
    let sup =
        expect(&s.stock.post_json("/suppliers", &json!({ "tax_id": "1714307103", "name": "María Pérez" })).await, 201);
    assert_eq!(expect(&s.reader.get("/suppliers").await, 200)["total"], 1);
    assert_eq!(expect(&s.reader.get("/customers?q=maria").await, 200)["total"], 1);
    let changed =
        expect(&s.seller.put_json(&format!("/customers/{}", c["id"]), &json!({ "phone": "0999999999" })).await, 200);
    assert_eq!((changed["phone"].as_str(), changed["email"].as_str()), (Some("0999999999"), Some("maria@example.ec")));
    expect(&s.reader.get(&format!("/suppliers/{}", c["id"])).await, 404);
    expect(&s.reader.get(&format!("/suppliers/{}", sup["id"])).await, 200);
    let sup = expect(
        &s.stock
            .put_json(&format!("/suppliers/{}", sup["id"]), &json!({ "name": "María Pérez e hijos", "active": false }))
            .await,
        200,
    );
    assert_eq!(
        (sup["name"].as_str(), sup["active"].as_bool(), sup["tax_id"].as_str()),
        (Some("María Pérez e hijos"), Some(false), Some("1714307103"))
    );
    assert_eq!(expect(&s.reader.get(&format!("/customers/{}", c["id"])).await, 200)["phone"], "0999999999");
    // An accountant does not write customers.
    expect(&s.accountant.post_json("/customers", &json!({ "tax_id": "0926687856", "name": "Z" })).await, 403);

    // A Spanish company: NIF, NIE and CIF; an Ecuadorian cédula is not valid there.
    let es = s.host.other_tenant("tienda-es", &["admin"]).await.unwrap();
    let app = s.host.app();
    plaza::modules::settings::set(&app.db, "tienda-es", "erp", "country", "\"ES\"", false).await.unwrap();
    assert_eq!(expect(&es.get("/tax-rates").await, 200)["currency"], "EUR");
    for (id, kind) in [("12345678Z", "nif"), ("X1234567L", "nie"), ("B12345674", "cif")] {
        let party = expect(&es.post_json("/customers", &json!({ "tax_id": id, "name": id })).await, 201);
        assert_eq!(party["tax_id_kind"], kind);
    }
    let doc =
        invalid_field(&es.post_json("/customers", &json!({ "tax_id": "12345678A", "name": "X" })).await, "tax_id");
    assert!(doc["detail"].as_str().unwrap().contains("es-nif-letter"), "{doc}");
    invalid_field(&es.post_json("/customers", &json!({ "tax_id": "1714307103", "name": "X" })).await, "tax_id");
    // The Spanish company sees none of the Ecuadorian shop's customers.
    let theirs = expect(&es.get("/customers?per_page=100").await, 200);
    assert_eq!(theirs["total"], 3);
    assert!(!theirs.to_string().contains("1792060346001"), "{theirs}");
    // Ids are per company: the same number there is another customer, or none.
    let same_id = es.get(&format!("/customers/{}", co["id"])).await;
    assert!(same_id.status == 404 || expect(&same_id, 200)["tax_id"] != co["tax_id"], "{}", same_id.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sale_goes_from_draft_to_paid_and_refuses_what_its_state_does_not_allow() {
    let s = shop().await;
    let customer =
        expect(&s.seller.post_json("/customers", &json!({ "tax_id": "1714307103", "name": "María" })).await, 201);
    let draft = json!({ "customer_id": customer["id"], "lines": [s.line(0, "2"), s.line(1, "1")], "notes": "mesa 4" });
    let sale = expect(&s.seller.post_json("/sales", &draft).await, 201);
    let id = sale["id"].as_i64().unwrap();
    assert_eq!((sale["state"].as_str(), sale["number"].as_str()), (Some("draft"), None));
    assert_eq!(sale["total"], "25.50"); // 20.00 + 3.00 IVA + 2.50
    assert_eq!(s.stock_of(0).await, "100", "a draft takes no stock");

    // Drafts change; illegal actions on a draft are refused naming it.
    let edited = expect(
        &s.seller.put_json(&format!("/sales/{id}"), &json!({ "lines": [s.line(0, "3")], "version": 1 })).await,
        200,
    );
    assert_eq!((edited["total"].as_str(), edited["customer"]["name"].as_str()), (Some("34.50"), Some("María")));
    expect(&s.seller.put_json(&format!("/sales/{id}"), &json!({ "notes": "x", "version": 1 })).await, 409);
    refused_in(
        &s.seller.post_json(&format!("/sales/{id}/payments"), &json!({ "method": "cash", "tendered": "50" })).await,
        "draft",
    );

    // Confirm: numbered, stock taken, the event carries the whole document.
    let confirmed = expect(&s.seller.post_json(&format!("/sales/{id}/confirm"), &json!({})).await, 200);
    assert_eq!(confirmed["state"], "confirmed");
    assert_eq!(confirmed["number"], "001-001-000000001");
    assert!(confirmed["issue_date"].as_str().unwrap().len() == 10);
    assert_eq!(s.stock_of(0).await, "97");
    refused_in(&s.seller.post_json(&format!("/sales/{id}/confirm"), &json!({})).await, "confirmed");
    refused_in(&s.seller.put_json(&format!("/sales/{id}"), &json!({ "notes": "x" })).await, "confirmed");
    let events = s.events("erp.sale-confirmed").await;
    assert_eq!(events.len(), 1, "one event, published with the confirmation");
    {
        let event = &events[0];
        assert_eq!(event["number"], "001-001-000000001");
        assert_eq!(event["customer"]["tax_id"], "1714307103");
        assert_eq!(event["seller"]["company"]["tax_id"], "1790011674001");
        assert_eq!(event["taxes"][0]["sri_code"], "4");
        assert_eq!(event["lines"][0]["sku"], "ARROZ");
    }

    // Payments: a card payment for part, cash for the rest with change.
    invalid_field(
        &s.seller.post_json(&format!("/sales/{id}/payments"), &json!({ "method": "card", "amount": "40" })).await,
        "amount",
    );
    invalid_field(
        &s.seller.post_json(&format!("/sales/{id}/payments"), &json!({ "method": "cheque", "amount": "1" })).await,
        "method",
    );
    let part = expect(
        &s.seller
            .post_json(
                &format!("/sales/{id}/payments"),
                &json!({ "method": "card", "amount": "10.00", "reference": "AUTH-1" }),
            )
            .await,
        201,
    );
    assert_eq!((part["state"].as_str(), part["due"].as_str()), (Some("confirmed"), Some("24.50")));
    let paid = expect(
        &s.seller.post_json(&format!("/sales/{id}/payments"), &json!({ "method": "cash", "tendered": "30" })).await,
        201,
    );
    assert_eq!(
        (paid["state"].as_str(), paid["due"].as_str(), paid["paid"].as_str()),
        (Some("paid"), Some("0.00"), Some("34.50"))
    );
    assert_eq!(
        (paid["payments"][1]["amount"].as_str(), paid["payments"][1]["change"].as_str()),
        (Some("24.50"), Some("5.50"))
    );
    for action in ["confirm", "cancel"] {
        refused_in(&s.seller.post_json(&format!("/sales/{id}/{action}"), &json!({})).await, "paid");
    }
    refused_in(
        &s.seller.post_json(&format!("/sales/{id}/payments"), &json!({ "method": "cash", "tendered": "1" })).await,
        "paid",
    );
    refused_in(&s.seller.put_json(&format!("/sales/{id}"), &json!({ "notes": "x" })).await, "paid");

    // The ticket.
    let ticket = s.reader.get(&format!("/sales/{id}/receipt")).await;
    assert_eq!(ticket.status, 200);
    let text = ticket.text();
    for needle in ["Tienda Don Pepe", "001-001-000000001", "TOTAL USD", "34.50", "change", "5.50"] {
        assert!(text.contains(needle), "{needle} not in\n{text}");
    }

    // A counter ticket: confirmed and paid in one call; its event carries the payment.
    let ticket =
        json!({ "lines": [s.line(1, "2")], "confirm": true, "payments": [{ "method": "cash", "tendered": "10" }] });
    let ticket = expect(&s.seller.post_json("/sales", &ticket).await, 201);
    assert_eq!((ticket["state"].as_str(), ticket["payments"][0]["change"].as_str()), (Some("paid"), Some("5.00")));
    let events = s.events("erp.sale-confirmed").await;
    assert_eq!(events.len(), 2);
    assert_eq!(
        (events[1]["number"].as_str(), events[1]["payments"][0]["amount"].as_str()),
        (Some("001-001-000000002"), Some("5.00"))
    );
    invalid_field(
        &s.seller
            .post_json(
                "/sales",
                &json!({ "lines": [s.line(1, "1")], "payments": [{ "method": "cash", "tendered": "5" }] }),
            )
            .await,
        "payments",
    );
    // Nothing to pay (a gift): paid at confirmation.
    let gift = json!({ "lines": [{ "product_id": s.products[1], "quantity": "1", "discount_percent": "100" }], "confirm": true });
    assert_eq!(expect(&s.seller.post_json("/sales", &gift).await, 201)["state"], "paid");

    // Listing and filters.
    assert_eq!(expect(&s.reader.get("/sales?state=paid").await, 200)["total"], 3);
    assert_eq!(expect(&s.reader.get("/sales?number=001-001-000000001").await, 200)["items"][0]["id"], id);
    invalid_field(&s.reader.get("/sales?state=open").await, "state");
    invalid_field(&s.reader.get("/sales?from=ayer").await, "from");
    expect(&s.reader.get("/sales/999999").await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelling_returns_the_stock_and_keeps_the_number() {
    let s = shop().await;
    let sale = s.confirmed(json!([s.line(0, "5"), s.line(3, "0.750")])).await;
    let id = sale["id"].as_i64().unwrap();
    assert_eq!((s.stock_of(0).await.as_str(), s.stock_of(3).await.as_str()), ("95", "99.25"));
    let cancelled = expect(&s.seller.post_json(&format!("/sales/{id}/cancel"), &json!({})).await, 200);
    assert_eq!(
        (cancelled["state"].as_str(), cancelled["number"].as_str()),
        (Some("cancelled"), Some("001-001-000000001"))
    );
    assert_eq!((s.stock_of(0).await.as_str(), s.stock_of(3).await.as_str()), ("100", "100"));
    let back = expect(&s.reader.get(&format!("/stock/movements?reference=sale:{id}&kind=return")).await, 200);
    assert_eq!(back["total"], 2);
    for action in ["confirm", "cancel"] {
        refused_in(&s.seller.post_json(&format!("/sales/{id}/{action}"), &json!({})).await, "cancelled");
    }
    refused_in(
        &s.seller.post_json(&format!("/sales/{id}/payments"), &json!({ "method": "cash", "tendered": "1" })).await,
        "cancelled",
    );
    // The next sale gets the next number: the cancelled one keeps its own.
    assert_eq!(s.confirmed(json!([s.line(1, "1")])).await["number"], "001-001-000000002");
    // A draft is cancelled without touching stock or numbers.
    let draft = expect(&s.seller.post_json("/sales", &json!({ "lines": [s.line(1, "1")] })).await, 201);
    expect(&s.seller.post_json(&format!("/sales/{}/cancel", draft["id"]), &json!({})).await, 200);
    assert_eq!(s.stock_of(1).await, "99");
    // A confirmed sale with a payment is not cancelled (it needs a credit note).
    let paid_part = s.confirmed(json!([s.line(1, "2")])).await;
    let pid = paid_part["id"].as_i64().unwrap();
    expect(
        &s.seller.post_json(&format!("/sales/{pid}/payments"), &json!({ "method": "card", "amount": "1" })).await,
        201,
    );
    expect(&s.seller.post_json(&format!("/sales/{pid}/cancel"), &json!({})).await, 409);
}

/// Sales whose totals were computed by hand (IVA per rate on the rate's
/// base, half-up to the cent), and the tax summary that must add them up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn totals_match_hand_computed_values_and_the_tax_summary_adds_up() {
    let s = shop().await;
    let table = [
        // ARROZ 3 × 10.00 = 30.00 (iva15); PAN 2 × 2.50 = 5.00 − 10 % = 4.50 (iva0);
        // QUESO 0.750 × 1.99 = 1.4925 → 1.49 (iva15); LIBRO 4.10 − 0.10 = 4.00 (iva5).
        // iva15 base 31.49 × 15 % = 4.7235 → 4.72; iva5 4.00 × 5 % = 0.20.
        // subtotal 40.59, discount 0.60, base 39.99, tax 4.92, total 44.91.
        (
            json!([s.line(0, "3"), { "product_id": s.products[1], "quantity": "2", "discount_percent": "10" },
                   s.line(3, "0.750"), { "product_id": s.products[2], "quantity": "1", "discount_amount": "0.10" }]),
            ["40.59", "0.60", "39.99", "4.92", "44.91"],
            vec![("iva15", "31.49", "4.72"), ("iva5", "4.00", "0.20"), ("iva0", "4.50", "0.00")],
        ),
        // ARROZ 1 × 10.00 at 100 % off = 0.00 (iva15); PAN 2.50 (iva0).
        (
            json!([{ "product_id": s.products[0], "quantity": "1", "discount_percent": "100" }, s.line(1, "1")]),
            ["12.50", "10.00", "2.50", "0.00", "2.50"],
            vec![("iva15", "0.00", "0.00"), ("iva0", "2.50", "0.00")],
        ),
        // CHICLE 0.30 × 15 % = 0.045 → 0.05 half-up (banker's rounding would give 0.04).
        (json!([s.line(4, "1")]), ["0.30", "0.00", "0.30", "0.05", "0.35"], vec![("iva15", "0.30", "0.05")]),
        // A price given on the line overrides the catalogue: 7 × 1.333333 = 9.333331 → 9.33; × 15 % = 1.3995 → 1.40.
        (
            json!([{ "product_id": s.products[0], "quantity": "7", "unit_price": "1.333333" }]),
            ["9.33", "0.00", "9.33", "1.40", "10.73"],
            vec![("iva15", "9.33", "1.40")],
        ),
    ];
    for (lines, [subtotal, discount, base, tax, total], rates) in &table {
        let sale = s.confirmed(lines.clone()).await;
        let got = [&sale["subtotal"], &sale["discount"], &sale["base"], &sale["tax"], &sale["total"]];
        assert_eq!(got.map(|v| v.as_str().unwrap()), [*subtotal, *discount, *base, *tax, *total], "{sale}");
        let taxes: Vec<(&str, &str, &str)> = sale["taxes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["tax_code"].as_str().unwrap(), t["base"].as_str().unwrap(), t["tax"].as_str().unwrap()))
            .collect();
        assert_eq!(&taxes, rates, "{sale}");
    }
    // A draft and a cancelled sale do not count in reports.
    expect(&s.seller.post_json("/sales", &json!({ "lines": [s.line(0, "1")] })).await, 201);
    let gone = s.confirmed(json!([s.line(0, "1")])).await;
    expect(&s.seller.post_json(&format!("/sales/{}/cancel", gone["id"]), &json!({})).await, 200);

    let summary = expect(&s.accountant.get("/reports/tax-summary").await, 200);
    assert_eq!(summary["sales"], 4);
    let rate =
        |code: &str| summary["rates"].as_array().unwrap().iter().find(|r| r["tax_code"] == code).cloned().unwrap();
    // iva15: 31.49 + 0.00 + 0.30 + 9.33 = 41.12 base, 4.72 + 0 + 0.05 + 1.40 = 6.17 tax.
    assert_eq!((rate("iva15")["base"].as_str(), rate("iva15")["tax"].as_str()), (Some("41.12"), Some("6.17")));
    assert_eq!((rate("iva0")["base"].as_str(), rate("iva5")["tax"].as_str()), (Some("7.00"), Some("0.20")));
    // The summary equals the sum of the period's sales, to the cent:
    // bases 39.99 + 2.50 + 0.30 + 9.33, taxes 4.92 + 0 + 0.05 + 1.40.
    assert_eq!(
        (summary["base"].as_str(), summary["tax"].as_str(), summary["total"].as_str()),
        (Some("52.12"), Some("6.37"), Some("58.49"))
    );
    let by_day = expect(&s.accountant.get("/reports/sales-by-day").await, 200);
    assert_eq!(by_day["rows"][0]["total"], "58.49");
    assert_eq!(by_day["rows"][0]["sales"], 4);
    let csv = s.accountant.get("/reports/tax-summary?format=csv").await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert!(csv.text().starts_with("tax_code,tax_percent,base,tax\niva15,15,41.12,6.17\n"), "{}", csv.text());
    let products = expect(&s.accountant.get("/reports/sales-by-product").await, 200);
    assert_eq!(products["rows"][0]["sku"], "ARROZ");
    assert_eq!(products["rows"][0]["net"], "39.33");
    let customers = expect(&s.accountant.get("/reports/sales-by-customer?format=json").await, 200);
    assert_eq!(customers["rows"][0]["tax_id"], "9999999999999");
    assert_eq!(customers["rows"][0]["total"], "58.49");
    invalid_field(&s.accountant.get("/reports/tax-summary?from=2026-02-01&to=2026-01-01").await, "to");
    expect(&s.reader.get("/reports/tax-summary").await, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_racing_sales_of_ten_units_sell_exactly_ten() {
    let s = Arc::new(shop().await);
    let scarce = expect(
        &s.host
            .post_json("/products", &json!({ "sku": "ULTIMO", "name": "Último", "price": "5", "tax_code": "iva15" }))
            .await,
        201,
    );
    let id = scarce["id"].as_i64().unwrap();
    expect(
        &s.stock
            .post_json(
                "/stock/adjustments",
                &json!({ "product_id": id, "warehouse_id": s.warehouse, "quantity": "10", "reason": "conteo" }),
            )
            .await,
        201,
    );
    let racing: Vec<_> = (0..20)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                s.seller
                    .post_json("/sales", &json!({ "lines": [{ "product_id": id, "quantity": "1" }], "confirm": true }))
                    .await
            })
        })
        .collect();
    let (mut sold, mut refused) = (0, 0);
    for handle in racing {
        let resp = handle.await.unwrap();
        match resp.status {
            201 => sold += 1,
            409 => {
                assert_eq!(resp.problem_type().as_deref(), Some("urn:plaza:problem:erp:insufficient-stock"));
                refused += 1;
            }
            other => panic!("{other}: {}", resp.text()),
        }
    }
    assert_eq!((sold, refused), (10, 10));
    let product = expect(&s.reader.get(&format!("/products/{id}")).await, 200);
    assert_eq!(product["stock"], "0");
    // The refused sales gave their numbers back: 1..10, no gap.
    let numbers: BTreeSet<String> = expect(&s.reader.get("/sales?per_page=100").await, 200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(numbers, (1..=10).map(|n| format!("001-001-{n:09}")).collect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_racing_confirmations_in_one_series_are_numbered_without_gaps() {
    let s = Arc::new(shop().await);
    let mut drafts = Vec::new();
    for _ in 0..50 {
        let d = expect(&s.seller.post_json("/sales", &json!({ "lines": [s.line(1, "1")] })).await, 201);
        drafts.push(d["id"].as_i64().unwrap());
    }
    let racing: Vec<_> = drafts
        .iter()
        .map(|id| {
            let (s, id) = (Arc::clone(&s), *id);
            tokio::spawn(async move { s.seller.post_json(&format!("/sales/{id}/confirm"), &json!({})).await })
        })
        .collect();
    let mut seqs = Vec::new();
    for handle in racing {
        let sale = expect(&handle.await.unwrap(), 200);
        seqs.push(sale["number"].as_str().unwrap().rsplit('-').next().unwrap().parse::<i64>().unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
    assert_eq!(s.stock_of(1).await, "50");
    let series = expect(&s.reader.get("/series").await, 200);
    assert_eq!(series[0]["last_value"], 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stock_moves_only_by_movements() {
    let s = shop().await;
    let north = expect(&s.host.post_json("/warehouses", &json!({ "code": "NORTE", "name": "Norte" })).await, 201)["id"]
        .as_i64()
        .unwrap();
    let t = json!({ "product_id": s.products[0], "from_warehouse_id": s.warehouse, "to_warehouse_id": north, "quantity": "30" });
    let moved = expect(&s.stock.post_json("/stock/transfers", &t).await, 201);
    assert_eq!((moved["from"]["quantity"].as_str(), moved["to"]["quantity"].as_str()), (Some("70"), Some("30")));
    let too_many = json!({ "product_id": s.products[0], "from_warehouse_id": north, "to_warehouse_id": s.warehouse, "quantity": "31" });
    let refused = s.stock.post_json("/stock/transfers", &too_many).await;
    assert_eq!(refused.status, 409);
    assert_eq!(expect(&refused, 409)["available"], "30");
    invalid_field(
        &s.stock
            .post_json(
                "/stock/adjustments",
                &json!({ "product_id": s.products[0], "warehouse_id": north, "quantity": "-1", "reason": " " }),
            )
            .await,
        "reason",
    );
    expect(
        &s.stock
            .post_json(
                "/stock/adjustments",
                &json!({ "product_id": s.products[0], "warehouse_id": north, "quantity": "-31", "reason": "rotura" }),
            )
            .await,
        409,
    );
    expect(
        &s.stock
            .post_json(
                "/stock/adjustments",
                &json!({ "product_id": s.products[0], "warehouse_id": north, "quantity": "-2", "reason": "rotura" }),
            )
            .await,
        201,
    );
    let levels = expect(&s.reader.get(&format!("/stock?product_id={}", s.products[0])).await, 200);
    let qty: Vec<&str> = levels["items"].as_array().unwrap().iter().map(|l| l["quantity"].as_str().unwrap()).collect();
    assert_eq!(qty, ["70", "28"]);
    let movements = expect(&s.reader.get(&format!("/stock/movements?product_id={}", s.products[0])).await, 200);
    let kinds: Vec<&str> = movements["items"].as_array().unwrap().iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["adjustment", "transfer-in", "transfer-out", "adjustment"]);
    expect(
        &s.seller
            .post_json(
                "/stock/adjustments",
                &json!({ "product_id": s.products[0], "warehouse_id": north, "quantity": "1", "reason": "x" }),
            )
            .await,
        403,
    );

    // The tenant may allow negative stock.
    let app = s.host.app();
    plaza::modules::settings::set(&app.db, "tienda", "erp", "allow_negative_stock", "true", false).await.unwrap();
    expect(&s.stock.post_json("/stock/adjustments", &json!({ "product_id": s.products[0], "warehouse_id": north, "quantity": "-40", "reason": "venta sin registrar" })).await, 201);
    assert_eq!(s.stock_of(0).await, "58");

    // The daily check publishes one event per product under its threshold.
    expect(
        &s.host.put_json(&format!("/products/{}", s.products[1]), &json!({ "low_stock_threshold": "500" })).await,
        200,
    );
    let run = s.host.run_job("stock-low").await.unwrap();
    assert_eq!(run.status, "succeeded", "{run:?}");
    {
        let events = s.events("erp.stock-low").await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!((events[0]["sku"].as_str(), events[0]["stock"].as_str()), (Some("PAN"), Some("100")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn purchases_come_in_at_cost_and_expenses_keep_their_receipts() {
    let s = shop().await;
    let sup = expect(
        &s.stock.post_json("/suppliers", &json!({ "tax_id": "1792060346001", "name": "Distribuidora" })).await,
        201,
    );
    // 100 on hand at 1.00; 50 more at 1.60 → (100 + 80) / 150 = 1.20.
    let order = json!({ "supplier_id": sup["id"], "supplier_document": "001-001-000045",
        "lines": [{ "product_id": s.products[0], "quantity": "50", "unit_cost": "1.60" }, { "product_id": s.products[1], "quantity": "10", "unit_cost": "0.75" }] });
    let p = expect(&s.stock.post_json("/purchases", &order).await, 201);
    let id = p["id"].as_i64().unwrap();
    // 80.00 at 15 % = 12.00; 7.50 at 0 %.
    assert_eq!(
        (p["state"].as_str(), p["base"].as_str(), p["tax"].as_str(), p["total"].as_str()),
        (Some("ordered"), Some("87.50"), Some("12.00"), Some("99.50"))
    );
    assert_eq!(s.stock_of(0).await, "100", "an order takes no stock yet");
    let received = expect(&s.stock.post_json(&format!("/purchases/{id}/receive"), &json!({})).await, 200);
    assert_eq!(received["state"], "received");
    assert_eq!(expect(&s.reader.get(&format!("/purchases/{id}")).await, 200)["lines"].as_array().unwrap().len(), 2);
    let product = expect(&s.reader.get(&format!("/products/{}", s.products[0])).await, 200);
    assert_eq!((product["stock"].as_str(), product["cost"].as_str()), (Some("150"), Some("1.20")));
    for action in ["receive", "cancel"] {
        refused_in(&s.stock.post_json(&format!("/purchases/{id}/{action}"), &json!({})).await, "received");
    }
    let other = expect(&s.stock.post_json("/purchases", &order).await, 201);
    let other_id = other["id"].as_i64().unwrap();
    expect(&s.stock.post_json(&format!("/purchases/{other_id}/cancel"), &json!({})).await, 200);
    refused_in(&s.stock.post_json(&format!("/purchases/{other_id}/receive"), &json!({})).await, "cancelled");
    invalid_field(&s.stock.post_json("/purchases", &json!({ "supplier_id": 99999, "lines": [] })).await, "supplier_id");
    assert_eq!(expect(&s.reader.get("/purchases?state=received").await, 200)["total"], 1);
    // Stock valuation: ARROZ 150 × 1.20 = 180.00; the others 100 × 1.00 except PAN 110 units.
    let valuation = expect(&s.accountant.get("/reports/stock-valuation").await, 200);
    let arroz = valuation["rows"].as_array().unwrap().iter().find(|r| r["sku"] == "ARROZ").unwrap();
    assert_eq!(arroz["value"], "180.00");

    // Expenses, with a receipt in the blob store.
    let e = json!({ "category": "rent", "description": "Arriendo diciembre", "amount": "400", "tax_code": "iva15", "expense_date": "2026-12-01" });
    let e = expect(&s.accountant.post_json("/expenses", &e).await, 201);
    assert_eq!(
        (e["tax"].as_str(), e["total"].as_str(), e["has_receipt"].as_bool()),
        (Some("60.00"), Some("460.00"), Some(false))
    );
    let eid = e["id"].as_i64().unwrap();
    let pdf = b"%PDF-1.4 receipt".to_vec();
    let with =
        expect(&s.accountant.put_bytes(&format!("/expenses/{eid}/receipt"), "application/pdf", pdf.clone()).await, 200);
    assert_eq!(with["has_receipt"], true);
    assert_eq!(expect(&s.reader.get(&format!("/expenses/{eid}")).await, 200), with);
    let back = s.reader.get(&format!("/expenses/{eid}/receipt")).await;
    assert_eq!((back.status, back.header("content-type"), &back.body), (200, Some("application/pdf"), &pdf));
    assert_eq!(
        s.accountant.put_bytes(&format!("/expenses/{eid}/receipt"), "text/html", b"<p>".to_vec()).await.status,
        415
    );
    invalid_field(
        &s.accountant
            .post_json("/expenses", &json!({ "category": "x", "description": "y", "amount": "0", "tax_code": "iva0" }))
            .await,
        "amount",
    );
    invalid_field(&s.accountant.post_json("/expenses", &json!({ "category": "x", "description": "y", "amount": "1", "tax_code": "iva0", "expense_date": "01/12/2026" })).await, "expense_date");
    assert_eq!(expect(&s.reader.get("/expenses?from=2026-12-01&to=2026-12-31").await, 200)["total"], 1);
    expect(
        &s.seller
            .post_json("/expenses", &json!({ "category": "x", "description": "y", "amount": "1", "tax_code": "iva0" }))
            .await,
        403,
    );
}

/// A CSV of `n` products, with the Spanish column names of the shop's
/// spreadsheet; every 200th row has a bad price, every 500th repeats an
/// earlier SKU, and the first one is a SKU the catalogue already has.
fn products_csv(n: usize) -> (String, usize) {
    let mut out = String::from("codigo;descripcion;pvp;iva;unidad;marca\n");
    let mut bad = 0;
    for i in 1..=n {
        let sku = if i == 1 {
            "ARROZ".to_owned()
        } else if i % 500 == 0 {
            format!("P{:06}", i - 1)
        } else {
            format!("P{i:06}")
        };
        let price = if i % 200 == 0 { "doce".to_owned() } else { format!("{},{:02}", i % 90 + 1, i % 100) };
        let tax = if i % 3 == 0 { "0" } else { "15%" };
        if i == 1 || i % 200 == 0 || i % 500 == 0 {
            bad += 1;
        }
        out.push_str(&format!("{sku};Producto número {i};{price};{tax};unit;Marca {}\n", i % 7));
    }
    (out, bad)
}

/// The CSV cut into parts under `max` bytes at line ends, each with the header.
fn parts(csv: &str, max: usize) -> Vec<String> {
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    let mut out = vec![];
    let mut part = format!("{header}\n");
    for line in lines {
        if part.len() + line.len() + 1 > max {
            out.push(std::mem::replace(&mut part, format!("{header}\n")));
        }
        part.push_str(line);
        part.push('\n');
    }
    out.push(part);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_thousand_products_are_ingested_validated_and_promoted_once() {
    let s = shop().await;
    let h = &s.host;
    let app = h.app();
    plaza::modules::settings::set(&app.db, "tienda", "erp", "import_aliases", r#"{"marca": "brand"}"#, false)
        .await
        .unwrap();
    let batch =
        expect(&h.post_json("/imports/batches", &json!({ "kind": "products", "source": "catalogo.csv" })).await, 201);
    let id = batch["id"].as_i64().unwrap();
    let (csv, bad) = products_csv(50_000);
    let parts = parts(&csv, 1_000_000);
    assert!(parts.len() >= 3, "the file goes in several parts");
    let mut own_errors = 0;
    for part in &parts {
        let done = expect(
            &h.request(
                "POST",
                &format!("/imports/batches/{id}/rows"),
                &[("content-type", "text/csv")],
                part.clone().into_bytes(),
            )
            .await,
            201,
        );
        own_errors += done["invalid"].as_i64().unwrap();
        assert_eq!(done["ignored_columns"], json!([]));
    }
    assert_eq!(own_errors, 250, "every 200th row has a bad price");
    let progress = expect(&h.get(&format!("/imports/batches/{id}")).await, 200);
    assert_eq!((progress["rows_total"].as_i64(), progress["state"].as_str()), (Some(50_000), Some("open")));
    refused_in(&h.post_json(&format!("/imports/batches/{id}/promote"), &json!({})).await, "open");

    let validated = expect(&h.post_json(&format!("/imports/batches/{id}/validate"), &json!({})).await, 200);
    assert_eq!(validated["rows_invalid"].as_i64(), Some(i64::try_from(bad).unwrap()), "{validated}");
    // The errors, by row and field.
    let errors = expect(&h.get(&format!("/imports/batches/{id}/errors?per_page=100")).await, 200);
    assert_eq!(errors["total"].as_i64(), Some(i64::try_from(bad).unwrap()));
    let first = &errors["items"][0];
    assert_eq!((first["row"].as_i64(), first["errors"][0]["field"].as_str()), (Some(1), Some("sku")));
    let priced = errors["items"].as_array().unwrap().iter().find(|r| r["row"] == 200).unwrap();
    assert_eq!(priced["errors"][0]["field"], "price", "{priced}");
    let dup = errors["items"].as_array().unwrap().iter().find(|r| r["row"] == 500).unwrap();
    assert!(dup["errors"][0]["detail"].as_str().unwrap().contains("duplicate"), "{dup}");
    refused_in(&h.post_json(&format!("/imports/batches/{id}/rows"), &json!([{ "codigo": "Q" }])).await, "validated");

    // Invalid rows stop the promotion unless skipped.
    expect(&h.post_json(&format!("/imports/batches/{id}/promote"), &json!({})).await, 409);
    let promoted =
        expect(&h.post_json(&format!("/imports/batches/{id}/promote"), &json!({ "skip_invalid": true })).await, 200);
    let good = 50_000 - i64::try_from(bad).unwrap();
    assert_eq!((promoted["state"].as_str(), promoted["rows_promoted"].as_i64()), (Some("promoted"), Some(good)));
    let count = |v: Value| v["total"].as_i64().unwrap();
    assert_eq!(count(expect(&s.reader.get("/products").await, 200)), good + 5);
    let p2 = expect(&s.reader.get("/products?sku=P000002").await, 200);
    assert_eq!((p2["items"][0]["price"].as_str(), p2["items"][0]["tax_code"].as_str()), (Some("3.02"), Some("iva15")));
    assert_eq!(p2["items"][0]["custom"]["brand"], "Marca 2");
    let p3 = expect(&s.reader.get("/products?sku=P000003").await, 200);
    assert_eq!(p3["items"][0]["tax_code"], "iva0");
    // Promoting again changes nothing.
    let again =
        expect(&h.post_json(&format!("/imports/batches/{id}/promote"), &json!({ "skip_invalid": true })).await, 200);
    assert_eq!(again["promoted_at"], promoted["promoted_at"]);
    assert_eq!(count(expect(&s.reader.get("/products").await, 200)), good + 5);
    refused_in(&h.delete(&format!("/imports/batches/{id}")).await, "promoted");
    let batches = expect(&h.get("/imports/batches").await, 200);
    assert_eq!((batches["total"].as_i64(), batches["items"][0]["source"].as_str()), (Some(1), Some("catalogo.csv")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn customers_stock_and_xlsx_imports() {
    let s = shop().await;
    let h = &s.host;
    // Customers as JSON rows, with the built-in aliases; a bad cédula is
    // reported by row and field.
    let b = expect(&h.post_json("/imports/batches", &json!({ "kind": "customers" })).await, 201);
    let id = b["id"].as_i64().unwrap();
    let rows = json!([
        { "cedula": "1714307103", "nombre": "María", "correo": "maria@example.ec" },
        { "ruc": "1792060346001", "razon_social": "Comercial SA", "telefono": "022222222" },
        { "cedula": "1714307104", "nombre": "Mal" },
        { "cedula": "0926687856", "nombre": "Pedro", "color": "azul" }
    ]);
    let done = expect(&h.post_json(&format!("/imports/batches/{id}/rows"), &rows).await, 201);
    assert_eq!(
        (done["rows"].as_i64(), done["invalid"].as_i64()),
        (Some(4), Some(1)),
        "{}",
        h.get(&format!("/imports/batches/{id}/errors")).await.text()
    );
    assert_eq!(done["ignored_columns"], json!(["color"]));
    expect(&h.post_json(&format!("/imports/batches/{id}/validate"), &json!({})).await, 200);
    let errors = expect(&h.get(&format!("/imports/batches/{id}/errors")).await, 200);
    assert_eq!(
        (errors["items"][0]["row"].as_i64(), errors["items"][0]["errors"][0]["field"].as_str()),
        (Some(3), Some("tax_id"))
    );
    expect(&h.post_json(&format!("/imports/batches/{id}/promote"), &json!({ "skip_invalid": true })).await, 200);
    assert_eq!(expect(&s.reader.get("/customers?tax_id=1792060346001").await, 200)["items"][0]["phone"], "022222222");

    // Opening stock for new products from an XLSX workbook.
    for sku in ["NUEVO-1", "NUEVO-2"] {
        expect(
            &h.post_json("/products", &json!({ "sku": sku, "name": sku, "price": "1", "tax_code": "iva15" })).await,
            201,
        );
    }
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, title) in ["Código", "Bodega", "Cantidad", "Costo"].iter().enumerate() {
        sheet.write_string(0, u16::try_from(c).unwrap(), *title).unwrap();
    }
    for (r, (sku, qty, cost)) in
        [("NUEVO-1", 12.5, 2.4), ("NUEVO-2", 3.0, 10.0), ("ARROZ", 1.0, 1.0), ("NADA", 1.0, 1.0)].iter().enumerate()
    {
        let r = u32::try_from(r + 1).unwrap();
        sheet.write_string(r, 0, *sku).unwrap();
        sheet.write_string(r, 1, "MAIN").unwrap();
        sheet.write_number(r, 2, *qty).unwrap();
        sheet.write_number(r, 3, *cost).unwrap();
    }
    let xlsx = book.save_to_buffer().unwrap();
    let b = expect(&h.post_json("/imports/batches", &json!({ "kind": "stock" })).await, 201);
    let id = b["id"].as_i64().unwrap();
    let ct = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    expect(&h.request("POST", &format!("/imports/batches/{id}/rows"), &[("content-type", ct)], xlsx).await, 201);
    let v = expect(&h.post_json(&format!("/imports/batches/{id}/validate"), &json!({})).await, 200);
    assert_eq!(v["rows_invalid"], 2, "ARROZ already has stock, NADA does not exist: {v}");
    expect(&h.post_json(&format!("/imports/batches/{id}/promote"), &json!({ "skip_invalid": true })).await, 200);
    // Without a body, a batch with invalid rows is refused; a clean one is promoted.
    let clean =
        expect(&h.post_json("/imports/batches", &json!({ "kind": "suppliers" })).await, 201)["id"].as_i64().unwrap();
    expect(
        &h.post_json(
            &format!("/imports/batches/{clean}/rows"),
            &json!([{ "ruc": "1792060346001", "nombre": "Proveedor" }]),
        )
        .await,
        201,
    );
    expect(&h.post_json(&format!("/imports/batches/{clean}/validate"), &json!({})).await, 200);
    let done = expect(&h.request("POST", &format!("/imports/batches/{clean}/promote"), &[], Vec::new()).await, 200);
    assert_eq!(done["rows_promoted"], 1);
    let n1 = expect(&s.reader.get("/products?sku=NUEVO-1").await, 200);
    assert_eq!((n1["items"][0]["stock"].as_str(), n1["items"][0]["cost"].as_str()), (Some("12.5"), Some("2.40")));
    let moves = expect(&s.reader.get(&format!("/stock/movements?reference=import:{id}")).await, 200);
    assert_eq!(moves["total"], 2);

    // Formats and states refused with clear problems.
    let b = expect(&h.post_json("/imports/batches", &json!({ "kind": "products" })).await, 201);
    let id = b["id"].as_i64().unwrap();
    assert_eq!(
        h.request(
            "POST",
            &format!("/imports/batches/{id}/rows"),
            &[("content-type", "application/pdf")],
            b"x".to_vec()
        )
        .await
        .status,
        415
    );
    expect(
        &h.request("POST", &format!("/imports/batches/{id}/rows"), &[("content-type", ct)], b"not a zip".to_vec())
            .await,
        400,
    );
    invalid_field(&h.post_json(&format!("/imports/batches/{id}/rows"), &json!([])).await, "rows");
    expect(&h.post_json(&format!("/imports/batches/{id}/validate"), &json!({})).await, 409);
    let gone = expect(&h.delete(&format!("/imports/batches/{id}")).await, 200);
    assert_eq!(gone["state"], "discarded");
    refused_in(&h.post_json(&format!("/imports/batches/{id}/validate"), &json!({})).await, "discarded");
    invalid_field(&h.post_json("/imports/batches", &json!({ "kind": "invoices" })).await, "kind");
    expect(&s.seller.post_json("/imports/batches", &json!({ "kind": "products" })).await, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_company_sees_and_changes_none_of_it() {
    let s = shop().await;
    let sale = s.confirmed(json!([s.line(0, "1")])).await;
    let other = s.host.other_tenant("otra", &["admin"]).await.unwrap();
    assert_eq!(expect(&other.get("/products").await, 200)["total"], 0);
    assert_eq!(expect(&other.get("/sales").await, 200)["total"], 0);
    expect(&other.get(&format!("/sales/{}", sale["id"])).await, 404);
    expect(&other.post_json(&format!("/sales/{}/cancel", sale["id"]), &json!({})).await, 404);
    expect(&other.put_json(&format!("/products/{}", s.products[0]), &json!({ "price": "0.01" })).await, 404);
    // Its own numbering starts at 1 in its own series.
    expect(&other.post_json("/warehouses", &json!({ "code": "MAIN", "name": "B" })).await, 201);
    expect(&other.post_json("/series", &json!({ "establishment": "001", "point": "001", "name": "C" })).await, 201);
    let p = expect(
        &other
            .post_json("/products", &json!({ "sku": "ARROZ", "name": "Arroz", "price": "1", "tax_code": "iva15" }))
            .await,
        201,
    );
    let pid = p["id"].as_i64().unwrap();
    expect(
        &other
            .post_json(
                "/stock/adjustments",
                &json!({ "product_id": pid, "warehouse_id": 1, "quantity": "5", "reason": "x" }),
            )
            .await,
        201,
    );
    let theirs = expect(
        &other
            .post_json("/sales", &json!({ "lines": [{ "product_id": pid, "quantity": "1" }], "confirm": true }))
            .await,
        201,
    );
    assert_eq!(theirs["number"], "001-001-000000001");
    // The first shop is untouched.
    assert_eq!(expect(&s.reader.get(&format!("/sales/{}", sale["id"])).await, 200)["state"], "confirmed");
    assert_eq!(s.stock_of(0).await, "99");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_largest_sale_and_purchase_fit_in_one_call() {
    let s = shop().await;
    let h = &s.host;
    // 100 products and their opening stock, by import.
    let b = expect(&h.post_json("/imports/batches", &json!({ "kind": "products" })).await, 201)["id"].as_i64().unwrap();
    let rows: Vec<Value> =
        (1..=100).map(|i| json!({ "sku": format!("L{i:03}"), "name": format!("Línea {i}"), "price": "1.10", "tax_code": "iva15" })).collect();
    expect(&h.post_json(&format!("/imports/batches/{b}/rows"), &rows).await, 201);
    expect(&h.post_json(&format!("/imports/batches/{b}/validate"), &json!({})).await, 200);
    expect(&h.post_json(&format!("/imports/batches/{b}/promote"), &json!({})).await, 200);
    let b = expect(&h.post_json("/imports/batches", &json!({ "kind": "stock" })).await, 201)["id"].as_i64().unwrap();
    let rows: Vec<Value> =
        (1..=100).map(|i| json!({ "sku": format!("L{i:03}"), "warehouse": "MAIN", "quantity": "5" })).collect();
    expect(&h.post_json(&format!("/imports/batches/{b}/rows"), &rows).await, 201);
    expect(&h.post_json(&format!("/imports/batches/{b}/validate"), &json!({})).await, 200);
    expect(&h.post_json(&format!("/imports/batches/{b}/promote"), &json!({})).await, 200);
    let ids: Vec<i64> = expect(&s.reader.get("/products?q=linea&per_page=100").await, 200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 100);
    let lines: Vec<Value> = ids.iter().map(|id| json!({ "product_id": id, "quantity": "2" })).collect();
    // 100 lines: written, confirmed and paid in one call, within its SQL budget.
    let sale = json!({ "lines": lines, "confirm": true, "payments": [{ "method": "card", "amount": "253.00" }] });
    let sale = expect(&s.seller.post_json("/sales", &sale).await, 201);
    // 100 × 2.20 = 220.00, IVA 33.00.
    assert_eq!(
        (sale["total"].as_str(), sale["state"].as_str(), sale["lines"].as_array().unwrap().len()),
        (Some("253.00"), Some("paid"), 100)
    );
    let mut more = lines.clone();
    more.push(s.line(0, "1"));
    invalid_field(&s.seller.post_json("/sales", &json!({ "lines": more })).await, "lines");
    // A purchase of 100 lines is received in one call too.
    let sup =
        expect(&s.stock.post_json("/suppliers", &json!({ "tax_id": "1792060346001", "name": "Mayorista" })).await, 201);
    let lines: Vec<Value> =
        ids.iter().map(|id| json!({ "product_id": id, "quantity": "3", "unit_cost": "0.50" })).collect();
    let p = expect(&s.stock.post_json("/purchases", &json!({ "supplier_id": sup["id"], "lines": lines })).await, 201);
    expect(&s.stock.post_json(&format!("/purchases/{}/receive", p["id"]), &json!({})).await, 200);
    assert_eq!(expect(&s.reader.get(&format!("/products/{}", ids[0])).await, 200)["stock"], "6");
}
