//! X.509 certificates of a (tenant, module) pair and the detached CMS
//! signatures made with them (`crypto` 1.1): what a PDF's PAdES signature
//! or a detached `.p7s` carries, so that readers' own tools (poppler's
//! `pdfsig`, Acrobat, `openssl cms`) verify it.
//!
//! A tenant admin installs a real certificate and its key (PEM); until then
//! the first use makes a self-signed P-256 certificate whose subject says
//! it is for testing. Keys are ECDSA P-256 or RSA (PKCS#1 v1.5, SHA-256),
//! stored as PKCS#8; the module only ever sees the certificate and the
//! signature.

use std::str::FromStr;
use std::time::Duration;

use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier};
use der::asn1::SetOfVec;
use der::{Any, Decode, DecodePem, Encode};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use p256::ecdsa::signature::{Keypair, Signer};
use x509_cert::spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, SignatureBitStringEncoding, SubjectPublicKeyInfoOwned,
};
use x509_cert::time::Validity;

/// `id-data`: the content type of a detached signature over bytes.
const ID_DATA: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// `id-sha256`.
const ID_SHA256: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// `id-aa-signingCertificateV2` (RFC 5035), required by CAdES / PAdES
/// baseline: binds the signature to the certificate's hash.
const ID_SIGNING_CERTIFICATE_V2: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// How long a self-signed test certificate is valid.
const SELF_SIGNED_VALIDITY: Duration = Duration::from_secs(10 * 365 * 86_400);

/// Why a certificate could not be read, made or used.
#[derive(Debug, thiserror::Error)]
pub enum X509Error {
    #[error("the certificate is not valid PEM or DER X.509: {0}")]
    Certificate(String),
    #[error("the private key is not a PKCS#8 or PKCS#1 PEM key of type P-256 or RSA: {0}")]
    Key(String),
    #[error("the private key does not belong to the certificate")]
    Mismatch,
    #[error("the digest must be a SHA-256 (32 bytes), not {0} bytes")]
    Digest(usize),
    #[error("a P-256 key signs with SHA-256 only")]
    Hash,
    #[error("signing failed: {0}")]
    Sign(String),
}

/// A private key that signs CMS.
enum Key {
    P256(p256::ecdsa::SigningKey),
    Rsa(Box<rsa::pkcs1v15::SigningKey<Sha256>>),
}

/// A certificate with its private key, ready to sign.
pub struct Certified {
    certificate: Certificate,
    der: Vec<u8>,
    key: Key,
    self_signed: bool,
}

impl std::fmt::Debug for Certified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Certified").field("subject", &self.subject()).finish_non_exhaustive()
    }
}

/// What the API shows of a certificate (never its key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    /// SHA-256 of the DER certificate, hex.
    pub sha256: String,
    pub self_signed: bool,
    pub key_type: &'static str,
}

fn key_from_pkcs8(der: &[u8]) -> Result<Key, X509Error> {
    if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_der(der) {
        return Ok(Key::P256(k));
    }
    rsa::RsaPrivateKey::from_pkcs8_der(der)
        .map(|k| Key::Rsa(Box::new(rsa::pkcs1v15::SigningKey::new(k))))
        .map_err(|e| X509Error::Key(e.to_string()))
}

fn public_der(key: &Key) -> Result<Vec<u8>, X509Error> {
    let der = match key {
        Key::P256(k) => k.verifying_key().to_public_key_der(),
        Key::Rsa(k) => rsa::RsaPublicKey::from(k.as_ref().as_ref()).to_public_key_der(),
    };
    der.map(|d| d.as_bytes().to_vec()).map_err(|e| X509Error::Key(e.to_string()))
}

impl Certified {
    /// A stored pair: the DER certificate and the PKCS#8 key.
    pub fn from_stored(cert_der: &[u8], key_pkcs8: &[u8], self_signed: bool) -> Result<Self, X509Error> {
        let certificate = Certificate::from_der(cert_der).map_err(|e| X509Error::Certificate(e.to_string()))?;
        let key = key_from_pkcs8(key_pkcs8)?;
        Ok(Self { certificate, der: cert_der.to_vec(), key, self_signed })
    }

    /// A pair a tenant admin installs: PEM certificate and PEM key (PKCS#8
    /// `PRIVATE KEY`, or PKCS#1 `RSA PRIVATE KEY`). Returns it with the key
    /// as PKCS#8 DER, to store. The key must match the certificate.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<(Self, Vec<u8>), X509Error> {
        let certificate =
            Certificate::from_pem(cert_pem.trim().as_bytes()).map_err(|e| X509Error::Certificate(e.to_string()))?;
        let der = certificate.to_der().map_err(|e| X509Error::Certificate(e.to_string()))?;
        let key_pem = key_pem.trim();
        let pkcs8 = if key_pem.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
            use rsa::pkcs1::DecodeRsaPrivateKey;
            let key = rsa::RsaPrivateKey::from_pkcs1_pem(key_pem).map_err(|e| X509Error::Key(e.to_string()))?;
            key.to_pkcs8_der().map_err(|e| X509Error::Key(e.to_string()))?.as_bytes().to_vec()
        } else {
            let (label, doc) = der::SecretDocument::from_pem(key_pem).map_err(|e| X509Error::Key(e.to_string()))?;
            if label != "PRIVATE KEY" {
                return Err(X509Error::Key(format!("a `{label}` PEM block; convert it to PKCS#8 (`openssl pkcs8 -topk8 -nocrypt`)")));
            }
            doc.as_bytes().to_vec()
        };
        let key = key_from_pkcs8(&pkcs8)?;
        let spki = certificate
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| X509Error::Certificate(e.to_string()))?;
        if spki != public_der(&key)? {
            return Err(X509Error::Mismatch);
        }
        Ok((Self { certificate, der, key, self_signed: false }, pkcs8))
    }

    /// A self-signed P-256 certificate for testing, named after the pair;
    /// with its PKCS#8 key, to store.
    pub fn self_signed(tenant: &str, module: &str, name: &str) -> Result<(Self, Vec<u8>), X509Error> {
        let sign = |e: &dyn std::fmt::Display| X509Error::Sign(e.to_string());
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let key = loop {
            let mut bytes = [0u8; 32];
            aws_lc_rs::rand::SecureRandom::fill(&rng, &mut bytes).map_err(|e| sign(&e))?;
            if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&bytes) {
                break k;
            }
        };
        let mut serial = [0u8; 16];
        aws_lc_rs::rand::SecureRandom::fill(&rng, &mut serial).map_err(|e| sign(&e))?;
        serial[0] &= 0x7f;
        serial[0] |= 0x01;
        let clean = |s: &str| s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == ' ').collect::<String>();
        let subject = Name::from_str(&format!(
            "CN={} {} {} - self-signed TEST certificate,O={}",
            clean(tenant),
            clean(module),
            clean(name),
            clean(tenant)
        ))
        .map_err(|e| sign(&e))?;
        let spki = SubjectPublicKeyInfoOwned::from_key(*key.verifying_key()).map_err(|e| sign(&e))?;
        let profile =
            Profile::Leaf { issuer: subject.clone(), enable_key_agreement: false, enable_key_encipherment: false };
        let builder = CertificateBuilder::new(
            profile,
            SerialNumber::new(&serial).map_err(|e| sign(&e))?,
            Validity::from_now(SELF_SIGNED_VALIDITY).map_err(|e| sign(&e))?,
            subject,
            spki,
            &key,
        )
        .map_err(|e| sign(&e))?;
        let certificate = builder.build::<p256::ecdsa::DerSignature>().map_err(|e| sign(&e))?;
        let der = certificate.to_der().map_err(|e| sign(&e))?;
        let pkcs8 = key.to_pkcs8_der().map_err(|e| sign(&e))?.as_bytes().to_vec();
        Ok((Self { certificate, der, key: Key::P256(key), self_signed: true }, pkcs8))
    }

    /// The DER certificate.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn subject(&self) -> String {
        self.certificate.tbs_certificate.subject.to_string()
    }

    pub fn info(&self) -> CertificateInfo {
        let tbs = &self.certificate.tbs_certificate;
        CertificateInfo {
            subject: tbs.subject.to_string(),
            issuer: tbs.issuer.to_string(),
            serial: hex::encode(tbs.serial_number.as_bytes()),
            not_before: tbs.validity.not_before.to_string(),
            not_after: tbs.validity.not_after.to_string(),
            sha256: hex::encode(Sha256::digest(&self.der)),
            self_signed: self.self_signed,
            key_type: match self.key {
                Key::P256(_) => "ECDSA P-256",
                Key::Rsa(_) => "RSA",
            },
        }
    }

    /// A detached CMS `SignedData` (DER) over content whose SHA-256 is
    /// `digest`: signed attributes content-type, message-digest and
    /// signing-certificate-v2, the certificate included.
    pub fn sign_detached(&self, digest: &[u8]) -> Result<Vec<u8>, X509Error> {
        if digest.len() != 32 {
            return Err(X509Error::Digest(digest.len()));
        }
        let sign = |e: &dyn std::fmt::Display| X509Error::Sign(e.to_string());
        let content = EncapsulatedContentInfo { econtent_type: ID_DATA, econtent: None };
        let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: self.certificate.tbs_certificate.issuer.clone(),
            serial_number: self.certificate.tbs_certificate.serial_number.clone(),
        });
        let sha256 = AlgorithmIdentifierOwned { oid: ID_SHA256, parameters: None };
        let ess = signing_certificate_v2(&self.der).map_err(|e| sign(&e))?;
        let mut signed = SignedDataBuilder::new(&content);
        signed
            .add_digest_algorithm(sha256.clone())
            .map_err(|e| sign(&e))?
            .add_certificate(CertificateChoices::Certificate(self.certificate.clone()))
            .map_err(|e| sign(&e))?;
        match &self.key {
            Key::P256(k) => add_signer::<_, p256::ecdsa::DerSignature>(&mut signed, k, sid, sha256, &content, digest, ess)?,
            Key::Rsa(k) => {
                let key: &rsa::pkcs1v15::SigningKey<Sha256> = k;
                add_signer::<_, rsa::pkcs1v15::Signature>(&mut signed, key, sid, sha256, &content, digest, ess)?;
            }
        }
        signed.build().map_err(|e| sign(&e))?.to_der().map_err(|e| sign(&e))
    }
}

/// The hash a raw signature is made over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawHash {
    Sha1,
    Sha256,
}

impl Certified {
    /// A bare signature over `data`, as XML-DSig and JWS carry it: RSA
    /// PKCS#1 v1.5 with `hash`, or ECDSA P-256 with SHA-256 as r‖s (64
    /// bytes). SHA-1 only with RSA: the SRI's XAdES profile still asks for
    /// RSA-SHA1, and nothing else should.
    pub fn sign_raw(&self, hash: RawHash, data: &[u8]) -> Result<Vec<u8>, X509Error> {
        use rsa::signature::SignatureEncoding;
        match (&self.key, hash) {
            (Key::P256(k), RawHash::Sha256) => {
                let signature: p256::ecdsa::Signature = k.sign(data);
                Ok(signature.to_bytes().to_vec())
            }
            (Key::P256(_), RawHash::Sha1) => Err(X509Error::Hash),
            (Key::Rsa(k), RawHash::Sha256) => Ok(k.sign(data).to_vec()),
            (Key::Rsa(k), RawHash::Sha1) => {
                let private: &rsa::RsaPrivateKey = k.as_ref().as_ref();
                let key = rsa::pkcs1v15::SigningKey::<sha1::Sha1>::new(private.clone());
                Ok(key.sign(data).to_vec())
            }
        }
    }
}

/// Adds the one `SignerInfo`: content-type, message-digest and `ess`
/// signed by `key` (`Sig` is the key type's DER signature).
fn add_signer<S, Sig>(
    signed: &mut SignedDataBuilder<'_>,
    key: &S,
    sid: SignerIdentifier,
    digest_algorithm: AlgorithmIdentifierOwned,
    content: &EncapsulatedContentInfo,
    digest: &[u8],
    ess: Attribute,
) -> Result<(), X509Error>
where
    S: Keypair + DynSignatureAlgorithmIdentifier + Signer<Sig>,
    Sig: SignatureBitStringEncoding,
{
    let sign = |e: &dyn std::fmt::Display| X509Error::Sign(e.to_string());
    let mut info = SignerInfoBuilder::new(key, sid, digest_algorithm, content, Some(digest)).map_err(|e| sign(&e))?;
    info.add_signed_attribute(ess).map_err(|e| sign(&e))?;
    signed.add_signer_info::<_, Sig>(info).map_err(|e| sign(&e))?;
    Ok(())
}

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2 }`
/// with one `ESSCertIDv2 ::= SEQUENCE { certHash OCTET STRING }` (the hash
/// algorithm is the default, SHA-256, so it is left out).
fn signing_certificate_v2(cert_der: &[u8]) -> der::Result<Attribute> {
    let hash = der::asn1::OctetString::new(Sha256::digest(cert_der).to_vec())?;
    let ess_cert_id = der::asn1::SequenceOf::<der::asn1::OctetString, 1>::new();
    let mut ess_cert_id = ess_cert_id;
    ess_cert_id.add(hash)?;
    let mut certs = der::asn1::SequenceOf::<der::asn1::SequenceOf<der::asn1::OctetString, 1>, 1>::new();
    certs.add(ess_cert_id)?;
    let mut value = der::asn1::SequenceOf::<der::asn1::SequenceOf<der::asn1::SequenceOf<der::asn1::OctetString, 1>, 1>, 1>::new();
    value.add(certs)?;
    let any = Any::from_der(&value.to_der()?)?;
    let mut values = SetOfVec::new();
    values.insert(any)?;
    Ok(Attribute { oid: ID_SIGNING_CERTIFICATE_V2, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_signs_and_round_trips_through_storage() {
        let (made, pkcs8) = Certified::self_signed("muni", "gdi", "default").unwrap();
        assert!(made.subject().contains("TEST"), "{}", made.subject());
        let again = Certified::from_stored(made.der(), &pkcs8, true).unwrap();
        assert_eq!(again.info(), made.info());
        let digest = Sha256::digest(b"a PDF's byte range");
        let cms = again.sign_detached(&digest).unwrap();
        let parsed = cms::content_info::ContentInfo::from_der(&cms).unwrap();
        let signed: cms::signed_data::SignedData = parsed.content.decode_as().unwrap();
        assert_eq!(signed.signer_infos.0.len(), 1);
        let attrs = signed.signer_infos.0.get(0).unwrap().signed_attrs.clone().unwrap();
        assert!(attrs.iter().any(|a| a.oid == ID_SIGNING_CERTIFICATE_V2));
        assert!(matches!(again.sign_detached(b"short"), Err(X509Error::Digest(5))));
    }

    #[test]
    fn raw_signatures_verify_with_the_certificates_public_key() {
        use rsa::signature::Verifier;
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/einvoicing/tests/fixtures");
        let read = |f: &str| std::fs::read_to_string(format!("{fixtures}/{f}")).unwrap();
        let (rsa_pair, _) = Certified::from_pem(&read("test-rsa.cert.pem"), &read("test-rsa.key.pem")).unwrap();
        let Key::Rsa(key) = &rsa_pair.key else { panic!("an RSA key") };
        let public = rsa::RsaPublicKey::from(key.as_ref().as_ref());
        let data = b"<ds:SignedInfo></ds:SignedInfo>";
        for (hash, digest_len) in [(RawHash::Sha1, 20), (RawHash::Sha256, 32)] {
            let signature = rsa_pair.sign_raw(hash, data).unwrap();
            assert_eq!(signature.len(), 256);
            let parsed = rsa::pkcs1v15::Signature::try_from(signature.as_slice()).unwrap();
            let verifies = |message: &[u8]| match hash {
                RawHash::Sha1 => rsa::pkcs1v15::VerifyingKey::<sha1::Sha1>::new(public.clone()).verify(message, &parsed),
                RawHash::Sha256 => rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public.clone()).verify(message, &parsed),
            };
            assert!(verifies(data).is_ok(), "RSA with a {digest_len}-byte hash");
            assert!(verifies(b"<ds:SignedInfo> </ds:SignedInfo>").is_err());
        }
        let (ec_pair, _) = Certified::self_signed("t", "einvoicing", "sri").unwrap();
        let signature = ec_pair.sign_raw(RawHash::Sha256, data).unwrap();
        assert_eq!(signature.len(), 64, "r‖s, not DER");
        let Key::P256(k) = &ec_pair.key else { panic!("a P-256 key") };
        let parsed = p256::ecdsa::Signature::from_slice(&signature).unwrap();
        assert!(k.verifying_key().verify(data, &parsed).is_ok());
        assert!(matches!(ec_pair.sign_raw(RawHash::Sha1, data), Err(X509Error::Hash)));
    }

    #[test]
    fn an_installed_key_must_belong_to_its_certificate() {
        let (a, _) = Certified::self_signed("a", "gdi", "x").unwrap();
        let (_, other_key) = Certified::self_signed("b", "gdi", "x").unwrap();
        let cert_pem = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, a.der()).unwrap();
        let key_pem = der::pem::encode_string("PRIVATE KEY", der::pem::LineEnding::LF, &other_key).unwrap();
        assert!(matches!(Certified::from_pem(&cert_pem, &key_pem), Err(X509Error::Mismatch)));
        assert!(matches!(Certified::from_pem("junk", &key_pem), Err(X509Error::Certificate(_))));
    }
}
