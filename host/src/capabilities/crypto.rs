//! The `crypto` capability: hashes and MACs, and Ed25519 signatures with a
//! key the host keeps per (tenant, module) — created on first use, never
//! handed to the module.

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};

use wasmtime::component::{HasSelf, Linker};

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

/// Keys loaded this process, by (tenant, module).
pub struct KeyCache(quick_cache::sync::Cache<(String, String), Arc<Ed25519KeyPair>>);

impl Default for KeyCache {
    fn default() -> Self {
        Self(quick_cache::sync::Cache::new(4096))
    }
}

impl KeyCache {
    /// Forgets the key of a pair (its row was deleted: purge).
    pub fn remove(&self, tenant: &str, module: &str) {
        self.0.remove(&(tenant.to_owned(), module.to_owned()));
    }
}

fn failed(e: impl std::fmt::Display) -> CapError {
    tracing::error!(error = %e, "crypto capability failed");
    CapError::unavailable("the signing key is not available; try again")
}

/// The key of a pair: from memory, else the database, else made and stored.
async fn key_of(services: &Services, scope: &Scope) -> Result<Arc<Ed25519KeyPair>, CapError> {
    let id = (scope.tenant.clone(), scope.module().to_owned());
    if let Some(k) = services.crypto.0.get(&id) {
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
    services.crypto.0.insert(id, Arc::clone(&pair));
    Ok(pair)
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
}
