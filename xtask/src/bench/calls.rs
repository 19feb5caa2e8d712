//! Scenario 2: the per-call cost of the runtime, from criterion
//! (`host/benches/call.rs`), read back from the estimates it writes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::plugins;
use crate::util;

/// The stages `host/benches/call.rs` times, in call order.
pub const STAGES: &[&str] = &["store", "instantiate", "handle", "teardown"];

/// One criterion estimate, in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub struct Estimate {
    pub median_ns: f64,
    pub mean_ns: f64,
}

/// What scenario 2 measured.
#[derive(Debug, Clone, Default)]
pub struct Calls {
    /// The whole call (`Modules::call`).
    pub whole: Option<Estimate>,
    /// Each stage of [`STAGES`], timed alone.
    pub stages: Vec<(String, Estimate)>,
}

impl Calls {
    /// Instantiation and the call itself: what the goal of 5 µs is about.
    pub fn instantiate_and_call_ns(&self) -> Option<f64> {
        let get = |name: &str| self.stages.iter().find(|(n, _)| n == name).map(|(_, e)| e.median_ns);
        Some(get("instantiate")? + get("handle")?)
    }
}

/// Runs the criterion benchmark `exe` (shorter with `quick`) and reads its
/// estimates.
pub fn run(exe: &Path, quick: bool) -> Result<Calls> {
    println!("==> per-call cost of the runtime (criterion, host/benches/call.rs)");
    let criterion = util::target_dir().join("criterion");
    let mut cmd = Command::new(exe);
    cmd.arg("--bench")
        .env("PLAZA_MODULES_DIR", plugins::modules_dir())
        .env("CRITERION_HOME", &criterion)
        .current_dir(util::workspace_root());
    if quick {
        cmd.args(["--warm-up-time", "0.5", "--measurement-time", "1", "--sample-size", "20"]);
    }
    util::run(&mut cmd)?;
    let dir = criterion.join("call");
    let mut calls = Calls { whole: Some(read(&dir.join("whole"))?), stages: Vec::new() };
    for stage in STAGES {
        calls.stages.push(((*stage).to_owned(), read(&dir.join(stage))?));
    }
    Ok(calls)
}

/// Builds the release host of the bench (`plaza` with the `bench` feature)
/// and the criterion benchmark in one cargo call, so that both link the
/// same build of the host library (a separate `cargo bench` would build it
/// all again: the benchmark's dev-dependencies change the features of its
/// dependencies). Returns the benchmark's executable, from cargo's messages.
pub fn build() -> Result<PathBuf> {
    let mut cmd = util::cargo();
    cmd.args(["build", "--release", "-p", "plaza", "--features", "bench", "--bin", "plaza", "--bench", "call"])
        .args(["--message-format", "json-render-diagnostics"])
        .stderr(Stdio::inherit());
    println!("$ {}", util::display(&cmd));
    let output = cmd.output().context("cannot start cargo")?;
    if !output.status.success() {
        bail!("building the bench host and benchmark failed ({})", output.status);
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "call")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .context("cargo built no executable for the `call` benchmark")
}

/// `<dir>/new/estimates.json`: criterion's median and mean.
fn read(dir: &Path) -> Result<Estimate> {
    let path = dir.join("new").join("estimates.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let json: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let point = |key: &str| {
        json[key]["point_estimate"].as_f64().with_context(|| format!("{}: no {key}.point_estimate", path.display()))
    };
    Ok(Estimate { median_ns: point("median")?, mean_ns: point("mean")? })
}
