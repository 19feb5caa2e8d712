//! The AEAT's VERI*FACTU web service: the SOAP request that sends registros
//! de facturación (`RegFactuSistemaFacturacion`) and its answer
//! (`RespuestaRegFactuSistemaFacturacion`, or a SOAP Fault).
//!
//! Element names, order and namespaces follow the AEAT's published schemas
//! (`SuministroLR.xsd`, `SuministroInformacion.xsd`, `RespuestaSuministro.xsd`
//! of the `tikeV1.0` web service). Their target namespaces are the `tike`
//! URLs below, without the `V1.0` of the download path. Only what Plaza
//! sends is modelled: F1 and F2 invoices of operations subject to tax
//! (CalificacionOperacion S1 and the like), their anulaciones, no
//! rectificativas, no third-party issuers.
//!
//! The request's Huella is computed here from the very strings written to
//! the XML (see `es::huella`): the AEAT recomputes it from the XML, and a
//! mismatch marks the record "AceptadoConErrores".

use std::fmt;
use std::io;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

use super::huella;

/// SOAP 1.1, which the AEAT's WSDL binds the service to.
pub const NS_SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// Target namespace of `SuministroLR.xsd`: the request's root, Cabecera and
/// RegistroFactura.
pub const NS_SUMINISTRO_LR: &str = "https://www2.agenciatributaria.gob.es/static_files/common/internet/dep/aplicaciones/es/aeat/tike/cont/ws/SuministroLR.xsd";
/// Target namespace of `SuministroInformacion.xsd`: everything inside.
pub const NS_SUMINISTRO_INFORMACION: &str = "https://www2.agenciatributaria.gob.es/static_files/common/internet/dep/aplicaciones/es/aeat/tike/cont/ws/SuministroInformacion.xsd";

/// Most RegistroFactura one request may carry (`SuministroLR.xsd`,
/// `maxOccurs="1000"`; the Orden's annex says the same).
pub const MAX_REGISTROS: usize = 1000;
/// Most DetalleDesglose one Desglose may carry (`DesgloseType`).
pub const MAX_DETALLES: usize = 12;
/// Most IDDestinatario one Destinatarios may carry.
pub const MAX_DESTINATARIOS: usize = 1000;

/// The only IDVersion the schemas accept (`VersionType`).
const ID_VERSION: &str = "1.0";
/// TipoHuella: list L12, `01` is SHA-256, the only algorithm.
const TIPO_HUELLA_SHA256: &str = "01";

/// Why a request could not be written or an answer read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlError {
    /// A request needs 1 to [`MAX_REGISTROS`] registros; this many were given.
    RegistroCount(usize),
    /// A value the schema would reject: the AEAT answers those with a SOAP
    /// Fault for the whole request, so they are caught before sending.
    Invalid { field: &'static str, value: String },
    /// The XML writer failed.
    Write(String),
    /// The answer is not well-formed XML.
    Parse(String),
    /// The answer is XML, but not an answer of this service.
    Unexpected(String),
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RegistroCount(n) => write!(f, "a VERI*FACTU request carries 1 to {MAX_REGISTROS} registros, not {n}"),
            Self::Invalid { field, value } => write!(f, "{field} {value:?} does not fit the AEAT's schema"),
            Self::Write(e) => write!(f, "cannot write the VERI*FACTU request: {e}"),
            Self::Parse(e) => write!(f, "the AEAT's answer is not well-formed XML: {e}"),
            Self::Unexpected(e) => write!(f, "unexpected answer from the AEAT: {e}"),
        }
    }
}

impl std::error::Error for XmlError {}

impl From<io::Error> for XmlError {
    fn from(e: io::Error) -> Self {
        Self::Write(e.to_string())
    }
}

// --- The request -----------------------------------------------------------

/// Cabecera/ObligadoEmision: the taxpayer the records belong to (the
/// issuer of the invoices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObligadoEmision {
    pub nombre_razon: String,
    pub nif: String,
}

/// IDFactura: an invoice's identity in the AEAT's records (also the
/// identity of the previous record in an Encadenamiento).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdFactura {
    /// The issuer's NIF.
    pub id_emisor_factura: String,
    /// Series and number, at most 60 characters.
    pub num_serie_factura: String,
    /// `dd-mm-yyyy`.
    pub fecha_expedicion_factura: String,
}

/// Encadenamiento: the record this one follows in the issuer's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encadenamiento {
    /// The first record this system generates for the issuer (`PrimerRegistro`
    /// "S"); its huella is computed with an empty previous huella.
    PrimerRegistro,
    /// The previous record (alta or anulación) and its huella.
    RegistroAnterior { id_factura: IdFactura, huella: String },
}

impl Encadenamiento {
    /// The previous huella as the huella computation wants it.
    fn huella_anterior(&self) -> &str {
        match self {
            Self::PrimerRegistro => "",
            Self::RegistroAnterior { huella, .. } => huella,
        }
    }
}

/// SistemaInformatico: the invoicing software that generated the record
/// and its installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SistemaInformatico {
    /// The producer of the software.
    pub nombre_razon: String,
    /// The producer's NIF.
    pub nif: String,
    /// The software's name, at most 30 characters.
    pub nombre_sistema_informatico: String,
    /// Two characters, each an upper-case letter (not Ñ) or a digit.
    pub id_sistema_informatico: String,
    pub version: String,
    /// Tells this installation apart from every other one of the issuer's.
    pub numero_instalacion: String,
    /// Whether the software can only work as VERI*FACTU.
    pub tipo_uso_posible_solo_verifactu: bool,
    /// Whether the software can keep several taxpayers' invoicing.
    pub tipo_uso_posible_multi_ot: bool,
    /// Whether, when the record is generated, it keeps more than one.
    pub indicador_multiples_ot: bool,
}

/// TipoFactura of the invoices Plaza issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TipoFactura {
    /// Factura (RD 1619/2012 art. 6, 7.2 and 7.3).
    F1,
    /// Factura simplificada, or without the customer's identification
    /// (art. 6.1.d).
    F2,
}

impl TipoFactura {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::F1 => "F1",
            Self::F2 => "F2",
        }
    }
}

/// Destinatarios/IDDestinatario: a customer with a Spanish NIF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destinatario {
    pub nombre_razon: String,
    pub nif: String,
}

/// Desglose/DetalleDesglose: one tax rate's base and quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetalleDesglose {
    /// List L1: `01` IVA, `02` IPSI, `03` IGIC, `05` others.
    pub impuesto: String,
    /// List L8A/L8B: `01` general regime.
    pub clave_regimen: String,
    /// List L9: `S1` subject and not exempt, no reverse charge.
    pub calificacion_operacion: String,
    /// Rate in percent, e.g. `21.00`.
    pub tipo_impositivo: String,
    /// Taxable base, e.g. `100.00`.
    pub base_imponible_o_importe_no_sujeto: String,
    /// Tax charged, e.g. `21.00`.
    pub cuota_repercutida: String,
}

impl DetalleDesglose {
    /// A line of IVA, general regime, subject and not exempt (`01`, `01`,
    /// `S1`): what an ordinary Spanish sale carries.
    pub fn iva_general(tipo_impositivo: &str, base: &str, cuota: &str) -> Self {
        Self {
            impuesto: "01".to_owned(),
            clave_regimen: "01".to_owned(),
            calificacion_operacion: "S1".to_owned(),
            tipo_impositivo: tipo_impositivo.to_owned(),
            base_imponible_o_importe_no_sujeto: base.to_owned(),
            cuota_repercutida: cuota.to_owned(),
        }
    }
}

/// RegistroAlta: the record of an issued invoice. Amounts are decimal
/// strings (`123.45`), written and hashed exactly as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistroAlta {
    pub id_factura: IdFactura,
    pub nombre_razon_emisor: String,
    pub tipo_factura: TipoFactura,
    /// What the invoice is for, at most 500 characters.
    pub descripcion_operacion: String,
    /// The customers; empty writes no Destinatarios (simplified invoices).
    pub destinatarios: Vec<Destinatario>,
    /// 1 to [`MAX_DETALLES`] lines.
    pub desglose: Vec<DetalleDesglose>,
    pub cuota_total: String,
    pub importe_total: String,
    pub encadenamiento: Encadenamiento,
    pub sistema_informatico: SistemaInformatico,
    /// When the record was generated, with its offset:
    /// `2024-01-01T19:20:30+01:00`.
    pub fecha_hora_huso_gen_registro: String,
}

impl RegistroAlta {
    /// The fields this record's huella is computed from.
    pub fn huella_input(&self) -> huella::Alta<'_> {
        huella::Alta {
            id_emisor_factura: &self.id_factura.id_emisor_factura,
            num_serie_factura: &self.id_factura.num_serie_factura,
            fecha_expedicion_factura: &self.id_factura.fecha_expedicion_factura,
            tipo_factura: self.tipo_factura.as_str(),
            cuota_total: &self.cuota_total,
            importe_total: &self.importe_total,
            huella_anterior: self.encadenamiento.huella_anterior(),
            fecha_hora_huso_gen_registro: &self.fecha_hora_huso_gen_registro,
        }
    }

    /// This record's huella, the one [`request`] writes: keep it, the next
    /// record's Encadenamiento needs it.
    pub fn huella(&self) -> String {
        huella::huella_alta(&self.huella_input())
    }
}

/// RegistroAnulacion: the record that cancels an invoice's registro de alta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistroAnulacion {
    /// The cancelled invoice (written as IDEmisorFacturaAnulada, ...).
    pub id_factura: IdFactura,
    pub encadenamiento: Encadenamiento,
    pub sistema_informatico: SistemaInformatico,
    pub fecha_hora_huso_gen_registro: String,
}

impl RegistroAnulacion {
    /// The fields this record's huella is computed from.
    pub fn huella_input(&self) -> huella::Anulacion<'_> {
        huella::Anulacion {
            id_emisor_factura_anulada: &self.id_factura.id_emisor_factura,
            num_serie_factura_anulada: &self.id_factura.num_serie_factura,
            fecha_expedicion_factura_anulada: &self.id_factura.fecha_expedicion_factura,
            huella_anterior: self.encadenamiento.huella_anterior(),
            fecha_hora_huso_gen_registro: &self.fecha_hora_huso_gen_registro,
        }
    }

    /// This record's huella, the one [`request`] writes.
    pub fn huella(&self) -> String {
        huella::huella_anulacion(&self.huella_input())
    }
}

/// One RegistroFactura: an alta or an anulación (both may share a request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registro {
    Alta(RegistroAlta),
    Anulacion(RegistroAnulacion),
}

impl Registro {
    pub fn huella(&self) -> String {
        match self {
            Self::Alta(alta) => alta.huella(),
            Self::Anulacion(anulacion) => anulacion.huella(),
        }
    }
}

/// The SOAP request (UTF-8 text) that sends `registros`, in order, for
/// `obligado`. The registros should be in the order they were generated, as
/// their chain runs.
pub fn request(obligado: &ObligadoEmision, registros: &[Registro]) -> Result<String, XmlError> {
    if registros.is_empty() || registros.len() > MAX_REGISTROS {
        return Err(XmlError::RegistroCount(registros.len()));
    }
    check(max_chars::<120>, "ObligadoEmision/NombreRazon", &obligado.nombre_razon)?;
    check(is_nif, "ObligadoEmision/NIF", &obligado.nif)?;
    for registro in registros {
        validate(registro)?;
    }
    let mut out = Out(Writer::new(Vec::new()));
    out.0.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    out.0.write_event(Event::Start(BytesStart::new("soapenv:Envelope").with_attributes([
        ("xmlns:soapenv", NS_SOAP),
        ("xmlns:sum", NS_SUMINISTRO_LR),
        ("xmlns:sum1", NS_SUMINISTRO_INFORMACION),
    ])))?;
    out.0.write_event(Event::Empty(BytesStart::new("soapenv:Header")))?;
    out.open("soapenv:Body")?;
    out.open("sum:RegFactuSistemaFacturacion")?;
    out.open("sum:Cabecera")?;
    out.open("sum1:ObligadoEmision")?;
    out.leaf("sum1:NombreRazon", &obligado.nombre_razon)?;
    out.leaf("sum1:NIF", &obligado.nif)?;
    out.close("sum1:ObligadoEmision")?;
    out.close("sum:Cabecera")?;
    for registro in registros {
        out.open("sum:RegistroFactura")?;
        match registro {
            Registro::Alta(alta) => write_alta(&mut out, alta)?,
            Registro::Anulacion(anulacion) => write_anulacion(&mut out, anulacion)?,
        }
        out.close("sum:RegistroFactura")?;
    }
    out.close("sum:RegFactuSistemaFacturacion")?;
    out.close("soapenv:Body")?;
    out.close("soapenv:Envelope")?;
    String::from_utf8(out.0.into_inner()).map_err(|e| XmlError::Write(e.to_string()))
}

/// Element order of `RegistroFacturacionAltaType`, optional elements Plaza
/// does not use left out.
fn write_alta(out: &mut Out, alta: &RegistroAlta) -> Result<(), XmlError> {
    out.open("sum1:RegistroAlta")?;
    out.leaf("sum1:IDVersion", ID_VERSION)?;
    out.open("sum1:IDFactura")?;
    out.leaf("sum1:IDEmisorFactura", &alta.id_factura.id_emisor_factura)?;
    out.leaf("sum1:NumSerieFactura", &alta.id_factura.num_serie_factura)?;
    out.leaf("sum1:FechaExpedicionFactura", &alta.id_factura.fecha_expedicion_factura)?;
    out.close("sum1:IDFactura")?;
    out.leaf("sum1:NombreRazonEmisor", &alta.nombre_razon_emisor)?;
    out.leaf("sum1:TipoFactura", alta.tipo_factura.as_str())?;
    out.leaf("sum1:DescripcionOperacion", &alta.descripcion_operacion)?;
    if !alta.destinatarios.is_empty() {
        out.open("sum1:Destinatarios")?;
        for destinatario in &alta.destinatarios {
            out.open("sum1:IDDestinatario")?;
            out.leaf("sum1:NombreRazon", &destinatario.nombre_razon)?;
            out.leaf("sum1:NIF", &destinatario.nif)?;
            out.close("sum1:IDDestinatario")?;
        }
        out.close("sum1:Destinatarios")?;
    }
    out.open("sum1:Desglose")?;
    for detalle in &alta.desglose {
        out.open("sum1:DetalleDesglose")?;
        out.leaf("sum1:Impuesto", &detalle.impuesto)?;
        out.leaf("sum1:ClaveRegimen", &detalle.clave_regimen)?;
        out.leaf("sum1:CalificacionOperacion", &detalle.calificacion_operacion)?;
        out.leaf("sum1:TipoImpositivo", &detalle.tipo_impositivo)?;
        out.leaf("sum1:BaseImponibleOimporteNoSujeto", &detalle.base_imponible_o_importe_no_sujeto)?;
        out.leaf("sum1:CuotaRepercutida", &detalle.cuota_repercutida)?;
        out.close("sum1:DetalleDesglose")?;
    }
    out.close("sum1:Desglose")?;
    out.leaf("sum1:CuotaTotal", &alta.cuota_total)?;
    out.leaf("sum1:ImporteTotal", &alta.importe_total)?;
    write_tail(
        out,
        &alta.encadenamiento,
        &alta.sistema_informatico,
        &alta.fecha_hora_huso_gen_registro,
        &alta.huella(),
    )?;
    out.close("sum1:RegistroAlta")?;
    Ok(())
}

/// Element order of `RegistroFacturacionAnulacionType`.
fn write_anulacion(out: &mut Out, anulacion: &RegistroAnulacion) -> Result<(), XmlError> {
    out.open("sum1:RegistroAnulacion")?;
    out.leaf("sum1:IDVersion", ID_VERSION)?;
    out.open("sum1:IDFactura")?;
    out.leaf("sum1:IDEmisorFacturaAnulada", &anulacion.id_factura.id_emisor_factura)?;
    out.leaf("sum1:NumSerieFacturaAnulada", &anulacion.id_factura.num_serie_factura)?;
    out.leaf("sum1:FechaExpedicionFacturaAnulada", &anulacion.id_factura.fecha_expedicion_factura)?;
    out.close("sum1:IDFactura")?;
    write_tail(
        out,
        &anulacion.encadenamiento,
        &anulacion.sistema_informatico,
        &anulacion.fecha_hora_huso_gen_registro,
        &anulacion.huella(),
    )?;
    out.close("sum1:RegistroAnulacion")?;
    Ok(())
}

/// Encadenamiento, SistemaInformatico, FechaHoraHusoGenRegistro, TipoHuella
/// and Huella: how both kinds of record end.
fn write_tail(
    out: &mut Out,
    encadenamiento: &Encadenamiento,
    sistema: &SistemaInformatico,
    fecha_hora_huso_gen_registro: &str,
    huella: &str,
) -> Result<(), XmlError> {
    out.open("sum1:Encadenamiento")?;
    match encadenamiento {
        Encadenamiento::PrimerRegistro => out.leaf("sum1:PrimerRegistro", "S")?,
        Encadenamiento::RegistroAnterior { id_factura, huella } => {
            out.open("sum1:RegistroAnterior")?;
            out.leaf("sum1:IDEmisorFactura", &id_factura.id_emisor_factura)?;
            out.leaf("sum1:NumSerieFactura", &id_factura.num_serie_factura)?;
            out.leaf("sum1:FechaExpedicionFactura", &id_factura.fecha_expedicion_factura)?;
            out.leaf("sum1:Huella", huella)?;
            out.close("sum1:RegistroAnterior")?;
        }
    }
    out.close("sum1:Encadenamiento")?;
    out.open("sum1:SistemaInformatico")?;
    out.leaf("sum1:NombreRazon", &sistema.nombre_razon)?;
    out.leaf("sum1:NIF", &sistema.nif)?;
    out.leaf("sum1:NombreSistemaInformatico", &sistema.nombre_sistema_informatico)?;
    out.leaf("sum1:IdSistemaInformatico", &sistema.id_sistema_informatico)?;
    out.leaf("sum1:Version", &sistema.version)?;
    out.leaf("sum1:NumeroInstalacion", &sistema.numero_instalacion)?;
    out.leaf("sum1:TipoUsoPosibleSoloVerifactu", si_no(sistema.tipo_uso_posible_solo_verifactu))?;
    out.leaf("sum1:TipoUsoPosibleMultiOT", si_no(sistema.tipo_uso_posible_multi_ot))?;
    out.leaf("sum1:IndicadorMultiplesOT", si_no(sistema.indicador_multiples_ot))?;
    out.close("sum1:SistemaInformatico")?;
    out.leaf("sum1:FechaHoraHusoGenRegistro", fecha_hora_huso_gen_registro)?;
    out.leaf("sum1:TipoHuella", TIPO_HUELLA_SHA256)?;
    out.leaf("sum1:Huella", huella)?;
    Ok(())
}

fn si_no(yes: bool) -> &'static str {
    if yes { "S" } else { "N" }
}

/// A thin layer over quick-xml's writer: elements are opened, closed or
/// written with escaped text.
struct Out(Writer<Vec<u8>>);

impl Out {
    fn open(&mut self, name: &str) -> io::Result<()> {
        self.0.write_event(Event::Start(BytesStart::new(name)))
    }

    fn close(&mut self, name: &str) -> io::Result<()> {
        self.0.write_event(Event::End(BytesEnd::new(name)))
    }

    fn leaf(&mut self, name: &str, text: &str) -> io::Result<()> {
        self.0.create_element(name).write_text_content(BytesText::new(text)).map(|_| ())
    }
}

/// What the schemas require of the values written (patterns, lengths,
/// enumerations, counts). A request that breaks its schema is refused
/// whole, with a SOAP Fault, so one bad record would hold back the others:
/// better caught here, naming the field. What only the AEAT can judge (is
/// the NIF registered, do the amounts add up) it reports per record.
fn validate(registro: &Registro) -> Result<(), XmlError> {
    let (id_factura, encadenamiento, sistema, fecha_hora) = match registro {
        Registro::Alta(alta) => {
            validate_alta(alta)?;
            (&alta.id_factura, &alta.encadenamiento, &alta.sistema_informatico, &alta.fecha_hora_huso_gen_registro)
        }
        Registro::Anulacion(anulacion) => (
            &anulacion.id_factura,
            &anulacion.encadenamiento,
            &anulacion.sistema_informatico,
            &anulacion.fecha_hora_huso_gen_registro,
        ),
    };
    validate_id_factura(id_factura, ["IDEmisorFactura", "NumSerieFactura", "FechaExpedicionFactura"])?;
    if let Encadenamiento::RegistroAnterior { id_factura, huella } = encadenamiento {
        let names = [
            "RegistroAnterior/IDEmisorFactura",
            "RegistroAnterior/NumSerieFactura",
            "RegistroAnterior/FechaExpedicionFactura",
        ];
        validate_id_factura(id_factura, names)?;
        check(|h| (1..=64).contains(&h.chars().count()), "RegistroAnterior/Huella", huella)?;
    }
    check(is_nif, "SistemaInformatico/NIF", &sistema.nif)?;
    check(max_chars::<120>, "SistemaInformatico/NombreRazon", &sistema.nombre_razon)?;
    check(max_chars::<30>, "NombreSistemaInformatico", &sistema.nombre_sistema_informatico)?;
    check(max_chars::<2>, "IdSistemaInformatico", &sistema.id_sistema_informatico)?;
    check(max_chars::<50>, "SistemaInformatico/Version", &sistema.version)?;
    check(max_chars::<100>, "NumeroInstalacion", &sistema.numero_instalacion)?;
    check(is_fecha_hora_huso, "FechaHoraHusoGenRegistro", fecha_hora)
}

fn validate_alta(alta: &RegistroAlta) -> Result<(), XmlError> {
    if alta.desglose.is_empty() || alta.desglose.len() > MAX_DETALLES {
        return Err(invalid("Desglose", &format!("{} DetalleDesglose", alta.desglose.len())));
    }
    if alta.destinatarios.len() > MAX_DESTINATARIOS {
        return Err(invalid("Destinatarios", &format!("{} IDDestinatario", alta.destinatarios.len())));
    }
    check(max_chars::<120>, "NombreRazonEmisor", &alta.nombre_razon_emisor)?;
    check(max_chars::<500>, "DescripcionOperacion", &alta.descripcion_operacion)?;
    for destinatario in &alta.destinatarios {
        check(max_chars::<120>, "IDDestinatario/NombreRazon", &destinatario.nombre_razon)?;
        check(is_nif, "IDDestinatario/NIF", &destinatario.nif)?;
    }
    for detalle in &alta.desglose {
        check(|v| matches!(v, "01" | "02" | "03" | "05"), "Impuesto", &detalle.impuesto)?;
        check(|v| v.len() == 2 && v.bytes().all(|b| b.is_ascii_digit()), "ClaveRegimen", &detalle.clave_regimen)?;
        check(|v| matches!(v, "S1" | "S2" | "N1" | "N2"), "CalificacionOperacion", &detalle.calificacion_operacion)?;
        check(is_tipo, "TipoImpositivo", &detalle.tipo_impositivo)?;
        check(is_importe, "BaseImponibleOimporteNoSujeto", &detalle.base_imponible_o_importe_no_sujeto)?;
        check(is_importe, "CuotaRepercutida", &detalle.cuota_repercutida)?;
    }
    check(is_importe, "CuotaTotal", &alta.cuota_total)?;
    check(is_importe, "ImporteTotal", &alta.importe_total)
}

/// IDFactura and RegistroAnterior share these three fields; `names` says
/// which block's they are, for the error.
fn validate_id_factura(id: &IdFactura, names: [&'static str; 3]) -> Result<(), XmlError> {
    check(is_nif, names[0], &id.id_emisor_factura)?;
    check(|v| (1..=60).contains(&v.chars().count()), names[1], &id.num_serie_factura)?;
    check(is_fecha, names[2], &id.fecha_expedicion_factura)
}

fn check(ok: fn(&str) -> bool, field: &'static str, value: &str) -> Result<(), XmlError> {
    if ok(value) { Ok(()) } else { Err(invalid(field, value)) }
}

fn invalid(field: &'static str, value: &str) -> XmlError {
    XmlError::Invalid { field, value: value.to_owned() }
}

/// `ImporteSgn12.2Type`: `(\+|-)?\d{1,12}(\.\d{0,2})?`.
fn is_importe(s: &str) -> bool {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    is_decimal(unsigned, 12)
}

/// `Tipo2.2Type`: `\d{1,3}(\.\d{0,2})?`.
fn is_tipo(s: &str) -> bool {
    is_decimal(s, 3)
}

/// 1 to `int_digits` digits, then optionally a dot and up to 2 digits.
fn is_decimal(s: &str, int_digits: usize) -> bool {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    (1..=int_digits).contains(&int.len())
        && frac.len() <= 2
        && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
}

/// The schemas' `fecha`: `\d{2}-\d{2}-\d{4}`.
fn is_fecha(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[2] == b'-'
        && b[5] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 2 || i == 5 || c.is_ascii_digit())
}

/// `NIFType`: exactly 9 characters (the AEAT checks the rest against its
/// census).
fn is_nif(s: &str) -> bool {
    s.chars().count() == 9
}

/// The schemas' `TextMaxNType`: at most `N` characters.
fn max_chars<const N: usize>(s: &str) -> bool {
    s.chars().count() <= N
}

/// FechaHoraHusoGenRegistro as the registro's design asks it
/// (`YYYY-MM-DDThh:mm:ssTZD`, e.g. `2024-01-01T19:20:30+01:00`): the schema
/// would take any `xs:dateTime`, but the AEAT rejects a value without its
/// offset (error 1244), and the huella is computed over this exact text.
fn is_fecha_hora_huso(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 25
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 | 22 => c == b':',
            19 => c == b'+' || c == b'-',
            _ => c.is_ascii_digit(),
        })
}

// --- The answer ------------------------------------------------------------

/// What the service answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Respuesta {
    /// It processed the request: each record's fate is in the lines.
    Envio(RespuestaEnvio),
    /// It refused the whole request (malformed XML, schema error, bad
    /// certificate, ...): no record of it was registered.
    Fault(SoapFault),
}

/// A SOAP Fault, e.g. `Codigo[4102].El XML no cumple el esquema...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapFault {
    pub code: String,
    pub message: String,
}

/// RespuestaRegFactuSistemaFacturacion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespuestaEnvio {
    /// Código Seguro de Verificación of the submission; absent when nothing
    /// was registered.
    pub csv: Option<String>,
    pub estado_envio: EstadoEnvio,
    /// Seconds to wait before the next submission (the flow control of
    /// Orden HAC/1177/2024 art. 16.2), unless 1000 records are waiting.
    pub tiempo_espera_envio: Option<u32>,
    pub lineas: Vec<RespuestaLinea>,
}

/// EstadoEnvio (list L18).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstadoEnvio {
    /// Every record is Correcto.
    Correcto,
    /// Some records are Incorrecto or AceptadoConErrores.
    ParcialmenteCorrecto,
    /// Every record is Incorrecto.
    Incorrecto,
}

/// EstadoRegistro (list L19).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstadoRegistro {
    /// Registered.
    Correcto,
    /// Registered, with errors to correct by a later "subsanación"; sending
    /// it again as new would be a duplicate.
    AceptadoConErrores,
    /// Rejected: not registered.
    Incorrecto,
}

/// One RespuestaLinea: the fate of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespuestaLinea {
    /// The invoice the record is about (for an anulación, the cancelled one).
    pub id_factura: IdFactura,
    /// Operacion/TipoOperacion: `Alta` or `Anulacion`.
    pub tipo_operacion: String,
    pub estado_registro: EstadoRegistro,
    pub codigo_error: Option<String>,
    pub descripcion_error: Option<String>,
    /// When the record was rejected as a duplicate (error 3000), the one the
    /// AEAT already has: a resend after a lost answer lands here, and then
    /// the record is registered after all.
    pub duplicado: Option<RegistroDuplicado>,
}

/// RespuestaLinea/RegistroDuplicado.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegistroDuplicado {
    pub id_peticion: String,
    /// `Correcta`, `AceptadaConErrores` or `Anulada`.
    pub estado: String,
    pub codigo_error: Option<String>,
    pub descripcion_error: Option<String>,
}

/// Reads the service's answer, by local names (whatever the prefixes).
pub fn parse_response(xml: &str) -> Result<Respuesta, XmlError> {
    let mut reader = Reader::from_str(xml);
    // Names of the open elements, innermost last.
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut answer = Answer::default();
    loop {
        let event = reader.read_event().map_err(|e| XmlError::Parse(e.to_string()))?;
        match event {
            Event::Start(start) => {
                let name = start.local_name().as_ref().to_owned();
                answer.open(&path, &name);
                path.push(name);
                text.clear();
            }
            Event::Empty(empty) => {
                let name = empty.local_name().as_ref().to_owned();
                answer.open(&path, &name);
                answer.close(&path, &name, "")?;
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(c) => text.push_str(&c.xml10_content()),
            Event::GeneralRef(r) => {
                if let Some(c) = r.resolve_char_ref().map_err(|e| XmlError::Parse(e.to_string()))? {
                    text.push(c);
                } else if let Some(s) = resolve_predefined_entity(&r) {
                    text.push_str(s);
                } else {
                    return Err(XmlError::Parse(format!("unknown entity &{};", &*r)));
                }
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                answer.close(&path, &name, text.trim())?;
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    answer.finish()
}

/// What has been read so far.
#[derive(Default)]
struct Answer {
    fault: Option<SoapFault>,
    in_respuesta: bool,
    csv: Option<String>,
    estado_envio: Option<EstadoEnvio>,
    tiempo_espera_envio: Option<u32>,
    lineas: Vec<RespuestaLinea>,
    linea: Option<LineaParts>,
}

/// A RespuestaLinea being read.
#[derive(Default)]
struct LineaParts {
    id_emisor_factura: String,
    num_serie_factura: String,
    fecha_expedicion_factura: String,
    tipo_operacion: String,
    estado_registro: Option<EstadoRegistro>,
    codigo_error: Option<String>,
    descripcion_error: Option<String>,
    duplicado: Option<RegistroDuplicado>,
}

impl Answer {
    /// An element `name` opens inside `path`.
    fn open(&mut self, path: &[String], name: &str) {
        let parent = path.last().map(String::as_str);
        match (parent, name) {
            (_, "Fault") => self.fault = Some(SoapFault { code: String::new(), message: String::new() }),
            (_, "RespuestaRegFactuSistemaFacturacion") => self.in_respuesta = true,
            (Some("RespuestaRegFactuSistemaFacturacion"), "RespuestaLinea") => self.linea = Some(LineaParts::default()),
            (Some("RespuestaLinea"), "RegistroDuplicado") => {
                if let Some(linea) = &mut self.linea {
                    linea.duplicado = Some(RegistroDuplicado::default());
                }
            }
            _ => {}
        }
    }

    /// The element `name`, child of the last of `path`, closes with `text`.
    fn close(&mut self, path: &[String], name: &str, text: &str) -> Result<(), XmlError> {
        let parent = path.last().map(String::as_str).unwrap_or_default();
        let value = || Some(text.to_owned()).filter(|t| !t.is_empty());
        match (parent, name) {
            // SOAP 1.1 (faultcode, faultstring) and, to be lenient, 1.2
            // (Code/Value, Reason/Text).
            ("Fault", "faultcode") | ("Code", "Value") => {
                if let Some(fault) = &mut self.fault {
                    fault.code = text.to_owned();
                }
            }
            ("Fault", "faultstring") | ("Reason", "Text") => {
                if let Some(fault) = &mut self.fault {
                    fault.message = text.to_owned();
                }
            }
            ("RespuestaRegFactuSistemaFacturacion", "CSV") => self.csv = value(),
            ("RespuestaRegFactuSistemaFacturacion", "EstadoEnvio") => {
                self.estado_envio = Some(match text {
                    "Correcto" => EstadoEnvio::Correcto,
                    "ParcialmenteCorrecto" => EstadoEnvio::ParcialmenteCorrecto,
                    "Incorrecto" => EstadoEnvio::Incorrecto,
                    other => return Err(XmlError::Unexpected(format!("EstadoEnvio {other:?}"))),
                });
            }
            ("RespuestaRegFactuSistemaFacturacion", "TiempoEsperaEnvio") => {
                self.tiempo_espera_envio = text.parse().ok();
            }
            ("RespuestaRegFactuSistemaFacturacion", "RespuestaLinea") => {
                if let Some(linea) = self.linea.take() {
                    self.lineas.push(linea.finish()?);
                }
            }
            _ => {
                if let Some(linea) = &mut self.linea {
                    linea.close(parent, name, text)?;
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<Respuesta, XmlError> {
        if let Some(fault) = self.fault {
            return Ok(Respuesta::Fault(fault));
        }
        if !self.in_respuesta {
            return Err(XmlError::Unexpected("neither RespuestaRegFactuSistemaFacturacion nor a SOAP Fault".into()));
        }
        let estado_envio = self.estado_envio.ok_or_else(|| XmlError::Unexpected("no EstadoEnvio".into()))?;
        Ok(Respuesta::Envio(RespuestaEnvio {
            csv: self.csv,
            estado_envio,
            tiempo_espera_envio: self.tiempo_espera_envio,
            lineas: self.lineas,
        }))
    }
}

impl LineaParts {
    fn close(&mut self, parent: &str, name: &str, text: &str) -> Result<(), XmlError> {
        let value = || Some(text.to_owned()).filter(|t| !t.is_empty());
        match (parent, name) {
            // IDFacturaExpedidaType; the Anulada names too, in case an
            // anulación's line echoes them.
            ("IDFactura", "IDEmisorFactura" | "IDEmisorFacturaAnulada") => self.id_emisor_factura = text.to_owned(),
            ("IDFactura", "NumSerieFactura" | "NumSerieFacturaAnulada") => self.num_serie_factura = text.to_owned(),
            ("IDFactura", "FechaExpedicionFactura" | "FechaExpedicionFacturaAnulada") => {
                self.fecha_expedicion_factura = text.to_owned();
            }
            ("Operacion", "TipoOperacion") => self.tipo_operacion = text.to_owned(),
            ("RespuestaLinea", "EstadoRegistro") => {
                self.estado_registro = Some(match text {
                    "Correcto" => EstadoRegistro::Correcto,
                    "AceptadoConErrores" => EstadoRegistro::AceptadoConErrores,
                    "Incorrecto" => EstadoRegistro::Incorrecto,
                    other => return Err(XmlError::Unexpected(format!("EstadoRegistro {other:?}"))),
                });
            }
            ("RespuestaLinea", "CodigoErrorRegistro") => self.codigo_error = value(),
            ("RespuestaLinea", "DescripcionErrorRegistro") => self.descripcion_error = value(),
            ("RegistroDuplicado", field) => {
                if let Some(duplicado) = &mut self.duplicado {
                    match field {
                        "IdPeticionRegistroDuplicado" => duplicado.id_peticion = text.to_owned(),
                        "EstadoRegistroDuplicado" => duplicado.estado = text.to_owned(),
                        "CodigoErrorRegistro" => duplicado.codigo_error = value(),
                        "DescripcionErrorRegistro" => duplicado.descripcion_error = value(),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(self) -> Result<RespuestaLinea, XmlError> {
        let estado_registro = self
            .estado_registro
            .ok_or_else(|| XmlError::Unexpected(format!("no EstadoRegistro for {:?}", self.num_serie_factura)))?;
        Ok(RespuestaLinea {
            id_factura: IdFactura {
                id_emisor_factura: self.id_emisor_factura,
                num_serie_factura: self.num_serie_factura,
                fecha_expedicion_factura: self.fecha_expedicion_factura,
            },
            tipo_operacion: self.tipo_operacion,
            estado_registro,
            codigo_error: self.codigo_error,
            descripcion_error: self.descripcion_error,
            duplicado: self.duplicado,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sistema() -> SistemaInformatico {
        SistemaInformatico {
            nombre_razon: "Plaza Software S.L.".into(),
            nif: "B12345674".into(),
            nombre_sistema_informatico: "Plaza".into(),
            id_sistema_informatico: "PZ".into(),
            version: "1.0.0".into(),
            numero_instalacion: "tenant-42".into(),
            tipo_uso_posible_solo_verifactu: true,
            tipo_uso_posible_multi_ot: true,
            indicador_multiples_ot: false,
        }
    }

    /// The invoice of the AEAT's huella example 6.1 ("Detalle de las
    /// especificaciones técnicas para generación de la huella o hash",
    /// v0.1.2), with a desglose that adds up to its totals.
    fn first_alta() -> RegistroAlta {
        RegistroAlta {
            id_factura: IdFactura {
                id_emisor_factura: "89890001K".into(),
                num_serie_factura: "12345678/G33".into(),
                fecha_expedicion_factura: "01-01-2024".into(),
            },
            nombre_razon_emisor: "Perez & <Hijos> S.L.".into(),
            tipo_factura: TipoFactura::F1,
            descripcion_operacion: "Venta de \"mercancías\" & servicios".into(),
            destinatarios: vec![Destinatario { nombre_razon: "Cliente <Uno> & Cía".into(), nif: "12345678Z".into() }],
            desglose: vec![DetalleDesglose::iva_general("10.00", "123.45", "12.35")],
            cuota_total: "12.35".into(),
            importe_total: "123.45".into(),
            encadenamiento: Encadenamiento::PrimerRegistro,
            sistema_informatico: sistema(),
            fecha_hora_huso_gen_registro: "2024-01-01T19:20:30+01:00".into(),
        }
    }

    /// The anulación of the huella document's example 6.3, chained to its
    /// example 6.2.
    fn anulacion() -> RegistroAnulacion {
        RegistroAnulacion {
            id_factura: IdFactura {
                id_emisor_factura: "89890001K".into(),
                num_serie_factura: "12345679/G34".into(),
                fecha_expedicion_factura: "01-01-2024".into(),
            },
            encadenamiento: Encadenamiento::RegistroAnterior {
                id_factura: IdFactura {
                    id_emisor_factura: "89890001K".into(),
                    num_serie_factura: "12345679/G34".into(),
                    fecha_expedicion_factura: "01-01-2024".into(),
                },
                huella: "F7B94CFD8924EDFF273501B01EE5153E4CE8F259766F88CF6ACB8935802A2B97".into(),
            },
            sistema_informatico: sistema(),
            fecha_hora_huso_gen_registro: "2024-01-01T19:20:40+01:00".into(),
        }
    }

    fn obligado() -> ObligadoEmision {
        ObligadoEmision { nombre_razon: "Perez & <Hijos> S.L.".into(), nif: "89890001K".into() }
    }

    /// A parsed element: its qualified name, its namespace (resolved from
    /// the declarations in scope), text, and children.
    #[derive(Debug)]
    struct Node {
        name: String,
        ns: String,
        text: String,
        children: Vec<Node>,
    }

    impl Node {
        fn child(&self, local: &str) -> &Node {
            self.children.iter().find(|c| c.local() == local).unwrap_or_else(|| panic!("no {local} in {}", self.name))
        }
        fn local(&self) -> &str {
            self.name.rsplit(':').next().unwrap()
        }
        fn at(&self, path: &[&str]) -> &Node {
            path.iter().fold(self, |node, local| node.child(local))
        }
        fn names(&self) -> Vec<&str> {
            self.children.iter().map(|c| c.local()).collect()
        }
    }

    /// Reads XML back with quick-xml's namespace-aware reader.
    fn parse(xml: &str) -> Node {
        use quick_xml::name::ResolveResult;
        let mut reader = quick_xml::NsReader::from_str(xml);
        let mut stack = vec![Node { name: String::new(), ns: String::new(), text: String::new(), children: vec![] }];
        loop {
            let (ns, event) = reader.read_resolved_event().unwrap();
            let ns = match ns {
                ResolveResult::Bound(ns) => ns.as_ref().to_owned(),
                _ => String::new(),
            };
            match event {
                Event::Start(s) => {
                    stack.push(Node { name: s.name().as_ref().to_owned(), ns, text: String::new(), children: vec![] })
                }
                Event::Empty(s) => stack.last_mut().unwrap().children.push(Node {
                    name: s.name().as_ref().to_owned(),
                    ns,
                    text: String::new(),
                    children: vec![],
                }),
                Event::Text(t) => stack.last_mut().unwrap().text.push_str(&t.xml10_content()),
                Event::GeneralRef(r) => {
                    stack.last_mut().unwrap().text.push_str(resolve_predefined_entity(&r).unwrap());
                }
                Event::End(_) => {
                    let node = stack.pop().unwrap();
                    stack.last_mut().unwrap().children.push(node);
                }
                Event::Eof => break,
                _ => {}
            }
        }
        let mut root = stack.pop().unwrap();
        assert!(stack.is_empty());
        root.children.pop().unwrap()
    }

    #[test]
    fn request_is_a_soap_envelope_with_the_aeat_namespaces() {
        let xml = request(&obligado(), &[Registro::Alta(first_alta())]).unwrap();
        assert!(xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?>"#));
        let envelope = parse(&xml);
        assert_eq!((envelope.local(), envelope.ns.as_str()), ("Envelope", NS_SOAP));
        assert_eq!(envelope.names(), ["Header", "Body"]);
        let root = envelope.at(&["Body", "RegFactuSistemaFacturacion"]);
        assert_eq!(root.ns, NS_SUMINISTRO_LR);
        assert_eq!(root.names(), ["Cabecera", "RegistroFactura"]);
        assert_eq!(root.child("Cabecera").ns, NS_SUMINISTRO_LR);
        assert_eq!(root.child("RegistroFactura").ns, NS_SUMINISTRO_LR);
        let obligado = root.at(&["Cabecera", "ObligadoEmision"]);
        assert_eq!(obligado.ns, NS_SUMINISTRO_INFORMACION);
        assert_eq!(obligado.child("NombreRazon").text, "Perez & <Hijos> S.L.");
        assert_eq!(obligado.child("NIF").text, "89890001K");
    }

    #[test]
    fn alta_has_the_schema_order_and_escaped_text() {
        let alta = first_alta();
        let xml = request(&obligado(), &[Registro::Alta(alta.clone())]).unwrap();
        // Escaped, never raw.
        assert!(xml.contains("Perez &amp; &lt;Hijos&gt; S.L."), "{xml}");
        assert!(!xml.contains("<Hijos>"));
        let envelope = parse(&xml);
        let registro = envelope.at(&["Body", "RegFactuSistemaFacturacion", "RegistroFactura", "RegistroAlta"]);
        assert_eq!(registro.ns, NS_SUMINISTRO_INFORMACION);
        assert_eq!(
            registro.names(),
            [
                "IDVersion",
                "IDFactura",
                "NombreRazonEmisor",
                "TipoFactura",
                "DescripcionOperacion",
                "Destinatarios",
                "Desglose",
                "CuotaTotal",
                "ImporteTotal",
                "Encadenamiento",
                "SistemaInformatico",
                "FechaHoraHusoGenRegistro",
                "TipoHuella",
                "Huella",
            ]
        );
        assert!(registro.children.iter().all(|c| c.ns == NS_SUMINISTRO_INFORMACION));
        assert_eq!(registro.child("IDVersion").text, "1.0");
        assert_eq!(
            registro.child("IDFactura").names(),
            ["IDEmisorFactura", "NumSerieFactura", "FechaExpedicionFactura"]
        );
        assert_eq!(registro.at(&["IDFactura", "NumSerieFactura"]).text, "12345678/G33");
        assert_eq!(registro.child("DescripcionOperacion").text, "Venta de \"mercancías\" & servicios");
        let destinatario = registro.at(&["Destinatarios", "IDDestinatario"]);
        assert_eq!(destinatario.names(), ["NombreRazon", "NIF"]);
        assert_eq!(destinatario.child("NombreRazon").text, "Cliente <Uno> & Cía");
        let detalle = registro.at(&["Desglose", "DetalleDesglose"]);
        assert_eq!(
            detalle.names(),
            [
                "Impuesto",
                "ClaveRegimen",
                "CalificacionOperacion",
                "TipoImpositivo",
                "BaseImponibleOimporteNoSujeto",
                "CuotaRepercutida"
            ]
        );
        assert_eq!(
            detalle.children.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(),
            ["01", "01", "S1", "10.00", "123.45", "12.35"]
        );
        assert_eq!(registro.child("Encadenamiento").names(), ["PrimerRegistro"]);
        assert_eq!(registro.at(&["Encadenamiento", "PrimerRegistro"]).text, "S");
        let sistema = registro.child("SistemaInformatico");
        assert_eq!(
            sistema.names(),
            [
                "NombreRazon",
                "NIF",
                "NombreSistemaInformatico",
                "IdSistemaInformatico",
                "Version",
                "NumeroInstalacion",
                "TipoUsoPosibleSoloVerifactu",
                "TipoUsoPosibleMultiOT",
                "IndicadorMultiplesOT",
            ]
        );
        assert_eq!(sistema.children[6..].iter().map(|c| c.text.as_str()).collect::<Vec<_>>(), ["S", "S", "N"]);
        assert_eq!(registro.child("TipoHuella").text, "01");
        // The huella of the AEAT's example 6.1: same invoice fields, first
        // record.
        assert_eq!(registro.child("Huella").text, "3C464DAF61ACB827C65FDA19F352A4E3BDC2C640E9E9FC4CC058073F38F12F60");
        assert_eq!(alta.huella(), registro.child("Huella").text);
    }

    #[test]
    fn chained_alta_and_anulacion_share_a_request() {
        let first = first_alta();
        // The AEAT's example 6.2: the next invoice, chained to the first.
        let second = RegistroAlta {
            id_factura: IdFactura { num_serie_factura: "12345679/G34".into(), ..first.id_factura.clone() },
            encadenamiento: Encadenamiento::RegistroAnterior {
                id_factura: first.id_factura.clone(),
                huella: first.huella(),
            },
            fecha_hora_huso_gen_registro: "2024-01-01T19:20:35+01:00".into(),
            destinatarios: vec![],
            tipo_factura: TipoFactura::F2,
            ..first.clone()
        };
        let registros = [Registro::Alta(first), Registro::Alta(second.clone()), Registro::Anulacion(anulacion())];
        let xml = request(&obligado(), &registros).unwrap();
        let envelope = parse(&xml);
        let root = envelope.at(&["Body", "RegFactuSistemaFacturacion"]);
        assert_eq!(root.names(), ["Cabecera", "RegistroFactura", "RegistroFactura", "RegistroFactura"]);
        let facturas = &root.children[1..];

        let alta = facturas[1].child("RegistroAlta");
        // No Destinatarios for the simplified invoice.
        assert!(!alta.names().contains(&"Destinatarios"));
        assert_eq!(alta.child("TipoFactura").text, "F2");
        let anterior = alta.at(&["Encadenamiento", "RegistroAnterior"]);
        assert_eq!(anterior.names(), ["IDEmisorFactura", "NumSerieFactura", "FechaExpedicionFactura", "Huella"]);
        assert_eq!(anterior.child("NumSerieFactura").text, "12345678/G33");
        assert_eq!(anterior.child("Huella").text, "3C464DAF61ACB827C65FDA19F352A4E3BDC2C640E9E9FC4CC058073F38F12F60");
        // F2 instead of F1 changes the hash of example 6.2...
        assert_ne!(alta.child("Huella").text, "F7B94CFD8924EDFF273501B01EE5153E4CE8F259766F88CF6ACB8935802A2B97");
        // ...and with F1 it is the AEAT's.
        assert_eq!(
            RegistroAlta { tipo_factura: TipoFactura::F1, ..second }.huella(),
            "F7B94CFD8924EDFF273501B01EE5153E4CE8F259766F88CF6ACB8935802A2B97"
        );

        let baja = facturas[2].child("RegistroAnulacion");
        assert_eq!(
            baja.names(),
            [
                "IDVersion",
                "IDFactura",
                "Encadenamiento",
                "SistemaInformatico",
                "FechaHoraHusoGenRegistro",
                "TipoHuella",
                "Huella"
            ]
        );
        assert_eq!(
            baja.child("IDFactura").names(),
            ["IDEmisorFacturaAnulada", "NumSerieFacturaAnulada", "FechaExpedicionFacturaAnulada"]
        );
        assert_eq!(
            baja.at(&["Encadenamiento", "RegistroAnterior", "Huella"]).text,
            "F7B94CFD8924EDFF273501B01EE5153E4CE8F259766F88CF6ACB8935802A2B97"
        );
        // The huella of the AEAT's example 6.3.
        assert_eq!(baja.child("Huella").text, "177547C0D57AC74748561D054A9CEC14B4C4EA23D1BEFD6F2E69E3A388F90C68");
    }

    #[test]
    fn request_rejects_what_the_schema_would() {
        assert_eq!(request(&obligado(), &[]), Err(XmlError::RegistroCount(0)));
        let many = vec![Registro::Anulacion(anulacion()); MAX_REGISTROS + 1];
        assert_eq!(request(&obligado(), &many), Err(XmlError::RegistroCount(1001)));
        assert!(request(&obligado(), &many[..MAX_REGISTROS]).is_ok());

        fn bad(change: impl FnOnce(&mut RegistroAlta)) -> Result<String, XmlError> {
            let mut alta = first_alta();
            change(&mut alta);
            request(&obligado(), &[Registro::Alta(alta)])
        }
        assert_eq!(
            bad(|a| a.importe_total = "123,45".into()),
            Err(XmlError::Invalid { field: "ImporteTotal", value: "123,45".into() })
        );
        assert!(matches!(bad(|a| a.cuota_total = "1.234".into()), Err(XmlError::Invalid { field: "CuotaTotal", .. })));
        assert!(matches!(bad(|a| a.cuota_total = "1234567890123".into()), Err(XmlError::Invalid { .. })));
        assert!(matches!(bad(|a| a.cuota_total = String::new()), Err(XmlError::Invalid { .. })));
        assert!(matches!(bad(|a| a.desglose.clear()), Err(XmlError::Invalid { field: "Desglose", .. })));
        assert!(matches!(
            bad(|a| a.desglose = vec![a.desglose[0].clone(); 13]),
            Err(XmlError::Invalid { field: "Desglose", .. })
        ));
        assert!(matches!(
            bad(|a| a.desglose[0].tipo_impositivo = "-21".into()),
            Err(XmlError::Invalid { field: "TipoImpositivo", .. })
        ));
        assert!(matches!(
            bad(|a| a.id_factura.fecha_expedicion_factura = "2024-01-01".into()),
            Err(XmlError::Invalid { field: "FechaExpedicionFactura", .. })
        ));
        assert!(matches!(
            bad(|a| a.id_factura.id_emisor_factura = "8989001K".into()),
            Err(XmlError::Invalid { field: "IDEmisorFactura", .. })
        ));
        assert!(matches!(
            bad(|a| a.id_factura.num_serie_factura = "x".repeat(61)),
            Err(XmlError::Invalid { field: "NumSerieFactura", .. })
        ));
        assert!(matches!(
            bad(|a| a.id_factura.num_serie_factura = String::new()),
            Err(XmlError::Invalid { field: "NumSerieFactura", .. })
        ));
        assert!(matches!(
            bad(|a| a.destinatarios[0].nif = "ES12345678Z".into()),
            Err(XmlError::Invalid { field: "IDDestinatario/NIF", .. })
        ));
        assert!(matches!(
            bad(|a| a.nombre_razon_emisor = "ñ".repeat(121)),
            Err(XmlError::Invalid { field: "NombreRazonEmisor", .. })
        ));
        assert!(bad(|a| a.nombre_razon_emisor = "ñ".repeat(120)).is_ok());
        assert!(matches!(
            bad(|a| a.desglose[0].impuesto = "04".into()),
            Err(XmlError::Invalid { field: "Impuesto", .. })
        ));
        assert!(matches!(
            bad(|a| a.desglose[0].calificacion_operacion = "E1".into()),
            Err(XmlError::Invalid { field: "CalificacionOperacion", .. })
        ));
        assert!(matches!(
            bad(|a| a.sistema_informatico.id_sistema_informatico = "PLZ".into()),
            Err(XmlError::Invalid { field: "IdSistemaInformatico", .. })
        ));
        for fecha_hora in
            ["2024-01-01T19:20:30", "2024-01-01T19:20:30Z", "2024-01-01 19:20:30+01:00", "2024-01-01T19:20:30.5+01:00"]
        {
            assert!(
                matches!(
                    bad(|a| a.fecha_hora_huso_gen_registro = fecha_hora.into()),
                    Err(XmlError::Invalid { field: "FechaHoraHusoGenRegistro", .. })
                ),
                "{fecha_hora}"
            );
        }
        let chained = |huella: &str, fecha: &str| {
            let mut baja = anulacion();
            if let Encadenamiento::RegistroAnterior { id_factura, huella: h } = &mut baja.encadenamiento {
                *h = huella.to_owned();
                id_factura.fecha_expedicion_factura = fecha.to_owned();
            }
            request(&obligado(), &[Registro::Anulacion(baja)])
        };
        assert!(matches!(chained("", "01-01-2024"), Err(XmlError::Invalid { field: "RegistroAnterior/Huella", .. })));
        assert!(matches!(
            chained(&"A".repeat(65), "01-01-2024"),
            Err(XmlError::Invalid { field: "RegistroAnterior/Huella", .. })
        ));
        assert!(matches!(
            chained("ABC", "1-1-2024"),
            Err(XmlError::Invalid { field: "RegistroAnterior/FechaExpedicionFactura", .. })
        ));
        let long_name = ObligadoEmision { nombre_razon: "x".repeat(121), ..obligado() };
        assert!(matches!(
            request(&long_name, &[Registro::Anulacion(anulacion())]),
            Err(XmlError::Invalid { field: "ObligadoEmision/NombreRazon", .. })
        ));
        // Accepted forms: negative, one decimal, no decimals.
        assert!(
            bad(|a| {
                a.cuota_total = "-12.3".into();
                a.importe_total = "+123".into();
            })
            .is_ok()
        );
    }

    // The answers below are the AEAT answers Odoo's VERI*FACTU module tests
    // with (github.com/odoo/odoo, addons/l10n_es_edi_verifactu/tests/responses/:
    // batch_single_accepted_registration.xml,
    // batch_single_registered_with_errors_registration.xml,
    // batch_single_rejected_registration.xml, soapfault.xml). The duplicate
    // is assembled from the fields of its
    // batch_single_duplicate_original_registered_with_errors.json in
    // RespuestaSuministro.xsd's element order, with character references
    // added.

    const ACCEPTED: &str = r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">
<env:Header/>
<env:Body Id="Body"><tikR:RespuestaRegFactuSistemaFacturacion xmlns:tik="https://www2.agenciatributaria.gob.es/static_files/common/internet/dep/aplicaciones/es/aeat/tike/cont/ws/SuministroInformacion.xsd" xmlns:tikR="https://www2.agenciatributaria.gob.es/static_files/common/internet/dep/aplicaciones/es/aeat/tike/cont/ws/RespuestaSuministro.xsd"><tikR:CSV>A-YDSW8NLFLANWPM</tikR:CSV><tikR:DatosPresentacion><tik:NIFPresentador>A39200019</tik:NIFPresentador><tik:TimestampPresentacion>2024-12-30T11:24:32+01:00</tik:TimestampPresentacion></tikR:DatosPresentacion><tikR:Cabecera><tik:ObligadoEmision><tik:NombreRazon>ES Company</tik:NombreRazon><tik:NIF>A39200019</tik:NIF></tik:ObligadoEmision></tikR:Cabecera><tikR:TiempoEsperaEnvio>60</tikR:TiempoEsperaEnvio><tikR:EstadoEnvio>Correcto</tikR:EstadoEnvio><tikR:RespuestaLinea><tikR:IDFactura><tik:IDEmisorFactura>A39200019</tik:IDEmisorFactura><tik:NumSerieFactura>INV/2024/00026</tik:NumSerieFactura><tik:FechaExpedicionFactura>30-12-2024</tik:FechaExpedicionFactura></tikR:IDFactura><tikR:Operacion><tik:TipoOperacion>Alta</tik:TipoOperacion><tik:Subsanacion>N</tik:Subsanacion></tikR:Operacion><tikR:EstadoRegistro>Correcto</tikR:EstadoRegistro></tikR:RespuestaLinea></tikR:RespuestaRegFactuSistemaFacturacion>
</env:Body></env:Envelope>
"#;

    const WITH_ERRORS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"> <env:Header/> <env:Body Id="Body"><tikR:RespuestaRegFactuSistemaFacturacion xmlns:tik="https://www2.agenciatributaria.gob.es/static_files/common/internet/dep/aplicaciones/es/aeat/tike/cont/ws/SuministroInformacion.xsd" xmlns:tikR="https://www2.agenciatributaria.gob.es/static_files/common/internet/dep/aplicaciones/es/aeat/tike/cont/ws/RespuestaSuministro.xsd"><tikR:CSV>A-X2CPJ3HE3AFADY</tikR:CSV><tikR:DatosPresentacion><tik:NIFPresentador>A39200019</tik:NIFPresentador><tik:TimestampPresentacion>2024-12-17T13:50:07+01:00</tik:TimestampPresentacion></tikR:DatosPresentacion><tikR:Cabecera><tik:ObligadoEmision><tik:NombreRazon>ES Company</tik:NombreRazon><tik:NIF>A39200019</tik:NIF></tik:ObligadoEmision></tikR:Cabecera><tikR:TiempoEsperaEnvio>60</tikR:TiempoEsperaEnvio><tikR:EstadoEnvio>ParcialmenteCorrecto</tikR:EstadoEnvio><tikR:RespuestaLinea><tikR:IDFactura><tik:IDEmisorFactura>A39200019</tik:IDEmisorFactura><tik:NumSerieFactura>INV/2024/00007</tik:NumSerieFactura><tik:FechaExpedicionFactura>17-12-2024</tik:FechaExpedicionFactura></tikR:IDFactura><tikR:Operacion><tik:TipoOperacion>Alta</tik:TipoOperacion></tikR:Operacion><tikR:EstadoRegistro>AceptadoConErrores</tikR:EstadoRegistro><tikR:CodigoErrorRegistro>2005</tikR:CodigoErrorRegistro><tikR:DescripcionErrorRegistro>El campo ImporteTotal tiene un valor incorrecto para el valor de los campos BaseImponibleOimporteNoSujeto, CuotaRepercutida y CuotaRecargoEquivalencia suministrados.</tikR:DescripcionErrorRegistro></tikR:RespuestaLinea></tikR:RespuestaRegFactuSistemaFacturacion> </env:Body></env:Envelope>
"#;

    const REJECTED: &str = r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"> <env:Header/> <env:Body Id="Body"><tikR:RespuestaRegFactuSistemaFacturacion xmlns:tik="https://www2.agenciatributaria.gob.es/static_files/common/internet/dep/aplicaciones/es/aeat/tike/cont/ws/SuministroInformacion.xsd" xmlns:tikR="https://www2.agenciatributaria.gob.es/static_files/common/internet/dep/aplicaciones/es/aeat/tike/cont/ws/RespuestaSuministro.xsd"><tikR:Cabecera><tik:ObligadoEmision><tik:NombreRazon>ES Company</tik:NombreRazon><tik:NIF>A39200019</tik:NIF></tik:ObligadoEmision></tikR:Cabecera><tikR:TiempoEsperaEnvio>60</tikR:TiempoEsperaEnvio><tikR:EstadoEnvio>Incorrecto</tikR:EstadoEnvio><tikR:RespuestaLinea><tikR:IDFactura><tik:IDEmisorFactura>A39200019</tik:IDEmisorFactura><tik:NumSerieFactura>INV/2024/00006</tik:NumSerieFactura><tik:FechaExpedicionFactura>11-12-2024</tik:FechaExpedicionFactura></tikR:IDFactura><tikR:Operacion><tik:TipoOperacion>Alta</tik:TipoOperacion></tikR:Operacion><tikR:EstadoRegistro>Incorrecto</tikR:EstadoRegistro><tikR:CodigoErrorRegistro>1244</tikR:CodigoErrorRegistro><tikR:DescripcionErrorRegistro>El campo FechaHoraHusoGenRegistro tiene un formato incorrecto.</tikR:DescripcionErrorRegistro></tikR:RespuestaLinea></tikR:RespuestaRegFactuSistemaFacturacion> </env:Body></env:Envelope>
"#;

    const DUPLICATE: &str = r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><tikR:RespuestaRegFactuSistemaFacturacion xmlns:tik="https://www2.agenciatributaria.gob.es/static_files/common/internet/dep/aplicaciones/es/aeat/tike/cont/ws/SuministroInformacion.xsd" xmlns:tikR="https://www2.agenciatributaria.gob.es/static_files/common/internet/dep/aplicaciones/es/aeat/tike/cont/ws/RespuestaSuministro.xsd"><tikR:TiempoEsperaEnvio>60</tikR:TiempoEsperaEnvio><tikR:EstadoEnvio>Incorrecto</tikR:EstadoEnvio><tikR:RespuestaLinea><tikR:IDFactura><tik:IDEmisorFactura>A39200019</tik:IDEmisorFactura><tik:NumSerieFactura>INV/2019/00006</tik:NumSerieFactura><tik:FechaExpedicionFactura>11-12-2024</tik:FechaExpedicionFactura></tikR:IDFactura><tikR:Operacion><tik:TipoOperacion>Alta</tik:TipoOperacion><tik:Subsanacion>N</tik:Subsanacion></tikR:Operacion><tikR:EstadoRegistro>Incorrecto</tikR:EstadoRegistro><tikR:CodigoErrorRegistro>3000</tikR:CodigoErrorRegistro><tikR:DescripcionErrorRegistro>Registro de facturaci&#243;n duplicado.</tikR:DescripcionErrorRegistro><tikR:RegistroDuplicado><tik:IdPeticionRegistroDuplicado>20241211085033954011</tik:IdPeticionRegistroDuplicado><tik:EstadoRegistroDuplicado>AceptadaConErrores</tik:EstadoRegistroDuplicado><tik:CodigoErrorRegistro>2005</tik:CodigoErrorRegistro><tik:DescripcionErrorRegistro>El campo ImporteTotal tiene un valor incorrecto &amp; m&#xE1;s.</tik:DescripcionErrorRegistro></tikR:RegistroDuplicado></tikR:RespuestaLinea></tikR:RespuestaRegFactuSistemaFacturacion></env:Body></env:Envelope>"#;

    const FAULT: &str = r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><env:Fault><faultcode>env:Client</faultcode><faultstring>Codigo[4102].El XML no cumple el esquema. Falta informar campo obligatorio.: NombreRazon</faultstring><detail><callstack>___ignore___</callstack></detail></env:Fault></env:Body></env:Envelope>
"#;

    fn envio(xml: &str) -> RespuestaEnvio {
        match parse_response(xml).unwrap() {
            Respuesta::Envio(envio) => envio,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_an_accepted_answer() {
        let envio = envio(ACCEPTED);
        assert_eq!(envio.csv.as_deref(), Some("A-YDSW8NLFLANWPM"));
        assert_eq!(envio.estado_envio, EstadoEnvio::Correcto);
        assert_eq!(envio.tiempo_espera_envio, Some(60));
        assert_eq!(
            envio.lineas,
            [RespuestaLinea {
                id_factura: IdFactura {
                    id_emisor_factura: "A39200019".into(),
                    num_serie_factura: "INV/2024/00026".into(),
                    fecha_expedicion_factura: "30-12-2024".into(),
                },
                tipo_operacion: "Alta".into(),
                estado_registro: EstadoRegistro::Correcto,
                codigo_error: None,
                descripcion_error: None,
                duplicado: None,
            }]
        );
    }

    #[test]
    fn parses_an_answer_with_errors() {
        let envio = envio(WITH_ERRORS);
        assert_eq!(envio.csv.as_deref(), Some("A-X2CPJ3HE3AFADY"));
        assert_eq!(envio.estado_envio, EstadoEnvio::ParcialmenteCorrecto);
        let linea = &envio.lineas[0];
        assert_eq!(linea.id_factura.num_serie_factura, "INV/2024/00007");
        assert_eq!(linea.estado_registro, EstadoRegistro::AceptadoConErrores);
        assert_eq!(linea.codigo_error.as_deref(), Some("2005"));
        assert!(
            linea.descripcion_error.as_deref().unwrap().starts_with("El campo ImporteTotal tiene un valor incorrecto")
        );
    }

    #[test]
    fn parses_a_rejection() {
        let envio = envio(REJECTED);
        assert_eq!(envio.csv, None);
        assert_eq!(envio.estado_envio, EstadoEnvio::Incorrecto);
        let linea = &envio.lineas[0];
        assert_eq!(linea.id_factura.num_serie_factura, "INV/2024/00006");
        assert_eq!(linea.id_factura.fecha_expedicion_factura, "11-12-2024");
        assert_eq!(linea.estado_registro, EstadoRegistro::Incorrecto);
        assert_eq!(linea.codigo_error.as_deref(), Some("1244"));
        assert_eq!(
            linea.descripcion_error.as_deref(),
            Some("El campo FechaHoraHusoGenRegistro tiene un formato incorrecto.")
        );
    }

    #[test]
    fn parses_a_duplicate_without_mixing_its_errors() {
        let linea = envio(DUPLICATE).lineas.remove(0);
        assert_eq!(linea.estado_registro, EstadoRegistro::Incorrecto);
        assert_eq!(linea.codigo_error.as_deref(), Some("3000"));
        assert_eq!(linea.descripcion_error.as_deref(), Some("Registro de facturación duplicado."));
        assert_eq!(
            linea.duplicado,
            Some(RegistroDuplicado {
                id_peticion: "20241211085033954011".into(),
                estado: "AceptadaConErrores".into(),
                codigo_error: Some("2005".into()),
                descripcion_error: Some("El campo ImporteTotal tiene un valor incorrecto & más.".into()),
            })
        );
    }

    #[test]
    fn parses_a_soap_fault() {
        assert_eq!(
            parse_response(FAULT).unwrap(),
            Respuesta::Fault(SoapFault {
                code: "env:Client".into(),
                message: "Codigo[4102].El XML no cumple el esquema. Falta informar campo obligatorio.: NombreRazon"
                    .into(),
            })
        );
    }

    #[test]
    fn several_lines_keep_their_order() {
        let line = |n: &str, estado: &str| {
            format!(
                "<r:RespuestaLinea><r:IDFactura><i:IDEmisorFactura>89890001K</i:IDEmisorFactura>\
                 <i:NumSerieFactura>{n}</i:NumSerieFactura><i:FechaExpedicionFactura>01-01-2024</i:FechaExpedicionFactura>\
                 </r:IDFactura><r:Operacion><i:TipoOperacion>Anulacion</i:TipoOperacion></r:Operacion>\
                 <r:EstadoRegistro>{estado}</r:EstadoRegistro></r:RespuestaLinea>"
            )
        };
        let xml = format!(
            "<s:Envelope xmlns:s='{NS_SOAP}' xmlns:r='urn:r' xmlns:i='urn:i'><s:Body><r:RespuestaRegFactuSistemaFacturacion>\
             <r:CSV>X</r:CSV><r:EstadoEnvio>ParcialmenteCorrecto</r:EstadoEnvio>{}{}</r:RespuestaRegFactuSistemaFacturacion></s:Body></s:Envelope>",
            line("A &amp; B", "Correcto"),
            line("<![CDATA[C<D]]>", "Incorrecto"),
        );
        let envio = envio(&xml);
        assert_eq!(envio.tiempo_espera_envio, None);
        let got: Vec<_> = envio
            .lineas
            .iter()
            .map(|l| (l.id_factura.num_serie_factura.as_str(), l.tipo_operacion.as_str(), l.estado_registro))
            .collect();
        assert_eq!(
            got,
            [("A & B", "Anulacion", EstadoRegistro::Correcto), ("C<D", "Anulacion", EstadoRegistro::Incorrecto)]
        );
    }

    #[test]
    fn rejects_what_is_not_an_answer() {
        assert!(matches!(parse_response("<a><b></a>"), Err(XmlError::Parse(_))));
        assert!(matches!(parse_response("<html><body>Forbidden</body></html>"), Err(XmlError::Unexpected(_))));
        assert!(matches!(
            parse_response(
                "<RespuestaRegFactuSistemaFacturacion><EstadoEnvio>Quizá</EstadoEnvio></RespuestaRegFactuSistemaFacturacion>"
            ),
            Err(XmlError::Unexpected(_))
        ));
        assert!(matches!(
            parse_response("<RespuestaRegFactuSistemaFacturacion><CSV>X</CSV></RespuestaRegFactuSistemaFacturacion>"),
            Err(XmlError::Unexpected(_))
        ));
    }
}
