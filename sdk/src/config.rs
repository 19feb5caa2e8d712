//! The tenant's settings and secrets for this module (capability `config`).
//! Settings are JSON values checked by the host against the module's
//! config schema; secrets are text the host never logs.

use serde::de::DeserializeOwned;

use crate::bindings::plaza::module::config as wit;
use crate::{Error, Result};

/// A setting parsed into `T` (`invalid` when it does not fit); `None` when unset.
pub fn get<T: DeserializeOwned>(key: &str) -> Result<Option<T>> {
    get_json(key)?
        .map(|json| serde_json::from_str(&json).map_err(|err| Error::invalid(format!("setting `{key}`: {err}"))))
        .transpose()
}

/// A setting as JSON text.
pub fn get_json(key: &str) -> Result<Option<String>> {
    Ok(wit::get(key)?)
}

/// A secret. Keep it out of responses and logs.
pub fn secret(key: &str) -> Result<Option<String>> {
    Ok(wit::secret(key)?)
}
