//! Scenario 8: the `erp` module's heavy paths, on each engine. An import of
//! 10,000 products (one CSV part ingested, then validated, then promoted:
//! rows per second of each step), then point-of-sale sales confirmed under
//! load (`POST /sales` with `confirm: true`: each one draws the series'
//! next number, takes stock and publishes `erp.sale-confirmed`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::{Host, Plan, wrk};
use crate::util;

/// Products in the imported batch.
pub const PRODUCTS: usize = 10_000;
/// Connections of the sales load: a busy shop's tills and more.
pub const CONNECTIONS: u32 = 16;
const TENANT: &str = "shop";

/// What scenario 8 measured on one engine.
#[derive(Debug, Clone)]
pub struct Erp {
    pub engine: &'static str,
    pub ingest: Duration,
    pub validate: Duration,
    pub promote: Duration,
    pub sales: wrk::Load,
    /// The series' last number after the loads, and the sales stored: equal
    /// when no number was skipped.
    pub last_number: i64,
    pub stored: i64,
}

impl Erp {
    pub fn rows_per_sec(&self, step: Duration) -> f64 {
        // Rows are counted exactly; a step of 0 s cannot happen over HTTP.
        #[allow(clippy::cast_precision_loss)]
        let rows = PRODUCTS as f64;
        rows / step.as_secs_f64().max(1e-9)
    }
}

pub fn run(
    engine: &'static str,
    plaza: &Path,
    data: &Path,
    token: &str,
    env: &[(&'static str, String)],
    plan: &Plan,
) -> Result<Erp> {
    println!("==> erp on {engine}: import {PRODUCTS} products, then sales confirmed under load");
    let (host, _) = Host::start(plaza, data, token, env)?;
    let operator = format!("Bearer {token}");
    let as_operator = [("Authorization", operator.as_str())];
    host.json("POST", "/api/v1/tenants", &as_operator, Some(&json!({ "id": TENANT, "name": "Shop" })), 201)?;
    host.json("POST", &format!("/t/{TENANT}/modules"), &as_operator, Some(&json!({ "name": "erp" })), 200)?;
    let key = host.json(
        "POST",
        &format!("/t/{TENANT}/api-keys"),
        &as_operator,
        Some(&json!({ "name": "till", "roles": ["admin"] })),
        201,
    )?;
    let key = key["secret"].as_str().context("no API key secret")?.to_owned();
    let as_admin = [("X-API-Key", key.as_str())];
    let call = |method: &str, path: &str, body: Value, status: u16| {
        host.json(method, &format!("/t/{TENANT}/erp{path}"), &as_admin, Some(&body), status)
    };
    let warehouse = call("POST", "/warehouses", json!({ "code": "MAIN", "name": "Bodega" }), 201)?["id"].clone();
    call("POST", "/series", json!({ "establishment": "001", "point": "001", "name": "Caja" }), 201)?;

    // The import, step by step.
    let batch = call("POST", "/imports/batches", json!({ "kind": "products", "source": "bench.csv" }), 201)?;
    let id = batch["id"].as_i64().context("no batch id")?;
    let mut csv = String::from("codigo;descripcion;pvp;iva\n");
    for i in 1..=PRODUCTS {
        csv.push_str(&format!(
            "B{i:06};Producto {i};{},{:02};{}\n",
            i % 40 + 1,
            i % 100,
            if i % 4 == 0 { 0 } else { 15 }
        ));
    }
    let started = Instant::now();
    let (status, _, body) = util::http_call(
        host.addr,
        "POST",
        &format!("/t/{TENANT}/erp/imports/batches/{id}/rows"),
        &[("X-API-Key", key.as_str()), ("Content-Type", "text/csv")],
        csv.as_bytes(),
    )?;
    let ingest = started.elapsed();
    if status != 201 {
        bail!("ingest answered {status}: {body:.300}");
    }
    let started = Instant::now();
    let validated = call("POST", &format!("/imports/batches/{id}/validate"), json!({}), 200)?;
    let validate = started.elapsed();
    if validated["rows_invalid"] != 0 {
        bail!("the bench's rows are valid, the module found {}", validated["rows_invalid"]);
    }
    let started = Instant::now();
    call("POST", &format!("/imports/batches/{id}/promote"), json!({}), 200)?;
    let promote = started.elapsed();
    println!(
        "    ingest {:.0} ms, validate {:.0} ms, promote {:.0} ms for {PRODUCTS} rows",
        ingest.as_secs_f64() * 1e3,
        validate.as_secs_f64() * 1e3,
        promote.as_secs_f64() * 1e3
    );

    // Sales of one imported product with plenty of stock, at the counter.
    let product = call("GET", "/products?sku=B000042", json!(null), 200)?["items"][0]["id"].clone();
    let stock = json!({ "product_id": product, "warehouse_id": warehouse, "quantity": "100000000", "reason": "bench" });
    call("POST", "/stock/adjustments", stock, 201)?;
    let sale = json!({ "lines": [{ "product_id": product, "quantity": "1" }], "confirm": true,
                       "payments": [{ "method": "cash", "tendered": "50" }] });
    let script = data.join("sale.lua");
    std::fs::write(&script, post_script(&format!("/t/{TENANT}/erp/sales"), &key, &sale.to_string()))?;
    wrk::run_with(host.addr, "/", CONNECTIONS, plan.warmup, Some(&script))?;
    let sales = wrk::run_with(host.addr, "/", CONNECTIONS, plan.duration, Some(&script))?;
    // Tickets in flight when wrk stopped still finish: let them.
    std::thread::sleep(Duration::from_secs(1));
    let series = call("GET", "/series", json!(null), 200)?;
    let last_number = series[0]["last_value"].as_i64().context("no series")?;
    let stored = call("GET", "/sales?per_page=1", json!(null), 200)?["total"].as_i64().context("no total")?;
    println!(
        "    sales confirmed: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, {} failed; last number {last_number}, \
         {stored} sales stored",
        sales.requests_per_sec, sales.p50_ms, sales.p99_ms, sales.failed
    );
    Ok(Erp { engine, ingest, validate, promote, sales, last_number, stored })
}

/// A wrk script that sends `body` as JSON to `path` with the API key.
fn post_script(path: &str, key: &str, body: &str) -> String {
    let quoted = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    format!(
        "-- Written by cargo xtask bench: a point-of-sale ticket per request.\n\
         wrk.method = \"POST\"\n\
         wrk.path = {}\n\
         wrk.body = {}\n\
         wrk.headers[\"Content-Type\"] = \"application/json\"\n\
         wrk.headers[\"X-API-Key\"] = {}\n",
        quoted(path),
        quoted(body),
        quoted(key)
    )
}
