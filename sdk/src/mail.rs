//! Mail in the tenant's name (since `plaza:module@1.1`). Calling any of
//! these makes the component import `plaza:module/mail`, which is how a
//! module declares the `mail` capability: nothing to list in the router.
//!
//! ```no_run
//! use plaza_sdk::mail::{self, Message};
//!
//! # fn demo() -> plaza_sdk::Result<()> {
//! let id = mail::send(&Message {
//!     to: vec!["ana@example.com".into()],
//!     subject: "Your order".into(),
//!     text: Some("It ships today.".into()),
//!     ..Message::default()
//! })?;
//! let delivery = mail::status(&id)?; // queued, then sent (or failed)
//! # Ok(()) }
//! ```
//!
//! The host stores the message before `send` returns and delivers it
//! through the tenant's SMTP relay with retries; the From is the tenant's.
//! `send` fails with `limit-exceeded` past the tenant's rate or daily quota
//! (answer 429), `invalid` for a bad address or no body (answer 422) and
//! `not-found` for an attachment's missing blob.

use crate::Result;
use crate::bindings::plaza::module::mail as wit;

pub use wit::{Attachment, Delivery, State};

/// A message to send: at least one recipient and one of the two bodies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub reply_to: Option<String>,
    pub subject: String,
    /// The plain-text part.
    pub text: Option<String>,
    /// The HTML part.
    pub html: Option<String>,
    /// Files from the module's own blobs.
    pub attachments: Vec<Attachment>,
}

/// Stores `message` for delivery; returns its id.
pub fn send(message: &Message) -> Result<String> {
    Ok(wit::send(&wit::Message {
        to: message.to.clone(),
        cc: message.cc.clone(),
        bcc: message.bcc.clone(),
        reply_to: message.reply_to.clone(),
        subject: message.subject.clone(),
        text: message.text.clone(),
        html: message.html.clone(),
        attachments: message.attachments.clone(),
    })?)
}

/// The delivery of a message this module sent for this tenant.
pub fn status(id: &str) -> Result<Delivery> {
    Ok(wit::status(id)?)
}

/// The state's name: `queued`, `sent` or `failed`.
pub fn state_name(state: State) -> &'static str {
    match state {
        State::Queued => "queued",
        State::Sent => "sent",
        State::Failed => "failed",
    }
}
