//! Scenario 2 of `cargo xtask bench`: what one module call costs the host.
//!
//! A trivial handler (`hello`'s `GET /version`: no capability, a small JSON
//! answer) is called the way a request calls it, whole (`call/whole`:
//! `Modules::call`, with its scope, metrics and outcome), and stage by stage,
//! each stage timed alone while the others run untimed around it:
//!
//! - `call/store`: the call's state and its store (limits and deadline armed);
//! - `call/instantiate`: a fresh instance from the pooling allocator;
//! - `call/handle`: the export called (request in, response out);
//! - `call/teardown`: the call's end (SQL session closed, events) and the
//!   store dropped, which gives the instance's slot back to the pool.
//!
//! Needs `hello.wasm` (built by `cargo xtask plugins`, or found through
//! `PLAZA_MODULES_DIR`). `cargo xtask bench` runs it and reads criterion's
//! estimates into `docs/benchmarks.md`.

#![allow(clippy::expect_used)] // a benchmark that cannot set up fails loudly

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use plaza::App;
use plaza::audit::Actor;
use plaza::capabilities::{CallState, Scope};
use plaza::config::Config;
use plaza::contract::{Caller, Method, Request};
use plaza::modules::LoadedModule;
use plaza::modules::call::Call;

const TENANT: &str = "bench";

/// A host on a temporary SQLite database with `hello` enabled for one tenant.
struct Fixture {
    app: Arc<App>,
    module: Arc<LoadedModule>,
    _dir: tempfile::TempDir,
}

fn modules_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("PLAZA_MODULES_DIR") {
        return PathBuf::from(dir);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root.join("target"), PathBuf::from);
    target.join("plugins").join("wasm32-wasip2").join("release")
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let modules = modules_dir();
    assert!(modules.join("hello.wasm").is_file(), "no hello.wasm in {}: run `cargo xtask plugins`", modules.display());
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        database_url: format!("sqlite://{}?mode=rwc", dir.path().join("plaza.db").display()),
        operator_token: "bench-operator-token-0123456789".into(),
        modules_dir: modules.display().to_string(),
        log: "error".into(),
        ..Config::default()
    };
    let app = App::start(config).await.expect("plaza starts");
    let actor = Actor::new("bench");
    plaza::tenancy::create(&app.db, &actor, TENANT, "Benchmarks").await.expect("tenant");
    app.modules.enable(TENANT, "hello", None, &actor).await.expect("hello enabled");
    let enabled = app.modules.enabled(TENANT).await.expect("tenant loaded");
    let module = enabled.get("hello").and_then(|a| a.module.clone().ok()).expect("hello loaded");
    Fixture { app, module, _dir: dir }
}

fn request() -> Request {
    Request {
        method: Method::Get,
        path: "/version".into(),
        route: "/version".into(),
        path_params: Vec::new(),
        query: Vec::new(),
        headers: vec![plaza::contract::Header { name: "accept".into(), value: "application/json".into() }],
        body: Vec::new(),
        caller: Caller { tenant: TENANT.into(), user_id: None, roles: Vec::new(), request_id: "bench".into() },
    }
}

fn state(f: &Fixture) -> Call {
    let scope =
        Arc::new(Scope { tenant: TENANT.into(), grant: Arc::clone(&f.module.grant), request_id: "bench".into() });
    Call::new(CallState::new(Arc::clone(f.app.modules.services()), Some(scope), f.module.grant.limits))
}

/// Which stage of a call an iteration times.
#[derive(Clone, Copy, PartialEq)]
enum Stage {
    Store,
    Instantiate,
    Handle,
    Teardown,
}

/// One call, stage by stage; the time of `timed` only.
async fn one_call(f: &Fixture, timed: Stage) -> Duration {
    let runtime = f.app.modules.runtime();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut spent = Duration::ZERO;
    let mut stage = |s: Stage, start: Instant| {
        if s == timed {
            spent = start.elapsed();
        }
    };

    let t = Instant::now();
    let mut store = runtime.store(state(f), deadline);
    stage(Stage::Store, t);

    let t = Instant::now();
    let instance = f.module.pre().instantiate_async(&mut store).await.expect("instantiated");
    stage(Stage::Instantiate, t);

    let req = request();
    let t = Instant::now();
    let resp = instance.call_handle(&mut store, &req).await.expect("called");
    stage(Stage::Handle, t);
    assert_eq!(resp.status, 200, "GET /version answers 200");

    let t = Instant::now();
    plaza::runtime::CallData::finish(store.data_mut(), true).await;
    drop(store);
    stage(Stage::Teardown, t);
    spent
}

fn calls(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let f = rt.block_on(fixture());
    let mut group = c.benchmark_group("call");

    group.bench_function("whole", |b| {
        b.to_async(&rt).iter(|| async {
            let resp = f.app.modules.call(&f.module, TENANT, "bench", request()).await.expect("called");
            assert_eq!(resp.status, 200);
        });
    });
    for (name, stage) in [
        ("store", Stage::Store),
        ("instantiate", Stage::Instantiate),
        ("handle", Stage::Handle),
        ("teardown", Stage::Teardown),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let f = &f;
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += one_call(f, stage).await;
                    }
                    total
                }
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = calls
}
criterion_main!(benches);
