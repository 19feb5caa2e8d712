//! Checks of a manifest read from a component, before the host trusts it.
//! (The registry's publish step adds signatures and the catalogue's rules.)

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::capabilities::sql::vet::{self, Dialect};
use crate::contract::{Access, Manifest};

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
    "usage",
    "quotas",
    "mail-settings",
    "stream",
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

/// Checks names, version, routes' roles and ids, migrations, jobs' names
/// and hosts. (Job schedules are parsed, once, when the module's job specs
/// are built right after this: `Modules::load_wasm`.)
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
    let mut jobs = HashSet::new();
    for j in &m.jobs {
        if !valid_role(&j.name) || !jobs.insert(j.name.as_str()) {
            return fail(format!("job {:?}: names are lower-case words, each used once", j.name));
        }
        if j.deadline_ms == Some(0) {
            return fail(format!("job {:?}: a deadline must be above zero", j.name));
        }
    }
    if let Some(bad) = m.subscriptions.iter().find(|t| !crate::capabilities::events::valid_type(t)) {
        return fail(format!("subscription {bad:?}: event types are dotted lower-case words, e.g. sale.confirmed"));
    }
    let mut needed = HashSet::new();
    for d in &m.dependencies {
        if d.name == m.name || !valid_name(&d.name) || !needed.insert(d.name.as_str()) {
            return fail(format!("dependency {:?}: name another module, once", d.name));
        }
        if plaza_registry::resolve::parse_range(&d.version_req).is_err() {
            return fail(format!("dependency {:?}: {:?} is not a version range (e.g. ^1.2)", d.name, d.version_req));
        }
    }
    Ok(())
}

/// The manifest as JSON: what the registry stores and lists. Schemas stay
/// JSON (not text), migrations are listed with their SQL. `capabilities`
/// are the granted ones: those listed and those of 1.x the component imports.
pub fn to_json(m: &Manifest, capabilities: &[crate::contract::Capability]) -> Value {
    let schema = |s: &Option<String>| s.as_deref().and_then(|t| serde_json::from_str::<Value>(t).ok());
    let routes: Vec<Value> = m
        .routes
        .iter()
        .map(|r| {
            let access = match &r.access {
                Access::Public => json!("public"),
                Access::Roles(roles) => json!({ "roles": roles }),
            };
            json!({
                "method": r.method.as_str(),
                "path": r.path,
                "operation_id": r.operation_id,
                "summary": r.summary,
                "description": r.description,
                "request_schema": schema(&r.request_schema),
                "response_schema": schema(&r.response_schema),
                "access": access,
                "deprecated": r.deprecated,
            })
        })
        .collect();
    let migrations: Vec<Value> = m
        .migrations
        .iter()
        .map(|g| json!({ "version": g.version, "name": g.name, "sql": g.sql, "postgres_sql": g.postgres_sql }))
        .collect();
    let jobs: Vec<Value> = m
        .jobs
        .iter()
        .map(
            |j| json!({ "name": j.name, "schedule": j.schedule, "timezone": j.timezone, "deadline_ms": j.deadline_ms }),
        )
        .collect();
    let dependencies: Vec<Value> =
        m.dependencies.iter().map(|d| json!({ "name": d.name, "version_req": d.version_req })).collect();
    let l = &m.limits;
    json!({
        "name": m.name,
        "version": m.version,
        "description": m.description,
        "routes": routes,
        "capabilities": capabilities.iter().map(|c| c.name()).collect::<Vec<_>>(),
        "allowed_hosts": m.allowed_hosts,
        "migrations": migrations,
        "jobs": jobs,
        "subscriptions": m.subscriptions,
        "config_schema": schema(&m.config_schema),
        "dependencies": dependencies,
        "roles": m.roles,
        "limits": {
            "deadline_ms": l.deadline_ms, "memory_bytes": l.memory_bytes, "response_bytes": l.response_bytes,
            "sql_statements": l.sql_statements, "sql_rows": l.sql_rows, "http_requests": l.http_requests,
        },
    })
}

/// `(name, range)` of each dependency in a manifest stored as JSON.
pub fn dependencies_of(manifest: &Value) -> Vec<(String, String)> {
    manifest["dependencies"]
        .as_array()
        .map(|deps| {
            deps.iter()
                .filter_map(|d| Some((d["name"].as_str()?.to_owned(), d["version_req"].as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// `(version, checksum source text)` of each migration in a stored manifest:
/// what rollback compares with the migrations a namespace has applied.
pub fn migrations_of(manifest: &Value) -> Vec<(u32, String, Option<String>)> {
    manifest["migrations"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|g| {
                    Some((
                        u32::try_from(g["version"].as_u64()?).ok()?,
                        g["sql"].as_str()?.to_owned(),
                        g["postgres_sql"].as_str().map(str::to_owned),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}
