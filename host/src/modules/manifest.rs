//! Checks of a manifest read from a component, before the host trusts it.
//! (The registry's publish step adds signatures and the catalogue's rules.)

use std::collections::HashSet;

use crate::capabilities::sql::vet::{self, Dialect};
use crate::runtime::bindings::{Access, Manifest};

/// Segments of `/t/{tenant}/…` the host itself serves: never module names.
pub const RESERVED_NAMES: &[&str] = &[
    "files",
    "members",
    "invitations",
    "api-keys",
    "modules",
    "docs",
    "openapi.json",
    "jobs",
    "events",
    "audit",
    "settings",
    "auth",
    "admin",
];

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid manifest of {module:?}: {detail}")]
pub struct ManifestError {
    pub module: String,
    pub detail: String,
}

/// Module names: 2–32 lower-case letters, digits and hyphens, starting with a letter.
pub fn valid_name(name: &str) -> bool {
    (2..=32).contains(&name.len())
        && name.as_bytes()[0].is_ascii_lowercase()
        && !name.ends_with('-')
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn valid_role(r: &str) -> bool {
    (1..=32).contains(&r.len())
        && r.as_bytes()[0].is_ascii_lowercase()
        && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Checks names, version, routes' roles and ids, migrations and hosts.
pub fn validate(m: &Manifest) -> Result<(), ManifestError> {
    let fail = |detail: String| Err(ManifestError { module: m.name.clone(), detail });
    if !valid_name(&m.name) {
        return fail("the name must be 2 to 32 lower-case letters, digits and hyphens, starting with a letter".into());
    }
    if RESERVED_NAMES.contains(&m.name.as_str()) {
        return fail(format!("{:?} is reserved by the host", m.name));
    }
    if semver::Version::parse(&m.version).is_err() {
        return fail(format!("version {:?} is not semantic (e.g. 1.2.3)", m.version));
    }
    let mut ids = HashSet::new();
    for r in &m.routes {
        if r.operation_id.is_empty() || !ids.insert(r.operation_id.as_str()) {
            return fail(format!("route {} {}: operation ids must be present and unique", r.method.as_str(), r.path));
        }
        if let Access::Roles(roles) = &r.access {
            if roles.is_empty() {
                return fail(format!("route {} {}: give roles or mark it public", r.method.as_str(), r.path));
            }
            if let Some(bad) = roles.iter().find(|r| !valid_role(r)) {
                return fail(format!("invalid role name {bad:?}"));
            }
        }
        for schema in [&r.request_schema, &r.response_schema].into_iter().flatten() {
            if serde_json::from_str::<serde_json::Value>(schema).is_err() {
                return fail(format!("route {} {}: a schema is not JSON", r.method.as_str(), r.path));
            }
        }
    }
    let mut versions = HashSet::new();
    for mig in &m.migrations {
        if mig.version == 0 || !versions.insert(mig.version) {
            return fail(format!("migration versions must be unique and above zero (saw {})", mig.version));
        }
        for (dialect, text) in
            [(Dialect::Sqlite, mig.sql.as_str()), (Dialect::Postgres, mig.postgres_sql.as_deref().unwrap_or(&mig.sql))]
        {
            if let Err(e) = vet::vet_all(dialect, text) {
                return fail(format!("migration {} ({}) for {dialect:?}: {e}", mig.version, mig.name));
            }
        }
    }
    for h in &m.allowed_hosts {
        let bare = h.strip_prefix("*.").unwrap_or(h);
        if bare.is_empty() || bare.contains(['/', ':', '*', ' ']) {
            return fail(format!("allowed host {h:?}: give a host name such as api.example.com or *.example.com"));
        }
    }
    if let Some(bad) = m.roles.iter().find(|r| !valid_role(r)) {
        return fail(format!("invalid role name {bad:?}"));
    }
    if let Some(schema) = &m.config_schema
        && serde_json::from_str::<serde_json::Value>(schema).is_err()
    {
        return fail("the config schema is not JSON".into());
    }
    Ok(())
}
