//! A tenant's sender address and, optionally, its own SMTP relay, as tenant
//! admins set them (`/api/v1/tenants/{tenant}/mail-settings`). The relay URL
//! carries credentials: it is a secret, never logged and never returned.

use lettre::Tokio1Executor;
use lettre::message::Mailbox;
use lettre::transport::smtp::AsyncSmtpTransport;
use serde_json::json;

use super::MailError;
use crate::audit::{self, Actor};
use crate::config::Config;
use crate::db::{Db, DbError};

/// What a tenant admin sees of the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// The sender of the tenant's mail.
    pub from: String,
    /// Whether `from` is the tenant's own (else the operator's default).
    pub own_from: bool,
    /// Whether the tenant delivers through its own relay.
    pub own_relay: bool,
}

/// The tenant's stored row: (from, relay URL).
async fn row(db: &Db, tenant: &str) -> Result<Option<(String, Option<String>)>, MailError> {
    Ok(sqlx::query_as("SELECT from_address, smtp_url FROM tenant_mail_settings WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_optional(db.pool())
        .await?)
}

/// A tenant's mail settings with the operator's defaults filled in.
pub struct Resolved {
    /// Its own address, else the operator's `smtp_from` under the tenant's name.
    pub sender: Mailbox,
    /// Its own relay, else the operator's; `None`: no relay at all.
    pub relay: Option<String>,
    pub own_from: bool,
    pub own_relay: bool,
}

/// The tenant's settings, read once.
pub async fn resolve(db: &Db, config: &Config, tenant: &str) -> Result<Resolved, MailError> {
    let stored = row(db, tenant).await?;
    let own_from = stored.is_some();
    let (from, own) = stored.map_or((None, None), |(from, url)| (Some(from), url));
    let own_relay = own.is_some();
    let relay = own.or_else(|| operator_relay(config));
    let sender = match from {
        Some(from) => {
            from.parse().map_err(|e| MailError::NoRelay(format!("the tenant's sender {from:?} is invalid: {e}")))?
        }
        None => default_sender(db, config, tenant).await?,
    };
    Ok(Resolved { sender, relay, own_from, own_relay })
}

fn operator_relay(config: &Config) -> Option<String> {
    (!config.smtp_url.is_empty()).then(|| config.smtp_url.clone())
}

/// The operator's `smtp_from` address under the tenant's name.
async fn default_sender(db: &Db, config: &Config, tenant: &str) -> Result<Mailbox, MailError> {
    let default: Mailbox = config
        .smtp_from
        .parse()
        .map_err(|e| MailError::NoRelay(format!("the operator's PLAZA_SMTP_FROM is invalid: {e}")))?;
    let name: Option<(String,)> =
        sqlx::query_as("SELECT name FROM tenants WHERE id = $1").bind(tenant).fetch_optional(db.pool()).await?;
    Ok(Mailbox::new(name.map(|(n,)| n).or(default.name), default.email))
}

/// The relay URL the tenant's mail goes through: its own, else the operator's.
pub async fn relay_url(db: &Db, config: &Config, tenant: &str) -> Result<Option<String>, MailError> {
    let own = row(db, tenant).await?.and_then(|(_, url)| url);
    Ok(own.or_else(|| operator_relay(config)))
}

/// The settings as a tenant admin sees them.
pub async fn view(db: &Db, config: &Config, tenant: &str) -> Result<View, MailError> {
    let r = resolve(db, config, tenant).await?;
    Ok(View { from: r.sender.to_string(), own_from: r.own_from, own_relay: r.own_relay })
}

/// Checks a relay URL the way delivery will use it.
pub fn check_relay(url: &str) -> Result<(), MailError> {
    AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map(|_| ())
        .map_err(|e| MailError::Invalid(format!("the SMTP URL is not usable: {e}")))
}

/// Sets the tenant's sender and relay (`None`: the operator's), audited
/// without the relay URL.
pub async fn set(db: &Db, actor: &Actor, tenant: &str, from: &str, smtp_url: Option<&str>) -> Result<View, MailError> {
    let from: Mailbox = from.parse().map_err(|e| MailError::Invalid(format!("from {from:?}: {e}")))?;
    if let Some(url) = smtp_url {
        check_relay(url)?;
    }
    let mut tx = db.begin().await.map_err(DbError::from)?;
    sqlx::query(
        "INSERT INTO tenant_mail_settings (tenant_id, from_address, smtp_url, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id) DO UPDATE SET from_address = excluded.from_address, smtp_url = excluded.smtp_url, \
         updated_at = excluded.updated_at",
    )
    .bind(tenant)
    .bind(from.to_string())
    .bind(smtp_url)
    .bind(crate::db::now())
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        actor,
        "mail.settings.set",
        Some(tenant),
        json!({ "from": from.to_string(), "own_relay": smtp_url.is_some() }),
    )
    .await?;
    tx.commit().await?;
    Ok(View { from: from.to_string(), own_from: true, own_relay: smtp_url.is_some() })
}
