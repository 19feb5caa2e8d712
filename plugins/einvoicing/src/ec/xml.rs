//! The XML of the SRI's comprobantes: `factura` 1.1.0 and `notaCredito` 1.1.0, unsigned.
//!
//! The element names, their order and which ones are optional follow the SRI's XSDs
//! `factura_V1.1.0.xsd` and `NotaCredito_V1.1.0.xsd` (published with the "Ficha técnica de
//! comprobantes electrónicos esquema offline"), read from the copy embedded in
//! `pepetreshere/odoo-trescloud-tools` (`shell_scripts/xml_check.py`, constants
//! `XSD_SRI_110_FACTURA` and `XSD_SRI_110_NOTACRED`). Two optional elements the SRI added later to
//! `infoTributaria` (`agenteRetencion`, `contribuyenteRimpe`, after `dirMatriz`) follow the JAXB
//! bindings generated from the current XSD; real authorised facturas (e.g. the fixtures of
//! `TaxoWS/sri-xml-2-json`, the sample of `joguenco/RoquiClientSri`) confirm the order. Notable
//! details the XSDs impose:
//! - in `detalle/impuestos/impuesto` the `tarifa` is required and comes *before* `baseImponible`;
//!   in `totalConImpuestos/totalImpuesto` it is optional (and would come *after* it): it is left out;
//! - `cantidad` and `precioUnitario` take up to 6 decimals, every other amount 2;
//! - a factura's line has `codigoPrincipal`, a nota de crédito's line `codigoInterno`;
//! - `direccionComprador`, `propina`, `totalDescuento` and `pagos` exist only in the factura.
//!
//! The output is meant to be signed (see `xades.rs`), so it is written already in the canonical
//! form of Inclusive C14N 1.0 (apart from the XML declaration, which C14N drops): no indentation,
//! no self-closing tags, attributes in C14N's order (`id` before `version`), and text escaped the
//! way C14N escapes it (`&amp;`, `&lt;`, `&gt;` in text; `&amp;`, `&lt;`, `&quot;` in attributes;
//! quotes in text and `>` in attributes left as they are). Signing then digests these very bytes.
//! Control characters are not allowed by the SRI's patterns (`[^\n]*`) or by XML itself, so tabs
//! and line breaks in the input become spaces and other control characters are dropped.

use std::borrow::Cow;
use std::fmt;

use jiff::civil::Date;
use quick_xml::Writer;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::QName;

use super::xades::{c14n_attr, c14n_text};

/// The SRI environment a comprobante is issued in (`ambiente`); it must match digit 24 of the
/// access key, and decides which web services receive it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    /// Pruebas (`1`): celcer.sri.gob.ec; the comprobantes have no tax effect.
    Testing,
    /// Producción (`2`): cel.sri.gob.ec.
    Production,
}

impl Environment {
    /// The code of the `ambiente` element.
    pub fn code(self) -> &'static str {
        match self {
            Environment::Testing => "1",
            Environment::Production => "2",
        }
    }
}

/// The issuer (the tenant's company) and the establishment and emission point that issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    /// RUC, 13 digits ending in `001` (`ruc`).
    pub ruc: String,
    /// Legal name (`razonSocial`).
    pub legal_name: String,
    /// Trade name (`nombreComercial`), when it has one.
    pub trade_name: Option<String>,
    /// Address of the head office (`dirMatriz`).
    pub head_office_address: String,
    /// Establishment code, 3 digits (`estab`).
    pub establishment: String,
    /// Emission point code, 3 digits (`ptoEmi`).
    pub emission_point: String,
    /// Address of the establishment (`dirEstablecimiento`).
    pub establishment_address: Option<String>,
    /// Resolution number of a "contribuyente especial" (`contribuyenteEspecial`).
    pub special_taxpayer: Option<String>,
    /// Whether it must keep accounts (`obligadoContabilidad`, SI/NO).
    pub keeps_accounts: bool,
    /// Resolution number of a withholding agent (`agenteRetencion`).
    pub withholding_agent: Option<String>,
    /// The RIMPE legend (`contribuyenteRimpe`), e.g. "CONTRIBUYENTE RÉGIMEN RIMPE".
    pub rimpe: Option<String>,
}

/// The buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buyer {
    /// `tipoIdentificacionComprador` (SRI table 6): 04 RUC, 05 cédula, 06 pasaporte,
    /// 07 consumidor final, 08 identificación del exterior.
    pub id_type: String,
    /// `identificacionComprador` (9999999999999 for the consumidor final).
    pub id: String,
    /// `razonSocialComprador`.
    pub name: String,
    /// `direccionComprador` (only the factura has it; ignored in a nota de crédito).
    pub address: Option<String>,
}

/// A tax of one line (`detalle/impuestos/impuesto`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineTax {
    /// `codigo` (SRI table 16): 2 IVA, 3 ICE, 5 IRBPNR.
    pub code: String,
    /// `codigoPorcentaje` (SRI table 17), e.g. 0 (0 %), 4 (15 %).
    pub rate_code: String,
    /// `tarifa`, the percentage, e.g. "15" (up to 2 decimals).
    pub rate: String,
    /// `baseImponible`.
    pub base: String,
    /// `valor`.
    pub amount: String,
}

/// One line (`detalle`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The product's code: `codigoPrincipal` in a factura, `codigoInterno` in a nota de crédito.
    pub code: String,
    /// `descripcion`.
    pub description: String,
    /// `cantidad`, up to 6 decimals.
    pub quantity: String,
    /// `precioUnitario`, up to 6 decimals.
    pub unit_price: String,
    /// `descuento`.
    pub discount: String,
    /// `precioTotalSinImpuesto`.
    pub total_without_tax: String,
    /// `impuestos`.
    pub taxes: Vec<LineTax>,
}

/// A total per tax and rate (`totalConImpuestos/totalImpuesto`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxTotal {
    /// `codigo`, as in [`LineTax::code`].
    pub code: String,
    /// `codigoPorcentaje`, as in [`LineTax::rate_code`].
    pub rate_code: String,
    /// `baseImponible`.
    pub base: String,
    /// `valor`.
    pub amount: String,
}

/// A payment of a factura (`pagos/pago`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// `formaPago` (SRI table 24), e.g. 01 sin utilización del sistema financiero, 19 tarjeta de
    /// crédito, 20 otros con utilización del sistema financiero.
    pub method: String,
    /// `total`.
    pub total: String,
    /// `plazo`, for credit.
    pub term: Option<String>,
    /// `unidadTiempo` of the term, e.g. "dias".
    pub time_unit: Option<String>,
}

/// Which comprobante.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `factura` (codDoc 01).
    Factura,
    /// `notaCredito` (codDoc 04) against a factura (codDocModificado 01).
    NotaCredito {
        /// The factura's number, `001-001-000000001` (`numDocModificado`).
        modified_number: String,
        /// The factura's issue date (`fechaEmisionDocSustento`).
        modified_date: Date,
        /// `motivo`.
        reason: String,
    },
}

/// A comprobante to write. Amounts are decimal strings already rounded and formatted by the
/// caller ("12.30"): this module writes them as they are and only checks their shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comprobante {
    /// Factura or nota de crédito.
    pub kind: Kind,
    /// `ambiente`.
    pub environment: Environment,
    /// The 49-digit `claveAcceso`.
    pub access_key: String,
    /// `secuencial`, 9 digits.
    pub sequential: String,
    /// `fechaEmision`, in the issuer's time zone.
    pub issue_date: Date,
    /// The issuer.
    pub issuer: Issuer,
    /// The buyer.
    pub buyer: Buyer,
    /// The lines (at least one).
    pub lines: Vec<Line>,
    /// `totalSinImpuestos`.
    pub total_without_tax: String,
    /// `totalDescuento` (factura only).
    pub total_discount: String,
    /// `totalConImpuestos` (at least one).
    pub tax_totals: Vec<TaxTotal>,
    /// `propina` (factura only).
    pub tip: String,
    /// `importeTotal` of a factura; `valorModificacion` of a nota de crédito.
    pub total: String,
    /// `pagos` (factura only; may be empty).
    pub payments: Vec<Payment>,
    /// `infoAdicional/campoAdicional`: (nombre, value), at most 15.
    pub additional: Vec<(String, String)>,
}

/// Why a comprobante could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlError {
    /// A value breaks the SRI's schema: the element (or attribute) and what is wrong.
    Invalid {
        /// The element's name, as in the XSD.
        element: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// Writing failed. The output is in memory, so this is never expected.
    Write(String),
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XmlError::Invalid { element, problem } => write!(f, "invalid {element}: {problem}"),
            XmlError::Write(e) => write!(f, "could not write the comprobante's XML: {e}"),
        }
    }
}

impl std::error::Error for XmlError {}

fn invalid(element: &'static str, problem: impl Into<String>) -> XmlError {
    XmlError::Invalid { element, problem: problem.into() }
}

/// The version both XSDs carry in the root's `version` attribute.
const VERSION: &str = "1.1.0";

/// Writes the unsigned comprobante: `<?xml version="1.0" encoding="UTF-8"?>` followed by the root
/// element (`<factura id="comprobante" version="1.1.0">` or `<notaCredito …>`), in canonical form.
pub fn comprobante_xml(c: &Comprobante) -> Result<String, XmlError> {
    validate(c)?;
    let mut w = Xml { w: Writer::new(Vec::with_capacity(4096)) };
    w.raw(r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    let root = match c.kind {
        Kind::Factura => "factura",
        Kind::NotaCredito { .. } => "notaCredito",
    };
    // C14N orders attributes by name: id, version.
    w.start_with(root, &[("id", "comprobante"), ("version", VERSION)])?;
    info_tributaria(&mut w, c)?;
    match &c.kind {
        Kind::Factura => info_factura(&mut w, c)?,
        Kind::NotaCredito { modified_number, modified_date, reason } => {
            info_nota_credito(&mut w, c, modified_number, *modified_date, reason)?
        }
    }
    detalles(&mut w, c)?;
    if !c.additional.is_empty() {
        w.start("infoAdicional")?;
        for (name, value) in &c.additional {
            w.start_with("campoAdicional", &[("nombre", name)])?;
            w.text(value)?;
            w.end("campoAdicional")?;
        }
        w.end("infoAdicional")?;
    }
    w.end(root)?;
    String::from_utf8(w.w.into_inner()).map_err(|e| XmlError::Write(e.to_string()))
}

fn info_tributaria(w: &mut Xml, c: &Comprobante) -> Result<(), XmlError> {
    let i = &c.issuer;
    w.start("infoTributaria")?;
    w.leaf("ambiente", c.environment.code())?;
    // 1 = emisión normal, the only one of the offline scheme.
    w.leaf("tipoEmision", "1")?;
    w.leaf("razonSocial", &i.legal_name)?;
    w.opt("nombreComercial", i.trade_name.as_deref())?;
    w.leaf("ruc", &i.ruc)?;
    w.leaf("claveAcceso", &c.access_key)?;
    w.leaf("codDoc", cod_doc(&c.kind))?;
    w.leaf("estab", &i.establishment)?;
    w.leaf("ptoEmi", &i.emission_point)?;
    w.leaf("secuencial", &c.sequential)?;
    w.leaf("dirMatriz", &i.head_office_address)?;
    w.opt("agenteRetencion", i.withholding_agent.as_deref())?;
    w.opt("contribuyenteRimpe", i.rimpe.as_deref())?;
    w.end("infoTributaria")
}

fn info_factura(w: &mut Xml, c: &Comprobante) -> Result<(), XmlError> {
    let (i, b) = (&c.issuer, &c.buyer);
    w.start("infoFactura")?;
    w.leaf("fechaEmision", &sri_date(c.issue_date))?;
    w.opt("dirEstablecimiento", i.establishment_address.as_deref())?;
    w.opt("contribuyenteEspecial", i.special_taxpayer.as_deref())?;
    w.leaf("obligadoContabilidad", si_no(i.keeps_accounts))?;
    w.leaf("tipoIdentificacionComprador", &b.id_type)?;
    w.leaf("razonSocialComprador", &b.name)?;
    w.leaf("identificacionComprador", &b.id)?;
    w.opt("direccionComprador", b.address.as_deref())?;
    w.leaf("totalSinImpuestos", &c.total_without_tax)?;
    w.leaf("totalDescuento", &c.total_discount)?;
    total_con_impuestos(w, c)?;
    w.leaf("propina", &c.tip)?;
    w.leaf("importeTotal", &c.total)?;
    w.leaf("moneda", "DOLAR")?;
    if !c.payments.is_empty() {
        w.start("pagos")?;
        for p in &c.payments {
            w.start("pago")?;
            w.leaf("formaPago", &p.method)?;
            w.leaf("total", &p.total)?;
            w.opt("plazo", p.term.as_deref())?;
            w.opt("unidadTiempo", p.time_unit.as_deref())?;
            w.end("pago")?;
        }
        w.end("pagos")?;
    }
    w.end("infoFactura")
}

fn info_nota_credito(
    w: &mut Xml,
    c: &Comprobante,
    modified_number: &str,
    modified_date: Date,
    reason: &str,
) -> Result<(), XmlError> {
    let (i, b) = (&c.issuer, &c.buyer);
    w.start("infoNotaCredito")?;
    w.leaf("fechaEmision", &sri_date(c.issue_date))?;
    w.opt("dirEstablecimiento", i.establishment_address.as_deref())?;
    w.leaf("tipoIdentificacionComprador", &b.id_type)?;
    w.leaf("razonSocialComprador", &b.name)?;
    w.leaf("identificacionComprador", &b.id)?;
    w.opt("contribuyenteEspecial", i.special_taxpayer.as_deref())?;
    w.leaf("obligadoContabilidad", si_no(i.keeps_accounts))?;
    // A nota de crédito of a sale modifies a factura.
    w.leaf("codDocModificado", "01")?;
    w.leaf("numDocModificado", modified_number)?;
    w.leaf("fechaEmisionDocSustento", &sri_date(modified_date))?;
    w.leaf("totalSinImpuestos", &c.total_without_tax)?;
    w.leaf("valorModificacion", &c.total)?;
    w.leaf("moneda", "DOLAR")?;
    total_con_impuestos(w, c)?;
    w.leaf("motivo", reason)?;
    w.end("infoNotaCredito")
}

fn total_con_impuestos(w: &mut Xml, c: &Comprobante) -> Result<(), XmlError> {
    w.start("totalConImpuestos")?;
    for t in &c.tax_totals {
        w.start("totalImpuesto")?;
        w.leaf("codigo", &t.code)?;
        w.leaf("codigoPorcentaje", &t.rate_code)?;
        w.leaf("baseImponible", &t.base)?;
        w.leaf("valor", &t.amount)?;
        w.end("totalImpuesto")?;
    }
    w.end("totalConImpuestos")
}

fn detalles(w: &mut Xml, c: &Comprobante) -> Result<(), XmlError> {
    let code_element = match c.kind {
        Kind::Factura => "codigoPrincipal",
        Kind::NotaCredito { .. } => "codigoInterno",
    };
    w.start("detalles")?;
    for l in &c.lines {
        w.start("detalle")?;
        w.leaf(code_element, &l.code)?;
        w.leaf("descripcion", &l.description)?;
        w.leaf("cantidad", &l.quantity)?;
        w.leaf("precioUnitario", &l.unit_price)?;
        w.leaf("descuento", &l.discount)?;
        w.leaf("precioTotalSinImpuesto", &l.total_without_tax)?;
        w.start("impuestos")?;
        for t in &l.taxes {
            w.start("impuesto")?;
            w.leaf("codigo", &t.code)?;
            w.leaf("codigoPorcentaje", &t.rate_code)?;
            w.leaf("tarifa", &t.rate)?;
            w.leaf("baseImponible", &t.base)?;
            w.leaf("valor", &t.amount)?;
            w.end("impuesto")?;
        }
        w.end("impuestos")?;
        w.end("detalle")?;
    }
    w.end("detalles")
}

fn cod_doc(kind: &Kind) -> &'static str {
    match kind {
        Kind::Factura => "01",
        Kind::NotaCredito { .. } => "04",
    }
}

fn si_no(b: bool) -> &'static str {
    if b { "SI" } else { "NO" }
}

/// The SRI's date format, dd/mm/yyyy.
fn sri_date(d: Date) -> String {
    format!("{:02}/{:02}/{:04}", d.day(), d.month(), d.year())
}

/// quick-xml's writer, with text and attribute values escaped as C14N escapes them (quick-xml's
/// own escaping also turns quotes into `&quot;`/`&apos;` in text, which C14N does not).
struct Xml {
    w: Writer<Vec<u8>>,
}

impl Xml {
    fn event(&mut self, e: Event<'_>) -> Result<(), XmlError> {
        self.w.write_event(e).map_err(|e| XmlError::Write(e.to_string()))
    }

    fn raw(&mut self, s: &str) -> Result<(), XmlError> {
        use std::io::Write as _;
        self.w.get_mut().write_all(s.as_bytes()).map_err(|e| XmlError::Write(e.to_string()))
    }

    fn start(&mut self, name: &str) -> Result<(), XmlError> {
        self.event(Event::Start(BytesStart::new(name)))
    }

    /// A start tag with attributes, given in C14N order (by name).
    fn start_with(&mut self, name: &str, attrs: &[(&str, &str)]) -> Result<(), XmlError> {
        let mut start = BytesStart::new(name);
        for (key, value) in attrs {
            start.push_attribute(Attribute { key: QName(key), value: c14n_attr(&clean(value)).into_owned().into() });
        }
        self.event(Event::Start(start))
    }

    fn end(&mut self, name: &str) -> Result<(), XmlError> {
        self.event(Event::End(BytesEnd::new(name)))
    }

    fn text(&mut self, text: &str) -> Result<(), XmlError> {
        let escaped = c14n_text(&clean(text)).into_owned();
        self.event(Event::Text(BytesText::from_escaped(escaped)))
    }

    /// `<name>text</name>`, never `<name/>` (C14N writes empty elements as start and end tags).
    fn leaf(&mut self, name: &str, text: &str) -> Result<(), XmlError> {
        self.start(name)?;
        self.text(text)?;
        self.end(name)
    }

    fn opt(&mut self, name: &str, text: Option<&str>) -> Result<(), XmlError> {
        match text {
            Some(t) => self.leaf(name, t),
            None => Ok(()),
        }
    }
}

/// Tabs and line breaks become spaces; other characters XML 1.0 forbids are dropped.
fn clean(s: &str) -> Cow<'_, str> {
    let bad = |c: char| c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}';
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .filter_map(|c| match c {
                '\t' | '\n' | '\r' => Some(' '),
                c if bad(c) => None,
                c => Some(c),
            })
            .collect(),
    )
}

// ---- checks: what the XSD would reject, caught before signing and sending ----

fn validate(c: &Comprobante) -> Result<(), XmlError> {
    let i = &c.issuer;
    digits("claveAcceso", &c.access_key, 49)?;
    if c.access_key.get(23..24) != Some(c.environment.code()) {
        return Err(invalid("claveAcceso", "its digit 24 (ambiente) differs from the environment"));
    }
    digits("secuencial", &c.sequential, 9)?;
    digits("estab", &i.establishment, 3)?;
    digits("ptoEmi", &i.emission_point, 3)?;
    digits("ruc", &i.ruc, 13)?;
    if !i.ruc.ends_with("001") {
        return Err(invalid("ruc", "a RUC ends in 001"));
    }
    text("razonSocial", &i.legal_name, 300)?;
    opt_text("nombreComercial", i.trade_name.as_deref(), 300)?;
    text("dirMatriz", &i.head_office_address, 300)?;
    opt_text("dirEstablecimiento", i.establishment_address.as_deref(), 300)?;
    if let Some(s) = &i.special_taxpayer
        && (!(3..=13).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return Err(invalid("contribuyenteEspecial", "3 to 13 letters or digits"));
    }
    opt_text("agenteRetencion", i.withholding_agent.as_deref(), 300)?;
    opt_text("contribuyenteRimpe", i.rimpe.as_deref(), 300)?;
    let b = &c.buyer;
    let id_type = b.id_type.as_bytes();
    if id_type.len() != 2 || id_type[0] != b'0' || !(b'4'..=b'9').contains(&id_type[1]) {
        return Err(invalid("tipoIdentificacionComprador", "a code from 04 to 09"));
    }
    text("identificacionComprador", &b.id, 20)?;
    text("razonSocialComprador", &b.name, 300)?;
    if matches!(c.kind, Kind::Factura) {
        opt_text("direccionComprador", b.address.as_deref(), 300)?;
    }
    if c.lines.is_empty() {
        return Err(invalid("detalles", "at least one detalle"));
    }
    let code_element = match c.kind {
        Kind::Factura => "codigoPrincipal",
        Kind::NotaCredito { .. } => "codigoInterno",
    };
    for l in &c.lines {
        text(code_element, &l.code, 25)?;
        text("descripcion", &l.description, 300)?;
        amount("cantidad", &l.quantity, 6, 18)?;
        amount("precioUnitario", &l.unit_price, 6, 18)?;
        amount("descuento", &l.discount, 2, 14)?;
        amount("precioTotalSinImpuesto", &l.total_without_tax, 2, 14)?;
        if l.taxes.is_empty() && matches!(c.kind, Kind::Factura) {
            return Err(invalid("impuestos", "a factura's detalle has at least one impuesto"));
        }
        for t in &l.taxes {
            tax_codes(&t.code, &t.rate_code)?;
            amount("tarifa", &t.rate, 2, 4)?;
            amount("baseImponible", &t.base, 2, 14)?;
            amount("valor", &t.amount, 2, 14)?;
        }
    }
    amount("totalSinImpuestos", &c.total_without_tax, 2, 14)?;
    if c.tax_totals.is_empty() {
        return Err(invalid("totalConImpuestos", "at least one totalImpuesto"));
    }
    for t in &c.tax_totals {
        tax_codes(&t.code, &t.rate_code)?;
        amount("baseImponible", &t.base, 2, 14)?;
        amount("valor", &t.amount, 2, 14)?;
    }
    match &c.kind {
        Kind::Factura => {
            amount("totalDescuento", &c.total_discount, 2, 14)?;
            amount("propina", &c.tip, 2, 14)?;
            amount("importeTotal", &c.total, 2, 14)?;
            for p in &c.payments {
                let m = p.method.as_bytes();
                if m.len() != 2 || !m.iter().all(u8::is_ascii_digit) {
                    return Err(invalid("formaPago", "a two-digit code"));
                }
                amount("total", &p.total, 2, 14)?;
                if let Some(term) = &p.term {
                    amount("plazo", term, 2, 14)?;
                }
                opt_text("unidadTiempo", p.time_unit.as_deref(), 10)?;
            }
        }
        Kind::NotaCredito { modified_number, reason, .. } => {
            amount("valorModificacion", &c.total, 2, 14)?;
            let parts: Vec<&str> = modified_number.split('-').collect();
            let shape_ok = parts.len() == 3
                && [3, 3, 9].iter().zip(&parts).all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_digit()));
            if !shape_ok {
                return Err(invalid("numDocModificado", "the form 001-001-000000001"));
            }
            text("motivo", reason, 300)?;
        }
    }
    if c.additional.len() > 15 {
        return Err(invalid("campoAdicional", "at most 15"));
    }
    for (name, value) in &c.additional {
        text("nombre", name, 300)?;
        text("campoAdicional", value, 300)?;
    }
    Ok(())
}

fn digits(element: &'static str, s: &str, len: usize) -> Result<(), XmlError> {
    if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(invalid(element, format!("{len} digits, found {s:?}")))
    }
}

/// A required text: 1 to `max` characters once cleaned and trimmed.
fn text(element: &'static str, s: &str, max: usize) -> Result<(), XmlError> {
    let n = clean(s).trim().chars().count();
    if n == 0 {
        Err(invalid(element, "empty"))
    } else if n > max {
        Err(invalid(element, format!("{n} characters, at most {max}")))
    } else {
        Ok(())
    }
}

fn opt_text(element: &'static str, s: Option<&str>, max: usize) -> Result<(), XmlError> {
    s.map_or(Ok(()), |s| text(element, s, max))
}

fn tax_codes(code: &str, rate_code: &str) -> Result<(), XmlError> {
    if code.len() != 1 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("codigo", format!("one digit, found {code:?}")));
    }
    if !(1..=4).contains(&rate_code.len()) || !rate_code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("codigoPorcentaje", format!("1 to 4 digits, found {rate_code:?}")));
    }
    Ok(())
}

/// A non-negative xsd:decimal written plainly ("12", "12.5", "0.30"), with at most `max_fraction`
/// decimals and `max_total` digits, as the XSD's `fractionDigits`/`totalDigits` say.
fn amount(element: &'static str, s: &str, max_fraction: usize, max_total: usize) -> Result<(), XmlError> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let ok = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !(s.contains('.') && frac.is_empty())
        && frac.len() <= max_fraction;
    // totalDigits counts significant digits: leading zeros of the integer part do not count.
    let total = int.trim_start_matches('0').len() + frac.len();
    if ok && total <= max_total {
        Ok(())
    } else {
        Err(invalid(element, format!("a decimal with at most {max_fraction} decimals, found {s:?}")))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A factura with two lines, IVA 15 % and 0 %, and characters that need escaping.
    pub(crate) fn sample_factura() -> Comprobante {
        Comprobante {
            kind: Kind::Factura,
            environment: Environment::Testing,
            // ddmmyyyy, codDoc, RUC, ambiente, serie, secuencial, código numérico, tipoEmisión, check digit.
            access_key: ["06122026", "01", "0992345678001", "1", "001001", "000000001", "12345678", "1", "7"].concat(),
            sequential: "000000001".into(),
            issue_date: jiff::civil::date(2026, 12, 6),
            issuer: Issuer {
                ruc: "0992345678001".into(),
                legal_name: "PLAZA & HIJOS S.A.".into(),
                trade_name: Some("Plaza \"Tienda\"".into()),
                head_office_address: "Av. 9 de Octubre <100>".into(),
                establishment: "001".into(),
                emission_point: "001".into(),
                establishment_address: Some("Guayaquil".into()),
                special_taxpayer: None,
                keeps_accounts: true,
                withholding_agent: None,
                rimpe: Some("CONTRIBUYENTE RÉGIMEN RIMPE".into()),
            },
            buyer: Buyer {
                id_type: "05".into(),
                id: "0912345675".into(),
                name: "María José Núñez".into(),
                address: Some("Calle\r\nLarga".into()),
            },
            lines: vec![
                Line {
                    code: "P-1".into(),
                    description: "Café 'orgánico' 500 g".into(),
                    quantity: "2.500000".into(),
                    unit_price: "4.123456".into(),
                    discount: "0.00".into(),
                    total_without_tax: "10.31".into(),
                    taxes: vec![LineTax {
                        code: "2".into(),
                        rate_code: "4".into(),
                        rate: "15".into(),
                        base: "10.31".into(),
                        amount: "1.55".into(),
                    }],
                },
                Line {
                    code: "L-2".into(),
                    description: "Libro".into(),
                    quantity: "1".into(),
                    unit_price: "20".into(),
                    discount: "1.00".into(),
                    total_without_tax: "19.00".into(),
                    taxes: vec![LineTax {
                        code: "2".into(),
                        rate_code: "0".into(),
                        rate: "0".into(),
                        base: "19.00".into(),
                        amount: "0.00".into(),
                    }],
                },
            ],
            total_without_tax: "29.31".into(),
            total_discount: "1.00".into(),
            tax_totals: vec![
                TaxTotal { code: "2".into(), rate_code: "4".into(), base: "10.31".into(), amount: "1.55".into() },
                TaxTotal { code: "2".into(), rate_code: "0".into(), base: "19.00".into(), amount: "0.00".into() },
            ],
            tip: "0.00".into(),
            total: "30.86".into(),
            payments: vec![Payment {
                method: "20".into(),
                total: "30.86".into(),
                term: Some("30".into()),
                time_unit: Some("dias".into()),
            }],
            additional: vec![("Email".into(), "maria@example.com".into()), ("Nota \"1\"".into(), "a & b".into())],
        }
    }

    #[test]
    fn factura_elements_in_xsd_order() {
        let xml = comprobante_xml(&sample_factura()).unwrap();
        let expected = concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?><factura id="comprobante" version="1.1.0">"#,
            "<infoTributaria><ambiente>1</ambiente><tipoEmision>1</tipoEmision>",
            "<razonSocial>PLAZA &amp; HIJOS S.A.</razonSocial><nombreComercial>Plaza \"Tienda\"</nombreComercial>",
            "<ruc>0992345678001</ruc><claveAcceso>0612202601099234567800110010010000000011234567817</claveAcceso>",
            "<codDoc>01</codDoc><estab>001</estab><ptoEmi>001</ptoEmi><secuencial>000000001</secuencial>",
            "<dirMatriz>Av. 9 de Octubre &lt;100&gt;</dirMatriz>",
            "<contribuyenteRimpe>CONTRIBUYENTE RÉGIMEN RIMPE</contribuyenteRimpe></infoTributaria>",
            "<infoFactura><fechaEmision>06/12/2026</fechaEmision><dirEstablecimiento>Guayaquil</dirEstablecimiento>",
            "<obligadoContabilidad>SI</obligadoContabilidad><tipoIdentificacionComprador>05</tipoIdentificacionComprador>",
            "<razonSocialComprador>María José Núñez</razonSocialComprador>",
            "<identificacionComprador>0912345675</identificacionComprador>",
            "<direccionComprador>Calle  Larga</direccionComprador>",
            "<totalSinImpuestos>29.31</totalSinImpuestos><totalDescuento>1.00</totalDescuento>",
            "<totalConImpuestos><totalImpuesto><codigo>2</codigo><codigoPorcentaje>4</codigoPorcentaje>",
            "<baseImponible>10.31</baseImponible><valor>1.55</valor></totalImpuesto>",
            "<totalImpuesto><codigo>2</codigo><codigoPorcentaje>0</codigoPorcentaje>",
            "<baseImponible>19.00</baseImponible><valor>0.00</valor></totalImpuesto></totalConImpuestos>",
            "<propina>0.00</propina><importeTotal>30.86</importeTotal><moneda>DOLAR</moneda>",
            "<pagos><pago><formaPago>20</formaPago><total>30.86</total><plazo>30</plazo>",
            "<unidadTiempo>dias</unidadTiempo></pago></pagos></infoFactura>",
            "<detalles><detalle><codigoPrincipal>P-1</codigoPrincipal><descripcion>Café 'orgánico' 500 g</descripcion>",
            "<cantidad>2.500000</cantidad><precioUnitario>4.123456</precioUnitario><descuento>0.00</descuento>",
            "<precioTotalSinImpuesto>10.31</precioTotalSinImpuesto><impuestos><impuesto><codigo>2</codigo>",
            "<codigoPorcentaje>4</codigoPorcentaje><tarifa>15</tarifa><baseImponible>10.31</baseImponible>",
            "<valor>1.55</valor></impuesto></impuestos></detalle>",
            "<detalle><codigoPrincipal>L-2</codigoPrincipal><descripcion>Libro</descripcion><cantidad>1</cantidad>",
            "<precioUnitario>20</precioUnitario><descuento>1.00</descuento>",
            "<precioTotalSinImpuesto>19.00</precioTotalSinImpuesto><impuestos><impuesto><codigo>2</codigo>",
            "<codigoPorcentaje>0</codigoPorcentaje><tarifa>0</tarifa><baseImponible>19.00</baseImponible>",
            "<valor>0.00</valor></impuesto></impuestos></detalle></detalles>",
            r#"<infoAdicional><campoAdicional nombre="Email">maria@example.com</campoAdicional>"#,
            r#"<campoAdicional nombre="Nota &quot;1&quot;">a &amp; b</campoAdicional></infoAdicional>"#,
            "</factura>",
        );
        assert_eq!(xml, expected);
    }

    #[test]
    fn nota_credito_elements_in_xsd_order() {
        let mut c = sample_factura();
        c.kind = Kind::NotaCredito {
            modified_number: "001-001-000000001".into(),
            modified_date: jiff::civil::date(2026, 12, 1),
            reason: "Devolución".into(),
        };
        c.issuer.special_taxpayer = Some("5368".into());
        c.issuer.rimpe = None;
        c.lines.truncate(1);
        c.additional.clear();
        let xml = comprobante_xml(&c).unwrap();
        let info = concat!(
            "<infoNotaCredito><fechaEmision>06/12/2026</fechaEmision><dirEstablecimiento>Guayaquil</dirEstablecimiento>",
            "<tipoIdentificacionComprador>05</tipoIdentificacionComprador>",
            "<razonSocialComprador>María José Núñez</razonSocialComprador>",
            "<identificacionComprador>0912345675</identificacionComprador>",
            "<contribuyenteEspecial>5368</contribuyenteEspecial><obligadoContabilidad>SI</obligadoContabilidad>",
            "<codDocModificado>01</codDocModificado><numDocModificado>001-001-000000001</numDocModificado>",
            "<fechaEmisionDocSustento>01/12/2026</fechaEmisionDocSustento><totalSinImpuestos>29.31</totalSinImpuestos>",
            "<valorModificacion>30.86</valorModificacion><moneda>DOLAR</moneda><totalConImpuestos>",
        );
        assert!(xml.starts_with(
            r#"<?xml version="1.0" encoding="UTF-8"?><notaCredito id="comprobante" version="1.1.0"><infoTributaria>"#
        ));
        assert!(xml.contains("<codDoc>04</codDoc>"));
        assert!(xml.contains(info), "{xml}");
        assert!(xml.contains("</totalConImpuestos><motivo>Devolución</motivo></infoNotaCredito><detalles><detalle><codigoInterno>P-1</codigoInterno><descripcion>"));
        assert!(xml.ends_with("</impuestos></detalle></detalles></notaCredito>"));
        for factura_only in
            ["direccionComprador", "propina", "totalDescuento", "pagos", "importeTotal", "infoAdicional"]
        {
            assert!(!xml.contains(factura_only), "{factura_only}");
        }
    }

    #[test]
    fn schema_violations_are_caught() {
        let mut c = sample_factura();
        c.lines[0].quantity = "1.1234567".into();
        assert!(matches!(comprobante_xml(&c), Err(XmlError::Invalid { element: "cantidad", .. })));
        let mut c = sample_factura();
        c.total = "1.234".into();
        assert!(matches!(comprobante_xml(&c), Err(XmlError::Invalid { element: "importeTotal", .. })));
        for bad in ["", "-1", "1.", ".5", "1,5", "1e3"] {
            assert!(amount("x", bad, 2, 14).is_err(), "{bad}");
        }
        for good in ["0", "0.5", "12.30", "000012.30", "123456789012.34"] {
            assert!(amount("x", good, 2, 14).is_ok(), "{good}");
        }
        let mut c = sample_factura();
        c.access_key.replace_range(23..24, "2");
        assert!(matches!(comprobante_xml(&c), Err(XmlError::Invalid { element: "claveAcceso", .. })));
        let mut c = sample_factura();
        c.lines.clear();
        assert!(comprobante_xml(&c).is_err());
        let mut c = sample_factura();
        c.kind = Kind::NotaCredito {
            modified_number: "1-1-1".into(),
            modified_date: jiff::civil::date(2026, 12, 1),
            reason: "x".into(),
        };
        assert!(matches!(comprobante_xml(&c), Err(XmlError::Invalid { element: "numDocModificado", .. })));
        let mut c = sample_factura();
        c.buyer.name = " \n ".into();
        assert!(matches!(comprobante_xml(&c), Err(XmlError::Invalid { element: "razonSocialComprador", .. })));
    }
}
