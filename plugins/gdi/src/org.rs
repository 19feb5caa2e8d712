//! The municipality's org chart (sectors and their members) and its
//! document types: what gdi admins manage and everyone reads.

use plaza_sdk::prelude::*;
use plaza_sdk::validation::{Errors, invalid, present, taken, text};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{self, MEMBER_COLUMNS, Membership};
use crate::logic::{self, TemplateField};

// ----- sectors -----

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Sector {
    pub code: String,
    pub name: String,
    pub parent_code: Option<String>,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
}

const SECTOR_COLUMNS: &str = "code, name, parent_code, active, created_at, updated_at";

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewSector {
    /// `INTEN`, `SECGOB`, `HAC`: 2 to 12 upper-case letters or digits.
    pub code: String,
    pub name: String,
    /// The sector above this one in the org chart.
    #[serde(default)]
    pub parent_code: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SectorChange {
    pub name: Option<String>,
    /// A new parent; `null` makes the sector a root.
    #[serde(default, deserialize_with = "present")]
    pub parent_code: Option<Option<String>>,
    /// An inactive sector takes no new members, documents or pases.
    pub active: Option<bool>,
}

pub fn sector(code: &str) -> Result<Option<Sector>, Problem> {
    Ok(sql::query_one_as(&format!("SELECT {SECTOR_COLUMNS} FROM sectors WHERE code = $1"), &params![code])?)
}

/// An active sector named in a body, or 422 naming `field`.
pub fn active_sector(field: &str, code: &str) -> Result<Sector, Problem> {
    match sector(code)? {
        Some(s) if s.active => Ok(s),
        Some(_) => Err(invalid(field, format!("sector {code} is inactive"))),
        None => Err(invalid(field, format!("there is no sector {code}"))),
    }
}

pub fn list_sectors(_req: &Request) -> Result<Json<Vec<Sector>>, Problem> {
    Ok(Json(sql::query_as(&format!("SELECT {SECTOR_COLUMNS} FROM sectors ORDER BY code LIMIT 1000"), &[])?))
}

pub fn get_sector(req: &Request) -> Result<Json<Sector>, Problem> {
    let code: String = req.path_param("code")?;
    sector(&code)?.map(Json).ok_or_else(Problem::not_found)
}

pub fn create_sector(_req: &Request, Json(new): Json<NewSector>) -> Result<Created<Sector>, Problem> {
    let mut errors = Errors::default();
    let name = text(&mut errors, "name", &new.name, 1, logic::TEXT_MAX);
    errors.finish()?;
    let code = common::code("code", &new.code)?;
    if let Some(parent) = &new.parent_code {
        active_sector("parent_code", parent)?;
    }
    if sector(&code)?.is_some() {
        return Err(taken("code", format!("sector {code} already exists")));
    }
    let now = time::now_rfc3339();
    sql::execute(
        "INSERT INTO sectors (code, name, parent_code, active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        &params![code.as_str(), name, new.parent_code, true, now],
    )
    .map_err(|e| {
        if e.kind() == "conflict" { taken("code", format!("sector {code} already exists")) } else { e.into() }
    })?;
    sector(&code)?.map(Created).ok_or_else(Problem::not_found)
}

pub fn update_sector(req: &Request, Json(change): Json<SectorChange>) -> Result<Json<Sector>, Problem> {
    let code: String = req.path_param("code")?;
    let current = sector(&code)?.ok_or_else(Problem::not_found)?;
    let mut errors = Errors::default();
    let name = change.name.as_deref().map(|n| text(&mut errors, "name", n, 1, logic::TEXT_MAX));
    errors.finish()?;
    let parent = match change.parent_code {
        Some(Some(parent)) => {
            active_sector("parent_code", &parent)?;
            // No cycles: the new parent must not be this sector or below it.
            let mut at = Some(parent.clone());
            let mut hops = 0;
            while let Some(c) = at {
                if c == code {
                    return Err(invalid("parent_code", format!("sector {parent} is {code} or below it")));
                }
                hops += 1;
                if hops > 64 {
                    break;
                }
                at = sector(&c)?.and_then(|s| s.parent_code);
            }
            Some(parent)
        }
        Some(None) => None,
        None => current.parent_code.clone(),
    };
    sql::execute(
        "UPDATE sectors SET name = $1, parent_code = $2, active = $3, updated_at = $4 WHERE code = $5",
        &params![
            name.unwrap_or(current.name),
            parent,
            change.active.unwrap_or(current.active),
            time::now_rfc3339(),
            code.as_str()
        ],
    )?;
    sector(&code)?.map(Json).ok_or_else(Problem::not_found)
}

// ----- members -----

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MemberChange {
    /// As printed on signed documents.
    pub full_name: String,
    /// `Intendente`, `Secretario de Gobierno`, `Director`...
    pub position: String,
    #[serde(default)]
    pub can_sign: bool,
    /// May sign last and number (needs `can_sign`).
    #[serde(default)]
    pub can_number: bool,
}

pub fn list_members(req: &Request) -> Result<Json<Vec<Membership>>, Problem> {
    let rows = match req.query_param("sector") {
        Some(s) => sql::query_as(
            &format!(
                "SELECT {MEMBER_COLUMNS} FROM members WHERE sector_code = $1 ORDER BY full_name, user_id LIMIT 1000"
            ),
            &params![s],
        )?,
        None => sql::query_as(
            &format!("SELECT {MEMBER_COLUMNS} FROM members ORDER BY sector_code, full_name, user_id LIMIT 1000"),
            &[],
        )?,
    };
    Ok(Json(rows))
}

pub fn put_member(req: &Request, Json(change): Json<MemberChange>) -> Result<Json<Membership>, Problem> {
    let user: String = req.path_param("user_id")?;
    let code: String = req.path_param("code")?;
    let mut errors = Errors::default();
    let full_name = text(&mut errors, "full_name", &change.full_name, 1, 200);
    let position = text(&mut errors, "position", &change.position, 1, 200);
    errors.check(user.len() <= 200, "user_id", || "a user id has at most 200 characters".into());
    errors.check(change.can_sign || !change.can_number, "can_number", || "a member who numbers must also sign".into());
    errors.finish()?;
    active_sector("code", &code)?;
    sql::execute(
        "INSERT INTO members (user_id, sector_code, full_name, position, can_sign, can_number, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (user_id, sector_code) DO UPDATE SET full_name = excluded.full_name, \
         position = excluded.position, can_sign = excluded.can_sign, can_number = excluded.can_number",
        &params![
            user.as_str(),
            code.as_str(),
            full_name,
            position,
            change.can_sign,
            change.can_number,
            time::now_rfc3339()
        ],
    )?;
    common::membership(&user, &code)?.map(Json).ok_or_else(Problem::not_found)
}

pub fn delete_member(req: &Request) -> Result<NoContent, Problem> {
    let user: String = req.path_param("user_id")?;
    let code: String = req.path_param("code")?;
    let n = sql::execute("DELETE FROM members WHERE user_id = $1 AND sector_code = $2", &params![user, code])?;
    if n == 0 { Err(Problem::not_found()) } else { Ok(NoContent) }
}

/// The caller and the sectors they belong to.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Me {
    pub user_id: String,
    pub roles: Vec<String>,
    pub memberships: Vec<Membership>,
}

pub fn me(req: &Request) -> Result<Json<Me>, Problem> {
    let caller = req.caller();
    let user = caller.require_user()?;
    let memberships = sql::query_as(
        &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE user_id = $1 ORDER BY sector_code"),
        &params![user],
    )?;
    Ok(Json(Me { user_id: user.to_owned(), roles: caller.roles.clone(), memberships }))
}

// ----- document types -----

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DocType {
    pub code: String,
    pub name: String,
    /// Numbered at the last signature from the tenant's yearly sequence.
    pub numbered: bool,
    /// Positions whose holders may sign last and number.
    pub numbering_positions: Vec<String>,
    pub template: Vec<TemplateField>,
    /// The JSON Schema of a document's `fields`, from the template.
    #[schemars(with = "serde_json::Value")]
    pub fields_schema: serde_json::Value,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Deserialize)]
struct DocTypeRow {
    code: String,
    name: String,
    numbered: bool,
    numbering_positions: String,
    template: String,
    active: bool,
    created_at: String,
    updated_at: String,
}

impl DocTypeRow {
    fn into_type(self) -> DocType {
        let template: Vec<TemplateField> = serde_json::from_str(&self.template).unwrap_or_default();
        DocType {
            fields_schema: logic::template_schema(&template),
            code: self.code,
            name: self.name,
            numbered: self.numbered,
            numbering_positions: serde_json::from_str(&self.numbering_positions).unwrap_or_default(),
            template,
            active: self.active,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

const TYPE_COLUMNS: &str = "code, name, numbered, numbering_positions, template, active, created_at, updated_at";

pub fn doc_type(code: &str) -> Result<Option<DocType>, Problem> {
    let row: Option<DocTypeRow> =
        sql::query_one_as(&format!("SELECT {TYPE_COLUMNS} FROM document_types WHERE code = $1"), &params![code])?;
    Ok(row.map(DocTypeRow::into_type))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewDocType {
    /// `DECRE`, `RESOL`, `INFOR`, `NOTA`, `DISPO`...
    pub code: String,
    pub name: String,
    #[serde(default = "yes")]
    pub numbered: bool,
    #[serde(default)]
    pub numbering_positions: Vec<String>,
    #[serde(default)]
    pub template: Vec<TemplateField>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DocTypeChange {
    pub name: Option<String>,
    pub numbered: Option<bool>,
    pub numbering_positions: Option<Vec<String>>,
    pub template: Option<Vec<TemplateField>>,
    /// An inactive type takes no new documents.
    pub active: Option<bool>,
}

fn check_type(errors: &mut Errors, numbered: bool, positions: &[String], template: &[TemplateField]) {
    errors.check(!numbered || !positions.is_empty(), "numbering_positions", || {
        "a numbered type names at least one position that may number".into()
    });
    errors.check(positions.iter().all(|p| !p.trim().is_empty() && p.len() <= 200), "numbering_positions", || {
        "positions have 1 to 200 characters".into()
    });
    if let Err(e) = logic::check_template(template) {
        errors.add("template", e);
    }
}

pub fn list_types(_req: &Request) -> Result<Json<Vec<DocType>>, Problem> {
    let rows: Vec<DocTypeRow> =
        sql::query_as(&format!("SELECT {TYPE_COLUMNS} FROM document_types ORDER BY code LIMIT 500"), &[])?;
    Ok(Json(rows.into_iter().map(DocTypeRow::into_type).collect()))
}

pub fn get_type(req: &Request) -> Result<Json<DocType>, Problem> {
    let code: String = req.path_param("code")?;
    doc_type(&code)?.map(Json).ok_or_else(Problem::not_found)
}

pub fn create_type(_req: &Request, Json(new): Json<NewDocType>) -> Result<Created<DocType>, Problem> {
    let mut errors = Errors::default();
    let name = text(&mut errors, "name", &new.name, 1, logic::TEXT_MAX);
    check_type(&mut errors, new.numbered, &new.numbering_positions, &new.template);
    errors.finish()?;
    let code = common::code("code", &new.code)?;
    if code == "EX" {
        return Err(invalid("code", "`EX` is the expedientes' prefix"));
    }
    if doc_type(&code)?.is_some() {
        return Err(taken("code", format!("document type {code} already exists")));
    }
    let now = time::now_rfc3339();
    sql::execute(
        "INSERT INTO document_types (code, name, numbered, numbering_positions, template, active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        &params![
            code.as_str(),
            name,
            new.numbered,
            serde_json::to_string(&new.numbering_positions).unwrap_or_default(),
            serde_json::to_string(&new.template).unwrap_or_default(),
            true,
            now
        ],
    )?;
    doc_type(&code)?.map(Created).ok_or_else(Problem::not_found)
}

pub fn update_type(req: &Request, Json(change): Json<DocTypeChange>) -> Result<Json<DocType>, Problem> {
    let code: String = req.path_param("code")?;
    let current = doc_type(&code)?.ok_or_else(Problem::not_found)?;
    let mut errors = Errors::default();
    let name = change.name.as_deref().map(|n| text(&mut errors, "name", n, 1, logic::TEXT_MAX));
    let numbered = change.numbered.unwrap_or(current.numbered);
    let positions = change.numbering_positions.unwrap_or(current.numbering_positions);
    let template = change.template.unwrap_or(current.template);
    check_type(&mut errors, numbered, &positions, &template);
    errors.finish()?;
    sql::execute(
        "UPDATE document_types SET name = $1, numbered = $2, numbering_positions = $3, template = $4, active = $5, \
         updated_at = $6 WHERE code = $7",
        &params![
            name.unwrap_or(current.name),
            numbered,
            serde_json::to_string(&positions).unwrap_or_default(),
            serde_json::to_string(&template).unwrap_or_default(),
            change.active.unwrap_or(current.active),
            time::now_rfc3339(),
            code.as_str()
        ],
    )?;
    doc_type(&code)?.map(Json).ok_or_else(Problem::not_found)
}
