//! `/t/{tenant}/members`, `/t/{tenant}/invitations`, `/t/{tenant}/api-keys`:
//! what tenant admins manage. Handlers authorize and delegate to
//! [`crate::auth::members`] and [`crate::auth::api_keys`].

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::Tag;
use crate::app::App;
use crate::auth::api_keys::{self, ApiKey};
use crate::auth::members::{self, Invitation, Member};
use crate::auth::principal::ADMIN;
use crate::http::auth::Auth;
use crate::http::problem::ApiResult;
use crate::http::strict_json::StrictJson;

pub struct MembersApi;

#[derive(Object)]
pub struct NewInvitation {
    pub email: String,
    /// Roles granted on acceptance, e.g. `["member"]` or module roles such as `producer`.
    pub roles: Vec<String>,
}

#[derive(Object)]
pub struct RolesUpdate {
    pub roles: Vec<String>,
}

#[derive(Object)]
pub struct NewApiKey {
    /// A name to recognise the key by.
    pub name: String,
    /// Roles the key acts with (not `owner`).
    pub roles: Vec<String>,
}

/// A new API key with its secret, shown this once.
#[derive(Object)]
pub struct CreatedApiKey {
    pub key: ApiKey,
    /// Send as `X-API-Key` or `Authorization: Bearer`. Not retrievable later.
    pub secret: String,
}

#[derive(ApiResponse)]
pub enum InvitationCreated {
    /// The invitation exists (and was mailed when SMTP is configured).
    #[oai(status = 201)]
    Created(Json<Invitation>),
}

#[derive(ApiResponse)]
pub enum KeyCreated {
    /// The key exists; its secret is in the body, once.
    #[oai(status = 201)]
    Created(Json<CreatedApiKey>),
}

#[derive(ApiResponse)]
pub enum Done {
    /// Done.
    #[oai(status = 204)]
    Done,
}

#[OpenApi]
impl MembersApi {
    /// List members
    #[oai(path = "/t/:tenant/members", method = "get", operation_id = "listMembers", tag = "Tag::Members")]
    async fn list(&self, Data(app): Data<&Arc<App>>, auth: Auth, tenant: Path<String>) -> ApiResult<Json<Vec<Member>>> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        Ok(Json(members::list(&app.db, &tenant).await?))
    }

    /// Invite someone
    ///
    /// Mailed when SMTP is configured; otherwise the answer carries the
    /// `accept_token` for the admin to pass on (once).
    #[oai(path = "/t/:tenant/invitations", method = "post", operation_id = "inviteMember", tag = "Tag::Members")]
    async fn invite(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        body: StrictJson<NewInvitation>,
    ) -> ApiResult<InvitationCreated> {
        let (_, roles) = auth.tenant(app, &tenant, Some(ADMIN)).await?;
        let actor = auth.principal().actor();
        let (mut invitation, token) =
            members::invite(&app.db, &actor, &roles, &tenant, &body.email, &body.roles).await?;
        match &app.identity.mailer {
            Some(mailer) => {
                if let Err(e) = mailer.send_invitation(&invitation.email, &tenant, &token).await {
                    tracing::warn!(tenant = %tenant.0, error = %e, "invitation mail failed; handing the token back");
                    invitation.accept_token = Some(token);
                }
            }
            None => {
                tracing::info!(tenant = %tenant.0, invitation = %invitation.id, "no SMTP configured: the invitation token goes back to the inviting admin");
                invitation.accept_token = Some(token);
            }
        }
        Ok(InvitationCreated::Created(Json(invitation)))
    }

    /// Change a member's roles
    #[oai(path = "/t/:tenant/members/:user_id", method = "put", operation_id = "setMemberRoles", tag = "Tag::Members")]
    async fn set_roles(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        user_id: Path<String>,
        body: StrictJson<RolesUpdate>,
    ) -> ApiResult<Done> {
        let (_, roles) = auth.tenant(app, &tenant, Some(ADMIN)).await?;
        members::set_roles(&app.db, &auth.principal().actor(), &roles, &tenant, &user_id, &body.roles).await?;
        Ok(Done::Done)
    }

    /// Remove a member
    #[oai(path = "/t/:tenant/members/:user_id", method = "delete", operation_id = "removeMember", tag = "Tag::Members")]
    async fn remove(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        user_id: Path<String>,
    ) -> ApiResult<Done> {
        let (_, roles) = auth.tenant(app, &tenant, Some(ADMIN)).await?;
        members::remove(&app.db, &auth.principal().actor(), &roles, &tenant, &user_id).await?;
        Ok(Done::Done)
    }

    /// List API keys
    #[oai(path = "/t/:tenant/api-keys", method = "get", operation_id = "listApiKeys", tag = "Tag::ApiKeys")]
    async fn keys(&self, Data(app): Data<&Arc<App>>, auth: Auth, tenant: Path<String>) -> ApiResult<Json<Vec<ApiKey>>> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        Ok(Json(api_keys::list(&app.db, &tenant).await?))
    }

    /// Create an API key
    #[oai(path = "/t/:tenant/api-keys", method = "post", operation_id = "createApiKey", tag = "Tag::ApiKeys")]
    async fn create_key(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        body: StrictJson<NewApiKey>,
    ) -> ApiResult<KeyCreated> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        let (key, secret) =
            api_keys::create(&app.db, &auth.principal().actor(), &tenant, &body.name, &body.roles).await?;
        Ok(KeyCreated::Created(Json(CreatedApiKey { key, secret })))
    }

    /// Revoke an API key
    #[oai(path = "/t/:tenant/api-keys/:id", method = "delete", operation_id = "revokeApiKey", tag = "Tag::ApiKeys")]
    async fn revoke_key(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        id: Path<String>,
    ) -> ApiResult<Done> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        api_keys::revoke(&app.db, &auth.principal().actor(), &tenant, &id).await?;
        Ok(Done::Done)
    }
}
