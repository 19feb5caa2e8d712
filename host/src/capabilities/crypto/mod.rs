//! The `crypto` capability: hashes and MACs, Ed25519 signatures with a
//! key the host keeps per (tenant, module) — created on first use, never
//! handed to the module — and (since 1.1) detached CMS signatures with the
//! pair's named X.509 certificates ([`x509`]).

pub mod certificates;
pub mod x509;

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};

use wasmtime::component::{HasSelf, Linker};

use self::x509::Certified;
use super::{CallState, CapError, InitContext, InitError, Prepare, Scope, Services, Unit};
use crate::contract::{Capability, Manifest};
use crate::contract::plaza::module::crypto::{self as wit, Host};

/// The `crypto` unit: the signing keys loaded this process; nothing per call.
pub struct Crypto;

impl Unit for Crypto {
    const CAPABILITY: Capability = Capability::Crypto;
    type Shared = KeyCache;
    type PerCall = ();

    type Grant = ();

    async fn init(_: &InitContext<'_>) -> Result<KeyCache, InitError> {
        Ok(KeyCache::default())
    }

    fn configure(_: &Manifest) {}

    fn prepare(_: &KeyCache, _: &Prepare<'_>) {}

    fn link<T: Send + 'static>(linker: &mut Linker<T>, get: fn(&mut T) -> &mut CallState) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<CallState>>(linker, get)
    }
}

/// Largest input to hash, MAC or sign in one call.
const MAX_INPUT_BYTES: usize = 16 << 20;

/// Keys loaded this process: Ed25519 by (tenant, module), certificates by
/// (tenant, module, name).
pub struct KeyCache {
    keys: quick_cache::sync::Cache<(String, String), Arc<Ed25519KeyPair>>,
    certificates: quick_cache::sync::Cache<(String, String, String), Arc<Certified>>,
}

impl Default for KeyCache {
    fn default() -> Self {
        Self { keys: quick_cache::sync::Cache::new(4096), certificates: quick_cache::sync::Cache::new(1024) }
    }
}

impl KeyCache {
    /// Forgets the keys and certificates of a pair (its rows were deleted:
    /// purge).
    pub fn remove(&self, tenant: &str, module: &str) {
        self.keys.remove(&(tenant.to_owned(), module.to_owned()));
        self.certificates.retain(|(t, m, _), _| !(t == tenant && m == module));
    }

    /// Forgets a tenant's certificates (the change feed says the tenant
    /// changed: perhaps another process installed one).
    pub fn forget_tenant_certificates(&self, tenant: &str) {
        self.certificates.retain(|(t, _, _), _| t != tenant);
    }

    /// Forgets every certificate (the change feed was interrupted).
    pub fn forget_all_certificates(&self) {
        self.certificates.clear();
    }

    /// Forgets one certificate (a tenant admin installed another).
    pub fn forget_certificate(&self, tenant: &str, module: &str, name: &str) {
        self.certificates.remove(&(tenant.to_owned(), module.to_owned(), name.to_owned()));
    }
}

fn failed(e: impl std::fmt::Display) -> CapError {
    tracing::error!(error = %e, "crypto capability failed");
    CapError::unavailable("the signing key is not available; try again")
}

/// The key of a pair: from memory, else the database, else made and stored.
async fn key_of(services: &Services, scope: &Scope) -> Result<Arc<Ed25519KeyPair>, CapError> {
    let id = (scope.tenant.clone(), scope.module().to_owned());
    if let Some(k) = services.crypto.keys.get(&id) {
        return Ok(k);
    }
    let pool = services.db.pool();
    let load = || async {
        sqlx::query_as::<_, (Vec<u8>,)>("SELECT private_key FROM module_keys WHERE tenant_id = $1 AND module = $2")
            .bind(&scope.tenant)
            .bind(scope.module())
            .fetch_optional(pool)
            .await
    };
    let pkcs8 = match load().await.map_err(failed)? {
        Some((k,)) => k,
        None => {
            let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(failed)?;
            let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).map_err(failed)?;
            // Two calls racing here: the first insert wins, both read it back.
            sqlx::query(
                "INSERT INTO module_keys (tenant_id, module, private_key, public_key, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, module) DO NOTHING",
            )
            .bind(&scope.tenant)
            .bind(scope.module())
            .bind(doc.as_ref().to_vec())
            .bind(pair.public_key().as_ref().to_vec())
            .bind(crate::db::now())
            .execute(pool)
            .await
            .map_err(failed)?;
            load().await.map_err(failed)?.map(|(k,)| k).ok_or_else(|| failed("key vanished"))?
        }
    };
    let pair = Arc::new(Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(failed)?);
    services.crypto.keys.insert(id, Arc::clone(&pair));
    Ok(pair)
}

/// Certificate names: what a module's config names them by.
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The certificate `name` of a pair: from memory, else the database, else
/// a self-signed test certificate made and stored.
async fn certificate_of(services: &Services, scope: &Scope, name: &str) -> Result<Arc<Certified>, CapError> {
    if !valid_name(name) {
        return Err(CapError::invalid("a certificate name has 1 to 64 letters, digits, `-`, `_` or `.`"));
    }
    let id = (scope.tenant.clone(), scope.module().to_owned(), name.to_owned());
    if let Some(c) = services.crypto.certificates.get(&id) {
        return Ok(c);
    }
    let stored = match certificates::load(&services.db, &scope.tenant, scope.module(), name).await.map_err(failed)? {
        Some(stored) => stored,
        None => {
            let (tenant, module, n) = id.clone();
            let (made, pkcs8) = tokio::task::spawn_blocking(move || Certified::self_signed(&tenant, &module, &n))
                .await
                .map_err(failed)?
                .map_err(failed)?;
            tracing::warn!(
                tenant = %scope.tenant,
                module = %scope.module(),
                certificate = name,
                "no certificate installed: made a self-signed one, for testing only"
            );
            certificates::insert_if_absent(&services.db, &scope.tenant, scope.module(), name, made.der(), &pkcs8, true)
                .await
                .map_err(failed)?;
            certificates::load(&services.db, &scope.tenant, scope.module(), name)
                .await
                .map_err(failed)?
                .ok_or_else(|| failed("certificate vanished"))?
        }
    };
    let certified = Arc::new(stored);
    services.crypto.certificates.insert(id, Arc::clone(&certified));
    Ok(certified)
}

impl CallState {
    /// Pure functions have no error channel: an undeclared use traps the call.
    fn crypto_declared(&self) -> wasmtime::Result<()> {
        match self.scope_for(Capability::Crypto) {
            Ok(_) => Ok(()),
            Err(_) => Err(wasmtime::Error::msg("the module used crypto without declaring it in its manifest")),
        }
    }
}

fn bounded(data: &[u8]) -> wasmtime::Result<()> {
    if data.len() > MAX_INPUT_BYTES {
        return Err(wasmtime::Error::msg("crypto input above 16 MiB"));
    }
    Ok(())
}

impl Host for CallState {
    async fn sha256(&mut self, data: Vec<u8>) -> wasmtime::Result<Vec<u8>> {
        self.crypto_declared()?;
        bounded(&data)?;
        Ok(Sha256::digest(&data).to_vec())
    }

    async fn hmac_sha256(&mut self, key: Vec<u8>, data: Vec<u8>) -> wasmtime::Result<Vec<u8>> {
        self.crypto_declared()?;
        bounded(&data)?;
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key);
        Ok(aws_lc_rs::hmac::sign(&key, &data).as_ref().to_vec())
    }

    async fn sign(&mut self, data: Vec<u8>) -> Result<Vec<u8>, CapError> {
        let scope = self.scope_for(Capability::Crypto)?;
        if data.len() > MAX_INPUT_BYTES {
            return Err(CapError::limit("sign at most 16 MiB; sign a hash of larger data"));
        }
        let key = key_of(self.services(), &scope).await?;
        Ok(key.sign(&data).as_ref().to_vec())
    }

    async fn public_key(&mut self) -> Result<Vec<u8>, CapError> {
        let scope = self.scope_for(Capability::Crypto)?;
        let key = key_of(self.services(), &scope).await?;
        Ok(key.public_key().as_ref().to_vec())
    }

    async fn verify(&mut self, data: Vec<u8>, signature: Vec<u8>, public_key: Vec<u8>) -> wasmtime::Result<bool> {
        self.crypto_declared()?;
        bounded(&data)?;
        Ok(UnparsedPublicKey::new(&ED25519, &public_key).verify(&data, &signature).is_ok())
    }

    async fn sign_cms(&mut self, name: String, digest: Vec<u8>) -> Result<Vec<u8>, CapError> {
        let scope = self.scope_for(Capability::Crypto)?;
        if digest.len() != 32 {
            return Err(CapError::invalid("the digest is a SHA-256: 32 bytes"));
        }
        let certified = certificate_of(self.services(), &scope, &name).await?;
        // An RSA signature takes milliseconds: off the async threads.
        tokio::task::spawn_blocking(move || certified.sign_detached(&digest)).await.map_err(failed)?.map_err(failed)
    }

    async fn sign_raw(&mut self, name: String, hash: wit::HashAlgorithm, data: Vec<u8>) -> Result<Vec<u8>, CapError> {
        let scope = self.scope_for(Capability::Crypto)?;
        if data.len() > MAX_INPUT_BYTES {
            return Err(CapError::limit("sign at most 16 MiB; sign a hash of larger data"));
        }
        let hash = match hash {
            wit::HashAlgorithm::Sha1 => x509::RawHash::Sha1,
            wit::HashAlgorithm::Sha256 => x509::RawHash::Sha256,
        };
        let certified = certificate_of(self.services(), &scope, &name).await?;
        let signed = tokio::task::spawn_blocking(move || certified.sign_raw(hash, &data)).await.map_err(failed)?;
        signed.map_err(|e| match e {
            x509::X509Error::Hash => CapError::invalid(e.to_string()),
            e => failed(e),
        })
    }

    async fn certificate(&mut self, name: String) -> Result<Vec<u8>, CapError> {
        let scope = self.scope_for(Capability::Crypto)?;
        Ok(certificate_of(self.services(), &scope, &name).await?.der().to_vec())
    }
}
