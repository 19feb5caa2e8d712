//! The wall clock modules read through WASI.
//!
//! In production it is the system clock. A test moves it (to a new year,
//! past an expiry) with [`ModuleClock::set_offset`] instead of sleeping:
//! every call started afterwards sees the system time plus the offset.
//! Only modules see it; the host's own timestamps stay on the system clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wasmtime_wasi::HostWallClock;

/// The offset, in seconds, shared by every call of the process.
#[derive(Debug, Clone, Default)]
pub struct ModuleClock {
    offset_secs: Arc<AtomicI64>,
}

impl ModuleClock {
    /// Moves the clock modules see by `secs` (negative: into the past).
    pub fn set_offset(&self, secs: i64) {
        self.offset_secs.store(secs, Ordering::Relaxed);
    }

    /// The current offset in seconds (0 in production).
    pub fn offset(&self) -> i64 {
        self.offset_secs.load(Ordering::Relaxed)
    }

    /// The clock to give a call's WASI context, when it is not the system's.
    pub fn for_call(&self) -> Option<Shifted> {
        match self.offset() {
            0 => None,
            secs => Some(Shifted { secs }),
        }
    }
}

/// The system clock moved by a fixed number of seconds.
#[derive(Debug, Clone, Copy)]
pub struct Shifted {
    secs: i64,
}

impl HostWallClock for Shifted {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self) -> Duration {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let shift = Duration::from_secs(self.secs.unsigned_abs());
        if self.secs >= 0 { now.saturating_add(shift) } else { now.saturating_sub(shift) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_moves_the_clock_and_zero_is_the_system_clock() {
        let clock = ModuleClock::default();
        assert!(clock.for_call().is_none());
        clock.set_offset(86_400 * 365);
        let shifted = clock.for_call().map(|c| c.now()).unwrap_or_default();
        let system = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let ahead = shifted.as_secs().abs_diff(system.as_secs() + 86_400 * 365);
        assert!(ahead <= 1, "a year ahead, give or take a second: {ahead}");
        clock.set_offset(-60);
        assert!(clock.for_call().map(|c| c.now()).unwrap_or_default() < system);
    }
}
