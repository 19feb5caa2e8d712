//! What every part of the module shares: its roles, the tenant's settings,
//! amounts and quantities as they cross the API and the database, custom
//! fields, and the problems that name a state.

use std::collections::BTreeMap;

use plaza_sdk::prelude::*;
use plaza_sdk::sql::Value;
use plaza_sdk::validation::{Errors, invalid};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Map;

use crate::money;
use crate::taxid::Country;

/// Settings, catalogue, series, imports; everything.
pub const ERP_ADMIN: &str = "erp-admin";
/// Point of sale: sales, payments, customers.
pub const ERP_SELLER: &str = "erp-seller";
/// Warehouse: stock movements, purchases, suppliers.
pub const ERP_STOCK: &str = "erp-stock";
/// Expenses and reports.
pub const ERP_ACCOUNTANT: &str = "erp-accountant";
/// Reads everything.
pub const ERP_READER: &str = "erp-reader";

/// Every ERP role, and the tenant's admins.
pub const READERS: [&str; 6] = [ERP_READER, ERP_SELLER, ERP_STOCK, ERP_ACCOUNTANT, ERP_ADMIN, "admin"];
/// Who manages the catalogue, series and imports.
pub const ADMINS: [&str; 2] = [ERP_ADMIN, "admin"];
/// Who sells.
pub const SELLERS: [&str; 3] = [ERP_SELLER, ERP_ADMIN, "admin"];
/// Who moves stock and buys.
pub const STOCK: [&str; 3] = [ERP_STOCK, ERP_ADMIN, "admin"];
/// Who writes customers and suppliers: sellers at the counter, the warehouse
/// when it receives from a new supplier, and admins.
pub const PARTIES: [&str; 4] = [ERP_SELLER, ERP_STOCK, ERP_ADMIN, "admin"];
/// Who records expenses and reads reports.
pub const ACCOUNTANTS: [&str; 3] = [ERP_ACCOUNTANT, ERP_ADMIN, "admin"];

/// The module's settings for a tenant (`PUT /t/{tenant}/modules/erp/config/{key}`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[allow(dead_code)] // a schema only
pub struct Settings {
    /// `EC` (Ecuador: USD, IVA 15/5/0 %, no objeto, exento) or `ES` (Spain:
    /// EUR, IVA 21/10/4/0 %). Decides the tax table, the currency and which
    /// tax ids are valid. `EC` by default.
    #[schemars(regex(pattern = r"^(EC|ES)$"))]
    pub country: Option<String>,
    /// IANA time zone of the business: a sale's issue date and the reports'
    /// days are calendar days there (`UTC` by default).
    pub timezone: Option<String>,
    /// The seller as printed on receipts and carried by `erp.sale-confirmed`.
    pub company: Option<Company>,
    /// Whether a sale or transfer may take stock below zero (`false` by default).
    pub allow_negative_stock: Option<bool>,
    /// The series (`001-001`) sales use when they name none.
    #[schemars(regex(pattern = r"^\d{3}-\d{3}$"))]
    pub default_series: Option<String>,
    /// The tenant's own fields on products, checked on every write.
    pub product_fields: Option<Vec<CustomField>>,
    /// The tenant's own fields on customers and suppliers.
    pub customer_fields: Option<Vec<CustomField>>,
    /// Column names of imported files mapped to the module's fields, e.g.
    /// `{"codigo": "sku", "descripcion": "name", "pvp": "price"}`.
    pub import_aliases: Option<BTreeMap<String, String>>,
}

/// The business that sells.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Company {
    pub name: String,
    /// RUC in Ecuador, NIF/CIF in Spain.
    pub tax_id: String,
    #[serde(default)]
    pub trade_name: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
}

/// A field a tenant adds to products or customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CustomField {
    /// Key in the record's `custom` object: lower-case letters, digits, `_`.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]{0,39}$"))]
    pub name: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(rename = "type")]
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    /// The allowed values of a `choice` field.
    #[serde(default)]
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    Text,
    Number,
    Integer,
    Boolean,
    Date,
    Choice,
}

/// The settings in effect, with their defaults.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub country: Country,
    pub timezone: String,
    pub company: Company,
    pub allow_negative_stock: bool,
    pub default_series: Option<String>,
    pub product_fields: Vec<CustomField>,
    pub customer_fields: Vec<CustomField>,
    pub import_aliases: BTreeMap<String, String>,
}

impl Tenant {
    /// Reads the settings; a stored value that is not valid is a 409 naming it.
    pub fn load() -> Result<Self, Problem> {
        let country: Option<String> = config::get("country")?;
        let country = match country.as_deref() {
            None => Country::Ec,
            Some(c) => Country::parse(c).ok_or_else(|| setting("country", "is EC or ES"))?,
        };
        let timezone: Option<String> = config::get("timezone")?;
        let timezone = timezone.unwrap_or_else(|| "UTC".into());
        if jiff::tz::TimeZone::get(&timezone).is_err() {
            return Err(setting("timezone", "is an IANA time zone"));
        }
        let company: Option<Company> = config::get("company")?;
        let negative: Option<bool> = config::get("allow_negative_stock")?;
        Ok(Self {
            country,
            timezone,
            company: company.unwrap_or_default(),
            allow_negative_stock: negative.unwrap_or(false),
            default_series: config::get("default_series")?,
            product_fields: config::get::<Vec<CustomField>>("product_fields")?.unwrap_or_default(),
            customer_fields: config::get::<Vec<CustomField>>("customer_fields")?.unwrap_or_default(),
            import_aliases: config::get::<BTreeMap<String, String>>("import_aliases")?.unwrap_or_default(),
        })
    }

    pub fn currency(&self) -> &'static str {
        money::currency(self.country)
    }

    /// Today in the business's time zone, `YYYY-MM-DD`.
    pub fn today(&self) -> Result<String, Problem> {
        let tz = jiff::tz::TimeZone::get(&self.timezone).map_err(|e| Problem::internal(e.to_string()))?;
        let now = jiff::Timestamp::from_second(time::now_unix()).map_err(|e| Problem::internal(e.to_string()))?;
        Ok(now.to_zoned(tz).date().to_string())
    }
}

fn setting(name: &str, rule: &str) -> Problem {
    Problem::conflict(format!("the setting `{name}` is not valid: it {rule}; a tenant admin must fix it"))
        .with("setting", name)
}

// ----- amounts and quantities -----

/// A decimal in a request: a JSON string (`"12.50"`, exact) or a number
/// (read from its text, never through a float).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, JsonSchema)]
#[schemars(with = "AmountSchema")]
pub struct Amount(pub Decimal);

/// How an [`Amount`] is written: a decimal string, or a number.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // a schema only
enum AmountSchema {
    Text(#[schemars(regex(pattern = r"^-?\d+(\.\d+)?$"))] String),
    Number(f64),
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let text = match &value {
            serde_json::Value::String(s) => s.trim().to_owned(),
            serde_json::Value::Number(n) => n.to_string(),
            other => return Err(serde::de::Error::custom(format!("expected a decimal, found {other}"))),
        };
        parse_decimal(&text).map(Amount).ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not a decimal")))
    }
}

/// `12.5`, `-3`, `1e2` are refused (no exponent): plain decimals only.
pub fn parse_decimal(text: &str) -> Option<Decimal> {
    if text.is_empty() || text.contains(['e', 'E']) {
        return None;
    }
    text.parse::<Decimal>().ok().map(|d| d.normalize())
}

/// A decimal as the API writes it, with at least `scale` decimals (`12.50`).
pub fn show(d: Decimal, scale: u32) -> String {
    let mut d = d.normalize();
    if d.scale() < scale {
        d.rescale(scale);
    }
    d.to_string()
}

/// Cents (exact, as stored) as a decimal string with two decimals.
pub fn cents(c: i64) -> String {
    show(Decimal::new(c, 2), 2)
}

/// A decimal with at most two decimals as cents; 422 otherwise.
pub fn to_cents(field: &str, d: Decimal) -> Result<i64, Problem> {
    let scaled = d * Decimal::ONE_HUNDRED;
    match (scaled.fract().is_zero(), scaled.to_i64()) {
        (true, Some(c)) => Ok(c),
        _ => Err(invalid(field, format!("`{field}` must have at most 2 decimals, not {d}"))),
    }
}

/// Stored cents back to a decimal.
pub fn from_cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

/// A quantity with at most three decimals as thousandths; 422 otherwise.
pub fn to_milli(field: &str, d: Decimal) -> Result<i64, Problem> {
    let scaled = d * Decimal::ONE_THOUSAND;
    match (scaled.fract().is_zero(), scaled.to_i64()) {
        (true, Some(m)) => Ok(m),
        _ => Err(invalid(field, format!("`{field}` must have at most 3 decimals, not {d}"))),
    }
}

/// Thousandths as a quantity string (`2.5`, `10`).
pub fn milli(m: i64) -> String {
    Decimal::new(m, 3).normalize().to_string()
}

pub fn from_milli(m: i64) -> Decimal {
    Decimal::new(m, 3)
}

/// A stored decimal text (prices, costs): the module wrote it, so a bad one
/// is its own bug.
pub fn stored(text: &str) -> Result<Decimal, Problem> {
    parse_decimal(text).ok_or_else(|| Problem::internal(format!("stored decimal {text:?} does not parse")))
}

// ----- custom fields -----

/// Checks a record's `custom` object against the tenant's fields: unknown
/// keys, wrong types, missing required ones and values outside a choice
/// are errors named `custom.<name>`. Returns the object to store.
pub fn check_custom(
    errors: &mut Errors,
    fields: &[CustomField],
    custom: Option<&Map<String, serde_json::Value>>,
) -> Map<String, serde_json::Value> {
    let empty = Map::new();
    let custom = custom.unwrap_or(&empty);
    let mut out = Map::new();
    for key in custom.keys() {
        if !fields.iter().any(|f| &f.name == key) {
            errors.add(&format!("custom.{key}"), format!("there is no custom field `{key}` in this tenant's settings"));
        }
    }
    for field in fields {
        let name = format!("custom.{}", field.name);
        match custom.get(&field.name) {
            None | Some(serde_json::Value::Null) => {
                errors.check(!field.required, &name, || format!("`{name}` is required"));
            }
            Some(value) => match custom_value(field, value) {
                Ok(v) => {
                    out.insert(field.name.clone(), v);
                }
                Err(why) => errors.add(&name, format!("`{name}` {why}")),
            },
        }
    }
    out
}

fn custom_value(field: &CustomField, value: &serde_json::Value) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    match (field.kind, value) {
        (FieldKind::Text, J::String(s)) if s.chars().count() <= 500 => Ok(J::String(s.trim().to_owned())),
        (FieldKind::Text, _) => Err("must be text of at most 500 characters".into()),
        (FieldKind::Number, J::Number(_)) => Ok(value.clone()),
        (FieldKind::Number, J::String(s)) => parse_decimal(s.trim())
            .map(|d| J::String(d.to_string()))
            .ok_or_else(|| format!("must be a number, not {s:?}")),
        (FieldKind::Integer, J::Number(n)) if n.is_i64() => Ok(value.clone()),
        (FieldKind::Integer, J::String(s)) => {
            s.trim().parse::<i64>().map(J::from).map_err(|_| format!("must be a whole number, not {s:?}"))
        }
        (FieldKind::Boolean, J::Bool(_)) => Ok(value.clone()),
        (FieldKind::Boolean, J::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "si" | "sí" => Ok(J::Bool(true)),
            "false" | "0" | "no" => Ok(J::Bool(false)),
            _ => Err(format!("must be true or false, not {s:?}")),
        },
        (FieldKind::Date, J::String(s)) => s
            .trim()
            .parse::<jiff::civil::Date>()
            .map(|d| J::String(d.to_string()))
            .map_err(|_| format!("must be a date YYYY-MM-DD, not {s:?}")),
        (FieldKind::Choice, J::String(s)) if field.options.iter().any(|o| o == s.trim()) => {
            Ok(J::String(s.trim().to_owned()))
        }
        (FieldKind::Choice, _) => Err(format!("must be one of {}", field.options.join(", "))),
        (kind, other) => Err(format!("must be of type {kind:?}, not {other}").to_lowercase()),
    }
}

// ----- problems and small SQL helpers -----

/// A 409 for an action the current state does not allow; it names both.
pub fn state_conflict(kind: &str, state: &str, action: &str) -> Problem {
    Problem::conflict(format!("a {kind} in state `{state}` cannot be {action}"))
        .with_type("urn:plaza:problem:erp:invalid-state")
        .with("state", state)
        .with("action", action)
}

/// A 409 for a change that lost a race with another one.
pub fn changed_meanwhile(kind: &str) -> Problem {
    Problem::conflict(format!("the {kind} was changed by another request meanwhile; read it again and retry"))
        .with_type("urn:plaza:problem:erp:concurrent-change")
}

/// An integer id from the path (400 when not a number).
pub fn id(req: &Request) -> Result<i64, Problem> {
    req.path_param("id")
}

/// Accents folded to ASCII, lower case, words separated by one space.
pub fn search_text(parts: &[&str]) -> String {
    let folded = deunicode::deunicode(&parts.join(" ")).to_lowercase();
    folded.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// The words of a search query, folded like [`search_text`] (at most 8).
pub fn search_words(query: &str) -> Vec<String> {
    search_text(&[query]).split(' ').filter(|w| !w.is_empty()).map(str::to_owned).take(8).collect()
}

/// One integer a query answers in its first row (`COUNT`, `SUM`…); 0 for NULL.
pub fn scalar(statement: &str, params: &[Value]) -> Result<i64, Problem> {
    let rows = sql::query(statement, params)?;
    Ok(rows.rows.first().and_then(|r| r.first()).and_then(Value::as_i64).unwrap_or(0))
}

/// A unique value already taken, when the database says so.
pub fn on_conflict(field: &'static str, detail: String) -> impl FnOnce(plaza_sdk::Error) -> Problem {
    move |e| {
        if e.kind() == "conflict" { plaza_sdk::validation::taken(field, detail) } else { e.into() }
    }
}

/// A CSV document of `header` and `rows`, served as a download.
pub fn csv_response(name: &str, header: &[&str], rows: &[Vec<String>]) -> Result<Response, Problem> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(header).map_err(|e| Problem::internal(e.to_string()))?;
    for row in rows {
        out.write_record(row).map_err(|e| Problem::internal(e.to_string()))?;
    }
    let bytes = out.into_inner().map_err(|e| Problem::internal(e.to_string()))?;
    Ok(Response::bytes("text/csv; charset=utf-8", bytes)
        .with_header("content-disposition", format!("attachment; filename=\"{name}.csv\"")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amounts_read_strings_and_numbers_exactly() {
        let a: Amount = serde_json::from_value(json!("12.50")).unwrap_or_default();
        assert_eq!(a.0.to_string(), "12.5");
        let b: Amount = serde_json::from_value(json!(0.1)).unwrap_or_default();
        assert_eq!(b.0.to_string(), "0.1");
        assert!(serde_json::from_value::<Amount>(json!("1e3")).is_err());
        assert!(serde_json::from_value::<Amount>(json!(true)).is_err());
        assert_eq!(show(Decimal::new(125, 1), 2), "12.50");
        assert_eq!(cents(-1234), "-12.34");
        assert_eq!(milli(2500), "2.5");
        assert!(to_cents("x", Decimal::new(1234, 3)).is_err());
        assert_eq!(to_milli("q", Decimal::new(75, 2)).ok(), Some(750));
    }

    #[test]
    fn custom_fields_are_checked() {
        let fields: Vec<CustomField> = serde_json::from_value(json!([
            { "name": "brand", "type": "text", "required": true },
            { "name": "size", "type": "choice", "options": ["S", "M"] },
            { "name": "expires", "type": "date" }
        ]))
        .unwrap_or_default();
        let mut errors = Errors::default();
        let custom = json!({ "brand": " Acme ", "size": "M", "expires": "2027-01-31" });
        let out = check_custom(&mut errors, &fields, custom.as_object());
        assert!(errors.finish().is_ok());
        assert_eq!(out["brand"], "Acme");
        let mut errors = Errors::default();
        let custom = json!({ "size": "XL", "colour": "red", "expires": "31/01/2027" });
        check_custom(&mut errors, &fields, custom.as_object());
        let problem = errors.finish().err();
        let fields: Vec<String> = problem
            .map(|p| {
                p.extensions()["errors"].as_array().into_iter().flatten().map(|e| e["field"].to_string()).collect()
            })
            .unwrap_or_default();
        assert_eq!(fields, ["\"custom.colour\"", "\"custom.brand\"", "\"custom.size\"", "\"custom.expires\""]);
    }

    #[test]
    fn search_text_folds_accents() {
        assert_eq!(search_text(&["Azúcar  Morena", "SKU-001"]), "azucar morena sku 001");
        assert_eq!(search_words("Ñandú"), vec!["nandu"]);
    }
}
