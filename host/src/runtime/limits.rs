//! Per-call limits: what a module asks for in its manifest, capped by the
//! operator's settings, enforced by the store.

use std::time::Duration;

use wasmtime::{StoreLimits, StoreLimitsBuilder};

/// The limits of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    pub deadline: Duration,
    pub memory_bytes: usize,
}

impl CallLimits {
    /// The module's wishes (`None`: the cap itself), never above the caps.
    pub fn capped(wanted_deadline: Option<Duration>, wanted_memory: Option<usize>, caps: CallLimits) -> Self {
        Self {
            deadline: wanted_deadline.map_or(caps.deadline, |d| d.min(caps.deadline)),
            memory_bytes: wanted_memory.map_or(caps.memory_bytes, |m| m.min(caps.memory_bytes)),
        }
    }

    /// The store's resource limiter for these limits: growing memory past the
    /// cap fails inside the module (and traps when the module insists).
    pub fn store_limits(&self) -> StoreLimits {
        StoreLimitsBuilder::new().memory_size(self.memory_bytes).trap_on_grow_failure(true).instances(32).build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_win() {
        let caps = CallLimits { deadline: Duration::from_secs(5), memory_bytes: 64 << 20 };
        let l = CallLimits::capped(Some(Duration::from_secs(60)), Some(1 << 30), caps);
        assert_eq!(l, caps);
        let l = CallLimits::capped(Some(Duration::from_millis(100)), None, caps);
        assert_eq!(l.deadline, Duration::from_millis(100));
        assert_eq!(l.memory_bytes, 64 << 20);
    }
}
