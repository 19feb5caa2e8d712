//! `cargo xtask <command>`: the one entry point for humans and CI.
//!
//! - `dev`: build the host, prepare a local SQLite data dir and a demo
//!   tenant, run the server and print where everything is.
//! - `test`: every test of the workspace, in passes, each on its backend
//!   (SQLite + local files, PostgreSQL, an S3-compatible server), then
//!   format and lint checks.
//! - `ci`: `test` with every pass, after printing tool versions.

mod dev;
mod services;
mod test;
mod util;

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
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
