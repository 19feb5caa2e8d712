//! `docs/benchmarks.md`, written from one run's numbers: a table per
//! scenario, the machine, the date, the commit and the commands.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use super::wrk::Load;
use super::{Plan, Results, SLUG, TENANT};
use crate::util;

/// Module throughput goal, as a share of native.
const NATIVE_GOAL: f64 = 0.9;
/// Module throughput goal, as a multiple of FastAPI's.
const FASTAPI_GOAL: f64 = 25.0;

pub fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 { format!("{}m {:02}s", secs / 60, secs % 60) } else { format!("{:.1} s", d.as_secs_f64()) }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn ratio(a: Option<Load>, b: Option<Load>) -> Option<f64> {
    Some(a?.requests_per_sec / b?.requests_per_sec)
}

fn row(out: &mut String, name: &str, load: Option<Load>) {
    match load {
        Some(l) => {
            let _ = writeln!(
                out,
                "| {name} | {:.0} | {:.2} ms | {:.2} ms | {} | {} |",
                l.requests_per_sec, l.p50_ms, l.p99_ms, l.requests, l.failed
            );
        }
        None => {
            let _ = writeln!(out, "| {name} | not measured | | | | |");
        }
    }
}

fn verdict(value: Option<f64>, goal: f64) -> &'static str {
    match value {
        Some(v) if v >= goal => "met",
        Some(_) => "**missed**",
        None => "not measured",
    }
}

/// The one-line outcome printed at the end of the run.
pub fn summary(r: &Results) -> String {
    let show = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}×"));
    format!(
        "module/native throughput {} (goal ≥ {NATIVE_GOAL}×), module/FastAPI {} (goal ≥ {FASTAPI_GOAL}×), cold start {}",
        show(ratio(r.module, r.native)),
        show(ratio(r.module, r.fastapi)),
        r.cold_start.map_or("-".to_owned(), ms)
    )
}

/// The machine, from the kernel's files.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split(':').nth(1)))
        .map_or("unknown CPU".to_owned(), |m| m.trim().to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let kernel = util::capture(Command::new("uname").args(["-sr"])).unwrap_or_default();
    format!("{model}, {cores} cores available, {mem_gib:.0} GiB memory, {kernel}")
}

pub fn markdown(plan: &Plan, r: &Results) -> String {
    let commit = util::capture(Command::new("git").args(["rev-parse", "--short", "HEAD"])).unwrap_or_default();
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Written by `cargo xtask bench{}` on {date}, at commit `{commit}`, in {}. \
         Machine: {}. The numbers are the ones that run printed; the machine is shared \
         and noisy, so read the ratios first.\n",
        if r.quick { " --quick" } else { "" },
        duration(r.elapsed),
        machine()
    );
    let _ = writeln!(
        out,
        "Every load is `wrk --latency -t 2 -c {c} -d {d}s` on the same machine as the server, after a \
         {w} s warm-up that is not counted. The read is one published post by slug from SQL, as JSON \
         (`GET /t/{TENANT}/blog/posts/{SLUG}`), with {p} published posts in the tenant's SQLite file.\n",
        c = plan.connections,
        d = plan.duration.as_secs(),
        w = plan.warmup.as_secs(),
        p = plan.posts
    );

    let _ = writeln!(out, "## 1. Module overhead\n");
    let _ = writeln!(
        out,
        "The `blog` module through the runtime, and the same read as a native poem handler compiled \
         into the bench build of the host (`--features bench`, `host/src/http/bench.rs`): same process, \
         database file and load.\n"
    );
    let _ = writeln!(out, "| Served by | requests/s | p50 | p99 | requests | failed |\n|---|---|---|---|---|---|");
    row(&mut out, "`blog` module", r.module);
    row(&mut out, "native handler", r.native);
    let native = ratio(r.module, r.native);
    let _ = writeln!(
        out,
        "\nModule / native throughput: **{}** (goal ≥ {NATIVE_GOAL}×: {}).\n",
        native.map_or("-".to_owned(), |v| format!("{v:.2}×")),
        verdict(native, NATIVE_GOAL)
    );

    let _ = writeln!(out, "## 3. The stack it replaces\n");
    let _ = writeln!(
        out,
        "The same read written the FastAPI way (`bench/fastapi_blog.py`: FastAPI, uvicorn with one \
         worker per core, SQLAlchemy), against the module's own SQLite file.\n"
    );
    let _ = writeln!(out, "| Served by | requests/s | p50 | p99 | requests | failed |\n|---|---|---|---|---|---|");
    row(&mut out, "`blog` module", r.module);
    row(&mut out, "FastAPI + uvicorn + SQLAlchemy", r.fastapi);
    let fastapi = ratio(r.module, r.fastapi);
    let _ = writeln!(
        out,
        "\nModule / FastAPI throughput: **{}** (goal ≥ {FASTAPI_GOAL}×: {}).\n",
        fastapi.map_or("-".to_owned(), |v| format!("{v:.1}×")),
        verdict(fastapi, FASTAPI_GOAL)
    );

    let _ = writeln!(out, "## 5. Cold start\n");
    let _ = writeln!(
        out,
        "A second start of the host on the same data directory, so the bundled modules' compiled \
         artefacts are on disk: from spawning `plaza serve` to `/ready` answering 200 (polled every \
         10 ms), then the first request to the module.\n"
    );
    let _ = writeln!(
        out,
        "| Start to ready | First module request |\n|---|---|\n| {} | {} |\n",
        r.cold_start.map_or("not measured".to_owned(), ms),
        r.first_request.map_or("not measured".to_owned(), ms)
    );

    let _ = writeln!(out, "## Not measured yet\n");
    let _ = writeln!(
        out,
        "`cargo xtask bench` does not run these scenarios of issue 8 yet, so this file has no numbers \
         for them: the per-call cost of the runtime and its breakdown (2), tenants at scale \
         (10, 1,000 and 10,000 tenants on SQLite and PostgreSQL) (4), and requests failed during a hot \
         upgrade under load (6).\n"
    );
    let _ = writeln!(out, "## Commands\n");
    let _ = writeln!(
        out,
        "```sh\ncargo xtask bench{}          # this file\ncargo build --release -p plaza --features bench\n\
         wrk --latency -t 2 -c {} -d {}s http://127.0.0.1:PORT/t/{TENANT}/blog/posts/{SLUG}\n\
         wrk --latency -t 2 -c {} -d {}s http://127.0.0.1:PORT/bench/native/t/{TENANT}/blog/posts/{SLUG}\n\
         BLOG_DB=DATA/modules/{TENANT}/blog.db python -m uvicorn fastapi_blog:app --app-dir bench --workers N\n```",
        if r.quick { " --quick" } else { "" },
        plan.connections,
        plan.duration.as_secs(),
        plan.connections,
        plan.duration.as_secs()
    );
    out
}
