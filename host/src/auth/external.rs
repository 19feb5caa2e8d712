//! Tokens from an external identity provider (Auth0 or any OIDC provider):
//! RS256 only, keys from its JWKS, issuer and audience always checked.
//!
//! The JWKS is cached; a token with an unknown `kid` triggers a refetch at
//! most once a minute (key rotation at the provider), so a flood of forged
//! `kid`s cannot turn Plaza into a flood of requests to the provider.
//! Symmetric and non-RSA keys in the JWKS are dropped: an attacker who slips
//! an `oct` key into it cannot make Plaza accept HMAC tokens.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};

use super::AuthError;
use crate::config::Config;

/// Least time between two JWKS fetches.
const REFETCH_EVERY: Duration = Duration::from_secs(60);
/// Keys older than this are refetched before use, so a key the provider
/// withdrew stops being trusted within this time.
const MAX_KEY_AGE: Duration = Duration::from_secs(3600);
/// Largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// What Plaza takes from an external token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    pub subject: String,
    pub tenant: Option<String>,
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
}

/// The configured external provider.
pub struct ExternalIdp {
    jwks_url: String,
    issuer: String,
    audience: String,
    tenant_claim: String,
    roles_claim: String,
    client: reqwest::Client,
    cache: RwLock<Cache>,
    fetching: Mutex<()>,
}

impl std::fmt::Debug for ExternalIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalIdp").field("issuer", &self.issuer).finish()
    }
}

impl ExternalIdp {
    /// The provider of the configuration, or `None` when `jwks_url` is empty.
    pub fn from_config(config: &Config) -> Option<Self> {
        if config.jwks_url.is_empty() {
            return None;
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .inspect_err(|e| tracing::error!(error = %e, "cannot build the JWKS client"))
            .ok()?;
        Some(Self {
            jwks_url: config.jwks_url.clone(),
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            tenant_claim: config.tenant_claim.clone(),
            roles_claim: config.roles_claim.clone(),
            client,
            cache: RwLock::new(Cache::default()),
            fetching: Mutex::new(()),
        })
    }

    /// Verifies an external token and maps its claims.
    pub async fn verify(&self, token: &str, header: &Header) -> Result<ExternalIdentity, AuthError> {
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::InvalidToken("external tokens must be RS256"));
        }
        let kid = header.kid.as_deref().ok_or(AuthError::InvalidToken("the token has no key id"))?;
        if self.cache.read().await.fetched_at.is_some_and(|t| t.elapsed() > MAX_KEY_AGE) {
            self.refetch_if_due().await;
        }
        let key = match self.key(kid).await {
            Some(k) => k,
            None => {
                self.refetch_if_due().await;
                self.key(kid).await.ok_or(AuthError::InvalidToken("unknown signing key"))?
            }
        };
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(|_| AuthError::InvalidToken("the token is not valid"))?;
        if data.claims["sub"].as_str().is_none_or(str::is_empty) {
            return Err(AuthError::InvalidToken("the token has no subject"));
        }
        Ok(self.map_claims(&data.claims))
    }

    async fn key(&self, kid: &str) -> Option<DecodingKey> {
        self.cache.read().await.keys.get(kid).cloned()
    }

    async fn refetch_if_due(&self) {
        let _one_at_a_time = self.fetching.lock().await;
        if self.cache.read().await.fetched_at.is_some_and(|t| t.elapsed() < REFETCH_EVERY) {
            return;
        }
        let fetched = self.fetch().await;
        let mut cache = self.cache.write().await;
        cache.fetched_at = Some(Instant::now());
        match fetched {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "external JWKS fetched");
                cache.keys = keys;
            }
            Err(e) => tracing::warn!(error = %e, "external JWKS fetch failed; keeping the cached keys"),
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, String> {
        let resp = self.client.get(&self.jwks_url).send().await.map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("JWKS answered {}", resp.status()));
        }
        if resp.content_length().is_some_and(|l| l > MAX_JWKS_BYTES as u64) {
            return Err("JWKS too large".into());
        }
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        if body.len() > MAX_JWKS_BYTES {
            return Err("JWKS too large".into());
        }
        let doc: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        Ok(rsa_keys(&doc))
    }

    fn map_claims(&self, claims: &Value) -> ExternalIdentity {
        let strings = |v: &Value| -> Vec<String> {
            match v {
                Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
                Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
                _ => Vec::new(),
            }
        };
        let mut scopes = strings(&claims["scope"]);
        scopes.extend(strings(&claims["permissions"]));
        ExternalIdentity {
            subject: claims["sub"].as_str().unwrap_or_default().to_owned(),
            tenant: claims.get(&self.tenant_claim).and_then(Value::as_str).map(str::to_owned),
            roles: claims.get(&self.roles_claim).map(strings).unwrap_or_default(),
            scopes,
        }
    }
}

/// The RSA signing keys of a JWKS document, by kid; every other key is
/// dropped. Each key is read as a `jsonwebtoken` [`Jwk`] on its own, so a
/// key of a type the crate does not know costs that key, not the set.
fn rsa_keys(doc: &Value) -> HashMap<String, DecodingKey> {
    let mut keys = HashMap::new();
    for raw in doc["keys"].as_array().into_iter().flatten() {
        let Ok(jwk) = serde_json::from_value::<Jwk>(raw.clone()) else {
            tracing::warn!(kty = raw["kty"].as_str().unwrap_or("?"), "ignoring an unreadable JWKS key");
            continue;
        };
        let common = &jwk.common;
        let Some(kid) = common.key_id.as_deref() else { continue };
        let usable = matches!(jwk.algorithm, AlgorithmParameters::RSA(_))
            && common.key_algorithm.is_none_or(|a| a == KeyAlgorithm::RS256)
            && common.public_key_use.as_ref().is_none_or(|u| *u == PublicKeyUse::Signature);
        if !usable {
            tracing::warn!(kid, "ignoring a non-RSA or non-signing JWKS key");
            continue;
        }
        if let Ok(key) = DecodingKey::from_jwk(&jwk) {
            keys.insert(kid.to_owned(), key);
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rsa_signing_keys_are_kept() {
        let doc = serde_json::json!({ "keys": [
            { "kty": "oct", "kid": "sym", "k": "c2VjcmV0", "alg": "HS256" },
            { "kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB" },
            { "kty": "RSA", "kid": "ok", "use": "sig", "alg": "RS256", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB" },
        ]});
        let keys = rsa_keys(&doc);
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["ok"]);
    }
}
