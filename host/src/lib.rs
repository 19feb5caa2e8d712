//! Plaza: a multi-tenant plugin host for business software.
//!
//! Start at [`server`] (how a process serves), [`http`] (the router and its
//! layers) and [`app`] (the state shared by requests). Domain logic lives in
//! plain modules the handlers call: [`tenancy`], [`storage`], [`audit`], and
//! [`auth`] (who is calling, and what they may do). Modules: [`runtime`]
//! (the wasmtime engine), [`capabilities`] (what a module may import),
//! [`modules`] (registry, lifecycle, calls), [`jobs`] (cron) and [`events`]
//! (delivery between modules).

pub mod app;
pub mod audit;
pub mod auth;
pub mod capabilities;
pub mod changes;
pub mod cli;
pub mod config;
pub mod context;
pub mod contract;
pub mod db;
pub mod events;
pub mod files;
pub mod http;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod modules;
pub mod runtime;
pub mod server;
pub mod storage;
pub mod stream;
pub mod telemetry;
pub mod tenancy;
pub mod webpush;
pub mod workers;

pub use app::App;
pub use config::Config;
