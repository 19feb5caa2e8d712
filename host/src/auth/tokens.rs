//! Host-issued access tokens: EdDSA JWTs, short-lived, verified with the
//! algorithm pinned (never taken from the token's header).

use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};

use super::AuthError;
use super::keys::KeyRing;

/// The audience of every host-issued token.
pub const AUDIENCE: &str = "plaza";
/// What an access token is for.
pub const PURPOSE_ACCESS: &str = "access";
/// A token proving the password step of a sign-in that still needs MFA.
pub const PURPOSE_MFA: &str = "mfa";
/// How long the MFA step may take after the password step.
pub const MFA_TTL_SECS: u64 = 300;

/// Claims of a host-issued token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    pub exp: u64,
    pub nbf: u64,
    pub iat: u64,
    pub jti: String,
    /// `access` or `mfa`.
    pub purpose: String,
    /// How the user authenticated: `pwd`, plus `mfa` after a second factor.
    #[serde(default)]
    pub amr: Vec<String>,
}

fn now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// Signs a token for `user_id`.
pub fn issue(
    keys: &KeyRing,
    issuer: &str,
    user_id: &str,
    purpose: &str,
    amr: &[&str],
    ttl_secs: u64,
) -> Result<String, AuthError> {
    let (kid, key) = keys.signer().ok_or_else(|| AuthError::Internal("no signing key".into()))?;
    let now = now();
    let claims = Claims {
        iss: issuer.to_owned(),
        aud: AUDIENCE.to_owned(),
        sub: user_id.to_owned(),
        exp: now + ttl_secs,
        nbf: now,
        iat: now,
        jti: uuid::Uuid::now_v7().to_string(),
        purpose: purpose.to_owned(),
        amr: amr.iter().map(|s| (*s).to_owned()).collect(),
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, &claims, key).map_err(|e| AuthError::Internal(format!("signing failed: {e}")))
}

/// Verifies a host token whose header names one of our keys: EdDSA only,
/// signature, `exp`, `nbf`, `iss`, `aud` and the expected purpose.
pub fn verify(keys: &KeyRing, issuer: &str, token: &str, kid: &str, purpose: &str) -> Result<Claims, AuthError> {
    let key = keys.verifier(kid).ok_or(AuthError::InvalidToken("unknown signing key"))?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = 30;
    let data = jsonwebtoken::decode::<Claims>(token, key, &validation)
        .map_err(|_| AuthError::InvalidToken("the token is not valid"))?;
    if data.claims.purpose != purpose {
        return Err(AuthError::InvalidToken("the token is not meant for this"));
    }
    Ok(data.claims)
}
