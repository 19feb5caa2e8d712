//! The runtime core with real components: compile once (then from disk),
//! deadlines by epoch interruption, memory caps, and calls that carry on
//! while another is stopped.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;
use std::time::{Duration, Instant};

use plaza::runtime::limits::Limiter;
use plaza::runtime::{EngineSettings, Runtime};
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Store, Trap};

/// A component with three exports: `spin` never returns, `grow` grows its
/// memory until refused, `add` adds two numbers.
const COMPONENT: &str = r#"
(component
  (core module $m
    (memory 1)
    (func (export "spin") (loop $l (br $l)))
    (func (export "grow") (result i32)
      (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
      (memory.size))
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
  (core instance $i (instantiate $m))
  (func (export "spin") (canon lift (core func $i "spin")))
  (func (export "grow") (result u32) (canon lift (core func $i "grow")))
  (func (export "add") (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $i "add"))))
"#;

struct State {
    limits: Limiter,
}

/// The limits of one call in these tests.
struct Limits {
    deadline: Duration,
    memory_bytes: usize,
}

fn wasm() -> Vec<u8> {
    wat::parse_str(COMPONENT).unwrap()
}

fn runtime(dir: &std::path::Path) -> Arc<Runtime> {
    let settings = EngineSettings { max_concurrent_calls: 8, ..EngineSettings::default() };
    Runtime::new(settings, dir.join("cache")).unwrap()
}

fn pre(rt: &Runtime, component: &Component) -> InstancePre<State> {
    let linker: Linker<State> = Linker::new(rt.engine());
    linker.instantiate_pre(component).unwrap()
}

/// A fresh store for one call, with its deadline and memory cap.
fn store(rt: &Runtime, limits: Limits) -> Store<State> {
    let mut store = Store::new(rt.engine(), State { limits: Limiter::new(limits.memory_bytes) });
    store.limiter(|s| &mut s.limits);
    store.set_epoch_deadline(rt.ticks_for(limits.deadline));
    store.epoch_deadline_trap();
    store
}

const LIMITS: Limits = Limits { deadline: Duration::from_millis(200), memory_bytes: 4 << 20 };

#[test]
fn a_component_is_compiled_once_then_loaded_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = wasm();
    let rt = runtime(dir.path());
    let (sha, _) = rt.cache().load(&wasm).unwrap();
    rt.cache().load(&wasm).unwrap();
    assert_eq!(rt.cache().compiles(), 1, "the second load is from memory");
    assert_eq!(sha.len(), 64);
    drop(rt);
    // A restart: the artefact on disk is used, nothing is compiled.
    let rt = runtime(dir.path());
    rt.cache().load(&wasm).unwrap();
    assert_eq!((rt.cache().compiles(), rt.cache().disk_loads()), (0, 1));
    // Garbage is refused with a clear error, not a crash.
    let err = rt.cache().load(b"not wasm").err().unwrap();
    assert!(err.to_string().contains("not a valid component"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_ends_at_its_deadline_while_other_calls_carry_on() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let (_, component) = rt.cache().load(&wasm()).unwrap();
    let pre = Arc::new(pre(&rt, &component));

    let spinning = {
        let (rt, pre) = (Arc::clone(&rt), Arc::clone(&pre));
        tokio::spawn(async move {
            let mut store = store(&rt, LIMITS);
            let instance = pre.instantiate_async(&mut store).await.unwrap();
            let spin = instance.get_typed_func::<(), ()>(&mut store, "spin").unwrap();
            let started = Instant::now();
            let err = spin.call_async(&mut store, ()).await.unwrap_err();
            (err.downcast_ref::<Trap>().copied(), started.elapsed())
        })
    };
    // Meanwhile, well-behaved calls on fresh stores succeed.
    for i in 0..20u32 {
        let mut store = store(&rt, LIMITS);
        let instance = pre.instantiate_async(&mut store).await.unwrap();
        let add = instance.get_typed_func::<(u32, u32), (u32,)>(&mut store, "add").unwrap();
        assert_eq!(add.call_async(&mut store, (i, 1)).await.unwrap(), (i + 1,));
    }
    let (trap, elapsed) = spinning.await.unwrap();
    assert_eq!(trap, Some(Trap::Interrupt), "the loop is interrupted, not crashed");
    assert!(elapsed >= Duration::from_millis(150), "not before its deadline: {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_growth_traps_at_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let (_, component) = rt.cache().load(&wasm()).unwrap();
    let pre = pre(&rt, &component);
    let mut store = store(&rt, LIMITS);
    let instance = pre.instantiate_async(&mut store).await.unwrap();
    let grow = instance.get_typed_func::<(), (u32,)>(&mut store, "grow").unwrap();
    let err = grow.call_async(&mut store, ()).await.unwrap_err();
    assert!(format!("{err:#}").contains("memory"), "{err:#}");
    // The pool slot is clean for the next call.
    let mut store = self::store(&rt, LIMITS);
    let instance = pre.instantiate_async(&mut store).await.unwrap();
    let add = instance.get_typed_func::<(u32, u32), (u32,)>(&mut store, "add").unwrap();
    assert_eq!(add.call_async(&mut store, (2, 3)).await.unwrap(), (5,));
}

#[test]
fn deadlines_round_up_to_whole_ticks() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let tick = EngineSettings::default().epoch_tick;
    assert_eq!(rt.ticks_for(Duration::from_nanos(1)), 1);
    assert_eq!(rt.ticks_for(tick * 2 + tick / 2), 3);
    assert_eq!(rt.ticks_for(tick * 100), 100);
}
