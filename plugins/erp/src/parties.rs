//! Customers and suppliers: one table, two lists. Each has a tax id checked
//! by its country's rules (cédula and RUC in Ecuador, NIF, NIE and CIF in
//! Spain); an invalid one is a 422 naming the field and the rule.

use plaza_sdk::listing::{Filter, Page, PageRequest, paged, returned_id};
use plaza_sdk::prelude::*;
use plaza_sdk::validation::{Errors, invalid, text};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Map;

use crate::common::{self, Tenant, on_conflict};
use crate::taxid::{self, TaxIdKind};

/// Which list a party is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartyKind {
    Customer,
    Supplier,
}

impl PartyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Supplier => "supplier",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct PartyRow {
    pub id: i64,
    pub tax_id: String,
    pub tax_id_kind: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub custom: String,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
}

pub const PARTY_COLUMNS: &str =
    "id, kind, tax_id, tax_id_kind, name, email, phone, address, custom, active, created_at, updated_at";

/// A customer or supplier as the API shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Party {
    pub id: i64,
    pub tax_id: String,
    /// `cedula`, `ruc-natural`, `ruc-private`, `ruc-public`, `final-consumer`,
    /// `passport`, `nif`, `nie` or `cif`.
    pub tax_id_kind: String,
    /// Ecuador: SRI's `tipoIdentificacion` of the tax id (`04` RUC, `05`
    /// cédula, `06` passport, `07` final consumer).
    pub sri_id_type: Option<String>,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub custom: Map<String, serde_json::Value>,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<PartyRow> for Party {
    fn from(r: PartyRow) -> Self {
        Self {
            id: r.id,
            // Only Ecuadorian ids have an SRI type (the Spanish final consumer has none).
            sri_id_type: TaxIdKind::parse(&r.tax_id_kind)
                .filter(|_| r.tax_id != ES_FINAL_CONSUMER)
                .and_then(TaxIdKind::sri_code)
                .map(str::to_owned),
            tax_id: r.tax_id,
            tax_id_kind: r.tax_id_kind,
            name: r.name,
            email: r.email,
            phone: r.phone,
            address: r.address,
            custom: serde_json::from_str(&r.custom).unwrap_or_default(),
            active: r.active,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewParty {
    /// Checked by the tenant's country: its kind is detected from its shape
    /// unless `tax_id_kind` says it (a passport must say so).
    pub tax_id: String,
    #[serde(default)]
    pub tax_id_kind: Option<String>,
    /// A person confirmed this RUC in SRI's registry: accept a company or
    /// public-entity RUC whose modulo-11 check digit fails (SRI has issued
    /// such RUCs; everything else is still checked).
    #[serde(default)]
    pub tax_id_confirmed: bool,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub custom: Option<Map<String, serde_json::Value>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PartyChange {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub active: Option<bool>,
    /// Replaces the custom fields as a whole.
    pub custom: Option<Map<String, serde_json::Value>>,
}

/// The checked fields of a party.
pub struct PartyFields {
    pub tax_id: String,
    pub tax_id_kind: TaxIdKind,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub custom: Map<String, serde_json::Value>,
}

/// Field checks shared by the API and the imports.
pub struct PartyInput<'a> {
    pub tax_id: &'a str,
    pub tax_id_kind: Option<&'a str>,
    pub tax_id_confirmed: bool,
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub address: Option<&'a str>,
    pub custom: Option<&'a Map<String, serde_json::Value>>,
}

pub fn check_party(errors: &mut Errors, tenant: &Tenant, input: PartyInput<'_>) -> PartyFields {
    let kind = match input.tax_id_kind.map(str::trim).filter(|k| !k.is_empty()) {
        Some(k) => match TaxIdKind::parse(k) {
            Some(kind) => Some(kind),
            None => {
                errors.add("tax_id_kind", format!("`tax_id_kind` {k:?} is not a kind of tax id"));
                None
            }
        },
        None => None,
    };
    let check = if input.tax_id_confirmed { taxid::validate_lenient } else { taxid::validate };
    // The final consumer is the module's own record (Spain has no such id).
    let final_consumer = kind == Some(TaxIdKind::FinalConsumer) && input.tax_id == final_consumer_id(tenant);
    let checked = if final_consumer {
        Ok((TaxIdKind::FinalConsumer, input.tax_id.to_owned()))
    } else {
        check(tenant.country, kind, input.tax_id)
    };
    let (tax_id_kind, tax_id) = match checked {
        Ok(ok) => ok,
        Err(e) => {
            errors.add("tax_id", format!("{} (rule {})", e.message, e.rule));
            (TaxIdKind::Passport, input.tax_id.trim().to_owned())
        }
    };
    let name = text(errors, "name", input.name, 1, 300);
    let optional = |errors: &mut Errors, field: &str, value: Option<&str>, max: usize| {
        value.map(str::trim).filter(|v| !v.is_empty()).map(|v| text(errors, field, v, 1, max))
    };
    let email = optional(errors, "email", input.email, 254);
    if let Some(e) = &email {
        errors.check(e.contains('@') && !e.contains(' '), "email", || format!("`email` {e:?} is not an address"));
    }
    let phone = optional(errors, "phone", input.phone, 40);
    let address = optional(errors, "address", input.address, 500);
    let custom = common::check_custom(errors, &tenant.customer_fields, input.custom);
    PartyFields { tax_id, tax_id_kind, name, email, phone, address, custom }
}

pub fn party(kind: PartyKind, id: i64) -> Result<Option<PartyRow>, Problem> {
    Ok(sql::query_one_as(
        &format!("SELECT {PARTY_COLUMNS} FROM parties WHERE id = $1 AND kind = $2"),
        &params![id, kind.as_str()],
    )?)
}

/// An active party named in a body, or 422 naming `field`.
pub fn active_party(kind: PartyKind, field: &str, id: i64) -> Result<PartyRow, Problem> {
    match party(kind, id)? {
        Some(p) if p.active => Ok(p),
        Some(p) => Err(invalid(field, format!("{} {} is inactive", kind.as_str(), p.name))),
        None => Err(invalid(field, format!("there is no {} {id}", kind.as_str()))),
    }
}

/// Spain's final consumer: a placeholder, as a simplified invoice names no customer.
const ES_FINAL_CONSUMER: &str = "CONSUMIDOR-FINAL";

/// The final consumer's tax id: SRI's `9999999999999` in Ecuador; in Spain,
/// where a simplified invoice names no customer, a placeholder.
fn final_consumer_id(tenant: &Tenant) -> &'static str {
    match tenant.country {
        taxid::Country::Ec => taxid::EC_FINAL_CONSUMER,
        taxid::Country::Es => ES_FINAL_CONSUMER,
    }
}

/// The final consumer (`9999999999999` in Ecuador), created on first use:
/// a sale without a customer is sold to them.
pub fn final_consumer(tenant: &Tenant) -> Result<PartyRow, Problem> {
    let (tax_id, kind) = (final_consumer_id(tenant), TaxIdKind::FinalConsumer);
    let find = || {
        sql::query_one_as::<PartyRow>(
            &format!("SELECT {PARTY_COLUMNS} FROM parties WHERE kind = 'customer' AND tax_id = $1"),
            &params![tax_id],
        )
    };
    // Read first: every counter sale asks, and a write would queue behind
    // the other writers for nothing.
    if let Some(found) = find()? {
        return Ok(found);
    }
    let now = time::now_rfc3339();
    sql::execute(
        "INSERT INTO parties (kind, tax_id, tax_id_kind, name, custom, active, search_text, created_at, updated_at) \
         VALUES ('customer', $1, $2, $3, '{}', TRUE, $4, $5, $5) ON CONFLICT (kind, tax_id) DO NOTHING",
        &params![tax_id, kind.as_str(), "CONSUMIDOR FINAL", "consumidor final", now],
    )?;
    find()?.ok_or_else(|| Problem::internal("the final consumer was not stored"))
}

fn create(kind: PartyKind, new: NewParty) -> Result<Created<Party>, Problem> {
    let tenant = Tenant::load()?;
    let mut errors = Errors::default();
    let f = check_party(
        &mut errors,
        &tenant,
        PartyInput {
            tax_id: &new.tax_id,
            tax_id_kind: new.tax_id_kind.as_deref(),
            tax_id_confirmed: new.tax_id_confirmed,
            name: &new.name,
            email: new.email.as_deref(),
            phone: new.phone.as_deref(),
            address: new.address.as_deref(),
            custom: new.custom.as_ref(),
        },
    );
    errors.finish()?;
    let now = time::now_rfc3339();
    let search = common::search_text(&[&f.name, &f.tax_id, f.email.as_deref().unwrap_or("")]);
    let rows = sql::query(
        "INSERT INTO parties (kind, tax_id, tax_id_kind, name, email, phone, address, custom, active, search_text, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, TRUE, $9, $10, $10) RETURNING id",
        &params![
            kind.as_str(),
            f.tax_id.as_str(),
            f.tax_id_kind.as_str(),
            f.name,
            f.email,
            f.phone,
            f.address,
            serde_json::Value::Object(f.custom).to_string(),
            search,
            now
        ],
    )
    .map_err(on_conflict("tax_id", format!("a {} with tax id {} already exists", kind.as_str(), f.tax_id)))?;
    let row = party(kind, returned_id(&rows)?)?.ok_or_else(Problem::not_found)?;
    Ok(Created(row.into()))
}

fn update(kind: PartyKind, req: &Request, change: PartyChange) -> Result<Json<Party>, Problem> {
    let tenant = Tenant::load()?;
    let current = party(kind, common::id(req)?)?.ok_or_else(Problem::not_found)?;
    let custom = match &change.custom {
        Some(c) => c.clone(),
        None => serde_json::from_str(&current.custom).unwrap_or_default(),
    };
    let mut errors = Errors::default();
    let f = check_party(
        &mut errors,
        &tenant,
        PartyInput {
            tax_id: &current.tax_id,
            tax_id_kind: Some(&current.tax_id_kind),
            // Checked when it was stored.
            tax_id_confirmed: true,
            name: change.name.as_deref().unwrap_or(&current.name),
            email: change.email.as_deref().or(current.email.as_deref()),
            phone: change.phone.as_deref().or(current.phone.as_deref()),
            address: change.address.as_deref().or(current.address.as_deref()),
            custom: Some(&custom),
        },
    );
    errors.finish()?;
    let search = common::search_text(&[&f.name, &f.tax_id, f.email.as_deref().unwrap_or("")]);
    sql::execute(
        "UPDATE parties SET name = $1, email = $2, phone = $3, address = $4, custom = $5, active = $6, \
         search_text = $7, updated_at = $8 WHERE id = $9",
        &params![
            f.name,
            f.email,
            f.phone,
            f.address,
            serde_json::Value::Object(f.custom).to_string(),
            change.active.unwrap_or(current.active),
            search,
            time::now_rfc3339(),
            current.id
        ],
    )?;
    let row = party(kind, current.id)?.ok_or_else(Problem::not_found)?;
    Ok(Json(row.into()))
}

fn list(kind: PartyKind, req: &Request) -> Result<Json<Page<Party>>, Problem> {
    let page = PageRequest::from_request(req)?;
    let mut filter = Filter::default();
    filter.add("kind = ?", kind.as_str().into());
    filter.eq(req, "tax_id", "tax_id");
    if let Some(q) = req.query_param("q") {
        filter.words("search_text", &common::search_words(q));
    }
    let (from, params) = filter.from("parties");
    let rows: Page<PartyRow> = paged(PARTY_COLUMNS, &from, "name, id", &params, page)?;
    Ok(Json(page.wrap(rows.items.into_iter().map(Party::from).collect(), rows.total)))
}

fn get(kind: PartyKind, req: &Request) -> Result<Json<Party>, Problem> {
    party(kind, common::id(req)?)?.map(|r| Json(r.into())).ok_or_else(Problem::not_found)
}

pub fn list_customers(req: &Request) -> Result<Json<Page<Party>>, Problem> {
    list(PartyKind::Customer, req)
}
pub fn get_customer(req: &Request) -> Result<Json<Party>, Problem> {
    get(PartyKind::Customer, req)
}
pub fn create_customer(_req: &Request, Json(new): Json<NewParty>) -> Result<Created<Party>, Problem> {
    create(PartyKind::Customer, new)
}
pub fn update_customer(req: &Request, Json(change): Json<PartyChange>) -> Result<Json<Party>, Problem> {
    update(PartyKind::Customer, req, change)
}
pub fn list_suppliers(req: &Request) -> Result<Json<Page<Party>>, Problem> {
    list(PartyKind::Supplier, req)
}
pub fn get_supplier(req: &Request) -> Result<Json<Party>, Problem> {
    get(PartyKind::Supplier, req)
}
pub fn create_supplier(_req: &Request, Json(new): Json<NewParty>) -> Result<Created<Party>, Problem> {
    create(PartyKind::Supplier, new)
}
pub fn update_supplier(req: &Request, Json(change): Json<PartyChange>) -> Result<Json<Party>, Problem> {
    update(PartyKind::Supplier, req, change)
}
