//! Who is calling, and what they may do.
//!
//! One place resolves every credential (host-issued JWT, external IdP JWT,
//! API key, operator token, auth cookie) into a [`principal::Principal`], and
//! one function decides tenant access ([`principal::authorize`]); host routes
//! use them now and module routes will later.

pub mod accounts;
pub mod api_keys;
pub mod email;
pub mod external;
pub mod keys;
pub mod limits;
pub mod members;
pub mod mfa;
pub mod operator;
pub mod passwords;
pub mod principal;
pub mod roles;
pub mod secrets;
pub mod tokens;

use crate::db::DbError;

/// Why an identity operation failed, before it is mapped to HTTP.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the email or password is wrong")]
    InvalidCredentials,
    #[error("the code is wrong, expired or already used")]
    InvalidCode,
    #[error("invalid credentials: {0}")]
    InvalidToken(&'static str),
    #[error("this refresh token was already used; every session of its family is revoked")]
    RefreshReused,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("too many attempts; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for AuthError {
    fn from(e: sqlx::Error) -> Self {
        AuthError::Db(e.into())
    }
}

use crate::config::{Config, Registration};
use crate::db::Db;
use external::ExternalIdp;
use keys::{KeyError, KeyRing};
use limits::AuthLimits;
use operator::OperatorKey;
use principal::Principal;

/// Everything identity needs, built once at start-up.
pub struct Identity {
    pub keys: KeyRing,
    /// `iss` of host-issued tokens.
    pub issuer: String,
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
    pub registration: Registration,
    pub external: Option<ExternalIdp>,
    pub limits: AuthLimits,
    pub cookie_secure: bool,
    /// The names of cookie mode's cookies (prefixed when `Secure`).
    pub cookies: CookieNames,
    pub mailer: Option<mail::Mailer>,
}

pub mod mail;

/// The cookies of cookie mode (browser front ends), by name.
///
/// With `Secure` (the default) they carry the prefixes that make a browser
/// refuse them unless they come from this very host over HTTPS, with no
/// `Domain` (so no sibling host, a module content origin among them, ever
/// receives them): `__Host-` for the two at `Path=/`, `__Secure-` for the
/// refresh cookie, whose path is narrower than `__Host-` allows. Plain HTTP
/// (development) cannot carry prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieNames {
    /// The access token (HttpOnly).
    pub access: &'static str,
    /// The refresh token (HttpOnly, sent to the auth routes only).
    pub refresh: &'static str,
    /// The CSRF token (HttpOnly; pages get it from the sign-in answer or
    /// `GET /api/v1/auth/csrf`), repeated in `X-CSRF-Token`.
    pub csrf: &'static str,
}

impl CookieNames {
    pub fn new(secure: bool) -> Self {
        if secure {
            Self { access: "__Host-plaza_access", refresh: "__Secure-plaza_refresh", csrf: "__Host-plaza_csrf" }
        } else {
            Self { access: "plaza_access", refresh: "plaza_refresh", csrf: "plaza_csrf" }
        }
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("issuer", &self.issuer).field("keys", &self.keys).finish()
    }
}

impl Identity {
    pub fn from_config(config: &Config) -> Result<Self, KeyError> {
        Ok(Self {
            keys: KeyRing::load_or_create(&config.data_dir)?,
            issuer: config.public_url.trim_end_matches('/').to_owned(),
            access_ttl_secs: config.access_token_ttl_secs,
            refresh_ttl_secs: config.refresh_token_ttl_secs,
            registration: config.registration,
            external: ExternalIdp::from_config(config),
            limits: AuthLimits::from_config(config),
            cookie_secure: config.cookie_secure,
            cookies: CookieNames::new(config.cookie_secure),
            mailer: mail::Mailer::from_config(config),
        })
    }
}

/// Resolves a bearer credential: an API key, the operator token, a
/// host-issued JWT (its `kid` is one of ours) or an external IdP's JWT.
pub async fn resolve_bearer(
    db: &Db,
    identity: &Identity,
    operator: &OperatorKey,
    token: &str,
) -> Result<Principal, AuthError> {
    if token.starts_with(api_keys::PREFIX) {
        return api_keys::authenticate(db, token).await;
    }
    if operator.verify(token) {
        // A generated bootstrap token is for empty installs: once an
        // operator account exists, operators sign in.
        if !operator.configured() && accounts::operator_exists(db).await? {
            return Err(AuthError::InvalidToken("the bootstrap operator token is retired; sign in as an operator"));
        }
        return Ok(Principal::OperatorToken);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::InvalidToken("malformed token"))?;
    if let Some(kid) = header.kid.as_deref().filter(|k| identity.keys.verifier(k).is_some()) {
        let claims = tokens::verify(&identity.keys, &identity.issuer, token, kid, tokens::PURPOSE_ACCESS)?;
        let (email, operator) =
            accounts::lookup(db, &claims.sub).await?.ok_or(AuthError::InvalidToken("the account no longer exists"))?;
        return Ok(Principal::User { id: claims.sub, email, operator });
    }
    match &identity.external {
        Some(idp) => Ok(Principal::External(idp.verify(token, &header).await?)),
        None => Err(AuthError::InvalidToken("unknown signing key")),
    }
}
