//! Domain events (capability `events`). Published inside the module's SQL
//! transaction when one is open, so an event is delivered only if the data
//! it describes was committed.

use serde::Serialize;

use crate::bindings::plaza::module::events as wit;
use crate::{Error, Result};

/// Publishes an event of `event_type` with `payload` as JSON; returns its id.
pub fn publish<T: Serialize + ?Sized>(event_type: &str, payload: &T) -> Result<String> {
    let json =
        serde_json::to_string(payload).map_err(|err| Error::invalid(format!("event `{event_type}` payload: {err}")))?;
    publish_json(event_type, &json)
}

/// Publishes an event whose payload is already JSON text.
pub fn publish_json(event_type: &str, payload: &str) -> Result<String> {
    Ok(wit::publish(event_type, payload)?)
}

/// How long [`once`] remembers an event it handled: longer than any retry.
const REMEMBER_SECONDS: u32 = 14 * 24 * 3600;

fn seen_key(event: &crate::Event) -> String {
    format!("plaza.events.handled/{}", event.id)
}

/// Runs `handler` for an event unless it already succeeded for this event:
/// deliveries are at least once, so a subscriber that must not act twice
/// wraps its work in this, in one line:
///
/// ```ignore
/// fn on_event(event: Event) -> Result<(), String> {
///     events::once(&event, |e| record_sale(e))
/// }
/// ```
///
/// The event's id is remembered in the module's KV store (capability `kv`)
/// for two weeks once `handler` succeeded; a failed handler is tried again
/// on the next delivery.
pub fn once<F>(event: &crate::Event, handler: F) -> std::result::Result<(), String>
where
    F: FnOnce(&crate::Event) -> std::result::Result<(), String>,
{
    let key = seen_key(event);
    if crate::kv::get(&key).map_err(|e| e.to_string())?.is_some() {
        return Ok(());
    }
    handler(event)?;
    crate::kv::set_with_ttl(&key, b"1", REMEMBER_SECONDS).map_err(|e| e.to_string())
}
