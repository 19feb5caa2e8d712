//! Inventory: stock levels are derived from movements. Every movement
//! (opening, receipt, sale, return, transfer, adjustment) goes through
//! [`apply`], which writes the movement and moves its level in the same
//! transaction; no other path writes `stock_levels`. Taking stock is one
//! conditional `UPDATE`, so concurrent sales of the last units cannot both
//! succeed: the row lock (PostgreSQL) or the write lock (SQLite) orders them
//! and the second finds too little.

use plaza_sdk::listing::{Filter, Page, PageRequest, paged};
use plaza_sdk::prelude::*;
use plaza_sdk::validation::{Errors, invalid, text};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalogue::{self, ProductRow};
use crate::common::{self, Amount, Tenant};
use crate::money;

/// One movement of one product in one warehouse.
pub struct Move<'a> {
    pub product: &'a ProductRow,
    pub warehouse_id: i64,
    pub kind: &'static str,
    /// Signed thousandths: positive in, negative out.
    pub quantity_milli: i64,
    pub unit_cost: Option<String>,
    pub reference: Option<String>,
    pub reason: Option<String>,
}

/// A 409 for stock that is not there.
pub fn insufficient(sku: &str, available: i64, wanted: i64) -> Problem {
    Problem::conflict(format!(
        "not enough stock of {sku}: {} available, {} wanted",
        common::milli(available),
        common::milli(wanted)
    ))
    .with_type("urn:plaza:problem:erp:insufficient-stock")
    .with("sku", sku)
    .with("available", common::milli(available))
    .with("wanted", common::milli(wanted))
}

/// Units of a product in a warehouse.
pub fn level(product_id: i64, warehouse_id: i64) -> Result<i64, Problem> {
    common::scalar(
        "SELECT quantity_milli FROM stock_levels WHERE product_id = $1 AND warehouse_id = $2",
        &params![product_id, warehouse_id],
    )
}

/// Writes the movement and moves the level; must run inside the caller's
/// transaction. Stock going out is refused (409) when it would go below zero,
/// unless the tenant allows negative stock.
pub fn apply(m: &Move<'_>, user: &str, allow_negative: bool) -> Result<(), Problem> {
    if m.quantity_milli < 0 && !allow_negative {
        let taken = sql::execute(
            "UPDATE stock_levels SET quantity_milli = quantity_milli + $1 \
             WHERE product_id = $2 AND warehouse_id = $3 AND quantity_milli + $1 >= 0",
            &params![m.quantity_milli, m.product.id, m.warehouse_id],
        )?;
        if taken == 0 {
            return Err(insufficient(&m.product.sku, level(m.product.id, m.warehouse_id)?, -m.quantity_milli));
        }
    } else {
        sql::execute(
            "INSERT INTO stock_levels (product_id, warehouse_id, quantity_milli) VALUES ($1, $2, $3) \
             ON CONFLICT (product_id, warehouse_id) DO UPDATE SET quantity_milli = stock_levels.quantity_milli + $3",
            &params![m.product.id, m.warehouse_id, m.quantity_milli],
        )?;
    }
    sql::execute(
        "INSERT INTO stock_movements (product_id, warehouse_id, kind, quantity_milli, unit_cost, reference, reason, \
         user_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &params![
            m.product.id,
            m.warehouse_id,
            m.kind,
            m.quantity_milli,
            m.unit_cost.as_deref(),
            m.reference.as_deref(),
            m.reason.as_deref(),
            user,
            time::now_rfc3339()
        ],
    )?;
    Ok(())
}

/// Stock received at `unit_cost`: the movement, and the product's weighted
/// average cost over all its warehouses. The product row is locked first
/// (an `UPDATE` of its version), so two receipts of one product cannot
/// both read the old average.
pub fn receive(m: &Move<'_>, unit_cost: Decimal, user: &str) -> Result<(), Problem> {
    sql::execute("UPDATE products SET version = version + 1 WHERE id = $1", &params![m.product.id])?;
    let product = catalogue::product_row(m.product.id)?.ok_or_else(Problem::not_found)?;
    let on_hand =
        common::scalar("SELECT SUM(quantity_milli) FROM stock_levels WHERE product_id = $1", &params![product.id])?;
    let cost = money::weighted_average(
        common::from_milli(on_hand),
        common::stored(&product.cost)?,
        common::from_milli(m.quantity_milli),
        unit_cost,
    );
    apply(m, user, true)?;
    sql::execute(
        "UPDATE products SET cost = $1, updated_at = $2 WHERE id = $3",
        &params![common::show(cost, 2), time::now_rfc3339(), product.id],
    )?;
    Ok(())
}

// ----- routes -----

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Level {
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    pub warehouse_id: i64,
    pub warehouse_code: String,
    pub quantity: String,
}

#[derive(Deserialize)]
struct LevelRow {
    product_id: i64,
    sku: String,
    name: String,
    warehouse_id: i64,
    warehouse_code: String,
    quantity_milli: i64,
}

pub fn levels(req: &Request) -> Result<Json<Page<Level>>, Problem> {
    let page = PageRequest::from_request(req)?;
    let mut filter = Filter::default();
    filter.eq_int(req, "product_id", "s.product_id")?;
    filter.eq_int(req, "warehouse_id", "s.warehouse_id")?;
    let (from, params) =
        filter.from("stock_levels s JOIN products p ON p.id = s.product_id JOIN warehouses w ON w.id = s.warehouse_id");
    let rows: Page<LevelRow> = paged(
        "s.product_id AS product_id, p.sku AS sku, p.name AS name, s.warehouse_id AS warehouse_id, \
         w.code AS warehouse_code, s.quantity_milli AS quantity_milli",
        &from,
        "p.sku, w.code",
        &params,
        page,
    )?;
    let items = rows
        .items
        .into_iter()
        .map(|r| Level {
            product_id: r.product_id,
            sku: r.sku,
            name: r.name,
            warehouse_id: r.warehouse_id,
            warehouse_code: r.warehouse_code,
            quantity: common::milli(r.quantity_milli),
        })
        .collect();
    Ok(Json(page.wrap(items, rows.total)))
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Movement {
    pub id: i64,
    pub product_id: i64,
    pub warehouse_id: i64,
    /// `opening`, `receipt`, `sale`, `return`, `transfer-out`, `transfer-in`, `adjustment`.
    pub kind: String,
    /// Signed: positive in, negative out.
    pub quantity: String,
    pub unit_cost: Option<String>,
    /// What caused it: `sale:12`, `purchase:3`, `import:5`…
    pub reference: Option<String>,
    pub reason: Option<String>,
    pub user_id: String,
    pub at: String,
}

#[derive(Deserialize)]
struct MovementRow {
    id: i64,
    product_id: i64,
    warehouse_id: i64,
    kind: String,
    quantity_milli: i64,
    unit_cost: Option<String>,
    reference: Option<String>,
    reason: Option<String>,
    user_id: String,
    at: String,
}

pub fn movements(req: &Request) -> Result<Json<Page<Movement>>, Problem> {
    let page = PageRequest::from_request(req)?;
    let mut filter = Filter::default();
    filter.eq_int(req, "product_id", "product_id")?;
    filter.eq_int(req, "warehouse_id", "warehouse_id")?;
    filter.eq(req, "kind", "kind");
    filter.eq(req, "reference", "reference");
    let (from, params) = filter.from("stock_movements");
    let rows: Page<MovementRow> = paged(
        "id, product_id, warehouse_id, kind, quantity_milli, unit_cost, reference, reason, user_id, at",
        &from,
        "id DESC",
        &params,
        page,
    )?;
    let items = rows
        .items
        .into_iter()
        .map(|r| Movement {
            id: r.id,
            product_id: r.product_id,
            warehouse_id: r.warehouse_id,
            kind: r.kind,
            quantity: common::milli(r.quantity_milli),
            unit_cost: r.unit_cost,
            reference: r.reference,
            reason: r.reason,
            user_id: r.user_id,
            at: r.at,
        })
        .collect();
    Ok(Json(page.wrap(items, rows.total)))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Adjustment {
    pub product_id: i64,
    pub warehouse_id: i64,
    /// Signed change: `-2` for two broken units, `5` for five found.
    pub quantity: Amount,
    /// Why (a count, breakage, theft…): required.
    pub reason: String,
}

pub fn adjust(req: &Request, Json(body): Json<Adjustment>) -> Result<Created<Level>, Problem> {
    let user = req.caller().require_user()?.to_owned();
    let tenant = Tenant::load()?;
    let mut errors = Errors::default();
    let reason = text(&mut errors, "reason", &body.reason, 1, 500);
    errors.check(!body.quantity.0.is_zero(), "quantity", || "`quantity` must not be 0".into());
    errors.finish()?;
    let quantity = common::to_milli("quantity", body.quantity.0)?;
    let product = catalogue::product_row(body.product_id)?
        .ok_or_else(|| invalid("product_id", format!("there is no product {}", body.product_id)))?;
    catalogue::active_warehouse("warehouse_id", body.warehouse_id)?;
    sql::transaction(|| {
        apply(
            &Move {
                product: &product,
                warehouse_id: body.warehouse_id,
                kind: "adjustment",
                quantity_milli: quantity,
                unit_cost: None,
                reference: None,
                reason: Some(reason.clone()),
            },
            &user,
            tenant.allow_negative_stock,
        )
    })?;
    level_view(&product, body.warehouse_id).map(Created)
}

fn level_view(product: &ProductRow, warehouse_id: i64) -> Result<Level, Problem> {
    let w = catalogue::warehouse(warehouse_id)?.ok_or_else(Problem::not_found)?;
    Ok(Level {
        product_id: product.id,
        sku: product.sku.clone(),
        name: product.name.clone(),
        warehouse_id,
        warehouse_code: w.code,
        quantity: common::milli(level(product.id, warehouse_id)?),
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Transfer {
    pub product_id: i64,
    pub from_warehouse_id: i64,
    pub to_warehouse_id: i64,
    /// Units moved: more than 0.
    pub quantity: Amount,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TransferDone {
    pub from: Level,
    pub to: Level,
}

pub fn transfer(req: &Request, Json(body): Json<Transfer>) -> Result<Created<TransferDone>, Problem> {
    let user = req.caller().require_user()?.to_owned();
    let tenant = Tenant::load()?;
    if body.quantity.0 <= Decimal::ZERO {
        return Err(invalid("quantity", "`quantity` must be more than 0"));
    }
    if body.from_warehouse_id == body.to_warehouse_id {
        return Err(invalid("to_warehouse_id", "a transfer goes to another warehouse"));
    }
    let quantity = common::to_milli("quantity", body.quantity.0)?;
    let product = catalogue::product_row(body.product_id)?
        .ok_or_else(|| invalid("product_id", format!("there is no product {}", body.product_id)))?;
    catalogue::active_warehouse("from_warehouse_id", body.from_warehouse_id)?;
    catalogue::active_warehouse("to_warehouse_id", body.to_warehouse_id)?;
    let reason = body.reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    sql::transaction(|| -> Result<(), Problem> {
        let leg = |warehouse_id, kind, quantity_milli| Move {
            product: &product,
            warehouse_id,
            kind,
            quantity_milli,
            unit_cost: None,
            reference: None,
            reason: reason.clone(),
        };
        apply(&leg(body.from_warehouse_id, "transfer-out", -quantity), &user, tenant.allow_negative_stock)?;
        apply(&leg(body.to_warehouse_id, "transfer-in", quantity), &user, true)
    })?;
    Ok(Created(TransferDone {
        from: level_view(&product, body.from_warehouse_id)?,
        to: level_view(&product, body.to_warehouse_id)?,
    }))
}

/// The scheduled check: one `erp.stock-low` event per active product whose
/// stock (all warehouses) is under its threshold, with what is left.
pub fn stock_low_job() -> Result<usize, Problem> {
    #[derive(Deserialize)]
    struct Low {
        id: i64,
        sku: String,
        name: String,
        low_stock_milli: i64,
        on_hand: i64,
    }
    let low: Vec<Low> = sql::query_as(
        "SELECT id, sku, name, low_stock_milli, on_hand FROM (SELECT p.id AS id, p.sku AS sku, p.name AS name, \
         p.low_stock_milli AS low_stock_milli, COALESCE((SELECT SUM(s.quantity_milli) FROM stock_levels s \
         WHERE s.product_id = p.id), 0) AS on_hand FROM products p WHERE p.active = TRUE AND p.low_stock_milli IS \
         NOT NULL) t WHERE on_hand < low_stock_milli ORDER BY sku LIMIT 1000",
        &[],
    )?;
    for p in &low {
        events::publish(
            "erp.stock-low",
            &serde_json::json!({
                "product_id": p.id, "sku": p.sku, "name": p.name,
                "stock": common::milli(p.on_hand), "threshold": common::milli(p.low_stock_milli),
            }),
        )?;
    }
    Ok(low.len())
}
