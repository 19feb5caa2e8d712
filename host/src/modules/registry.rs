//! The registry: every published version of every module.
//!
//! A package is a component and, normally, a publisher's signature over its
//! SHA-256 (`plaza module sign`). Publishing checks the signature against
//! the operator's trusted keys, then loads the component the way a call
//! would (compile, manifest read in a sandbox with no capabilities,
//! manifest checks), and only then stores it: the bytes content-addressed
//! in the object store (`registry/sha256/{hex}`), the version in
//! `registry_versions`. A version is never overwritten; it can be yanked,
//! which keeps it running where it is installed but refuses new installs.
//!
//! Modules found in `PLAZA_MODULES_DIR` at start-up enter the registry as
//! `bundled`: the operator put them on the host's disk, which is trust
//! enough. A bundled version may be replaced by another bundled build of
//! the same version (installs keep the bytes they were enabled with).

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use plaza_registry::{Catalogue, PackageSignature, SignatureError, TrustedKeys};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{LoadedModule, ModuleError, Modules, manifest};
use crate::audit::{self, Actor};
use crate::db::Db;
use crate::storage::Storage;

/// The largest component the registry takes.
pub const MAX_PACKAGE_BYTES: usize = 64 << 20;

/// Who may publish: the trusted publisher keys, and the development switch
/// that lets unsigned or untrusted packages in.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    pub keys: TrustedKeys,
    pub allow_unsigned: bool,
}

/// One published version, as listed.
#[derive(Debug, Clone, poem_openapi::Object, serde::Serialize)]
pub struct PackageVersion {
    pub name: String,
    pub version: String,
    /// Hex SHA-256 of the component.
    pub sha256: String,
    /// Size of the component in bytes.
    pub size: i64,
    pub description: String,
    /// The module's manifest: routes, capabilities, migrations, jobs, dependencies…
    pub manifest: Value,
    /// `ed25519:…` key of the publisher that signed it; absent when not signed.
    pub publisher: Option<String>,
    /// Whether this host trusts that key now (`PLAZA_TRUSTED_PUBLISHERS`).
    #[serde(default)]
    pub publisher_trusted: bool,
    /// `published` (through the API or CLI) or `bundled` (from `PLAZA_MODULES_DIR`).
    pub source: String,
    /// Yanked versions keep running where installed but cannot be newly enabled.
    pub yanked: bool,
    /// RFC 3339, UTC.
    pub published_at: String,
    pub published_by: String,
}

/// A module of the catalogue, with its newest version.
#[derive(Debug, Clone, poem_openapi::Object, serde::Serialize)]
pub struct ModuleSummary {
    pub name: String,
    pub description: String,
    /// The highest version that is not yanked, if any.
    pub latest: Option<String>,
    /// Every version, yanked ones included, highest first.
    pub versions: Vec<String>,
}

type VersionRow = (String, String, String, i64, String, String, Option<String>, String, i64, String, String);

const COLUMNS: &str =
    "name, version, sha256, size, description, manifest, publisher, source, yanked, published_at, published_by";

fn from_row(r: VersionRow) -> PackageVersion {
    PackageVersion {
        name: r.0,
        version: r.1,
        sha256: r.2,
        size: r.3,
        description: r.4,
        manifest: serde_json::from_str(&r.5).unwrap_or(Value::Null),
        publisher: r.6,
        publisher_trusted: false,
        source: r.7,
        yanked: r.8 != 0,
        published_at: r.9,
        published_by: r.10,
    }
}

/// Highest semantic version first; unparsable ones (never stored) last.
fn by_version_desc(a: &PackageVersion, b: &PackageVersion) -> std::cmp::Ordering {
    let parse = |v: &str| semver::Version::parse(v).ok();
    parse(&b.version).cmp(&parse(&a.version))
}

/// Where a component's bytes live: their hash names them.
fn blob_path(sha256: &str) -> Path {
    Path::from(format!("registry/sha256/{sha256}.wasm"))
}

/// Every version of `name`, highest first.
pub async fn versions(db: &Db, name: &str) -> Result<Vec<PackageVersion>, ModuleError> {
    let rows: Vec<VersionRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM registry_versions WHERE name = $1")))
            .bind(name)
            .fetch_all(db.pool())
            .await?;
    let mut all: Vec<PackageVersion> = rows.into_iter().map(from_row).collect();
    all.sort_by(by_version_desc);
    Ok(all)
}

/// One version.
pub async fn version(db: &Db, name: &str, version: &str) -> Result<PackageVersion, ModuleError> {
    let row: Option<VersionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM registry_versions WHERE name = $1 AND version = $2"
    )))
    .bind(name)
    .bind(version)
    .fetch_optional(db.pool())
    .await?;
    row.map(from_row).ok_or_else(|| ModuleError::NoSuchVersion { name: name.into(), version: version.into() })
}

/// The catalogue: every module with its versions.
pub async fn list(db: &Db) -> Result<Vec<ModuleSummary>, ModuleError> {
    let rows: Vec<(String, String, String, i64)> =
        sqlx::query_as("SELECT name, version, description, yanked FROM registry_versions ORDER BY name")
            .fetch_all(db.pool())
            .await?;
    let mut out: Vec<ModuleSummary> = Vec::new();
    let mut versions: Vec<(semver::Version, String, bool)> = Vec::new();
    let flush = |out: &mut Vec<ModuleSummary>, versions: &mut Vec<(semver::Version, String, bool)>| {
        if let Some(last) = out.last_mut() {
            versions.sort_by(|a, b| b.0.cmp(&a.0));
            last.latest = versions.iter().find(|v| !v.2).map(|v| v.0.to_string());
            last.description = versions.first().map(|v| v.1.clone()).unwrap_or_default();
            last.versions = versions.iter().map(|v| v.0.to_string()).collect();
        }
        versions.clear();
    };
    for (name, version, description, yanked) in rows {
        if out.last().is_none_or(|m| m.name != name) {
            flush(&mut out, &mut versions);
            out.push(ModuleSummary { name, description: String::new(), latest: None, versions: Vec::new() });
        }
        if let Ok(v) = semver::Version::parse(&version) {
            versions.push((v, description, yanked != 0));
        }
    }
    flush(&mut out, &mut versions);
    Ok(out)
}

/// The catalogue for dependency resolution.
pub async fn catalogue(db: &Db) -> Result<Catalogue, ModuleError> {
    let rows: Vec<(String, String, String, i64)> =
        sqlx::query_as("SELECT name, version, manifest, yanked FROM registry_versions").fetch_all(db.pool()).await?;
    let mut catalogue = Catalogue::new();
    for (name, version, manifest, yanked) in rows {
        let manifest: Value = serde_json::from_str(&manifest).unwrap_or(Value::Null);
        let deps = manifest::dependencies_of(&manifest);
        let deps: Vec<(&str, &str)> = deps.iter().map(|(n, r)| (n.as_str(), r.as_str())).collect();
        catalogue.add(&name, &version, &deps, yanked != 0).map_err(ModuleError::Resolve)?;
    }
    Ok(catalogue)
}

/// Yanks a version (or takes the yank back). Audited.
pub async fn set_yanked(
    db: &Db,
    actor: &Actor,
    name: &str,
    version_text: &str,
    yanked: bool,
) -> Result<PackageVersion, ModuleError> {
    let mut tx = db.begin().await?;
    let done = sqlx::query("UPDATE registry_versions SET yanked = $1 WHERE name = $2 AND version = $3")
        .bind(i32::from(yanked))
        .bind(name)
        .bind(version_text)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(ModuleError::NoSuchVersion { name: name.into(), version: version_text.into() });
    }
    let action = if yanked { "registry.yank" } else { "registry.unyank" };
    audit::record(&mut tx, actor, action, None, json!({ "module": name, "version": version_text })).await?;
    tx.commit().await?;
    version(db, name, version_text).await
}

/// Reads a component back from the object store, checking its hash.
pub async fn fetch(storage: &Storage, sha256: &str) -> Result<Vec<u8>, ModuleError> {
    let got = storage.store().get(&blob_path(sha256)).await.map_err(|e| ModuleError::Blob(e.to_string()))?;
    let bytes = got.bytes().await.map_err(|e| ModuleError::Blob(e.to_string()))?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != sha256 {
        return Err(ModuleError::Blob(format!("stored component {sha256} has changed (now {actual}); refusing it")));
    }
    Ok(bytes.to_vec())
}

impl Modules {
    /// Publishes a package: signature checked, component loaded and its
    /// manifest validated, then stored. Refuses an existing version.
    pub async fn publish(
        &self,
        wasm: Vec<u8>,
        signature: Option<PackageSignature>,
        actor: &Actor,
    ) -> Result<PackageVersion, ModuleError> {
        if wasm.len() > MAX_PACKAGE_BYTES {
            return Err(ModuleError::TooLarge { size: wasm.len(), limit: MAX_PACKAGE_BYTES });
        }
        let publisher = self.check_signature(&wasm, signature.as_ref())?;
        let module = self.load_wasm(wasm.clone()).await?;
        let db = &self.services.db;
        if let Ok(existing) = version(db, module.name(), module.version()).await {
            return Err(ModuleError::VersionExists {
                name: existing.name,
                version: existing.version,
                same: existing.sha256 == module.sha256,
            });
        }
        self.store_blob(&module.sha256, wasm.clone()).await?;
        let signature_text = signature.as_ref().filter(|_| publisher.is_some()).map(|s| s.signature.clone());
        let inserted =
            insert_version(db, &module, wasm.len(), publisher.as_deref(), signature_text, "published", actor).await?;
        if !inserted {
            return Err(ModuleError::VersionExists {
                name: module.name().into(),
                version: module.version().into(),
                same: false,
            });
        }
        if db.backend() == crate::db::Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(super::active::PUBLISHED)
                .bind(&module.sha256)
                .execute(db.pool())
                .await?;
        }
        tracing::info!(module = module.name(), version = module.version(), sha256 = %module.sha256, publisher = publisher.as_deref().unwrap_or("-"), "module published");
        version(db, module.name(), module.version()).await
    }

    /// The publisher key of a valid, trusted signature; `None` for a package
    /// let in by the development switch.
    fn check_signature(
        &self,
        wasm: &[u8],
        signature: Option<&PackageSignature>,
    ) -> Result<Option<String>, ModuleError> {
        let trust = &self.trust;
        match signature {
            None if trust.allow_unsigned => Ok(None),
            None => Err(ModuleError::Signature(SignatureError::Missing)),
            Some(sig) => match trust.keys.check(wasm, sig) {
                Ok(()) => Ok(Some(sig.key.clone())),
                // Tampered or forged: refused even in development.
                Err(SignatureError::Untrusted(_)) if trust.allow_unsigned => Ok(None),
                Err(e) => Err(ModuleError::Signature(e)),
            },
        }
    }

    async fn store_blob(&self, sha256: &str, wasm: Vec<u8>) -> Result<(), ModuleError> {
        self.services
            .storage
            .store()
            .put(&blob_path(sha256), PutPayload::from(wasm))
            .await
            .map_err(|e| ModuleError::Blob(e.to_string()))?;
        Ok(())
    }

    /// Enters a module of `PLAZA_MODULES_DIR` into the registry (see the
    /// module docs); returns it loaded.
    pub async fn register_bundled(&self, wasm: Vec<u8>) -> Result<Arc<LoadedModule>, ModuleError> {
        let size = wasm.len();
        let module = self.load_wasm(wasm.clone()).await?;
        let db = &self.services.db;
        match version(db, module.name(), module.version()).await {
            Ok(existing) if existing.sha256 == module.sha256 => return Ok(module),
            Ok(existing) if existing.source == "published" => {
                tracing::warn!(
                    module = module.name(),
                    version = module.version(),
                    "a published version of this name and version exists: the bundled file is ignored"
                );
                return Ok(module);
            }
            Ok(_) => {
                self.store_blob(&module.sha256, wasm).await?;
                sqlx::query(
                    "UPDATE registry_versions SET sha256 = $1, size = $2, description = $3, manifest = $4, \
                     published_at = $5 WHERE name = $6 AND version = $7 AND source = 'bundled'",
                )
                .bind(&module.sha256)
                .bind(i64::try_from(size).unwrap_or(i64::MAX))
                .bind(&module.manifest.description)
                .bind(manifest::to_json(&module.manifest, &module.grant.capabilities).to_string())
                .bind(crate::db::now())
                .bind(module.name())
                .bind(module.version())
                .execute(db.pool())
                .await?;
                tracing::info!(module = module.name(), version = module.version(), sha256 = %module.sha256, "bundled module replaced (new installs get the new build)");
            }
            Err(_) => {
                self.store_blob(&module.sha256, wasm).await?;
                insert_version(db, &module, size, None, None, "bundled", &Actor::new("host")).await?;
            }
        }
        Ok(module)
    }
}

/// Inserts a version row (false when it exists already) with its audit row.
async fn insert_version(
    db: &Db,
    module: &LoadedModule,
    size: usize,
    publisher: Option<&str>,
    signature: Option<String>,
    source: &str,
    actor: &Actor,
) -> Result<bool, ModuleError> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "INSERT INTO registry_versions (name, version, sha256, size, description, manifest, publisher, signature, \
         source, yanked, published_at, published_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11) \
         ON CONFLICT (name, version) DO NOTHING",
    )
    .bind(module.name())
    .bind(module.version())
    .bind(&module.sha256)
    .bind(i64::try_from(size).unwrap_or(i64::MAX))
    .bind(&module.manifest.description)
    .bind(manifest::to_json(&module.manifest, &module.grant.capabilities).to_string())
    .bind(publisher)
    .bind(signature)
    .bind(source)
    .bind(crate::db::now())
    .bind(&actor.name)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    audit::record(
        &mut tx,
        actor,
        "registry.publish",
        None,
        json!({ "module": module.name(), "version": module.version(), "sha256": module.sha256, "publisher": publisher, "source": source }),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
