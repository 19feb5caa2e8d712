//! Built-in accounts: registration, sign-in (with a second factor when
//! enrolled), refresh-token rotation with reuse detection, sign-out,
//! password change.

use serde_json::json;
use sqlx::Acquire;

pub use super::email::normalise_email;
use super::{AuthError, Identity, members, mfa, passwords, secrets, tokens};
use crate::audit::{self, Actor};
use crate::config::Registration;
use crate::db::{self, Db};

/// Tokens handed to a client after sign-in or refresh.
#[derive(Debug, Clone, poem_openapi::Object)]
pub struct Tokens {
    /// EdDSA JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque; exchange it at `/api/v1/auth/refresh`. Each use returns a new one.
    pub refresh_token: String,
}

/// The result of the password step.
#[derive(Debug)]
pub enum Login {
    /// Signed in.
    Tokens(Tokens),
    /// The account has MFA: finish with this token and a code.
    MfaRequired { mfa_token: String },
}

/// An account as its owner sees it.
#[derive(Debug, Clone, poem_openapi::Object)]
pub struct Me {
    pub id: String,
    pub email: String,
    pub display_name: String,
    /// A platform operator administers every tenant.
    pub operator: bool,
    pub mfa_enabled: bool,
    pub memberships: Vec<Membership>,
}

/// A tenant the account belongs to.
#[derive(Debug, Clone, poem_openapi::Object)]
pub struct Membership {
    pub tenant: String,
    pub roles: Vec<String>,
}

/// What the database holds of an account, for sign-in.
pub struct UserRow {
    pub id: String,
    pub password_hash: Option<String>,
    pub mfa: bool,
}

pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<UserRow>, AuthError> {
    let row: Option<(String, Option<String>, i64)> = sqlx::query_as(
        "SELECT id, password_hash, CAST(CASE WHEN totp_secret IS NULL THEN 0 ELSE 1 END AS BIGINT) \
         FROM users WHERE email = $1",
    )
    .bind(email)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|(id, password_hash, mfa)| UserRow { id, password_hash, mfa: mfa == 1 }))
}

/// (email, operator) of a user id, if it exists.
pub async fn lookup(db: &Db, user_id: &str) -> Result<Option<(String, bool)>, AuthError> {
    let row: Option<(String, i64)> = sqlx::query_as(
        "SELECT email, CAST(CASE WHEN is_operator THEN 1 ELSE 0 END AS BIGINT) FROM users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|(e, o)| (e, o == 1)))
}

/// Creates an account (CLI and registration share it); returns its id.
pub async fn create_user(
    db: &Db,
    actor: &Actor,
    email: &str,
    password: &str,
    display_name: &str,
    operator: bool,
    invitation: Option<&str>,
) -> Result<String, AuthError> {
    let email = normalise_email(email)?;
    passwords::validate(password)?;
    let hash = passwords::hash(password).await?;
    let id = uuid::Uuid::now_v7().to_string();
    let now = db::now();
    let mut tx = db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, display_name, password_hash, is_operator, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (email) DO NOTHING",
    )
    .bind(&id)
    .bind(&email)
    .bind(display_name.trim())
    .bind(&hash)
    .bind(operator)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(AuthError::Conflict("an account with this email already exists".into()));
    }
    audit::record(tx.acquire().await?, actor, "user.create", None, json!({ "user_id": id, "operator": operator }))
        .await?;
    if let Some(token) = invitation {
        members::accept_in(tx.acquire().await?, token, &id, &email).await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// Self-service registration: open, or with an invitation.
pub async fn register(
    db: &Db,
    identity: &Identity,
    email: &str,
    password: &str,
    display_name: &str,
    invitation: Option<&str>,
) -> Result<String, AuthError> {
    if identity.registration == Registration::Invite && invitation.is_none() {
        return Err(AuthError::Forbidden("registration needs an invitation on this install".into()));
    }
    let actor = Actor::new("self-registration");
    create_user(db, &actor, email, password, display_name, false, invitation).await
}

/// The password step of sign-in.
pub async fn login(db: &Db, identity: &Identity, email: &str, password: &str) -> Result<Login, AuthError> {
    let Ok(email) = normalise_email(email) else {
        passwords::dummy_verify(password).await;
        return Err(AuthError::InvalidCredentials);
    };
    let user = find_by_email(db, &email).await?;
    let ok = match user.as_ref().and_then(|u| u.password_hash.as_deref()) {
        Some(stored) => passwords::verify(password, stored).await?,
        None => {
            passwords::dummy_verify(password).await;
            false
        }
    };
    let user = match (ok, user) {
        (true, Some(u)) => u,
        _ => return Err(AuthError::InvalidCredentials),
    };
    if user.mfa {
        let mfa_token = tokens::issue(
            &identity.keys,
            &identity.issuer,
            &user.id,
            tokens::PURPOSE_MFA,
            &["pwd"],
            tokens::MFA_TTL_SECS,
        )?;
        return Ok(Login::MfaRequired { mfa_token });
    }
    Ok(Login::Tokens(start_session(db, identity, &user.id, &["pwd"]).await?))
}

/// The account an MFA token (from the password step) is for.
pub fn mfa_subject(identity: &Identity, mfa_token: &str) -> Result<String, AuthError> {
    let header = jsonwebtoken::decode_header(mfa_token).map_err(|_| AuthError::InvalidToken("malformed token"))?;
    let kid = header.kid.ok_or(AuthError::InvalidToken("the token has no key id"))?;
    Ok(tokens::verify(&identity.keys, &identity.issuer, mfa_token, &kid, tokens::PURPOSE_MFA)?.sub)
}

/// The second step of sign-in: the account of a verified MFA token and a
/// TOTP or recovery code.
pub async fn complete_mfa(db: &Db, identity: &Identity, user_id: &str, code: &str) -> Result<Tokens, AuthError> {
    if !mfa::check_code(db, user_id, code).await? {
        return Err(AuthError::InvalidCode);
    }
    start_session(db, identity, user_id, &["pwd", "mfa"]).await
}

/// Issues an access token and the first refresh token of a new family.
pub async fn start_session(db: &Db, identity: &Identity, user_id: &str, amr: &[&str]) -> Result<Tokens, AuthError> {
    let family = uuid::Uuid::now_v7().to_string();
    let mut conn = db.pool().acquire().await?;
    issue_tokens(&mut conn, identity, user_id, amr, &family).await
}

async fn issue_tokens(
    conn: &mut sqlx::AnyConnection,
    identity: &Identity,
    user_id: &str,
    amr: &[&str],
    family: &str,
) -> Result<Tokens, AuthError> {
    let refresh = secrets::random_token("plz_rt_", 32);
    let now = chrono::Utc::now();
    let ttl = i64::try_from(identity.refresh_ttl_secs).unwrap_or(i64::MAX / 2);
    sqlx::query(
        "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, amr, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(family)
    .bind(user_id)
    .bind(secrets::digest(&refresh))
    .bind(amr.join(" "))
    .bind(db::format_time(now))
    .bind(db::format_time(now + chrono::Duration::seconds(ttl)))
    .execute(&mut *conn)
    .await?;
    let access = tokens::issue(
        &identity.keys,
        &identity.issuer,
        user_id,
        tokens::PURPOSE_ACCESS,
        amr,
        identity.access_ttl_secs,
    )?;
    Ok(Tokens {
        access_token: access,
        token_type: "Bearer".into(),
        expires_in: identity.access_ttl_secs,
        refresh_token: refresh,
    })
}

/// (id, family, user, amr, used_at, revoked_at) of a refresh token.
type RefreshRow = (String, String, String, String, Option<String>, Option<String>);

/// Exchanges a refresh token for new tokens. A token is good once: a second
/// use means it was stolen, so its whole family (every token descended from
/// the same sign-in) is revoked.
pub async fn refresh(db: &Db, identity: &Identity, refresh_token: &str) -> Result<(String, Tokens), AuthError> {
    let mut tx = db.begin().await?;
    let row: Option<RefreshRow> = sqlx::query_as(
        "SELECT id, family_id, user_id, amr, used_at, revoked_at FROM refresh_tokens \
         WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(secrets::digest(refresh_token))
    .bind(db::now())
    .fetch_optional(&mut *tx)
    .await?;
    let (id, family, user_id, amr, used, revoked) =
        row.ok_or(AuthError::InvalidToken("unknown or expired refresh token"))?;
    if revoked.is_some() && used.is_none() {
        // Signed out, or its family was revoked already: simply refused.
        return Err(AuthError::InvalidToken("this session was ended"));
    }
    if used.is_some() {
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL")
            .bind(db::now())
            .bind(&family)
            .execute(&mut *tx)
            .await?;
        audit::record(
            tx.acquire().await?,
            &Actor::new(format!("user:{user_id}")),
            "auth.refresh_reuse",
            None,
            json!({ "family": family }),
        )
        .await?;
        tx.commit().await?;
        tracing::warn!(user_id, family, "refresh token reused: family revoked");
        return Err(AuthError::RefreshReused);
    }
    let marked = sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
        .bind(db::now())
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    if marked.rows_affected() == 0 {
        return Err(AuthError::RefreshReused);
    }
    // The new tokens say how the session was opened (a refresh is no new sign-in).
    let amr: Vec<&str> = amr.split_whitespace().collect();
    let tokens = issue_tokens(tx.acquire().await?, identity, &user_id, &amr, &family).await?;
    tx.commit().await?;
    Ok((user_id, tokens))
}

/// Revokes the family of a refresh token (sign-out of that session).
pub async fn logout(db: &Db, refresh_token: &str) -> Result<(), AuthError> {
    let family: Option<(String,)> = sqlx::query_as("SELECT family_id FROM refresh_tokens WHERE token_hash = $1")
        .bind(secrets::digest(refresh_token))
        .fetch_optional(db.pool())
        .await?;
    if let Some((family,)) = family {
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL")
            .bind(db::now())
            .bind(&family)
            .execute(db.pool())
            .await?;
    }
    Ok(())
}

/// Changes a password after checking the current one; every session of the
/// account is revoked.
pub async fn change_password(db: &Db, user_id: &str, current: &str, new: &str) -> Result<(), AuthError> {
    passwords::validate(new)?;
    let stored: Option<(Option<String>,)> =
        sqlx::query_as("SELECT password_hash FROM users WHERE id = $1").bind(user_id).fetch_optional(db.pool()).await?;
    let stored = stored.and_then(|(h,)| h).ok_or(AuthError::InvalidCredentials)?;
    if !passwords::verify(current, &stored).await? {
        return Err(AuthError::InvalidCredentials);
    }
    let hash = passwords::hash(new).await?;
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(&hash)
        .bind(db::now())
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(db::now())
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    audit::record(tx.acquire().await?, &Actor::new(format!("user:{user_id}")), "user.password", None, json!({}))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The account of `user_id` with its memberships.
pub async fn me(db: &Db, user_id: &str) -> Result<Me, AuthError> {
    let row: Option<(String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT id, email, display_name, CAST(CASE WHEN is_operator THEN 1 ELSE 0 END AS BIGINT), \
         CAST(CASE WHEN totp_secret IS NULL THEN 0 ELSE 1 END AS BIGINT) FROM users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_optional(db.pool())
    .await?;
    let (id, email, display_name, operator, mfa) = row.ok_or(AuthError::NotFound("account"))?;
    let memberships =
        members::of_user(db, user_id).await?.into_iter().map(|(tenant, roles)| Membership { tenant, roles }).collect();
    Ok(Me { id, email, display_name, operator: operator == 1, mfa_enabled: mfa == 1, memberships })
}

/// Whether any operator account exists (the generated bootstrap token works only before).
pub async fn operator_exists(db: &Db) -> Result<bool, AuthError> {
    let row: (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM users WHERE is_operator = $1").bind(true).fetch_one(db.pool()).await?;
    Ok(row.0 > 0)
}
