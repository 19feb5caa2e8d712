//! Key-value storage of the module for this tenant (capability `kv`).
//!
//! Values are bytes; [`get_string`]/[`set`] cover text and
//! [`get_json`]/[`set_json`] structured values.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::plaza::module::kv as wit;
use crate::{Error, Result};

/// The value of `key`, if set (and not expired).
pub fn get(key: &str) -> Result<Option<Vec<u8>>> {
    Ok(wit::get(key)?)
}

/// The value of `key` as UTF-8 text (`invalid` when it is not text).
pub fn get_string(key: &str) -> Result<Option<String>> {
    get(key)?
        .map(|bytes| String::from_utf8(bytes).map_err(|_| Error::invalid(format!("kv value `{key}` is not UTF-8"))))
        .transpose()
}

/// The value of `key` parsed as JSON (`invalid` when it does not fit `T`).
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>> {
    get(key)?
        .map(|bytes| serde_json::from_slice(&bytes).map_err(|err| Error::invalid(format!("kv value `{key}`: {err}"))))
        .transpose()
}

/// Stores `value` under `key`, without expiry.
pub fn set(key: &str, value: impl AsRef<[u8]>) -> Result<()> {
    Ok(wit::set(key, value.as_ref(), None)?)
}

/// Stores `value` under `key`, expiring after `ttl_seconds`.
pub fn set_with_ttl(key: &str, value: impl AsRef<[u8]>, ttl_seconds: u32) -> Result<()> {
    Ok(wit::set(key, value.as_ref(), Some(ttl_seconds))?)
}

/// Stores `value` under `key` with an optional expiry, as the host call does.
pub fn set_opt_ttl(key: &str, value: impl AsRef<[u8]>, ttl_seconds: Option<u32>) -> Result<()> {
    Ok(wit::set(key, value.as_ref(), ttl_seconds)?)
}

/// Stores `value` as JSON under `key`, without expiry.
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value).map_err(|err| Error::invalid(format!("kv value `{key}`: {err}")))?;
    set(key, bytes)
}

/// Deletes `key`; `false` when it was not set.
pub fn delete(key: &str) -> Result<bool> {
    Ok(wit::delete(key)?)
}

/// Keys starting with `prefix`, in order, after `cursor` (the last key of
/// the previous page), at most `limit`.
pub fn list_keys(prefix: &str, cursor: Option<&str>, limit: u32) -> Result<Vec<String>> {
    Ok(wit::list_keys(prefix, cursor, limit)?)
}
