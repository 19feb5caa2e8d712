//! Sales: `draft → confirmed → paid`, or `cancelled`. Confirmation draws
//! the series' next number, takes the stock and publishes
//! `erp.sale-confirmed` with the whole document, all in one transaction;
//! payments (cash with change, card, transfer, partial) then settle it.
//! Cancelling a confirmed sale returns its stock (movements `return`); its
//! number stays used, so the series keeps no gaps.

use plaza_sdk::listing::{Filter, Page, PageRequest, paged, returned_id};
use plaza_sdk::prelude::*;
use plaza_sdk::validation::{Errors, invalid};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalogue::{self, ProductRow};
use crate::common::{self, Amount, Company, Tenant, cents};
use crate::money::{self, LineInput};
use crate::parties::{self, Party, PartyKind};
use crate::series;
use crate::stock::{self, Move};

/// Where a sale is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaleState {
    Draft,
    Confirmed,
    Paid,
    Cancelled,
}

/// What can be done to a sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaleAction {
    Edit,
    Confirm,
    Pay,
    Cancel,
}

impl SaleState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Confirmed => "confirmed",
            Self::Paid => "paid",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Draft, Self::Confirmed, Self::Paid, Self::Cancelled].into_iter().find(|st| st.as_str() == s)
    }

    /// The state after `action`, or `None` when this state refuses it.
    pub fn after(self, action: SaleAction) -> Option<Self> {
        use SaleAction as A;
        use SaleState as S;
        match (self, action) {
            (S::Draft, A::Edit) => Some(S::Draft),
            (S::Draft, A::Confirm) => Some(S::Confirmed),
            (S::Confirmed, A::Pay) => Some(S::Confirmed),
            (S::Draft | S::Confirmed, A::Cancel) => Some(S::Cancelled),
            _ => None,
        }
    }
}

impl SaleAction {
    fn verb(self) -> &'static str {
        match self {
            Self::Edit => "edited",
            Self::Confirm => "confirmed",
            Self::Pay => "paid",
            Self::Cancel => "cancelled",
        }
    }
}

// ----- rows and views -----

#[derive(Debug, Clone, Deserialize)]
pub struct SaleRow {
    pub id: i64,
    pub state: String,
    pub series: String,
    pub number: Option<String>,
    pub customer_id: i64,
    pub warehouse_id: i64,
    pub seller: String,
    pub currency: String,
    pub notes: String,
    pub subtotal_cents: i64,
    pub discount_cents: i64,
    pub base_cents: i64,
    pub tax_cents: i64,
    pub total_cents: i64,
    pub paid_cents: i64,
    pub issue_date: Option<String>,
    pub version: i64,
    pub created_at: String,
    pub confirmed_at: Option<String>,
    pub paid_at: Option<String>,
    pub cancelled_at: Option<String>,
    pub updated_at: String,
}

const SALE_COLUMNS: &str = "id, state, series, number, customer_id, warehouse_id, seller, currency, notes, \
     subtotal_cents, discount_cents, base_cents, tax_cents, total_cents, paid_cents, issue_date, version, created_at, \
     confirmed_at, paid_at, cancelled_at, updated_at";

#[derive(Debug, Clone, Deserialize)]
struct LineRow {
    line_no: i64,
    product_id: i64,
    sku: String,
    description: String,
    quantity_milli: i64,
    unit_price: String,
    discount_percent: String,
    discount_amount: String,
    gross_cents: i64,
    discount_cents: i64,
    net_cents: i64,
    tax_code: String,
    tax_percent: String,
    tax_cents: i64,
}

#[derive(Debug, Clone, Deserialize)]
struct TaxRow {
    tax_code: String,
    tax_percent: String,
    sri_code: Option<String>,
    base_cents: i64,
    tax_cents: i64,
}

#[derive(Debug, Clone, Deserialize)]
struct PaymentRow {
    id: i64,
    method: String,
    amount_cents: i64,
    tendered_cents: i64,
    change_cents: i64,
    reference: Option<String>,
    user_id: String,
    at: String,
}

/// A sale with everything an invoice needs: the seller, the customer with
/// its tax id, the lines, the tax of each rate, the totals and payments.
/// Also the payload of `erp.sale-confirmed`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Sale {
    pub id: i64,
    /// `draft`, `confirmed`, `paid` or `cancelled`.
    pub state: String,
    pub series: String,
    /// `001-002-000000123` once confirmed.
    pub number: Option<String>,
    /// The business's calendar date of confirmation.
    pub issue_date: Option<String>,
    pub currency: String,
    pub seller: Seller,
    pub customer: Party,
    pub warehouse_id: i64,
    pub notes: String,
    pub lines: Vec<SaleLine>,
    /// One entry per tax rate: its base and its tax, computed once on the base.
    pub taxes: Vec<SaleTax>,
    /// Sum of quantity × unit price.
    pub subtotal: String,
    pub discount: String,
    /// Sum of the lines' nets: the taxable base.
    pub base: String,
    pub tax: String,
    pub total: String,
    pub paid: String,
    /// What is left to pay.
    pub due: String,
    pub payments: Vec<Payment>,
    pub version: i64,
    pub created_at: String,
    pub confirmed_at: Option<String>,
    pub paid_at: Option<String>,
    pub cancelled_at: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Seller {
    /// The user who made the sale.
    pub user_id: String,
    /// The business (the tenant's `company` setting).
    pub company: Company,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SaleLine {
    pub line_no: i64,
    pub product_id: i64,
    pub sku: String,
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
    pub discount_percent: String,
    pub discount_amount: String,
    /// quantity × unit price, to the cent.
    pub gross: String,
    pub discount: String,
    /// gross − discount: this line's taxable base.
    pub net: String,
    pub tax_code: String,
    pub tax_percent: String,
    /// This line's share of the tax, for display; the rate's tax in `taxes` is authoritative.
    pub tax: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SaleTax {
    pub tax_code: String,
    pub tax_percent: String,
    /// Ecuador: the SRI `codigoPorcentaje`.
    pub sri_code: Option<String>,
    pub base: String,
    pub tax: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Payment {
    pub id: i64,
    /// `cash`, `card` or `transfer`.
    pub method: String,
    pub amount: String,
    /// Cash handed over.
    pub tendered: String,
    /// Cash given back.
    pub change: String,
    pub reference: Option<String>,
    pub user_id: String,
    pub at: String,
}

/// A sale's lines as stored, in order.
fn line_rows(sale_id: i64) -> Result<Vec<LineRow>, Problem> {
    Ok(sql::query_as(
        "SELECT line_no, product_id, sku, description, quantity_milli, unit_price, discount_percent, discount_amount, \
         gross_cents, discount_cents, net_cents, tax_code, tax_percent, tax_cents FROM sale_lines WHERE sale_id = $1 \
         ORDER BY line_no",
        &params![sale_id],
    )?)
}

pub fn row(id: i64) -> Result<Option<SaleRow>, Problem> {
    Ok(sql::query_one_as(&format!("SELECT {SALE_COLUMNS} FROM sales WHERE id = $1"), &params![id])?)
}

fn found(req: &Request) -> Result<SaleRow, Problem> {
    row(common::id(req)?)?.ok_or_else(Problem::not_found)
}

fn state_of(sale: &SaleRow) -> Result<SaleState, Problem> {
    SaleState::parse(&sale.state)
        .ok_or_else(|| Problem::internal(format!("sale {} has state {:?}", sale.id, sale.state)))
}

/// The state after `action`, or the 409 naming the current state.
fn allow(sale: &SaleRow, action: SaleAction) -> Result<SaleState, Problem> {
    state_of(sale)?.after(action).ok_or_else(|| common::state_conflict("sale", &sale.state, action.verb()))
}

/// The whole document of a sale.
pub fn full(tenant: &Tenant, r: SaleRow) -> Result<Sale, Problem> {
    let lines = line_rows(r.id)?;
    let taxes: Vec<TaxRow> = sql::query_as(
        "SELECT tax_code, tax_percent, sri_code, base_cents, tax_cents FROM sale_taxes WHERE sale_id = $1",
        &params![r.id],
    )?;
    let order = |code: &str| money::tax_table(tenant.country).iter().position(|t| t.code == code);
    let mut taxes = taxes;
    taxes.sort_by_key(|t| order(&t.tax_code));
    let payments: Vec<PaymentRow> = sql::query_as(
        "SELECT id, method, amount_cents, tendered_cents, change_cents, reference, user_id, at FROM payments \
         WHERE sale_id = $1 ORDER BY id",
        &params![r.id],
    )?;
    let customer = parties::party(PartyKind::Customer, r.customer_id)?
        .ok_or_else(|| Problem::internal(format!("sale {} names no customer", r.id)))?;
    Ok(Sale {
        id: r.id,
        state: r.state,
        series: r.series,
        number: r.number,
        issue_date: r.issue_date,
        currency: r.currency,
        seller: Seller { user_id: r.seller, company: tenant.company.clone() },
        customer: customer.into(),
        warehouse_id: r.warehouse_id,
        notes: r.notes,
        lines: lines
            .into_iter()
            .map(|l| SaleLine {
                line_no: l.line_no,
                product_id: l.product_id,
                sku: l.sku,
                description: l.description,
                quantity: common::milli(l.quantity_milli),
                unit_price: l.unit_price,
                discount_percent: l.discount_percent,
                discount_amount: l.discount_amount,
                gross: cents(l.gross_cents),
                discount: cents(l.discount_cents),
                net: cents(l.net_cents),
                tax_code: l.tax_code,
                tax_percent: l.tax_percent,
                tax: cents(l.tax_cents),
            })
            .collect(),
        taxes: taxes
            .into_iter()
            .map(|t| SaleTax {
                tax_code: t.tax_code,
                tax_percent: t.tax_percent,
                sri_code: t.sri_code,
                base: cents(t.base_cents),
                tax: cents(t.tax_cents),
            })
            .collect(),
        subtotal: cents(r.subtotal_cents),
        discount: cents(r.discount_cents),
        base: cents(r.base_cents),
        tax: cents(r.tax_cents),
        total: cents(r.total_cents),
        paid: cents(r.paid_cents),
        due: cents(r.total_cents - r.paid_cents),
        payments: payments
            .into_iter()
            .map(|p| Payment {
                id: p.id,
                method: p.method,
                amount: cents(p.amount_cents),
                tendered: cents(p.tendered_cents),
                change: cents(p.change_cents),
                reference: p.reference,
                user_id: p.user_id,
                at: p.at,
            })
            .collect(),
        version: r.version,
        created_at: r.created_at,
        confirmed_at: r.confirmed_at,
        paid_at: r.paid_at,
        cancelled_at: r.cancelled_at,
        updated_at: r.updated_at,
    })
}

// ----- writing a sale -----

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewLine {
    pub product_id: i64,
    /// More than 0, up to 3 decimals (`0.750` kg).
    pub quantity: Amount,
    /// The product's price when absent.
    #[serde(default)]
    pub unit_price: Option<Amount>,
    /// 0 to 100.
    #[serde(default)]
    pub discount_percent: Option<Amount>,
    /// An amount off the line, after the percentage.
    #[serde(default)]
    pub discount_amount: Option<Amount>,
    /// The product's name when absent.
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewSale {
    /// The final consumer when absent.
    #[serde(default)]
    pub customer_id: Option<i64>,
    /// The first active warehouse when absent.
    #[serde(default)]
    pub warehouse_id: Option<i64>,
    /// `001-002`; the `default_series` setting, or the only series, when absent.
    #[serde(default)]
    pub series: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    pub lines: Vec<NewLine>,
    /// Confirm at once (a point-of-sale ticket): numbered and stock taken.
    #[serde(default)]
    pub confirm: bool,
    /// Payments taken at once (needs `confirm`).
    #[serde(default)]
    pub payments: Vec<NewPayment>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SaleChange {
    pub customer_id: Option<i64>,
    pub warehouse_id: Option<i64>,
    pub series: Option<String>,
    pub notes: Option<String>,
    /// Replaces every line.
    pub lines: Option<Vec<NewLine>>,
    /// The version read: a stale one is a 409.
    pub version: Option<i64>,
}

/// Most lines a sale may have: writing and confirming one costs about six
/// SQL statements per line, and a call may run 1,000.
pub const MAX_LINES: usize = 100;

/// A sale's lines, priced and taxed, ready to store.
struct Priced {
    lines: Vec<(ProductRow, String, i64, LineInput)>,
    totals: money::Totals,
}

fn price(tenant: &Tenant, lines: &[NewLine]) -> Result<Priced, Problem> {
    if lines.is_empty() {
        return Err(invalid("lines", "a sale has at least one line"));
    }
    if lines.len() > MAX_LINES {
        return Err(invalid("lines", format!("a sale has at most {MAX_LINES} lines")));
    }
    let mut errors = Errors::default();
    let mut priced = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let Some(product) = catalogue::product_row(l.product_id)? else {
            errors.add(&format!("lines[{i}].product_id"), format!("there is no product {}", l.product_id));
            continue;
        };
        if !product.active {
            errors.add(&format!("lines[{i}].product_id"), format!("product {} is inactive", product.sku));
        }
        let quantity = match common::to_milli(&format!("lines[{i}].quantity"), l.quantity.0) {
            Ok(q) => q,
            Err(_) => {
                errors.add(&format!("lines[{i}].quantity"), "a quantity has at most 3 decimals");
                0
            }
        };
        let unit_price = match l.unit_price {
            Some(p) => p.0,
            None => common::stored(&product.price)?,
        };
        let description = l.description.as_deref().map(str::trim).filter(|d| !d.is_empty()).unwrap_or(&product.name);
        let description = description.chars().take(300).collect::<String>();
        let input = LineInput {
            quantity: l.quantity.0,
            unit_price,
            discount_percent: l.discount_percent.map(|a| a.0).unwrap_or_default(),
            discount_amount: l.discount_amount.map(|a| a.0).unwrap_or_default(),
            tax_code: product.tax_code.clone(),
        };
        priced.push((product, description, quantity, input));
    }
    errors.finish()?;
    let inputs: Vec<LineInput> = priced.iter().map(|(_, _, _, i)| i.clone()).collect();
    let totals = money::totals(tenant.country, &inputs).map_err(|e| {
        let field = match e.line {
            Some(i) => format!("lines[{i}].{}", e.field),
            None => e.field.to_owned(),
        };
        invalid(&field, e.message)
    })?;
    Ok(Priced { lines: priced, totals })
}

fn store_lines(sale_id: i64, priced: &Priced) -> Result<(), Problem> {
    sql::execute("DELETE FROM sale_lines WHERE sale_id = $1", &params![sale_id])?;
    sql::execute("DELETE FROM sale_taxes WHERE sale_id = $1", &params![sale_id])?;
    for (n, ((product, description, quantity, input), t)) in priced.lines.iter().zip(&priced.totals.lines).enumerate() {
        sql::execute(
            "INSERT INTO sale_lines (sale_id, line_no, product_id, sku, description, quantity_milli, unit_price, \
             discount_percent, discount_amount, gross_cents, discount_cents, net_cents, tax_code, tax_percent, \
             tax_cents, unit_cost) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            &params![
                sale_id,
                i64::try_from(n + 1).unwrap_or(i64::MAX),
                product.id,
                product.sku.as_str(),
                description.as_str(),
                *quantity,
                common::show(input.unit_price, 2),
                input.discount_percent.normalize().to_string(),
                common::show(input.discount_amount, 2),
                common::to_cents("gross", t.gross)?,
                common::to_cents("discount", t.discount)?,
                common::to_cents("net", t.net)?,
                t.tax_code.as_str(),
                t.tax_percent.normalize().to_string(),
                common::to_cents("tax", t.tax)?,
                product.cost.as_str()
            ],
        )?;
    }
    for r in &priced.totals.by_rate {
        sql::execute(
            "INSERT INTO sale_taxes (sale_id, tax_code, tax_percent, sri_code, base_cents, tax_cents) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &params![
                sale_id,
                r.tax_code.as_str(),
                r.tax_percent.normalize().to_string(),
                r.sri_code.as_deref(),
                common::to_cents("base", r.base)?,
                common::to_cents("tax", r.tax)?
            ],
        )?;
    }
    Ok(())
}

struct Header {
    customer_id: i64,
    warehouse_id: i64,
    series: String,
    notes: String,
}

fn header(
    tenant: &Tenant,
    customer: Option<i64>,
    warehouse: Option<i64>,
    series_code: Option<&str>,
    notes: Option<&str>,
) -> Result<Header, Problem> {
    let customer_id = match customer {
        Some(id) => parties::active_party(PartyKind::Customer, "customer_id", id)?.id,
        None => parties::final_consumer(tenant)?.id,
    };
    let warehouse_id = match warehouse {
        Some(id) => catalogue::active_warehouse("warehouse_id", id)?.id,
        None => catalogue::default_warehouse()?.id,
    };
    let series = series::resolve(series_code, tenant.default_series.as_deref())?.code;
    let notes = notes.unwrap_or("").trim().chars().take(2000).collect();
    Ok(Header { customer_id, warehouse_id, series, notes })
}

fn totals_cents(t: &money::Totals) -> Result<[i64; 5], Problem> {
    Ok([
        common::to_cents("subtotal", t.subtotal)?,
        common::to_cents("discount", t.discount)?,
        common::to_cents("base", t.base)?,
        common::to_cents("tax", t.tax)?,
        common::to_cents("total", t.total)?,
    ])
}

pub fn create(req: &Request, Json(new): Json<NewSale>) -> Result<Created<Sale>, Problem> {
    let user = req.caller().require_user()?.to_owned();
    let tenant = Tenant::load()?;
    if !new.payments.is_empty() && !new.confirm {
        return Err(invalid("payments", "payments are taken with `confirm: true`, or later on a confirmed sale"));
    }
    let h = header(&tenant, new.customer_id, new.warehouse_id, new.series.as_deref(), new.notes.as_deref())?;
    let priced = price(&tenant, &new.lines)?;
    let [subtotal, discount, base, tax, total] = totals_cents(&priced.totals)?;
    let now = time::now_rfc3339();
    let id = sql::transaction(|| -> Result<i64, Problem> {
        let rows = sql::query(
            "INSERT INTO sales (state, series, customer_id, warehouse_id, seller, currency, notes, subtotal_cents, \
             discount_cents, base_cents, tax_cents, total_cents, paid_cents, version, created_at, updated_at) \
             VALUES ('draft', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, 1, $12, $12) RETURNING id",
            &params![
                h.series.as_str(),
                h.customer_id,
                h.warehouse_id,
                user.as_str(),
                tenant.currency(),
                h.notes.as_str(),
                subtotal,
                discount,
                base,
                tax,
                total,
                now.as_str()
            ],
        )?;
        let id = returned_id(&rows)?;
        store_lines(id, &priced)?;
        if new.confirm {
            let draft = row(id)?.ok_or_else(Problem::not_found)?;
            confirm_in_tx(&tenant, &draft, &user)?;
            for p in &new.payments {
                pay_in_tx(id, p, &user)?;
            }
            // Published with the payments taken at the counter.
            publish_confirmed(&tenant, id)?;
        }
        Ok(id)
    })?;
    full(&tenant, row(id)?.ok_or_else(Problem::not_found)?).map(Created)
}

pub fn get(req: &Request) -> Result<Json<Sale>, Problem> {
    let tenant = Tenant::load()?;
    full(&tenant, found(req)?).map(Json)
}

pub fn update(req: &Request, Json(change): Json<SaleChange>) -> Result<Json<Sale>, Problem> {
    let tenant = Tenant::load()?;
    let sale = found(req)?;
    allow(&sale, SaleAction::Edit)?;
    if change.version.is_some_and(|v| v != sale.version) {
        return Err(common::changed_meanwhile("sale"));
    }
    let h = header(
        &tenant,
        Some(change.customer_id.unwrap_or(sale.customer_id)),
        Some(change.warehouse_id.unwrap_or(sale.warehouse_id)),
        Some(change.series.as_deref().unwrap_or(&sale.series)),
        Some(change.notes.as_deref().unwrap_or(&sale.notes)),
    )?;
    let lines = match change.lines {
        Some(lines) => lines,
        None => current_lines(sale.id)?,
    };
    let priced = price(&tenant, &lines)?;
    let [subtotal, discount, base, tax, total] = totals_cents(&priced.totals)?;
    sql::transaction(|| -> Result<(), Problem> {
        let n = sql::execute(
            "UPDATE sales SET customer_id = $1, warehouse_id = $2, series = $3, notes = $4, subtotal_cents = $5, \
             discount_cents = $6, base_cents = $7, tax_cents = $8, total_cents = $9, version = version + 1, \
             updated_at = $10 WHERE id = $11 AND version = $12 AND state = 'draft'",
            &params![
                h.customer_id,
                h.warehouse_id,
                h.series.as_str(),
                h.notes.as_str(),
                subtotal,
                discount,
                base,
                tax,
                total,
                time::now_rfc3339(),
                sale.id,
                sale.version
            ],
        )?;
        if n == 0 {
            return Err(common::changed_meanwhile("sale"));
        }
        store_lines(sale.id, &priced)
    })?;
    full(&tenant, row(sale.id)?.ok_or_else(Problem::not_found)?).map(Json)
}

/// A draft's lines as they were written (prices as stored).
fn current_lines(sale_id: i64) -> Result<Vec<NewLine>, Problem> {
    let rows = line_rows(sale_id)?;
    rows.into_iter()
        .map(|l| {
            Ok(NewLine {
                product_id: l.product_id,
                quantity: Amount(common::from_milli(l.quantity_milli)),
                unit_price: Some(Amount(common::stored(&l.unit_price)?)),
                discount_percent: Some(Amount(common::stored(&l.discount_percent)?)),
                discount_amount: Some(Amount(common::stored(&l.discount_amount)?)),
                description: Some(l.description),
            })
        })
        .collect()
}

/// Numbers the draft and takes its stock, inside the caller's transaction,
/// so a refusal gives the number back. A sale with nothing to pay (every
/// line given away) is paid at once. The caller publishes the event.
fn confirm_in_tx(tenant: &Tenant, sale: &SaleRow, user: &str) -> Result<(), Problem> {
    let (_, number) = series::draw(&sale.series)?;
    let mut lines = line_rows(sale.id)?;
    // Stock rows are taken in product order, whatever the lines' order: two
    // sales of the same products never wait for each other in a cycle.
    lines.sort_by_key(|l| l.product_id);
    let reference = format!("sale:{}", sale.id);
    for l in &lines {
        let product = catalogue::product_row(l.product_id)?.ok_or_else(Problem::not_found)?;
        stock::apply(
            &Move {
                product: &product,
                warehouse_id: sale.warehouse_id,
                kind: "sale",
                quantity_milli: -l.quantity_milli,
                unit_cost: Some(product.cost.clone()),
                reference: Some(reference.clone()),
                reason: None,
            },
            user,
            tenant.allow_negative_stock,
        )?;
    }
    let now = time::now_rfc3339();
    let n = sql::execute(
        "UPDATE sales SET state = 'confirmed', number = $1, issue_date = $2, confirmed_at = $3, version = version + 1, \
         updated_at = $3 WHERE id = $4 AND version = $5 AND state = 'draft'",
        &params![number, tenant.today()?, now.as_str(), sale.id, sale.version],
    )?;
    if n == 0 {
        return Err(common::changed_meanwhile("sale"));
    }
    sql::execute(
        "UPDATE sales SET state = 'paid', paid_at = $1 WHERE id = $2 AND total_cents = 0",
        &params![now, sale.id],
    )?;
    Ok(())
}

/// Publishes `erp.sale-confirmed` with the whole document, inside the
/// confirming transaction (the event exists if and only if the sale does).
fn publish_confirmed(tenant: &Tenant, id: i64) -> Result<(), Problem> {
    let document = full(tenant, row(id)?.ok_or_else(Problem::not_found)?)?;
    events::publish("erp.sale-confirmed", &document)?;
    Ok(())
}

pub fn confirm(req: &Request) -> Result<Json<Sale>, Problem> {
    let user = req.caller().require_user()?.to_owned();
    let tenant = Tenant::load()?;
    let sale = found(req)?;
    allow(&sale, SaleAction::Confirm)?;
    sql::transaction(|| {
        confirm_in_tx(&tenant, &sale, &user)?;
        publish_confirmed(&tenant, sale.id)
    })?;
    full(&tenant, row(sale.id)?.ok_or_else(Problem::not_found)?).map(Json)
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewPayment {
    /// `cash`, `card` or `transfer`.
    pub method: String,
    /// What this payment settles; for cash, at most what is due and by
    /// default `min(tendered, due)`. Required for card and transfer.
    #[serde(default)]
    pub amount: Option<Amount>,
    /// Cash: what the customer handed over; the change is computed.
    #[serde(default)]
    pub tendered: Option<Amount>,
    /// Card authorisation or transfer reference.
    #[serde(default)]
    pub reference: Option<String>,
}

fn pay_in_tx(sale_id: i64, p: &NewPayment, user: &str) -> Result<(), Problem> {
    let sale = row(sale_id)?.ok_or_else(Problem::not_found)?;
    allow(&sale, SaleAction::Pay)?;
    let due = common::from_cents(sale.total_cents - sale.paid_cents);
    let (amount, tendered) = match p.method.as_str() {
        "cash" => {
            let tendered = p.tendered.or(p.amount).map(|a| a.0).ok_or_else(|| {
                invalid("tendered", "a cash payment names what was handed over (`tendered`) or its `amount`")
            })?;
            let amount = p.amount.map(|a| a.0).unwrap_or_else(|| tendered.min(due));
            if tendered < amount {
                return Err(invalid("tendered", format!("{tendered} handed over does not cover {amount}")));
            }
            (amount, tendered)
        }
        "card" | "transfer" => {
            let amount =
                p.amount.map(|a| a.0).ok_or_else(|| invalid("amount", "a card or transfer payment has an `amount`"))?;
            (amount, amount)
        }
        other => return Err(invalid("method", format!("`method` is cash, card or transfer, not {other:?}"))),
    };
    if amount <= Decimal::ZERO {
        return Err(invalid("amount", "a payment is more than 0"));
    }
    if amount > due {
        return Err(invalid("amount", format!("{amount} is more than the {due} due")));
    }
    let change = money::change(amount, tendered);
    let amount_cents = common::to_cents("amount", amount)?;
    let n = sql::execute(
        "UPDATE sales SET paid_cents = paid_cents + $1, version = version + 1, updated_at = $2 \
         WHERE id = $3 AND state = 'confirmed' AND paid_cents + $1 <= total_cents",
        &params![amount_cents, time::now_rfc3339(), sale.id],
    )?;
    if n == 0 {
        return Err(common::changed_meanwhile("sale"));
    }
    sql::execute(
        "INSERT INTO payments (sale_id, method, amount_cents, tendered_cents, change_cents, reference, user_id, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &params![
            sale.id,
            p.method.as_str(),
            amount_cents,
            common::to_cents("tendered", tendered)?,
            common::to_cents("change", change)?,
            p.reference.as_deref().map(str::trim),
            user,
            time::now_rfc3339()
        ],
    )?;
    let now = time::now_rfc3339();
    sql::execute(
        "UPDATE sales SET state = 'paid', paid_at = $1 WHERE id = $2 AND state = 'confirmed' AND paid_cents = total_cents",
        &params![now, sale.id],
    )?;
    Ok(())
}

pub fn pay(req: &Request, Json(p): Json<NewPayment>) -> Result<Created<Sale>, Problem> {
    let user = req.caller().require_user()?.to_owned();
    let tenant = Tenant::load()?;
    let sale = found(req)?;
    allow(&sale, SaleAction::Pay)?;
    sql::transaction(|| pay_in_tx(sale.id, &p, &user))?;
    full(&tenant, row(sale.id)?.ok_or_else(Problem::not_found)?).map(Created)
}

pub fn cancel(req: &Request) -> Result<Json<Sale>, Problem> {
    let user = req.caller().require_user()?.to_owned();
    let tenant = Tenant::load()?;
    let sale = found(req)?;
    allow(&sale, SaleAction::Cancel)?;
    if sale.paid_cents > 0 {
        return Err(common::state_conflict("sale", &sale.state, "cancelled").detail(
            "a sale with payments cannot be cancelled: it was partly paid (returns and credit notes are not part \
             of this module yet)",
        ));
    }
    sql::transaction(|| -> Result<(), Problem> {
        let now = time::now_rfc3339();
        let n = sql::execute(
            "UPDATE sales SET state = 'cancelled', cancelled_at = $1, version = version + 1, updated_at = $1 \
             WHERE id = $2 AND version = $3 AND state = $4",
            &params![now, sale.id, sale.version, sale.state.as_str()],
        )?;
        if n == 0 {
            return Err(common::changed_meanwhile("sale"));
        }
        if sale.state == SaleState::Confirmed.as_str() {
            // The stock the sale took comes back.
            let reference = format!("sale:{}", sale.id);
            #[derive(Deserialize)]
            struct Out {
                product_id: i64,
                warehouse_id: i64,
                quantity_milli: i64,
                unit_cost: Option<String>,
            }
            let taken: Vec<Out> = sql::query_as(
                "SELECT product_id, warehouse_id, quantity_milli, unit_cost FROM stock_movements \
                 WHERE reference = $1 AND kind = 'sale' ORDER BY product_id",
                &params![reference.as_str()],
            )?;
            for t in taken {
                let product = catalogue::product_row(t.product_id)?.ok_or_else(Problem::not_found)?;
                stock::apply(
                    &Move {
                        product: &product,
                        warehouse_id: t.warehouse_id,
                        kind: "return",
                        quantity_milli: -t.quantity_milli,
                        unit_cost: t.unit_cost,
                        reference: Some(reference.clone()),
                        reason: Some("sale cancelled".into()),
                    },
                    &user,
                    true,
                )?;
            }
            events::publish("erp.sale-cancelled", &serde_json::json!({ "id": sale.id, "number": sale.number }))?;
        }
        Ok(())
    })?;
    full(&tenant, row(sale.id)?.ok_or_else(Problem::not_found)?).map(Json)
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SaleSummary {
    pub id: i64,
    pub state: String,
    pub number: Option<String>,
    pub issue_date: Option<String>,
    pub customer_id: i64,
    pub currency: String,
    pub total: String,
    pub paid: String,
    pub created_at: String,
}

pub fn list(req: &Request) -> Result<Json<Page<SaleSummary>>, Problem> {
    let page = PageRequest::from_request(req)?;
    let mut filter = Filter::default();
    if let Some(s) = req.query_param("state") {
        let state = SaleState::parse(s)
            .ok_or_else(|| invalid("state", format!("`state` is draft, confirmed, paid or cancelled, not {s:?}")))?;
        filter.add("state = ?", state.as_str().into());
    }
    filter.eq(req, "number", "number");
    filter.eq_int(req, "customer_id", "customer_id")?;
    filter.eq(req, "series", "series");
    if let Some(from) = req.query_param("from") {
        filter.add("issue_date >= ?", crate::reports::date("from", from)?.into());
    }
    if let Some(to) = req.query_param("to") {
        filter.add("issue_date <= ?", crate::reports::date("to", to)?.into());
    }
    let (from, params) = filter.from("sales");
    let rows: Page<SaleRow> = paged(SALE_COLUMNS, &from, "id DESC", &params, page)?;
    let items = rows
        .items
        .into_iter()
        .map(|r| SaleSummary {
            id: r.id,
            state: r.state,
            number: r.number,
            issue_date: r.issue_date,
            customer_id: r.customer_id,
            currency: r.currency,
            total: cents(r.total_cents),
            paid: cents(r.paid_cents),
            created_at: r.created_at,
        })
        .collect();
    Ok(Json(page.wrap(items, rows.total)))
}

/// The point-of-sale ticket, as plain text 42 columns wide.
pub fn receipt(req: &Request) -> Result<Response, Problem> {
    let tenant = Tenant::load()?;
    let sale = full(&tenant, found(req)?)?;
    Ok(Response::bytes("text/plain; charset=utf-8", receipt_text(&sale)))
}

pub fn receipt_text(sale: &Sale) -> String {
    const W: usize = 42;
    let mut out = String::new();
    let mut line = |s: &str| {
        out.push_str(s);
        out.push('\n');
    };
    let right = |label: &str, value: &str| {
        let pad = W.saturating_sub(label.chars().count() + value.chars().count());
        format!("{label}{}{value}", " ".repeat(pad))
    };
    let company = &sale.seller.company;
    if let Some(trade) = company.trade_name.as_deref().filter(|t| !t.is_empty()) {
        line(trade);
    }
    if !company.name.is_empty() {
        line(&company.name);
    }
    if !company.tax_id.is_empty() {
        line(&format!("RUC/NIF {}", company.tax_id));
    }
    if let Some(a) = &company.address {
        line(a);
    }
    line(&"-".repeat(W));
    line(&format!("No. {}", sale.number.as_deref().unwrap_or("(draft)")));
    if let Some(d) = &sale.issue_date {
        line(&format!("Date {d}"));
    }
    line(&format!("Customer {} ({})", sale.customer.name, sale.customer.tax_id));
    line(&"-".repeat(W));
    for l in &sale.lines {
        line(&l.description.chars().take(W).collect::<String>());
        line(&right(&format!("  {} x {}", l.quantity, l.unit_price), &l.gross));
        if l.discount != "0.00" {
            line(&right("  discount", &format!("-{}", l.discount)));
        }
    }
    line(&"-".repeat(W));
    line(&right("Subtotal", &sale.base));
    for t in &sale.taxes {
        line(&right(&format!("  base {} ({} %)", t.tax_code, t.tax_percent), &t.base));
        if t.tax != "0.00" {
            line(&right(&format!("  IVA {} %", t.tax_percent), &t.tax));
        }
    }
    line(&right(&format!("TOTAL {}", sale.currency), &sale.total));
    for p in &sale.payments {
        line(&right(&format!("  {}", p.method), &p.tendered));
        if p.change != "0.00" {
            line(&right("  change", &p.change));
        }
    }
    if sale.due != "0.00" {
        line(&right("Due", &sale.due));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_machine_refuses_what_it_must() {
        use SaleAction as A;
        use SaleState as S;
        assert_eq!(S::Draft.after(A::Confirm), Some(S::Confirmed));
        assert_eq!(S::Draft.after(A::Pay), None);
        assert_eq!(S::Confirmed.after(A::Edit), None);
        assert_eq!(S::Confirmed.after(A::Cancel), Some(S::Cancelled));
        for action in [A::Edit, A::Confirm, A::Pay, A::Cancel] {
            assert_eq!(S::Paid.after(action), None);
            assert_eq!(S::Cancelled.after(action), None);
        }
    }
}
