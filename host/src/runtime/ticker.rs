//! The one epoch ticker of the engine.
//!
//! Deadlines are counted in epochs: every store gets "trap after N ticks".
//! One thread advances the engine's epoch for every store at once; a ticker
//! per call would cost a thread per request (a known 100× throughput loss).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Advances the engine's epoch every `tick` until dropped.
pub struct EpochTicker {
    tick: Duration,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: wasmtime::Engine, tick: Duration) -> Self {
        let tick = tick.max(Duration::from_millis(1));
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("plaza-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .ok();
        Self { tick, stop, thread }
    }

    /// The ticks that make up `deadline`, rounded up, at least one.
    pub fn ticks_for(&self, deadline: Duration) -> u64 {
        let ticks = deadline.as_nanos().div_ceil(self.tick.as_nanos().max(1));
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
