//! The `log` capability: module log lines in the host's logs, tagged with
//! tenant, module and request id, bounded in size and number per call.

use wasmtime::component::{HasSelf, Linker};

use super::{CallState, InitContext, InitError, Prepare, Unit};
use crate::contract::{Capability, Manifest};
use crate::contract::plaza::module::log::{self as wit, Host, Level};

/// Longest line kept; the rest is cut.
const MAX_LINE_BYTES: usize = 4096;
/// Lines one call may write; further lines are dropped.
const MAX_LINES_PER_CALL: u32 = 1000;

/// The `log` unit: no host-wide state; per call, the lines written.
pub struct Log;

impl Unit for Log {
    const CAPABILITY: Capability = Capability::Log;
    type Shared = ();
    /// Lines the call has written.
    type PerCall = u32;

    type Grant = ();

    async fn init(_: &InitContext<'_>) -> Result<(), InitError> {
        Ok(())
    }

    fn configure(_: &Manifest) {}

    fn prepare(_: &(), _: &Prepare<'_>) -> u32 {
        0
    }

    fn link<T: Send + 'static>(linker: &mut Linker<T>, get: fn(&mut T) -> &mut CallState) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<CallState>>(linker, get)
    }
}

fn cut(message: &str) -> &str {
    if message.len() <= MAX_LINE_BYTES {
        return message;
    }
    let mut end = MAX_LINE_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

impl Host for CallState {
    async fn write(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        // `log` has no error channel: an undeclared use is counted and dropped.
        let Ok(scope) = self.scope_for(Capability::Log) else { return Ok(()) };
        self.units.log += 1;
        if self.units.log > MAX_LINES_PER_CALL {
            if self.units.log == MAX_LINES_PER_CALL + 1 {
                tracing::warn!(tenant = %scope.tenant, module = %scope.module(), "module log lines dropped: {MAX_LINES_PER_CALL} per call");
            }
            return Ok(());
        }
        let message = cut(&message);
        let name = match level {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        self.services().metrics.module_log(scope.module(), name);
        let (tenant, module, request_id) = (&scope.tenant, scope.module(), &scope.request_id);
        match level {
            Level::Trace => tracing::trace!(target: "plaza::module", %tenant, %module, %request_id, "{message}"),
            Level::Debug => tracing::debug!(target: "plaza::module", %tenant, %module, %request_id, "{message}"),
            Level::Info => tracing::info!(target: "plaza::module", %tenant, %module, %request_id, "{message}"),
            Level::Warn => tracing::warn!(target: "plaza::module", %tenant, %module, %request_id, "{message}"),
            Level::Error => tracing::error!(target: "plaza::module", %tenant, %module, %request_id, "{message}"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_lines_are_cut_on_a_character_boundary() {
        let line = "é".repeat(3000);
        let kept = super::cut(&line);
        assert!(kept.len() <= super::MAX_LINE_BYTES);
        assert!(kept.chars().all(|c| c == 'é'));
    }
}
