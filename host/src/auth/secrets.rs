//! Random secrets and their stored digests.
//!
//! Refresh tokens, API keys, invitations and recovery codes are random with
//! at least 128 bits of entropy, so a SHA-256 digest is a safe verifier (a
//! slow hash is for passwords, which have little entropy).

use rand::RngCore;
use sha2::{Digest, Sha256};

/// `prefix` followed by `bytes` random bytes in hex.
pub fn random_token(prefix: &str, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    format!("{prefix}{}", hex::encode(buf))
}

/// The hex SHA-256 of a secret: what the database keeps.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_prefixed() {
        let a = random_token("plz_rt_", 32);
        let b = random_token("plz_rt_", 32);
        assert!(a.starts_with("plz_rt_") && a.len() == 7 + 64);
        assert_ne!(a, b);
        assert_ne!(digest(&a), digest(&b));
        assert_eq!(digest(&a), digest(&a));
    }
}
