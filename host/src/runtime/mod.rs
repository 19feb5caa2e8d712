//! The module runtime: one wasmtime engine for the process, components
//! compiled once per (module, version) and cached on disk, and per-call
//! limits enforced by the engine (epoch deadlines, memory caps).
//!
//! - [`engine`]: the engine's configuration (pooling allocator, epochs).
//! - [`ticker`]: the single thread that advances epochs.
//! - [`cache`]: compiled artefacts, in memory and on disk.
//! - [`limits`]: the memory limiter, and leases of work under a deadline.
//! - [`call`]: one call, from a fresh store to a classified outcome.
//! - [`clock`]: the wall clock modules see (tests move it).
//!
//! The runtime knows the contract (`crate::contract`) and nothing of the
//! capabilities: a call's store holds any [`CallData`].

pub mod cache;
pub mod call;
pub mod clock;
pub mod engine;
pub mod limits;
pub mod share;
pub mod ticker;

use std::path::PathBuf;
use std::sync::Arc;

pub use cache::ComponentCache;
pub use call::{CallData, CallError, Invocation, Output};
pub use engine::EngineSettings;
pub use ticker::EpochTicker;

/// Why the runtime could not load or run a module.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("invalid engine settings: {0}")]
    Engine(String),
    #[error("not a valid component: {0}")]
    Compile(String),
    #[error("component cache {path}: {source}")]
    Cache { path: String, source: std::io::Error },
}

/// The runtime of one host process: engine, epoch ticker and cache.
pub struct Runtime {
    engine: wasmtime::Engine,
    cache: ComponentCache,
    ticker: EpochTicker,
    settings: EngineSettings,
    /// One permit per pool slot: calls wait for a slot instead of failing.
    slots: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("settings", &self.settings).finish()
    }
}

impl Runtime {
    /// Builds the engine, starts its one epoch ticker and opens the cache directory.
    pub fn new(settings: EngineSettings, cache_dir: PathBuf) -> Result<Arc<Self>, RuntimeError> {
        let engine = engine::build(&settings)?;
        let cache = ComponentCache::open(&engine, cache_dir)?;
        let ticker = EpochTicker::start(engine.clone(), settings.epoch_tick);
        let slots = Arc::new(tokio::sync::Semaphore::new(settings.max_concurrent_calls.max(1) as usize));
        Ok(Arc::new(Self { engine, cache, ticker, settings, slots }))
    }

    pub fn engine(&self) -> &wasmtime::Engine {
        &self.engine
    }

    pub fn cache(&self) -> &ComponentCache {
        &self.cache
    }

    pub(crate) fn slots(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.slots
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Epoch ticks that make up `deadline` (at least one).
    pub fn ticks_for(&self, deadline: std::time::Duration) -> u64 {
        self.ticker.ticks_for(deadline)
    }
}
