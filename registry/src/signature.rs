//! Publisher keys and package signatures.
//!
//! A package is a component plus a [`PackageSignature`]: an Ed25519
//! signature, by a publisher key, over the SHA-256 of the component. The
//! signature names the public key that made it, so a host checks it
//! against the keys its operator trusts (`PLAZA_TRUSTED_PUBLISHERS`) without
//! trying each one. Keys travel as text: `ed25519:<base64 of 32 bytes>` for
//! public keys, and the same with `ed25519-secret:` for the secret seed,
//! which only the publisher keeps.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

const PUBLIC_PREFIX: &str = "ed25519:";
const SECRET_PREFIX: &str = "ed25519-secret:";

/// Why a key or a signature was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("not a publisher key: expected `{PUBLIC_PREFIX}<base64 of 32 bytes>`")]
    BadPublicKey,
    #[error("not a publisher secret key: expected `{SECRET_PREFIX}<base64 of 32 bytes>`")]
    BadSecretKey,
    #[error("the signature is not valid JSON of a package signature: {0}")]
    BadFormat(String),
    #[error("the signature was made for another component (sha256 {signed}, this one is {actual})")]
    WrongComponent { signed: String, actual: String },
    #[error("the signature does not verify with its key: the component or the signature was altered")]
    Invalid,
    #[error("the package is not signed: sign it with `plaza module sign` and a publisher key this host trusts")]
    Missing,
    #[error("the package is signed by {0}, which this host does not trust")]
    Untrusted(String),
    #[error("no random numbers from the operating system: {0}")]
    Random(String),
}

/// A publisher's key pair.
pub struct PublisherKey {
    signing: SigningKey,
}

impl std::fmt::Debug for PublisherKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("PublisherKey").field("public", &self.public_text()).finish()
    }
}

impl PublisherKey {
    /// A new random key.
    pub fn generate() -> Result<Self, SignatureError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| SignatureError::Random(e.to_string()))?;
        Ok(Self { signing: SigningKey::from_bytes(&seed) })
    }

    /// Reads `ed25519-secret:<base64>`.
    pub fn from_secret_text(text: &str) -> Result<Self, SignatureError> {
        let seed = decode32(text.trim(), SECRET_PREFIX).ok_or(SignatureError::BadSecretKey)?;
        Ok(Self { signing: SigningKey::from_bytes(&seed) })
    }

    /// The secret seed as text, for the publisher's key file only.
    pub fn secret_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", B64.encode(self.signing.to_bytes()))
    }

    /// The public key as text, for operators to trust.
    pub fn public_text(&self) -> String {
        format!("{PUBLIC_PREFIX}{}", B64.encode(self.signing.verifying_key().to_bytes()))
    }

    /// Signs a component.
    pub fn sign(&self, wasm: &[u8]) -> PackageSignature {
        let sha256 = hex::encode(Sha256::digest(wasm));
        let signature = self.signing.sign(sha256.as_bytes());
        PackageSignature { sha256, key: self.public_text(), signature: B64.encode(signature.to_bytes()) }
    }
}

fn decode32(text: &str, prefix: &str) -> Option<[u8; 32]> {
    let bytes = B64.decode(text.strip_prefix(prefix)?).ok()?;
    bytes.try_into().ok()
}

/// The signature of one package, stored and sent as JSON next to the wasm.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageSignature {
    /// Hex SHA-256 of the component: what was signed (as its hex text).
    pub sha256: String,
    /// The publisher's public key, `ed25519:<base64>`.
    pub key: String,
    /// Base64 of the 64-byte Ed25519 signature.
    pub signature: String,
}

impl PackageSignature {
    pub fn from_json(text: &[u8]) -> Result<Self, SignatureError> {
        serde_json::from_slice(text).map_err(|e| SignatureError::BadFormat(e.to_string()))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks that this signature is over `wasm` and verifies with its key
    /// (strict Ed25519 verification: no malleable signatures).
    pub fn verify(&self, wasm: &[u8]) -> Result<(), SignatureError> {
        let actual = hex::encode(Sha256::digest(wasm));
        if actual != self.sha256 {
            return Err(SignatureError::WrongComponent { signed: self.sha256.clone(), actual });
        }
        let key = decode32(&self.key, PUBLIC_PREFIX).ok_or(SignatureError::BadPublicKey)?;
        let key = VerifyingKey::from_bytes(&key).map_err(|_| SignatureError::BadPublicKey)?;
        let sig: [u8; 64] =
            B64.decode(&self.signature).ok().and_then(|b| b.try_into().ok()).ok_or(SignatureError::Invalid)?;
        key.verify_strict(self.sha256.as_bytes(), &Signature::from_bytes(&sig)).map_err(|_| SignatureError::Invalid)
    }
}

/// The publisher keys an operator trusts.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: Vec<String>,
}

impl TrustedKeys {
    /// Parses a comma- or whitespace-separated list of `ed25519:<base64>` keys.
    pub fn parse(list: &str) -> Result<Self, SignatureError> {
        let mut keys = Vec::new();
        for k in list.split([',', ' ', '\n', '\t']).map(str::trim).filter(|k| !k.is_empty()) {
            let bytes = decode32(k, PUBLIC_PREFIX).ok_or(SignatureError::BadPublicKey)?;
            VerifyingKey::from_bytes(&bytes).map_err(|_| SignatureError::BadPublicKey)?;
            keys.push(k.to_owned());
        }
        Ok(Self { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether `key` (`ed25519:<base64>`) is one of them.
    pub fn trusts(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k == key)
    }

    /// Verifies `signature` over `wasm`, and that its key is trusted.
    pub fn check(&self, wasm: &[u8], signature: &PackageSignature) -> Result<(), SignatureError> {
        signature.verify(wasm)?;
        if !self.keys.contains(&signature.key) {
            return Err(SignatureError::Untrusted(signature.key.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_signed_package_verifies_with_a_trusted_key() {
        let key = PublisherKey::generate().unwrap();
        let wasm = b"\0asm component bytes".to_vec();
        let sig = key.sign(&wasm);
        let trusted = TrustedKeys::parse(&format!("  {} , ", key.public_text())).unwrap();
        assert_eq!(trusted.check(&wasm, &sig), Ok(()));
        // Round trips: JSON, and the secret key text.
        let again = PackageSignature::from_json(sig.to_json().as_bytes()).unwrap();
        assert_eq!(again, sig);
        let reloaded = PublisherKey::from_secret_text(&key.secret_text()).unwrap();
        assert_eq!(reloaded.public_text(), key.public_text());
        assert!(!format!("{key:?}").contains(&key.secret_text()), "Debug never shows the secret");
    }

    #[test]
    fn untrusted_keys_tampered_components_and_forged_signatures_are_refused() {
        let publisher = PublisherKey::generate().unwrap();
        let stranger = PublisherKey::generate().unwrap();
        let wasm = b"component".to_vec();
        let trusted = TrustedKeys::parse(&publisher.public_text()).unwrap();

        let by_stranger = stranger.sign(&wasm);
        assert_eq!(trusted.check(&wasm, &by_stranger), Err(SignatureError::Untrusted(stranger.public_text())));

        let sig = publisher.sign(&wasm);
        let tampered = b"componenT".to_vec();
        assert!(matches!(trusted.check(&tampered, &sig), Err(SignatureError::WrongComponent { .. })));

        // The hash rewritten to the tampered wasm: the signature no longer verifies.
        let mut forged = sig.clone();
        forged.sha256 = hex::encode(Sha256::digest(&tampered));
        assert_eq!(trusted.check(&tampered, &forged), Err(SignatureError::Invalid));

        // A trusted key named on a stranger's signature does not verify.
        let mut borrowed = by_stranger;
        borrowed.key = publisher.public_text();
        assert_eq!(trusted.check(&wasm, &borrowed), Err(SignatureError::Invalid));
    }

    #[test]
    fn malformed_keys_and_signatures_are_errors() {
        assert_eq!(TrustedKeys::parse("rsa:abc").unwrap_err(), SignatureError::BadPublicKey);
        assert_eq!(TrustedKeys::parse("ed25519:AAAA").unwrap_err(), SignatureError::BadPublicKey);
        assert!(TrustedKeys::parse("").unwrap().is_empty());
        assert!(PublisherKey::from_secret_text("ed25519:AAAA").is_err());
        assert!(matches!(PackageSignature::from_json(b"{}"), Err(SignatureError::BadFormat(_))));
    }
}
