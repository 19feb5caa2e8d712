//! Objects of the module for this tenant, under its own prefix of the
//! object store (capability `blob`).

use crate::Result;
use crate::bindings::plaza::module::blob as wit;
pub use crate::bindings::plaza::module::blob::{Object, ObjectInfo};

/// Stores `data` under `key` with its content type (replacing any object there).
pub fn put(key: &str, data: impl AsRef<[u8]>, content_type: &str) -> Result<()> {
    Ok(wit::put(key, data.as_ref(), content_type)?)
}

/// The object under `key`, with its content type, if any.
pub fn get(key: &str) -> Result<Option<Object>> {
    Ok(wit::get(key)?)
}

/// Deletes the object under `key`; `false` when there was none.
pub fn delete(key: &str) -> Result<bool> {
    Ok(wit::delete(key)?)
}

/// Objects whose key starts with `prefix`, in key order, after `cursor`
/// (the last key of the previous page), at most `limit`.
pub fn list(prefix: &str, cursor: Option<&str>, limit: u32) -> Result<Vec<ObjectInfo>> {
    Ok(wit::list_objects(prefix, cursor, limit)?)
}
