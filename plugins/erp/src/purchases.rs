//! Purchases from suppliers (`ordered → received`, or `cancelled` before
//! receipt): receiving puts the stock in at the purchase's cost and updates
//! each product's weighted average cost. And expenses: a category, an
//! amount with its tax, and the receipt's file through the blob capability.

use plaza_sdk::listing::{Filter, Page, PageRequest, paged, returned_id};
use plaza_sdk::prelude::*;
use plaza_sdk::validation::{Errors, invalid, text};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalogue::{self, ProductRow};
use crate::common::{self, Amount, Tenant, cents};
use crate::money::{self, LineInput};
use crate::parties::{self, PartyKind};
use crate::stock::{self, Move};

#[derive(Debug, Clone, Deserialize)]
pub struct PurchaseRow {
    pub id: i64,
    pub state: String,
    pub supplier_id: i64,
    pub warehouse_id: i64,
    pub supplier_document: String,
    pub currency: String,
    pub base_cents: i64,
    pub tax_cents: i64,
    pub total_cents: i64,
    pub version: i64,
    pub created_by: String,
    pub created_at: String,
    pub received_at: Option<String>,
    pub cancelled_at: Option<String>,
    pub updated_at: String,
}

const COLUMNS: &str = "id, state, supplier_id, warehouse_id, supplier_document, currency, base_cents, tax_cents, \
                       total_cents, version, created_by, created_at, received_at, cancelled_at, updated_at";

#[derive(Debug, Serialize, JsonSchema)]
pub struct Purchase {
    pub id: i64,
    /// `ordered`, `received` or `cancelled`.
    pub state: String,
    pub supplier_id: i64,
    pub warehouse_id: i64,
    /// The supplier's invoice or delivery note number.
    pub supplier_document: String,
    pub currency: String,
    pub lines: Vec<PurchaseLine>,
    pub base: String,
    pub tax: String,
    pub total: String,
    pub version: i64,
    pub created_by: String,
    pub created_at: String,
    pub received_at: Option<String>,
    pub cancelled_at: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct PurchaseLine {
    pub line_no: i64,
    pub product_id: i64,
    pub quantity: String,
    pub unit_cost: String,
    pub tax_code: String,
    pub net: String,
    pub tax: String,
}

#[derive(Deserialize)]
struct LineRow {
    line_no: i64,
    product_id: i64,
    quantity_milli: i64,
    unit_cost: String,
    tax_code: String,
    net_cents: i64,
    tax_cents: i64,
}

fn lines(id: i64) -> Result<Vec<LineRow>, Problem> {
    Ok(sql::query_as(
        "SELECT line_no, product_id, quantity_milli, unit_cost, tax_code, net_cents, tax_cents FROM purchase_lines \
         WHERE purchase_id = $1 ORDER BY line_no",
        &params![id],
    )?)
}

fn row(id: i64) -> Result<Option<PurchaseRow>, Problem> {
    Ok(sql::query_one_as(&format!("SELECT {COLUMNS} FROM purchases WHERE id = $1"), &params![id])?)
}

fn full(r: PurchaseRow) -> Result<Purchase, Problem> {
    let lines = lines(r.id)?
        .into_iter()
        .map(|l| PurchaseLine {
            line_no: l.line_no,
            product_id: l.product_id,
            quantity: common::milli(l.quantity_milli),
            unit_cost: l.unit_cost,
            tax_code: l.tax_code,
            net: cents(l.net_cents),
            tax: cents(l.tax_cents),
        })
        .collect();
    Ok(Purchase {
        id: r.id,
        state: r.state,
        supplier_id: r.supplier_id,
        warehouse_id: r.warehouse_id,
        supplier_document: r.supplier_document,
        currency: r.currency,
        lines,
        base: cents(r.base_cents),
        tax: cents(r.tax_cents),
        total: cents(r.total_cents),
        version: r.version,
        created_by: r.created_by,
        created_at: r.created_at,
        received_at: r.received_at,
        cancelled_at: r.cancelled_at,
        updated_at: r.updated_at,
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewPurchaseLine {
    pub product_id: i64,
    pub quantity: Amount,
    /// Cost of one unit before tax, up to 6 decimals.
    pub unit_cost: Amount,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewPurchase {
    pub supplier_id: i64,
    /// The first active warehouse when absent.
    #[serde(default)]
    pub warehouse_id: Option<i64>,
    #[serde(default)]
    pub supplier_document: Option<String>,
    pub lines: Vec<NewPurchaseLine>,
}

pub fn create(req: &Request, Json(new): Json<NewPurchase>) -> Result<Created<Purchase>, Problem> {
    let user = req.caller().require_user()?.to_owned();
    let tenant = Tenant::load()?;
    let supplier = parties::active_party(PartyKind::Supplier, "supplier_id", new.supplier_id)?;
    let warehouse = match new.warehouse_id {
        Some(id) => catalogue::active_warehouse("warehouse_id", id)?,
        None => catalogue::default_warehouse()?,
    };
    // Receiving costs about seven SQL statements per line; a call may run 1,000.
    if new.lines.is_empty() || new.lines.len() > crate::sales::MAX_LINES {
        return Err(invalid("lines", format!("a purchase has 1 to {} lines", crate::sales::MAX_LINES)));
    }
    let mut errors = Errors::default();
    let mut products: Vec<(ProductRow, i64)> = Vec::new();
    let mut inputs = Vec::new();
    for (i, l) in new.lines.iter().enumerate() {
        match catalogue::product_row(l.product_id)? {
            Some(p) => {
                let q = common::to_milli("quantity", l.quantity.0).unwrap_or_else(|_| {
                    errors.add(&format!("lines[{i}].quantity"), "a quantity has at most 3 decimals");
                    0
                });
                inputs.push(LineInput {
                    quantity: l.quantity.0,
                    unit_price: l.unit_cost.0,
                    discount_percent: Decimal::ZERO,
                    discount_amount: Decimal::ZERO,
                    tax_code: p.tax_code.clone(),
                });
                products.push((p, q));
            }
            None => errors.add(&format!("lines[{i}].product_id"), format!("there is no product {}", l.product_id)),
        }
    }
    let totals = money::totals(tenant.country, &inputs).map_err(|e| {
        let field = e.line.map_or_else(|| e.field.to_owned(), |i| format!("lines[{i}].{}", e.field));
        invalid(&field, e.message.replace("unit_price", "unit_cost"))
    })?;
    let document = text(&mut errors, "supplier_document", new.supplier_document.as_deref().unwrap_or(""), 0, 100);
    errors.finish()?;
    let now = time::now_rfc3339();
    let id = sql::transaction(|| -> Result<i64, Problem> {
        let rows = sql::query(
            "INSERT INTO purchases (state, supplier_id, warehouse_id, supplier_document, currency, base_cents, \
             tax_cents, total_cents, version, created_by, created_at, updated_at) \
             VALUES ('ordered', $1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $9) RETURNING id",
            &params![
                supplier.id,
                warehouse.id,
                document.as_str(),
                tenant.currency(),
                common::to_cents("base", totals.base)?,
                common::to_cents("tax", totals.tax)?,
                common::to_cents("total", totals.total)?,
                user.as_str(),
                now.as_str()
            ],
        )?;
        let id = returned_id(&rows)?;
        for (n, (((product, q), input), t)) in products.iter().zip(&inputs).zip(&totals.lines).enumerate() {
            sql::execute(
                "INSERT INTO purchase_lines (purchase_id, line_no, product_id, quantity_milli, unit_cost, tax_code, \
                 net_cents, tax_cents) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &params![
                    id,
                    i64::try_from(n + 1).unwrap_or(i64::MAX),
                    product.id,
                    *q,
                    common::show(input.unit_price, 2),
                    input.tax_code.as_str(),
                    common::to_cents("net", t.net)?,
                    common::to_cents("tax", t.tax)?
                ],
            )?;
        }
        Ok(id)
    })?;
    full(row(id)?.ok_or_else(Problem::not_found)?).map(Created)
}

pub fn get(req: &Request) -> Result<Json<Purchase>, Problem> {
    full(row(common::id(req)?)?.ok_or_else(Problem::not_found)?).map(Json)
}

pub fn list(req: &Request) -> Result<Json<Page<Purchase>>, Problem> {
    let page = PageRequest::from_request(req)?;
    let mut filter = Filter::default();
    filter.eq(req, "state", "state");
    filter.eq_int(req, "supplier_id", "supplier_id")?;
    let (from, params) = filter.from("purchases");
    let rows: Page<PurchaseRow> = paged(COLUMNS, &from, "id DESC", &params, page)?;
    let items = rows.items.into_iter().map(full).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(page.wrap(items, rows.total)))
}

/// Receives an ordered purchase: stock in at cost, average costs updated.
pub fn receive(req: &Request) -> Result<Json<Purchase>, Problem> {
    let user = req.caller().require_user()?.to_owned();
    let p = row(common::id(req)?)?.ok_or_else(Problem::not_found)?;
    if p.state != "ordered" {
        return Err(common::state_conflict("purchase", &p.state, "received"));
    }
    sql::transaction(|| -> Result<(), Problem> {
        let now = time::now_rfc3339();
        let n = sql::execute(
            "UPDATE purchases SET state = 'received', received_at = $1, version = version + 1, updated_at = $1 \
             WHERE id = $2 AND version = $3 AND state = 'ordered'",
            &params![now, p.id, p.version],
        )?;
        if n == 0 {
            return Err(common::changed_meanwhile("purchase"));
        }
        let mut received = lines(p.id)?;
        // In product order, like sales: no lock cycles between the two.
        received.sort_by_key(|l| l.product_id);
        for l in received {
            let product = catalogue::product_row(l.product_id)?.ok_or_else(Problem::not_found)?;
            let cost = common::stored(&l.unit_cost)?;
            stock::receive(
                &Move {
                    product: &product,
                    warehouse_id: p.warehouse_id,
                    kind: "receipt",
                    quantity_milli: l.quantity_milli,
                    unit_cost: Some(l.unit_cost.clone()),
                    reference: Some(format!("purchase:{}", p.id)),
                    reason: None,
                },
                cost,
                &user,
            )?;
        }
        Ok(())
    })?;
    full(row(p.id)?.ok_or_else(Problem::not_found)?).map(Json)
}

pub fn cancel(req: &Request) -> Result<Json<Purchase>, Problem> {
    let p = row(common::id(req)?)?.ok_or_else(Problem::not_found)?;
    if p.state != "ordered" {
        return Err(common::state_conflict("purchase", &p.state, "cancelled"));
    }
    let now = time::now_rfc3339();
    let n = sql::execute(
        "UPDATE purchases SET state = 'cancelled', cancelled_at = $1, version = version + 1, updated_at = $1 \
         WHERE id = $2 AND version = $3 AND state = 'ordered'",
        &params![now, p.id, p.version],
    )?;
    if n == 0 {
        return Err(common::changed_meanwhile("purchase"));
    }
    full(row(p.id)?.ok_or_else(Problem::not_found)?).map(Json)
}

// ----- expenses -----

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Expense {
    pub id: i64,
    pub category: String,
    pub description: String,
    pub supplier_id: Option<i64>,
    pub expense_date: String,
    pub currency: String,
    pub base: String,
    pub tax_code: String,
    pub tax: String,
    pub total: String,
    /// Whether a receipt file is attached (`GET /expenses/{id}/receipt`).
    pub has_receipt: bool,
    pub receipt_type: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

#[derive(Deserialize)]
struct ExpenseRow {
    id: i64,
    category: String,
    description: String,
    supplier_id: Option<i64>,
    expense_date: String,
    currency: String,
    base_cents: i64,
    tax_code: String,
    tax_cents: i64,
    total_cents: i64,
    receipt_key: Option<String>,
    receipt_type: Option<String>,
    created_by: String,
    created_at: String,
}

const EXPENSE_COLUMNS: &str = "id, category, description, supplier_id, expense_date, currency, base_cents, tax_code, \
                               tax_cents, total_cents, receipt_key, receipt_type, created_by, created_at";

impl From<ExpenseRow> for Expense {
    fn from(r: ExpenseRow) -> Self {
        Self {
            id: r.id,
            category: r.category,
            description: r.description,
            supplier_id: r.supplier_id,
            expense_date: r.expense_date,
            currency: r.currency,
            base: cents(r.base_cents),
            tax_code: r.tax_code,
            tax: cents(r.tax_cents),
            total: cents(r.total_cents),
            has_receipt: r.receipt_key.is_some(),
            receipt_type: r.receipt_type,
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewExpense {
    /// `rent`, `utilities`, `transport`…: 1 to 60 characters.
    pub category: String,
    pub description: String,
    #[serde(default)]
    pub supplier_id: Option<i64>,
    /// `YYYY-MM-DD`; today when absent.
    #[serde(default)]
    pub expense_date: Option<String>,
    /// Before tax, 2 decimals.
    pub amount: Amount,
    pub tax_code: String,
}

fn expense(id: i64) -> Result<Option<ExpenseRow>, Problem> {
    Ok(sql::query_one_as(&format!("SELECT {EXPENSE_COLUMNS} FROM expenses WHERE id = $1"), &params![id])?)
}

pub fn create_expense(req: &Request, Json(new): Json<NewExpense>) -> Result<Created<Expense>, Problem> {
    let user = req.caller().require_user()?.to_owned();
    let tenant = Tenant::load()?;
    let mut errors = Errors::default();
    let category = text(&mut errors, "category", &new.category, 1, 60);
    let description = text(&mut errors, "description", &new.description, 1, 500);
    errors.check(new.amount.0 > Decimal::ZERO, "amount", || "`amount` must be more than 0".into());
    errors.finish()?;
    if let Some(s) = new.supplier_id {
        parties::active_party(PartyKind::Supplier, "supplier_id", s)?;
    }
    let date = match &new.expense_date {
        Some(d) => crate::reports::date("expense_date", d)?,
        None => tenant.today()?,
    };
    let input = LineInput {
        quantity: Decimal::ONE,
        unit_price: new.amount.0,
        discount_percent: Decimal::ZERO,
        discount_amount: Decimal::ZERO,
        tax_code: new.tax_code.trim().to_owned(),
    };
    let totals = money::totals(tenant.country, &[input]).map_err(|e| invalid(e.field, e.message))?;
    let rows = sql::query(
        "INSERT INTO expenses (category, description, supplier_id, expense_date, currency, base_cents, tax_code, \
         tax_cents, total_cents, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         RETURNING id",
        &params![
            category,
            description,
            new.supplier_id,
            date,
            tenant.currency(),
            common::to_cents("amount", totals.base)?,
            new.tax_code.trim(),
            common::to_cents("tax", totals.tax)?,
            common::to_cents("total", totals.total)?,
            user,
            time::now_rfc3339()
        ],
    )?;
    expense(returned_id(&rows)?)?.map(|r| Created(r.into())).ok_or_else(Problem::not_found)
}

pub fn get_expense(req: &Request) -> Result<Json<Expense>, Problem> {
    expense(common::id(req)?)?.map(|r| Json(r.into())).ok_or_else(Problem::not_found)
}

pub fn list_expenses(req: &Request) -> Result<Json<Page<Expense>>, Problem> {
    let page = PageRequest::from_request(req)?;
    let mut filter = Filter::default();
    filter.eq(req, "category", "category");
    if let Some(from) = req.query_param("from") {
        filter.add("expense_date >= ?", crate::reports::date("from", from)?.into());
    }
    if let Some(to) = req.query_param("to") {
        filter.add("expense_date <= ?", crate::reports::date("to", to)?.into());
    }
    let (from, params) = filter.from("expenses");
    let rows: Page<ExpenseRow> = paged(EXPENSE_COLUMNS, &from, "expense_date DESC, id DESC", &params, page)?;
    Ok(Json(page.wrap(rows.items.into_iter().map(Expense::from).collect(), rows.total)))
}

/// Largest receipt file.
const MAX_RECEIPT_BYTES: usize = 10 << 20;
const RECEIPT_TYPES: [&str; 4] = ["application/pdf", "image/jpeg", "image/png", "application/xml"];

/// Stores the receipt (the raw body, a PDF, JPEG, PNG or XML) of an expense.
pub fn put_receipt(req: &Request) -> Result<Json<Expense>, Problem> {
    let e = expense(common::id(req)?)?.ok_or_else(Problem::not_found)?;
    let content_type = req.header("content-type").unwrap_or("").split(';').next().unwrap_or("").trim().to_owned();
    if !RECEIPT_TYPES.contains(&content_type.as_str()) {
        return Err(Problem::new(415, "Unsupported Media Type")
            .detail(format!("a receipt is one of {}, not {content_type:?}", RECEIPT_TYPES.join(", "))));
    }
    let body = req.body();
    if body.is_empty() || body.len() > MAX_RECEIPT_BYTES {
        return Err(invalid("body", format!("a receipt is 1 byte to {MAX_RECEIPT_BYTES} bytes")));
    }
    let key = format!("expenses/{}/receipt", e.id);
    blob::put(&key, body, &content_type)?;
    sql::execute(
        "UPDATE expenses SET receipt_key = $1, receipt_type = $2, receipt_size = $3 WHERE id = $4",
        &params![key.as_str(), content_type.as_str(), i64::try_from(body.len()).unwrap_or(i64::MAX), e.id],
    )?;
    expense(e.id)?.map(|r| Json(r.into())).ok_or_else(Problem::not_found)
}

pub fn get_receipt(req: &Request) -> Result<Response, Problem> {
    let e = expense(common::id(req)?)?.ok_or_else(Problem::not_found)?;
    let key = e.receipt_key.ok_or_else(|| Problem::not_found().detail("this expense has no receipt"))?;
    let object = blob::get(&key)?.ok_or_else(Problem::not_found)?;
    Ok(Response::bytes(&object.content_type, object.data))
}
