//! Passwords: argon2id, hashed and verified off the async threads.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use super::AuthError;

/// Shortest and longest accepted passwords (bytes).
const MIN_LEN: usize = 10;
const MAX_LEN: usize = 1024;

/// Checks a new password's length (a long passphrase beats composition rules).
pub fn validate(password: &str) -> Result<(), AuthError> {
    if password.chars().count() < MIN_LEN {
        return Err(AuthError::Invalid(format!("the password must have at least {MIN_LEN} characters")));
    }
    if password.len() > MAX_LEN {
        return Err(AuthError::Invalid(format!("the password must have at most {MAX_LEN} bytes")));
    }
    Ok(())
}

/// Hashes with argon2id (the crate's default parameters), on a blocking thread.
pub async fn hash(password: &str) -> Result<String, AuthError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AuthError::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| AuthError::Internal(e.to_string()))?
}

/// True when `password` matches the stored PHC string.
pub async fn verify(password: &str, stored: &str) -> Result<bool, AuthError> {
    let (password, stored) = (password.to_owned(), stored.to_owned());
    tokio::task::spawn_blocking(move || Argon2::default().verify_password(password.as_bytes(), stored.as_str()).is_ok())
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))
}

/// A hash to verify against when the account does not exist, so that a
/// wrong email takes as long as a wrong password.
pub async fn dummy_verify(password: &str) {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    if let Ok(stored) = DUMMY.get_or_try_init(|| hash("plaza-dummy-password")).await {
        let _ = verify(password, stored).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_with_argon2id_and_verifies() {
        let h = hash("correct horse battery").await.unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse battery", &h).await.unwrap());
        assert!(!verify("wrong horse battery", &h).await.unwrap());
        assert!(!verify("x", "not a hash").await.unwrap());
    }

    #[test]
    fn length_rules() {
        assert!(validate("short").is_err());
        assert!(validate("long enough!").is_ok());
        assert!(validate(&"x".repeat(1025)).is_err());
    }
}
