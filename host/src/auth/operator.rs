//! The operator token: the one credential of an install until accounts exist.
//!
//! `PLAZA_OPERATOR_TOKEN` sets it. When unset, the first start generates a
//! random token, prints it once on stderr and stores only its SHA-256; later
//! starts (and other processes sharing the database) load the hash. The
//! token has 256 bits of entropy, so a plain hash is enough (passwords, with
//! little entropy, get argon2id instead).

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::db::{self, Db, DbError};

const SECRET_NAME: &str = "operator_token";

/// The verifier of operator tokens (a hash, never the token).
#[derive(Clone)]
pub struct OperatorKey {
    hash: [u8; 32],
    /// Set by `PLAZA_OPERATOR_TOKEN` (kept working) rather than generated
    /// (a bootstrap path, retired once an operator account exists).
    configured: bool,
}

impl std::fmt::Debug for OperatorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorKey(***)")
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl OperatorKey {
    /// A key for a known token.
    pub fn from_token(token: &str) -> Self {
        Self { hash: digest(token), configured: true }
    }

    /// True for a token set by the operator, false for a generated one.
    pub fn configured(&self) -> bool {
        self.configured
    }

    /// True when `token` is the operator token (constant-time comparison).
    pub fn verify(&self, token: &str) -> bool {
        digest(token).ct_eq(&self.hash).into()
    }

    /// The configured token, or the stored hash, or a new token printed once.
    pub async fn load_or_create(db: &Db, configured: &str) -> Result<Self, DbError> {
        if !configured.is_empty() {
            return Ok(Self::from_token(configured));
        }
        if let Some(key) = Self::stored(db).await? {
            return Ok(key);
        }
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = format!("plz_op_{}", hex::encode(bytes));
        let hash = hex::encode(digest(&token));
        let inserted = sqlx::query(
            "INSERT INTO host_secrets (name, hash, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(SECRET_NAME)
        .bind(&hash)
        .bind(db::now())
        .execute(db.pool())
        .await?;
        if inserted.rows_affected() == 1 {
            // Deliberately not through `tracing`: log pipelines must never carry it.
            eprintln!(
                "\n  A new operator token was generated. It is shown this once; only its hash is stored.\n\n    {token}\n\n  Send it as `Authorization: Bearer <token>`. Set PLAZA_OPERATOR_TOKEN to choose your own.\n"
            );
        }
        // Another process may have won the race: use whatever is stored.
        Ok(Self::stored(db).await?.unwrap_or_else(|| Self { hash: digest(&token), configured: false }))
    }

    async fn stored(db: &Db) -> Result<Option<Self>, DbError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT hash FROM host_secrets WHERE name = $1")
            .bind(SECRET_NAME)
            .fetch_optional(db.pool())
            .await?;
        Ok(row.and_then(|(h,)| {
            let bytes = hex::decode(h).ok()?;
            Some(Self { hash: bytes.try_into().ok()?, configured: false })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_the_right_token() {
        let key = OperatorKey::from_token("right");
        assert!(key.verify("right"));
        assert!(!key.verify("wrong"));
        assert!(!key.verify(""));
        assert!(!format!("{key:?}").contains("right"));
    }
}
