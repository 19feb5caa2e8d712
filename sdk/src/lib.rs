//! `plaza-sdk`: what Plaza module authors depend on.
//!
//! A module is a WebAssembly component (`wasm32-wasip2`) of the `module`
//! world in `sdk/wit/plaza.wit`, the one definition of the contract between
//! the host and its modules. This crate generates its bindings from that file
//! at compile time and puts an ordinary Rust API on top of them:
//!
//! ```no_run
//! use plaza_sdk::prelude::*;
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, JsonSchema)]
//! struct Greeting {
//!     id: i64,
//!     name: String,
//! }
//!
//! struct Hello;
//!
//! impl plaza_sdk::Module for Hello {
//!     fn router() -> Router {
//!         Router::new("hello", "1.0.0")
//!             .capabilities([Capability::Sql, Capability::Log])
//!             .migration(1, "create greetings", "CREATE TABLE greetings (id INTEGER PRIMARY KEY, name TEXT)")
//!             .get("/greetings/{id}", get_greeting)
//!             .roles(["member"])
//!             .summary("One greeting")
//!     }
//! }
//!
//! // The response schema in the manifest comes from `Json<Greeting>`.
//! fn get_greeting(req: &Request) -> Result<Json<Greeting>, Problem> {
//!     let id: i64 = req.path_param("id")?; // 400 if not a number
//!     sql::query_one_as("SELECT id, name FROM greetings WHERE id = $1", &params![id])?
//!         .map(Json)
//!         .ok_or_else(Problem::not_found)
//! }
//!
//! plaza_sdk::export!(Hello);
//! ```
//!
//! The manifest the host reads at publish time (routes with their JSON
//! Schemas, capabilities, migrations, jobs, ...) is generated from the
//! [`Router`]: an author never describes a route twice.
//!
//! The crate also builds natively (the imports then panic if called), so
//! the pure parts (routing, schemas, row mapping, problem documents) are
//! unit-tested with a plain `cargo test`.

/// The bindings generated from `wit/plaza.wit`.
///
/// `unsafe` is allowed here and only here: the generated glue reads and
/// writes the component ABI's linear-memory layout through raw pointers,
/// which cannot be expressed in safe Rust. It is produced by `wit-bindgen`
/// from the WIT file, never edited by hand. Public (but hidden) because the
/// `export!` macro expands in the module's crate and must reach it.
#[doc(hidden)]
#[allow(unsafe_code, clippy::unwrap_used, clippy::expect_used, clippy::too_many_arguments, missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "module",
        // Relative to this crate's Cargo.toml: the WIT is the only definition.
        path: "wit",
        // `export!` expands in the module author's crate.
        pub_export_macro: true,
        additional_derives: [PartialEq],
    });
}

pub mod blob;
pub mod config;
pub mod crypto;
mod error;
pub mod events;
pub mod http;
pub mod kv;
pub mod listing;
pub mod log;
pub mod mail;
mod problem;
pub mod push;
mod request;
mod response;
mod router;
pub mod sql;
pub mod time;
pub mod validation;

pub use error::{Error, HostError};
pub use problem::Problem;
pub use request::Request;
pub use response::{Accepted, Created, IntoResponse, Json, NoContent, Response};
pub use router::{Handler, NoInput, Router, schema_json};

/// Re-exported so modules use the same versions as the SDK's own API
/// (`Json<T>` needs `T: serde::Serialize + schemars::JsonSchema`). The
/// derives still need `serde` and `schemars` as direct dependencies.
pub use {schemars, serde, serde_json};

pub use bindings::plaza::module::types::{
    Access, Caller, Capability, Dependency, Event, Header, Job, JobRun, Limits, Manifest, Method, Migration, Route,
};

/// A `Result` whose error is a failed host call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What an author writes `use plaza_sdk::prelude::*;` for.
pub mod prelude {
    pub use crate::{
        Accepted, Caller, Capability, Created, Error, Event, IntoResponse, Job, JobRun, Json, Limits, Method, Module,
        NoContent, NoInput, Problem, Request, Response, Router, blob, config, crypto, events, http, kv, log, mail,
        params, sql, time,
    };
}

/// A Plaza module: its router (and with it its manifest), and what it does
/// with subscribed events and scheduled jobs.
///
/// Every call runs in a fresh instance, so the router is built (cheaply:
/// schemas are generated only for the manifest) at most once per call.
pub trait Module: 'static {
    /// The module's name, version, capabilities, migrations, jobs and routes.
    fn router() -> Router;

    /// Receives one event of a subscribed type. Deliveries are at least
    /// once: dedupe by `event.id`. An error asks the host to retry later.
    fn on_event(event: Event) -> std::result::Result<(), String> {
        let _ = event;
        Ok(())
    }

    /// Runs one scheduled job (by `run.name`). An error is recorded as a
    /// failed run.
    fn run_job(run: JobRun) -> std::result::Result<(), String> {
        let _ = run;
        Ok(())
    }
}

/// Exports a [`Module`] as the component's entry points
/// (`manifest`, `handle`, `on-event`, `run-job`).
///
/// Call it once, at the top level of the module's `cdylib` crate.
#[macro_export]
macro_rules! export {
    ($module:ty) => {
        // The expansion defines the `extern "C"` entry points the component
        // ABI calls; they are generated by wit-bindgen and must be unsafe.
        #[allow(unsafe_code)]
        const _: () = {
            type __PlazaExports = $crate::__private::Exports<$module>;
    $crate::__export_module_impl!(__PlazaExports with_types_in $crate::bindings);
        };
    };
}

/// Not public API: what `export!` expands to.
#[doc(hidden)]
pub mod __private {
    use std::cell::OnceCell;
    use std::marker::PhantomData;

    use crate::bindings::Guest;
    use crate::bindings::plaza::module::types::{Event, JobRun, Manifest, Request, Response};
    use crate::{Module, Router};

    /// The wit-bindgen `Guest` implementation for a [`Module`].
    pub struct Exports<M>(PhantomData<fn() -> M>);

    thread_local! {
        // One router per instance (the component has one thread). A
        // thread-local rather than a static: handlers need not be `Sync`.
        static ROUTER: OnceCell<Router> = const { OnceCell::new() };
    }

    impl<M: Module> Guest for Exports<M> {
        fn manifest() -> Manifest {
            ROUTER.with(|router| router.get_or_init(M::router).manifest())
        }

        fn handle(request: Request) -> Response {
            ROUTER.with(|router| router.get_or_init(|| crate::router::serving(M::router)).handle(&request))
        }

        fn on_event(event: Event) -> Result<(), String> {
            M::on_event(event)
        }

        fn run_job(run: JobRun) -> Result<(), String> {
            M::run_job(run)
        }
    }
}
