//! Bulk imports, as the ERP this replaces runs them:
//! `POST /imports/batches` → ingest rows (JSON, CSV or XLSX, in as many
//! parts as needed) → validate → promote.
//!
//! - **Ingest** maps each column through the tenant's aliases (`codigo` →
//!   `sku`), checks every field of every row with the same rules as the API,
//!   and stages the row, normalised, with its own errors. A part is stored
//!   whole or not at all.
//! - **Validate** finds what needs the other rows and the stored data:
//!   duplicates inside the batch and against existing products, customers,
//!   suppliers or stock. It is a handful of set-based statements run by the
//!   database, so 50,000 rows fit in one call's limits.
//! - **Promote** copies the valid rows into the real tables with
//!   `INSERT … SELECT` in one transaction: everything or nothing, even if
//!   the host is killed half-way. Promoting a promoted batch changes nothing.
//!
//! Progress is the batch itself (`rows_total`, `rows_invalid`,
//! `rows_promoted`, `state`); after a restart a client reads it and goes on
//! from the step it shows. Each part is one transaction: if its answer was
//! lost, `rows_total` tells whether it was stored.

use std::collections::{BTreeMap, HashMap};

use plaza_sdk::listing::{Page, PageRequest, paged, returned_id};
use plaza_sdk::prelude::*;
use plaza_sdk::sql::Value;
use plaza_sdk::validation::{Errors, invalid};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Map;

use crate::catalogue::{self, ProductInput};
use crate::common::{self, Tenant};
use crate::money;
use crate::parties::{self, PartyInput};

/// What a batch imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Products,
    Customers,
    Suppliers,
    Stock,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "products" => Some(Self::Products),
            "customers" => Some(Self::Customers),
            "suppliers" => Some(Self::Suppliers),
            "stock" => Some(Self::Stock),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Products => "products",
            Self::Customers => "customers",
            Self::Suppliers => "suppliers",
            Self::Stock => "stock",
        }
    }

    /// The fields a row of this kind may have.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Products => {
                &["sku", "barcode", "name", "category", "unit", "price", "cost", "tax_code", "low_stock_threshold"]
            }
            Self::Customers | Self::Suppliers => &["tax_id", "tax_id_kind", "name", "email", "phone", "address"],
            Self::Stock => &["sku", "warehouse", "quantity", "unit_cost"],
        }
    }

    /// The staging columns a row of this kind fills (after the common ones).
    fn columns(self) -> &'static [&'static str] {
        match self {
            Self::Products => &[
                "sku",
                "barcode",
                "name",
                "category_id",
                "unit",
                "price",
                "cost",
                "tax_code",
                "low_stock_milli",
                "custom",
                "search_text",
            ],
            Self::Customers | Self::Suppliers => {
                &["tax_id", "tax_id_kind", "name", "email", "phone", "address", "custom", "search_text"]
            }
            Self::Stock => &["sku", "warehouse_id", "quantity_milli", "cost"],
        }
    }
}

/// Column names understood without any setting (Spanish spreadsheets).
const BUILTIN_ALIASES: [(&str, &str); 26] = [
    ("codigo", "sku"),
    ("cod", "sku"),
    ("codigo_barras", "barcode"),
    ("ean", "barcode"),
    ("nombre", "name"),
    ("descripcion", "name"),
    ("razon_social", "name"),
    ("categoria", "category"),
    ("unidad", "unit"),
    ("precio", "price"),
    ("pvp", "price"),
    ("costo", "cost"),
    ("coste", "cost"),
    ("iva", "tax_code"),
    ("impuesto", "tax_code"),
    ("stock_minimo", "low_stock_threshold"),
    ("ruc", "tax_id"),
    ("cedula", "tax_id"),
    ("identificacion", "tax_id"),
    ("nif", "tax_id"),
    ("correo", "email"),
    ("telefono", "phone"),
    ("direccion", "address"),
    ("cantidad", "quantity"),
    ("almacen", "warehouse"),
    ("bodega", "warehouse"),
];

/// Most rows one part may carry: at 66 rows per `INSERT` (products, the
/// widest) that is 758 statements, inside the 1,000 a call may run.
pub const MAX_PART_ROWS: usize = 50_000;
/// Most rows one batch may hold.
pub const MAX_BATCH_ROWS: i64 = 100_000;

// ----- batches -----

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Batch {
    pub id: i64,
    /// `products`, `customers`, `suppliers` or `stock` (opening stock).
    pub kind: String,
    /// `open` (taking rows), `validated`, `promoted` or `discarded`.
    pub state: String,
    /// The file or system the rows came from, for people.
    pub source: String,
    pub rows_total: i64,
    /// Rows with an error of their own or against other data (after validation).
    pub rows_invalid: i64,
    pub rows_promoted: i64,
    pub created_by: String,
    pub created_at: String,
    pub validated_at: Option<String>,
    pub promoted_at: Option<String>,
    pub updated_at: String,
}

const BATCH_COLUMNS: &str = "id, kind, state, source, rows_total, rows_invalid, rows_promoted, created_by, \
                             created_at, validated_at, promoted_at, updated_at";

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewBatch {
    /// `products`, `customers`, `suppliers` or `stock`.
    pub kind: String,
    #[serde(default)]
    pub source: Option<String>,
}

fn batch(id: i64) -> Result<Option<Batch>, Problem> {
    Ok(sql::query_one_as(&format!("SELECT {BATCH_COLUMNS} FROM import_batches WHERE id = $1"), &params![id])?)
}

fn found(req: &Request) -> Result<Batch, Problem> {
    batch(common::id(req)?)?.ok_or_else(Problem::not_found)
}

fn kind_of(b: &Batch) -> Result<Kind, Problem> {
    Kind::parse(&b.kind).ok_or_else(|| Problem::internal(format!("batch {} has kind {:?}", b.id, b.kind)))
}

pub fn create(req: &Request, Json(new): Json<NewBatch>) -> Result<Created<Batch>, Problem> {
    let user = req.caller().require_user()?.to_owned();
    let kind = Kind::parse(new.kind.trim()).ok_or_else(|| {
        invalid("kind", format!("`kind` is products, customers, suppliers or stock, not {:?}", new.kind))
    })?;
    let source: String = new.source.as_deref().unwrap_or("").trim().chars().take(200).collect();
    let now = time::now_rfc3339();
    let rows = sql::query(
        "INSERT INTO import_batches (kind, state, source, rows_total, rows_invalid, rows_promoted, created_by, \
         created_at, updated_at) VALUES ($1, 'open', $2, 0, 0, 0, $3, $4, $4) RETURNING id",
        &params![kind.as_str(), source, user, now],
    )?;
    batch(returned_id(&rows)?)?.map(Created).ok_or_else(Problem::not_found)
}

pub fn get(req: &Request) -> Result<Json<Batch>, Problem> {
    found(req).map(Json)
}

pub fn list(req: &Request) -> Result<Json<Page<Batch>>, Problem> {
    let page = PageRequest::from_request(req)?;
    paged(BATCH_COLUMNS, "FROM import_batches", "id DESC", &[], page).map(Json)
}

/// Throws an unpromoted batch away with its rows.
pub fn discard(req: &Request) -> Result<Json<Batch>, Problem> {
    let b = found(req)?;
    if b.state == "promoted" || b.state == "discarded" {
        return Err(common::state_conflict("batch", &b.state, "discarded"));
    }
    sql::transaction(|| -> Result<(), Problem> {
        sql::execute("DELETE FROM import_rows WHERE batch_id = $1", &params![b.id])?;
        sql::execute(
            "UPDATE import_batches SET state = 'discarded', updated_at = $1 WHERE id = $2",
            &params![time::now_rfc3339(), b.id],
        )?;
        Ok(())
    })?;
    batch(b.id)?.map(Json).ok_or_else(Problem::not_found)
}

// ----- ingest -----

/// What one part added.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Ingested {
    pub batch: Batch,
    /// Rows in this part.
    pub rows: i64,
    /// Of them, rows with errors of their own.
    pub invalid: i64,
    /// Columns that are neither a field, an alias nor a custom field: not read.
    pub ignored_columns: Vec<String>,
}

/// A part's rows, each a map of column name to text, in order.
type RawRows = (Vec<String>, Vec<Vec<String>>);

/// Reads the body by its content type: a JSON list of objects (or
/// `{"rows": [...]}`), a CSV file (`,` or `;`, UTF-8 or Latin-1, a header
/// line first) or an XLSX workbook (its first sheet, a header row first).
pub fn read_part(content_type: &str, body: &[u8]) -> Result<RawRows, Problem> {
    let ct = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match ct.as_str() {
        "text/csv" | "application/csv" | "text/plain" => read_csv(body),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => read_xlsx(body),
        "application/json" | "" => read_json(body),
        other => Err(Problem::new(415, "Unsupported Media Type").detail(format!(
            "rows come as application/json, text/csv or an XLSX file \
             (application/vnd.openxmlformats-officedocument.spreadsheetml.sheet), not {other}"
        ))),
    }
}

fn read_json(body: &[u8]) -> Result<RawRows, Problem> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| Problem::bad_request(format!("the body is not JSON: {e}")))?;
    let list = match value {
        serde_json::Value::Array(list) => list,
        serde_json::Value::Object(mut o) => match o.remove("rows") {
            Some(serde_json::Value::Array(list)) => list,
            _ => return Err(invalid("rows", "send a JSON list of row objects, or {\"rows\": [...]}")),
        },
        _ => return Err(invalid("rows", "send a JSON list of row objects, or {\"rows\": [...]}")),
    };
    let mut header: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut objects = Vec::with_capacity(list.len());
    for (i, item) in list.into_iter().enumerate() {
        let serde_json::Value::Object(o) = item else {
            return Err(invalid(&format!("rows[{i}]"), "each row is a JSON object"));
        };
        for k in o.keys() {
            if !index.contains_key(k) {
                index.insert(k.clone(), header.len());
                header.push(k.clone());
            }
        }
        objects.push(o);
    }
    let rows = objects
        .into_iter()
        .map(|o| {
            let mut row = vec![String::new(); header.len()];
            for (k, v) in o {
                if let Some(&i) = index.get(&k) {
                    row[i] = match v {
                        serde_json::Value::String(s) => s,
                        serde_json::Value::Null => String::new(),
                        other => other.to_string(),
                    };
                }
            }
            row
        })
        .collect();
    Ok((header, rows))
}

fn read_csv(body: &[u8]) -> Result<RawRows, Problem> {
    let text: std::borrow::Cow<'_, str> = match std::str::from_utf8(body) {
        Ok(t) => t.into(),
        // Spreadsheets on Windows still save Latin-1.
        Err(_) => body.iter().map(|&b| char::from(b)).collect::<String>().into(),
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let first = text.lines().next().unwrap_or("");
    let delimiter = if first.matches(';').count() > first.matches(',').count() { b';' } else { b',' };
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).has_headers(true).from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Problem::bad_request(format!("the CSV header cannot be read: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| invalid("body", format!("CSV line {} cannot be read: {e}", i + 2)))?;
        rows.push(record.iter().map(str::to_owned).collect());
    }
    Ok((header, rows))
}

fn read_xlsx(body: &[u8]) -> Result<RawRows, Problem> {
    use calamine::{Data, Reader, Xlsx};
    let mut book = Xlsx::new(std::io::Cursor::new(body))
        .map_err(|e| Problem::bad_request(format!("the XLSX file cannot be read: {e}")))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| invalid("body", "the XLSX file has no sheet"))?
        .map_err(|e| Problem::bad_request(format!("the first sheet cannot be read: {e}")))?;
    let cell = |c: &Data| match c {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        // Excel keeps numbers as doubles: their shortest text is what the
        // person typed (12.5, not 12.4999…).
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => excel_date(d.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    };
    let mut rows = range.rows();
    let header: Vec<String> = rows.next().map(|r| r.iter().map(cell).collect()).unwrap_or_default();
    Ok((header, rows.map(|r| r.iter().map(cell).collect()).collect()))
}

/// An Excel serial date (days since 1899-12-30) as `YYYY-MM-DD`.
fn excel_date(serial: f64) -> String {
    let days = serial.floor();
    let epoch = jiff::civil::date(1899, 12, 30);
    if !(0.0..=2_958_465.0).contains(&days) {
        return serial.to_string();
    }
    // In range, so the conversion is exact.
    #[allow(clippy::cast_possible_truncation)]
    let span = jiff::Span::new().days(days as i64);
    epoch.checked_add(span).map(|d| d.to_string()).unwrap_or_else(|_| serial.to_string())
}

/// A column name as compared: lower case, accents folded, `_` for spaces.
fn column_key(name: &str) -> String {
    common::search_text(&[name]).replace(' ', "_")
}

/// Where each column goes: a field of `kind`, a custom field, or nowhere.
enum Target {
    Field(&'static str),
    Custom(String),
    Ignored,
}

fn targets(kind: Kind, tenant: &Tenant, header: &[String]) -> Vec<Target> {
    let aliases: BTreeMap<String, String> = BUILTIN_ALIASES
        .iter()
        .map(|(a, f)| ((*a).to_owned(), (*f).to_owned()))
        .chain(tenant.import_aliases.iter().map(|(a, f)| (column_key(a), f.clone())))
        .collect();
    let custom = match kind {
        Kind::Products => &tenant.product_fields,
        Kind::Customers | Kind::Suppliers => &tenant.customer_fields,
        Kind::Stock => &Vec::new(),
    };
    header
        .iter()
        .map(|name| {
            let key = column_key(name);
            // `custom.brand` (folded to `custom_brand`) names the custom field `brand`.
            let key = match key.strip_prefix("custom_") {
                Some(field) if custom.iter().any(|c| c.name == field) => field.to_owned(),
                _ => key,
            };
            let mapped = aliases.get(&key).cloned().unwrap_or(key);
            if let Some(f) = kind.fields().iter().find(|f| **f == mapped) {
                Target::Field(f)
            } else if kind == Kind::Stock && mapped == "cost" {
                Target::Field("unit_cost")
            } else if custom.iter().any(|c| c.name == mapped) {
                Target::Custom(mapped)
            } else {
                Target::Ignored
            }
        })
        .collect()
}

/// One row's fields by name, and its custom fields.
struct RowFields {
    fields: HashMap<&'static str, String>,
    custom: Map<String, serde_json::Value>,
}

impl RowFields {
    fn get(&self, f: &str) -> Option<&str> {
        self.fields.get(f).map(String::as_str).map(str::trim).filter(|v| !v.is_empty())
    }
}

/// Lookups an ingest needs once per part.
struct Lookups {
    categories: HashMap<String, i64>,
    warehouses: HashMap<String, i64>,
}

fn lookups() -> Result<Lookups, Problem> {
    #[derive(Deserialize)]
    struct Code {
        id: i64,
        code: String,
    }
    let categories: Vec<Code> = sql::query_as("SELECT id, code FROM categories LIMIT 5000", &[])?;
    let warehouses: Vec<Code> = sql::query_as("SELECT id, code FROM warehouses LIMIT 1000", &[])?;
    Ok(Lookups {
        categories: categories.into_iter().map(|c| (c.code, c.id)).collect(),
        warehouses: warehouses.into_iter().map(|c| (c.code, c.id)).collect(),
    })
}

/// A tax given as a code (`iva15`) or as a percentage (`15`, `15 %`, `0.15`
/// is not read as 15 %): the tenant's rate with that percentage, the plain
/// `0 %` rate for zero.
fn tax_code(tenant: &Tenant, value: &str) -> Option<String> {
    let v = value.trim().to_ascii_lowercase();
    if let Some(rate) = money::tax_rate(tenant.country, &v) {
        return Some(rate.code.to_owned());
    }
    let number = money::parse_amount(v.trim_end_matches('%').trim())?;
    money::tax_table(tenant.country).iter().find(|r| r.percent == number).map(|r| r.code.to_owned())
}

/// Checks one row; the staging values in `kind.columns()` order, its
/// natural key and its errors.
fn stage(kind: Kind, tenant: &Tenant, look: &Lookups, row: &RowFields) -> (String, Vec<Value>, Errors) {
    let mut errors = Errors::default();
    let amount = |errors: &mut Errors, field: &str| -> Option<Decimal> {
        row.get(field).and_then(|v| {
            let parsed = money::parse_amount(v);
            if parsed.is_none() {
                errors.add(field, format!("`{field}` must be a number, not {v:?}"));
            }
            parsed
        })
    };
    match kind {
        Kind::Products => {
            let sku = catalogue::check_sku(&mut errors, row.get("sku").unwrap_or(""));
            let price = amount(&mut errors, "price");
            errors.check(row.get("price").is_some(), "price", || "`price` is required".into());
            let cost = amount(&mut errors, "cost").unwrap_or_default();
            errors.check(cost >= Decimal::ZERO && cost.scale() <= 6, "cost", || {
                format!("`cost` must be 0 or more with at most 6 decimals, not {cost}")
            });
            let low = amount(&mut errors, "low_stock_threshold");
            let tax = match row.get("tax_code") {
                Some(v) => tax_code(tenant, v).unwrap_or_else(|| v.to_owned()),
                None => String::new(),
            };
            let f = catalogue::check_product(
                &mut errors,
                tenant,
                ProductInput {
                    barcode: row.get("barcode"),
                    name: row.get("name").unwrap_or(""),
                    unit: row.get("unit"),
                    price: price.unwrap_or_default(),
                    tax_code: &tax,
                    low_stock: low,
                    custom: Some(&row.custom),
                },
            );
            let category = match row.get("category") {
                Some(c) => match look.categories.get(c) {
                    Some(&id) => Some(id),
                    None => {
                        errors.add("category", format!("there is no category {c}"));
                        None
                    }
                },
                None => None,
            };
            let search = common::search_text(&[&f.name, &sku, f.barcode.as_deref().unwrap_or("")]);
            let values = params![
                sku.as_str(),
                f.barcode,
                f.name,
                category,
                f.unit,
                f.price,
                common::show(cost, 2),
                f.tax_code,
                f.low_stock_milli,
                serde_json::Value::Object(f.custom).to_string(),
                search
            ]
            .to_vec();
            (sku, values, errors)
        }
        Kind::Customers | Kind::Suppliers => {
            let f = parties::check_party(
                &mut errors,
                tenant,
                PartyInput {
                    tax_id: row.get("tax_id").unwrap_or(""),
                    tax_id_kind: row.get("tax_id_kind"),
                    tax_id_confirmed: false,
                    name: row.get("name").unwrap_or(""),
                    email: row.get("email"),
                    phone: row.get("phone"),
                    address: row.get("address"),
                    custom: Some(&row.custom),
                },
            );
            let search = common::search_text(&[&f.name, &f.tax_id, f.email.as_deref().unwrap_or("")]);
            let key = f.tax_id.clone();
            let values = params![
                f.tax_id,
                f.tax_id_kind.as_str(),
                f.name,
                f.email,
                f.phone,
                f.address,
                serde_json::Value::Object(f.custom).to_string(),
                search
            ]
            .to_vec();
            (key, values, errors)
        }
        Kind::Stock => {
            let sku = catalogue::check_sku(&mut errors, row.get("sku").unwrap_or(""));
            let warehouse = match row.get("warehouse") {
                Some(w) => look.warehouses.get(w).copied().or_else(|| {
                    errors.add("warehouse", format!("there is no warehouse {w}"));
                    None
                }),
                None => {
                    errors.add("warehouse", "`warehouse` (its code) is required");
                    None
                }
            };
            let quantity = amount(&mut errors, "quantity");
            errors.check(row.get("quantity").is_some(), "quantity", || "`quantity` is required".into());
            let milli = quantity.and_then(|q| {
                if q <= Decimal::ZERO {
                    errors.add("quantity", format!("`quantity` must be more than 0, not {q}"));
                    return None;
                }
                common::to_milli("quantity", q).map_err(|_| errors.add("quantity", "at most 3 decimals")).ok()
            });
            let cost = amount(&mut errors, "unit_cost");
            if let Some(c) = cost {
                errors.check(c >= Decimal::ZERO && c.scale() <= 6, "unit_cost", || {
                    format!("`unit_cost` must be 0 or more with at most 6 decimals, not {c}")
                });
            }
            let key = format!("{sku}|{}", warehouse.unwrap_or_default());
            let values = params![sku.as_str(), warehouse, milli, cost.map(|c| common::show(c, 2))].to_vec();
            (key, values, errors)
        }
    }
}

/// Rows per `INSERT` statement: the statement's parameters stay under the
/// host's limit of 1,000.
fn rows_per_statement(kind: Kind) -> usize {
    990 / (kind.columns().len() + 4)
}

pub fn ingest(req: &Request) -> Result<Created<Ingested>, Problem> {
    let b = found(req)?;
    let kind = kind_of(&b)?;
    if b.state != "open" {
        return Err(common::state_conflict("batch", &b.state, "given rows"));
    }
    let tenant = Tenant::load()?;
    let (header, raw) = read_part(req.header("content-type").unwrap_or(""), req.body())?;
    if raw.is_empty() {
        return Err(invalid("rows", "the part has no rows"));
    }
    if raw.len() > MAX_PART_ROWS {
        return Err(invalid("rows", format!("a part has at most {MAX_PART_ROWS} rows; send the file in parts")));
    }
    let count = i64::try_from(raw.len()).unwrap_or(i64::MAX);
    if b.rows_total + count > MAX_BATCH_ROWS {
        return Err(invalid("rows", format!("a batch holds at most {MAX_BATCH_ROWS} rows")));
    }
    let targets = targets(kind, &tenant, &header);
    let ignored: Vec<String> =
        header.iter().zip(&targets).filter(|(_, t)| matches!(t, Target::Ignored)).map(|(h, _)| h.clone()).collect();
    let look = lookups()?;
    let mut staged: Vec<Vec<Value>> = Vec::with_capacity(raw.len());
    let mut invalid_rows = 0;
    for (i, cells) in raw.iter().enumerate() {
        let mut row = RowFields { fields: HashMap::new(), custom: Map::new() };
        for (cell, target) in cells.iter().zip(&targets) {
            match target {
                // Two columns may feed one field (`cedula` and `ruc`): an
                // empty cell does not hide the other's value.
                Target::Field(f) if !cell.trim().is_empty() || !row.fields.contains_key(f) => {
                    row.fields.insert(f, cell.clone());
                }
                Target::Custom(name) if !cell.trim().is_empty() => {
                    row.custom.insert(name.clone(), serde_json::Value::String(cell.trim().to_owned()));
                }
                _ => {}
            }
        }
        let (key, values, errors) = stage(kind, &tenant, &look, &row);
        let errors = match errors.finish() {
            Ok(()) => None,
            Err(p) => {
                invalid_rows += 1;
                Some(p.extensions().get("errors").cloned().unwrap_or_default().to_string())
            }
        };
        let row_no = b.rows_total + i64::try_from(i).unwrap_or(0) + 1;
        let mut all = params![b.id, row_no, key, errors].to_vec();
        all.extend(values);
        staged.push(all);
    }
    let columns: Vec<&str> =
        ["batch_id", "row_no", "natural_key", "errors"].into_iter().chain(kind.columns().iter().copied()).collect();
    sql::transaction(|| -> Result<(), Problem> {
        // The batch row first: a concurrent part of the same batch waits or
        // loses here, so row numbers never collide.
        let n = sql::execute(
            "UPDATE import_batches SET rows_total = rows_total + $1, updated_at = $2 \
             WHERE id = $3 AND rows_total = $4 AND state = 'open'",
            &params![count, time::now_rfc3339(), b.id, b.rows_total],
        )?;
        if n == 0 {
            return Err(common::changed_meanwhile("import batch"));
        }
        for chunk in staged.chunks(rows_per_statement(kind)) {
            let width = columns.len();
            let tuples: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let ps: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
                    format!("({})", ps.join(", "))
                })
                .collect();
            let statement = format!("INSERT INTO import_rows ({}) VALUES {}", columns.join(", "), tuples.join(", "));
            let values: Vec<Value> = chunk.iter().flatten().cloned().collect();
            sql::execute(&statement, &values)?;
        }
        Ok(())
    })?;
    let batch = batch(b.id)?.ok_or_else(Problem::not_found)?;
    Ok(Created(Ingested { batch, rows: count, invalid: invalid_rows, ignored_columns: ignored }))
}

// ----- validate -----

/// The conflicts that need other rows or stored data, found by the
/// database in a few set-based statements; then the batch's counts.
pub fn validate(req: &Request) -> Result<Json<Batch>, Problem> {
    let b = found(req)?;
    let kind = kind_of(&b)?;
    if b.state != "open" && b.state != "validated" {
        return Err(common::state_conflict("batch", &b.state, "validated"));
    }
    if b.rows_total == 0 {
        return Err(common::state_conflict("batch", "open", "validated").detail("the batch has no rows yet"));
    }
    sql::transaction(|| -> Result<(), Problem> {
        let id = b.id;
        sql::execute("UPDATE import_rows SET conflict = NULL WHERE batch_id = $1", &params![id])?;
        // The first row of a key wins; later ones are duplicates.
        sql::execute(
            "UPDATE import_rows SET conflict = 'duplicate: an earlier row of the batch has the same key' \
             WHERE batch_id = $1 AND row_no NOT IN \
             (SELECT MIN(row_no) FROM import_rows WHERE batch_id = $1 GROUP BY natural_key)",
            &params![id],
        )?;
        match kind {
            Kind::Products => {
                sql::execute(
                    "UPDATE import_rows SET conflict = 'a product with this SKU already exists' \
                     WHERE batch_id = $1 AND conflict IS NULL AND sku IN (SELECT sku FROM products)",
                    &params![id],
                )?;
                sql::execute(
                    "UPDATE import_rows SET conflict = 'duplicate barcode: an earlier row has it' \
                     WHERE batch_id = $1 AND conflict IS NULL AND barcode IS NOT NULL AND row_no NOT IN \
                     (SELECT MIN(row_no) FROM import_rows WHERE batch_id = $1 AND barcode IS NOT NULL GROUP BY barcode)",
                    &params![id],
                )?;
                sql::execute(
                    "UPDATE import_rows SET conflict = 'a product with this barcode already exists' \
                     WHERE batch_id = $1 AND conflict IS NULL AND barcode IN \
                     (SELECT barcode FROM products WHERE barcode IS NOT NULL)",
                    &params![id],
                )?;
            }
            Kind::Customers | Kind::Suppliers => {
                let party = if kind == Kind::Customers { "customer" } else { "supplier" };
                sql::execute(
                    "UPDATE import_rows SET conflict = 'a party with this tax id already exists' \
                     WHERE batch_id = $1 AND conflict IS NULL AND tax_id IN (SELECT tax_id FROM parties WHERE kind = $2)",
                    &params![id, party],
                )?;
            }
            Kind::Stock => {
                sql::execute(
                    "UPDATE import_rows SET conflict = 'there is no product with this SKU' \
                     WHERE batch_id = $1 AND conflict IS NULL AND errors IS NULL AND sku NOT IN (SELECT sku FROM products)",
                    &params![id],
                )?;
                // Opening stock sets the product's cost: only for products
                // that never moved (later stock comes by receipts or adjustments).
                sql::execute(
                    "UPDATE import_rows SET conflict = 'the product already has stock movements: opening stock is \
                     for products that never moved (use a purchase or an adjustment)' \
                     WHERE batch_id = $1 AND conflict IS NULL AND sku IN (SELECT p.sku FROM products p \
                     JOIN stock_movements m ON m.product_id = p.id)",
                    &params![id],
                )?;
            }
        }
        let bad = common::scalar(
            "SELECT COUNT(*) FROM import_rows WHERE batch_id = $1 AND (errors IS NOT NULL OR conflict IS NOT NULL)",
            &params![id],
        )?;
        let now = time::now_rfc3339();
        let n = sql::execute(
            "UPDATE import_batches SET state = 'validated', rows_invalid = $1, validated_at = $2, updated_at = $2 \
             WHERE id = $3 AND rows_total = $4 AND state IN ('open', 'validated')",
            &params![bad, now, id, b.rows_total],
        )?;
        if n == 0 {
            return Err(common::changed_meanwhile("import batch"));
        }
        Ok(())
    })?;
    batch(b.id)?.map(Json).ok_or_else(Problem::not_found)
}

// ----- errors -----

#[derive(Debug, Serialize, JsonSchema)]
pub struct RowErrors {
    pub row: i64,
    /// The row's natural key (SKU, tax id, `SKU|warehouse id`).
    pub key: String,
    /// Each error with the field it is about.
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct FieldError {
    pub field: String,
    pub detail: String,
}

/// The rows with errors, by row number (paged).
pub fn errors(req: &Request) -> Result<Json<Page<RowErrors>>, Problem> {
    #[derive(Deserialize)]
    struct Bad {
        row_no: i64,
        natural_key: String,
        errors: Option<String>,
        conflict: Option<String>,
    }
    let b = found(req)?;
    let kind = kind_of(&b)?;
    let page = PageRequest::from_request(req)?;
    let rows: Page<Bad> = paged(
        "row_no, natural_key, errors, conflict",
        "FROM import_rows WHERE batch_id = $1 AND (errors IS NOT NULL OR conflict IS NOT NULL)",
        "row_no",
        &params![b.id],
        page,
    )?;
    let key_field = match kind {
        Kind::Products | Kind::Stock => "sku",
        Kind::Customers | Kind::Suppliers => "tax_id",
    };
    let items = rows
        .items
        .into_iter()
        .map(|r| {
            let mut errors: Vec<FieldError> =
                r.errors.as_deref().and_then(|e| serde_json::from_str(e).ok()).unwrap_or_default();
            if let Some(c) = r.conflict {
                let field = if c.contains("barcode") { "barcode" } else { key_field };
                errors.push(FieldError { field: field.into(), detail: c });
            }
            RowErrors { row: r.row_no, key: r.natural_key, errors }
        })
        .collect();
    Ok(Json(page.wrap(items, rows.total)))
}

// ----- promote -----

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct Promotion {
    /// Promote the valid rows of a batch that has invalid ones (otherwise
    /// such a batch is refused with 409).
    #[serde(default)]
    pub skip_invalid: bool,
}

/// Copies the valid rows into the real tables, in one transaction.
pub fn promote(req: &Request) -> Result<Json<Batch>, Problem> {
    // The body is optional: no body promotes a batch without invalid rows.
    let p: Promotion = if req.body().iter().all(u8::is_ascii_whitespace) { Promotion::default() } else { req.json()? };
    let user = req.caller().require_user()?.to_owned();
    let b = found(req)?;
    let kind = kind_of(&b)?;
    match b.state.as_str() {
        // Idempotent: a promoted batch is answered as it is.
        "promoted" => return Ok(Json(b)),
        "validated" => {}
        other => return Err(common::state_conflict("batch", other, "promoted")),
    }
    if b.rows_invalid > 0 && !p.skip_invalid {
        return Err(common::state_conflict("batch", "validated", "promoted").detail(format!(
            "{} rows are invalid (GET /imports/batches/{}/errors); fix them in a new batch, or promote the \
             others with {{\"skip_invalid\": true}}",
            b.rows_invalid, b.id
        )));
    }
    let valid = "r.batch_id = $1 AND r.errors IS NULL AND r.conflict IS NULL";
    let now = time::now_rfc3339();
    sql::transaction(|| -> Result<(), Problem> {
        // The batch first: a second promotion waits here, then finds it promoted.
        let n = sql::execute(
            "UPDATE import_batches SET state = 'promoted', promoted_at = $1, updated_at = $1 \
             WHERE id = $2 AND state = 'validated'",
            &params![now.as_str(), b.id],
        )?;
        if n == 0 {
            return Err(common::changed_meanwhile("import batch"));
        }
        let promoted = match kind {
            Kind::Products => sql::execute(
                &format!(
                    "INSERT INTO products (sku, barcode, name, category_id, unit, price, cost, tax_code, active, \
                     low_stock_milli, custom, search_text, version, created_at, updated_at) \
                     SELECT r.sku, r.barcode, r.name, r.category_id, r.unit, r.price, r.cost, r.tax_code, TRUE, \
                     r.low_stock_milli, r.custom, r.search_text, 1, $2, $2 FROM import_rows r WHERE {valid} \
                     ORDER BY r.row_no"
                ),
                &params![b.id, now.as_str()],
            ),
            Kind::Customers | Kind::Suppliers => sql::execute(
                &format!(
                    "INSERT INTO parties (kind, tax_id, tax_id_kind, name, email, phone, address, custom, active, \
                     search_text, created_at, updated_at) SELECT $2, r.tax_id, r.tax_id_kind, r.name, r.email, \
                     r.phone, r.address, r.custom, TRUE, r.search_text, $3, $3 FROM import_rows r WHERE {valid} \
                     ORDER BY r.row_no"
                ),
                &params![b.id, if kind == Kind::Customers { "customer" } else { "supplier" }, now.as_str()],
            ),
            Kind::Stock => {
                let reference = format!("import:{}", b.id);
                sql::execute(
                    &format!(
                        "INSERT INTO stock_movements (product_id, warehouse_id, kind, quantity_milli, unit_cost, \
                         reference, reason, user_id, at) SELECT p.id, r.warehouse_id, 'opening', r.quantity_milli, \
                         COALESCE(r.cost, p.cost), $2, 'opening stock', $3, $4 FROM import_rows r \
                         JOIN products p ON p.sku = r.sku WHERE {valid} ORDER BY r.row_no"
                    ),
                    &params![b.id, reference.as_str(), user.as_str(), now.as_str()],
                )?;
                // The levels, derived from those movements.
                sql::execute(
                    "INSERT INTO stock_levels (product_id, warehouse_id, quantity_milli) \
                     SELECT m.product_id, m.warehouse_id, SUM(m.quantity_milli) FROM stock_movements m \
                     WHERE m.reference = $1 GROUP BY m.product_id, m.warehouse_id \
                     ON CONFLICT (product_id, warehouse_id) \
                     DO UPDATE SET quantity_milli = stock_levels.quantity_milli + excluded.quantity_milli",
                    &params![reference.as_str()],
                )?;
                // Opening cost: the first row's cost of each product that gave one.
                sql::execute(
                    &format!(
                        "UPDATE products SET cost = (SELECT r.cost FROM import_rows r WHERE {valid} \
                         AND r.sku = products.sku AND r.cost IS NOT NULL ORDER BY r.row_no LIMIT 1) \
                         WHERE sku IN (SELECT r.sku FROM import_rows r WHERE {valid} AND r.cost IS NOT NULL)"
                    ),
                    &params![b.id],
                )?;
                Ok(common::scalar(
                    "SELECT COUNT(*) FROM stock_movements WHERE reference = $1",
                    &params![reference.as_str()],
                )?
                .try_into()
                .unwrap_or(0))
            }
        }?;
        sql::execute(
            "UPDATE import_batches SET rows_promoted = $1 WHERE id = $2",
            &params![i64::try_from(promoted).unwrap_or(i64::MAX), b.id],
        )?;
        Ok(())
    })?;
    batch(b.id)?.map(Json).ok_or_else(Problem::not_found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_parts_are_read_with_either_separator_and_latin1() {
        let (h, rows) = read_csv(b"codigo;nombre;precio\nA1;Az\xfacar;1,25\n").unwrap_or_default();
        assert_eq!(h, ["codigo", "nombre", "precio"]);
        assert_eq!(rows, [["A1", "Azúcar", "1,25"]]);
        let (h, rows) = read_csv("\u{feff}sku,name\n\"X,1\",\"Té \"\"verde\"\"\"\n".as_bytes()).unwrap_or_default();
        assert_eq!(h, ["sku", "name"]);
        assert_eq!(rows, [["X,1", "Té \"verde\""]]);
    }

    #[test]
    fn json_parts_take_lists_of_objects() {
        let (h, rows) =
            read_json(br#"{"rows": [{"sku": "A", "price": 1.5}, {"name": "B", "sku": "B"}]}"#).unwrap_or_default();
        assert_eq!(h, ["price", "sku", "name"]);
        assert_eq!(rows, [vec!["1.5", "A", ""], vec!["", "B", "B"]]);
        assert!(read_json(b"[1, 2]").is_err());
    }

    #[test]
    fn columns_are_compared_folded() {
        assert_eq!(column_key("Código Barras"), "codigo_barras");
        assert_eq!(column_key("  PVP "), "pvp");
    }
}
