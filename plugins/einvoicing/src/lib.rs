//! `einvoicing`: the tax authority's side of the sales of `erp`.
//!
//! - **Ecuador** ([`ecuador`]): each confirmed sale becomes a `factura`
//!   1.1.0 with its 49-digit clave de acceso ([`ec::clave`]), signed
//!   XAdES-BES with the tenant's certificate in the host ([`ec::xades`]),
//!   sent to the SRI's offline web services ([`ec::sri`]) and, once
//!   authorized, printed as a RIDE with the clave as a Code 128 barcode; a
//!   cancelled sale gets a `notaCredito`.
//! - **Spain** ([`spain`]): each sale becomes a VeriFactu *registro de alta*
//!   chained by its Huella ([`es::huella`]) to the issuer's previous record,
//!   sent to the AEAT ([`es::xml`]), printed with its verification QR
//!   ([`es::qr`]); a cancelled sale gets a *registro de anulación*.
//!
//! Pure rules (keys, hashes, XML, signatures, PDF) have no host calls and
//! are unit-tested natively; [`documents`] stores, [`issue`] decides what
//! happens next.

mod authority;
mod documents;
mod ec;
mod ecuador;
mod es;
mod invoice;
mod issue;
mod pdf;
mod print;
mod settings;
mod spain;

use plaza_sdk::prelude::*;

/// Issues and corrects documents, sends them again.
const ISSUER: &str = "einvoicing-issuer";
/// Reads documents, downloads and the chain.
const READER: &str = "einvoicing-reader";

/// Who reads: the module's roles, erp's accountants and admins, the tenant's admins.
const READERS: [&str; 5] = [READER, ISSUER, "erp-accountant", "erp-admin", "admin"];
/// Who issues.
const ISSUERS: [&str; 3] = [ISSUER, "erp-admin", "admin"];

/// The raw body of a download, for the OpenAPI document.
#[derive(schemars::JsonSchema)]
#[schemars(extend("contentMediaType" = "application/xml"))]
#[allow(dead_code)] // a schema only
struct XmlText(String);

#[derive(schemars::JsonSchema)]
#[schemars(extend("contentMediaType" = "application/pdf", "contentEncoding" = "binary"))]
#[allow(dead_code)] // a schema only
struct PdfBytes(String);

#[derive(schemars::JsonSchema)]
#[schemars(extend("contentMediaType" = "image/svg+xml"))]
#[allow(dead_code)] // a schema only
struct SvgImage(String);

struct Einvoicing;

impl plaza_sdk::Module for Einvoicing {
    fn router() -> Router {
        Router::new("einvoicing", env!("CARGO_PKG_VERSION"))
            .description(
                "Electronic invoices for the sales of `erp`: Ecuador's SRI comprobantes (clave de acceso, XAdES-BES \
                 signature with the tenant's certificate, the SRI's offline web services, RIDE with barcode, credit \
                 notes) and Spain's VeriFactu records (Huella chain, AEAT submission, verification QR, chain check).",
            )
            .capabilities([
                Capability::Sql,
                Capability::Blob,
                Capability::Http,
                Capability::Events,
                Capability::Config,
                Capability::Log,
                Capability::Crypto,
            ])
            // The tax authorities; loopback for a local mock, reachable only
            // where the operator allows private addresses (development).
            .allowed_hosts([
                "cel.sri.gob.ec",
                "celcer.sri.gob.ec",
                "*.aeat.es",
                "*.agenciatributaria.gob.es",
                "localhost",
                "127.0.0.1",
            ])
            .define_roles([ISSUER, READER])
            .config_schema::<settings::Settings>()
            .migration_pg(
                1,
                "documents, numbering, VeriFactu chain",
                include_str!("../migrations/0001_einvoicing.sql"),
                include_str!("../migrations/0001_einvoicing.postgres.sql"),
            )
            .subscribe("erp.sale-confirmed")
            .subscribe("erp.sale-cancelled")
            .job("retry", "0 * * * * *")
            .get("/documents", documents::list)
            .roles(READERS)
            .summary(
                "Documents by `state`, `kind`, `from`/`to` (issue date), `customer` (words), `sale_id`; newest first",
            )
            .post("/invoices", issue::create_invoice)
            .roles(ISSUERS)
            .summary("Issue an invoice that did not come from a sale (numbered and totalled by the module)")
            .get("/documents/{id}", documents::get)
            .roles(READERS)
            .summary("One document: state, clave de acceso, the authority's messages, the invoice")
            .post("/documents/{id}/correct", issue::correct_invoice)
            .roles(ISSUERS)
            .summary("A nota de crédito (Ecuador) or registro de anulación (Spain) for an invoice")
            .post("/documents/{id}/submit", issue::submit)
            .roles(ISSUERS)
            .summary("Send now instead of waiting for the retry job (also a `returned` document, once fixed)")
            .get("/documents/{id}/xml", documents::xml)
            .roles(READERS)
            .summary("The document's XML as built, unsigned")
            .response::<XmlText>()
            .get("/documents/{id}/signed-xml", documents::signed_xml)
            .roles(READERS)
            .summary("The signed XML as sent to the SRI (Ecuador) or the submission sent to the AEAT (Spain)")
            .response::<XmlText>()
            .get("/documents/{id}/answer", documents::answer)
            .roles(READERS)
            .summary("Ecuador: the XML autorizado (authorization and signed comprobante); Spain: the AEAT's answer")
            .response::<XmlText>()
            .get("/documents/{id}/pdf", documents::pdf)
            .roles(READERS)
            .summary("The RIDE (Ecuador, once authorized) or the invoice with its VeriFactu QR (Spain)")
            .response::<PdfBytes>()
            .get("/documents/{id}/qr", spain::qr)
            .roles(READERS)
            .summary("Spain: the invoice's VeriFactu verification QR code")
            .response::<SvgImage>()
            .get("/chain", spain::list_records)
            .roles(READERS)
            .summary("Spain: the issuer's VeriFactu records in chain order")
            .get("/chain/verify", spain::verify_chain)
            .roles(READERS)
            .summary("Spain: recompute every Huella of the chain and report the first broken link")
    }

    fn on_event(event: Event) -> Result<(), String> {
        match event.event_type.as_str() {
            "erp.sale-confirmed" => issue::sale_confirmed(&event),
            "erp.sale-cancelled" => issue::sale_cancelled(&event),
            _ => Ok(()),
        }
    }

    fn run_job(run: JobRun) -> Result<(), String> {
        match run.name.as_str() {
            "retry" => issue::retry_job(),
            other => Err(format!("no job {other}")),
        }
    }
}

plaza_sdk::export!(Einvoicing);
