//! Hashes, MACs and Ed25519 signatures (capability `crypto`), and since
//! `plaza:module@1.1` detached CMS signatures with the tenant's X.509
//! certificates for this module (PDF signatures, `.p7s` files, XML
//! signatures). Signing uses keys the host keeps: the module never sees a
//! private key.

use crate::Result;
use crate::bindings::plaza::module::crypto as wit;

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Vec<u8> {
    wit::sha256(data)
}

/// HMAC-SHA-256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    wit::hmac_sha256(key, data)
}

/// An Ed25519 signature of `data` with the tenant's key for this module.
pub fn sign(data: &[u8]) -> Result<Vec<u8>> {
    Ok(wit::sign(data)?)
}

/// The public half of that key (32 bytes).
pub fn public_key() -> Result<Vec<u8>> {
    Ok(wit::public_key()?)
}

/// Whether `signature` is a valid Ed25519 signature of `data` by `public_key`.
pub fn verify(data: &[u8], signature: &[u8], public_key: &[u8]) -> bool {
    wit::verify(data, signature, public_key)
}

/// A detached CMS `SignedData` (DER) over content whose SHA-256 is
/// `digest`, made with this module's certificate `name` for the tenant (the
/// host makes a self-signed test certificate on first use until a tenant
/// admin installs a real one). It is what a PDF signature's `/Contents`
/// holds. Since `plaza:module@1.1`.
pub fn sign_cms(name: &str, digest: &[u8; 32]) -> Result<Vec<u8>> {
    Ok(wit::sign_cms(name, digest)?)
}

/// The DER X.509 certificate `name` of this module for the tenant. Since
/// `plaza:module@1.1`.
pub fn certificate(name: &str) -> Result<Vec<u8>> {
    Ok(wit::certificate(name)?)
}

/// The hash a [`sign_raw`] signature is made over.
pub use wit::HashAlgorithm;

/// A bare signature over `data` with the key of this module's certificate
/// `name` for the tenant, as XML-DSig (XAdES) and JWS carry it: RSA
/// PKCS#1 v1.5, or ECDSA P-256 as r‖s (64 bytes). The host hashes `data`
/// with `hash`; SHA-1 works with RSA keys only (the SRI's XAdES profile).
/// Since `plaza:module@1.1`.
pub fn sign_raw(name: &str, hash: HashAlgorithm, data: &[u8]) -> Result<Vec<u8>> {
    Ok(wit::sign_raw(name, hash, data)?)
}

/// Lower-case hex, the usual way to show a digest.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lower_case() {
        assert_eq!(super::to_hex(&[0x00, 0xab, 0x0f, 0xff]), "00ab0fff");
    }
}
