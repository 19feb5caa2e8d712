//! The host's token signing keys (Ed25519), kept as files under
//! `{data_dir}/keys/` with 0600 permissions.
//!
//! The newest key signs; every key on disk verifies and is published in the
//! JWKS, so a key can be rotated (`plaza keys rotate`) without invalidating
//! tokens already issued. A key is retired by deleting its file once the
//! tokens it signed have expired.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Why the keys could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key directory {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("key file {0} is not an Ed25519 PKCS#8 key")]
    Malformed(String),
    #[error("key generation failed")]
    Generate,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io { path: path.display().to_string(), source }
}

struct Key {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    x: String,
}

/// Every signing key of this install, loaded once at start-up.
pub struct KeyRing {
    keys: Vec<Key>,
    by_kid: HashMap<String, usize>,
    jwks: Value,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").field("kids", &self.by_kid.keys().collect::<Vec<_>>()).finish()
    }
}

/// The directory holding the key files.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("keys")
}

impl KeyRing {
    /// Loads the keys, generating the first one when there is none.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, KeyError> {
        let dir = dir(data_dir);
        if Self::files(&dir)?.is_empty() {
            generate(&dir)?;
        }
        Self::load(&dir)
    }

    fn files(dir: &Path) -> Result<Vec<PathBuf>, KeyError> {
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io(dir))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "p8"))
            .collect();
        // File names start with a UTC timestamp: sorted oldest first.
        files.sort();
        Ok(files)
    }

    fn load(dir: &Path) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for path in Self::files(dir)? {
            let der = std::fs::read(&path).map_err(io(&path))?;
            let pair = Ed25519KeyPair::from_pkcs8(&der).map_err(|_| KeyError::Malformed(path.display().to_string()))?;
            let public = pair.public_key().as_ref().to_vec();
            let x = URL_SAFE_NO_PAD.encode(&public);
            let kid = kid_of(&public);
            let decoding =
                DecodingKey::from_ed_components(&x).map_err(|_| KeyError::Malformed(path.display().to_string()))?;
            keys.push(Key { kid, encoding: EncodingKey::from_ed_der(&der), decoding, x });
        }
        keys.reverse(); // newest first: keys[0] signs
        let by_kid = keys.iter().enumerate().map(|(i, k)| (k.kid.clone(), i)).collect();
        let jwks = json!({
            "keys": keys.iter().map(|k| json!({
                "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": k.kid, "x": k.x,
            })).collect::<Vec<_>>()
        });
        Ok(Self { keys, by_kid, jwks })
    }

    /// The signing key: (kid, key).
    pub fn signer(&self) -> Option<(&str, &EncodingKey)> {
        self.keys.first().map(|k| (k.kid.as_str(), &k.encoding))
    }

    /// The verifying key of `kid`, if it is one of ours.
    pub fn verifier(&self, kid: &str) -> Option<&DecodingKey> {
        self.by_kid.get(kid).map(|&i| &self.keys[i].decoding)
    }

    /// The public JWKS document.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }
}

fn kid_of(public: &[u8]) -> String {
    hex::encode(&Sha256::digest(public)[..8])
}

/// Writes a new key file (0600, in a 0700 directory); returns its kid.
pub fn generate(dir: &Path) -> Result<String, KeyError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
    let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| KeyError::Generate)?;
    let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).map_err(|_| KeyError::Generate)?;
    let kid = kid_of(pair.public_key().as_ref());
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let path = dir.join(format!("{stamp}-{kid}.p8"));
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(io(&path))?;
    file.write_all(doc.as_ref()).map_err(io(&path))?;
    file.sync_all().map_err(io(&path))?;
    Ok(kid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_makes_a_private_key_and_rotation_keeps_old_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let ring = KeyRing::load_or_create(tmp.path()).unwrap();
        let (kid1, _) = ring.signer().unwrap();
        let kid1 = kid1.to_owned();
        let file = std::fs::read_dir(dir(tmp.path())).unwrap().next().unwrap().unwrap();
        assert_eq!(file.metadata().unwrap().permissions().mode() & 0o777, 0o600);

        std::thread::sleep(std::time::Duration::from_millis(5));
        let kid2 = generate(&dir(tmp.path())).unwrap();
        let ring = KeyRing::load_or_create(tmp.path()).unwrap();
        assert_eq!(ring.signer().unwrap().0, kid2, "the newest key signs");
        assert!(ring.verifier(&kid1).is_some(), "the old key still verifies");
        assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 2);
        assert!(!ring.jwks().to_string().contains("\"d\""), "no private part published");
    }
}
