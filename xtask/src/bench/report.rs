//! `docs/benchmarks.md`, written from one run's numbers: a table per
//! scenario, the machine, the date, the commit and the commands.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use super::scale::Engine;
use super::wrk::Load;
use super::{Plan, Results, SLUG, TENANT};
use crate::util;

/// Module throughput as a share of native: what the performance issue
/// accepts, and its goal.
const NATIVE_BAR: f64 = 0.8;
const NATIVE_GOAL: f64 = 0.9;
/// Module throughput goal, as a multiple of FastAPI's.
const FASTAPI_GOAL: f64 = 25.0;
/// Instantiation and call of a trivial handler, in microseconds: accepted,
/// and the goal.
const CALL_BAR_US: f64 = 8.0;
const CALL_GOAL_US: f64 = 5.0;
/// How much the p99 may grow from the fewest to the most tenants and still
/// count as flat.
const FLAT_P99: f64 = 1.5;
/// How much throughput may fall from the fewest to the most tenants.
const FLAT_THROUGHPUT: f64 = 0.7;
/// PostgreSQL's module read, as a share of SQLite's, at the fewest tenants.
const PG_GOAL: f64 = 0.6;
/// Host memory at the most tenants, in MiB.
const RSS_GOAL_MIB: u64 = 500;

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

/// The range of per-round ratios, as `; rounds 0.45×–0.55×`.
fn spread(ratios: &[f64]) -> String {
    let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let high = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if ratios.len() < 2 { String::new() } else { format!("; rounds {low:.2}×–{high:.2}×") }
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

/// Whether a time in nanoseconds is within `limit_us`.
fn at_most(ns: Option<f64>, limit_us: f64) -> &'static str {
    match ns {
        Some(ns) if ns <= limit_us * 1000.0 => "met",
        Some(_) => "**missed**",
        None => "not measured",
    }
}

fn verdict(value: Option<f64>, goal: f64) -> &'static str {
    match value {
        Some(v) if v >= goal => "met",
        Some(_) => "**missed**",
        None => "not measured",
    }
}

/// The outcome printed at the end of the run.
pub fn summary(r: &Results) -> String {
    let show = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}×"));
    let call = r.calls.as_ref().and_then(|c| c.instantiate_and_call_ns()).map_or("-".to_owned(), us);
    let failed = r.upgrade.map_or("-".to_owned(), |u| u.load.failed.to_string());
    format!(
        "module/native throughput {} (accepted ≥ {NATIVE_BAR}×, goal {NATIVE_GOAL}×), instantiate + call {call} \
         (accepted ≤ {CALL_BAR_US} µs, goal {CALL_GOAL_US} µs), \
         module/FastAPI {} (goal ≥ {FASTAPI_GOAL}×), cold start {}, failed during the upgrade {failed} (goal 0)",
        show(ratio(r.module, r.native)),
        show(ratio(r.module, r.fastapi)),
        r.cold_start.map_or("-".to_owned(), ms)
    )
}

fn us(ns: f64) -> String {
    format!("{:.2} µs", ns / 1000.0)
}

/// Whether the p99 stayed flat from the fewest tenants to the most.
fn flat(engine: &Engine) -> Option<(f64, bool)> {
    let first = engine.tiers.first()?.load.p99_ms;
    let last = engine.tiers.last()?.load.p99_ms;
    let growth = last / first;
    Some((growth, growth <= FLAT_P99))
}

/// Throughput at the most tenants as a share of the fewest's.
fn kept(engine: &Engine) -> Option<f64> {
    Some(engine.tiers.last()?.load.requests_per_sec / engine.tiers.first()?.load.requests_per_sec)
}

/// The profiles of scenario 1, as a table of slices and the top symbols.
fn profiles(out: &mut String, r: &Results) {
    let _ = writeln!(
        out,
        "### Where the time goes
"
    );
    let Some(p) = &r.profiles else {
        let _ = writeln!(out, "Not profiled: {}.\n", r.profile_error.as_deref().unwrap_or("no profile"));
        return;
    };
    let _ = writeln!(
        out,
        "`perf record -F 999 -p PID` of the host during one more load on each side, `perf report --no-children \
         --sort dso,sym`; each symbol's own samples grouped by what it is, and turned into CPU microseconds per \
         request with the host's CPU time during the load (`/proc/PID/stat`; the load generator's own CPU is \
         not counted). A module request costs **{:.0} µs** of host CPU, a native one **{:.0} µs**.\n",
        p.module.us_per_request(),
        p.native.us_per_request()
    );
    let _ = writeln!(out, "| Slice | module µs/request | native µs/request | difference |\n|---|---|---|---|");
    let mut names: Vec<&str> = p.module.slices.iter().map(|(s, _)| *s).collect();
    for (s, _) in &p.native.slices {
        if !names.contains(s) {
            names.push(s);
        }
    }
    for name in names {
        let (m, n) = (p.module.slice_us(name), p.native.slice_us(name));
        if m < 0.5 && n < 0.5 {
            continue;
        }
        let _ = writeln!(out, "| {name} | {m:.1} | {n:.1} | {:+.1} |", m - n);
    }
    for (side, profile) in [("module", &p.module), ("native", &p.native)] {
        let _ = writeln!(out, "\nThe {side} side's top symbols (own share of the samples):\n");
        for (sym, share) in &profile.top {
            let _ = writeln!(out, "- {share:.2}% `{}`", sym.replace('`', "'"));
        }
    }
    let _ = writeln!(out);
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

/// The commit a run measured, read when it starts.
#[derive(Debug, Clone)]
pub struct Commit {
    pub id: String,
    /// Changes not committed, outside the documentation.
    pub dirty: bool,
}

impl Commit {
    /// `HEAD` and whether the tree differs from it in anything that is
    /// built or run (Markdown under `docs/` is not).
    pub fn now() -> Option<Self> {
        let id = util::capture(Command::new("git").args(["rev-parse", "--short", "HEAD"])).ok()?;
        let dirty = util::capture(Command::new("git").args([
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":!docs/*.md",
        ]))
        .is_ok_and(|s| !s.trim().is_empty());
        Some(Self { id, dirty })
    }
}

pub fn markdown(plan: &Plan, r: &Results) -> String {
    let commit = match &r.commit {
        Some(c) if c.dirty => format!("`{}` plus uncommitted changes", c.id),
        Some(c) => format!("`{}` (no uncommitted changes)", c.id),
        None => "unknown".to_owned(),
    };
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Written by `cargo xtask bench{}` on {date}, at commit {commit}, in {}. \
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
         into the bench build of the host (`--features bench`, `host/benches/native/blog.rs`): same process, \
         database file and load. The two loads alternate {} times; each row is that side's median round.\n",
        r.native_ratios.len()
    );
    let _ = writeln!(out, "| Served by | requests/s | p50 | p99 | requests | failed |\n|---|---|---|---|---|---|");
    row(&mut out, "`blog` module", r.module);
    row(&mut out, "native handler", r.native);
    let native = ratio(r.module, r.native);
    let _ = writeln!(
        out,
        "\nModule / native throughput: **{}** (accepted ≥ {NATIVE_BAR}×: {}; goal {NATIVE_GOAL}×: {}){}.\n",
        native.map_or("-".to_owned(), |v| format!("{v:.2}×")),
        verdict(native, NATIVE_BAR),
        verdict(native, NATIVE_GOAL),
        spread(&r.native_ratios)
    );

    profiles(&mut out, r);

    let _ = writeln!(out, "## 2. Per-call cost of the runtime\n");
    let _ = writeln!(
        out,
        "criterion (`host/benches/call.rs`): `hello`'s `GET /version`, a handler that uses no capability, \
         called whole the way a request calls it, and stage by stage, each stage timed alone while the \
         others run around it. Median and mean per call.\n"
    );
    let _ = writeln!(out, "| Stage | median | mean |\n|---|---|---|");
    if let Some(calls) = &r.calls {
        for (name, e) in &calls.stages {
            let what = match name.as_str() {
                "store" => "store creation (call state, limits, deadline)",
                "instantiate" => "instantiation (pooling allocator)",
                "handle" => "the call (`handle`: request in, response out)",
                "teardown" => "teardown (call end, store dropped, slot back to the pool)",
                other => other,
            };
            let _ = writeln!(out, "| {what} | {} | {} |", us(e.median_ns), us(e.mean_ns));
        }
        if let Some(e) = calls.whole {
            let _ = writeln!(out, "| **whole call** (`Modules::call`) | {} | {} |", us(e.median_ns), us(e.mean_ns));
        }
        let goal = calls.instantiate_and_call_ns();
        let _ = writeln!(
            out,
            "\nInstantiate + call: **{}** (accepted ≤ {CALL_BAR_US} µs: {}; goal {CALL_GOAL_US} µs: {}).\n",
            goal.map_or("-".to_owned(), us),
            at_most(goal, CALL_BAR_US),
            at_most(goal, CALL_GOAL_US),
        );
    } else {
        let _ = writeln!(out, "| not measured | | |\n");
    }

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

    let _ = writeln!(out, "## 4. Tenants at scale\n");
    let _ = writeln!(
        out,
        "A fresh host per database engine (SQLite files; a PostgreSQL cluster from Debian's packages started by the bench), \
         tenants added tier by tier through the API (`POST /api/v1/tenants`, then `POST /t/{{tenant}}/modules` \
         with `blog`, from {enablers} clients at once). After each tier, a load spread over all the tenants \
         (`wrk -s` with a script drawing the tenant at random: `GET /t/s{{1..N}}/blog/posts`, each read from \
         that tenant's own namespace; {w} s warm-up, then {d} s), then the host's resident memory.\n",
        enablers = super::scale::ENABLERS,
        w = plan.scale_warmup.as_secs(),
        d = plan.scale_duration.as_secs()
    );
    if r.scale.is_empty() {
        let _ = writeln!(out, "Not measured.\n");
    }
    for engine in &r.scale {
        let _ = writeln!(out, "### {}\n", engine.name);
        let _ = writeln!(
            out,
            "| Tenants | enable p50 | enable p99 | added, per tenant | requests/s | p50 | p99 | failed | host RSS |\n\
             |---|---|---|---|---|---|---|---|---|"
        );
        for t in &engine.tiers {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.0} | {:.2} ms | {:.2} ms | {} | {} MiB |",
                t.tenants,
                ms(t.enable_p50),
                ms(t.enable_p99),
                ms(t.added_per_tenant),
                t.load.requests_per_sec,
                t.load.p50_ms,
                t.load.p99_ms,
                t.load.failed,
                t.rss_bytes >> 20
            );
        }
        if let Some((growth, is_flat)) = flat(engine) {
            let _ = writeln!(
                out,
                "\np99 from the fewest to the most tenants: **{growth:.2}×** (goal: flat, ≤ {FLAT_P99}×: {}).",
                if is_flat { "met" } else { "**missed**" }
            );
        }
        if let Some(kept) = kept(engine) {
            let _ = writeln!(
                out,
                "Throughput at the most tenants: **{kept:.2}×** the fewest's (goal ≥ {FLAT_THROUGHPUT}×: {}).",
                verdict(Some(kept), FLAT_THROUGHPUT)
            );
        }
        if let Some(last) = engine.tiers.last() {
            let mib = last.rss_bytes >> 20;
            let _ = writeln!(
                out,
                "Host RSS at {} tenants: **{mib} MiB** (goal < {RSS_GOAL_MIB} MiB: {}).\n",
                last.tenants,
                if mib < RSS_GOAL_MIB { "met" } else { "**missed**" }
            );
        }
    }
    if let [sqlite, postgres, ..] = r.scale.as_slice()
        && let (Some(s), Some(p)) = (sqlite.tiers.first(), postgres.tiers.first())
    {
        let share = p.load.requests_per_sec / s.load.requests_per_sec;
        let _ = writeln!(
            out,
            "PostgreSQL's module read at {} tenants: **{share:.2}×** SQLite's (goal ≥ {PG_GOAL}×: {}).\n",
            s.tenants,
            verdict(Some(share), PG_GOAL)
        );
    }

    let _ = writeln!(out, "## 5. Cold start\n");
    let _ = writeln!(
        out,
        "Restarts of the host on the data directory of scenarios 1 and 6, with {} modules compiled \
         in its on-disk cache ({} of them enabled for the tenant): from spawning `plaza serve` to \
         `/ready` answering 200 (polled every 10 ms), then the first request to the module, which loads \
         the tenant's modules from that cache. The median of {} restarts.\n",
        r.cached_modules,
        r.enabled_modules,
        super::RESTARTS
    );
    let _ = writeln!(
        out,
        "| Start to ready | fastest – slowest | First module request |\n|---|---|---|\n| {} | {} | {} |\n",
        r.cold_start.map_or("not measured".to_owned(), ms),
        r.cold_start_range.map_or("-".to_owned(), |(low, high)| format!("{} – {}", ms(low), ms(high))),
        r.first_request.map_or("not measured".to_owned(), ms)
    );

    let _ = writeln!(out, "## 6. Hot upgrade under load\n");
    let _ = writeln!(
        out,
        "`blog` 1.0.1 (the same code, `plugins/blog` built with its `next` feature) is published, then, \
         {a} s into a {l} s load on the module's read, the tenant is upgraded to it \
         (`POST /t/{TENANT}/modules/blog/upgrade`). Requests in flight finish on 1.0.0; the new \
         version is compiled (here: at publish, so loaded from the cache) before the tenant's entry is swapped.\n",
        a = plan.upgrade_after.as_secs(),
        l = plan.upgrade_load.as_secs()
    );
    match r.upgrade {
        Some(u) => {
            let steady = r.module;
            let _ = writeln!(
                out,
                "| Load | requests/s | p50 | p99 | max | failed |\n|---|---|---|---|---|---|\n\
                 | steady (scenario 1) | {} |\n| with the upgrade | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {} |\n",
                steady.map_or("not measured | | | |".to_owned(), |s| format!(
                    "{:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {}",
                    s.requests_per_sec, s.p50_ms, s.p99_ms, s.max_ms, s.failed
                )),
                u.load.requests_per_sec,
                u.load.p50_ms,
                u.load.p99_ms,
                u.load.max_ms,
                u.load.failed
            );
            let _ = writeln!(
                out,
                "The upgrade call took {}. Failed requests: **{}** (goal 0: {}). The spike is the slowest \
                 request during the upgrade against the steady load's.\n",
                ms(u.took),
                u.load.failed,
                if u.load.failed == 0 { "met" } else { "**missed**" }
            );
        }
        None => {
            let _ = writeln!(out, "Not measured.\n");
        }
    }

    let _ = writeln!(out, "## 7. Noisy neighbour\n");
    let _ = writeln!(
        out,
        "Two tenants on one host: `{quiet}` reads a post of its `blog` with {qc} connections, first alone, then \
         while `{noisy}` calls the test-only `rogue` module's CPU-heavy route (`/spin?ms={spin}`: {spin} ms of \
         pure computation per call) with {nc} connections. The fair share (at most 16 calls of a tenant, 8 of one \
         of its modules, a short queue, then 429; guest code yielding the CPU every epoch tick) is what keeps \
         `{quiet}` served.\n",
        quiet = super::neighbour::QUIET,
        noisy = super::neighbour::NOISY,
        qc = super::neighbour::QUIET_CONNECTIONS,
        nc = super::neighbour::NOISY_CONNECTIONS,
        spin = super::neighbour::SPIN_MS,
    );
    match r.neighbour {
        Some(n) => {
            let _ = writeln!(out, "| Load | requests/s | p50 | p99 | requests | failed |\n|---|---|---|---|---|---|");
            row(&mut out, &format!("`{}` alone", super::neighbour::QUIET), Some(n.alone));
            row(&mut out, &format!("`{}` beside the noisy tenant", super::neighbour::QUIET), Some(n.loaded));
            row(&mut out, &format!("`{}` (its refusals: 429)", super::neighbour::NOISY), Some(n.noisy));
            let _ = writeln!(
                out,
                "\nThe quiet tenant's p99 beside the noisy one: **{:.2}×** its p99 alone; its failed requests: **{}** \
                 (goal 0: {}).\n",
                n.loaded.p99_ms / n.alone.p99_ms,
                n.loaded.failed,
                if n.loaded.failed == 0 { "met" } else { "**missed**" }
            );
        }
        None => {
            let _ = writeln!(out, "Not measured.\n");
        }
    }

    let _ = writeln!(out, "## 8. The erp module: imports and sales\n");
    let _ = writeln!(
        out,
        "A host per engine with one tenant and `erp`. An import of {products} products as one CSV part \
         (ingest: every row's fields checked and staged; validate: duplicates inside the batch and against the \
         catalogue, found by the database; promote: `INSERT … SELECT` into the catalogue in one transaction), \
         each step timed from the client. Then point-of-sale tickets under load: `POST /sales` with `confirm: \
         true` and a cash payment, {c} connections, each ticket numbered from one series (gapless), its stock \
         taken and `erp.sale-confirmed` published in the same transaction.\n",
        products = super::erp::PRODUCTS,
        c = super::erp::CONNECTIONS,
    );
    if r.erp.is_empty() {
        let _ = writeln!(out, "Not measured.\n");
    } else {
        let _ = writeln!(
            out,
            "| Engine | ingest rows/s | validate rows/s | promote rows/s | sales/s | p50 | p99 | failed | last number | sales stored |\n\
             |---|---|---|---|---|---|---|---|---|---|"
        );
        for e in &r.erp {
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} ms | {:.2} ms | {} | {} | {} |",
                e.engine,
                e.rows_per_sec(e.ingest),
                e.rows_per_sec(e.validate),
                e.rows_per_sec(e.promote),
                e.sales.requests_per_sec,
                e.sales.p50_ms,
                e.sales.p99_ms,
                e.sales.failed,
                e.last_number,
                e.stored
            );
        }
        let _ = writeln!(
            out,
            "\nEvery sale of the warm-up and the load is numbered from the one series: its last number equal to \
             the sales stored means no number was skipped under load.\n"
        );
    }

    let _ = writeln!(out, "## Commands\n");
    let _ = writeln!(
        out,
        "```sh\ncargo xtask bench{}          # this file\ncargo build --release -p plaza --features bench --bin plaza --bench call\n\
         wrk --latency -t 2 -c {} -d {}s http://127.0.0.1:PORT/t/{TENANT}/blog/posts/{SLUG}\n\
         wrk --latency -t 2 -c {} -d {}s http://127.0.0.1:PORT/bench/native/t/{TENANT}/blog/posts/{SLUG}\n\
         BLOG_DB=DATA/modules/{TENANT}/blog.db python -m uvicorn fastapi_blog:app --app-dir bench --workers N\n\
         target/release/deps/call-HASH --bench   # criterion\n\
         wrk --latency -t 2 -c {} -d {}s -s spread.lua http://127.0.0.1:PORT/t/s1/blog/posts\n\
         plaza module publish target/packages/blog-1.0.1.wasm\n\
         wrk --latency -t 2 -c {} -d {}s http://127.0.0.1:PORT/t/{}/blog/posts/quiet-post   # alone, then beside:\n\
         wrk --latency -t 2 -c {} -d {}s 'http://127.0.0.1:PORT/t/{}/rogue/spin?ms={}'\n```",
        if r.quick { " --quick" } else { "" },
        plan.connections,
        plan.duration.as_secs(),
        plan.connections,
        plan.duration.as_secs(),
        plan.connections,
        plan.scale_duration.as_secs(),
        super::neighbour::QUIET_CONNECTIONS,
        plan.duration.as_secs(),
        super::neighbour::QUIET,
        super::neighbour::NOISY_CONNECTIONS,
        (plan.duration + plan.warmup).as_secs() + 2,
        super::neighbour::NOISY,
        super::neighbour::SPIN_MS
    );
    out
}
