//! `cargo xtask test` and `cargo xtask ci`: every test of the workspace, in
//! passes, each on its own backend, stopping at the first failure.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Write};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::plugins;
use crate::services::{chromium, postgres, s3};
use crate::util::{self, Apt};

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Skip the fmt + clippy pass.
    #[arg(long)]
    quick: bool,
}

pub fn run(args: &TestArgs) -> Result<ExitCode> {
    run_passes(!args.quick)
}

pub fn ci() -> Result<ExitCode> {
    println!("==> tool versions");
    let tools: [(&str, &[&str]); 4] =
        [("cargo", &["--version"]), ("rustc", &["--version"]), ("psql", &["--version"]), ("python3", &["--version"])];
    for (tool, args) in tools {
        let version = if tool == "cargo" {
            util::capture(util::cargo().args(args))
        } else {
            util::capture(Command::new(tool).args(args))
        };
        match version {
            Ok(version) => println!("{tool}: {version}"),
            Err(_) => println!("{tool}: not installed"),
        }
    }
    util::lean_builds();
    run_passes(true)
}

struct Pass {
    what: &'static str,
    backend: &'static str,
    run: fn(&mut Ctx) -> Result<()>,
}

/// What the passes share: apt's state and the test counts so far.
#[derive(Default)]
struct Ctx {
    apt: Apt,
    counts: TestCounts,
}

enum Outcome {
    Passed(Duration),
    Failed(Duration),
    NotRun,
}

const BUCKET: &str = "plaza-test";

fn run_passes(lint: bool) -> Result<ExitCode> {
    util::ensure_wasm_target()?;
    // The host's tests load target/modules/*.wasm.
    plugins::build()?;

    let mut passes = vec![
        Pass { what: "workspace tests", backend: "SQLite + local files", run: workspace_tests },
        Pass { what: "module authors' walkthrough", backend: "SQLite + local files", run: walkthrough },
        Pass {
            what: "HTTP, storage, identity, module, registry, jobs and events, isolation suites",
            backend: "PostgreSQL + local files",
            run: http_on_postgres,
        },
        Pass { what: "storage suite", backend: "SQLite + S3-compatible server (moto)", run: storage_on_s3 },
    ];
    if lint {
        passes.push(Pass { what: "fmt + clippy", backend: "", run: fmt_and_clippy });
    }

    let total = passes.len();
    let mut ctx = Ctx::default();
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(total);
    let mut failure = None;
    for (i, pass) in passes.iter().enumerate() {
        if failure.is_some() {
            outcomes.push(Outcome::NotRun);
            continue;
        }
        let on = if pass.backend.is_empty() { String::new() } else { format!(" on {}", pass.backend) };
        println!("\n==> pass {}/{total}: {}{on}", i + 1, pass.what);
        if let Some(free) = util::disk_free() {
            println!("disk: {free} free");
        }
        let started = Instant::now();
        let mut result = (pass.run)(&mut ctx);
        if result.is_ok() && util::interrupted() {
            result = Err(anyhow::anyhow!("interrupted"));
        }
        let elapsed = started.elapsed();
        match result {
            Ok(()) => outcomes.push(Outcome::Passed(elapsed)),
            Err(err) => {
                outcomes.push(Outcome::Failed(elapsed));
                failure = Some((i + 1, err));
            }
        }
    }

    print_summary(&passes, &outcomes);
    let code = match failure {
        None => {
            println!("\nall {total} passes passed");
            ExitCode::SUCCESS
        }
        Some((n, err)) => {
            eprintln!("\npass {n}/{total} failed: {err:#}");
            if util::interrupted() { ExitCode::from(130) } else { ExitCode::FAILURE }
        }
    };
    // Last line: every libtest result of every pass, added up.
    let c = &ctx.counts;
    println!("tests: {} passed, {} failed, {} skipped", c.passed, c.failed, c.ignored);
    Ok(code)
}

fn print_summary(passes: &[Pass], outcomes: &[Outcome]) {
    let total = passes.len();
    let rows: Vec<[String; 5]> = passes
        .iter()
        .zip(outcomes)
        .enumerate()
        .map(|(i, (pass, outcome))| {
            let (result, duration) = match outcome {
                Outcome::Passed(d) => ("ok", format_duration(*d)),
                Outcome::Failed(d) => ("FAILED", format_duration(*d)),
                Outcome::NotRun => ("not run", "-".to_owned()),
            };
            let backend = if pass.backend.is_empty() { "-" } else { pass.backend };
            [format!("{}/{total}", i + 1), pass.what.to_owned(), backend.to_owned(), result.to_owned(), duration]
        })
        .collect();
    let header = ["pass", "what", "backend", "result", "duration"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    println!("\n==> summary");
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row.iter().zip(widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        println!("{}", line.join("  ").trim_end());
    }
}

fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 { format!("{}m {:02}s", secs / 60, secs % 60) } else { format!("{:.1}s", d.as_secs_f64()) }
}

/// `cargo test` without any `PLAZA_TEST_*` variable of the caller's
/// environment: each pass sets exactly the ones it means.
fn cargo_test() -> Command {
    let mut cmd = util::cargo();
    cmd.arg("test");
    let inherited: Vec<OsString> = std::env::vars_os()
        .map(|(key, _)| key)
        .filter(|key| key.to_string_lossy().starts_with("PLAZA_TEST_"))
        .collect();
    for key in inherited {
        cmd.env_remove(key);
    }
    cmd
}

/// Pass 1: the whole workspace on the embedded defaults, then the modules'
/// unit tests.
fn workspace_tests(ctx: &mut Ctx) -> Result<()> {
    let mut cmd = cargo_test();
    cmd.arg("--workspace");
    if let Some(chromium) = chromium::ensure(&mut ctx.apt) {
        cmd.env("PLAZA_TEST_CHROMIUM", chromium);
    }
    // The gdi module's PDFs are read back with poppler: required, not skipped.
    crate::services::poppler::ensure(&mut ctx.apt).context("cannot install poppler-utils for the gdi PDF tests")?;
    cmd.env("PLAZA_TEST_POPPLER", "1");
    // The einvoicing module's XML signatures are checked by xmlsec1: required too.
    crate::services::xmlsec::ensure(&mut ctx.apt)
        .context("cannot install xmlsec1 for the einvoicing signature tests")?;
    let python = crate::services::python::ensure(&mut ctx.apt)
        .context("cannot install openapi-python-client for the generated Python client test")?;
    // The console's browser tests check every page with axe-core.
    cmd.env("PLAZA_TEST_AXE", python.axe_script()?);
    cmd.env("PLAZA_TEST_OPENAPI_PYTHON_CLIENT", python.generator).env("PLAZA_TEST_PYTHON", python.python);
    run_counting(&mut cmd, &mut ctx.counts)?;
    // The modules' own unit tests (their business logic), built natively.
    run_counting(&mut plugins::unit_tests_command()?, &mut ctx.counts)
}

/// Pass 2: the example project of docs/module-authors.md, built and tested
/// as its reader would (right after pass 1, whose artefacts it reuses).
fn walkthrough(ctx: &mut Ctx) -> Result<()> {
    crate::walkthrough::check(&mut |cmd| run_counting(cmd, &mut ctx.counts))
}

/// Pass 3: the HTTP suites (host API, files, identity, token attacks,
/// modules, the registry with two host processes and placement on a second
/// database, jobs and events across processes, the blog, playlists, gdi,
/// erp and einvoicing modules end to end, one tenant attacking another, 1.0 modules, mail
/// through a real SMTP server, notifications live and by Web Push, documents and their
/// full-text search) against a private PostgreSQL cluster.
fn http_on_postgres(ctx: &mut Ctx) -> Result<()> {
    let install = postgres::ensure(&mut ctx.apt)?;
    let cluster = postgres::PgCluster::start(&install)?;
    println!("backend: {}", install.label());
    let mut cmd = cargo_test();
    // `--workspace` (not `-p plaza`) keeps pass 1's feature set, so the
    // dependencies built there are reused instead of built a second time.
    cmd.args([
        "--workspace",
        "--test",
        "http",
        "--test",
        "storage",
        "--test",
        "auth",
        "--test",
        "tokens",
        "--test",
        "modules",
        "--test",
        "registry",
        "--test",
        "jobs_events",
        "--test",
        "business",
        "--test",
        "isolation",
        // Both the host's HTTP suite and plaza-testing's suite of the gdi,
        // erp and einvoicing modules (a TestHost takes a fresh PostgreSQL database when
        // PLAZA_TEST_DATABASE_URL is set); and 1.0 modules on PostgreSQL.
        "--test",
        "gdi",
        "--test",
        "erp",
        "--test",
        "einvoicing",
        "--test",
        "contract",
        "--test",
        "mail",
        "--test",
        "notifications",
        "--test",
        "documents",
    ])
    .env("PLAZA_TEST_DATABASE_URL", cluster.admin_url())
    .env("PLAZA_TEST_POPPLER", "1");
    // The mail suite's SMTP server (aiosmtpd) is in the tests' Python environment.
    let python = crate::services::python::ensure(&mut ctx.apt).context("cannot install aiosmtpd for the mail tests")?;
    cmd.env("PLAZA_TEST_PYTHON", python.python);
    let result = run_counting(&mut cmd, &mut ctx.counts);
    drop(cluster);
    result
}

/// Pass 4: the storage suite against moto's S3 server.
fn storage_on_s3(ctx: &mut Ctx) -> Result<()> {
    let moto = s3::ensure(&mut ctx.apt)?;
    let server = s3::MotoServer::start(&moto)?;
    server.create_bucket(BUCKET)?;
    let mut cmd = cargo_test();
    cmd.args(["--workspace", "--test", "storage"])
        .env("PLAZA_TEST_STORAGE_URL", format!("s3://{BUCKET}"))
        .env("PLAZA_S3_ENDPOINT", server.endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1");
    let result = run_counting(&mut cmd, &mut ctx.counts);
    drop(server);
    result
}

/// Pass 5: formatting and lints, warnings denied (the workspace, then the
/// bundled modules' own workspace).
fn fmt_and_clippy(_ctx: &mut Ctx) -> Result<()> {
    util::run(util::cargo().args(["fmt", "--all", "--", "--check"]))?;
    util::run(util::cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    plugins::lint()
}

/// Test counts read from libtest's `test result:` lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct TestCounts {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl TestCounts {
    /// Adds one `test result: ok. 5 passed; 0 failed; 1 ignored; ...` line;
    /// other lines are ignored.
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result:") else {
            return;
        };
        for part in rest.split(';') {
            let words: Vec<&str> = part.split_whitespace().collect();
            let [.., number, word] = words.as_slice() else {
                continue;
            };
            let Ok(n) = number.parse::<u64>() else {
                continue;
            };
            match *word {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

/// Runs `cargo test`, passing its standard output through while counting
/// the results.
fn run_counting(cmd: &mut Command, counts: &mut TestCounts) -> Result<()> {
    let line = util::display(cmd);
    println!("$ {line}");
    let mut child = cmd.stdout(Stdio::piped()).spawn().with_context(|| format!("cannot start `{line}`"))?;
    if let Some(stdout) = child.stdout.take() {
        let mut reader = BufReader::new(stdout);
        let mut buf = Vec::new();
        let mut out = io::stdout();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => {
                    // Best effort: a closed stdout must not stop the tests.
                    let _ = out.write_all(&buf);
                    let _ = out.flush();
                    counts.add_line(&String::from_utf8_lossy(&buf));
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    }
    let status = child.wait().with_context(|| format!("cannot wait for `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::TestCounts;

    #[test]
    fn counts_libtest_result_lines() {
        let mut counts = TestCounts::default();
        for line in [
            "running 3 tests",
            "test a ... ok",
            "test result: ok. 5 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s",
            "test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 3 filtered out; finished in 1.20s",
            "",
        ] {
            counts.add_line(line);
        }
        assert_eq!(counts, TestCounts { passed: 7, failed: 1, ignored: 1 });
    }
}
