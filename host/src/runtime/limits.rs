//! The runtime's side of a call's limits (`contract::CallLimits`): the
//! store's memory limiter, and the lease of work that runs under a
//! deadline.

use std::time::Duration;

use wasmtime::ResourceLimiter;

/// How long work running under `deadline` (a job run, an event delivery)
/// holds its lease: the deadline plus a second. A lease still held after
/// that was lost with its process, and another process may take the work.
pub fn lease(deadline: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(deadline + Duration::from_secs(1)).unwrap_or(chrono::TimeDelta::hours(1))
}

/// Raised (as the call's error) when a module grows memory past its cap.
#[derive(Debug, thiserror::Error)]
#[error("linear memory would grow to {desired} bytes, above the limit of {limit}")]
pub struct MemoryCapExceeded {
    pub desired: usize,
    pub limit: usize,
}

/// The store's resource limiter: growing memory past the cap traps the call
/// (a module that checks `memory.grow`'s result would otherwise spin).
#[derive(Debug)]
pub struct Limiter {
    memory_bytes: usize,
    /// Set when a grow was refused: the call's failure is a memory failure.
    pub exceeded: Option<(usize, usize)>,
}

impl Limiter {
    pub fn new(memory_bytes: usize) -> Self {
        Self { memory_bytes, exceeded: None }
    }
}

/// Table elements a module may have (function references): generous for real
/// code, far below what would exhaust the host.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.exceeded = Some((desired, self.memory_bytes));
            return Err(wasmtime::Error::new(MemoryCapExceeded { desired, limit: self.memory_bytes }));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        32
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_growth_is_recorded() {
        let mut l = Limiter::new(1 << 20);
        assert!(l.memory_growing(0, 1 << 20, None).is_ok_and(|ok| ok));
        assert!(l.memory_growing(1 << 20, 2 << 20, None).is_err());
        assert_eq!(l.exceeded, Some((2 << 20, 1 << 20)));
    }
}
