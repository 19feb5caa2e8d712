//! The `push` capability (since `plaza:module@1.1`): a module tells the
//! tenant's people something as it happens, declared by importing the
//! interface.
//!
//! - `to-stream` appends to the tenant's live stream ([`crate::stream`]),
//!   for one user or a role of this tenant only: the tenant is the call's.
//! - `send-web-push` encrypts and signs ([`crate::webpush`]) with the
//!   tenant's VAPID key and posts to the subscription's push service through
//!   the host's guarded outbound client: any public `https` host (push
//!   services are the browsers' choice, so there is no allow-list), never an
//!   internal address. Each counts against the call's outbound requests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker};

use super::{CallState, CapError, InitContext, InitError, Prepare, Unit};
use crate::contract::plaza::module::push::{self as wit, Audience, Host, Urgency, WebPush};
use crate::contract::{Capability, Manifest};
use crate::stream::{self, Hub};
use crate::webpush::{self, WebPushError};

/// Items one call may add to the stream.
const MAX_ITEMS_PER_CALL: u32 = 100;
/// Longest a push service may take to answer.
const PUSH_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest a push service may keep a message (RFC 8030 leaves it to them; 4 weeks).
const MAX_TTL_SECONDS: u32 = 28 * 24 * 3600;

/// The `push` unit: the stream's hub; per call, the items added.
pub struct Push;

/// What every call shares.
pub struct Shared {
    /// Wakes this process's stream readers; the SSE endpoint reads it too.
    pub hub: Arc<Hub>,
    /// The VAPID `sub` claim: how a push service reaches the operator.
    contact: String,
}

impl Unit for Push {
    const CAPABILITY: Capability = Capability::Push;
    type Shared = Shared;
    type PerCall = u32;
    type Grant = ();

    async fn init(cx: &InitContext<'_>) -> Result<Shared, InitError> {
        let address = cx.config.smtp_from.parse::<lettre::message::Mailbox>().map(|m| m.email.to_string());
        let contact = match address {
            Ok(a) => format!("mailto:{a}"),
            Err(_) => cx.config.public_url.clone(),
        };
        Ok(Shared { hub: Arc::new(Hub::default()), contact })
    }

    fn configure(_: &Manifest) {}

    fn prepare(_: &Shared, _: &Prepare<'_>) -> u32 {
        0
    }

    fn link<T: Send + 'static>(linker: &mut Linker<T>, get: fn(&mut T) -> &mut CallState) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<CallState>>(linker, get)
    }
}

fn web_push_error(e: WebPushError) -> CapError {
    match e {
        WebPushError::Invalid(why) => CapError::invalid(why),
        WebPushError::Key(why) => {
            tracing::error!(error = %why, "a tenant's VAPID key is unusable");
            CapError::unavailable("the tenant's push key is unusable")
        }
        WebPushError::Db(e) => {
            tracing::error!(error = %e, "push capability failed");
            CapError::unavailable("push is not available; try again")
        }
    }
}

/// Who an item is for: a user id or a role name, 1 to 200 characters.
fn audience(a: Audience) -> Result<stream::Audience, CapError> {
    let (name, audience) = match a {
        Audience::User(u) => (u.clone(), stream::Audience::User(u)),
        Audience::Role(r) => (r.clone(), stream::Audience::Role(r)),
    };
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(CapError::invalid("a user id or role is 1 to 200 characters"));
    }
    Ok(audience)
}

impl Host for CallState {
    async fn to_stream(&mut self, to: Audience, kind: String, data: String) -> Result<u64, CapError> {
        let scope = self.scope_for(Capability::Push)?;
        let to = audience(to)?;
        if !crate::capabilities::events::valid_type(&kind) {
            return Err(CapError::invalid(format!(
                "kind {kind:?}: use dotted lower-case words such as \"{}.created\"",
                scope.module()
            )));
        }
        if data.len() > stream::MAX_DATA_BYTES {
            return Err(CapError::limit(format!("stream data may be {} bytes", stream::MAX_DATA_BYTES)));
        }
        if serde_json::from_str::<serde::de::IgnoredAny>(&data).is_err() {
            return Err(CapError::invalid("stream data must be JSON text"));
        }
        if self.units.push >= MAX_ITEMS_PER_CALL {
            return Err(CapError::limit(format!("a call may add {MAX_ITEMS_PER_CALL} stream items")));
        }
        self.units.push += 1;
        self.before_wait();
        let services = Arc::clone(self.services());
        let seq = services.push.hub.append(&services.db, &scope.tenant, scope.module(), &to, &kind, &data).await.map_err(
            |e| {
                tracing::error!(error = %e, "stream item not stored");
                CapError::unavailable("the stream is not available; try again")
            },
        )?;
        Ok(u64::try_from(seq).unwrap_or(0))
    }

    async fn send_web_push(&mut self, message: WebPush) -> Result<u16, CapError> {
        let scope = self.scope_for(Capability::Push)?;
        self.before_wait();
        if self.units.http >= self.limits().http_requests {
            return Err(CapError::limit(format!("a call may send {} outbound requests", self.limits().http_requests)));
        }
        let services = Arc::clone(self.services());
        let endpoint = url::Url::parse(&message.subscription.endpoint)
            .map_err(|e| CapError::invalid(format!("endpoint: {e}")))?;
        let allow_private = services.http.allow_private;
        super::http::check_scheme(&endpoint, allow_private)?;
        if endpoint.host().is_none() {
            return Err(CapError::invalid("the endpoint has no host"));
        }
        super::http::check_literal(&endpoint, allow_private).inspect_err(|_| {
            services.metrics.module_refusal(scope.module(), "push");
        })?;
        let subscription = &message.subscription;
        let body = webpush::encrypt(&subscription.p256dh, &subscription.auth, &message.payload).map_err(web_push_error)?;
        let key = webpush::vapid_key(&services.db, &scope.tenant).await.map_err(web_push_error)?;
        let authorization = key.authorization(&endpoint, &services.push.contact).map_err(web_push_error)?;
        let urgency = match message.urgency {
            Urgency::VeryLow => "very-low",
            Urgency::Low => "low",
            Urgency::Normal => "normal",
            Urgency::High => "high",
        };
        let mut request = services
            .http
            .client
            .post(endpoint)
            .timeout(PUSH_TIMEOUT.min(self.deadline().saturating_duration_since(Instant::now())))
            .header("authorization", authorization)
            .header("ttl", message.ttl_seconds.min(MAX_TTL_SECONDS).to_string())
            .header("urgency", urgency)
            .header("content-encoding", "aes128gcm")
            .header("content-type", "application/octet-stream");
        if let Some(topic) = &message.topic {
            // RFC 8030 §5.4: at most 32 characters of the base64url alphabet.
            let ok = !topic.is_empty()
                && topic.len() <= 32
                && topic.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(CapError::invalid("a topic is 1 to 32 characters of A-Z a-z 0-9 - _"));
            }
            request = request.header("topic", topic);
        }
        self.units.http += 1;
        let response = request.body(body).send().await.map_err(|e| super::http::send_error(&e))?;
        Ok(response.status().as_u16())
    }

    async fn vapid_public_key(&mut self) -> Result<String, CapError> {
        let scope = self.scope_for(Capability::Push)?;
        let services = Arc::clone(self.services());
        Ok(webpush::vapid_key(&services.db, &scope.tenant).await.map_err(web_push_error)?.public)
    }
}
