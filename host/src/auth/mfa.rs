//! TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s steps, ±1 step) with
//! one-time recovery codes. A code is never accepted twice: the last used
//! time step is stored.

use serde_json::json;
use sqlx::Acquire;
use totp_rs::{Builder, Secret, Totp};

use super::{AuthError, secrets};
use crate::audit::{self, Actor};
use crate::db::{self, Db};

/// Recovery codes issued when MFA is confirmed.
const RECOVERY_CODES: usize = 10;

/// What an authenticator app needs to enrol.
#[derive(Debug, Clone, poem_openapi::Object)]
pub struct Enrollment {
    /// The shared secret, base32.
    pub secret: String,
    /// `otpauth://` URL for a QR code.
    pub otpauth_url: String,
}

fn totp(secret_b32: &str, account: &str) -> Result<Totp, AuthError> {
    let secret =
        Secret::try_from_base32(secret_b32).map_err(|_| AuthError::Internal("stored TOTP secret is invalid".into()))?;
    Builder::new()
        .with_secret(secret)
        .with_issuer(Some("Plaza"))
        .with_account_name(account)
        .build()
        .map_err(|e| AuthError::Internal(format!("TOTP: {e}")))
}

/// Starts enrolment: a new secret, kept pending until a code confirms it.
pub async fn enroll(db: &Db, user_id: &str, email: &str) -> Result<Enrollment, AuthError> {
    let secret = Secret::generate().to_base32();
    let url = totp(&secret, email)?.to_url().map_err(|e| AuthError::Internal(format!("TOTP: {e}")))?;
    let updated =
        sqlx::query("UPDATE users SET totp_pending = $1, updated_at = $2 WHERE id = $3 AND totp_secret IS NULL")
            .bind(&secret)
            .bind(db::now())
            .bind(user_id)
            .execute(db.pool())
            .await?;
    if updated.rows_affected() == 0 {
        return Err(AuthError::Conflict("MFA is already enabled; disable it first".into()));
    }
    Ok(Enrollment { secret, otpauth_url: url })
}

/// Confirms enrolment with a current code; returns the recovery codes (shown once).
pub async fn confirm(db: &Db, user_id: &str, email: &str, code: &str) -> Result<Vec<String>, AuthError> {
    let mut tx = db.begin().await?;
    let pending: Option<(Option<String>,)> =
        sqlx::query_as("SELECT totp_pending FROM users WHERE id = $1").bind(user_id).fetch_optional(&mut *tx).await?;
    let secret = pending.and_then(|(p,)| p).ok_or(AuthError::Conflict("start enrolment first".into()))?;
    let step = totp(&secret, email)?.check_current(code.trim()).ok_or(AuthError::InvalidCode)?;
    sqlx::query(
        "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = $1, updated_at = $2 \
         WHERE id = $3",
    )
    .bind(i64::try_from(step).unwrap_or(i64::MAX))
    .bind(db::now())
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let code = secrets::random_token("", 8); // 16 hex digits
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id)
            .bind(secrets::digest(&code))
            .execute(&mut *tx)
            .await?;
        codes.push(code);
    }
    audit::record(tx.acquire().await?, &Actor::new(format!("user:{user_id}")), "user.mfa_enable", None, json!({}))
        .await?;
    tx.commit().await?;
    Ok(codes)
}

/// Checks a TOTP code (not reused) or an unused recovery code (then spent).
pub async fn check_code(db: &Db, user_id: &str, code: &str) -> Result<bool, AuthError> {
    let code = code.trim();
    let row: Option<(String, Option<String>, Option<i64>)> =
        sqlx::query_as("SELECT email, totp_secret, totp_last_step FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(db.pool())
            .await?;
    let Some((email, Some(secret), last_step)) = row else { return Ok(false) };
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        let Some(step) = totp(&secret, &email)?.check_current(code) else { return Ok(false) };
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        if last_step.is_some_and(|last| step <= last) {
            return Ok(false);
        }
        // Compare-and-set, so two concurrent uses of one code cannot both pass.
        let updated = sqlx::query(
            "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(user_id)
        .execute(db.pool())
        .await?;
        return Ok(updated.rows_affected() == 1);
    }
    let spent =
        sqlx::query("UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL")
            .bind(db::now())
            .bind(user_id)
            .bind(secrets::digest(&code.to_lowercase()))
            .execute(db.pool())
            .await?;
    Ok(spent.rows_affected() == 1)
}

/// Turns MFA off, after a valid code.
pub async fn disable(db: &Db, user_id: &str, code: &str) -> Result<(), AuthError> {
    if !check_code(db, user_id, code).await? {
        return Err(AuthError::InvalidCode);
    }
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL, updated_at = $1 WHERE id = $2",
    )
    .bind(db::now())
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    audit::record(tx.acquire().await?, &Actor::new(format!("user:{user_id}")), "user.mfa_disable", None, json!({}))
        .await?;
    tx.commit().await?;
    Ok(())
}
