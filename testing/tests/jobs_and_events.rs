//! plaza-testing's `deliver` and `run_job` on the test-only `subscriber` and
//! `ticker` modules (built by `cargo xtask plugins` into target/packages).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use plaza_testing::TestHost;
use serde_json::{Value, json};

fn package(name: &str) -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../target/packages/{name}.wasm"));
    assert!(path.exists(), "run `cargo xtask plugins` first (cargo xtask test does)");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_delivered_to_on_event_and_duplicates_are_ignored() {
    let host = TestHost::new().module(package("subscriber-1.0.0")).start().await.unwrap();
    // `test.flaky` fails its first two attempts: the host would retry.
    for attempt in 1..=3 {
        let verdict = host.deliver_with_id("0190-flaky", "test.flaky", &json!({ "n": 1 })).await.unwrap();
        assert_eq!(verdict.is_ok(), attempt == 3, "attempt {attempt}: {verdict:?}");
    }
    // The same event again: `events::once` ignores it.
    host.deliver_with_id("0190-flaky", "test.flaky", &json!({ "n": 1 })).await.unwrap().unwrap();
    assert!(host.deliver("test.broken", &json!({})).await.unwrap().is_err());
    let items = host.get("/received").await.json::<Value>()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "recorded once: {items:?}");
    assert_eq!((items[0]["event_id"].as_str(), items[0]["attempts"].as_i64()), (Some("0190-flaky"), Some(4)));
    assert_eq!(items[0]["source"], "plaza-testing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_on_demand_and_its_run_is_recorded() {
    let host = TestHost::new().module(package("ticker-1.0.0")).start().await.unwrap();
    let run = host.run_job("tick").await.unwrap();
    assert_eq!((run.status.as_str(), run.trigger.as_str(), run.job.as_str()), ("succeeded", "manual", "tick"));
    let ticks = host.get("/ticks").await.json::<Value>()["items"].as_array().unwrap().clone();
    assert_eq!(ticks.len(), 1);
    assert_eq!(ticks[0]["run_id"], run.id.as_str());
    assert!(host.run_job("nope").await.is_err(), "an unknown job is refused");
}
