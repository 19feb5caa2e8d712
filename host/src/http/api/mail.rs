//! `/t/{tenant}/mail-settings`: the sender and SMTP relay of the mail a
//! tenant's modules send (tenant admins). The relay URL holds credentials:
//! it can be set or cleared, never read back. Handlers check the caller and
//! delegate to [`crate::mail::settings`].

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::Tag;
use crate::app::App;
use crate::auth::principal::ADMIN;
use crate::http::auth::Auth;
use crate::http::problem::ApiResult;
use crate::http::strict_json::StrictJson;
use crate::mail::settings;

pub struct MailApi;

/// The tenant's mail settings, as an admin sees them.
#[derive(Object)]
pub struct MailSettings {
    /// The From of the tenant's mail, e.g. `Municipalidad <avisos@muni.example>`.
    pub from: String,
    /// Whether `from` is the tenant's own (else the operator's address under the tenant's name).
    pub own_from: bool,
    /// Whether mail goes through the tenant's own SMTP relay (else the operator's).
    pub own_relay: bool,
}

/// New mail settings.
#[derive(Object)]
pub struct MailSettingsUpdate {
    /// The From of the tenant's mail: an address, with a display name if wanted.
    pub from: String,
    /// The tenant's own relay: `smtps://user:pass@host`, or
    /// `smtp://user:pass@host:587?tls=required` for STARTTLS. Absent: the
    /// operator's relay. Write-only: never returned, never logged.
    pub smtp_url: Option<String>,
}

impl From<settings::View> for MailSettings {
    fn from(v: settings::View) -> Self {
        Self { from: v.from, own_from: v.own_from, own_relay: v.own_relay }
    }
}

#[OpenApi(tag = "Tag::Mail")]
impl MailApi {
    /// The tenant's mail settings
    #[oai(path = "/t/:tenant/mail-settings", method = "get", operation_id = "getMailSettings")]
    async fn get(&self, Data(app): Data<&Arc<App>>, auth: Auth, tenant: Path<String>) -> ApiResult<Json<MailSettings>> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        Ok(Json(settings::view(&app.db, &app.config, &tenant).await?.into()))
    }

    /// Set the tenant's mail settings
    ///
    /// The sender of the mail the tenant's modules send, and optionally its
    /// own SMTP relay (audited, without the relay URL).
    #[oai(path = "/t/:tenant/mail-settings", method = "put", operation_id = "setMailSettings")]
    async fn set(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        body: StrictJson<MailSettingsUpdate>,
    ) -> ApiResult<Json<MailSettings>> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        let actor = auth.principal().actor();
        let view = settings::set(&app.db, &actor, &tenant, &body.from, body.smtp_url.as_deref()).await?;
        Ok(Json(view.into()))
    }
}
