//! Email addresses as accounts and invitations hold them: trimmed,
//! lower-cased, and checked by `email_address` (RFC 5322's address
//! grammar) with the stricter rules of a sign-in name.

use email_address::{EmailAddress, Options};

use super::AuthError;

/// Longest address (RFC 5321's path limit less its angle brackets).
const MAX_BYTES: usize = 254;

/// Trims and lower-cases an email address and checks it: a plain address
/// (no display name, no `[1.2.3.4]` domain literal) whose domain has at
/// least two labels (`ana@localhost` is not a sign-in name), without
/// whitespace, at most 254 bytes.
pub fn normalise_email(raw: &str) -> Result<String, AuthError> {
    let email = raw.trim().to_lowercase();
    let options = Options::default().without_display_text().without_domain_literal().with_required_tld();
    let valid = email.len() <= MAX_BYTES
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && EmailAddress::parse_with_options(&email, options).is_ok();
    if valid { Ok(email) } else { Err(AuthError::Invalid(format!("{raw:?} is not an email address"))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised() {
        assert_eq!(normalise_email("  Ana@Example.ORG ").ok().as_deref(), Some("ana@example.org"));
        assert_eq!(normalise_email("o'brien+tag@mail.example.co").ok().as_deref(), Some("o'brien+tag@mail.example.co"));
        for bad in ["", "ana", "ana@", "@x.org", "a b@x.org", "a@b@x.org", "ana@localhost"] {
            assert!(normalise_email(bad).is_err(), "{bad}");
        }
        for bad in ["Ana <ana@x.org>", "ana@[127.0.0.1]", "ana@.x.org", "ana@x.org.", "ana..b@x.org", "ana@x..org"] {
            assert!(normalise_email(bad).is_err(), "{bad}");
        }
        assert!(normalise_email(&format!("{}@x.org", "a".repeat(64))).is_ok());
        assert!(normalise_email(&format!("{}@{}.org", "a".repeat(60), "b".repeat(200))).is_err());
    }
}
