//! Public verification: anyone holding a number, or a PDF, can ask whether
//! it is a document the municipality signed.

use plaza_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::org;

/// What the municipality vouches for about a numbered document.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Verification {
    pub number: String,
    pub type_code: String,
    pub type_name: String,
    pub sector_code: String,
    pub subject: String,
    pub signed_at: String,
    /// SHA-256 (hex) of the final PDF: a copy with another hash is not it.
    pub pdf_sha256: String,
    pub signers: Vec<PublicSigner>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct PublicSigner {
    pub full_name: String,
    pub position: String,
    pub sector_code: String,
    pub signed_at: Option<String>,
}

#[derive(Deserialize)]
struct Signed {
    id: i64,
    number: String,
    type_code: String,
    sector_code: String,
    subject: String,
    signed_at: String,
    pdf_sha256: String,
}

pub fn by_number(req: &Request) -> Result<Json<Verification>, Problem> {
    let number: String = req.path_param("number")?;
    let doc: Signed = sql::query_one_as(
        "SELECT id, number, type_code, sector_code, subject, signed_at, pdf_sha256 FROM documents \
         WHERE number = $1 AND state = 'signed'",
        &params![number.as_str()],
    )?
    .ok_or_else(|| Problem::not_found().detail(format!("no signed document has the number {number}")))?;
    let signers = sql::query_as(
        "SELECT full_name, position, sector_code, signed_at FROM document_signers WHERE document_id = $1 ORDER BY step",
        &params![doc.id],
    )?;
    let type_name = org::doc_type(&doc.type_code)?.map(|t| t.name).unwrap_or_default();
    Ok(Json(Verification {
        number: doc.number,
        type_code: doc.type_code,
        type_name,
        sector_code: doc.sector_code,
        subject: doc.subject,
        signed_at: doc.signed_at,
        pdf_sha256: doc.pdf_sha256,
        signers,
    }))
}

/// The answer about an uploaded PDF.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PdfCheck {
    /// Whether the file is, byte for byte, the final PDF of a signed document.
    pub genuine: bool,
    pub sha256: String,
    /// The document's number, when it is genuine and numbered.
    pub number: Option<String>,
}

#[derive(Deserialize)]
struct Match {
    number: Option<String>,
}

pub fn by_pdf(req: &Request) -> Result<Json<PdfCheck>, Problem> {
    let data = req.body();
    if data.is_empty() {
        return Err(plaza_sdk::validation::invalid("body", "send the PDF as the request body"));
    }
    let sha = crate::common::sha256_hex(data);
    let found: Option<Match> = sql::query_one_as(
        "SELECT number FROM documents WHERE pdf_sha256 = $1 AND state = 'signed'",
        &params![sha.as_str()],
    )?;
    Ok(Json(PdfCheck { genuine: found.is_some(), number: found.and_then(|m| m.number), sha256: sha }))
}
