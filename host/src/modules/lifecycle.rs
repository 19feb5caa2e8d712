//! A tenant's modules through their life: enable, upgrade, roll back,
//! disable, purge. Plain functions (methods of [`Modules`]) that the HTTP
//! handlers and the CLI call alike.
//!
//! The rules, each with a clear refusal when it does not hold:
//! - **enable** `{name, range}`: the highest version matching the range
//!   that is not yanked, with its dependencies resolved by semver (and
//!   enabled too, dependencies first); cycles and conflicts are refused.
//!   Each module's namespace is created and its migrations run in one
//!   transaction before the install is recorded.
//! - **upgrade**: the new version's pending migrations run in one
//!   transaction; if they fail the tenant stays on the old version, data
//!   untouched, and the error says which migration failed and why.
//! - **rollback** to the version before the last upgrade, when every
//!   migration applied since only added to the schema (the old code still
//!   works on it); otherwise refused, naming the migration.
//! - **disable** keeps the data; refused while an enabled module needs it.
//! - **purge** drops the namespace, blobs, KV, settings and keys of the
//!   module for the tenant, only when asked by name, and is refused while
//!   an enabled module depends on it.
//!
//! Every step writes an audit row, a `module_changes` row and (PostgreSQL)
//! a `NOTIFY` in the transaction that records it, then refreshes this
//! process's view of the tenant (see [`super::active`]).

use std::collections::BTreeMap;

use serde_json::json;

use super::registry::{self, PackageVersion};
use super::{Install, LoadedModule, ModuleError, Modules, installs, manifest};
use crate::audit::{self, Actor};
use crate::capabilities::sql::vet::{self, Dialect};
use crate::events::deliveries;

/// What one lifecycle step changed.
#[derive(Debug, Clone, poem_openapi::Object, serde::Serialize)]
pub struct Change {
    /// The module asked for, as it is now.
    pub install: Install,
    /// Dependencies enabled along with it, in the order they were enabled.
    pub also_enabled: Vec<Install>,
    /// Migrations applied by this step, per module.
    pub migrations_applied: BTreeMap<String, Vec<u32>>,
}

impl Modules {
    /// Enables `name` for `tenant` at the highest version matching `range`
    /// (any version when `None`; a disabled install comes back at its own
    /// version when that matches), with its dependencies.
    pub async fn enable(
        &self,
        tenant: &str,
        name: &str,
        range: Option<&str>,
        actor: &Actor,
    ) -> Result<Change, ModuleError> {
        let db = &self.services.db;
        crate::tenancy::get(db, tenant).await?;
        let all = installs::list(db, tenant).await?;
        let existing = all.iter().find(|i| i.module == name);
        let range = match (range, existing) {
            (Some(r), _) => r.trim().to_owned(),
            (None, Some(i)) if i.status == "disabled" => format!("={}", i.version),
            (None, _) => "*".to_owned(),
        };
        let installed = enabled_versions(&all);
        let catalogue = registry::catalogue(db).await?;
        let plan = catalogue.resolve(name, &range, &installed).map_err(ModuleError::Resolve)?;
        let mut change = Change {
            install: placeholder(tenant, name),
            also_enabled: Vec::new(),
            migrations_applied: BTreeMap::new(),
        };
        for module_name in &plan.order {
            let Some(version) = plan.versions.get(module_name) else { continue };
            let current = all.iter().find(|i| &i.module == module_name);
            let up_to_date = current.is_some_and(|i| i.status == "enabled" && i.version == version.to_string());
            if up_to_date && module_name != name {
                continue;
            }
            let package = registry::version(db, module_name, &version.to_string()).await?;
            let module = self.load_sha(&package.sha256).await?;
            let applied = self.prepare_namespace(tenant, &module).await?;
            let action = match current {
                Some(i) if i.version != package.version => "module.upgrade",
                Some(i) if i.status == "disabled" => "module.enable",
                Some(_) => "module.reenable",
                None => "module.enable",
            };
            let wanted = if module_name == name { range.as_str() } else { "*" };
            let install = self
                .record(tenant, &package, current, wanted, action, actor, json!({ "migrations_applied": applied }))
                .await?;
            change.migrations_applied.insert(module_name.clone(), applied);
            if module_name == name {
                change.install = install;
            } else {
                change.also_enabled.push(install);
            }
        }
        self.refresh(tenant).await?;
        Ok(change)
    }

    /// Upgrades `name` to the highest version matching `range` (any when
    /// `None`). Its pending migrations run in one transaction; on failure
    /// nothing changes and the error names the migration.
    pub async fn upgrade(
        &self,
        tenant: &str,
        name: &str,
        range: Option<&str>,
        actor: &Actor,
    ) -> Result<Change, ModuleError> {
        let db = &self.services.db;
        let all = installs::list(db, tenant).await?;
        let current = enabled_install(&all, tenant, name)?;
        let range = range.map_or_else(|| "*".to_owned(), |r| r.trim().to_owned());
        let catalogue = registry::catalogue(db).await?;
        let plan = catalogue.resolve(name, &range, &enabled_versions(&all)).map_err(ModuleError::Resolve)?;
        let Some(target) = plan.versions.get(name) else {
            return Err(ModuleError::Unknown(name.to_owned()));
        };
        let from = semver::Version::parse(&current.version).ok();
        if from.as_ref() >= Some(target) {
            return Err(ModuleError::Refused(format!(
                "{name} {} is the newest version matching {range:?} (the tenant runs {}); publish a newer one or use rollback",
                target, current.version
            )));
        }
        self.check_dependents(tenant, &all, name, &target.to_string()).await?;
        // New dependencies of the new version first, then the module itself.
        let mut change =
            Change { install: current.clone(), also_enabled: Vec::new(), migrations_applied: BTreeMap::new() };
        for dep in plan.order.iter().filter(|m| *m != name) {
            if all.iter().any(|i| &i.module == dep && i.status == "enabled") {
                continue;
            }
            let Some(version) = plan.versions.get(dep) else { continue };
            let dep_change = Box::pin(self.enable(tenant, dep, Some(&format!("={version}")), actor)).await?;
            change.migrations_applied.extend(dep_change.migrations_applied);
            change.also_enabled.push(dep_change.install);
        }
        let package = registry::version(db, name, &target.to_string()).await?;
        let module = self.load_sha(&package.sha256).await?;
        let applied = self.prepare_namespace(tenant, &module).await?;
        let install = self
            .record(
                tenant,
                &package,
                Some(current),
                &range,
                "module.upgrade",
                actor,
                json!({ "from": current.version, "migrations_applied": applied }),
            )
            .await?;
        change.migrations_applied.insert(name.to_owned(), applied);
        change.install = install;
        self.refresh(tenant).await?;
        Ok(change)
    }

    /// Goes back to the version that ran before the last upgrade.
    pub async fn rollback(&self, tenant: &str, name: &str, actor: &Actor) -> Result<Change, ModuleError> {
        let db = &self.services.db;
        let all = installs::list(db, tenant).await?;
        let current = enabled_install(&all, tenant, name)?;
        let Some(previous) = current.previous_version.clone() else {
            return Err(ModuleError::Refused(format!(
                "{name} has no earlier version to roll back to for tenant {tenant:?}"
            )));
        };
        let now = registry::version(db, name, &current.version).await?;
        let before = registry::version(db, name, &previous).await?;
        self.check_rollback_migrations(&now, &before)?;
        self.check_dependents(tenant, &all, name, &previous).await?;
        self.load_sha(&before.sha256).await?;
        let install = self
            .record(
                tenant,
                &before,
                Some(current),
                &format!("={previous}"),
                "module.rollback",
                actor,
                json!({ "from": current.version }),
            )
            .await?;
        self.refresh(tenant).await?;
        Ok(Change { install, also_enabled: Vec::new(), migrations_applied: BTreeMap::new() })
    }

    /// Disables `name` for `tenant`: its routes stop answering, its data stays.
    pub async fn disable(&self, tenant: &str, name: &str, actor: &Actor) -> Result<Install, ModuleError> {
        let db = &self.services.db;
        let all = installs::list(db, tenant).await?;
        let current = installed(&all, tenant, name)?;
        self.refuse_if_needed(tenant, &all, name, "disable").await?;
        let mut tx = db.begin().await?;
        sqlx::query(
            "UPDATE module_installs SET status = 'disabled', updated_at = $3 WHERE tenant_id = $1 AND module = $2",
        )
        .bind(tenant)
        .bind(name)
        .bind(crate::db::now())
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            actor,
            "module.disable",
            Some(tenant),
            json!({ "module": name, "version": current.version }),
        )
        .await?;
        let payload = json!({ "module": name, "version": current.version });
        deliveries::publish_host_event(&mut tx, tenant, "module.disabled", &payload).await?;
        crate::changes::announce(&mut tx, db.backend(), tenant, name, "disable").await?;
        tx.commit().await?;
        self.refresh(tenant).await?;
        installs::get(db, tenant, name)
            .await?
            .ok_or_else(|| ModuleError::NotEnabled { tenant: tenant.into(), module: name.into() })
    }

    /// Deletes everything `name` keeps for `tenant`: SQL namespace, blobs,
    /// KV, settings, signing key, undelivered events, and the install.
    pub async fn purge(&self, tenant: &str, name: &str, actor: &Actor) -> Result<(), ModuleError> {
        let db = &self.services.db;
        let all = installs::list(db, tenant).await?;
        let current = installed(&all, tenant, name)?;
        self.refuse_if_needed(tenant, &all, name, "purge").await?;
        let mut tx = db.begin().await?;
        let mut removed = serde_json::Map::new();
        // Events it published stay: other modules may still be owed them.
        for table in
            ["module_kv", "module_config", "module_keys", "module_certificates", "module_blobs", "module_installs"]
        {
            let done =
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE tenant_id = $1 AND module = $2")))
                    .bind(tenant)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
            removed.insert(table.to_owned(), json!(done.rows_affected()));
        }
        let dropped = deliveries::drop_for_module(&mut tx, tenant, name).await?;
        if dropped > 0 {
            tracing::info!(tenant, module = name, deliveries = dropped, "purge dropped undelivered events");
        }
        audit::record(
            &mut tx,
            actor,
            "module.purge",
            Some(tenant),
            json!({
                "module": name,
                "version": current.version,
                "rows_removed": removed,
                "undelivered_events_dropped": dropped,
            }),
        )
        .await?;
        let payload = json!({ "module": name, "version": current.version });
        deliveries::publish_host_event(&mut tx, tenant, "module.purged", &payload).await?;
        crate::changes::announce(&mut tx, db.backend(), tenant, name, "purge").await?;
        tx.commit().await?;
        self.refresh(tenant).await?;
        // After the commit: a failure here leaves unreachable data to clean
        // up (logged), never an install whose data is half gone.
        self.services.crypto.remove(tenant, name);
        if let Err(e) = self.services.sql.drop_namespace(tenant, name).await {
            tracing::error!(tenant, module = name, error = %e, "purged, but the SQL namespace could not be dropped");
        }
        let prefix = crate::capabilities::blob::prefix(tenant, name);
        if let Err(e) = self.services.storage.delete_prefix(&prefix).await {
            tracing::error!(tenant, module = name, error = %e, "purged, but some blobs remain");
        }
        Ok(())
    }

    /// Stores a setting (JSON text) or a secret of `name` for `tenant`,
    /// audited. A setting is checked against the module's config schema
    /// (the version the tenant runs): a key the schema does not allow, or a
    /// value of the wrong shape, is refused with the schema's reason.
    pub async fn configure(
        &self,
        tenant: &str,
        name: &str,
        key: &str,
        value: &str,
        secret: bool,
        actor: &Actor,
    ) -> Result<(), ModuleError> {
        let db = &self.services.db;
        let install = installs::get(db, tenant, name)
            .await?
            .ok_or_else(|| ModuleError::NotEnabled { tenant: tenant.into(), module: name.into() })?;
        if !secret {
            let package = registry::version(db, name, &install.version).await?;
            check_setting(&package.manifest["config_schema"], key, value)?;
        }
        Ok(crate::modules::settings::set_audited(db, actor, tenant, name, key, value, secret).await?)
    }

    /// Creates the namespace of a module for a tenant and applies its
    /// pending migrations (one transaction; all or none).
    async fn prepare_namespace(&self, tenant: &str, module: &LoadedModule) -> Result<Vec<u32>, ModuleError> {
        let sql = &self.services.sql;
        sql.create(tenant, module.name()).await?;
        Ok(sql.migrate(tenant, module.name(), &module.manifest.migrations).await?)
    }

    /// Records an install at `package`'s version with its audit row and the
    /// change announcement, in one transaction.
    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        tenant: &str,
        package: &PackageVersion,
        current: Option<&Install>,
        range: &str,
        action: &str,
        actor: &Actor,
        detail: serde_json::Value,
    ) -> Result<Install, ModuleError> {
        let db = &self.services.db;
        let now = crate::db::now();
        // The version it ran before, kept across re-enables, replaced on a version change.
        let (prev_version, prev_sha) = match current {
            Some(i) if i.version != package.version => (Some(i.version.clone()), Some(i.sha256.clone())),
            Some(i) => (i.previous_version.clone(), i.previous_sha256.clone()),
            None => (None, None),
        };
        let mut tx = db.begin().await?;
        sqlx::query(
            "INSERT INTO module_installs (tenant_id, module, version, sha256, status, created_at, updated_at, \
             version_range, previous_version, previous_sha256) \
             VALUES ($1, $2, $3, $4, 'enabled', $5, $5, $6, $7, $8) ON CONFLICT (tenant_id, module) \
             DO UPDATE SET version = excluded.version, sha256 = excluded.sha256, status = 'enabled', \
             updated_at = excluded.updated_at, version_range = excluded.version_range, \
             previous_version = excluded.previous_version, previous_sha256 = excluded.previous_sha256",
        )
        .bind(tenant)
        .bind(&package.name)
        .bind(&package.version)
        .bind(&package.sha256)
        .bind(&now)
        .bind(range)
        .bind(prev_version)
        .bind(prev_sha)
        .execute(&mut *tx)
        .await?;
        let mut detail = detail;
        if let Some(map) = detail.as_object_mut() {
            map.insert("module".into(), json!(package.name));
            map.insert("version".into(), json!(package.version));
            map.insert("sha256".into(), json!(package.sha256));
        }
        audit::record(&mut tx, actor, action, Some(tenant), detail).await?;
        if let Some(event_type) = host_event(action) {
            let payload = json!({
                "module": package.name,
                "version": package.version,
                "previous_version": current.map(|c| c.version.as_str()),
            });
            deliveries::publish_host_event(&mut tx, tenant, event_type, &payload).await?;
        }
        crate::changes::announce(&mut tx, db.backend(), tenant, &package.name, action).await?;
        tx.commit().await?;
        tracing::info!(tenant, module = %package.name, version = %package.version, action, actor = %actor.name, "module install changed");
        installs::get(db, tenant, &package.name)
            .await?
            .ok_or_else(|| ModuleError::NotEnabled { tenant: tenant.into(), module: package.name.clone() })
    }

    /// Refuses when an enabled module of the tenant depends on `name`.
    async fn refuse_if_needed(&self, tenant: &str, all: &[Install], name: &str, what: &str) -> Result<(), ModuleError> {
        let mut needed_by = Vec::new();
        for other in all.iter().filter(|i| i.status == "enabled" && i.module != name) {
            let package = registry::version(&self.services.db, &other.module, &other.version).await?;
            if manifest::dependencies_of(&package.manifest).iter().any(|(dep, _)| dep == name) {
                needed_by.push(format!("{} {}", other.module, other.version));
            }
        }
        if needed_by.is_empty() {
            Ok(())
        } else {
            Err(ModuleError::Refused(format!(
                "cannot {what} {name} for tenant {tenant:?}: {} depend(s) on it; disable those first",
                needed_by.join(", ")
            )))
        }
    }

    /// Refuses a version change of `name` that an enabled dependent's range does not allow.
    async fn check_dependents(&self, tenant: &str, all: &[Install], name: &str, to: &str) -> Result<(), ModuleError> {
        let to_version =
            semver::Version::parse(to).map_err(|_| ModuleError::Refused(format!("{to:?} is not a version")))?;
        for other in all.iter().filter(|i| i.status == "enabled" && i.module != name) {
            let package = registry::version(&self.services.db, &other.module, &other.version).await?;
            for (dep, range) in manifest::dependencies_of(&package.manifest) {
                let fits = plaza_registry::resolve::parse_range(&range).is_ok_and(|r| r.matches(&to_version));
                if dep == name && !fits {
                    return Err(ModuleError::Refused(format!(
                        "{} {} needs {name} {range}; {to} does not match, for tenant {tenant:?}",
                        other.module, other.version
                    )));
                }
            }
        }
        Ok(())
    }

    /// Rollback from `now` to `before` is allowed when every migration of
    /// `now` that `before` lacks only adds to the schema.
    fn check_rollback_migrations(&self, now: &PackageVersion, before: &PackageVersion) -> Result<(), ModuleError> {
        let dialect = self.services.sql.dialect();
        let known: Vec<u32> = manifest::migrations_of(&before.manifest).iter().map(|m| m.0).collect();
        for (version, sql, pg) in manifest::migrations_of(&now.manifest) {
            if known.contains(&version) {
                continue;
            }
            let text = match (dialect, &pg) {
                (Dialect::Postgres, Some(pg)) => pg.as_str(),
                _ => sql.as_str(),
            };
            if !vet::is_additive(dialect, text) {
                return Err(ModuleError::Refused(format!(
                    "cannot roll {} back from {} to {}: migration {version} of {} changes or removes data that {} relies on \
                     (only migrations that add tables, indexes, nullable or defaulted columns, or rows can be rolled back over)",
                    now.name, now.version, before.version, now.version, before.version
                )));
            }
        }
        Ok(())
    }
}

/// Checks one setting against a module's config schema (the schema of the
/// object of all settings): `{key: value}` must validate against it with
/// its `required` list dropped, since settings are set one at a time.
fn check_setting(schema: &serde_json::Value, key: &str, value: &str) -> Result<(), ModuleError> {
    let value: serde_json::Value = serde_json::from_str(value)
        .map_err(|e| ModuleError::Setting(format!("the value of {key:?} must be JSON: {e}")))?;
    if !schema.is_object() {
        return Ok(());
    }
    let mut schema = schema.clone();
    if let Some(o) = schema.as_object_mut() {
        o.remove("required");
    }
    let validator = jsonschema::validator_for(&schema)
        .map_err(|e| ModuleError::Setting(format!("the module's config schema cannot be used: {e}")))?;
    let instance = json!({ key: value });
    let errors: Vec<String> = validator.iter_errors(&instance).map(|e| e.to_string()).take(5).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ModuleError::Setting(format!(
            "setting {key:?} does not fit the module's config schema: {}",
            errors.join("; ")
        )))
    }
}

/// The module versions a tenant runs.
fn enabled_versions(all: &[Install]) -> BTreeMap<String, semver::Version> {
    all.iter()
        .filter(|i| i.status == "enabled")
        .filter_map(|i| Some((i.module.clone(), semver::Version::parse(&i.version).ok()?)))
        .collect()
}

/// The install of `name`, enabled or not.
fn installed<'a>(all: &'a [Install], tenant: &str, name: &str) -> Result<&'a Install, ModuleError> {
    all.iter()
        .find(|i| i.module == name)
        .ok_or_else(|| ModuleError::NotEnabled { tenant: tenant.into(), module: name.into() })
}

fn enabled_install<'a>(all: &'a [Install], tenant: &str, name: &str) -> Result<&'a Install, ModuleError> {
    all.iter()
        .find(|i| i.module == name && i.status == "enabled")
        .ok_or_else(|| ModuleError::NotEnabled { tenant: tenant.into(), module: name.into() })
}

fn placeholder(tenant: &str, name: &str) -> Install {
    Install {
        tenant: tenant.to_owned(),
        module: name.to_owned(),
        version: String::new(),
        sha256: String::new(),
        status: String::new(),
        version_range: String::new(),
        previous_version: None,
        previous_sha256: None,
        created_at: String::new(),
        updated_at: String::new(),
    }
}

/// Writes the change row every process polls, and on PostgreSQL notifies
/// listeners; both take effect when the transaction commits.
/// The host event a lifecycle step publishes to the tenant's modules.
fn host_event(action: &str) -> Option<&'static str> {
    match action {
        "module.enable" => Some("module.enabled"),
        "module.upgrade" => Some("module.upgraded"),
        "module.rollback" => Some("module.rolled-back"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_against_the_config_schema() {
        let schema = json!({
            "type": "object",
            "properties": { "greeting": { "type": ["string", "null"] }, "limit": { "type": "integer", "minimum": 1 } },
            "required": ["greeting"],
            "additionalProperties": false
        });
        assert!(check_setting(&schema, "greeting", "\"Hola\"").is_ok());
        assert!(check_setting(&schema, "limit", "3").is_ok(), "one setting at a time: `required` does not apply");
        assert!(check_setting(&schema, "limit", "0").is_err());
        assert!(check_setting(&schema, "greeting", "42").is_err());
        assert!(check_setting(&schema, "colour", "\"red\"").is_err(), "unknown keys refused when the schema says so");
        assert!(check_setting(&schema, "greeting", "not json").is_err());
        assert!(check_setting(&serde_json::Value::Null, "anything", "1").is_ok(), "no schema, no check");
    }
}
