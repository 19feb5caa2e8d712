//! The `mail` capability (since `plaza:module@1.1`): a module sends mail in
//! its tenant's name, declared by importing the interface.
//!
//! The unit owns the tenant's limits (a rate per minute in this process and
//! a quota per UTC day across processes, both the operator's) and builds the
//! message here, in the call, so that a bad address, a missing attachment or
//! a spent quota is the module's error at once; the stored message is then
//! the [`crate::mail`] worker's to deliver. The From is the tenant's, never
//! the module's choice; attachments come from the module's own blobs only.
//!
//! A send is stored at once, whatever the module's SQL transaction does: a
//! module that must mail only if its data commits publishes an event in the
//! transaction and sends from its handler (the `mail` module's
//! `mail.send-requested`).

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::Notify;
use wasmtime::component::{HasSelf, Linker};

use crate::config::Config;
use super::{CallState, CapError, InitContext, InitError, Prepare, Unit};
use crate::contract::plaza::module::mail::{self as wit, Delivery, Host, Message, State};
use crate::contract::{Capability, GuestError, Manifest};
use crate::mail::{self as queue, AttachmentFile, Draft, MailError};

/// The `mail` unit: the tenants' rates and the worker's wake-up; nothing per call.
pub struct Mail;

/// What every call shares.
pub struct Shared {
    /// The operator's settings (limits, default relay), for the worker too.
    pub config: Arc<Config>,
    /// Messages per minute, per tenant (this process).
    rate: DefaultKeyedRateLimiter<String>,
    /// Notified when a message is stored, so the worker sends it at once.
    pub wake: Arc<Notify>,
}

impl Unit for Mail {
    const CAPABILITY: Capability = Capability::Mail;
    type Shared = Shared;
    type PerCall = ();
    type Grant = ();

    async fn init(cx: &InitContext<'_>) -> Result<Shared, InitError> {
        let per_minute = NonZeroU32::new(cx.config.mail_per_minute)
            .ok_or_else(|| InitError::new(Capability::Mail, "mail_per_minute must be above zero"))?;
        Ok(Shared {
            config: Arc::new(cx.config.clone()),
            rate: RateLimiter::keyed(Quota::per_minute(per_minute)),
            wake: Arc::new(Notify::new()),
        })
    }

    fn configure(_: &Manifest) {}

    fn prepare(_: &Shared, _: &Prepare<'_>) {}

    fn link<T: Send + 'static>(linker: &mut Linker<T>, get: fn(&mut T) -> &mut CallState) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<CallState>>(linker, get)
    }
}

impl From<MailError> for CapError {
    fn from(e: MailError) -> Self {
        match e {
            MailError::Invalid(why) => CapError::invalid(why),
            MailError::Limit(why) => CapError::limit(why),
            MailError::NoRelay(why) => CapError::unavailable(why),
            MailError::NotFound => CapError::Guest(GuestError::NotFound),
            MailError::Db(e) => {
                tracing::error!(error = %e, "mail capability failed");
                CapError::unavailable("mail is not available; try again")
            }
        }
    }
}

/// The start of the current UTC day, as the host tables store times.
fn today() -> String {
    let midnight = chrono::Utc::now().date_naive().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    crate::db::format_time(midnight)
}

impl Host for CallState {
    async fn send(&mut self, message: Message) -> Result<String, CapError> {
        let scope = self.scope_for(Capability::Mail)?;
        self.before_wait();
        let services = Arc::clone(self.services());
        let shared = &services.mail;
        let config = &shared.config;
        if config.mail_per_day == 0 {
            return Err(CapError::refused("the operator turned module mail off (PLAZA_MAIL_PER_DAY=0)"));
        }
        let settings = queue::settings::resolve(&services.db, config, &scope.tenant).await?;
        if settings.relay.is_none() {
            return Err(MailError::NoRelay("no SMTP relay is configured for this tenant".into()).into());
        }
        let mut attachments = Vec::with_capacity(message.attachments.len());
        if message.attachments.len() > queue::MAX_ATTACHMENTS {
            return Err(CapError::invalid(format!("a message may have {} attachments", queue::MAX_ATTACHMENTS)));
        }
        let mut size = 0usize;
        for a in message.attachments {
            let object = super::blob::read(&services, &scope, &a.blob_key)
                .await?
                .ok_or_else(|| CapError::Guest(GuestError::NotFound))?;
            size += object.data.len();
            if size > queue::MAX_MESSAGE_BYTES {
                return Err(CapError::limit(format!(
                    "a message may be {} bytes, attachments included",
                    queue::MAX_MESSAGE_BYTES
                )));
            }
            let content_type = a.content_type.unwrap_or(object.content_type);
            attachments.push(AttachmentFile { filename: a.filename, content_type, data: object.data });
        }
        let from = settings.sender;
        let draft = Draft {
            to: message.to,
            cc: message.cc,
            bcc: message.bcc,
            reply_to: message.reply_to,
            subject: message.subject,
            text: message.text,
            html: message.html,
            attachments,
        };
        let subject = draft.subject.clone();
        let (raw, recipients) = queue::build(&from, draft)?;
        // Limits last: a message refused for its content spends nothing.
        if shared.rate.check_key(&scope.tenant).is_err() {
            return Err(CapError::limit(format!(
                "the tenant may send {} messages a minute; try again later",
                config.mail_per_minute
            )));
        }
        if queue::sent_since(&services.db, &scope.tenant, &today()).await? >= u64::from(config.mail_per_day) {
            return Err(CapError::limit(format!("the tenant's {} messages of today are sent", config.mail_per_day)));
        }
        let id = queue::enqueue(
            &services.db,
            queue::Queued {
                tenant: &scope.tenant,
                module: scope.module(),
                sender: from.email.as_ref(),
                subject: &subject,
                recipients: &recipients,
                raw: &raw,
                request_id: Some(&scope.request_id),
            },
        )
        .await?;
        shared.wake.notify_one();
        Ok(id)
    }

    async fn status(&mut self, id: String) -> Result<Delivery, CapError> {
        let scope = self.scope_for(Capability::Mail)?;
        let services = Arc::clone(self.services());
        let status = queue::status(&services.db, &scope.tenant, scope.module(), &id).await?;
        Ok(Delivery {
            id: status.id,
            state: match status.state {
                queue::State::Queued => State::Queued,
                queue::State::Sent => State::Sent,
                queue::State::Failed => State::Failed,
            },
            attempts: status.attempts,
            last_error: status.last_error,
            created_at: status.created_at,
            sent_at: status.sent_at,
        })
    }
}
