//! Per-call limits: what a module asks for in its manifest, capped by the
//! operator's settings, and the store's memory limiter that enforces the
//! memory part.

use std::time::Duration;

use wasmtime::ResourceLimiter;

use super::bindings::Limits;
use crate::config::Config;

/// How long work running under `deadline` (a job run, an event delivery)
/// holds its lease: the deadline plus a second. A lease still held after
/// that was lost with its process, and another process may take the work.
pub fn lease(deadline: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(deadline + Duration::from_secs(1)).unwrap_or(chrono::TimeDelta::hours(1))
}

/// The limits of one call of one module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    /// Wall-clock time of the whole call, host capabilities included.
    pub deadline: Duration,
    /// Size of each linear memory.
    pub memory_bytes: usize,
    /// Size of the response body.
    pub response_bytes: usize,
    /// SQL statements run in the call.
    pub sql_statements: u32,
    /// Rows the call's queries may return in total.
    pub sql_rows: u32,
    /// Outbound HTTP requests in the call.
    pub http_requests: u32,
    /// SQLite virtual-machine steps the call's statements may run (rows
    /// scanned and produced): the operator's, a module cannot ask for more.
    pub sql_work: u64,
}

impl CallLimits {
    /// The operator's caps.
    pub fn caps(config: &Config) -> Self {
        Self {
            deadline: Duration::from_millis(config.module_deadline_ms),
            memory_bytes: usize::try_from(config.module_memory_bytes).unwrap_or(usize::MAX),
            response_bytes: usize::try_from(config.module_response_bytes).unwrap_or(usize::MAX),
            sql_statements: config.module_sql_statements,
            sql_rows: config.module_sql_rows,
            http_requests: config.module_http_requests,
            sql_work: config.module_sql_work,
        }
    }

    /// The module's wishes (absent: the cap itself), never above the caps.
    pub fn capped(wanted: &Limits, caps: &CallLimits) -> Self {
        fn min<T: Ord + Copy>(want: Option<T>, cap: T) -> T {
            want.map_or(cap, |w| w.min(cap))
        }
        Self {
            deadline: min(wanted.deadline_ms.map(|ms| Duration::from_millis(ms.into())), caps.deadline),
            memory_bytes: min(wanted.memory_bytes.and_then(|b| usize::try_from(b).ok()), caps.memory_bytes),
            response_bytes: min(wanted.response_bytes.and_then(|b| usize::try_from(b).ok()), caps.response_bytes),
            sql_statements: min(wanted.sql_statements, caps.sql_statements),
            sql_rows: min(wanted.sql_rows, caps.sql_rows),
            http_requests: min(wanted.http_requests, caps.http_requests),
            sql_work: caps.sql_work,
        }
    }

    /// Tight limits for reading a manifest in the publish-time sandbox.
    pub fn sandbox(caps: &CallLimits) -> Self {
        Self {
            deadline: caps.deadline.min(Duration::from_secs(2)),
            memory_bytes: caps.memory_bytes.min(32 << 20),
            response_bytes: 1 << 20,
            sql_statements: 0,
            sql_rows: 0,
            http_requests: 0,
            sql_work: 0,
        }
    }
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

    fn caps() -> CallLimits {
        CallLimits {
            deadline: Duration::from_secs(5),
            memory_bytes: 64 << 20,
            response_bytes: 1 << 20,
            sql_statements: 100,
            sql_rows: 1000,
            http_requests: 5,
            sql_work: 1_000_000,
        }
    }

    #[test]
    fn caps_win_over_wishes() {
        let wanted = Limits {
            deadline_ms: Some(60_000),
            memory_bytes: Some(1 << 30),
            response_bytes: Some(u32::MAX),
            sql_statements: Some(1_000_000),
            sql_rows: None,
            http_requests: Some(1),
        };
        let l = CallLimits::capped(&wanted, &caps());
        assert_eq!(l.deadline, Duration::from_secs(5));
        assert_eq!(l.memory_bytes, 64 << 20);
        assert_eq!(l.response_bytes, 1 << 20);
        assert_eq!(l.sql_statements, 100);
        assert_eq!(l.sql_rows, 1000);
        assert_eq!(l.http_requests, 1, "a smaller wish is honoured");
    }

    #[test]
    fn refused_growth_is_recorded() {
        let mut l = Limiter::new(1 << 20);
        assert!(l.memory_growing(0, 1 << 20, None).is_ok_and(|ok| ok));
        assert!(l.memory_growing(1 << 20, 2 << 20, None).is_err());
        assert_eq!(l.exceeded, Some((2 << 20, 1 << 20)));
    }
}
