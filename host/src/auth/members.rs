//! Tenant memberships and invitations.
//!
//! Admins invite by email; the invitee accepts with the invitation's token
//! (sent by mail when SMTP is configured, otherwise handed back to the
//! inviting admin once). Only owners grant or withdraw the owner role, and a
//! tenant always keeps at least one owner.

use serde_json::json;
use sqlx::Acquire;

use super::AuthError;
use super::roles::{self as principal, OWNER, has_role};
use super::secrets;
use crate::audit::{self, Actor};
use crate::db::{self, Db, DbError};
use crate::events::deliveries::publish_host_event;

/// How long an invitation may be accepted.
const INVITATION_TTL_DAYS: i64 = 7;

/// A member of a tenant.
#[derive(Debug, Clone, poem_openapi::Object, serde::Serialize)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    pub roles: Vec<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// An invitation, as shown to the admin who made it.
#[derive(Debug, Clone, poem_openapi::Object)]
pub struct Invitation {
    pub id: String,
    pub tenant: String,
    pub email: String,
    pub roles: Vec<String>,
    /// RFC 3339, UTC.
    pub expires_at: String,
    /// The token to accept it with: present only when no mail server is
    /// configured, so the admin can pass it on. Shown once.
    #[oai(skip_serializing_if_is_none)]
    pub accept_token: Option<String>,
}

fn parse_roles(raw: &str) -> Vec<String> {
    serde_json::from_str(raw).unwrap_or_default()
}

fn roles_json(roles: &[String]) -> String {
    serde_json::to_string(roles).unwrap_or_else(|_| "[]".into())
}

/// The roles of `user_id` in `tenant`, if a member.
pub async fn roles_of(db: &Db, tenant: &str, user_id: &str) -> Result<Option<Vec<String>>, DbError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT roles FROM memberships WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant)
        .bind(user_id)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map(|(r,)| parse_roles(&r)))
}

/// Every membership of a user: (tenant, roles).
pub async fn of_user(db: &Db, user_id: &str) -> Result<Vec<(String, Vec<String>)>, DbError> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT tenant_id, roles FROM memberships WHERE user_id = $1 ORDER BY tenant_id")
            .bind(user_id)
            .fetch_all(db.pool())
            .await?;
    Ok(rows.into_iter().map(|(t, r)| (t, parse_roles(&r))).collect())
}

/// The members of a tenant, by email.
pub async fn list(db: &Db, tenant: &str) -> Result<Vec<Member>, DbError> {
    let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT u.id, u.email, u.display_name, m.roles, m.created_at FROM memberships m \
         JOIN users u ON u.id = m.user_id WHERE m.tenant_id = $1 ORDER BY u.email",
    )
    .bind(tenant)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(user_id, email, display_name, roles, created_at)| Member {
            user_id,
            email,
            display_name,
            roles: parse_roles(&roles),
            created_at,
        })
        .collect())
}

/// Adds (or replaces) a membership inside `conn`'s transaction, with its audit row.
pub async fn add_in(
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    tenant: &str,
    user_id: &str,
    roles: &[String],
) -> Result<(), AuthError> {
    let now = db::now();
    sqlx::query(
        "INSERT INTO memberships (tenant_id, user_id, roles, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (tenant_id, user_id) DO UPDATE SET roles = excluded.roles, updated_at = excluded.updated_at",
    )
    .bind(tenant)
    .bind(user_id)
    .bind(roles_json(roles))
    .bind(&now)
    .execute(&mut *conn)
    .await?;
    let detail = json!({ "user_id": user_id, "roles": roles });
    audit::record(conn, actor, "member.add", Some(tenant), detail.clone()).await?;
    publish_host_event(conn, tenant, "member.added", &detail).await?;
    Ok(())
}

/// Refuses changes that touch the owner role unless the actor is an owner,
/// and changes that would leave the tenant without an owner.
async fn guard_owners(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
    actor_roles: &[String],
    current: &[String],
    next: &[String],
) -> Result<(), AuthError> {
    let touches_owner = current.iter().any(|r| r == OWNER) != next.iter().any(|r| r == OWNER);
    if touches_owner && !has_role(actor_roles, OWNER) {
        return Err(AuthError::Forbidden("only an owner can grant or withdraw the owner role".into()));
    }
    if current.iter().any(|r| r == OWNER) && !next.iter().any(|r| r == OWNER) {
        let owners: Vec<(String,)> = sqlx::query_as("SELECT roles FROM memberships WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_all(&mut *conn)
            .await?;
        let count = owners.iter().filter(|(r,)| parse_roles(r).iter().any(|x| x == OWNER)).count();
        if count <= 1 {
            return Err(AuthError::Conflict("a tenant must keep at least one owner".into()));
        }
    }
    Ok(())
}

/// The roles of an existing member, read inside the caller's transaction.
async fn member_roles(conn: &mut sqlx::AnyConnection, tenant: &str, user_id: &str) -> Result<Vec<String>, AuthError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT roles FROM memberships WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant)
        .bind(user_id)
        .fetch_optional(conn)
        .await?;
    Ok(parse_roles(&row.ok_or(AuthError::NotFound("member"))?.0))
}

/// Changes a member's roles.
pub async fn set_roles(
    db: &Db,
    actor: &Actor,
    actor_roles: &[String],
    tenant: &str,
    user_id: &str,
    roles: &[String],
) -> Result<(), AuthError> {
    principal::validate_roles(roles)?;
    let mut tx = db.begin().await?;
    let current = member_roles(&mut tx, tenant, user_id).await?;
    guard_owners(tx.acquire().await?, tenant, actor_roles, &current, roles).await?;
    sqlx::query("UPDATE memberships SET roles = $1, updated_at = $2 WHERE tenant_id = $3 AND user_id = $4")
        .bind(roles_json(roles))
        .bind(db::now())
        .bind(tenant)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        tx.acquire().await?,
        actor,
        "member.roles",
        Some(tenant),
        json!({ "user_id": user_id, "roles": roles }),
    )
    .await?;
    let payload = json!({ "user_id": user_id, "roles": roles, "previous_roles": current });
    publish_host_event(tx.acquire().await?, tenant, "member.roles-changed", &payload).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a member.
pub async fn remove(
    db: &Db,
    actor: &Actor,
    actor_roles: &[String],
    tenant: &str,
    user_id: &str,
) -> Result<(), AuthError> {
    let mut tx = db.begin().await?;
    let current = member_roles(&mut tx, tenant, user_id).await?;
    guard_owners(tx.acquire().await?, tenant, actor_roles, &current, &[]).await?;
    sqlx::query("DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    audit::record(tx.acquire().await?, actor, "member.remove", Some(tenant), json!({ "user_id": user_id })).await?;
    publish_host_event(tx.acquire().await?, tenant, "member.removed", &json!({ "user_id": user_id })).await?;
    tx.commit().await?;
    Ok(())
}

/// Creates an invitation; returns it and its secret token.
pub async fn invite(
    db: &Db,
    actor: &Actor,
    actor_roles: &[String],
    tenant: &str,
    email: &str,
    roles: &[String],
) -> Result<(Invitation, String), AuthError> {
    let email = super::email::normalise_email(email)?;
    principal::validate_roles(roles)?;
    if roles.iter().any(|r| r == OWNER) && !has_role(actor_roles, OWNER) {
        return Err(AuthError::Forbidden("only an owner can invite an owner".into()));
    }
    let token = secrets::random_token("plz_inv_", 24);
    let id = uuid::Uuid::now_v7().to_string();
    let now = chrono::Utc::now();
    let expires_at = db::format_time(now + chrono::Duration::days(INVITATION_TTL_DAYS));
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO invitations (id, tenant_id, email, roles, token_hash, invited_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(tenant)
    .bind(&email)
    .bind(roles_json(roles))
    .bind(secrets::digest(&token))
    .bind(&actor.name)
    .bind(db::format_time(now))
    .bind(&expires_at)
    .execute(&mut *tx)
    .await?;
    audit::record(tx.acquire().await?, actor, "member.invite", Some(tenant), json!({ "email": email, "roles": roles }))
        .await?;
    tx.commit().await?;
    let invitation =
        Invitation { id, tenant: tenant.to_owned(), email, roles: roles.to_vec(), expires_at, accept_token: None };
    Ok((invitation, token))
}

/// Accepts an invitation for `user_id` (whose email must match) inside `tx`.
pub async fn accept_in(
    conn: &mut sqlx::AnyConnection,
    token: &str,
    user_id: &str,
    email: &str,
) -> Result<String, AuthError> {
    let row: Option<(String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, tenant_id, email, roles, accepted_at FROM invitations WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(secrets::digest(token))
    .bind(db::now())
    .fetch_optional(&mut *conn)
    .await?;
    let (id, tenant, invited, roles, accepted) = row.ok_or(AuthError::InvalidToken("unknown or expired invitation"))?;
    if accepted.is_some() {
        return Err(AuthError::Conflict("this invitation was already accepted".into()));
    }
    if invited != email {
        return Err(AuthError::Forbidden("this invitation is for another email address".into()));
    }
    sqlx::query("UPDATE invitations SET accepted_at = $1 WHERE id = $2")
        .bind(db::now())
        .bind(&id)
        .execute(&mut *conn)
        .await?;
    // An invitation adds roles, never takes any away (an owner accepting a
    // member invitation stays owner).
    let mut merged = match member_roles(conn, &tenant, user_id).await {
        Ok(current) => current,
        Err(AuthError::NotFound(_)) => Vec::new(),
        Err(e) => return Err(e),
    };
    for role in parse_roles(&roles) {
        if !merged.contains(&role) {
            merged.push(role);
        }
    }
    add_in(conn, &Actor::new(format!("user:{user_id}")), &tenant, user_id, &merged).await?;
    Ok(tenant)
}
