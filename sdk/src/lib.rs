//! `plaza-sdk`: what Plaza module authors depend on.
//!
//! Modules are WebAssembly components (`wasm32-wasip2`) that implement the
//! `plaza:module` WIT contract kept in `sdk/wit/`. The contract, its
//! bindings and the author-facing router arrive with the module runtime
//! (issue #4); until then this crate only holds the workspace's place.
