//! `gdi`: the document system of a municipality (in the lineage of
//! Argentina's GDE). Every official act is a document of a type (`DECRE`,
//! `RESOL`, `NOTA`...) written as a draft by a sector, signed in order by
//! the signers its writer names, and numbered at the last signature
//! `TYPE-YYYY-NNNNNNNN-ECO-DEPT` from a gapless yearly sequence; its final
//! PDF is stored with its SHA-256 and publicly verifiable. Expedientes
//! (case files) collect signed documents as fojas and move between sectors
//! by pases.
//!
//! Handlers are thin: rules without host calls are in [`logic`] and [`pdf`]
//! (unit-tested natively); each area ([`org`], [`documents`], [`signing`],
//! [`expedientes`], [`verify`]) keeps its SQL next to its handlers.

mod common;
mod documents;
mod expedientes;
mod logic;
mod org;
mod pdf;
mod signing;
mod verify;

use common::{
    ADMINS, Bytes, GDI_ADMIN, GDI_READER, GDI_SIGNER, GDI_WRITER, PdfBytes, READERS, SIGNERS, Settings, WRITERS,
};
use plaza_sdk::prelude::*;

struct Gdi;

impl plaza_sdk::Module for Gdi {
    fn router() -> Router {
        Router::new("gdi", env!("CARGO_PKG_VERSION"))
            .description(
                "Municipal documents: sectors, document types, multi-signer signing with gapless yearly numbering \
                 TYPE-YYYY-NNNNNNNN-ECO-DEPT, final PDFs with their SHA-256, public verification, and expedientes \
                 that collect signed documents and move between sectors.",
            )
            .capabilities([
                Capability::Sql,
                Capability::Blob,
                Capability::Events,
                Capability::Config,
                Capability::Crypto,
                Capability::Log,
            ])
            .define_roles([GDI_ADMIN, GDI_WRITER, GDI_SIGNER, GDI_READER])
            .config_schema::<Settings>()
            .migration_pg(
                1,
                "sectors, members, document types, documents, sequences, expedientes",
                include_str!("../migrations/0001_gdi.sql"),
                include_str!("../migrations/0001_gdi.postgres.sql"),
            )
            // ----- public -----
            .get("/verify/{number}", verify::by_number)
            .public()
            .summary("Whether a signed document has this number: its type, date, signers and the SHA-256 of its PDF")
            .post("/verify", verify::by_pdf)
            .public()
            .summary("Whether the PDF sent as the body is, byte for byte, the final PDF of a signed document")
            .request::<PdfBytes>()
            // ----- who am I -----
            .get("/me", org::me)
            .roles(READERS)
            .summary("The caller's user id, roles and sector memberships")
            .get("/signing-key", signing::signing_key)
            .roles(READERS)
            .summary("The Ed25519 public key that verifies every signer's act")
            // ----- org chart and types -----
            .get("/sectors", org::list_sectors)
            .roles(READERS)
            .summary("Every sector of the org chart")
            .post("/sectors", org::create_sector)
            .roles(ADMINS)
            .summary("Add a sector (code, name, parent)")
            .get("/sectors/{code}", org::get_sector)
            .roles(READERS)
            .summary("One sector")
            .put("/sectors/{code}", org::update_sector)
            .roles(ADMINS)
            .summary("Rename a sector, move it in the chart, or deactivate it")
            .get("/members", org::list_members)
            .roles(READERS)
            .summary("Sector memberships (query `sector`)")
            .put("/members/{user_id}/sectors/{code}", org::put_member)
            .roles(ADMINS)
            .summary("Make a user a member of a sector, with a position and signing rights")
            .delete("/members/{user_id}/sectors/{code}", org::delete_member)
            .roles(ADMINS)
            .summary("Remove a user from a sector")
            .get("/document-types", org::list_types)
            .roles(READERS)
            .summary("Every document type with its template and the JSON Schema of its fields")
            .post("/document-types", org::create_type)
            .roles(ADMINS)
            .summary("Add a document type")
            .get("/document-types/{code}", org::get_type)
            .roles(READERS)
            .summary("One document type")
            .put("/document-types/{code}", org::update_type)
            .roles(ADMINS)
            .summary("Change a document type (existing documents keep their content)")
            // ----- documents -----
            .get("/documents", documents::list)
            .roles(READERS)
            .summary("Documents, newest first (query `number`, `type`, `year`, `sector`, `state`, `signer`, `q`, `page`, `per_page`)")
            .post("/documents", documents::create)
            .roles(WRITERS)
            .summary("Write a draft for one of the caller's sectors, naming its signers in order")
            .get("/documents/{id}", documents::get)
            .roles(READERS)
            .summary("A document with its signers, their acts and its attachments")
            .put("/documents/{id}", documents::update)
            .roles(WRITERS)
            .summary("Change a draft or a rejected document (absent fields stay)")
            .post("/documents/{id}/submit", documents::submit)
            .roles(WRITERS)
            .summary("Send a draft to its first signer")
            .request::<NoInput>()
            .post("/documents/{id}/sign", signing::sign)
            .roles(SIGNERS)
            .summary("Sign as the awaited signer; the last signature numbers the document and stores its final PDF")
            .request::<NoInput>()
            .post("/documents/{id}/reject", documents::reject)
            .roles(SIGNERS)
            .summary("Return the document to its writer with a reason (earlier signatures are voided)")
            .post("/documents/{id}/cancel", documents::cancel)
            .roles(WRITERS)
            .summary("Withdraw a document that is not signed")
            .request::<NoInput>()
            .get("/documents/{id}/history", documents::history)
            .roles(READERS)
            .summary("What happened to the document, in order")
            .get("/documents/{id}/preview.pdf", documents::preview)
            .roles(READERS)
            .summary("A preview PDF marked as a draft, without a number")
            .response::<PdfBytes>()
            .get("/documents/{id}/pdf", documents::final_pdf)
            .roles(READERS)
            .summary("The final PDF of a signed document")
            .response::<PdfBytes>()
            .put("/documents/{id}/attachments/{name}", documents::put_attachment)
            .roles(WRITERS)
            .summary("Attach a file (the raw body, with its content type) to a draft, at most 10 MB")
            .request::<Bytes>()
            .get("/documents/{id}/attachments/{name}", documents::get_attachment)
            .roles(READERS)
            .summary("An attachment, with its content type")
            .response::<Bytes>()
            .delete("/documents/{id}/attachments/{name}", documents::delete_attachment)
            .roles(WRITERS)
            .summary("Remove an attachment from a draft")
            // ----- expedientes -----
            .get("/expedientes", expedientes::list)
            .roles(READERS)
            .summary("Expedientes, newest first (query `number`, `year`, `sector`, `state`, `q`, `page`, `per_page`)")
            .post("/expedientes", expedientes::create)
            .roles(WRITERS)
            .summary("Open an expediente for one of the caller's sectors; it is numbered and gets a cover PDF")
            .get("/expedientes/{id}", expedientes::get)
            .roles(READERS)
            .summary("One expediente")
            .get("/expedientes/{id}/cover.pdf", expedientes::cover)
            .roles(READERS)
            .summary("The cover (carátula) PDF")
            .response::<PdfBytes>()
            .get("/expedientes/{id}/documents", expedientes::list_fojas)
            .roles(READERS)
            .summary("The linked documents (fojas), in order")
            .post("/expedientes/{id}/documents", expedientes::link)
            .roles(WRITERS)
            .summary("Link a signed document as the next foja (holding sector only; never unlinked)")
            .get("/expedientes/{id}/moves", expedientes::list_moves)
            .roles(READERS)
            .summary("Every pase: who, from, to, when and the note")
            .post("/expedientes/{id}/moves", expedientes::pass)
            .roles(WRITERS)
            .summary("A pase: the holding sector passes the expediente to another with a note")
            .post("/expedientes/{id}/archive", expedientes::archive)
            .roles(WRITERS)
            .summary("Archive the expediente (holding sector only): it becomes read-only")
            .request::<NoInput>()
    }
}

plaza_sdk::export!(Gdi);
