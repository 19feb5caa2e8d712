//! Notifications to the tenant's people as they happen (since
//! `plaza:module@1.1`). Calling any of these makes the component import
//! `plaza:module/push`, which is how a module declares the `push`
//! capability.
//!
//! - [`to_user`] and [`to_role`] add an item to the tenant's live stream,
//!   which signed-in browsers read as server-sent events at
//!   `/t/{tenant}/stream` (and resume with `Last-Event-ID`).
//! - [`send_web_push`] encrypts a message for a browser's push subscription
//!   and sends it, signed with the tenant's VAPID key ([`vapid_public_key`]
//!   is the browser's `applicationServerKey`). The answer is the push
//!   service's status: 404 or 410 mean the subscription is gone.
//!
//! ```no_run
//! use plaza_sdk::push;
//!
//! # fn demo(user: &str) -> plaza_sdk::Result<()> {
//! push::to_user(user, "tasks.assigned", &serde_json::json!({ "task": 7 }))?;
//! # Ok(()) }
//! ```

use serde::Serialize;

use crate::Result;
use crate::bindings::plaza::module::push as wit;

pub use wit::{Subscription, Urgency, WebPush};

fn json(data: &impl Serialize) -> Result<String> {
    serde_json::to_string(data).map_err(|e| crate::Error::invalid(format!("stream data: {e}")))
}

/// Adds `data` (serialised to JSON) as a `kind` item to `user`'s stream;
/// returns its number in the tenant's stream.
pub fn to_user(user: &str, kind: &str, data: &impl Serialize) -> Result<u64> {
    Ok(wit::to_stream(&wit::Audience::User(user.to_owned()), kind, &json(data)?)?)
}

/// The same for every member holding `role`.
pub fn to_role(role: &str, kind: &str, data: &impl Serialize) -> Result<u64> {
    Ok(wit::to_stream(&wit::Audience::Role(role.to_owned()), kind, &json(data)?)?)
}

/// Encrypts and sends one push message; returns the push service's status.
pub fn send_web_push(message: &WebPush) -> Result<u16> {
    Ok(wit::send_web_push(message)?)
}

/// The tenant's VAPID public key, base64url.
pub fn vapid_public_key() -> Result<String> {
    Ok(wit::vapid_public_key()?)
}
