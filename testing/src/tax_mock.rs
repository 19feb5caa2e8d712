//! A stand-in for the tax authorities the `einvoicing` module talks to,
//! on loopback: Ecuador's SRI offline web services (reception and
//! authorization, SOAP) and Spain's VeriFactu service (AEAT). The one part
//! of the einvoicing tests that is not real, because the real services
//! cannot be reached from a test (and must not receive test documents).
//!
//! Each service answers what the test sets: every outcome the module must
//! handle, including being down. Like the real SRI, it refuses a clave it
//! has already received (message 43, "CLAVE ACCESO REGISTRADA") and
//! authorizes only claves it received. Everything it was sent is kept for
//! the test to inspect (the signed comprobantes, decoded).
//!
//! `cargo xtask dev` runs it as `plaza-tax-mock` for the demo tenant.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use poem::http::StatusCode;
use poem::listener::{Acceptor, TcpAcceptor};
use poem::{Body, EndpointExt, Request, Response, Route, Server, handler, post};

/// Where SRI's services are, below the mock's URL (as on the SRI's hosts).
pub const SRI_RECEPTION: &str = "/comprobantes-electronicos-ws/RecepcionComprobantesOffline";
pub const SRI_AUTHORIZATION: &str = "/comprobantes-electronicos-ws/AutorizacionComprobantesOffline";
/// Where the VeriFactu service is, below the mock's URL.
pub const AEAT_VERIFACTU: &str = "/wlpl/TIKE-CONT/ws/SistemaFacturacion/VerifactuSOAP";

/// How the SRI's reception answers a new clave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reception {
    /// `RECIBIDA`.
    Received,
    /// `DEVUELTA` with an error message (35, the XML does not follow the schema).
    Returned,
    /// HTTP 503, as when the service is down.
    Down,
    /// Takes the comprobante, then fails with HTTP 503 before answering:
    /// the answer is lost, and a second send is told "CLAVE ACCESO REGISTRADA".
    LostAnswer,
}

/// How the SRI's authorization answers a received clave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorization {
    /// `AUTORIZADO`, with the clave as the authorization number.
    Authorized,
    /// `NO AUTORIZADO` with an error message.
    NotAuthorized,
    /// No authorization yet (`numeroComprobantes` 0): still in process.
    InProcess,
    /// HTTP 503.
    Down,
    /// Answers `AUTORIZADO`, but only after 30 seconds: longer than a
    /// module call may last.
    Slow,
}

/// How the AEAT answers a VeriFactu submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aeat {
    /// `Correcto`.
    Correct,
    /// `AceptadoConErrores`, with a warning code.
    AcceptedWithErrors,
    /// `Incorrecto`, with an error code.
    Incorrect,
    /// A SOAP Fault (the request refused as a whole).
    Fault,
    /// HTTP 503.
    Down,
}

/// A comprobante the SRI mock received.
#[derive(Debug, Clone)]
pub struct Received {
    pub access_key: String,
    /// The signed XML, decoded from the SOAP request.
    pub xml: String,
}

struct State {
    reception: Reception,
    authorization: Authorization,
    aeat: Aeat,
    received: Vec<Received>,
    keys: HashSet<String>,
    authorization_requests: Vec<String>,
    aeat_requests: Vec<String>,
}

/// The running mock; dropped, it keeps serving until the runtime ends.
#[derive(Clone)]
pub struct TaxMock {
    state: Arc<Mutex<State>>,
    url: String,
}

impl TaxMock {
    /// Starts the mock on a free loopback port: SRI received + authorized,
    /// AEAT correct.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0").await
    }

    /// Starts the mock on `addr` (e.g. `127.0.0.1:8089`).
    pub async fn start_on(addr: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let acceptor = TcpAcceptor::from_tokio(listener)?;
        let port = acceptor.local_addr().first().and_then(|a| a.as_socket_addr().map(|s| s.port())).unwrap_or(0);
        let state = Arc::new(Mutex::new(State {
            reception: Reception::Received,
            authorization: Authorization::Authorized,
            aeat: Aeat::Correct,
            received: Vec::new(),
            keys: HashSet::new(),
            authorization_requests: Vec::new(),
            aeat_requests: Vec::new(),
        }));
        let app = Route::new()
            .at(SRI_RECEPTION, post(reception))
            .at(SRI_AUTHORIZATION, post(authorization))
            .at(AEAT_VERIFACTU, post(verifactu))
            .data(Arc::clone(&state));
        tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(app).await;
        });
        Ok(Self { state, url: format!("http://127.0.0.1:{port}") })
    }

    /// The mock's base URL: the SRI's services and the AEAT's are below it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of its VeriFactu service.
    pub fn aeat_url(&self) -> String {
        format!("{}{AEAT_VERIFACTU}", self.url)
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn set_reception(&self, r: Reception) {
        self.with(|s| s.reception = r);
    }

    pub fn set_authorization(&self, a: Authorization) {
        self.with(|s| s.authorization = a);
    }

    pub fn set_aeat(&self, a: Aeat) {
        self.with(|s| s.aeat = a);
    }

    /// Every comprobante received (accepted or not), in order.
    pub fn received(&self) -> Vec<Received> {
        self.with(|s| s.received.clone())
    }

    /// The claves whose authorization was asked, in order.
    pub fn authorization_requests(&self) -> Vec<String> {
        self.with(|s| s.authorization_requests.clone())
    }

    /// Every VeriFactu submission's XML, in order.
    pub fn aeat_requests(&self) -> Vec<String> {
        self.with(|s| s.aeat_requests.clone())
    }
}

/// Whether Debian's `xmlsec1 --verify` accepts the XAdES signature of a
/// signed comprobante (`factura` or `notaCredito`, Id `comprobante`) with
/// `trusted_cert_pem` as the trusted certificate: the check the SRI's own
/// validator makes. Fails when `xmlsec1` cannot be run.
pub fn xmlsec1_verifies(signed_xml: &str, trusted_cert_pem: &str) -> std::io::Result<bool> {
    let dir = tempfile::tempdir()?;
    let (doc, cert) = (dir.path().join("signed.xml"), dir.path().join("cert.pem"));
    std::fs::write(&doc, signed_xml)?;
    std::fs::write(&cert, trusted_cert_pem)?;
    let out = std::process::Command::new("xmlsec1")
        .args(["--verify", "--trusted-pem"])
        .arg(&cert)
        .args(["--enabled-key-data", "x509", "--id-attr:id", "factura", "--id-attr:id", "notaCredito"])
        .arg(&doc)
        .output()
        .map_err(|e| std::io::Error::other(format!("cannot run xmlsec1 (Debian's xmlsec1 package): {e}")))?;
    Ok(out.status.success())
}

/// The text of the first `<name>…</name>` (any prefix) in `xml`.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = xml.find(&format!(":{name}>")).or_else(|| xml.find(&format!("<{name}>")))?;
    let start = xml[open..].find('>')? + open + 1;
    let end = xml[start..].find("</")? + start;
    Some(&xml[start..end])
}

fn soap(body: &str) -> Response {
    Response::builder().content_type("text/xml; charset=utf-8").body(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope \
             xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>{body}</soap:Body></soap:Envelope>"
    ))
}

fn down() -> Response {
    Response::builder().status(StatusCode::SERVICE_UNAVAILABLE).body("Service Unavailable")
}

fn mensaje(id: &str, text: &str, extra: &str) -> String {
    format!(
        "<mensaje><identificador>{id}</identificador><mensaje>{text}</mensaje>\
         <informacionAdicional>{extra}</informacionAdicional><tipo>ERROR</tipo></mensaje>"
    )
}

fn reception_answer(estado: &str, key: &str, mensajes: &str) -> Response {
    let comprobantes = if mensajes.is_empty() {
        "<comprobantes/>".to_owned()
    } else {
        format!(
            "<comprobantes><comprobante><claveAcceso>{key}</claveAcceso><mensajes>{mensajes}</mensajes></comprobante></comprobantes>"
        )
    };
    soap(&format!(
        "<ns2:validarComprobanteResponse xmlns:ns2=\"http://ec.gob.sri.ws.recepcion\"><RespuestaRecepcionComprobante>\
         <estado>{estado}</estado>{comprobantes}</RespuestaRecepcionComprobante></ns2:validarComprobanteResponse>"
    ))
}

#[handler]
async fn reception(req: &Request, body: Body) -> Response {
    let state = req.data::<Arc<Mutex<State>>>().cloned();
    let Some(state) = state else { return down() };
    let text = body.into_string().await.unwrap_or_default();
    let xml = element(&text, "xml")
        .and_then(|b64| base64_decode(b64.trim()))
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default();
    let key = element(&xml, "claveAcceso").unwrap_or_default().to_owned();
    let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
    if s.reception == Reception::Down {
        return down();
    }
    s.received.push(Received { access_key: key.clone(), xml });
    if s.keys.contains(&key) {
        return reception_answer("DEVUELTA", &key, &mensaje("43", "CLAVE ACCESO REGISTRADA", &key));
    }
    match s.reception {
        Reception::Returned => reception_answer(
            "DEVUELTA",
            &key,
            &mensaje("35", "ARCHIVO NO CUMPLE ESTRUCTURA XML", "Se encontró en el archivo errores de estructura"),
        ),
        Reception::LostAnswer => {
            s.keys.insert(key);
            down()
        }
        _ => {
            s.keys.insert(key.clone());
            reception_answer("RECIBIDA", &key, "")
        }
    }
}

#[handler]
async fn authorization(req: &Request, body: Body) -> Response {
    let Some(state) = req.data::<Arc<Mutex<State>>>().cloned() else { return down() };
    let text = body.into_string().await.unwrap_or_default();
    let key = element(&text, "claveAccesoComprobante").unwrap_or_default().to_owned();
    let slow = state.lock().unwrap_or_else(PoisonError::into_inner).authorization == Authorization::Slow;
    if slow {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    }
    let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
    if s.authorization == Authorization::Down {
        return down();
    }
    s.authorization_requests.push(key.clone());
    let known = s.keys.contains(&key);
    let xml = s.received.iter().rev().find(|r| r.access_key == key).map(|r| r.xml.clone()).unwrap_or_default();
    let autorizacion = match s.authorization {
        _ if !known => None,
        Authorization::InProcess => None,
        Authorization::NotAuthorized => Some(format!(
            "<autorizacion><estado>NO AUTORIZADO</estado><fechaAutorizacion>2026-12-07T10:15:30-05:00</fechaAutorizacion>\
             <ambiente>PRUEBAS</ambiente><comprobante><![CDATA[{xml}]]></comprobante><mensajes>{}</mensajes></autorizacion>",
            mensaje("39", "FIRMA INVALIDA", "La firma es inválida")
        )),
        _ => Some(format!(
            "<autorizacion><estado>AUTORIZADO</estado><numeroAutorizacion>{key}</numeroAutorizacion>\
             <fechaAutorizacion>2026-12-07T10:15:30-05:00</fechaAutorizacion><ambiente>PRUEBAS</ambiente>\
             <comprobante><![CDATA[{xml}]]></comprobante><mensajes/></autorizacion>"
        )),
    };
    let (n, list) = match autorizacion {
        Some(a) => (1, format!("<autorizaciones>{a}</autorizaciones>")),
        None => (0, "<autorizaciones/>".to_owned()),
    };
    soap(&format!(
        "<ns2:autorizacionComprobanteResponse xmlns:ns2=\"http://ec.gob.sri.ws.autorizacion\">\
         <RespuestaAutorizacionComprobante><claveAccesoConsultada>{key}</claveAccesoConsultada>\
         <numeroComprobantes>{n}</numeroComprobantes>{list}</RespuestaAutorizacionComprobante>\
         </ns2:autorizacionComprobanteResponse>"
    ))
}

const RESPUESTA: &str = "https://www2.agenciatributaria.gob.es/static_files/common/internet/dep/aplicaciones/es/aeat/tike/cont/ws/RespuestaSuministro.xsd";
const INFORMACION: &str = "https://www2.agenciatributaria.gob.es/static_files/common/internet/dep/aplicaciones/es/aeat/tike/cont/ws/SuministroInformacion.xsd";

#[handler]
async fn verifactu(req: &Request, body: Body) -> Response {
    let Some(state) = req.data::<Arc<Mutex<State>>>().cloned() else { return down() };
    let text = body.into_string().await.unwrap_or_default();
    let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
    if s.aeat == Aeat::Down {
        return down();
    }
    s.aeat_requests.push(text.clone());
    let anulacion = text.contains("RegistroAnulacion>");
    let (emisor, serie, fecha) = if anulacion {
        (
            element(&text, "IDEmisorFacturaAnulada"),
            element(&text, "NumSerieFacturaAnulada"),
            element(&text, "FechaExpedicionFacturaAnulada"),
        )
    } else {
        (element(&text, "IDEmisorFactura"), element(&text, "NumSerieFactura"), element(&text, "FechaExpedicionFactura"))
    };
    let (emisor, serie, fecha) = (emisor.unwrap_or_default(), serie.unwrap_or_default(), fecha.unwrap_or_default());
    let (envio, registro, error) = match s.aeat {
        Aeat::Fault => {
            let fault = "<soap:Fault><faultcode>soap:Server</faultcode><faultstring>Codigo[4102].El XML no cumple el \
                         esquema. Falta informar campo obligatorio.: Huella</faultstring></soap:Fault>";
            return Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .content_type("text/xml; charset=utf-8")
                .body(format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope \
                     xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>{fault}</soap:Body></soap:Envelope>"
                ));
        }
        Aeat::AcceptedWithErrors => (
            "ParcialmenteCorrecto",
            "AceptadoConErrores",
            "<tikR:CodigoErrorRegistro>2005</tikR:CodigoErrorRegistro><tikR:DescripcionErrorRegistro>El campo \
             ImporteTotal tiene un valor incorrecto para el valor de los campos BaseImponibleOimporteNoSujeto, \
             CuotaRepercutida y CuotaRecargoEquivalencia suministrados.</tikR:DescripcionErrorRegistro>",
        ),
        Aeat::Incorrect => (
            "Incorrecto",
            "Incorrecto",
            "<tikR:CodigoErrorRegistro>1100</tikR:CodigoErrorRegistro><tikR:DescripcionErrorRegistro>Valor o tipo \
             incorrecto del campo: NIF</tikR:DescripcionErrorRegistro>",
        ),
        _ => ("Correcto", "Correcto", ""),
    };
    let csv = if envio == "Incorrecto" { String::new() } else { "<tikR:CSV>A-PLAZAMOCK0000001</tikR:CSV>".to_owned() };
    let operacion = if anulacion { "Anulacion" } else { "Alta" };
    soap(&format!(
        "<tikR:RespuestaRegFactuSistemaFacturacion xmlns:tikR=\"{RESPUESTA}\" xmlns:tik=\"{INFORMACION}\">{csv}\
         <tikR:TiempoEsperaEnvio>60</tikR:TiempoEsperaEnvio><tikR:EstadoEnvio>{envio}</tikR:EstadoEnvio>\
         <tikR:RespuestaLinea><tikR:IDFactura><tik:IDEmisorFactura>{emisor}</tik:IDEmisorFactura>\
         <tik:NumSerieFactura>{serie}</tik:NumSerieFactura><tik:FechaExpedicionFactura>{fecha}</tik:FechaExpedicionFactura>\
         </tikR:IDFactura><tikR:Operacion><tik:TipoOperacion>{operacion}</tik:TipoOperacion></tikR:Operacion>\
         <tikR:EstadoRegistro>{registro}</tikR:EstadoRegistro>{error}</tikR:RespuestaLinea>\
         </tikR:RespuestaRegFactuSistemaFacturacion>"
    ))
}

/// Standard base64 (the SOAP `xml` element), without a dependency.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let trimmed: &[u8] = match clean.iter().position(|&b| b == b'=') {
        Some(p) => &clean[..p],
        None => &clean,
    };
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    for chunk in trimmed.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_decodes_padded_and_unpadded_text() {
        assert_eq!(super::base64_decode("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(super::base64_decode("aGVsbG8h").as_deref(), Some(&b"hello!"[..]));
        assert_eq!(super::base64_decode("aGk=").as_deref(), Some(&b"hi"[..]));
        assert_eq!(super::base64_decode("a*=="), None);
    }
}
