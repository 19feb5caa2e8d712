//! The bundled `erp` module end to end over HTTP against a real host
//! (SQLite in pass 1 of `cargo xtask test`, PostgreSQL in pass 3): sales of
//! the last units and confirmations in one series racing over real
//! connections, a 50,000-row CSV sent in parts under the host's body limit,
//! and a host process killed with SIGKILL while it promotes a batch, which
//! leaves either nothing or everything promoted. Every route and transition
//! is covered by `testing/tests/erp.rs`; this suite checks what needs a real
//! server, real connections and a real process.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::packages::SecondHost;
use common::{TestServer, modules_dir};
use reqwest::Method;
use serde_json::{Value, json};

/// A caller of the shop's `erp` over HTTP with an API key.
#[derive(Clone)]
struct Caller {
    base: String,
    key: String,
    client: reqwest::Client,
}

impl Caller {
    async fn send(&self, method: Method, path: &str, body: Option<(&str, Vec<u8>)>) -> (u16, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).header("x-api-key", &self.key);
        if let Some((content_type, bytes)) = body {
            req = req.header("content-type", content_type).body(bytes);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn json(&self, method: Method, path: &str, body: Value) -> (u16, Value) {
        self.send(method, path, Some(("application/json", serde_json::to_vec(&body).unwrap()))).await
    }

    /// Sends and checks the status; the body.
    async fn ok(&self, method: Method, path: &str, body: Option<Value>, status: u16) -> Value {
        let (got, value) = match body {
            Some(b) => self.json(method, path, b).await,
            None => self.send(method, path, None).await,
        };
        assert_eq!(got, status, "{path}: {value}");
        value
    }
}

struct Shop {
    s: TestServer,
    admin: Caller,
    seller: Caller,
    warehouse: i64,
}

async fn shop() -> Shop {
    let s = TestServer::start_with(|c| c.modules_dir = modules_dir().display().to_string()).await;
    s.tenant_with("shop", &["erp"]).await;
    let caller = |key: String| Caller { base: format!("{}/t/shop/erp", s.base), key, client: s.client.clone() };
    let admin = caller(s.api_key("shop", &["admin"]).await);
    let seller = caller(s.api_key("shop", &["erp-seller"]).await);
    let warehouse = admin.ok(Method::POST, "/warehouses", Some(json!({ "code": "MAIN", "name": "Bodega" })), 201).await
        ["id"]
        .as_i64()
        .unwrap();
    admin
        .ok(Method::POST, "/series", Some(json!({ "establishment": "002", "point": "010", "name": "Caja" })), 201)
        .await;
    Shop { s, admin, seller, warehouse }
}

impl Shop {
    /// A product with `units` in stock.
    async fn product(&self, sku: &str, units: &str) -> i64 {
        let p = json!({ "sku": sku, "name": sku, "price": "3.00", "tax_code": "iva15" });
        let id = self.admin.ok(Method::POST, "/products", Some(p), 201).await["id"].as_i64().unwrap();
        let adj = json!({ "product_id": id, "warehouse_id": self.warehouse, "quantity": units, "reason": "conteo" });
        self.admin.ok(Method::POST, "/stock/adjustments", Some(adj), 201).await;
        id
    }

    async fn products(&self, via: &Caller) -> i64 {
        via.ok(Method::GET, "/products?per_page=1", None, 200).await["total"].as_i64().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_sales_and_confirmations_over_real_connections() {
    let shop = Arc::new(shop().await);
    // 20 sales of one unit race for 10 units.
    let id = shop.product("ULTIMO", "10").await;
    let racing: Vec<_> = (0..20)
        .map(|_| {
            let seller = shop.seller.clone();
            tokio::spawn(async move {
                let sale = json!({ "lines": [{ "product_id": id, "quantity": "1" }], "confirm": true });
                seller.json(Method::POST, "/sales", sale).await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for r in racing {
        let (status, body) = r.await.unwrap();
        if status == 409 {
            assert_eq!(body["type"], "urn:plaza:problem:erp:insufficient-stock", "{body}");
        }
        statuses.push(status);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [[201; 10], [409; 10]].concat());
    assert_eq!(shop.admin.ok(Method::GET, &format!("/products/{id}"), None, 200).await["stock"], "0");

    // 50 drafts confirmed at once: numbers 11 to 60 of the series, no gap, no repeat.
    let bread = shop.product("PAN", "1000").await;
    let mut drafts = Vec::new();
    for _ in 0..50 {
        let d = json!({ "lines": [{ "product_id": bread, "quantity": "2" }] });
        drafts.push(shop.seller.ok(Method::POST, "/sales", Some(d), 201).await["id"].as_i64().unwrap());
    }
    let racing: Vec<_> = drafts
        .into_iter()
        .map(|d| {
            let seller = shop.seller.clone();
            tokio::spawn(
                async move { seller.ok(Method::POST, &format!("/sales/{d}/confirm"), Some(json!({})), 200).await },
            )
        })
        .collect();
    let mut seqs = Vec::new();
    for r in racing {
        let sale = r.await.unwrap();
        let number = sale["number"].as_str().unwrap();
        assert!(number.starts_with("002-010-"), "{number}");
        seqs.push(number[8..].parse::<i64>().unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (11..=60).collect::<Vec<_>>());
    assert_eq!(shop.admin.ok(Method::GET, &format!("/products/{bread}"), None, 200).await["stock"], "900");
}

/// `n` products as a CSV with a few hundred bad rows (every 100th price is
/// not a number); SKUs start with `prefix`.
fn catalogue_csv(prefix: &str, n: usize) -> String {
    let mut out = String::from("sku,name,price,tax_code\n");
    for i in 1..=n {
        let price = if i % 100 == 0 { "n/a".to_owned() } else { format!("{}.{:02}", i % 50 + 1, i % 100) };
        out.push_str(&format!("{prefix}{i:06},\"Producto {i}, caja\",{price},iva15\n"));
    }
    out
}

/// Cuts a CSV at line ends into parts of at most `max` bytes, each with the header.
fn parts(csv: &str, max: usize) -> Vec<Vec<u8>> {
    let mut lines = csv.lines();
    let header = format!("{}\n", lines.next().unwrap());
    let mut out = Vec::new();
    let mut part = header.clone();
    for line in lines {
        if part.len() + line.len() + 1 > max {
            out.push(std::mem::replace(&mut part, header.clone()).into_bytes());
        }
        part.push_str(line);
        part.push('\n');
    }
    out.push(part.into_bytes());
    out
}

/// A validated batch of 50,000 products (500 of them invalid); its id.
async fn validated_batch(admin: &Caller, prefix: &str) -> i64 {
    let batch =
        admin.ok(Method::POST, "/imports/batches", Some(json!({ "kind": "products", "source": prefix })), 201).await;
    let id = batch["id"].as_i64().unwrap();
    for part in parts(&catalogue_csv(prefix, 50_000), 1_000_000) {
        let (status, body) =
            admin.send(Method::POST, &format!("/imports/batches/{id}/rows"), Some(("text/csv", part))).await;
        assert_eq!(status, 201, "{body}");
    }
    let v = admin.ok(Method::POST, &format!("/imports/batches/{id}/validate"), Some(json!({})), 200).await;
    assert_eq!((v["rows_total"].as_i64(), v["rows_invalid"].as_i64()), (Some(50_000), Some(500)), "{v}");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fifty_thousand_row_csv_goes_in_parts_under_the_body_limit() {
    let shop = shop().await;
    let admin = &shop.admin;
    let batch = admin.ok(Method::POST, "/imports/batches", Some(json!({ "kind": "products" })), 201).await;
    let id = batch["id"].as_i64().unwrap();
    // The whole file is over the host's 1 MiB body limit: refused as such.
    let whole = catalogue_csv("W", 50_000).into_bytes();
    assert!(whole.len() > 1 << 20);
    let (status, body) =
        admin.send(Method::POST, &format!("/imports/batches/{id}/rows"), Some(("text/csv", whole))).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(admin.ok(Method::GET, &format!("/imports/batches/{id}"), None, 200).await["rows_total"], 0);
    admin.ok(Method::DELETE, &format!("/imports/batches/{id}"), None, 200).await;

    let started = Instant::now();
    let id = validated_batch(admin, "W").await;
    eprintln!("50,000 rows ingested and validated in {:?}", started.elapsed());
    let started = Instant::now();
    let (status, body) = admin.json(Method::POST, &format!("/imports/batches/{id}/promote"), json!({})).await;
    assert_eq!(status, 409, "invalid rows stop the promotion: {body}");
    let promoted = admin
        .ok(Method::POST, &format!("/imports/batches/{id}/promote"), Some(json!({ "skip_invalid": true })), 200)
        .await;
    eprintln!("49,500 rows promoted in {:?}", started.elapsed());
    assert_eq!(promoted["rows_promoted"], 49_500);
    assert_eq!(shop.products(admin).await, 49_500);
    let again = admin
        .ok(Method::POST, &format!("/imports/batches/{id}/promote"), Some(json!({ "skip_invalid": true })), 200)
        .await;
    assert_eq!(again, promoted);
    assert_eq!(shop.products(admin).await, 49_500);
    let p = admin.ok(Method::GET, "/products?sku=W000042", None, 200).await;
    assert_eq!(
        (p["items"][0]["name"].as_str(), p["items"][0]["price"].as_str()),
        (Some("Producto 42, caja"), Some("43.42"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_host_killed_while_promoting_leaves_nothing_or_everything() {
    let shop = shop().await;
    let modules = modules_dir().display().to_string();
    let mut outcomes = Vec::new();
    // Killed at different moments of the promotion (which takes a few
    // hundred milliseconds here): whatever the moment, all or nothing.
    for (attempt, delay_ms) in [5_u64, 80, 250, 2_000].into_iter().enumerate() {
        let prefix = format!("K{attempt}-");
        let id = validated_batch(&shop.admin, &prefix).await;
        let before = shop.products(&shop.admin).await;
        let mut second = SecondHost::start_with(&shop.s, "", &[("PLAZA_MODULES_DIR", modules.as_str())]).await;
        let url = format!("{}/t/shop/erp/imports/batches/{id}/promote", second.base);
        let request =
            shop.s.client.post(url).header("x-api-key", &shop.admin.key).json(&json!({ "skip_invalid": true }));
        // The connection dies with the process: no answer is an outcome too.
        let promoting = tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()).ok() });
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        second.child.kill().unwrap();
        let _ = second.child.wait();
        let answered = promoting.await.unwrap();
        let after = shop.products(&shop.admin).await;
        let batch = shop.admin.ok(Method::GET, &format!("/imports/batches/{id}"), None, 200).await;
        let everything = after == before + 49_500;
        assert!(after == before || everything, "attempt {attempt}: {before} products before, {after} after");
        assert_eq!(batch["state"] == "promoted", everything, "the batch says what happened: {batch}");
        if everything {
            assert_eq!(batch["rows_promoted"], 49_500);
        } else {
            // Nothing happened: promoting again, on the surviving host, does it all.
            let done = shop
                .admin
                .ok(Method::POST, &format!("/imports/batches/{id}/promote"), Some(json!({ "skip_invalid": true })), 200)
                .await;
            assert_eq!(done["rows_promoted"], 49_500);
            assert_eq!(shop.products(&shop.admin).await, before + 49_500);
        }
        outcomes.push((delay_ms, answered, if everything { "everything" } else { "nothing" }));
    }
    eprintln!("killed after (ms, answer, outcome): {outcomes:?}");
}
