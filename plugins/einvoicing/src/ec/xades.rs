//! The XAdES-BES enveloped signature the SRI requires on every comprobante.
//!
//! The SRI's ficha técnica asks for XAdES_BES (ETSI TS 101 903 v1.3.2), enveloped, in UTF-8, with
//! RSA-SHA1 and 2048-bit keys. This module writes, as the last child of the comprobante's root:
//!
//! ```text
//! ds:Signature Id=Signature-S
//!   ds:SignedInfo Id=SignedInfo-S: C14N 1.0, rsa-sha1 (or ecdsa-sha256) and three references:
//!     #comprobante (Id=Reference-S; transform enveloped-signature)
//!     #SignedProperties-S (Type=http://uri.etsi.org/01903#SignedProperties)
//!     #Certificate-S (the KeyInfo)
//!   ds:SignatureValue Id=SignatureValue-S
//!   ds:KeyInfo Id=Certificate-S: X509Data/X509Certificate and, for RSA, KeyValue/RSAKeyValue
//!   ds:Object Id=Object-S / etsi:QualifyingProperties Target=#Signature-S / etsi:SignedProperties:
//!     SigningTime, SigningCertificate (CertDigest, IssuerSerial), and a DataObjectFormat
//!     (text/xml) for Reference-S
//! ```
//!
//! where S is the caller's `ids_seed`. An RSA key signs with rsa-sha1 and SHA-1 digests, as the
//! SRI asks; a P-256 key with ecdsa-sha256 and SHA-256 digests (its SignatureValue is r‖s, 64
//! bytes, as XML-DSig wants, not DER).
//!
//! # Canonicalization without a C14N library
//!
//! Each digest, and the signature, is computed over the Inclusive C14N 1.0 form of a node set,
//! and there is no pure-Rust C14N implementation worth depending on. So everything digested is
//! made trivially canonical instead of being canonicalized:
//!
//! - The comprobante. [`sign`] parses the unsigned document and writes it back in canonical form
//!   (start and end tags for empty elements, attributes sorted, C14N's escaping, line ends and
//!   attribute values normalized as a parser would, comments dropped, no XML declaration), and
//!   *that* text is both what the `#comprobante` reference digests (the enveloped-signature
//!   transform removes exactly the Signature inserted into it) and what the output carries. It
//!   accepts only documents without namespaces, DTDs or processing instructions — which the SRI's
//!   comprobantes never have — and refuses the rest rather than digest them wrongly. `xml.rs`
//!   already writes this form, so for its output this is the identity.
//! - SignedInfo, KeyInfo and SignedProperties are written by this module in canonical form. When
//!   C14N canonicalizes one of them as a subtree, its start tag carries every namespace in scope:
//!   `xmlns:ds` for SignedInfo and KeyInfo (declared on ds:Signature), and `xmlns:ds` *and*
//!   `xmlns:etsi` for SignedProperties (etsi is declared on etsi:QualifyingProperties). So each is
//!   written twice from one template: with those declarations, to digest or sign, and without
//!   them, to place in the document, where they are inherited.
//!
//! # Checking a signature
//!
//! The tests sign a factura with an RSA and a P-256 test key and check it with xmlsec1 (Debian's
//! package `xmlsec1`, 1.2.37), which must accept it, and reject it once an amount or the signing
//! time is changed:
//!
//! ```text
//! xmlsec1 --verify --trusted-pem cert.pem --enabled-key-data x509 \
//!   --id-attr:id factura --id-attr:id notaCredito factura.xml
//! ```
//!
//! `--enabled-key-data x509` makes xmlsec1 take the key from the certificate in KeyInfo, and
//! `--trusted-pem` makes that certificate (self-signed in the tests; for a real one, the CA's
//! certificates) the trust anchor. `--id-attr:id factura` declares the root's lowercase `id` an
//! ID, so `#comprobante` resolves; the `Id`s inside ds:Signature xmlsec1 registers by itself. It
//! ends with `OK` and `SignedInfo References (ok/all): 3/3`.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use sha1::Digest as _;
use x509_cert::Certificate;
use x509_cert::der::asn1::{ObjectIdentifier, UintRef};
use x509_cert::der::{Decode, Reader as _, SliceReader};

const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const ETSI: &str = "http://uri.etsi.org/01903/v1.3.2#";
const C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const SIGNED_PROPERTIES_TYPE: &str = "http://uri.etsi.org/01903#SignedProperties";

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// The kind of key a certificate carries, which decides the signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA: rsa-sha1 with SHA-1 digests, as the SRI asks.
    Rsa,
    /// ECDSA on P-256: ecdsa-sha256 with SHA-256 digests.
    EcdsaP256,
}

impl KeyKind {
    /// The hash of the digests and of the signature.
    pub fn hash(self) -> Hash {
        match self {
            KeyKind::Rsa => Hash::Sha1,
            KeyKind::EcdsaP256 => Hash::Sha256,
        }
    }

    fn signature_method(self) -> &'static str {
        match self {
            KeyKind::Rsa => "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            KeyKind::EcdsaP256 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        }
    }
}

/// A hash function, for the digests and for the signer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl Hash {
    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Hash::Sha256 => sha2::Sha256::digest(data).to_vec(),
        }
    }

    fn digest_method(self) -> &'static str {
        match self {
            Hash::Sha1 => "http://www.w3.org/2000/09/xmldsig#sha1",
            Hash::Sha256 => "http://www.w3.org/2001/04/xmlenc#sha256",
        }
    }
}

/// Why a comprobante could not be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XadesError {
    /// The certificate is not DER X.509, or its key cannot be read.
    Certificate(String),
    /// The certificate's key is neither RSA nor ECDSA P-256.
    UnsupportedKey(String),
    /// The document to sign is not XML this module can canonicalize.
    Document(String),
    /// The signing time is not RFC 3339 with an offset.
    SigningTime(String),
    /// The ids seed is empty, too long, or has characters other than letters, digits, `-`, `_`, `.`.
    IdsSeed(String),
    /// The signer returned a signature of the wrong length (e.g. a DER-encoded ECDSA signature).
    SignatureLength {
        /// The length the key implies.
        expected: usize,
        /// The length returned.
        found: usize,
    },
}

impl fmt::Display for XadesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XadesError::Certificate(e) => write!(f, "unreadable signing certificate: {e}"),
            XadesError::UnsupportedKey(k) => write!(f, "unsupported key type {k}: only RSA and ECDSA P-256 sign"),
            XadesError::Document(e) => write!(f, "cannot sign this document: {e}"),
            XadesError::SigningTime(t) => write!(f, "signing time {t:?} is not RFC 3339 with an offset"),
            XadesError::IdsSeed(s) => write!(f, "ids seed {s:?} must be 1 to 64 letters, digits, '-', '_' or '.'"),
            XadesError::SignatureLength { expected, found } => {
                write!(f, "the signer returned {found} bytes, the key makes {expected}")
            }
        }
    }
}

impl std::error::Error for XadesError {}

/// Why [`sign`] failed: this module's reason, or the signer's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignError<E> {
    /// The document, certificate or arguments.
    Xades(XadesError),
    /// The signer (the host's `crypto.sign-raw`) failed.
    Signer(E),
}

impl<E: fmt::Display> fmt::Display for SignError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::Xades(e) => e.fmt(f),
            SignError::Signer(e) => write!(f, "signing failed: {e}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for SignError<E> {}

impl<E> From<XadesError> for SignError<E> {
    fn from(e: XadesError) -> Self {
        SignError::Xades(e)
    }
}

/// The kind of the key in a DER certificate, from its SubjectPublicKeyInfo algorithm.
#[cfg(test)]
pub fn key_kind(cert_der: &[u8]) -> Result<KeyKind, XadesError> {
    let cert = Certificate::from_der(cert_der).map_err(|e| XadesError::Certificate(e.to_string()))?;
    kind_of(&cert)
}

fn kind_of(cert: &Certificate) -> Result<KeyKind, XadesError> {
    let alg = &cert.tbs_certificate.subject_public_key_info.algorithm;
    if alg.oid == RSA_ENCRYPTION {
        return Ok(KeyKind::Rsa);
    }
    if alg.oid == EC_PUBLIC_KEY {
        let curve = alg.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        return match curve {
            Some(c) if c == PRIME256V1 => Ok(KeyKind::EcdsaP256),
            Some(c) => Err(XadesError::UnsupportedKey(format!("EC on curve {c}"))),
            None => Err(XadesError::UnsupportedKey("EC without a named curve".into())),
        };
    }
    Err(XadesError::UnsupportedKey(alg.oid.to_string()))
}

/// Signs `unsigned_xml` (a comprobante, e.g. from [`super::xml::comprobante_xml`]) and returns
/// the signed document, with an XML declaration, in UTF-8.
///
/// - `cert_der`: the signer's X.509 certificate, DER.
/// - `signing_time`: RFC 3339 with an offset, e.g. `2026-12-06T10:44:54-05:00` (Ecuador's time is
///   what the SRI's own tools write).
/// - `ids_seed`: makes the signature's `Id`s (`Signature-{seed}` …) unique; e.g. the access key.
/// - `signer`: given the hash and the canonical SignedInfo bytes, returns the raw signature over
///   them: RSA PKCS#1 v1.5 with that hash, or ECDSA r‖s (64 bytes). In the module it calls the
///   host, which holds the private key.
pub fn sign<E>(
    unsigned_xml: &str,
    cert_der: &[u8],
    signing_time: &str,
    ids_seed: &str,
    signer: impl FnOnce(Hash, &[u8]) -> Result<Vec<u8>, E>,
) -> Result<String, SignError<E>> {
    let seed = check_seed(ids_seed)?;
    check_signing_time(signing_time)?;
    let cert = Certificate::from_der(cert_der).map_err(|e| XadesError::Certificate(e.to_string()))?;
    let kind = kind_of(&cert)?;
    let hash = kind.hash();
    let (key_value, signature_len) = key_value(&cert, kind)?;
    let doc = canonicalize(unsigned_xml)?;

    let ids = Ids::new(seed);
    let b64 = |bytes: &[u8]| BASE64.encode(bytes);
    let digest = |text: &str| b64(&hash.digest(text.as_bytes()));
    let ds_ns = format!(r#" xmlns:ds="{DS}""#);
    let ds_etsi_ns = format!(r#" xmlns:ds="{DS}" xmlns:etsi="{ETSI}""#);

    let key_info = |ns: &str| {
        format!(
            r#"<ds:KeyInfo{ns} Id="{id}"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data>{key_value}</ds:KeyInfo>"#,
            id = ids.certificate,
            cert = b64(cert_der),
        )
    };
    let issuer = cert.tbs_certificate.issuer.to_string();
    let serial = decimal(cert.tbs_certificate.serial_number.as_bytes());
    let signed_properties = |ns: &str| {
        format!(
            concat!(
                r#"<etsi:SignedProperties{ns} Id="{id}"><etsi:SignedSignatureProperties>"#,
                "<etsi:SigningTime>{time}</etsi:SigningTime><etsi:SigningCertificate><etsi:Cert><etsi:CertDigest>",
                r#"<ds:DigestMethod Algorithm="{method}"></ds:DigestMethod><ds:DigestValue>{cert_digest}</ds:DigestValue>"#,
                "</etsi:CertDigest><etsi:IssuerSerial><ds:X509IssuerName>{issuer}</ds:X509IssuerName>",
                "<ds:X509SerialNumber>{serial}</ds:X509SerialNumber></etsi:IssuerSerial></etsi:Cert>",
                "</etsi:SigningCertificate></etsi:SignedSignatureProperties><etsi:SignedDataObjectProperties>",
                r##"<etsi:DataObjectFormat ObjectReference="#{reference}"><etsi:Description>contenido comprobante</etsi:Description>"##,
                "<etsi:MimeType>text/xml</etsi:MimeType></etsi:DataObjectFormat></etsi:SignedDataObjectProperties>",
                "</etsi:SignedProperties>",
            ),
            ns = ns,
            id = ids.signed_properties,
            time = signing_time,
            method = hash.digest_method(),
            cert_digest = b64(&hash.digest(cert_der)),
            issuer = c14n_text(&issuer),
            serial = serial,
            reference = ids.reference,
        )
    };
    let reference = |id: Option<&str>, typ: Option<&str>, uri: &str, transform: bool, digest: &str| {
        let mut r = String::from("<ds:Reference");
        // C14N order: Id, Type, URI.
        if let Some(id) = id {
            r += &format!(r#" Id="{id}""#);
        }
        if let Some(typ) = typ {
            r += &format!(r#" Type="{typ}""#);
        }
        r += &format!(r#" URI="{}">"#, c14n_attr(uri));
        if transform {
            r += &format!(r#"<ds:Transforms><ds:Transform Algorithm="{ENVELOPED}"></ds:Transform></ds:Transforms>"#);
        }
        r += &format!(
            r#"<ds:DigestMethod Algorithm="{}"></ds:DigestMethod><ds:DigestValue>{digest}</ds:DigestValue></ds:Reference>"#,
            hash.digest_method()
        );
        r
    };
    let references = [
        reference(Some(&ids.reference), None, &format!("#{}", doc.id), true, &digest(&doc.root)),
        reference(
            Some(&ids.signed_properties_reference),
            Some(SIGNED_PROPERTIES_TYPE),
            &format!("#{}", ids.signed_properties),
            false,
            &digest(&signed_properties(&ds_etsi_ns)),
        ),
        reference(None, None, &format!("#{}", ids.certificate), false, &digest(&key_info(&ds_ns))),
    ]
    .concat();
    let signed_info = |ns: &str| {
        format!(
            concat!(
                r#"<ds:SignedInfo{ns} Id="{id}"><ds:CanonicalizationMethod Algorithm="{c14n}"></ds:CanonicalizationMethod>"#,
                r#"<ds:SignatureMethod Algorithm="{method}"></ds:SignatureMethod>{references}</ds:SignedInfo>"#,
            ),
            ns = ns,
            id = ids.signed_info,
            c14n = C14N,
            method = kind.signature_method(),
            references = references,
        )
    };

    let signature_value = signer(hash, signed_info(&ds_ns).as_bytes()).map_err(SignError::Signer)?;
    if signature_value.len() != signature_len {
        return Err(XadesError::SignatureLength { expected: signature_len, found: signature_value.len() }.into());
    }
    let signature = format!(
        concat!(
            r#"<ds:Signature xmlns:ds="{ds}" Id="{id}">{signed_info}"#,
            r#"<ds:SignatureValue Id="{value_id}">{value}</ds:SignatureValue>{key_info}"#,
            r##"<ds:Object Id="{object_id}"><etsi:QualifyingProperties xmlns:etsi="{etsi}" Target="#{id}">"##,
            "{signed_properties}</etsi:QualifyingProperties></ds:Object></ds:Signature>",
        ),
        ds = DS,
        id = ids.signature,
        signed_info = signed_info(""),
        value_id = ids.signature_value,
        value = b64(&signature_value),
        key_info = key_info(""),
        object_id = ids.object,
        etsi = ETSI,
        signed_properties = signed_properties(""),
    );
    // The signature goes last in the root, just before its end tag.
    let end_tag = format!("</{}>", doc.name);
    let content = doc.root.strip_suffix(&end_tag).ok_or_else(|| doc_error("the root's end tag is missing"))?;
    Ok(format!(r#"<?xml version="1.0" encoding="UTF-8"?>{content}{signature}{end_tag}"#))
}

/// The `Id`s of the signature's parts.
struct Ids {
    signature: String,
    signed_info: String,
    reference: String,
    signed_properties_reference: String,
    signature_value: String,
    certificate: String,
    object: String,
    signed_properties: String,
}

impl Ids {
    fn new(seed: &str) -> Ids {
        let id = |prefix: &str| format!("{prefix}-{seed}");
        Ids {
            signature: id("Signature"),
            signed_info: id("SignedInfo"),
            reference: id("Reference"),
            signed_properties_reference: id("SignedPropertiesReference"),
            signature_value: id("SignatureValue"),
            certificate: id("Certificate"),
            object: id("Object"),
            signed_properties: id("SignedProperties"),
        }
    }
}

/// The seed goes into `Id` attributes (xsd:ID, an NCName once prefixed) and URIs: letters,
/// digits, `-`, `_` and `.` need no escaping in either.
fn check_seed(seed: &str) -> Result<&str, XadesError> {
    let ok = (1..=64).contains(&seed.len())
        && seed.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok { Ok(seed) } else { Err(XadesError::IdsSeed(seed.to_owned())) }
}

/// xsd:dateTime with a time zone, which RFC 3339 with an offset is: a valid instant, a `T`, and
/// `Z` or `±hh:mm` at the end (jiff alone would also take a space or `±hh`).
fn check_signing_time(t: &str) -> Result<(), XadesError> {
    let b = t.as_bytes();
    let offset_ok = t.ends_with('Z')
        || (b.len() > 6
            && matches!(b[b.len() - 6], b'+' | b'-')
            && b[b.len() - 3] == b':'
            && [2, 1, 5, 4].iter().all(|i| b[b.len() - i].is_ascii_digit()));
    if b.get(10) == Some(&b'T') && offset_ok && t.parse::<jiff::Timestamp>().is_ok() {
        Ok(())
    } else {
        Err(XadesError::SigningTime(t.to_owned()))
    }
}

/// The KeyValue element (RSA modulus and exponent; nothing for EC, where it is optional and
/// XML-DSig 1.0 has no element for it) and the length of a signature made with the key.
fn key_value(cert: &Certificate, kind: KeyKind) -> Result<(String, usize), XadesError> {
    match kind {
        KeyKind::EcdsaP256 => Ok((String::new(), 64)),
        KeyKind::Rsa => {
            let bad = |e: &dyn fmt::Display| XadesError::Certificate(format!("RSA public key: {e}"));
            let spki = &cert.tbs_certificate.subject_public_key_info;
            let bits = spki.subject_public_key.as_bytes().ok_or_else(|| bad(&"not whole bytes"))?;
            // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 8017).
            let mut reader = SliceReader::new(bits).map_err(|e| bad(&e))?;
            let (n, e) = reader.sequence(|r| Ok((UintRef::decode(r)?, UintRef::decode(r)?))).map_err(|e| bad(&e))?;
            // UintRef has no leading zero bytes: the CryptoBinary form XML-DSig wants.
            let (n, e) = (n.as_bytes(), e.as_bytes());
            let xml = format!(
                "<ds:KeyValue><ds:RSAKeyValue><ds:Modulus>{}</ds:Modulus><ds:Exponent>{}</ds:Exponent></ds:RSAKeyValue></ds:KeyValue>",
                BASE64.encode(n),
                BASE64.encode(e)
            );
            Ok((xml, n.len()))
        }
    }
}

/// A big-endian unsigned integer (a certificate's serial number, up to 20 bytes) in decimal, as
/// X509SerialNumber (an xsd:integer) wants it. A DER INTEGER's leading sign byte is harmless.
fn decimal(be: &[u8]) -> String {
    // Base 10^9 limbs, least significant first.
    let mut limbs: Vec<u32> = Vec::new();
    for &byte in be {
        let mut carry = u64::from(byte);
        for limb in &mut limbs {
            let v = u64::from(*limb) * 256 + carry;
            *limb = (v % 1_000_000_000) as u32;
            carry = v / 1_000_000_000;
        }
        while carry > 0 {
            limbs.push((carry % 1_000_000_000) as u32);
            carry /= 1_000_000_000;
        }
    }
    let mut out = limbs.last().map_or_else(|| "0".to_owned(), u32::to_string);
    for limb in limbs.iter().rev().skip(1) {
        out += &format!("{limb:09}");
    }
    out
}

/// Text as C14N 1.0 writes it: `&`, `<`, `>` and carriage return escaped, nothing else.
pub(crate) fn c14n_text(s: &str) -> Cow<'_, str> {
    escape_with(s, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '\r' => Some("&#xD;"),
        _ => None,
    })
}

/// An attribute value as C14N 1.0 writes it: `&`, `<`, `"`, tab, line feed and carriage return
/// escaped, nothing else.
pub(crate) fn c14n_attr(s: &str) -> Cow<'_, str> {
    escape_with(s, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '"' => Some("&quot;"),
        '\t' => Some("&#x9;"),
        '\n' => Some("&#xA;"),
        '\r' => Some("&#xD;"),
        _ => None,
    })
}

fn escape_with(s: &str, replace: impl Fn(char) -> Option<&'static str>) -> Cow<'_, str> {
    if !s.chars().any(|c| replace(c).is_some()) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match replace(c) {
            Some(r) => out.push_str(r),
            None => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A document's root element in canonical form, with its name and `id`.
struct Canonical {
    root: String,
    name: String,
    id: String,
}

fn doc_error(e: impl fmt::Display) -> XadesError {
    XadesError::Document(e.to_string())
}

/// The Inclusive C14N 1.0 form of the root element of a namespace-free document (what a
/// same-document `#id` reference to the root digests once its Signature is removed).
fn canonicalize(xml: &str) -> Result<Canonical, XadesError> {
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let mut reader = Reader::from_str(xml);
    reader.config_mut().expand_empty_elements = true;
    let mut out = String::with_capacity(xml.len());
    let mut open: Vec<String> = Vec::new();
    let mut root: Option<(String, String)> = None;
    loop {
        let event = reader.read_event().map_err(doc_error)?;
        let inside = !open.is_empty();
        match event {
            Event::Decl(d) => {
                let version = d.version().map_err(doc_error)?;
                if version.as_ref() != "1.0" {
                    return Err(doc_error(format_args!("XML version {version} (only 1.0)")));
                }
            }
            // Same-document references leave comments out; dropping them keeps the output equal
            // to what is digested.
            Event::Comment(_) => {}
            Event::DocType(_) => return Err(doc_error("a DOCTYPE (it may change attributes and entities)")),
            Event::PI(_) => return Err(doc_error("processing instructions")),
            Event::Start(e) => {
                if open.is_empty() && root.is_some() {
                    return Err(doc_error("more than one root element"));
                }
                let (name, id) = start_tag(&e, &mut out)?;
                if root.is_none() {
                    let id = id.ok_or_else(|| doc_error("the root element has no id attribute"))?;
                    root = Some((name.clone(), id));
                }
                open.push(name);
            }
            Event::Empty(_) => return Err(doc_error("unexpected empty-element event")),
            Event::End(_) => {
                let name = open.pop().ok_or_else(|| doc_error("an end tag without a start"))?;
                out.push_str("</");
                out.push_str(&name);
                out.push('>');
            }
            Event::Text(t) if inside => out.push_str(&c14n_text(&t.xml10_content())),
            Event::Text(t) => {
                if !t.trim_ascii().is_empty() {
                    return Err(doc_error("text outside the root element"));
                }
            }
            Event::CData(t) if inside => out.push_str(&c14n_text(&t.xml10_content())),
            Event::GeneralRef(r) if inside => {
                let c = match r.resolve_char_ref().map_err(doc_error)? {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_xml_entity(&r)
                        .ok_or_else(|| doc_error(format_args!("undefined entity &{};", &*r)))?
                        .to_owned(),
                };
                out.push_str(&c14n_text(&c));
            }
            Event::CData(_) | Event::GeneralRef(_) => return Err(doc_error("text outside the root element")),
            Event::Eof => break,
        }
    }
    match root {
        Some((name, id)) if open.is_empty() => Ok(Canonical { root: out, name, id }),
        Some(_) => Err(doc_error("unclosed elements")),
        None => Err(doc_error("no root element")),
    }
}

/// Writes a start tag canonically (attributes normalized, sorted, escaped); returns the element's
/// name and its `id` attribute.
fn start_tag(e: &BytesStart<'_>, out: &mut String) -> Result<(String, Option<String>), XadesError> {
    let name = e.name().as_ref().to_owned();
    if name.contains(':') {
        return Err(doc_error(format_args!("namespaced element {name}")));
    }
    let mut attrs: Vec<(String, String)> = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(doc_error)?;
        let key = a.key.as_ref().to_owned();
        if key == "xmlns" || key.contains(':') {
            return Err(doc_error(format_args!("namespace or namespaced attribute {key}")));
        }
        let value = a.normalized_value(XmlVersion::Implicit1_0).map_err(doc_error)?.into_owned();
        attrs.push((key, value));
    }
    // Attributes without a namespace sort by name (code points, which UTF-8 bytes preserve).
    attrs.sort();
    out.push('<');
    out.push_str(&name);
    for (key, value) in &attrs {
        out.push(' ');
        out.push_str(key);
        out.push_str("=\"");
        out.push_str(&c14n_attr(value));
        out.push('"');
    }
    out.push('>');
    let id = attrs.into_iter().find(|(k, _)| k == "id").map(|(_, v)| v);
    Ok((name, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec::xml::{comprobante_xml, tests::sample_factura};
    use std::path::{Path, PathBuf};
    use std::process::Command;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
    }

    fn pem_body(name: &str) -> Vec<u8> {
        let pem = std::fs::read_to_string(fixture(name)).unwrap();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        BASE64.decode(b64).unwrap()
    }

    #[test]
    fn xml_rs_output_is_already_canonical() {
        let xml = comprobante_xml(&sample_factura()).unwrap();
        let body = xml.strip_prefix(r#"<?xml version="1.0" encoding="UTF-8"?>"#).unwrap();
        let c = canonicalize(&xml).unwrap();
        assert_eq!(c.root, body);
        assert_eq!((c.name.as_str(), c.id.as_str()), ("factura", "comprobante"));
    }

    #[test]
    fn canonical_form_of_a_messy_document() {
        let xml = "\u{feff}<?xml version='1.0' encoding='utf-8'?>\r\n<!-- c -->\n<r version='1' id=\"x\"\r\n  b='&lt;\"&#10;\t&apos;>'>\r\n <e/><!-- gone --><t>a&amp;b &#x3E; &quot;' <![CDATA[<&>]]>\r\nz</t></r>\n";
        let c = canonicalize(xml).unwrap();
        assert_eq!(
            c.root,
            "<r b=\"&lt;&quot;&#xA; '>\" id=\"x\" version=\"1\">\n <e></e><t>a&amp;b &gt; \"' &lt;&amp;&gt;\nz</t></r>"
        );
        for bad in [
            "<r id='x' xmlns='urn:a'/>",
            "<a:r xmlns:a='urn:a' id='x'/>",
            "<!DOCTYPE r><r id='x'/>",
            "<r id='x'><?pi x?></r>",
            "<r/>",
            "<r id='x'/><s/>",
            "<r id='x'>&nbsp;</r>",
            "<r id='x'>",
        ] {
            assert!(canonicalize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serial_numbers_in_decimal() {
        assert_eq!(decimal(&[]), "0");
        assert_eq!(decimal(&[0]), "0");
        // A real SRI signature: serial 0x5B71C805 is written 1534183429.
        assert_eq!(decimal(&[0x5B, 0x71, 0xC8, 0x05]), "1534183429");
        assert_eq!(decimal(&[0x00, 0xFF]), "255");
        assert_eq!(decimal(&[0x3B, 0x9A, 0xCA, 0x00]), "1000000000");
        // 2^64 and a 20-byte serial, checked with Python's int.from_bytes.
        assert_eq!(decimal(&[1, 0, 0, 0, 0, 0, 0, 0, 0]), "18446744073709551616");
        let serial = [
            0x12, 0x00, 0x8c, 0x04, 0x80, 0x64, 0xf6, 0x03, 0xf1, 0xd8, 0x98, 0x39, 0x4f, 0x47, 0xed, 0x78, 0x0a, 0x2f,
            0x82, 0xcb,
        ];
        assert_eq!(decimal(&serial), "102774031126654428486098405548913616876674712267");
    }

    #[test]
    fn arguments_are_checked() {
        assert!(check_signing_time("2026-12-06T10:44:54-05:00").is_ok());
        assert!(check_signing_time("2026-12-06T15:44:54.123Z").is_ok());
        for bad in
            ["2026-12-06 10:44:54-05:00", "2026-12-06T10:44:54", "2026-12-06T10:44:54-05", "2026-13-06T10:44:54Z"]
        {
            assert!(check_signing_time(bad).is_err(), "{bad}");
        }
        assert!(check_seed("0612202601-x_1.2").is_ok());
        for bad in ["", "a b", "a\"b", "ñ", &"a".repeat(65)] {
            assert!(check_seed(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_kinds() {
        assert_eq!(key_kind(&pem_body("test-rsa.cert.pem")), Ok(KeyKind::Rsa));
        assert_eq!(key_kind(&pem_body("test-p256.cert.pem")), Ok(KeyKind::EcdsaP256));
        assert!(matches!(key_kind(b"not a certificate"), Err(XadesError::Certificate(_))));
    }

    fn sign_rsa(xml: &str, seed: &str) -> String {
        use rsa::pkcs8::DecodePrivateKey;
        use rsa::signature::{SignatureEncoding, Signer};
        let pem = std::fs::read_to_string(fixture("test-rsa.key.pem")).unwrap();
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(&pem).unwrap();
        let signing_key = rsa::pkcs1v15::SigningKey::<sha1::Sha1>::new(key);
        sign(xml, &pem_body("test-rsa.cert.pem"), "2026-12-06T10:44:54-05:00", seed, |hash, data| {
            assert_eq!(hash, Hash::Sha1);
            Ok::<_, String>(signing_key.sign(data).to_vec())
        })
        .unwrap()
    }

    fn sign_p256(xml: &str, seed: &str) -> String {
        use p256::ecdsa::signature::Signer;
        use p256::pkcs8::DecodePrivateKey;
        let pem = std::fs::read_to_string(fixture("test-p256.key.pem")).unwrap();
        let signing_key = p256::ecdsa::SigningKey::from_pkcs8_pem(&pem).unwrap();
        sign(xml, &pem_body("test-p256.cert.pem"), "2026-12-06T10:44:54-05:00", seed, |hash, data| {
            assert_eq!(hash, Hash::Sha256);
            let signature: p256::ecdsa::Signature = signing_key.sign(data);
            Ok::<_, String>(signature.to_bytes().to_vec())
        })
        .unwrap()
    }

    /// Runs `xmlsec1 --verify` on `xml`, trusting the certificate `cert` and taking the key from
    /// the certificate in KeyInfo; true if it verifies.
    fn xmlsec_verifies(xml: &str, cert: &str, name: &str) -> bool {
        let dir = std::env::temp_dir().join(format!("einvoicing-xmlsec-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(name);
        std::fs::write(&file, xml).unwrap();
        let output = Command::new("xmlsec1")
            .arg("--verify")
            .arg("--trusted-pem")
            .arg(fixture(cert))
            .args(["--enabled-key-data", "x509"])
            .args(["--id-attr:id", "factura", "--id-attr:id", "notaCredito"])
            .arg(&file)
            .output();
        let output = match output {
            Ok(o) => o,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "xmlsec1 is not installed: install Debian's xmlsec1 package (the project's scripts do) to check signatures"
            ),
            Err(e) => panic!("cannot run xmlsec1: {e}"),
        };
        let _ = std::fs::remove_dir_all(&dir);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            eprintln!("xmlsec1 on {name}: {stderr}");
        }
        // Success means every reference was checked: the comprobante, SignedProperties, KeyInfo.
        output.status.success() && stderr.contains("SignedInfo References (ok/all): 3/3")
    }

    fn check_with_xmlsec(signed: &str, cert: &str, label: &str) {
        assert!(
            signed.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><factura id="comprobante" version="1.1.0">"#)
        );
        assert!(signed.ends_with("</ds:Signature></factura>"));
        let verifies = |xml: &str, what: &str| xmlsec_verifies(xml, cert, &format!("{label}-{what}.xml"));
        assert!(verifies(signed, "signed"), "xmlsec1 rejects the {label} signature");
        let tampered = signed.replacen("<importeTotal>30.86</importeTotal>", "<importeTotal>31.86</importeTotal>", 1);
        assert_ne!(tampered, signed);
        assert!(!verifies(&tampered, "amount"), "xmlsec1 accepts a changed amount");
        let tampered = signed.replacen("2026-12-06T10:44:54-05:00", "2026-12-06T10:44:55-05:00", 1);
        assert_ne!(tampered, signed);
        assert!(!verifies(&tampered, "time"), "xmlsec1 accepts a changed SigningTime");
    }

    #[test]
    fn rsa_signature_verifies_with_xmlsec1() {
        let xml = comprobante_xml(&sample_factura()).unwrap();
        let signed = sign_rsa(&xml, "0612202601");
        assert!(signed.contains(r#"<ds:SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1">"#));
        assert!(signed.contains("<ds:X509IssuerName>SERIALNUMBER=0992345678001,CN=PLAZA TEST SIGNER RSA,O=Plaza Test,C=EC</ds:X509IssuerName>"));
        assert!(
            signed.contains(
                "<ds:X509SerialNumber>102774031126654428486098405548913616876674712267</ds:X509SerialNumber>"
            )
        );
        assert!(signed.contains("<ds:Exponent>AQAB</ds:Exponent>"));
        check_with_xmlsec(&signed, "test-rsa.cert.pem", "rsa");
        // xmlsec1 takes the key from the certificate: check the RSAKeyValue against the key itself.
        use rsa::pkcs8::DecodePrivateKey;
        use rsa::traits::PublicKeyParts;
        let pem = std::fs::read_to_string(fixture("test-rsa.key.pem")).unwrap();
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(&pem).unwrap();
        let modulus = BASE64.encode(key.n().to_bytes_be());
        assert!(signed.contains(&format!("<ds:Modulus>{modulus}</ds:Modulus>")));
    }

    #[test]
    fn p256_signature_verifies_with_xmlsec1() {
        let xml = comprobante_xml(&sample_factura()).unwrap();
        let signed = sign_p256(&xml, "p256");
        assert!(
            signed.contains(r#"<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256">"#)
        );
        assert!(!signed.contains("KeyValue"));
        check_with_xmlsec(&signed, "test-p256.cert.pem", "p256");
    }

    #[test]
    fn nota_credito_signature_verifies_with_xmlsec1() {
        let mut c = sample_factura();
        c.kind = crate::ec::xml::Kind::NotaCredito {
            modified_number: "001-001-000000001".into(),
            modified_date: jiff::civil::date(2026, 12, 1),
            reason: "Devolución & cambio".into(),
        };
        let signed = sign_p256(&comprobante_xml(&c).unwrap(), "nc");
        assert!(signed.contains(r#"<notaCredito id="comprobante" version="1.1.0">"#));
        assert!(xmlsec_verifies(&signed, "test-p256.cert.pem", "nota-credito.xml"));
        let tampered = signed.replacen("<valorModificacion>30.86<", "<valorModificacion>3.86<", 1);
        assert_ne!(tampered, signed);
        assert!(!xmlsec_verifies(&tampered, "test-p256.cert.pem", "nota-credito-tampered.xml"));
    }

    #[test]
    fn an_indented_document_is_signed_in_canonical_form() {
        let xml = comprobante_xml(&sample_factura()).unwrap();
        let indented =
            xml.replace("><", ">\n  <").replace("<descuento>0.00</descuento>", "<!-- x --><descuento>0.00</descuento>");
        let signed = sign_rsa(&indented, "indented");
        assert!(signed.contains(">\n  <infoTributaria>"));
        assert!(!signed.contains("<!--"));
        check_with_xmlsec(&signed, "test-rsa.cert.pem", "indented");
    }

    #[test]
    fn wrong_signature_lengths_are_refused() {
        let xml = comprobante_xml(&sample_factura()).unwrap();
        let r = sign(&xml, &pem_body("test-p256.cert.pem"), "2026-12-06T10:44:54-05:00", "s", |_, _| {
            Ok::<_, String>(vec![0x30; 70])
        });
        assert_eq!(r, Err(SignError::Xades(XadesError::SignatureLength { expected: 64, found: 70 })));
        let r = sign(&xml, &pem_body("test-rsa.cert.pem"), "2026-12-06T10:44:54-05:00", "s", |_, _| {
            Err::<Vec<u8>, _>("host said no".to_owned())
        });
        assert_eq!(r, Err(SignError::Signer("host said no".to_owned())));
    }
}
