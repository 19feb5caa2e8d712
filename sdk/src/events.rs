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
