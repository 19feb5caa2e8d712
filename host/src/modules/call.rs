//! A call's store data: the runtime's part (the memory limiter) beside the
//! capabilities' ([`CallState`]). The runtime and the capabilities know
//! nothing of each other; this is where they meet.

use wasmtime_wasi::{WasiCtxView, WasiView};

use crate::capabilities::CallState;
use crate::contract::CallLimits;
use crate::runtime::CallData;
use crate::runtime::limits::Limiter;

/// What one call's store holds.
pub struct Call {
    limiter: Limiter,
    pub state: CallState,
}

impl Call {
    pub fn new(state: CallState) -> Self {
        Self { limiter: Limiter::new(state.limits().memory_bytes), state }
    }

    /// Where the capabilities find their state in a store of calls.
    pub fn state(call: &mut Call) -> &mut CallState {
        &mut call.state
    }
}

impl CallData for Call {
    fn limits(&self) -> &CallLimits {
        self.state.limits()
    }

    fn limiter(&mut self) -> &mut Limiter {
        &mut self.limiter
    }

    fn interrupt(&self) {
        self.state.interrupt();
    }

    async fn finish(&mut self, success: bool) {
        self.state.finish(success).await;
    }
}

impl WasiView for Call {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.state.wasi()
    }
}
