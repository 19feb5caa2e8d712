//! The SRI's offline web services: the SOAP requests to send and the parsing of their answers.
//! Pure functions; the caller does the HTTP.
//!
//! Two SOAP 1.1 services, each with a test (celcer) and a production (cel) host:
//! - `RecepcionComprobantesOffline`, operation `validarComprobante(xml: base64Binary)`: receives a
//!   signed comprobante and answers RECIBIDA, or DEVUELTA with the reasons.
//! - `AutorizacionComprobantesOffline`, operation `autorizacionComprobante(claveAccesoComprobante)`:
//!   answers the authorizations of an access key: AUTORIZADO (with the authorised XML), NO
//!   AUTORIZADO (with the reasons), EN PROCESO, or none yet.
//!
//! Send each request with `POST`, `Content-Type: text/xml; charset=utf-8` and an empty
//! `SOAPAction: ""` (the services route by the body; other clients report that a non-empty
//! SOAPAction is refused). A SOAP Fault comes with HTTP 500: give its body to the parser anyway.
//!
//! Sources: the answers' structure is the services' WSDL, as the JAXB classes generated from it
//! in `joguenco/RoquiClientSri` show (`recepcion/ws/sri/gob/ec/RespuestaSolicitud.java`,
//! `Mensaje.java`; `autorizacion/ws/sri/gob/ec/RespuestaComprobante.java`, `Autorizacion.java`);
//! the URLs are the ones that project and other clients call; the sample answers in the tests follow those
//! quoted from the ficha técnica (§7.2.3: line breaks inside values, a nested
//! `<mensaje><mensaje>`, the old RECHAZADO state) and captured from celcer by other clients. The
//! requests follow the WSDL's document/literal form: the operation element in the service's
//! namespace, its parameter (`xml`, `claveAccesoComprobante`) unqualified.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use quick_xml::escape::{escape, resolve_xml_entity};
use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// The path of the reception service, on either host.
pub const RECEPTION_PATH: &str = "/comprobantes-electronicos-ws/RecepcionComprobantesOffline";
/// The path of the authorization service, on either host.
pub const AUTHORIZATION_PATH: &str = "/comprobantes-electronicos-ws/AutorizacionComprobantesOffline";
/// The SRI's hosts: pruebas (ambiente 1) and producción (ambiente 2); the
/// services are at the paths above on either.
pub const TESTING: &str = "https://celcer.sri.gob.ec";
pub const PRODUCTION: &str = "https://cel.sri.gob.ec";

/// The request that sends a signed comprobante (`validarComprobante`): its UTF-8 bytes, in base64.
pub fn reception_request(signed_xml: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ec="http://ec.gob.sri.ws.recepcion">"#,
            "<soapenv:Header/><soapenv:Body><ec:validarComprobante><xml>{}</xml></ec:validarComprobante>",
            "</soapenv:Body></soapenv:Envelope>",
        ),
        BASE64.encode(signed_xml.as_bytes())
    )
}

/// The request that asks for the authorizations of an access key (`autorizacionComprobante`).
pub fn authorization_request(access_key: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ec="http://ec.gob.sri.ws.autorizacion">"#,
            "<soapenv:Header/><soapenv:Body><ec:autorizacionComprobante>",
            "<claveAccesoComprobante>{}</claveAccesoComprobante></ec:autorizacionComprobante>",
            "</soapenv:Body></soapenv:Envelope>",
        ),
        escape(access_key)
    )
}

/// A message of the SRI (`mensaje`), trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `identificador`, the SRI's error number, e.g. "43".
    pub identifier: String,
    /// `mensaje`, e.g. "CLAVE ACCESO REGISTRADA".
    pub message: String,
    /// `informacionAdicional`, when present and not empty.
    pub additional_info: Option<String>,
    /// `tipo`: ERROR, ADVERTENCIA or INFORMATIVO, when present.
    pub kind: Option<String>,
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.identifier, self.message)?;
        if let Some(info) = &self.additional_info {
            write!(f, ": {info}")?;
        }
        Ok(())
    }
}

/// The SRI's message 43: the access key was already received. The comprobante is not lost: go on
/// to ask for its authorization (the first answer was lost, or the comprobante was sent twice).
pub const ALREADY_RECEIVED: &str = "43";

/// Whether a DEVUELTA answer only means that this access key was already received (message 43,
/// "CLAVE ACCESO REGISTRADA"), so the caller should ask for the authorization instead of failing.
pub fn already_received(messages: &[Message]) -> bool {
    messages.iter().any(|m| m.identifier == ALREADY_RECEIVED)
}

/// The answer of the reception service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reception {
    /// RECIBIDA: ask for the authorization next.
    Received,
    /// DEVUELTA: rejected, with the reasons (see [`already_received`]).
    Returned {
        /// The messages of every comprobante in the answer.
        messages: Vec<Message>,
    },
}

/// The answer of the authorization service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// AUTORIZADO. An authorization wins over any earlier rejection of the same key.
    Authorized {
        /// `numeroAutorizacion` (today the access key itself).
        number: String,
        /// `fechaAutorizacion`, as sent (xsd:dateTime, e.g. `2026-12-06T10:45:02-05:00`).
        date: String,
        /// `ambiente`, as sent: PRUEBAS or PRODUCCIÓN.
        environment: String,
        /// The authorised comprobante, the signed XML (what the buyer receives).
        comprobante_xml: String,
        /// Messages (usually none; sometimes warnings).
        messages: Vec<Message>,
    },
    /// NO AUTORIZADO (or the older RECHAZADO), with the reasons of the latest attempt.
    NotAuthorized {
        /// The messages.
        messages: Vec<Message>,
    },
    /// EN PROCESO, or no authorization yet (`numeroComprobantes` 0): ask again later. An access key
    /// that was never received also answers this way, so the caller bounds its retries.
    InProcess,
}

/// The "XML autorizado" of an authorized comprobante: the `autorizacion`
/// element as the SRI's answer carries it (state, number, date, ambiente and
/// the signed comprobante in CDATA), as its own document. It is the file a
/// buyer receives and the SRI's own tools open. A `]]>` inside the
/// comprobante (none in Plaza's) would end the CDATA; it is split across two
/// sections, which readers join back.
pub fn authorized_document(number: &str, date: &str, environment: &str, comprobante_xml: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><autorizacion><estado>AUTORIZADO</estado>\
         <numeroAutorizacion>{}</numeroAutorizacion><fechaAutorizacion>{}</fechaAutorizacion>\
         <ambiente>{}</ambiente><comprobante><![CDATA[{}]]></comprobante><mensajes/></autorizacion>",
        escape(number),
        escape(date),
        escape(environment),
        comprobante_xml.replace("]]>", "]]]]><![CDATA[>")
    )
}

/// An answer that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SriError {
    /// A SOAP Fault (e.g. an unmarshalling error of the request).
    Fault {
        /// `faultcode`.
        code: String,
        /// `faultstring`.
        message: String,
    },
    /// Not the expected XML (an HTML error page, a truncated answer …).
    Malformed(String),
    /// An `estado` this module does not know.
    UnknownState(String),
}

impl fmt::Display for SriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SriError::Fault { code, message } => write!(f, "the SRI answered a SOAP fault {code}: {message}"),
            SriError::Malformed(e) => write!(f, "unexpected answer from the SRI: {e}"),
            SriError::UnknownState(s) => write!(f, "unknown state {s:?} in the SRI's answer"),
        }
    }
}

impl std::error::Error for SriError {}

/// Parses the answer of `validarComprobante`.
pub fn parse_reception(body: &[u8]) -> Result<Reception, SriError> {
    let root = parse(body)?;
    let answer = soap_body(&root)?
        .find("RespuestaRecepcionComprobante")
        .ok_or_else(|| malformed("no RespuestaRecepcionComprobante"))?;
    let state = answer.child("estado").map(|e| e.text.trim()).ok_or_else(|| malformed("no estado"))?;
    let messages = answer
        .child("comprobantes")
        .into_iter()
        .flat_map(|c| c.children_named("comprobante"))
        .flat_map(messages)
        .collect();
    match state {
        "RECIBIDA" => Ok(Reception::Received),
        "DEVUELTA" => Ok(Reception::Returned { messages }),
        other => Err(SriError::UnknownState(other.to_owned())),
    }
}

/// Parses the answer of `autorizacionComprobante`.
pub fn parse_authorization(body: &[u8]) -> Result<Authorization, SriError> {
    let root = parse(body)?;
    let answer = soap_body(&root)?
        .find("RespuestaAutorizacionComprobante")
        .ok_or_else(|| malformed("no RespuestaAutorizacionComprobante"))?;
    let autorizaciones: Vec<&Node> =
        answer.child("autorizaciones").into_iter().flat_map(|a| a.children_named("autorizacion")).collect();
    let state = |a: &Node| a.child("estado").map(|e| e.text.trim().to_owned()).unwrap_or_default();
    let field = |a: &Node, name: &str| a.child(name).map(|e| e.text.trim().to_owned()).unwrap_or_default();

    if let Some(a) = autorizaciones.iter().find(|a| state(a) == "AUTORIZADO") {
        let number = field(a, "numeroAutorizacion");
        let comprobante_xml = field(a, "comprobante");
        if number.is_empty() || comprobante_xml.is_empty() {
            return Err(malformed("AUTORIZADO without numeroAutorizacion or comprobante"));
        }
        return Ok(Authorization::Authorized {
            number,
            date: field(a, "fechaAutorizacion"),
            environment: field(a, "ambiente"),
            comprobante_xml,
            messages: messages(a).collect(),
        });
    }
    if autorizaciones.is_empty() || autorizaciones.iter().any(|a| state(a).starts_with("EN PROCES")) {
        return Ok(Authorization::InProcess);
    }
    if let Some(a) = autorizaciones.iter().find(|a| !matches!(state(a).as_str(), "NO AUTORIZADO" | "RECHAZADO")) {
        return Err(SriError::UnknownState(state(a)));
    }
    // Every attempt was refused: the latest one's reasons are the ones that matter.
    let latest = autorizaciones
        .iter()
        .max_by_key(|a| field(a, "fechaAutorizacion").parse::<jiff::Timestamp>().ok())
        .ok_or_else(|| malformed("no autorizacion"))?;
    Ok(Authorization::NotAuthorized { messages: messages(latest).collect() })
}

fn malformed(what: impl Into<String>) -> SriError {
    SriError::Malformed(what.into())
}

/// The `mensajes/mensaje` of a `comprobante` or `autorizacion`.
fn messages(parent: &Node) -> impl Iterator<Item = Message> + '_ {
    parent.child("mensajes").into_iter().flat_map(|m| m.children_named("mensaje")).map(|m| {
        let text = |name: &str| m.child(name).map(|e| e.text.trim().to_owned()).unwrap_or_default();
        let optional = |name: &str| Some(text(name)).filter(|s| !s.is_empty());
        Message {
            identifier: text("identificador"),
            message: text("mensaje"),
            additional_info: optional("informacionAdicional"),
            kind: optional("tipo"),
        }
    })
}

/// The SOAP Body's content, or the Fault it carries as an error.
fn soap_body(root: &Node) -> Result<&Node, SriError> {
    if root.name != "Envelope" {
        return Err(malformed(format!("root element {} instead of a SOAP Envelope", root.name)));
    }
    let body = root.child("Body").ok_or_else(|| malformed("no SOAP Body"))?;
    if let Some(fault) = body.child("Fault") {
        let text = |name: &str| fault.find(name).map(|e| e.text.trim().to_owned()).unwrap_or_default();
        // SOAP 1.1 has faultcode/faultstring; SOAP 1.2 Code/Value and Reason/Text.
        let code = Some(text("faultcode")).filter(|s| !s.is_empty()).unwrap_or_else(|| text("Value"));
        let message = Some(text("faultstring")).filter(|s| !s.is_empty()).unwrap_or_else(|| text("Text"));
        return Err(SriError::Fault { code, message });
    }
    Ok(body)
}

/// An element: its local name (without prefix), its text (all text children, CDATA included,
/// concatenated and unescaped) and its child elements. The answers are small and their shape
/// varies (whitespace, prefixes, CDATA or escaped text): a tree is the simplest to read them.
#[derive(Debug, Default)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The first descendant (or self) named `name`, depth first.
    fn find(&self, name: &str) -> Option<&Node> {
        let mut stack = vec![self];
        while let Some(n) = stack.pop() {
            if n.name == name {
                return Some(n);
            }
            stack.extend(n.children.iter().rev());
        }
        None
    }
}

/// Deeper than any answer of the SRI: a bound against hostile input.
const MAX_DEPTH: usize = 32;

fn parse(body: &[u8]) -> Result<Node, SriError> {
    let text = std::str::from_utf8(body).map_err(|e| malformed(format!("not UTF-8: {e}")))?;
    let mut reader = Reader::from_str(text.strip_prefix('\u{feff}').unwrap_or(text));
    reader.config_mut().expand_empty_elements = true;
    let mut stack: Vec<Node> = Vec::new();
    let bad = |e: quick_xml::Error| malformed(format!("not XML: {e}"));
    loop {
        match reader.read_event().map_err(bad)? {
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(malformed("nested too deeply"));
                }
                let name = e.local_name().as_ref().to_owned();
                stack.push(Node { name, ..Node::default() });
            }
            Event::End(_) => {
                let node = stack.pop().ok_or_else(|| malformed("unbalanced tags"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Ok(node),
                }
            }
            Event::Text(t) => {
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().map_err(bad)? {
                    Some(c) => c.to_string(),
                    None => {
                        resolve_xml_entity(&r).ok_or_else(|| malformed(format!("unknown entity &{};", &*r)))?.to_owned()
                    }
                };
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&c);
                }
            }
            Event::Eof => return Err(malformed(if stack.is_empty() { "empty answer" } else { "truncated answer" })),
            Event::Empty(_) | Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(inner: &str) -> Vec<u8> {
        format!(
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>{inner}</soap:Body></soap:Envelope>"#
        )
        .into_bytes()
    }

    #[test]
    fn requests() {
        let r = reception_request("<factura>ñ</factura>");
        assert!(r.contains(r#"xmlns:ec="http://ec.gob.sri.ws.recepcion""#));
        assert!(r.contains(&format!(
            "<ec:validarComprobante><xml>{}</xml></ec:validarComprobante>",
            BASE64.encode("<factura>ñ</factura>".as_bytes())
        )));
        let a = authorization_request("0612202601099234567800110010010000000011234567817");
        assert!(a.contains(r#"xmlns:ec="http://ec.gob.sri.ws.autorizacion""#));
        assert!(a.contains("<ec:autorizacionComprobante><claveAccesoComprobante>0612202601099234567800110010010000000011234567817</claveAccesoComprobante></ec:autorizacionComprobante>"));
    }

    #[test]
    fn received() {
        // As celcer answers it: an empty comprobantes.
        let body = envelope(
            r#"<ns2:validarComprobanteResponse xmlns:ns2="http://ec.gob.sri.ws.recepcion"><RespuestaRecepcionComprobante><estado>RECIBIDA</estado><comprobantes/></RespuestaRecepcionComprobante></ns2:validarComprobanteResponse>"#,
        );
        assert_eq!(parse_reception(&body), Ok(Reception::Received));
    }

    #[test]
    fn returned_as_the_ficha_shows_it() {
        let body = "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\n<soap:Body>\n<ns2:validarComprobanteResponse xmlns:ns2=\"http://ec.gob.sri.ws.recepcion\">\n<RespuestaRecepcionComprobante>\n<estado>DEVUELTA</estado>\n<comprobantes><comprobante>\n<claveAcceso>1702201205176001321000110010030001000011234567816</claveAcceso>\n<mensajes><mensaje>\n<identificador>35</identificador>\n<mensaje>DOCUMENTO INVÁLIDO</mensaje>\n<informacionAdicional>Se encontró el siguiente error en la estructura del comprobante: cvc-\ncomplex-type.2.4.a: Invalid content was found starting with element 'totalSinImpuestos'.</informacionAdicional>\n<tipo>ERROR</tipo>\n</mensaje></mensajes>\n</comprobante></comprobantes>\n</RespuestaRecepcionComprobante>\n</ns2:validarComprobanteResponse>\n</soap:Body>\n</soap:Envelope>";
        let Ok(Reception::Returned { messages }) = parse_reception(body.as_bytes()) else { panic!() };
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].identifier, "35");
        assert_eq!(messages[0].message, "DOCUMENTO INVÁLIDO");
        assert!(messages[0].additional_info.as_deref().unwrap().starts_with("Se encontró el siguiente error"));
        assert_eq!(messages[0].kind.as_deref(), Some("ERROR"));
        assert!(!already_received(&messages));
    }

    #[test]
    fn returned_because_already_received() {
        let body = envelope(concat!(
            r#"<ns2:validarComprobanteResponse xmlns:ns2="http://ec.gob.sri.ws.recepcion"><RespuestaRecepcionComprobante>"#,
            "<estado>DEVUELTA</estado><comprobantes><comprobante>",
            "<claveAcceso>0612202601099234567800110010010000000011234567817</claveAcceso><mensajes><mensaje>",
            "<identificador>43</identificador><mensaje>CLAVE ACCESO REGISTRADA</mensaje><tipo>ERROR</tipo>",
            "</mensaje></mensajes></comprobante></comprobantes></RespuestaRecepcionComprobante>",
            "</ns2:validarComprobanteResponse>",
        ));
        let Ok(Reception::Returned { messages }) = parse_reception(&body) else { panic!() };
        assert_eq!(messages[0].additional_info, None);
        assert_eq!(messages[0].to_string(), "[43] CLAVE ACCESO REGISTRADA");
        assert!(already_received(&messages));
    }

    #[test]
    fn authorized_with_cdata_or_escaped_comprobante() {
        let signed = r#"<?xml version="1.0" encoding="UTF-8"?><factura id="comprobante" version="1.1.0"><infoTributaria><razonSocial>A &amp; B</razonSocial></infoTributaria></factura>"#;
        let answer = |comprobante: &str| {
            envelope(&format!(
                concat!(
                    r#"<ns2:autorizacionComprobanteResponse xmlns:ns2="http://ec.gob.sri.ws.autorizacion">"#,
                    "<RespuestaAutorizacionComprobante><claveAccesoConsultada>0612202601099234567800110010010000000011234567817</claveAccesoConsultada>",
                    "<numeroComprobantes>2</numeroComprobantes><autorizaciones>",
                    "<autorizacion><estado>NO AUTORIZADO</estado><fechaAutorizacion>2026-12-06T10:40:00-05:00</fechaAutorizacion>",
                    "<ambiente>PRUEBAS</ambiente><comprobante><![CDATA[<factura/>]]></comprobante><mensajes><mensaje>",
                    "<identificador>39</identificador><mensaje>FIRMA INVALIDA</mensaje><tipo>ERROR</tipo></mensaje></mensajes></autorizacion>",
                    "<autorizacion><estado>AUTORIZADO</estado><numeroAutorizacion>0612202601099234567800110010010000000011234567817</numeroAutorizacion>",
                    "<fechaAutorizacion>2026-12-06T10:45:02-05:00</fechaAutorizacion><ambiente>PRUEBAS</ambiente>",
                    "<comprobante>{}</comprobante><mensajes/></autorizacion>",
                    "</autorizaciones></RespuestaAutorizacionComprobante></ns2:autorizacionComprobanteResponse>",
                ),
                comprobante
            ))
        };
        let expected = Authorization::Authorized {
            number: "0612202601099234567800110010010000000011234567817".into(),
            date: "2026-12-06T10:45:02-05:00".into(),
            environment: "PRUEBAS".into(),
            comprobante_xml: signed.into(),
            messages: vec![],
        };
        assert_eq!(parse_authorization(&answer(&format!("<![CDATA[{signed}]]>"))), Ok(expected.clone()));
        let escaped = quick_xml::escape::escape(signed);
        assert_eq!(parse_authorization(&answer(&escaped)), Ok(expected));
    }

    #[test]
    fn not_authorized_as_the_ficha_shows_it() {
        let body = "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\n<soap:Body>\n<ns2:autorizacionComprobanteResponse\nxmlns:ns2=\"http://ec.gob.sri.ws.autorizacion\">\n<RespuestaAutorizacionComprobante>\n<claveAccesoConsultada>\n1302201201176001321000120010030000050431234567814\n</claveAccesoConsultada>\n<numeroComprobantes>1</numeroComprobantes>\n<autorizaciones><autorizacion>\n<estado>RECHAZADO</estado>\n<fechaAutorizacion>2012-02-13T16:34:48.997-05:00</fechaAutorizacion>\n<ambiente>PRUEBAS</ambiente>\n<comprobante><![CDATA[<?xml version=\"1.0\" encoding=\"UTF-8\"?><factura id=\"comprobante\" version=\"1.0.0\"></factura>]]></comprobante>\n<mensajes><mensaje>\n<identificador>46</identificador>\n<mensaje> RUC no existe </mensaje>\n<tipo>ERROR</tipo>\n</mensaje></mensajes>\n</autorizacion></autorizaciones>\n</RespuestaAutorizacionComprobante>\n</ns2:autorizacionComprobanteResponse>\n</soap:Body>\n</soap:Envelope>";
        let Ok(Authorization::NotAuthorized { messages }) = parse_authorization(body.as_bytes()) else { panic!() };
        assert_eq!((messages[0].identifier.as_str(), messages[0].message.as_str()), ("46", "RUC no existe"));
    }

    #[test]
    fn the_latest_refusal_counts() {
        let refusal = |date: &str, id: &str| {
            format!(
                "<autorizacion><estado>NO AUTORIZADO</estado><fechaAutorizacion>{date}</fechaAutorizacion><mensajes><mensaje><identificador>{id}</identificador><mensaje>x</mensaje><tipo>ERROR</tipo></mensaje></mensajes></autorizacion>"
            )
        };
        let body = envelope(&format!(
            "<ns2:autorizacionComprobanteResponse xmlns:ns2=\"http://ec.gob.sri.ws.autorizacion\"><RespuestaAutorizacionComprobante><numeroComprobantes>3</numeroComprobantes><autorizaciones>{}{}{}</autorizaciones></RespuestaAutorizacionComprobante></ns2:autorizacionComprobanteResponse>",
            refusal("2026-12-06T10:00:00-05:00", "1"),
            refusal("2026-12-06T12:00:00-05:00", "2"),
            refusal("2026-12-06T11:00:00-05:00", "3"),
        ));
        let Ok(Authorization::NotAuthorized { messages }) = parse_authorization(&body) else { panic!() };
        assert_eq!(messages[0].identifier, "2");
    }

    #[test]
    fn in_process() {
        // Captured from the SRI by another client (an EN PROCESO with nothing else).
        let body = br#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><ns2:autorizacionComprobanteResponse xmlns:ns2="http://ec.gob.sri.ws.autorizacion"><RespuestaAutorizacionComprobante><claveAccesoConsultada>1006202101176000066000111730030000115031234567810</claveAccesoConsultada><autorizaciones><autorizacion><estado>EN PROCESO</estado></autorizacion></autorizaciones></RespuestaAutorizacionComprobante></ns2:autorizacionComprobanteResponse></soap:Body></soap:Envelope>"#;
        assert_eq!(parse_authorization(body), Ok(Authorization::InProcess));
        let none = envelope(
            r#"<ns2:autorizacionComprobanteResponse xmlns:ns2="http://ec.gob.sri.ws.autorizacion"><RespuestaAutorizacionComprobante><claveAccesoConsultada>1609202601176001321000110010010000001231234567813</claveAccesoConsultada><numeroComprobantes>0</numeroComprobantes><autorizaciones/></RespuestaAutorizacionComprobante></ns2:autorizacionComprobanteResponse>"#,
        );
        assert_eq!(parse_authorization(&none), Ok(Authorization::InProcess));
    }

    #[test]
    fn faults_and_garbage() {
        let fault = envelope(
            "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>Unmarshalling Error: x</faultstring></soap:Fault>",
        );
        let expected = SriError::Fault { code: "soap:Client".into(), message: "Unmarshalling Error: x".into() };
        assert_eq!(parse_reception(&fault), Err(expected.clone()));
        assert_eq!(parse_authorization(&fault), Err(expected));
        assert!(matches!(
            parse_reception(b"<html><title>Request Rejected</title></html>"),
            Err(SriError::Malformed(_))
        ));
        assert!(matches!(parse_authorization(b"no es xml <"), Err(SriError::Malformed(_))));
        assert!(matches!(parse_reception(b""), Err(SriError::Malformed(_))));
        assert!(matches!(parse_reception(&envelope("<x>")), Err(SriError::Malformed(_))));
        let deep = envelope(&"<a>".repeat(100));
        assert!(matches!(parse_reception(&deep), Err(SriError::Malformed(_))));
        let odd = envelope(
            "<r:validarComprobanteResponse xmlns:r=\"http://ec.gob.sri.ws.recepcion\"><RespuestaRecepcionComprobante><estado>OTRA</estado></RespuestaRecepcionComprobante></r:validarComprobanteResponse>",
        );
        assert_eq!(parse_reception(&odd), Err(SriError::UnknownState("OTRA".into())));
    }

    #[test]
    fn the_authorized_document_carries_the_comprobante_as_received() {
        let comprobante = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><factura id=\"comprobante\">a ]]> b</factura>";
        let doc = authorized_document("0712", "2026-12-07T10:15:30-05:00", "PRUEBAS", comprobante);
        assert!(doc.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><autorizacion><estado>AUTORIZADO</estado>"));
        // Read back, the CDATA sections join into the comprobante, byte for byte.
        let mut reader = quick_xml::Reader::from_str(&doc);
        let mut text = String::new();
        loop {
            match reader.read_event().unwrap() {
                Event::CData(c) => text.push_str(&c.into_inner()),
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(text, comprobante);
    }
}
