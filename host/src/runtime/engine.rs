//! The engine's configuration, decided once per process.
//!
//! The pooling allocator pre-reserves slots so that a fresh store per call
//! costs microseconds; epoch interruption bounds wall-clock time without
//! the per-instruction cost of fuel. A WASIp2 component holds several core
//! instances and memories, so the pool is sized in those units too.

use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::RuntimeError;

/// Bytes of each linear memory kept mapped between calls (reset in place).
const KEEP_RESIDENT: usize = 1 << 20;
/// Slots whose memory is unmapped together.
const DECOMMIT_BATCH: usize = 16;

/// Engine-wide settings (operator caps), with defaults for one host.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Component instances alive at once (concurrent calls).
    pub max_concurrent_calls: u32,
    /// Core instances a component may hold (WASI adapters add a few).
    pub core_instances_per_component: u32,
    /// Largest linear memory of any module, in bytes: the operator's cap.
    pub max_memory_bytes: usize,
    /// Granularity of deadlines, and how long guest code runs before it
    /// yields its thread to other tasks: short, so that a tenant's
    /// CPU-heavy calls do not make others wait (a tick costs a thread
    /// wake-up, and each running call one check of the clock).
    pub epoch_tick: Duration,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            max_concurrent_calls: 64,
            core_instances_per_component: 16,
            max_memory_bytes: 128 << 20,
            epoch_tick: Duration::from_millis(1),
        }
    }
}

/// Builds the one engine of the process.
pub fn build(settings: &EngineSettings) -> Result<Engine, RuntimeError> {
    let calls = settings.max_concurrent_calls.max(1);
    let per = settings.core_instances_per_component.max(1);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(calls)
        .total_core_instances(calls * per)
        .total_memories(calls * per)
        .total_tables(calls * per)
        .total_stacks(calls)
        .max_core_instances_per_component(per)
        .max_memories_per_component(per)
        .max_memory_size(settings.max_memory_bytes)
        // A slot is reused by the next call: resetting the pages a call
        // touched with `memset` (found with Linux's PAGEMAP_SCAN where the
        // kernel has it) keeps them mapped, where `madvise` would unmap them
        // and the next call would fault each one in again.
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT / 16)
        .pagemap_scan(Enabled::Auto)
        // What still has to be unmapped is unmapped in batches: fewer
        // cross-core TLB flushes.
        .decommit_batch_size(DECOMMIT_BATCH);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(|e| RuntimeError::Engine(e.to_string()))
}
