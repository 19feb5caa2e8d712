//! `cargo xtask bench`: how much a module costs next to native code and
//! next to the FastAPI stack it replaces, measured in one run on this
//! machine and written to `docs/benchmarks.md`.
//!
//! The host is the release binary built with the `bench` feature, which adds
//! a native poem handler beside the modules (`host/src/http/bench.rs`). One
//! tenant has `blog` enabled with published posts; the same read (one post
//! by slug, from SQL, as JSON) is served by the module, by the native
//! handler and by `bench/fastapi_blog.py` (FastAPI + uvicorn + SQLAlchemy,
//! installed from PyPI into a venv of its own) on the same SQLite file,
//! each loaded by `wrk` with the same connections after a warm-up.
//!
//! Numbers on a shared machine are noisy: the report gives ratios beside
//! them, and the numbers are the ones this run printed.

mod report;
mod wrk;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::plugins;
use crate::services::python;
use crate::util::{self, Apt};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// A reduced run (short loads), for use while developing.
    #[arg(long)]
    quick: bool,
}

/// How long and how hard each load is.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub warmup: Duration,
    pub duration: Duration,
    pub connections: u32,
    pub posts: u32,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Self { warmup: Duration::from_secs(2), duration: Duration::from_secs(4), connections: 64, posts: 20 }
        } else {
            Self { warmup: Duration::from_secs(5), duration: Duration::from_secs(20), connections: 64, posts: 100 }
        }
    }
}

/// The post every load reads.
const SLUG: &str = "post-7";
const TENANT: &str = "bench";
/// What the FastAPI side needs, pinned.
const FASTAPI: &[&str] = &["fastapi==0.165.0", "uvicorn==0.54.0", "sqlalchemy==2.1.9"];

pub fn run(args: &BenchArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let plan = Plan::new(args.quick);
    let mut apt = Apt::default();
    wrk::ensure(&mut apt)?;
    let python = fastapi_venv(&mut apt)?;
    util::ensure_wasm_target()?;
    plugins::build()?;
    util::run(util::cargo().args(["build", "--release", "-p", "plaza", "--features", "bench"]))?;
    let plaza = util::target_dir().join("release").join("plaza");

    let data = util::make_temp_dir(&util::target_dir(), "bench-")?;
    let result = measure(&plan, &plaza, &python, &data);
    let _ = std::fs::remove_dir_all(&data);
    let mut results = result?;
    results.quick = args.quick;
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
    pub fastapi: Option<wrk::Load>,
    /// Start of `plaza serve` to `/ready`, with the modules compiled before.
    pub cold_start: Option<Duration>,
    /// The first request to the module after that start.
    pub first_request: Option<Duration>,
    pub quick: bool,
    pub elapsed: Duration,
}

fn measure(plan: &Plan, plaza: &Path, python: &Path, data: &Path) -> Result<Results> {
    let token = util::random_hex(24)?;
    let mut results = Results::default();

    let (host, _) = Host::start(plaza, data, &token)?;
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
    results.module = Some(load(host.addr, &module_path, plan, "the blog module")?);
    results.native = Some(load(host.addr, &native_path, plan, "the native handler")?);
    drop(host);

    // The FastAPI service on the module's own SQLite file.
    let db = data.join("modules").join(TENANT).join("blog.db");
    let fastapi = FastApi::start(python, &db)?;
    results.fastapi = Some(load(fastapi.addr, &module_path, plan, "FastAPI + uvicorn + SQLAlchemy")?);
    drop(fastapi);

    // Cold start: the compiled modules are on disk from the first start.
    let (host, ready) = Host::start(plaza, data, &token)?;
    results.cold_start = Some(ready);
    let first = Instant::now();
    let (status, _, _) = util::http_call(host.addr, "GET", &module_path, &[], &[])?;
    if status != 200 {
        bail!("the first request after the restart answered {status}");
    }
    results.first_request = Some(first.elapsed());
    drop(host);
    Ok(results)
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

/// The tenant, the module, an admin API key and `plan.posts` published posts.
fn setup(host: &Host, token: &str, plan: &Plan) -> Result<()> {
    let operator = format!("Bearer {token}");
    let as_operator = [("Authorization", operator.as_str())];
    host.json("POST", "/api/v1/tenants", &as_operator, &json!({ "id": TENANT, "name": "Benchmarks" }), 201)?;
    host.json("POST", &format!("/t/{TENANT}/modules"), &as_operator, &json!({ "name": "blog" }), 200)?;
    let key = host.json(
        "POST",
        &format!("/t/{TENANT}/api-keys"),
        &as_operator,
        &json!({ "name": "bench", "roles": ["admin"] }),
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
            &json!({
                "title": format!("Post {n}"),
                "content_markdown": format!("# Post {n}\n\n{paragraph}\n\n- one\n- two\n\n**Bold** and [a link](https://example.com)."),
                "tags": ["bench", format!("tag-{}", n % 5)],
                "meta_description": format!("Post {n} of the benchmark"),
                "faq": [{ "question": "Is this a benchmark?", "answer": "Yes." }],
            }),
            201,
        )?;
        let id = post["id"].as_i64().context("no post id")?;
        host.json("POST", &format!("/t/{TENANT}/blog/admin/posts/{id}/publish"), &as_admin, &json!({}), 200)?;
    }
    Ok(())
}

/// A `plaza serve` of the bench build on a free port; stopped on drop.
struct Host {
    child: Child,
    addr: SocketAddr,
}

impl Host {
    /// Starts it and waits for `/ready`; returns it and how long that took.
    fn start(plaza: &Path, data: &Path, token: &str) -> Result<(Self, Duration)> {
        let addr: SocketAddr = format!("127.0.0.1:{}", util::free_port()?).parse()?;
        let started = Instant::now();
        let mut child = Command::new(plaza)
            .arg("serve")
            .env("PLAZA_DATA_DIR", data)
            .env("PLAZA_LISTEN", addr.to_string())
            .env("PLAZA_OPERATOR_TOKEN", token)
            .env("PLAZA_MODULES_DIR", plugins::modules_dir())
            .env("PLAZA_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .context("cannot start plaza serve")?;
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
    fn json(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &Value, status: u16) -> Result<Value> {
        util::http_json(self.addr, method, path, headers, Some(body), &[status])
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
    fn drop(&mut self) {
        let _ = self.child.kill();
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
