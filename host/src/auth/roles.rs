//! The host's role vocabulary: owner ⊇ admin ⊇ member, and the names
//! modules may define. Below both the principal (who calls) and the
//! memberships (who holds which roles), which read it.

use super::AuthError;

/// Owns the tenant: everything an admin can do, and managing owners.
pub const OWNER: &str = "owner";
/// Manages members, API keys and modules of the tenant.
pub const ADMIN: &str = "admin";
/// Uses the tenant.
pub const MEMBER: &str = "member";

/// True when `have` grants `need`: owner ⊇ admin ⊇ member; other roles
/// (defined by modules, e.g. `producer`) grant only themselves.
pub fn has_role(have: &[String], need: &str) -> bool {
    let rank = |r: &str| match r {
        OWNER => 3,
        ADMIN => 2,
        MEMBER => 1,
        _ => 0,
    };
    have.iter().any(|r| r == need || (rank(need) > 0 && rank(r) >= rank(need)))
}

/// Checks role names: 1–32 of `a-z`, `0-9`, `-`, `_`, starting with a letter.
pub fn validate_roles(roles: &[String]) -> Result<(), AuthError> {
    if roles.is_empty() {
        return Err(AuthError::Invalid("give at least one role".into()));
    }
    for r in roles {
        let ok = (1..=32).contains(&r.len())
            && r.as_bytes()[0].is_ascii_lowercase()
            && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !ok {
            return Err(AuthError::Invalid(format!("invalid role name {r:?}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn role_hierarchy() {
        assert!(has_role(&r(&["owner"]), ADMIN));
        assert!(has_role(&r(&["admin"]), MEMBER));
        assert!(!has_role(&r(&["member"]), ADMIN));
        assert!(has_role(&r(&["producer"]), "producer"));
        assert!(!has_role(&r(&["producer"]), MEMBER));
        assert!(!has_role(&r(&["owner"]), "producer"), "module roles are granted explicitly");
    }

    #[test]
    fn role_names() {
        assert!(validate_roles(&r(&["admin", "producer_2"])).is_ok());
        assert!(validate_roles(&r(&[])).is_err());
        assert!(validate_roles(&r(&["Admin"])).is_err());
        assert!(validate_roles(&r(&["a b"])).is_err());
    }
}
