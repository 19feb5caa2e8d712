//! Logs (capability `log`), tagged by the host with tenant, module and
//! request id. Functions take text; the crate-root macros
//! (`plaza_sdk::info!("{x}")`) format it.

use crate::bindings::plaza::module::log as wit;
pub use crate::bindings::plaza::module::log::Level;

/// Writes one line at `level`.
pub fn write(level: Level, message: impl AsRef<str>) {
    wit::write(level, message.as_ref());
}

/// Writes at `trace`.
pub fn trace(message: impl AsRef<str>) {
    write(Level::Trace, message);
}

/// Writes at `debug`.
pub fn debug(message: impl AsRef<str>) {
    write(Level::Debug, message);
}

/// Writes at `info`.
pub fn info(message: impl AsRef<str>) {
    write(Level::Info, message);
}

/// Writes at `warn`.
pub fn warn(message: impl AsRef<str>) {
    write(Level::Warn, message);
}

/// Writes at `error`.
pub fn error(message: impl AsRef<str>) {
    write(Level::Error, message);
}

/// `plaza_sdk::trace!("fmt", args..)`: formats and logs at `trace`.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::log::trace(::std::format!($($arg)+)) };
}

/// `plaza_sdk::debug!("fmt", args..)`: formats and logs at `debug`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log::debug(::std::format!($($arg)+)) };
}

/// `plaza_sdk::info!("fmt", args..)`: formats and logs at `info`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log::info(::std::format!($($arg)+)) };
}

/// `plaza_sdk::warn!("fmt", args..)`: formats and logs at `warn`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log::warn(::std::format!($($arg)+)) };
}

/// `plaza_sdk::error!("fmt", args..)`: formats and logs at `error`.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log::error(::std::format!($($arg)+)) };
}
