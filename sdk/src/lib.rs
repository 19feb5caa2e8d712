//! `plaza-sdk`: what Plaza module authors depend on.
//!
//! Modules are WebAssembly components (`wasm32-wasip2`) of the `module`
//! world in `sdk/wit/plaza.wit`, the one definition of the contract between
//! the host and its modules (`tests/contract.rs` keeps it honest). The
//! guest bindings and the author-facing router are built on it by the
//! module runtime work (issue #4).
