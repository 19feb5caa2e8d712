//! Expedientes (case files): numbered on creation, a cover PDF, signed
//! documents linked in order (fojas, never unlinked), pases between
//! sectors with their full history, and archiving (read-only).

use plaza_sdk::listing::{Filter, Page, PageRequest, paged};
use plaza_sdk::prelude::*;
use plaza_sdk::validation::{Errors, invalid, text};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{self, GdiFilter, Tenant};
use crate::documents;
use crate::logic::{self, DocState, ExpState, Sequence};
use crate::org;
use crate::pdf;

/// The event a pase publishes.
pub const MOVED_EVENT: &str = "gdi.expediente-moved";

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Expediente {
    pub id: i64,
    /// `EX-YYYY-NNNNNNNN-ECO-DEPT`.
    pub number: String,
    pub number_year: i64,
    pub subject: String,
    pub procedure_type: String,
    /// `citizen` or `office`.
    pub initiator_kind: String,
    pub initiator_name: String,
    /// The citizen's id document or the office's code.
    pub initiator_id: Option<String>,
    pub created_sector: String,
    /// The sector that holds it: only its members link documents or pass it on.
    pub current_sector: String,
    pub state: ExpState,
    pub version: i64,
    /// SHA-256 (hex) of the cover PDF.
    pub cover_sha256: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str = "id, number, number_year, subject, procedure_type, initiator_kind, initiator_name, initiator_id, \
    created_sector, current_sector, state, version, cover_sha256, created_by, created_at, updated_at";

pub fn row(id: i64) -> Result<Option<Expediente>, Problem> {
    Ok(sql::query_one_as(&format!("SELECT {COLUMNS} FROM expedientes WHERE id = $1"), &params![id])?)
}

fn found(req: &Request) -> Result<Expediente, Problem> {
    row(common::id(req)?)?.ok_or_else(Problem::not_found)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InitiatorKind {
    Citizen,
    Office,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Initiator {
    pub kind: InitiatorKind,
    pub name: String,
    #[serde(default)]
    pub id_number: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewExpediente {
    /// The sector that opens it (the caller's); its code ends the number.
    pub sector_code: String,
    pub subject: String,
    /// `Habilitación comercial`, `Licitación pública`...
    pub procedure_type: String,
    pub initiator: Initiator,
}

pub fn create(req: &Request, Json(new): Json<NewExpediente>) -> Result<Created<Expediente>, Problem> {
    let caller = req.caller();
    let user = caller.require_user()?;
    let mut errors = Errors::default();
    let subject = text(&mut errors, "subject", &new.subject, 1, logic::TEXT_MAX);
    let procedure = text(&mut errors, "procedure_type", &new.procedure_type, 1, 200);
    let initiator = text(&mut errors, "initiator.name", &new.initiator.name, 1, 200);
    let initiator_id = new.initiator.id_number.as_deref().map(|i| text(&mut errors, "initiator.id_number", i, 1, 50));
    errors.finish()?;
    org::active_sector("sector_code", &new.sector_code)?;
    common::require_member(caller, &new.sector_code, "open expedientes")?;
    let tenant = Tenant::load(caller)?;
    let kind = match new.initiator.kind {
        InitiatorKind::Citizen => "citizen",
        InitiatorKind::Office => "office",
    };
    let id = sql::transaction(|| -> Result<i64, Problem> {
        let year = tenant.year_now()?;
        let seq = common::draw(Sequence::Expediente, year)?;
        let number = logic::format_number("EX", year, seq, &tenant.eco, &new.sector_code);
        let now = time::now_rfc3339();
        let rows = sql::query(
            "INSERT INTO expedientes (number, number_year, number_seq, subject, procedure_type, initiator_kind, \
             initiator_name, initiator_id, created_sector, current_sector, state, version, search_text, created_by, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, 1, $11, $12, $13, $13) \
             RETURNING id",
            &params![
                number.as_str(),
                i64::from(year),
                seq,
                subject.as_str(),
                procedure.as_str(),
                kind,
                initiator.as_str(),
                initiator_id.as_deref(),
                new.sector_code.as_str(),
                ExpState::Open.as_str(),
                logic::search_text(&[&number, &subject, &procedure, &initiator]),
                user,
                now.as_str()
            ],
        )?;
        let id = plaza_sdk::listing::returned_id(&rows)?;
        let exp = row(id)?.ok_or_else(Problem::not_found)?;
        let cover = pdf::cover(&tenant, &exp);
        let sha = common::sha256_hex(&cover);
        let key = format!("expedientes/{id}/cover.pdf");
        blob::put(&key, &cover, "application/pdf")?;
        sql::execute(
            "UPDATE expedientes SET cover_key = $1, cover_sha256 = $2 WHERE id = $3",
            &params![key.as_str(), sha.as_str(), id],
        )?;
        Ok(id)
    })?;
    row(id)?.map(Created).ok_or_else(Problem::not_found)
}

pub fn get(req: &Request) -> Result<Json<Expediente>, Problem> {
    found(req).map(Json)
}

pub fn cover(req: &Request) -> Result<Response, Problem> {
    let exp = found(req)?;
    let object = blob::get(&format!("expedientes/{}/cover.pdf", exp.id))?
        .ok_or_else(|| Problem::internal("the cover PDF is missing from storage"))?;
    Ok(Response::bytes("application/pdf", object.data)
        .with_header("content-disposition", format!("inline; filename=\"{}-caratula.pdf\"", exp.number)))
}

/// 409 unless the expediente can still change; 403 unless the caller is a
/// member of the sector that holds it.
fn require_holder(caller: &Caller, exp: &Expediente, action: &str) -> Result<(), Problem> {
    if exp.state == ExpState::Archived {
        return Err(common::state_conflict("expediente", exp.state.as_str(), action));
    }
    common::require_member(caller, &exp.current_sector, &format!("act on expedientes it holds ({action})")).map(|_| ())
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Foja {
    /// Position in the expediente, from 1.
    pub foja: i64,
    pub document_id: i64,
    pub number: Option<String>,
    pub type_code: String,
    pub subject: String,
    pub linked_by: String,
    pub linked_at: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Link {
    pub document_id: i64,
}

pub fn link(req: &Request, Json(link): Json<Link>) -> Result<Created<Foja>, Problem> {
    let caller = req.caller();
    let user = caller.require_user()?;
    let exp = found(req)?;
    require_holder(caller, &exp, "linked to")?;
    let doc = documents::row(link.document_id)?
        .ok_or_else(|| invalid("document_id", format!("there is no document {}", link.document_id)))?;
    if doc.state != DocState::Signed {
        return Err(common::state_conflict(
            "document",
            doc.state.as_str(),
            "linked to an expediente (only signed ones)",
        ));
    }
    sql::transaction(|| -> Result<(), Problem> {
        let n = sql::execute(
            "UPDATE expedientes SET state = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4",
            &params![ExpState::InProgress.as_str(), time::now_rfc3339(), exp.id, exp.version],
        )?;
        if n == 0 {
            return Err(common::changed_meanwhile("expediente"));
        }
        let linked = sql::execute(
            "INSERT INTO expediente_documents (expediente_id, foja, document_id, linked_by, linked_at) \
             SELECT $1, COALESCE(MAX(foja), 0) + 1, $2, $3, $4 FROM expediente_documents WHERE expediente_id = $1",
            &params![exp.id, doc.id, user, time::now_rfc3339()],
        );
        match linked {
            Err(e) if e.kind() == "conflict" => {
                Err(Problem::conflict(format!("document {} is already a foja of {}", doc.id, exp.number))
                    .with_type("urn:plaza:problem:gdi:already-linked"))
            }
            other => other.map(|_| ()).map_err(Problem::from),
        }
    })?;
    let foja = fojas(exp.id)?.into_iter().find(|f| f.document_id == doc.id).ok_or_else(Problem::not_found)?;
    Ok(Created(foja))
}

fn fojas(id: i64) -> Result<Vec<Foja>, Problem> {
    Ok(sql::query_as(
        "SELECT f.foja, f.document_id, d.number, d.type_code, d.subject, f.linked_by, f.linked_at \
         FROM expediente_documents f JOIN documents d ON d.id = f.document_id \
         WHERE f.expediente_id = $1 ORDER BY f.foja LIMIT 2000",
        &params![id],
    )?)
}

pub fn list_fojas(req: &Request) -> Result<Json<Vec<Foja>>, Problem> {
    let exp = found(req)?;
    fojas(exp.id).map(Json)
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Move {
    pub id: i64,
    pub from_sector: String,
    pub to_sector: String,
    pub note: String,
    pub moved_by: String,
    pub moved_at: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewMove {
    pub to_sector: String,
    /// What the receiving sector should do: 1 to 2000 characters.
    pub note: String,
}

/// The payload of `gdi.expediente-moved`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ExpedienteMoved {
    pub expediente_id: i64,
    pub number: String,
    pub move_id: i64,
    pub from_sector: String,
    pub to_sector: String,
    pub moved_at: String,
}

/// A pase: the holding sector passes the expediente on, with a note.
pub fn pass(req: &Request, Json(new): Json<NewMove>) -> Result<Created<Move>, Problem> {
    let caller = req.caller();
    let user = caller.require_user()?;
    let exp = found(req)?;
    require_holder(caller, &exp, "passed on")?;
    let mut errors = Errors::default();
    let note = text(&mut errors, "note", &new.note, 1, 2000);
    errors.finish()?;
    org::active_sector("to_sector", &new.to_sector)?;
    if new.to_sector == exp.current_sector {
        return Err(invalid("to_sector", format!("{} already holds {}", exp.current_sector, exp.number)));
    }
    let now = time::now_rfc3339();
    let id = sql::transaction(|| -> Result<i64, Problem> {
        let n = sql::execute(
            "UPDATE expedientes SET current_sector = $1, state = $2, version = version + 1, updated_at = $3 \
             WHERE id = $4 AND version = $5",
            &params![new.to_sector.as_str(), ExpState::InProgress.as_str(), now.as_str(), exp.id, exp.version],
        )?;
        if n == 0 {
            return Err(common::changed_meanwhile("expediente"));
        }
        let rows = sql::query(
            "INSERT INTO expediente_moves (expediente_id, from_sector, to_sector, note, moved_by, moved_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &params![exp.id, exp.current_sector.as_str(), new.to_sector.as_str(), note.as_str(), user, now.as_str()],
        )?;
        let id = plaza_sdk::listing::returned_id(&rows)?;
        events::publish(
            MOVED_EVENT,
            &ExpedienteMoved {
                expediente_id: exp.id,
                number: exp.number.clone(),
                move_id: id,
                from_sector: exp.current_sector.clone(),
                to_sector: new.to_sector.clone(),
                moved_at: now.clone(),
            },
        )?;
        Ok(id)
    })?;
    Ok(Created(Move {
        id,
        from_sector: exp.current_sector,
        to_sector: new.to_sector,
        note,
        moved_by: user.to_owned(),
        moved_at: now,
    }))
}

pub fn list_moves(req: &Request) -> Result<Json<Vec<Move>>, Problem> {
    let exp = found(req)?;
    Ok(Json(sql::query_as(
        "SELECT id, from_sector, to_sector, note, moved_by, moved_at FROM expediente_moves \
         WHERE expediente_id = $1 ORDER BY id LIMIT 2000",
        &params![exp.id],
    )?))
}

pub fn archive(req: &Request) -> Result<Json<Expediente>, Problem> {
    let caller = req.caller();
    let exp = found(req)?;
    require_holder(caller, &exp, "archived")?;
    let n = sql::execute(
        "UPDATE expedientes SET state = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4",
        &params![ExpState::Archived.as_str(), time::now_rfc3339(), exp.id, exp.version],
    )?;
    if n == 0 {
        return Err(common::changed_meanwhile("expediente"));
    }
    row(exp.id)?.map(Json).ok_or_else(Problem::not_found)
}

pub fn list(req: &Request) -> Result<Json<Page<Expediente>>, Problem> {
    let page = PageRequest::from_request(req)?;
    let mut filter = Filter::default();
    filter.eq(req, "number", "number");
    filter.eq(req, "sector", "current_sector");
    if let Some(s) = req.query_param("state") {
        let state = ExpState::parse(s)
            .ok_or_else(|| invalid("state", format!("`state` is open, in_progress or archived, not {s:?}")))?;
        filter.add("state = ?", state.as_str().into());
    }
    filter.year(req)?;
    filter.search(req);
    let (from, params) = filter.from("expedientes");
    paged(COLUMNS, &from, "id DESC", &params, page).map(Json)
}
