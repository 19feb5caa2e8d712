//! Who may do what with a document: pure rules, tested natively.
//!
//! - the owner, tenant admins (and owners) and holders of the module role
//!   `documents-manager` may do everything;
//! - a share with `edit` lets its grantee read and change title, content,
//!   type and folder, and the attachments (not delete, not share);
//! - a share with `view` lets its grantee read (the document, its
//!   versions, attachments and exports);
//! - anyone else gets a 404, as if the document did not exist.
//!
//! A share names a user (by id) or a role: a role share applies to every
//! caller who holds the role as the host decides it (`owner` ⊇ `admin` ⊇
//! `member`, module roles by name).

use plaza_sdk::Caller;
use serde::{Deserialize, Serialize};

/// The module role that manages every document of the tenant.
pub const MANAGER: &str = "documents-manager";

/// A caller's right on one document, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Nothing: the document does not exist for the caller.
    None,
    /// Read it.
    View,
    /// Read and change it (not delete, not share).
    Edit,
    /// Everything: its owner, a tenant admin or a documents manager.
    Full,
}

impl Access {
    pub fn can_view(self) -> bool {
        self >= Access::View
    }

    pub fn can_edit(self) -> bool {
        self >= Access::Edit
    }

    pub fn is_full(self) -> bool {
        self == Access::Full
    }
}

/// What a share grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    View,
    Edit,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::View => "view",
            Permission::Edit => "edit",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "view" => Some(Permission::View),
            "edit" => Some(Permission::Edit),
            _ => None,
        }
    }

    fn access(self) -> Access {
        match self {
            Permission::View => Access::View,
            Permission::Edit => Access::Edit,
        }
    }
}

/// The caller as the rules see it.
#[derive(Debug, Clone)]
pub struct Who {
    /// The caller's user id (`api-key:…` for an API key).
    pub user: String,
    /// Every role the caller holds, the implied tenant roles included.
    pub roles: Vec<String>,
    /// Owner, admin or documents manager: sees and does everything.
    pub manages_all: bool,
}

impl Who {
    pub fn from_caller(caller: &Caller) -> Option<Self> {
        let user = caller.user_id.clone()?;
        Some(Self::new(user, &caller.roles))
    }

    /// `roles` as granted; the roles they imply are added.
    pub fn new(user: String, granted: &[String]) -> Self {
        let roles = effective_roles(granted);
        let manages_all = roles.iter().any(|r| r == "admin" || r == MANAGER);
        Self { user, roles, manages_all }
    }

    pub fn holds(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// The roles `granted` gives, as `Caller::has_role` decides: an owner is
/// also an admin and a member, an admin also a member; other roles only
/// themselves. Sorted, without duplicates.
pub fn effective_roles(granted: &[String]) -> Vec<String> {
    let mut roles: Vec<String> = Vec::new();
    for role in granted {
        let implied: &[&str] = match role.as_str() {
            "owner" => &["admin", "member"],
            "admin" => &["member"],
            _ => &[],
        };
        roles.push(role.clone());
        roles.extend(implied.iter().map(|r| (*r).to_owned()));
    }
    roles.sort();
    roles.dedup();
    roles
}

/// One share of a document, as the rules need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub kind: GranteeKind,
    pub grantee: String,
    pub permission: Permission,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GranteeKind {
    User,
    Role,
}

impl GranteeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GranteeKind::User => "user",
            GranteeKind::Role => "role",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "user" | "users" => Some(GranteeKind::User),
            "role" | "roles" => Some(GranteeKind::Role),
            _ => None,
        }
    }
}

/// The caller's access to a document owned by `owner` with `grants`.
pub fn access(who: &Who, owner: &str, grants: &[Grant]) -> Access {
    if who.manages_all || who.user == owner {
        return Access::Full;
    }
    grants
        .iter()
        .filter(|g| match g.kind {
            GranteeKind::User => g.grantee == who.user,
            GranteeKind::Role => who.holds(&g.grantee),
        })
        .map(|g| g.permission.access())
        .max()
        .unwrap_or(Access::None)
}

/// A role name a share may name: 1 to 64 lower-case letters, digits, `-`
/// and `_`, starting with a letter (the host's role names fit).
pub fn valid_role(role: &str) -> bool {
    let mut chars = role.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && role.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// A user id a share may name: 1 to 200 characters, no spaces or control
/// characters (the host's ids are UUIDs, `api-key:…`, `external:…`).
pub fn valid_user_id(user: &str) -> bool {
    !user.is_empty() && user.chars().count() <= 200 && !user.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(user: &str, roles: &[&str]) -> Who {
        Who::new(user.to_owned(), &roles.iter().map(|r| (*r).to_owned()).collect::<Vec<_>>())
    }

    fn grant(kind: GranteeKind, grantee: &str, permission: Permission) -> Grant {
        Grant { kind, grantee: grantee.to_owned(), permission }
    }

    #[test]
    fn owners_admins_and_managers_do_everything() {
        assert_eq!(access(&who("ana", &["member"]), "ana", &[]), Access::Full);
        assert_eq!(access(&who("bob", &["admin"]), "ana", &[]), Access::Full);
        assert_eq!(access(&who("bob", &["owner"]), "ana", &[]), Access::Full, "a tenant owner is an admin");
        assert_eq!(access(&who("bob", &["member", MANAGER]), "ana", &[]), Access::Full);
    }

    #[test]
    fn others_see_only_what_is_shared_with_them() {
        let bob = who("bob", &["member"]);
        assert_eq!(access(&bob, "ana", &[]), Access::None);
        assert_eq!(access(&bob, "ana", &[grant(GranteeKind::User, "carl", Permission::Edit)]), Access::None);
        assert_eq!(access(&bob, "ana", &[grant(GranteeKind::User, "bob", Permission::View)]), Access::View);
        // The strongest grant wins.
        let grants =
            [grant(GranteeKind::User, "bob", Permission::View), grant(GranteeKind::Role, "member", Permission::Edit)];
        assert_eq!(access(&bob, "ana", &grants), Access::Edit);
        assert!(Access::Edit.can_view() && Access::Edit.can_edit() && !Access::Edit.is_full());
        assert!(Access::View.can_view() && !Access::View.can_edit());
        assert!(!Access::None.can_view());
    }

    #[test]
    fn role_shares_follow_the_tenant_role_order() {
        let member_share = [grant(GranteeKind::Role, "member", Permission::View)];
        let admin_share = [grant(GranteeKind::Role, "admin", Permission::View)];
        let module_share = [grant(GranteeKind::Role, "reviewer", Permission::Edit)];
        assert_eq!(access(&who("bob", &["member"]), "ana", &member_share), Access::View);
        assert_eq!(access(&who("bob", &["member"]), "ana", &admin_share), Access::None, "a member is no admin");
        assert_eq!(access(&who("bob", &["reviewer"]), "ana", &member_share), Access::None, "module roles imply none");
        assert_eq!(access(&who("bob", &["member", "reviewer"]), "ana", &module_share), Access::Edit);
        assert_eq!(effective_roles(&["owner".to_owned()]), ["admin", "member", "owner"]);
        assert_eq!(effective_roles(&["admin".to_owned(), "admin".to_owned()]), ["admin", "member"]);
        assert_eq!(effective_roles(&["x".to_owned()]), ["x"]);
    }

    #[test]
    fn names_are_checked() {
        for ok in ["member", "documents-manager", "r2_d2"] {
            assert!(valid_role(ok), "{ok}");
        }
        for bad in ["", "Member", "-x", "a b", &"x".repeat(65)] {
            assert!(!valid_role(bad), "{bad}");
        }
        assert!(valid_user_id("3f1c2a8e-5b8e-4a55-9e1f-0c7a1d2b3c4d") && valid_user_id("api-key:abc"));
        assert!(!valid_user_id("") && !valid_user_id("a b") && !valid_user_id("a\nb"));
        assert_eq!(Permission::parse("edit"), Some(Permission::Edit));
        assert_eq!(Permission::parse("admin"), None);
        assert_eq!(GranteeKind::parse("users"), Some(GranteeKind::User));
    }
}
