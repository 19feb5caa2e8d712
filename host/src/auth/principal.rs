//! The caller, once authenticated, and the one tenant-access decision.

use super::external::ExternalIdentity;
use crate::audit::Actor;
use crate::db::{Db, DbError};
use crate::tenancy::{self, TenancyError, Tenant, TenantStatus};

/// Owns the tenant: everything an admin can do, and managing owners.
pub const OWNER: &str = "owner";
/// Manages members, API keys and modules of the tenant.
pub const ADMIN: &str = "admin";
/// Uses the tenant.
pub const MEMBER: &str = "member";

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The bootstrap or configured operator token.
    OperatorToken,
    /// A built-in account, by a host-issued token.
    User { id: String, email: String, operator: bool },
    /// A tenant's API key.
    ApiKey { id: String, tenant: String, roles: Vec<String> },
    /// A token of the external identity provider.
    External(ExternalIdentity),
}

impl Principal {
    /// The name written to the audit log.
    pub fn actor(&self) -> Actor {
        match self {
            Principal::OperatorToken => Actor::new("operator"),
            Principal::User { id, .. } => Actor::new(format!("user:{id}")),
            Principal::ApiKey { id, .. } => Actor::new(format!("api-key:{id}")),
            Principal::External(e) => Actor::new(format!("external:{}", e.subject)),
        }
    }

    /// Platform operators administer every tenant.
    pub fn is_operator(&self) -> bool {
        matches!(self, Principal::OperatorToken | Principal::User { operator: true, .. })
    }

    /// The caller's roles in `tenant`, or `None` when it has no access at all.
    pub async fn roles_in(&self, db: &Db, tenant: &str) -> Result<Option<Vec<String>>, DbError> {
        if self.is_operator() {
            return Ok(Some(vec![OWNER.to_owned()]));
        }
        Ok(match self {
            Principal::User { id, .. } => super::members::roles_of(db, tenant, id).await?,
            Principal::ApiKey { tenant: t, roles, .. } => (t == tenant).then(|| roles.clone()),
            Principal::External(e) => (e.tenant.as_deref() == Some(tenant)).then(|| e.roles.clone()),
            Principal::OperatorToken => None,
        })
    }
}

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
pub fn validate_roles(roles: &[String]) -> Result<(), super::AuthError> {
    if roles.is_empty() {
        return Err(super::AuthError::Invalid("give at least one role".into()));
    }
    for r in roles {
        let ok = (1..=32).contains(&r.len())
            && r.as_bytes()[0].is_ascii_lowercase()
            && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !ok {
            return Err(super::AuthError::Invalid(format!("invalid role name {r:?}")));
        }
    }
    Ok(())
}

/// Why a caller may not act on a tenant.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// Unknown tenant, or one the caller has no access to (indistinguishable on purpose).
    #[error("tenant {0:?} does not exist")]
    NoTenant(String),
    #[error("tenant {0:?} is suspended")]
    Suspended(String),
    #[error("this needs the {0:?} role in the tenant")]
    MissingRole(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The tenant a caller acts on, with the caller's roles there, if it holds
/// `need` (`None`: any role will do).
pub async fn authorize(
    db: &Db,
    principal: &Principal,
    tenant: &str,
    need: Option<&str>,
) -> Result<(Tenant, Vec<String>), AccessError> {
    let found = match tenancy::get(db, tenant).await {
        Ok(t) => t,
        Err(TenancyError::Db(e)) => return Err(e.into()),
        Err(_) => return Err(AccessError::NoTenant(tenant.to_owned())),
    };
    // No role at all (say, an IdP token naming the tenant with an empty roles
    // claim) is no access.
    let roles = principal
        .roles_in(db, tenant)
        .await?
        .filter(|r| !r.is_empty())
        .ok_or_else(|| AccessError::NoTenant(tenant.to_owned()))?;
    if found.status == TenantStatus::Suspended {
        return Err(AccessError::Suspended(tenant.to_owned()));
    }
    if let Some(need) = need.filter(|n| !has_role(&roles, n)) {
        return Err(AccessError::MissingRole(need.to_owned()));
    }
    Ok((found, roles))
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
