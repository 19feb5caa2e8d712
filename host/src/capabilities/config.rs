//! The `config` capability: the settings and secrets a tenant gave a module.
//!
//! Settings are JSON values; secrets are strings the host never logs (the
//! CLI and API show them redacted). A module reads only its own, for the
//! calling tenant. Tenant admins write them through the module lifecycle
//! ([`crate::modules::settings`]).


use super::{CallState, CapError, stateless_unit};
use crate::contract::Capability;
use crate::contract::plaza::module::config::{self as wit, Host};

stateless_unit!(
    /// The `config` unit: settings live in the host database; nothing per call.
    Config,
    Capability::Config,
    wit
);

/// Longest setting or secret name.
const MAX_KEY_BYTES: usize = 128;
/// Largest value.
pub(crate) const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Whether `key` may name a setting or secret: 1 to 128 letters, digits,
/// `.`, `_` or `-`.
pub(crate) fn valid_name(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_BYTES
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

async fn read(state: &mut CallState, key: &str, secret: bool) -> Result<Option<String>, CapError> {
    let scope = state.scope_for(Capability::Config)?;
    if !valid_name(key) {
        return Err(CapError::invalid(format!("invalid setting name {key:?}")));
    }
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT value FROM module_config WHERE tenant_id = $1 AND module = $2 AND key = $3 \
         AND CAST(CASE WHEN is_secret THEN 1 ELSE 0 END AS BIGINT) = $4",
    )
    .bind(&scope.tenant)
    .bind(scope.module())
    .bind(key)
    .bind(i64::from(secret))
    .fetch_optional(state.services().db.pool())
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "config capability failed");
        CapError::unavailable("settings are not available; try again")
    })?;
    Ok(row.map(|(v,)| v))
}

impl Host for CallState {
    async fn get(&mut self, key: String) -> Result<Option<String>, CapError> {
        read(self, &key, false).await
    }

    async fn secret(&mut self, key: String) -> Result<Option<String>, CapError> {
        read(self, &key, true).await
    }
}
