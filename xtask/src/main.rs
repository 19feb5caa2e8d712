//! `cargo xtask <command>`: the one entry point for humans and CI.
//!
//! - `dev`: build the host, prepare a local SQLite data dir and a demo
//!   tenant, run the server and print where everything is.
//! - `test`: every test of the workspace, in passes, each on its backend
//!   (SQLite + local files, PostgreSQL, an S3-compatible server), then
//!   format and lint checks.
//! - `ci`: `test` with every pass, after printing tool versions.
//! - `plugins`: build the bundled modules (plugins/) as components into
//!   `target/modules/` (`test` and `dev` do it first).
//! - `walkthrough`: extract the example project of docs/module-authors.md,
//!   build it and run its tests (`test` runs it too).
//! - `bench`: measure a module against a native handler and FastAPI, and
//!   write `docs/benchmarks.md` (`--quick` for a short run).

mod bench;
mod demo;
mod dev;
mod plugins;
mod services;
mod test;
mod util;
mod walkthrough;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", about = "Plaza's development and CI tasks", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the host and run it locally on SQLite + local files, with a demo tenant.
    Dev(dev::DevArgs),
    /// Run every test of the workspace, one pass per backend, then fmt and clippy.
    Test(test::TestArgs),
    /// What CI runs: tool versions, then `test` with every pass.
    Ci,
    /// Build the bundled modules (plugins/) for wasm32-wasip2 into target/modules/.
    Plugins,
    /// Extract the example module of docs/module-authors.md, build it and run its tests.
    Walkthrough,
    /// Measure modules against native code and FastAPI; writes docs/benchmarks.md.
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(err) = util::install_interrupt_handler() {
        eprintln!("xtask: warning: cannot handle Ctrl-C: {err}");
    }
    let result = match cli.command {
        Command::Dev(args) => dev::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Ci => test::ci(),
        Command::Plugins => plugins::run(),
        Command::Walkthrough => walkthrough::run(),
        Command::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
