//! What every part of the module shares: its roles, the tenant's settings,
//! the caller's memberships, problems that name a state, and small SQL
//! helpers (yearly sequences, history).

use plaza_sdk::listing::Filter;
use plaza_sdk::prelude::*;
use plaza_sdk::sql::Value;
use plaza_sdk::validation::invalid;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::logic::{self, Sequence};

/// Manages sectors, members and document types; reads everything.
pub const GDI_ADMIN: &str = "gdi-admin";
/// Writes documents and runs expedientes for the sectors they belong to.
pub const GDI_WRITER: &str = "gdi-writer";
/// Signs the documents that name them.
pub const GDI_SIGNER: &str = "gdi-signer";
/// Reads documents and expedientes.
pub const GDI_READER: &str = "gdi-reader";

/// Who may read: every GDI role, and the tenant's admins.
pub const READERS: [&str; 5] = [GDI_READER, GDI_WRITER, GDI_SIGNER, GDI_ADMIN, "admin"];
/// Who may write documents and act on expedientes.
pub const WRITERS: [&str; 2] = [GDI_WRITER, GDI_ADMIN];
/// Who may sign or return documents.
pub const SIGNERS: [&str; 1] = [GDI_SIGNER];
/// Who may manage the org chart and the document types.
pub const ADMINS: [&str; 2] = [GDI_ADMIN, "admin"];

/// The module's settings for a tenant (`PUT /t/{tenant}/modules/gdi/config/{key}`).
/// Read key by key with `config::get`; the struct is the schema the host
/// checks them against.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[allow(dead_code)] // a schema only
pub struct Settings {
    /// The municipality's short code in every number (`MUNI` in
    /// `DECRE-2026-00000123-MUNI-INTEN`): 2 to 12 upper-case letters or digits.
    #[schemars(regex(pattern = r"^[A-Z][A-Z0-9]{1,11}$"))]
    pub eco: Option<String>,
    /// IANA time zone whose 1 January restarts the numbering (`UTC` by default).
    pub timezone: Option<String>,
    /// The municipality's name, printed on every PDF.
    pub municipality: Option<String>,
    /// Public base URL of the verification page printed on final PDFs, e.g.
    /// `https://gdi.example.gob/t/muni/gdi/verify`; the number is appended.
    pub verify_base_url: Option<String>,
    /// The name of the module's X.509 certificate that signs final PDFs
    /// (`gdi` by default); a tenant admin installs it with `PUT
    /// /t/{tenant}/modules/gdi/certificates/{name}`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9._-]{1,64}$"))]
    pub signing_certificate: Option<String>,
}

/// The settings in effect, with their defaults.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub eco: String,
    pub timezone: String,
    pub municipality: String,
    pub verify_base_url: String,
    pub signing_certificate: String,
}

impl Tenant {
    /// Reads the settings; a stored value that is not valid is a 409 naming
    /// it (the tenant admin must fix it before anything is numbered).
    pub fn load(caller: &Caller) -> Result<Self, Problem> {
        let eco: Option<String> = config::get("eco")?;
        let eco = eco.unwrap_or_else(|| "MUNI".into());
        if !logic::valid_code(&eco) {
            return Err(Problem::conflict(format!(
                "the setting `eco` ({eco:?}) must be 2 to 12 upper-case letters or digits"
            ))
            .with("setting", "eco"));
        }
        let timezone: Option<String> = config::get("timezone")?;
        let timezone = timezone.unwrap_or_else(|| "UTC".into());
        if !logic::known_timezone(&timezone) {
            return Err(Problem::conflict(format!("the setting `timezone` ({timezone:?}) is not an IANA time zone"))
                .with("setting", "timezone"));
        }
        let municipality: Option<String> = config::get("municipality")?;
        let verify: Option<String> = config::get("verify_base_url")?;
        let certificate: Option<String> = config::get("signing_certificate")?;
        Ok(Self {
            eco,
            timezone,
            municipality: municipality.unwrap_or_else(|| caller.tenant.clone()),
            verify_base_url: verify
                .map(|v| v.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| format!("/t/{}/gdi/verify", caller.tenant)),
            signing_certificate: certificate.unwrap_or_else(|| "gdi".into()),
        })
    }

    /// The tenant's calendar year now.
    pub fn year_now(&self) -> Result<i32, Problem> {
        logic::year_in(time::now_unix(), &self.timezone).map_err(Problem::internal)
    }
}

/// One sector a user belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Membership {
    pub user_id: String,
    pub sector_code: String,
    pub full_name: String,
    pub position: String,
    pub can_sign: bool,
    pub can_number: bool,
    pub created_at: String,
}

pub const MEMBER_COLUMNS: &str = "user_id, sector_code, full_name, position, can_sign, can_number, created_at";

/// The user's membership of `sector`, if any.
pub fn membership(user: &str, sector: &str) -> Result<Option<Membership>, Problem> {
    Ok(sql::query_one_as(
        &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE user_id = $1 AND sector_code = $2"),
        &params![user, sector],
    )?)
}

/// The caller's membership of `sector`, or 403 saying that only its
/// members may do this.
pub fn require_member(caller: &Caller, sector: &str, what: &str) -> Result<Membership, Problem> {
    let user = caller.require_user()?;
    membership(user, sector)?
        .ok_or_else(|| Problem::forbidden(format!("only members of sector {sector} may {what}")).with("sector", sector))
}

/// A 409 for an action the current state does not allow; it names both.
pub fn state_conflict(kind: &str, state: &str, action: &str) -> Problem {
    Problem::conflict(format!("a {kind} in state `{state}` cannot be {action}"))
        .with_type("urn:plaza:problem:gdi:invalid-state")
        .with("state", state)
        .with("action", action)
}

/// A 409 for a change that lost a race with another one.
pub fn changed_meanwhile(kind: &str) -> Problem {
    Problem::conflict(format!("the {kind} was changed by another request meanwhile; read it again and retry"))
        .with_type("urn:plaza:problem:gdi:concurrent-change")
}

/// Draws the next number of `sequence` for `year`. It must run inside the
/// transaction that uses the number: a rollback gives it back, so numbers
/// have no gaps. The row lock of the `UPDATE` orders concurrent draws (on
/// SQLite the transaction holds the write lock).
pub fn draw(sequence: Sequence, year: i32) -> Result<i64, Problem> {
    sql::execute(
        "INSERT INTO sequences (kind, year, last_value) VALUES ($1, $2, 0) ON CONFLICT (kind, year) DO NOTHING",
        &params![sequence.key(), i64::from(year)],
    )?;
    let rows = sql::query(
        "UPDATE sequences SET last_value = last_value + 1 WHERE kind = $1 AND year = $2 RETURNING last_value",
        &params![sequence.key(), i64::from(year)],
    )?;
    rows.get(0, "last_value").and_then(Value::as_i64).ok_or_else(|| Problem::internal("the sequence gave no value"))
}

/// Records what happened to a document.
pub fn history(document: i64, action: &str, user: &str, detail: Option<&str>) -> Result<(), Problem> {
    sql::execute(
        "INSERT INTO document_history (document_id, action, user_id, detail, at) VALUES ($1, $2, $3, $4, $5)",
        &params![document, action, user, detail, time::now_rfc3339()],
    )?;
    Ok(())
}

/// A sector, type or ECO code in a body: 422 naming `field` unless valid.
pub fn code(field: &str, value: &str) -> Result<String, Problem> {
    let value = value.trim();
    if logic::valid_code(value) {
        Ok(value.to_owned())
    } else {
        Err(invalid(
            field,
            format!("`{field}` must be 2 to 12 upper-case letters or digits, starting with a letter, not {value:?}"),
        ))
    }
}

/// An integer id from the path (400 when not a number).
pub fn id(req: &Request) -> Result<i64, Problem> {
    req.path_param("id")
}

/// A listing's search ([`plaza_sdk::listing::Filter`]) with gdi's own
/// conditions: the numbering year and the words of `q`.
pub trait GdiFilter {
    /// `number_year = year` when the query has `year` (422 unless a number).
    fn year(&mut self, req: &Request) -> Result<(), Problem>;
    /// Every word of the query's `q` in `search_text` (accents folded).
    fn search(&mut self, req: &Request);
}

impl GdiFilter for Filter {
    fn year(&mut self, req: &Request) -> Result<(), Problem> {
        if let Some(y) = req.query_param("year") {
            let year: i64 = y.parse().map_err(|_| invalid("year", format!("`year` must be a year, not {y:?}")))?;
            self.add("number_year = ?", year.into());
        }
        Ok(())
    }

    fn search(&mut self, req: &Request) {
        if let Some(q) = req.query_param("q") {
            self.words("search_text", &logic::search_words(q));
        }
    }
}

/// SHA-256 (hex) of `data`, computed in the module (a PDF need not cross
/// to the host just to be hashed).
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    crypto::to_hex(&Sha256::digest(data))
}

/// Raw bytes with their own content type, for the OpenAPI document.
#[derive(JsonSchema)]
#[schemars(extend("contentMediaType" = "application/octet-stream", "contentEncoding" = "binary"))]
#[allow(dead_code)] // a schema only
pub struct Bytes(String);

/// A PDF, for the OpenAPI document.
#[derive(JsonSchema)]
#[schemars(extend("contentMediaType" = "application/pdf", "contentEncoding" = "binary"))]
#[allow(dead_code)] // a schema only
pub struct PdfBytes(String);
