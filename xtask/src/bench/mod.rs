//! `cargo xtask bench`: how much a module costs next to native code and
//! next to the FastAPI stack it replaces, measured in one run on this
//! machine and written to `docs/benchmarks.md`.
//!
//! The host is the release binary built with the `bench` feature, which adds
//! a native poem handler beside the modules (`host/benches/native/blog.rs`). One
//! tenant has `blog` enabled with published posts; the same read (one post
//! by slug, from SQL, as JSON) is served by the module, by the native
//! handler and by `bench/fastapi_blog.py` (FastAPI + uvicorn + SQLAlchemy,
//! installed from PyPI into a venv of its own) on the same SQLite file,
//! each loaded by `wrk` with the same connections after a warm-up.
//!
//! Numbers on a shared machine are noisy: the report gives ratios beside
//! them, and the numbers are the ones this run printed.

mod calls;
mod erp;
mod neighbour;
mod profile;
mod report;
mod scale;
mod wrk;

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::plugins;
use crate::services::{postgres, python};
use crate::util::{self, Apt};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// A reduced run (short loads), for use while developing.
    #[arg(long)]
    quick: bool,
    /// Only one scenario on each engine, printed and not written to
    /// docs/benchmarks.md: for use while working on it.
    #[arg(long, value_enum)]
    only: Option<Only>,
}

/// The scenarios `--only` runs alone.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Only {
    /// Scenario 4: tenants at scale.
    Scale,
    /// Scenario 8: the erp module's imports and sales.
    Erp,
}

/// How long and how hard each load is.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub quick: bool,
    pub warmup: Duration,
    pub duration: Duration,
    pub connections: u32,
    pub posts: u32,
    /// The load under which `blog` is upgraded, and when in it.
    pub upgrade_load: Duration,
    pub upgrade_after: Duration,
    /// Each tier's load in scenario 4.
    pub scale_warmup: Duration,
    pub scale_duration: Duration,
}

impl Plan {
    fn new(quick: bool) -> Self {
        let s = Duration::from_secs;
        if quick {
            Self {
                quick,
                warmup: s(2),
                duration: s(4),
                connections: 64,
                posts: 20,
                upgrade_load: s(6),
                upgrade_after: s(2),
                scale_warmup: s(1),
                scale_duration: s(3),
            }
        } else {
            Self {
                quick,
                warmup: s(5),
                duration: s(20),
                connections: 64,
                posts: 100,
                upgrade_load: s(15),
                upgrade_after: s(5),
                scale_warmup: s(3),
                scale_duration: s(10),
            }
        }
    }
}

/// The release of `blog` scenario 6 upgrades to (`plugins/blog`'s `next` feature).
const NEXT_BLOG: &str = "1.0.1";
/// Rounds of scenario 1: module and native loads alternate this many
/// times, and each side's median round is reported, with the spread of the
/// per-round ratios. One round of each swung the ratio by ±15% between runs
/// on a shared machine; alternating rounds meet the same noise on both sides.
const ROUNDS: usize = 3;
/// Restarts of scenario 5, the median reported.
const RESTARTS: usize = 5;
/// The post every load reads.
const SLUG: &str = "post-7";
const TENANT: &str = "bench";
/// What the FastAPI side needs, pinned.
const FASTAPI: &[&str] = &["fastapi==0.165.0", "uvicorn==0.54.0", "sqlalchemy==2.1.9"];

pub fn run(args: &BenchArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let commit = report::Commit::now();
    let plan = Plan::new(args.quick);
    let mut apt = Apt::default();
    wrk::ensure(&mut apt)?;
    let pg = postgres::ensure(&mut apt)?;
    util::ensure_wasm_target()?;
    plugins::build_modules()?;
    // Builds the bench host too.
    let call_bench = calls::build()?;
    let plaza = util::target_dir().join("release").join("plaza");
    if let Some(only) = args.only {
        // Each scenario prints its figures as it measures them.
        let data = util::make_temp_dir(&util::target_dir(), "bench-")?;
        let token = util::random_hex(24)?;
        let measured = match only {
            Only::Scale => on_each_engine(&pg, |engine, env| {
                scale::run(engine, &plaza, &data.join(dir("scale", engine)), &token, env, &plan).map(drop)
            }),
            Only::Erp => on_each_engine(&pg, |engine, env| {
                erp::run(engine, &plaza, &data.join(dir("erp", engine)), &token, env, &plan).map(drop)
            }),
        };
        let _ = std::fs::remove_dir_all(&data);
        measured?;
        return Ok(ExitCode::SUCCESS);
    }
    // What only the full run needs: the profiler, the FastAPI side, the
    // release scenario 6 upgrades to.
    let perf = profile::ensure(&mut apt);
    let python = fastapi_venv(&mut apt)?;
    let next_blog = plugins::build_package("blog", NEXT_BLOG)?;

    let mut results = Results { calls: Some(calls::run(&call_bench, args.quick)?), ..Results::default() };
    if let Err(e) = perf {
        results.profile_error = Some(format!("{e:#}"));
    }
    let data = util::make_temp_dir(&util::target_dir(), "bench-")?;
    let measured = measure(&plan, &plaza, &python, &pg, &next_blog, &data, &mut results);
    let _ = std::fs::remove_dir_all(&data);
    measured?;
    results.quick = args.quick;
    results.commit = commit;
    results.elapsed = started.elapsed();
    let path = util::workspace_root().join("docs").join("benchmarks.md");
    std::fs::write(&path, report::markdown(&plan, &results))
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("\n{}", report::summary(&results));
    println!("wrote {} ({} in all)", path.display(), report::duration(results.elapsed));
    Ok(ExitCode::SUCCESS)
}

/// Everything one run measured.
#[derive(Debug, Default)]
pub struct Results {
    pub module: Option<wrk::Load>,
    pub native: Option<wrk::Load>,
    /// Module / native throughput of each round of scenario 1.
    pub native_ratios: Vec<f64>,
    /// Scenario 1's profiles, or why there are none.
    pub profiles: Option<profile::Profiles>,
    pub profile_error: Option<String>,
    pub calls: Option<calls::Calls>,
    pub fastapi: Option<wrk::Load>,
    pub scale: Vec<scale::Engine>,
    /// Start of `plaza serve` to `/ready`, with the modules compiled before.
    pub cold_start: Option<Duration>,
    /// The first request to the module after that start.
    pub first_request: Option<Duration>,
    /// The fastest and slowest of the restarts.
    pub cold_start_range: Option<(Duration, Duration)>,
    /// The modules compiled on disk at that start, and the tenant's enabled ones.
    pub cached_modules: usize,
    pub enabled_modules: usize,
    pub upgrade: Option<Upgrade>,
    /// Scenario 7.
    pub neighbour: Option<neighbour::Neighbour>,
    /// Scenario 8, on each engine.
    pub erp: Vec<erp::Erp>,
    pub quick: bool,
    /// The commit measured, read at the start.
    pub commit: Option<report::Commit>,
    pub elapsed: Duration,
}

/// Scenario 6: `blog` upgraded while it serves the load.
#[derive(Debug, Clone, Copy)]
pub struct Upgrade {
    /// The load around the upgrade.
    pub load: wrk::Load,
    /// How long the upgrade call took (the new version compiled, its
    /// migrations run, the tenant's entry swapped).
    pub took: Duration,
}

/// The host settings every bench host shares, then `extra`.
fn host_env(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("PLAZA_MODULES_DIR", plugins::modules_dir().display().to_string()),
        // The upgrade's package is a local build, not signed.
        ("PLAZA_ALLOW_UNSIGNED_MODULES", "true".to_owned()),
        ("PLAZA_LOG", "warn".to_owned()),
    ];
    env.extend(extra.iter().cloned());
    env
}

fn measure(
    plan: &Plan,
    plaza: &Path,
    python: &Path,
    pg: &postgres::PgInstall,
    next_blog: &Path,
    data: &Path,
    results: &mut Results,
) -> Result<()> {
    let token = util::random_hex(24)?;
    let main = data.join("main");
    let env = host_env(&[]);

    let (host, _) = Host::start(plaza, &main, &token, &env)?;
    setup(&host, &token, plan)?;
    let module_path = format!("/t/{TENANT}/blog/posts/{SLUG}");
    let native_path = format!("/bench/native/t/{TENANT}/blog/posts/{SLUG}");
    // Both answer the same post before either is timed.
    for path in [&module_path, &native_path] {
        let (status, _, body) = util::http_call(host.addr, "GET", path, &[], &[])?;
        if status != 200 || !body.contains(SLUG) {
            bail!("GET {path} answered {status}: {body:.300}");
        }
    }
    let (mut modules, mut natives) = (Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS));
    for round in 1..=ROUNDS {
        modules.push(load(host.addr, &module_path, plan, &format!("the blog module, round {round}/{ROUNDS}"))?);
        natives.push(load(host.addr, &native_path, plan, &format!("the native handler, round {round}/{ROUNDS}"))?);
    }
    results.native_ratios =
        modules.iter().zip(&natives).map(|(m, n)| m.requests_per_sec / n.requests_per_sec).collect();
    results.module = median(modules);
    results.native = median(natives);
    if results.profile_error.is_none() {
        match profile::run(host.child.id(), host.addr, &module_path, &native_path, plan, data) {
            Ok(p) => results.profiles = Some(p),
            Err(e) => results.profile_error = Some(format!("{e:#}")),
        }
    }
    results.upgrade = Some(upgrade_under_load(plaza, &main, &host, &token, next_blog, &module_path, plan)?);
    drop(host);

    // The FastAPI service on the module's own SQLite file.
    let db = main.join("modules").join(TENANT).join("blog.db");
    let fastapi = FastApi::start(python, &db)?;
    results.fastapi = Some(load(fastapi.addr, &module_path, plan, "FastAPI + uvicorn + SQLAlchemy")?);
    drop(fastapi);

    // Cold start: every module compiled on disk by the runs above. One
    // restart swung from 60 to 290 ms between runs on a shared machine:
    // the median of a few is reported, with their range.
    results.cached_modules = cached_modules(&main);
    let as_operator = format!("Bearer {token}");
    let (mut readies, mut firsts) = (Vec::new(), Vec::new());
    for _ in 0..RESTARTS {
        let (host, ready) = Host::start(plaza, &main, &token, &env)?;
        let first = Instant::now();
        let (status, _, _) = util::http_call(host.addr, "GET", &module_path, &[], &[])?;
        if status != 200 {
            bail!("the first request after the restart answered {status}");
        }
        firsts.push(first.elapsed());
        readies.push(ready);
        let enabled =
            host.json("GET", &format!("/t/{TENANT}/modules"), &[("Authorization", as_operator.as_str())], None, 200)?;
        results.enabled_modules = enabled.as_array().map_or(0, Vec::len);
    }
    readies.sort();
    firsts.sort();
    results.cold_start = readies.get(readies.len() / 2).copied();
    results.first_request = firsts.get(firsts.len() / 2).copied();
    results.cold_start_range = readies.first().copied().zip(readies.last().copied());

    // A noisy neighbour, on a host of its own.
    results.neighbour = Some(neighbour::run(plaza, &data.join("neighbour"), &token, &env, plan)?);

    // Tenants at scale, then the erp module's import and sales, on each engine.
    results.scale = on_each_engine(pg, |engine, env| {
        scale::run(engine, plaza, &data.join(dir("scale", engine)), &token, env, plan)
    })?;
    results.erp =
        on_each_engine(pg, |engine, env| erp::run(engine, plaza, &data.join(dir("erp", engine)), &token, env, plan))?;
    Ok(())
}

/// Runs a scenario on SQLite, then on a PostgreSQL cluster of its own,
/// stopped once the scenario is done; their results in that order.
fn on_each_engine<T>(
    pg: &postgres::PgInstall,
    mut scenario: impl FnMut(&'static str, &[(&'static str, String)]) -> Result<T>,
) -> Result<Vec<T>> {
    let sqlite = scenario("SQLite", &host_env(&[]))?;
    let cluster = postgres::PgCluster::start(pg)?;
    let postgres = scenario("PostgreSQL", &host_env(&[("PLAZA_DATABASE_URL", cluster.admin_url())]))?;
    Ok(vec![sqlite, postgres])
}

/// The data directory of a scenario on an engine: `scale-sqlite`, `erp-postgresql`.
fn dir(scenario: &str, engine: &str) -> String {
    format!("{scenario}-{}", engine.to_ascii_lowercase())
}

/// Scenario 6: publishes the next `blog` release, then upgrades the tenant
/// to it in the middle of a load on the module's read.
fn upgrade_under_load(
    plaza: &Path,
    data: &Path,
    host: &Host,
    token: &str,
    package: &Path,
    path: &str,
    plan: &Plan,
) -> Result<Upgrade> {
    println!("==> hot upgrade of blog under load");
    util::run(
        Command::new(plaza)
            .args(["module", "publish"])
            .arg(package)
            .env("PLAZA_DATA_DIR", data)
            .env("PLAZA_ALLOW_UNSIGNED_MODULES", "true")
            .env("PLAZA_LOG", "warn"),
    )?;
    let addr = host.addr;
    let connections = plan.connections;
    let duration = plan.upgrade_load;
    let target = path.to_owned();
    let loaded = std::thread::spawn(move || wrk::run(addr, &target, connections, duration));
    std::thread::sleep(plan.upgrade_after);
    let auth = format!("Bearer {token}");
    let started = Instant::now();
    let change = host.json(
        "POST",
        &format!("/t/{TENANT}/modules/blog/upgrade"),
        &[("Authorization", auth.as_str())],
        Some(&json!({ "version": NEXT_BLOG })),
        200,
    );
    let took = started.elapsed();
    let load = loaded.join().map_err(|_| anyhow::anyhow!("the load thread panicked"))??;
    change?;
    let now = host.json("GET", &format!("/t/{TENANT}/modules/blog"), &[("Authorization", auth.as_str())], None, 200)?;
    if now["version"] != NEXT_BLOG {
        bail!("after the upgrade the tenant runs blog {}", now["version"]);
    }
    println!(
        "    upgrade took {:.0} ms; {:.0} requests/s, p99 {:.2} ms, max {:.2} ms, {} failed",
        took.as_secs_f64() * 1000.0,
        load.requests_per_sec,
        load.p99_ms,
        load.max_ms,
        load.failed
    );
    Ok(Upgrade { load, took })
}

/// Compiled modules in the host's on-disk cache.
fn cached_modules(data: &Path) -> usize {
    let dir = data.join("cache").join("components");
    std::fs::read_dir(&dir).map_or(0, |entries| entries.filter_map(Result::ok).count())
}

/// A warm-up (not kept), then the measured load.
fn load(addr: SocketAddr, path: &str, plan: &Plan, what: &str) -> Result<wrk::Load> {
    println!(
        "==> {what}: warm-up {}s, then {}s with {} connections",
        plan.warmup.as_secs(),
        plan.duration.as_secs(),
        plan.connections
    );
    wrk::run(addr, path, plan.connections, plan.warmup)?;
    let load = wrk::run(addr, path, plan.connections, plan.duration)?;
    println!(
        "    {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, {} failed",
        load.requests_per_sec, load.p50_ms, load.p99_ms, load.failed
    );
    Ok(load)
}

/// The load of the median throughput.
fn median(mut loads: Vec<wrk::Load>) -> Option<wrk::Load> {
    loads.sort_by(|a, b| a.requests_per_sec.total_cmp(&b.requests_per_sec));
    loads.get(loads.len() / 2).copied()
}

/// The tenant, its modules (`blog`, and `hello` and `playlists` beside it,
/// as a tenant would have), an admin API key and `plan.posts` published posts.
fn setup(host: &Host, token: &str, plan: &Plan) -> Result<()> {
    let operator = format!("Bearer {token}");
    let as_operator = [("Authorization", operator.as_str())];
    host.json("POST", "/api/v1/tenants", &as_operator, Some(&json!({ "id": TENANT, "name": "Benchmarks" })), 201)?;
    for module in ["blog", "hello", "playlists"] {
        host.json("POST", &format!("/t/{TENANT}/modules"), &as_operator, Some(&json!({ "name": module })), 200)?;
    }
    let key = host.json(
        "POST",
        &format!("/t/{TENANT}/api-keys"),
        &as_operator,
        Some(&json!({ "name": "bench", "roles": ["admin"] })),
        201,
    )?;
    let key = key["secret"].as_str().context("no API key secret")?.to_owned();
    let as_admin = [("X-API-Key", key.as_str())];
    let paragraph = "Plaza serves every tenant's modules from one host. ".repeat(12);
    for n in 0..plan.posts {
        let post = host.json(
            "POST",
            &format!("/t/{TENANT}/blog/admin/posts"),
            &as_admin,
            Some(&json!({
                "title": format!("Post {n}"),
                "content_markdown": format!("# Post {n}\n\n{paragraph}\n\n- one\n- two\n\n**Bold** and [a link](https://example.com)."),
                "tags": ["bench", format!("tag-{}", n % 5)],
                "meta_description": format!("Post {n} of the benchmark"),
                "faq": [{ "question": "Is this a benchmark?", "answer": "Yes." }],
            })),
            201,
        )?;
        let id = post["id"].as_i64().context("no post id")?;
        host.json("POST", &format!("/t/{TENANT}/blog/admin/posts/{id}/publish"), &as_admin, Some(&json!({})), 200)?;
    }
    Ok(())
}

/// A `plaza serve` of the bench build on a free port; stopped on drop.
struct Host {
    child: Child,
    addr: SocketAddr,
}

impl Host {
    /// Starts it on `data` with `env` and waits for `/ready`; returns it and
    /// how long that took.
    fn start(plaza: &Path, data: &Path, token: &str, env: &[(&str, String)]) -> Result<(Self, Duration)> {
        let addr: SocketAddr = format!("127.0.0.1:{}", util::free_port()?).parse()?;
        let mut cmd = Command::new(plaza);
        cmd.arg("serve")
            .env("PLAZA_DATA_DIR", data)
            .env("PLAZA_LISTEN", addr.to_string())
            .env("PLAZA_OPERATOR_TOKEN", token)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let mut child = cmd.spawn().context("cannot start plaza serve")?;
        // Polled every 10 ms: the start time is what is measured.
        let deadline = started + Duration::from_secs(60);
        let ready = loop {
            if matches!(util::http_call(addr, "GET", "/ready", &[], &[]), Ok((200, _, _))) {
                break Ok(());
            }
            match child.try_wait() {
                Ok(Some(status)) => break Err(anyhow::anyhow!("plaza serve exited before it was ready ({status})")),
                Ok(None) if Instant::now() > deadline => break Err(anyhow::anyhow!("plaza was not ready within 60 s")),
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(err) => break Err(err.into()),
            }
        };
        let elapsed = started.elapsed();
        let host = Self { child, addr };
        ready?;
        Ok((host, elapsed))
    }

    /// A JSON call that must answer `status`; its JSON answer.
    fn json(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
        status: u16,
    ) -> Result<Value> {
        util::http_json(self.addr, method, path, headers, body, &[status])
    }

    /// Its resident memory (`VmRSS`), in bytes.
    fn rss_bytes(&self) -> Result<u64> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .with_context(|| format!("no VmRSS in {path}"))
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The FastAPI service under uvicorn (two workers, one per core here).
struct FastApi {
    child: Child,
    addr: SocketAddr,
}

impl FastApi {
    fn start(python: &Path, db: &Path) -> Result<Self> {
        let addr: SocketAddr = format!("127.0.0.1:{}", util::free_port()?).parse()?;
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).to_string();
        let mut child = Command::new(python)
            .args(["-m", "uvicorn", "fastapi_blog:app", "--app-dir"])
            .arg(util::workspace_root().join("bench"))
            .args(["--host", "127.0.0.1", "--port", &addr.port().to_string(), "--workers", &workers])
            .args(["--log-level", "warning", "--no-access-log"])
            .env("BLOG_DB", db)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Its workers are its children: a group of their own, stopped
            // together (see `Drop`).
            .process_group(0)
            .spawn()
            .context("cannot start uvicorn")?;
        let path = format!("/t/{TENANT}/blog/posts/{SLUG}");
        let ready = util::wait_until(
            &format!("uvicorn at http://{addr}"),
            Duration::from_secs(60),
            || matches!(util::http_call(addr, "GET", &path, &[], &[]), Ok((200, _, _))),
            || match child.try_wait() {
                Ok(Some(status)) => bail!("uvicorn exited before it answered ({status})"),
                Ok(None) => Ok(()),
                Err(err) => Err(err.into()),
            },
        );
        let service = Self { child, addr };
        ready?;
        Ok(service)
    }
}

impl Drop for FastApi {
    /// Kills uvicorn's whole process group: killed alone, its workers
    /// outlived it and took CPU from every later scenario of the run.
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let killed = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        if !killed.is_ok_and(|s| s.success()) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The venv of the FastAPI side: `<target>/bench-fastapi`.
fn fastapi_venv(apt: &mut Apt) -> Result<PathBuf> {
    let dir = util::target_dir().join("bench-fastapi");
    let python = dir.join("bin").join("python");
    let check = python.clone();
    python::venv(apt, &dir, FASTAPI, &|| {
        python::succeeds(Command::new(&check).args(["-c", "import fastapi, uvicorn, sqlalchemy"]))
    })?;
    Ok(python)
}
