//! Reports over a period (`from`, `to`: the business's calendar days,
//! inclusive; this month by default): sales by day, by product and by
//! customer, stock valuation, and the tax summary per rate. Sums are done
//! by the database on integer cents, so they are exact; each report is
//! also a CSV download with `format=csv`.

use plaza_sdk::prelude::*;
use plaza_sdk::validation::invalid;
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{self, Tenant, cents};
use crate::money;

/// A date in a query or body: `YYYY-MM-DD`, or 422 naming `field`.
pub fn date(field: &str, value: &str) -> Result<String, Problem> {
    value
        .trim()
        .parse::<jiff::civil::Date>()
        .map(|d| d.to_string())
        .map_err(|_| invalid(field, format!("`{field}` is a date YYYY-MM-DD, not {value:?}")))
}

/// The period asked for: `from` and `to`, the first of this month to today by default.
fn period(req: &Request, tenant: &Tenant) -> Result<(String, String), Problem> {
    let today = tenant.today()?;
    let from = match req.query_param("from") {
        Some(f) => date("from", f)?,
        None => format!("{}-01", &today[..7]),
    };
    let to = match req.query_param("to") {
        Some(t) => date("to", t)?,
        None => today,
    };
    if from > to {
        return Err(invalid("to", format!("the period ends ({to}) before it starts ({from})")));
    }
    Ok((from, to))
}

fn wants_csv(req: &Request) -> Result<bool, Problem> {
    match req.query_param("format") {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(other) => Err(invalid("format", format!("`format` is json or csv, not {other:?}"))),
    }
}

/// Sales that count: confirmed or paid (not drafts, not cancelled).
const COUNTED: &str = "s.state IN ('confirmed', 'paid') AND s.issue_date >= $1 AND s.issue_date <= $2";

#[derive(Debug, Serialize, JsonSchema)]
pub struct Report<T> {
    pub from: String,
    pub to: String,
    pub currency: String,
    pub rows: Vec<T>,
}

// ----- sales by day -----

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct DayRow {
    pub day: String,
    pub sales: i64,
    pub base: String,
    pub tax: String,
    pub total: String,
}

#[derive(Deserialize)]
struct DaySums {
    day: String,
    sales: i64,
    base: i64,
    tax: i64,
    total: i64,
}

pub fn sales_by_day(req: &Request) -> Result<Response, Problem> {
    let tenant = Tenant::load()?;
    let (from, to) = period(req, &tenant)?;
    let sums: Vec<DaySums> = sql::query_as(
        &format!(
            "SELECT s.issue_date AS day, COUNT(*) AS sales, SUM(s.base_cents) AS base, SUM(s.tax_cents) AS tax, \
             SUM(s.total_cents) AS total FROM sales s WHERE {COUNTED} GROUP BY s.issue_date ORDER BY s.issue_date"
        ),
        &params![from.as_str(), to.as_str()],
    )?;
    let rows: Vec<DayRow> = sums
        .into_iter()
        .map(|s| DayRow { day: s.day, sales: s.sales, base: cents(s.base), tax: cents(s.tax), total: cents(s.total) })
        .collect();
    if wants_csv(req)? {
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| vec![r.day.clone(), r.sales.to_string(), r.base.clone(), r.tax.clone(), r.total.clone()])
            .collect();
        return common::csv_response("sales-by-day", &["day", "sales", "base", "tax", "total"], &table);
    }
    Ok(Json(Report { from, to, currency: tenant.currency().into(), rows }).into_response())
}

// ----- sales by product -----

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ProductSales {
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    pub quantity: String,
    pub net: String,
    pub tax: String,
}

pub fn sales_by_product(req: &Request) -> Result<Response, Problem> {
    #[derive(Deserialize)]
    struct Sums {
        product_id: i64,
        sku: String,
        name: String,
        quantity: i64,
        net: i64,
        tax: i64,
    }
    let tenant = Tenant::load()?;
    let (from, to) = period(req, &tenant)?;
    let sums: Vec<Sums> = sql::query_as(
        &format!(
            "SELECT l.product_id AS product_id, p.sku AS sku, p.name AS name, SUM(l.quantity_milli) AS quantity, \
             SUM(l.net_cents) AS net, SUM(l.tax_cents) AS tax FROM sale_lines l JOIN sales s ON s.id = l.sale_id \
             JOIN products p ON p.id = l.product_id WHERE {COUNTED} GROUP BY l.product_id, p.sku, p.name \
             ORDER BY SUM(l.net_cents) DESC, p.sku LIMIT 5000"
        ),
        &params![from.as_str(), to.as_str()],
    )?;
    let rows: Vec<ProductSales> = sums
        .into_iter()
        .map(|s| ProductSales {
            product_id: s.product_id,
            sku: s.sku,
            name: s.name,
            quantity: common::milli(s.quantity),
            net: cents(s.net),
            tax: cents(s.tax),
        })
        .collect();
    if wants_csv(req)? {
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| vec![r.sku.clone(), r.name.clone(), r.quantity.clone(), r.net.clone(), r.tax.clone()])
            .collect();
        return common::csv_response("sales-by-product", &["sku", "name", "quantity", "net", "tax"], &table);
    }
    Ok(Json(Report { from, to, currency: tenant.currency().into(), rows }).into_response())
}

// ----- sales by customer -----

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct CustomerSales {
    pub customer_id: i64,
    pub tax_id: String,
    pub name: String,
    pub sales: i64,
    pub total: String,
}

pub fn sales_by_customer(req: &Request) -> Result<Response, Problem> {
    #[derive(Deserialize)]
    struct Sums {
        customer_id: i64,
        tax_id: String,
        name: String,
        sales: i64,
        total: i64,
    }
    let tenant = Tenant::load()?;
    let (from, to) = period(req, &tenant)?;
    let sums: Vec<Sums> = sql::query_as(
        &format!(
            "SELECT s.customer_id AS customer_id, c.tax_id AS tax_id, c.name AS name, COUNT(*) AS sales, \
             SUM(s.total_cents) AS total FROM sales s JOIN parties c ON c.id = s.customer_id WHERE {COUNTED} \
             GROUP BY s.customer_id, c.tax_id, c.name ORDER BY SUM(s.total_cents) DESC, c.name LIMIT 5000"
        ),
        &params![from.as_str(), to.as_str()],
    )?;
    let rows: Vec<CustomerSales> = sums
        .into_iter()
        .map(|s| CustomerSales {
            customer_id: s.customer_id,
            tax_id: s.tax_id,
            name: s.name,
            sales: s.sales,
            total: cents(s.total),
        })
        .collect();
    if wants_csv(req)? {
        let table: Vec<Vec<String>> =
            rows.iter().map(|r| vec![r.tax_id.clone(), r.name.clone(), r.sales.to_string(), r.total.clone()]).collect();
        return common::csv_response("sales-by-customer", &["tax_id", "name", "sales", "total"], &table);
    }
    Ok(Json(Report { from, to, currency: tenant.currency().into(), rows }).into_response())
}

// ----- stock valuation -----

#[derive(Debug, Serialize, JsonSchema)]
pub struct Valuation {
    pub currency: String,
    pub rows: Vec<ValuedProduct>,
    /// Sum of every row's value.
    pub total: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ValuedProduct {
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    pub quantity: String,
    /// Weighted average cost.
    pub cost: String,
    /// quantity × cost, to the cent.
    pub value: String,
}

/// Stock on hand (all warehouses, or `warehouse_id`) at average cost.
pub fn stock_valuation(req: &Request) -> Result<Response, Problem> {
    #[derive(Deserialize)]
    struct OnHand {
        product_id: i64,
        sku: String,
        name: String,
        quantity: i64,
        cost: String,
    }
    let tenant = Tenant::load()?;
    let (clause, params) = match req.query_param("warehouse_id") {
        Some(w) => {
            let w: i64 =
                w.parse().map_err(|_| invalid("warehouse_id", format!("`warehouse_id` is a number, not {w:?}")))?;
            ("AND s.warehouse_id = $1", params![w].to_vec())
        }
        None => ("", Vec::new()),
    };
    let on_hand: Vec<OnHand> = sql::query_as(
        &format!(
            "SELECT p.id AS product_id, p.sku AS sku, p.name AS name, SUM(s.quantity_milli) AS quantity, p.cost AS cost \
             FROM stock_levels s JOIN products p ON p.id = s.product_id WHERE s.quantity_milli <> 0 {clause} \
             GROUP BY p.id, p.sku, p.name, p.cost ORDER BY p.sku LIMIT 9000"
        ),
        &params,
    )?;
    let mut total = Decimal::ZERO;
    let mut rows = Vec::with_capacity(on_hand.len());
    for r in on_hand {
        let cost = common::stored(&r.cost)?;
        let value = money::round2(common::from_milli(r.quantity) * cost);
        total += value;
        rows.push(ValuedProduct {
            product_id: r.product_id,
            sku: r.sku,
            name: r.name,
            quantity: common::milli(r.quantity),
            cost: r.cost,
            value: common::show(value, 2),
        });
    }
    if wants_csv(req)? {
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| vec![r.sku.clone(), r.name.clone(), r.quantity.clone(), r.cost.clone(), r.value.clone()])
            .collect();
        return common::csv_response("stock-valuation", &["sku", "name", "quantity", "cost", "value"], &table);
    }
    Ok(Json(Valuation { currency: tenant.currency().into(), rows, total: common::show(total, 2) }).into_response())
}

// ----- tax summary -----

#[derive(Debug, Serialize, JsonSchema)]
pub struct TaxSummary {
    pub from: String,
    pub to: String,
    pub currency: String,
    /// One row per rate used by the period's sales.
    pub rates: Vec<RateSum>,
    /// Sums of the rows: equal to the sums of the period's sales.
    pub base: String,
    pub tax: String,
    pub total: String,
    /// How many sales the period has.
    pub sales: i64,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct RateSum {
    pub tax_code: String,
    pub tax_percent: String,
    pub sri_code: Option<String>,
    pub base: String,
    pub tax: String,
}

pub fn tax_summary(req: &Request) -> Result<Response, Problem> {
    #[derive(Deserialize)]
    struct Sums {
        tax_code: String,
        tax_percent: String,
        sri_code: Option<String>,
        base: i64,
        tax: i64,
    }
    let tenant = Tenant::load()?;
    let (from, to) = period(req, &tenant)?;
    let mut sums: Vec<Sums> = sql::query_as(
        &format!(
            "SELECT t.tax_code AS tax_code, t.tax_percent AS tax_percent, MAX(t.sri_code) AS sri_code, \
             SUM(t.base_cents) AS base, SUM(t.tax_cents) AS tax FROM sale_taxes t JOIN sales s ON s.id = t.sale_id \
             WHERE {COUNTED} GROUP BY t.tax_code, t.tax_percent"
        ),
        &params![from.as_str(), to.as_str()],
    )?;
    let order = |code: &str| money::tax_table(tenant.country).iter().position(|t| t.code == code);
    sums.sort_by_key(|s| order(&s.tax_code));
    let sales =
        common::scalar(&format!("SELECT COUNT(*) FROM sales s WHERE {COUNTED}"), &params![from.as_str(), to.as_str()])?;
    let base: i64 = sums.iter().map(|s| s.base).sum();
    let tax: i64 = sums.iter().map(|s| s.tax).sum();
    let rates: Vec<RateSum> = sums
        .into_iter()
        .map(|s| RateSum {
            tax_code: s.tax_code,
            tax_percent: s.tax_percent,
            sri_code: s.sri_code,
            base: cents(s.base),
            tax: cents(s.tax),
        })
        .collect();
    if wants_csv(req)? {
        let table: Vec<Vec<String>> = rates
            .iter()
            .map(|r| vec![r.tax_code.clone(), r.tax_percent.clone(), r.base.clone(), r.tax.clone()])
            .collect();
        return common::csv_response("tax-summary", &["tax_code", "tax_percent", "base", "tax"], &table);
    }
    Ok(Json(TaxSummary {
        from,
        to,
        currency: tenant.currency().into(),
        rates,
        base: cents(base),
        tax: cents(tax),
        total: cents(base + tax),
        sales,
    })
    .into_response())
}
