//! Compiled components: each distinct wasm (by SHA-256) is compiled once,
//! kept in memory, and its artefact written to disk so that a restart loads
//! it in a fraction of a millisecond instead of compiling again.
//!
//! Artefacts are named by the wasm's SHA-256 and the engine's compatibility
//! hash, so a host upgrade or a changed engine setting never loads an
//! artefact made for another engine.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::RuntimeError;

/// Compiled components by the SHA-256 of their wasm.
pub struct ComponentCache {
    engine: Engine,
    dir: PathBuf,
    compat: String,
    loaded: RwLock<HashMap<String, Component>>,
    compiles: AtomicU64,
    disk_loads: AtomicU64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RuntimeError + '_ {
    move |source| RuntimeError::Cache { path: path.display().to_string(), source }
}

impl ComponentCache {
    /// Opens (creating) the cache directory, private to the host.
    pub fn open(engine: &Engine, dir: PathBuf) -> Result<Self, RuntimeError> {
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(io(&dir))?;
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Self {
            engine: engine.clone(),
            dir,
            compat: format!("{:016x}", hasher.finish()),
            loaded: RwLock::new(HashMap::new()),
            compiles: AtomicU64::new(0),
            disk_loads: AtomicU64::new(0),
        })
    }

    /// The component of `wasm`: from memory, else from disk, else compiled
    /// (and written to disk). CPU-heavy on a miss: call it off async threads.
    pub fn load(&self, wasm: &[u8]) -> Result<(String, Component), RuntimeError> {
        self.load_reporting(wasm).map(|(sha, c, _)| (sha, c))
    }

    /// As [`Self::load`], also telling whether this load compiled.
    pub fn load_reporting(&self, wasm: &[u8]) -> Result<(String, Component, bool), RuntimeError> {
        let sha = hex::encode(Sha256::digest(wasm));
        if let Some(c) = self.loaded.read().ok().and_then(|m| m.get(&sha).cloned()) {
            return Ok((sha, c, false));
        }
        let path = self.dir.join(format!("{sha}-{}.cwasm", self.compat));
        let (component, compiled) = match self.load_artefact(&path) {
            Some(c) => (c, false),
            None => (self.compile(wasm, &path)?, true),
        };
        if let Ok(mut m) = self.loaded.write() {
            m.insert(sha.clone(), component.clone());
        }
        Ok((sha, component, compiled))
    }

    fn load_artefact(&self, path: &Path) -> Option<Component> {
        if !path.exists() {
            return None;
        }
        // SAFETY: `deserialize_file` trusts its input to be an artefact made
        // by a compatible engine. Only this cache writes here: the directory
        // is private (0700), the file name carries the wasm's SHA-256 and
        // this engine's compatibility hash, and files appear by atomic
        // rename after a complete write.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize_file(&self.engine, path) };
        match loaded {
            Ok(c) => {
                self.disk_loads.fetch_add(1, Ordering::Relaxed);
                Some(c)
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "unusable cached artefact; compiling again");
                None
            }
        }
    }

    fn compile(&self, wasm: &[u8], path: &Path) -> Result<Component, RuntimeError> {
        let component = Component::new(&self.engine, wasm).map_err(|e| RuntimeError::Compile(format!("{e:#}")))?;
        self.compiles.fetch_add(1, Ordering::Relaxed);
        match component.serialize() {
            Ok(bytes) => {
                if let Err(e) = write_atomically(path, &bytes) {
                    tracing::warn!(error = %e, "compiled artefact not cached on disk");
                }
            }
            Err(e) => tracing::warn!(error = %e, "compiled artefact could not be serialized"),
        }
        Ok(component)
    }

    /// Components compiled by this process (not loaded from memory or disk).
    pub fn compiles(&self) -> u64 {
        self.compiles.load(Ordering::Relaxed)
    }

    /// Components loaded from disk artefacts by this process.
    pub fn disk_loads(&self) -> u64 {
        self.disk_loads.load(Ordering::Relaxed)
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
