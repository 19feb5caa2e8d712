//! Signing: the current signer's act, and at the last step the number, the
//! final PDF and the `gdi.document-signed` event, all in one transaction.
//!
//! The number is drawn inside that transaction, so anything that fails
//! after it (rendering, storing the PDF, the host's signature) rolls the
//! draw back with the rest: numbers have no gaps and are never reused.

use plaza_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::common::{self, Tenant};
use crate::documents::{self, DocRow, Document, Signer};
use crate::logic::{self, DocAction, DocState, Sequence, SigningInput};
use crate::org;
use crate::pdf;

/// The event a fully signed document publishes.
pub const SIGNED_EVENT: &str = "gdi.document-signed";

/// The payload of `gdi.document-signed`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DocumentSigned {
    pub document_id: i64,
    pub number: Option<String>,
    pub type_code: String,
    pub sector_code: String,
    pub subject: String,
    pub signed_at: String,
    pub pdf_sha256: String,
}

pub fn sign(req: &Request) -> Result<Json<Document>, Problem> {
    let caller = req.caller();
    let user = caller.require_user()?.to_owned();
    let doc = documents::row(common::id(req)?)?.ok_or_else(Problem::not_found)?;
    documents::allow(&doc, DocAction::Sign)?;
    let current = documents::current_signer(&doc)?;
    if current.user_id != user {
        return Err(Problem::forbidden(format!(
            "the document awaits {} (step {}): only they may sign or return it",
            current.full_name, current.step
        )));
    }
    // The signer must still be allowed to sign for that sector.
    match common::membership(&user, &current.sector_code)? {
        Some(m) if m.can_sign && (!current.numbers || m.can_number) => {}
        _ => {
            return Err(Problem::forbidden(format!(
                "{} may no longer sign for sector {}: ask a gdi admin, or return the document",
                current.full_name, current.sector_code
            )));
        }
    }
    let all = documents::signers(doc.id)?;
    let last = all.last().is_some_and(|s| s.step == current.step);
    let tenant = if last { Some(Tenant::load(caller)?) } else { None };
    sql::transaction(|| -> Result<(), Problem> {
        // Claim the document first: a concurrent signature or change of the
        // same document finds the version moved and gets a 409.
        let claimed = sql::execute(
            "UPDATE documents SET version = version + 1 WHERE id = $1 AND version = $2 AND state = $3",
            &params![doc.id, doc.version, DocState::AwaitingSignatures.as_str()],
        )?;
        if claimed == 0 {
            return Err(common::changed_meanwhile("document"));
        }
        let signed_at = time::now_rfc3339();
        let previous =
            all.iter().rfind(|s| s.step < current.step).and_then(|s| s.signature.clone()).unwrap_or_default();
        match &tenant {
            None => {
                let (digest, signature) = act(&doc, &current, &signed_at, &previous, None, None)?;
                record_act(doc.id, current.step, &signed_at, &digest, &signature)?;
                sql::execute(
                    "UPDATE documents SET current_step = $1, updated_at = $2 WHERE id = $3",
                    &params![current.step + 1, signed_at.as_str(), doc.id],
                )?;
                common::history(doc.id, "signed", &user, Some(&format!("step {}", current.step)))?;
            }
            Some(tenant) => finish(tenant, &doc, &all, &current, &user, &signed_at, &previous)?,
        }
        Ok(())
    })?;
    documents::full(documents::row(doc.id)?.ok_or_else(Problem::not_found)?).map(Json)
}

/// The last signature: number (if the type is numbered), final PDF, act,
/// event. Runs inside the signing transaction.
fn finish(
    tenant: &Tenant,
    doc: &DocRow,
    all: &[Signer],
    current: &Signer,
    user: &str,
    signed_at: &str,
    previous: &str,
) -> Result<(), Problem> {
    let doc_type = org::doc_type(&doc.type_code)?.ok_or_else(|| Problem::internal("the document's type is gone"))?;
    let (number, year) = if doc_type.numbered {
        let year = tenant.year_now()?;
        let seq = common::draw(Sequence::Document, year)?;
        (Some(logic::format_number(&doc.type_code, year, seq, &tenant.eco, &current.sector_code)), Some(year))
    } else {
        (None, None)
    };
    // The PDF shows every signer with their time, this one included.
    let mut view = documents::full(doc.clone())?;
    view.signers = all
        .iter()
        .map(|s| {
            let mut s = s.clone();
            if s.step == current.step {
                s.signed_at = Some(signed_at.to_owned());
            }
            s
        })
        .collect();
    view.number.clone_from(&number);
    view.signed_at = Some(signed_at.to_owned());
    view.state = DocState::Signed;
    let reason = match &number {
        Some(n) => format!("Firma y numeración de {n}"),
        None => format!("Firma de {} {}", doc_type.name, doc.id),
    };
    let content = logic::content_canonical(
        &doc.type_code,
        number.as_deref(),
        &doc.reference,
        &doc.subject,
        &doc.body_markdown,
        &doc.fields,
    );
    let content_sha256 = common::sha256_hex(&content);
    let seal = pdf::Seal { signer: &current.full_name, reason: &reason, location: &tenant.municipality };
    let unsigned = pdf::final_document(&pdf::DocumentPage {
        tenant,
        doc_type: &doc_type,
        doc: &view,
        final_: Some(pdf::Final { number: number.as_deref(), signed_at, content_sha256: &content_sha256, seal }),
    })
    .ok_or_else(|| Problem::internal("the final PDF could not be laid out"))?;
    // PAdES: the host signs the SHA-256 of everything but the signature
    // with the tenant's certificate; its key never enters the module.
    let (head, tail) = unsigned.signed_ranges();
    let mut hasher = Sha256::new();
    hasher.update(head);
    hasher.update(tail);
    let cms = crypto::sign_cms(&tenant.signing_certificate, &hasher.finalize().into())?;
    let bytes =
        unsigned.seal(&cms).ok_or_else(|| Problem::internal("the CMS signature is larger than the room reserved"))?;
    let sha = common::sha256_hex(&bytes);
    let key = format!("documents/{}/final.pdf", doc.id);
    let (digest, signature) = act(doc, current, signed_at, previous, number.as_deref(), Some(&sha))?;
    blob::put(&key, &bytes, "application/pdf")?;
    record_act(doc.id, current.step, signed_at, &digest, &signature)?;
    sql::execute(
        "UPDATE documents SET state = $1, current_step = 0, number = $2, number_year = $3, number_seq = $4, \
         signed_at = $5, pdf_key = $6, pdf_sha256 = $7, pdf_size = $8, updated_at = $5 WHERE id = $9",
        &params![
            DocState::Signed.as_str(),
            number.as_deref(),
            year.map(i64::from),
            number.as_deref().and_then(seq_of),
            signed_at,
            key.as_str(),
            sha.as_str(),
            i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            doc.id
        ],
    )?;
    common::history(doc.id, "signed", user, Some(&format!("step {}", current.step)))?;
    if let Some(n) = &number {
        common::history(doc.id, "numbered", user, Some(n))?;
    }
    events::publish(
        SIGNED_EVENT,
        &DocumentSigned {
            document_id: doc.id,
            number,
            type_code: doc.type_code.clone(),
            sector_code: doc.sector_code.clone(),
            subject: doc.subject.clone(),
            signed_at: signed_at.to_owned(),
            pdf_sha256: sha,
        },
    )?;
    Ok(())
}

/// The sequence number inside a formatted number (its third part).
fn seq_of(number: &str) -> Option<i64> {
    number.split('-').nth(2).and_then(|s| s.parse().ok())
}

/// The act of one signer: the digest of its canonical bytes and the host's
/// signature over that digest (both hex).
fn act(
    doc: &DocRow,
    signer: &Signer,
    signed_at: &str,
    previous: &str,
    number: Option<&str>,
    pdf_sha256: Option<&str>,
) -> Result<(String, String), Problem> {
    let input = SigningInput {
        document_id: doc.id,
        type_code: &doc.type_code,
        reference: &doc.reference,
        subject: &doc.subject,
        body: &doc.body_markdown,
        fields: &doc.fields,
        step: signer.step,
        signer: &signer.user_id,
        signed_at,
        previous_signature: previous,
        number,
        pdf_sha256,
    };
    let digest = Sha256::digest(input.canonical());
    let signature = crypto::sign(&digest)?;
    Ok((crypto::to_hex(&digest), crypto::to_hex(&signature)))
}

fn record_act(id: i64, step: i64, signed_at: &str, digest: &str, signature: &str) -> Result<(), Problem> {
    sql::execute(
        "UPDATE document_signers SET signed_at = $1, digest = $2, signature = $3 WHERE document_id = $4 AND step = $5",
        &params![signed_at, digest, signature, id, step],
    )?;
    Ok(())
}

/// The public key that verifies every act's signature.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SigningKey {
    /// Ed25519, hex.
    pub public_key: String,
    pub algorithm: &'static str,
}

pub fn signing_key(_req: &Request) -> Result<Json<SigningKey>, Problem> {
    Ok(Json(SigningKey { public_key: crypto::to_hex(&crypto::public_key()?), algorithm: "Ed25519" }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sequence_is_read_back_from_the_number() {
        assert_eq!(super::seq_of("DECRE-2026-00000123-MUNI-INTEN"), Some(123));
        assert_eq!(super::seq_of("bad"), None);
    }
}
