//! The caller, once authenticated, and the one tenant-access decision.

use super::external::ExternalIdentity;
pub use super::roles::{ADMIN, MEMBER, OWNER, has_role, validate_roles};
use crate::audit::Actor;
use crate::db::{Db, DbError};
use crate::tenancy::{self, TenancyError, Tenant, TenantStatus};

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

    /// The id a module sees as the caller's `user-id`, and the live stream
    /// delivers a user's items to.
    pub fn user_id(&self) -> String {
        match self {
            Principal::OperatorToken => "operator".into(),
            Principal::User { id, .. } => id.clone(),
            Principal::ApiKey { id, .. } => format!("api-key:{id}"),
            Principal::External(e) => format!("external:{}", e.subject),
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
