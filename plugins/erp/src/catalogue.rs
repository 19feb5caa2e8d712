//! The catalogue: categories (a tree), products with their tenant-defined
//! fields, and warehouses.

use plaza_sdk::listing::{Filter, Page, PageRequest, paged, returned_id};
use plaza_sdk::prelude::*;
use plaza_sdk::validation::{Errors, invalid, present, text};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Map;

use crate::common::{self, Amount, Tenant, on_conflict};
use crate::money;

// ----- categories -----

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Category {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub parent_id: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

const CATEGORY_COLUMNS: &str = "id, code, name, parent_id, created_at, updated_at";

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewCategory {
    /// Unique: letters, digits, `-`, `_`, 1 to 40.
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub parent_id: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CategoryChange {
    pub name: Option<String>,
    /// A new parent; `null` makes the category a root.
    #[serde(default, deserialize_with = "present")]
    pub parent_id: Option<Option<i64>>,
}

pub fn category(id: i64) -> Result<Option<Category>, Problem> {
    Ok(sql::query_one_as(&format!("SELECT {CATEGORY_COLUMNS} FROM categories WHERE id = $1"), &params![id])?)
}

fn check_code(errors: &mut Errors, field: &str, code: &str, max: usize) -> String {
    let code = code.trim();
    errors.check(
        !code.is_empty()
            && code.chars().count() <= max
            && code.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')),
        field,
        || format!("`{field}` must be 1 to {max} letters, digits, `-`, `_`, `.` or `/`, not {code:?}"),
    );
    code.to_owned()
}

pub fn list_categories(_req: &Request) -> Result<Json<Vec<Category>>, Problem> {
    Ok(Json(sql::query_as(&format!("SELECT {CATEGORY_COLUMNS} FROM categories ORDER BY code LIMIT 5000"), &[])?))
}

pub fn get_category(req: &Request) -> Result<Json<Category>, Problem> {
    category(common::id(req)?)?.map(Json).ok_or_else(Problem::not_found)
}

pub fn create_category(_req: &Request, Json(new): Json<NewCategory>) -> Result<Created<Category>, Problem> {
    let mut errors = Errors::default();
    let code = check_code(&mut errors, "code", &new.code, 40);
    let name = text(&mut errors, "name", &new.name, 1, 120);
    errors.finish()?;
    if let Some(parent) = new.parent_id
        && category(parent)?.is_none()
    {
        return Err(invalid("parent_id", format!("there is no category {parent}")));
    }
    let now = time::now_rfc3339();
    let rows = sql::query(
        "INSERT INTO categories (code, name, parent_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id",
        &params![code.as_str(), name, new.parent_id, now],
    )
    .map_err(on_conflict("code", format!("category {code} already exists")))?;
    category(returned_id(&rows)?)?.map(Created).ok_or_else(Problem::not_found)
}

pub fn update_category(req: &Request, Json(change): Json<CategoryChange>) -> Result<Json<Category>, Problem> {
    let id = common::id(req)?;
    let current = category(id)?.ok_or_else(Problem::not_found)?;
    let mut errors = Errors::default();
    let name = change.name.as_deref().map(|n| text(&mut errors, "name", n, 1, 120));
    errors.finish()?;
    let parent = match change.parent_id {
        Some(Some(parent)) => {
            // No cycles: the new parent must not be this category or below it.
            let mut at = Some(parent);
            let mut hops = 0;
            while let Some(c) = at {
                let found = category(c)?.ok_or_else(|| invalid("parent_id", format!("there is no category {c}")))?;
                if c == id {
                    return Err(invalid("parent_id", format!("category {parent} is {id} or below it")));
                }
                hops += 1;
                at = if hops > 64 { None } else { found.parent_id };
            }
            Some(parent)
        }
        Some(None) => None,
        None => current.parent_id,
    };
    sql::execute(
        "UPDATE categories SET name = $1, parent_id = $2, updated_at = $3 WHERE id = $4",
        &params![name.unwrap_or(current.name), parent, time::now_rfc3339(), id],
    )?;
    category(id)?.map(Json).ok_or_else(Problem::not_found)
}

// ----- products -----

/// A product as stored.
#[derive(Debug, Clone, Deserialize)]
pub struct ProductRow {
    pub id: i64,
    pub sku: String,
    pub barcode: Option<String>,
    pub name: String,
    pub category_id: Option<i64>,
    pub unit: String,
    pub price: String,
    pub cost: String,
    pub tax_code: String,
    pub active: bool,
    pub low_stock_milli: Option<i64>,
    pub custom: String,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

pub const PRODUCT_COLUMNS: &str = "id, sku, barcode, name, category_id, unit, price, cost, tax_code, active, \
                                   low_stock_milli, custom, version, created_at, updated_at";

/// A product as the API shows it; amounts are decimal strings.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub barcode: Option<String>,
    pub name: String,
    pub category_id: Option<i64>,
    pub unit: String,
    /// Sale price before tax.
    pub price: String,
    /// Weighted average cost.
    pub cost: String,
    pub tax_code: String,
    pub tax_percent: String,
    pub active: bool,
    pub low_stock_threshold: Option<String>,
    /// Units in stock, all warehouses together.
    pub stock: String,
    pub custom: Map<String, serde_json::Value>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl ProductRow {
    fn view(self, tenant: &Tenant, stock_milli: i64) -> Product {
        let percent = money::tax_rate(tenant.country, &self.tax_code).map(|r| r.percent).unwrap_or_default();
        Product {
            id: self.id,
            sku: self.sku,
            barcode: self.barcode,
            name: self.name,
            category_id: self.category_id,
            unit: self.unit,
            price: self.price,
            cost: self.cost,
            tax_code: self.tax_code,
            tax_percent: percent.normalize().to_string(),
            active: self.active,
            low_stock_threshold: self.low_stock_milli.map(common::milli),
            stock: common::milli(stock_milli),
            custom: serde_json::from_str(&self.custom).unwrap_or_default(),
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

pub fn product_row(id: i64) -> Result<Option<ProductRow>, Problem> {
    Ok(sql::query_one_as(&format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1"), &params![id])?)
}

fn stock_of(id: i64) -> Result<i64, Problem> {
    common::scalar("SELECT SUM(quantity_milli) FROM stock_levels WHERE product_id = $1", &params![id])
}

fn product_view(tenant: &Tenant, row: ProductRow) -> Result<Product, Problem> {
    let stock = stock_of(row.id)?;
    Ok(row.view(tenant, stock))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewProduct {
    /// Unique per tenant.
    pub sku: String,
    #[serde(default)]
    pub barcode: Option<String>,
    pub name: String,
    #[serde(default)]
    pub category_id: Option<i64>,
    /// `unit`, `kg`, `l`, `box`… (`unit` by default).
    #[serde(default)]
    pub unit: Option<String>,
    /// Sale price before tax, up to 6 decimals.
    pub price: Amount,
    /// Starting cost (receipts then keep the weighted average).
    #[serde(default)]
    pub cost: Option<Amount>,
    /// A code of the tenant's tax table (`GET /tax-rates`): `iva15`, `iva21`…
    pub tax_code: String,
    #[serde(default)]
    pub active: Option<bool>,
    /// Alert (`erp.stock-low`) under this many units.
    #[serde(default)]
    pub low_stock_threshold: Option<Amount>,
    /// The tenant's custom fields.
    #[serde(default)]
    pub custom: Option<Map<String, serde_json::Value>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ProductChange {
    #[serde(default, deserialize_with = "present")]
    pub barcode: Option<Option<String>>,
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub category_id: Option<Option<i64>>,
    pub unit: Option<String>,
    pub price: Option<Amount>,
    pub tax_code: Option<String>,
    pub active: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub low_stock_threshold: Option<Option<Amount>>,
    /// Replaces the custom fields as a whole.
    pub custom: Option<Map<String, serde_json::Value>>,
    /// The version read: a stale one is a 409.
    pub version: Option<i64>,
}

/// The checked fields of a product, ready to store.
pub struct ProductFields {
    pub barcode: Option<String>,
    pub name: String,
    pub category_id: Option<i64>,
    pub unit: String,
    pub price: String,
    pub tax_code: String,
    pub low_stock_milli: Option<i64>,
    pub custom: Map<String, serde_json::Value>,
}

/// Field checks shared by the API and the imports (errors by field).
pub struct ProductInput<'a> {
    pub barcode: Option<&'a str>,
    pub name: &'a str,
    pub unit: Option<&'a str>,
    pub price: Decimal,
    pub tax_code: &'a str,
    pub low_stock: Option<Decimal>,
    pub custom: Option<&'a Map<String, serde_json::Value>>,
}

pub fn check_product(errors: &mut Errors, tenant: &Tenant, input: ProductInput<'_>) -> ProductFields {
    let name = text(errors, "name", input.name, 1, 200);
    let unit = text(errors, "unit", input.unit.unwrap_or("unit"), 1, 20);
    let barcode = input.barcode.map(str::trim).filter(|b| !b.is_empty()).map(str::to_owned);
    if let Some(b) = &barcode {
        errors.check(b.len() <= 64 && b.chars().all(|c| c.is_ascii_alphanumeric()), "barcode", || {
            format!("`barcode` must be 1 to 64 letters or digits, not {b:?}")
        });
    }
    errors.check(input.price >= Decimal::ZERO && input.price.scale() <= 6, "price", || {
        format!("`price` must be 0 or more with at most 6 decimals, not {}", input.price)
    });
    errors.check(money::tax_rate(tenant.country, input.tax_code).is_some(), "tax_code", || {
        let codes: Vec<&str> = money::tax_table(tenant.country).iter().map(|r| r.code).collect();
        format!("`tax_code` must be one of {} (the tenant's tax table), not {:?}", codes.join(", "), input.tax_code)
    });
    let low_stock_milli = match input.low_stock {
        Some(d) if d >= Decimal::ZERO => common::to_milli("low_stock_threshold", d)
            .map_err(|p| errors.add("low_stock_threshold", p.detail_text().unwrap_or_default().to_owned()))
            .ok(),
        Some(d) => {
            errors.add("low_stock_threshold", format!("`low_stock_threshold` must be 0 or more, not {d}"));
            None
        }
        None => None,
    };
    let custom = common::check_custom(errors, &tenant.product_fields, input.custom);
    ProductFields {
        barcode,
        name,
        category_id: None,
        unit,
        price: common::show(input.price, 2),
        // As the table spells it (`IVA15` is stored `iva15`).
        tax_code: money::tax_rate(tenant.country, input.tax_code.trim())
            .map_or_else(|| input.tax_code.trim().to_owned(), |r| r.code.to_owned()),
        low_stock_milli,
        custom,
    }
}

pub fn check_sku(errors: &mut Errors, sku: &str) -> String {
    check_code(errors, "sku", sku, 64)
}

fn known_category(id: Option<i64>) -> Result<Option<i64>, Problem> {
    match id {
        Some(c) if category(c)?.is_none() => Err(invalid("category_id", format!("there is no category {c}"))),
        other => Ok(other),
    }
}

pub fn create_product(_req: &Request, Json(new): Json<NewProduct>) -> Result<Created<Product>, Problem> {
    let tenant = Tenant::load()?;
    let mut errors = Errors::default();
    let sku = check_sku(&mut errors, &new.sku);
    let mut fields = check_product(
        &mut errors,
        &tenant,
        ProductInput {
            barcode: new.barcode.as_deref(),
            name: &new.name,
            unit: new.unit.as_deref(),
            price: new.price.0,
            tax_code: &new.tax_code,
            low_stock: new.low_stock_threshold.map(|a| a.0),
            custom: new.custom.as_ref(),
        },
    );
    let cost = new.cost.map(|c| c.0).unwrap_or_default();
    errors.check(cost >= Decimal::ZERO && cost.scale() <= 6, "cost", || {
        format!("`cost` must be 0 or more with at most 6 decimals, not {cost}")
    });
    errors.finish()?;
    fields.category_id = known_category(new.category_id)?;
    if let Some(b) = &fields.barcode
        && common::scalar("SELECT COUNT(*) FROM products WHERE barcode = $1", &params![b.as_str()])? > 0
    {
        return Err(plaza_sdk::validation::taken("barcode", format!("a product with barcode {b} already exists")));
    }
    let now = time::now_rfc3339();
    let search = common::search_text(&[&fields.name, &sku, fields.barcode.as_deref().unwrap_or("")]);
    let rows = sql::query(
        "INSERT INTO products (sku, barcode, name, category_id, unit, price, cost, tax_code, active, low_stock_milli, \
         custom, search_text, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $13) RETURNING id",
        &params![
            sku.as_str(),
            fields.barcode.as_deref(),
            fields.name.as_str(),
            fields.category_id,
            fields.unit.as_str(),
            fields.price.as_str(),
            common::show(cost, 2),
            fields.tax_code.as_str(),
            new.active.unwrap_or(true),
            fields.low_stock_milli,
            serde_json::Value::Object(fields.custom).to_string(),
            search,
            now
        ],
    )
    .map_err(on_conflict("sku", format!("a product with SKU {sku} already exists")))?;
    let row = product_row(returned_id(&rows)?)?.ok_or_else(Problem::not_found)?;
    product_view(&tenant, row).map(Created)
}

pub fn get_product(req: &Request) -> Result<Json<Product>, Problem> {
    let tenant = Tenant::load()?;
    let row = product_row(common::id(req)?)?.ok_or_else(Problem::not_found)?;
    product_view(&tenant, row).map(Json)
}

pub fn update_product(req: &Request, Json(change): Json<ProductChange>) -> Result<Json<Product>, Problem> {
    let tenant = Tenant::load()?;
    let current = product_row(common::id(req)?)?.ok_or_else(Problem::not_found)?;
    if change.version.is_some_and(|v| v != current.version) {
        return Err(common::changed_meanwhile("product"));
    }
    let barcode = match &change.barcode {
        Some(b) => b.clone(),
        None => current.barcode.clone(),
    };
    let custom = match &change.custom {
        Some(c) => c.clone(),
        None => serde_json::from_str(&current.custom).unwrap_or_default(),
    };
    let low_stock = match change.low_stock_threshold {
        Some(t) => t.map(|a| a.0),
        None => current.low_stock_milli.map(common::from_milli),
    };
    let mut errors = Errors::default();
    let mut fields = check_product(
        &mut errors,
        &tenant,
        ProductInput {
            barcode: barcode.as_deref(),
            name: change.name.as_deref().unwrap_or(&current.name),
            unit: Some(change.unit.as_deref().unwrap_or(&current.unit)),
            price: match change.price {
                Some(p) => p.0,
                None => common::stored(&current.price)?,
            },
            tax_code: change.tax_code.as_deref().unwrap_or(&current.tax_code),
            low_stock,
            custom: Some(&custom),
        },
    );
    errors.finish()?;
    fields.category_id = match change.category_id {
        Some(c) => known_category(c)?,
        None => current.category_id,
    };
    let search = common::search_text(&[&fields.name, &current.sku, fields.barcode.as_deref().unwrap_or("")]);
    let n = sql::execute(
        "UPDATE products SET barcode = $1, name = $2, category_id = $3, unit = $4, price = $5, tax_code = $6, \
         active = $7, low_stock_milli = $8, custom = $9, search_text = $10, version = version + 1, updated_at = $11 \
         WHERE id = $12 AND version = $13",
        &params![
            fields.barcode.as_deref(),
            fields.name.as_str(),
            fields.category_id,
            fields.unit.as_str(),
            fields.price.as_str(),
            fields.tax_code.as_str(),
            change.active.unwrap_or(current.active),
            fields.low_stock_milli,
            serde_json::Value::Object(fields.custom).to_string(),
            search,
            time::now_rfc3339(),
            current.id,
            current.version
        ],
    )
    .map_err(on_conflict("barcode", format!("another product has barcode {:?}", fields.barcode)))?;
    if n == 0 {
        return Err(common::changed_meanwhile("product"));
    }
    let row = product_row(current.id)?.ok_or_else(Problem::not_found)?;
    product_view(&tenant, row).map(Json)
}

pub fn list_products(req: &Request) -> Result<Json<Page<Product>>, Problem> {
    let tenant = Tenant::load()?;
    let page = PageRequest::from_request(req)?;
    let mut filter = Filter::default();
    filter.eq(req, "sku", "sku");
    filter.eq(req, "barcode", "barcode");
    if let Some(c) = req.query_param("category") {
        let c: i64 = c.parse().map_err(|_| invalid("category", format!("`category` is a category id, not {c:?}")))?;
        // The category and every category below it.
        filter.add(
            "category_id IN (WITH RECURSIVE tree(id) AS (SELECT id FROM categories WHERE id = ? \
             UNION SELECT c.id FROM categories c JOIN tree t ON c.parent_id = t.id) SELECT id FROM tree)",
            c.into(),
        );
    }
    match req.query_param("active") {
        Some("true") => filter.when("active = TRUE"),
        Some("false") => filter.when("active = FALSE"),
        Some(other) => return Err(invalid("active", format!("`active` is true or false, not {other:?}"))),
        None => {}
    }
    if req.query_param("low_stock") == Some("true") {
        filter.when(
            "low_stock_milli IS NOT NULL AND low_stock_milli > \
             COALESCE((SELECT SUM(quantity_milli) FROM stock_levels s WHERE s.product_id = products.id), 0)",
        );
    }
    if let Some(q) = req.query_param("q") {
        filter.words("search_text", &common::search_words(q));
    }
    let (from, params) = filter.from("products");
    let rows: Page<ProductRow> = paged(PRODUCT_COLUMNS, &from, "sku", &params, page)?;
    let items = rows.items.into_iter().map(|r| product_view(&tenant, r)).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(page.wrap(items, rows.total)))
}

// ----- warehouses -----

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Warehouse {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub active: bool,
    pub created_at: String,
}

const WAREHOUSE_COLUMNS: &str = "id, code, name, active, created_at";

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewWarehouse {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct WarehouseChange {
    pub name: Option<String>,
    /// An inactive warehouse takes no new movements.
    pub active: Option<bool>,
}

pub fn warehouse(id: i64) -> Result<Option<Warehouse>, Problem> {
    Ok(sql::query_one_as(&format!("SELECT {WAREHOUSE_COLUMNS} FROM warehouses WHERE id = $1"), &params![id])?)
}

/// An active warehouse named in a body, or 422 naming `field`.
pub fn active_warehouse(field: &str, id: i64) -> Result<Warehouse, Problem> {
    match warehouse(id)? {
        Some(w) if w.active => Ok(w),
        Some(w) => Err(invalid(field, format!("warehouse {} is inactive", w.code))),
        None => Err(invalid(field, format!("there is no warehouse {id}"))),
    }
}

/// The warehouse a sale or purchase uses when it names none: the first one.
pub fn default_warehouse() -> Result<Warehouse, Problem> {
    sql::query_one_as::<Warehouse>(
        &format!("SELECT {WAREHOUSE_COLUMNS} FROM warehouses WHERE active = TRUE ORDER BY id LIMIT 1"),
        &[],
    )?
    .ok_or_else(|| invalid("warehouse_id", "the tenant has no active warehouse yet: create one first"))
}

pub fn list_warehouses(_req: &Request) -> Result<Json<Vec<Warehouse>>, Problem> {
    Ok(Json(sql::query_as(&format!("SELECT {WAREHOUSE_COLUMNS} FROM warehouses ORDER BY code LIMIT 1000"), &[])?))
}

pub fn create_warehouse(_req: &Request, Json(new): Json<NewWarehouse>) -> Result<Created<Warehouse>, Problem> {
    let mut errors = Errors::default();
    let code = check_code(&mut errors, "code", &new.code, 20);
    let name = text(&mut errors, "name", &new.name, 1, 120);
    errors.finish()?;
    let rows = sql::query(
        "INSERT INTO warehouses (code, name, active, created_at) VALUES ($1, $2, TRUE, $3) RETURNING id",
        &params![code.as_str(), name, time::now_rfc3339()],
    )
    .map_err(on_conflict("code", format!("warehouse {code} already exists")))?;
    warehouse(returned_id(&rows)?)?.map(Created).ok_or_else(Problem::not_found)
}

pub fn update_warehouse(req: &Request, Json(change): Json<WarehouseChange>) -> Result<Json<Warehouse>, Problem> {
    let id = common::id(req)?;
    let current = warehouse(id)?.ok_or_else(Problem::not_found)?;
    let mut errors = Errors::default();
    let name = change.name.as_deref().map(|n| text(&mut errors, "name", n, 1, 120));
    errors.finish()?;
    sql::execute(
        "UPDATE warehouses SET name = $1, active = $2 WHERE id = $3",
        &params![name.unwrap_or(current.name), change.active.unwrap_or(current.active), id],
    )?;
    warehouse(id)?.map(Json).ok_or_else(Problem::not_found)
}

// ----- the tax table -----

#[derive(Debug, Serialize, JsonSchema)]
pub struct TaxTable {
    pub country: String,
    /// Ecuador: SRI's `codigo` of IVA (`2`), which each rate's `sri_code` completes.
    pub sri_tax_code: Option<String>,
    pub currency: String,
    pub rates: Vec<TaxRateView>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TaxRateView {
    pub code: String,
    pub name: String,
    pub percent: String,
    /// Ecuador: the SRI `codigoPorcentaje` of IVA.
    pub sri_code: Option<String>,
}

pub fn tax_rates(_req: &Request) -> Result<Json<TaxTable>, Problem> {
    let tenant = Tenant::load()?;
    Ok(Json(TaxTable {
        country: tenant.country.code().to_owned(),
        sri_tax_code: (tenant.country == crate::taxid::Country::Ec).then(|| money::SRI_IVA_CODE.to_owned()),
        currency: tenant.currency().to_owned(),
        rates: money::tax_table(tenant.country)
            .iter()
            .map(|r| TaxRateView {
                code: r.code.to_owned(),
                name: r.name.to_owned(),
                percent: r.percent.normalize().to_string(),
                sri_code: r.sri_code.map(str::to_owned),
            })
            .collect(),
    }))
}
