//! Scheduled jobs and events between modules, over HTTP, with real signed
//! components (`cargo xtask plugins` builds `publisher`, `subscriber` 1.0.0
//! and 1.1.0, and `ticker` into target/packages): events from failed calls
//! are never delivered; retries, back-off and the dead-letter list; order
//! under a burst; disabled and purged subscribers; jobs once per fire on
//! two processes; a killed process's run taken over; events surviving a
//! killed process.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::packages::{SecondHost, as_key, json_of, package, publish_signed, server_with};
use common::{TestServer, assert_problem};
use plaza_registry::PublisherKey;
use reqwest::Method;
use serde_json::{Value, json};

/// A host with quick retries: 3 attempts, 50 ms then 100 ms apart.
async fn quick_retries(key: &PublisherKey) -> TestServer {
    server_with(key, |c| {
        c.event_retry_base_ms = 50;
        c.event_max_attempts = 3;
    })
    .await
}

fn postgres(s: &TestServer) -> bool {
    s.app.config.effective_database_url().starts_with("postgres")
}

/// Publishes the packages named, signed by `key`.
async fn publish_all(s: &TestServer, key: &PublisherKey, names: &[&str]) {
    for name in names {
        publish_signed(s, key, package(name)).await;
    }
}

/// Enables `module` (at `version`, a range) for `tenant` through the API.
async fn enable(s: &TestServer, tenant: &str, admin: &str, module: &str, version: &str) {
    json_of(
        as_key(s, Method::POST, &format!("/t/{tenant}/modules"), admin)
            .json(&json!({ "name": module, "version": version }))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
}

/// Creates `tenant` with an admin's and a member's API keys, and enables
/// `modules` (newest versions) through the API, in order. Returns the keys.
async fn tenant_with(s: &TestServer, tenant: &str, modules: &[&str]) -> (String, String) {
    s.create_tenant(tenant).await;
    let admin = s.api_key(tenant, &["admin"]).await;
    let member = s.api_key(tenant, &["member"]).await;
    for module in modules {
        enable(s, tenant, &admin, module, "*").await;
    }
    (admin, member)
}

/// `POST /publisher/publish` as a member; the response.
async fn publish_events(s: &TestServer, tenant: &str, key: &str, body: Value) -> reqwest::Response {
    as_key(s, Method::POST, &format!("/t/{tenant}/publisher/publish"), key).json(&body).send().await.unwrap()
}

async fn published_ids(s: &TestServer, tenant: &str, key: &str, body: Value) -> Vec<String> {
    let v = json_of(publish_events(s, tenant, key, body).await, 200).await;
    v["event_ids"].as_array().unwrap().iter().map(|i| i.as_str().unwrap().to_owned()).collect()
}

/// What the subscriber of `tenant` has accepted, in arrival order.
async fn received(base: &str, tenant: &str, key: &str) -> Vec<Value> {
    let resp = reqwest::Client::new()
        .get(format!("{base}/t/{tenant}/subscriber/received"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    let v = json_of(resp, 200).await;
    v["items"].as_array().unwrap().clone()
}

/// Polls until `check` holds on what the subscriber received.
async fn received_until(
    base: &str,
    tenant: &str,
    key: &str,
    limit: Duration,
    check: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let items = received(base, tenant, key).await;
        if check(&items) {
            return items;
        }
        assert!(started.elapsed() < limit, "not received within {limit:?}: {items:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn deliveries(s: &TestServer, tenant: &str, admin: &str, query: &str) -> Vec<Value> {
    let v =
        json_of(as_key(s, Method::GET, &format!("/t/{tenant}/events{query}"), admin).send().await.unwrap(), 200).await;
    v.as_array().unwrap().clone()
}

fn of_type<'a>(items: &'a [Value], event_type: &str) -> Vec<&'a Value> {
    items.iter().filter(|i| i["event_type"] == event_type).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_calls_publish_nothing_and_failing_deliveries_are_retried_then_dead_lettered() {
    let key = PublisherKey::generate().unwrap();
    let s = quick_retries(&key).await;
    publish_all(&s, &key, &["publisher-1.0.0", "subscriber-1.0.0", "subscriber-1.1.0"]).await;
    s.create_tenant("acme").await;
    s.create_tenant("globex").await;
    let admin = s.api_key("acme", &["admin"]).await;
    let member = s.api_key("acme", &["member"]).await;
    let globex_admin = s.api_key("globex", &["admin"]).await;
    enable(&s, "acme", &admin, "subscriber", "=1.0.0").await;
    enable(&s, "acme", &admin, "publisher", "*").await;

    // A call that fails publishes nothing: inside a transaction rolled back, or outside one with a 500.
    let resp = publish_events(&s, "acme", &member, json!({ "event_type": "test.ok", "fail": "rollback" })).await;
    assert_problem(resp, 409).await;
    let resp = publish_events(&s, "acme", &member, json!({ "event_type": "test.ok", "fail": "after" })).await;
    assert_problem(resp, 500).await;
    // One that succeeds is delivered exactly once; a flaky subscriber gets it three times.
    let ok = published_ids(&s, "acme", &member, json!({ "event_type": "test.ok" })).await;
    let flaky = published_ids(&s, "acme", &member, json!({ "event_type": "test.flaky" })).await;
    let broken = published_ids(&s, "acme", &member, json!({ "event_type": "test.broken" })).await;
    let items = received_until(&s.base, "acme", &member, Duration::from_secs(20), |items| {
        !of_type(items, "test.ok").is_empty() && !of_type(items, "test.flaky").is_empty()
    })
    .await;
    let oks = of_type(&items, "test.ok");
    assert_eq!(oks.len(), 1, "exactly one test.ok: {items:?}");
    assert_eq!((oks[0]["event_id"].as_str(), oks[0]["attempts"].as_i64()), (Some(ok[0].as_str()), Some(1)));
    assert_eq!(oks[0]["source"], "publisher");
    let flakies = of_type(&items, "test.flaky");
    assert_eq!((flakies[0]["event_id"].as_str(), flakies[0]["attempts"].as_i64()), (Some(flaky[0].as_str()), Some(3)));
    let outbox: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM event_outbox WHERE event_type = 'test.ok'")
        .fetch_one(s.app.db.pool())
        .await
        .unwrap();
    assert_eq!(outbox.0, 1, "the failed calls' events were never stored");
    // The host's own events reach subscribers too.
    let enabled: Vec<_> = of_type(&items, "module.enabled");
    assert!(
        enabled.iter().any(|e| e["source"] == "plaza" && e["payload"].as_str().unwrap().contains("\"publisher\"")),
        "module.enabled for publisher: {items:?}"
    );

    // The always-failing delivery ends in the dead-letter list after three attempts.
    let started = Instant::now();
    let dead = loop {
        let dead = deliveries(&s, "acme", &admin, "?status=dead").await;
        if !dead.is_empty() {
            break dead;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no dead letter");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(
        (dead[0]["event_id"].as_str(), dead[0]["module"].as_str()),
        (Some(broken[0].as_str()), Some("subscriber"))
    );
    assert_eq!(dead[0]["attempts"], 3);
    assert!(dead[0]["last_error"].as_str().unwrap().contains("broken until 1.1.0"), "{dead:?}");
    let delivered = deliveries(&s, "acme", &admin, "?status=delivered&module=subscriber").await;
    for id in [&ok[0], &flaky[0]] {
        let d = delivered.iter().find(|d| d["event_id"] == id.as_str());
        assert!(d.is_some_and(|d| d["delivered_at"].is_string()), "{id} marked delivered: {delivered:?}");
    }
    let flaky_attempts = delivered.iter().find(|d| d["event_id"] == flaky[0].as_str()).map(|d| d["attempts"].clone());
    assert_eq!(flaky_attempts, Some(json!(3)));
    // Another tenant sees none of it, and cannot retry it; a member cannot either.
    assert!(deliveries(&s, "globex", &globex_admin, "").await.is_empty());
    assert_problem(as_key(&s, Method::GET, "/t/acme/events", &globex_admin).send().await.unwrap(), 404).await;
    let retry = format!("/t/globex/events/{}/retry", broken[0]);
    assert_problem(as_key(&s, Method::POST, &retry, &globex_admin).json(&json!({})).send().await.unwrap(), 404).await;
    let retry = format!("/t/acme/events/{}/retry", broken[0]);
    assert_problem(as_key(&s, Method::POST, &retry, &member).json(&json!({})).send().await.unwrap(), 403).await;

    // Fixed in 1.1.0: upgrade, retry from the dead-letter list, delivered.
    json_of(
        as_key(&s, Method::POST, "/t/acme/modules/subscriber/upgrade", &admin).json(&json!({})).send().await.unwrap(),
        200,
    )
    .await;
    let retried = json_of(as_key(&s, Method::POST, &retry, &admin).json(&json!({})).send().await.unwrap(), 200).await;
    assert_eq!(retried[0]["status"], "pending", "{retried}");
    let items = received_until(&s.base, "acme", &member, Duration::from_secs(20), |items| {
        !of_type(items, "test.broken").is_empty()
    })
    .await;
    assert_eq!(of_type(&items, "test.broken")[0]["event_id"], broken[0].as_str());
    assert!(deliveries(&s, "acme", &admin, "?status=dead").await.is_empty());
    // Nothing dead is left to retry.
    assert_problem(as_key(&s, Method::POST, &retry, &admin).json(&json!({})).send().await.unwrap(), 404).await;

    let metric = |name: &'static str| s.metric(name, &[("module", "subscriber")]);
    assert!(metric("plaza_events_dead_lettered_total").await >= 1.0);
    assert!(metric("plaza_events_retried_total").await >= 4.0, "two flaky and two broken retries");
    assert!(metric("plaza_events_delivered_total").await >= 3.0);
    assert!(s.metric("plaza_events_published_total", &[("module", "publisher")]).await >= 3.0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_per_tenant_holds_under_a_burst_of_a_thousand_events() {
    let key = PublisherKey::generate().unwrap();
    let s = quick_retries(&key).await;
    publish_all(&s, &key, &["publisher-1.0.0", "subscriber-1.0.0"]).await;
    s.create_tenant("acme").await;
    s.create_tenant("globex").await;
    let admin = s.api_key("acme", &["admin"]).await;
    let member = s.api_key("acme", &["member"]).await;
    let globex_admin = s.api_key("globex", &["admin"]).await;
    let globex_member = s.api_key("globex", &["member"]).await;
    for (tenant, admin) in [("acme", &admin), ("globex", &globex_admin)] {
        enable(&s, tenant, admin, "subscriber", "*").await;
    }
    enable(&s, "acme", &admin, "publisher", "*").await;

    let mut published = Vec::new();
    for _ in 0..10 {
        published.extend(published_ids(&s, "acme", &member, json!({ "event_type": "test.seq", "count": 100 })).await);
    }
    assert_eq!(published.len(), 1000);
    let items = received_until(&s.base, "acme", &member, Duration::from_secs(180), |items| {
        of_type(items, "test.seq").len() >= 1000
    })
    .await;
    let seq: Vec<&str> = of_type(&items, "test.seq").iter().map(|i| i["event_id"].as_str().unwrap()).collect();
    assert_eq!(seq.len(), 1000, "each once");
    assert!(seq.iter().zip(&published).all(|(got, sent)| got == sent), "received in publish order");
    assert!(of_type(&items, "test.seq").iter().all(|i| i["attempts"] == 1));
    // The other tenant's subscriber got none of them.
    let theirs = received(&s.base, "globex", &globex_member).await;
    assert!(of_type(&theirs, "test.seq").is_empty(), "{theirs:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_subscriber_gets_nothing_and_purging_it_drops_its_deliveries() {
    let key = PublisherKey::generate().unwrap();
    let s = quick_retries(&key).await;
    publish_all(&s, &key, &["publisher-1.0.0", "subscriber-1.0.0"]).await;
    let (admin, member) = tenant_with(&s, "acme", &["subscriber", "publisher"]).await;
    let broken = published_ids(&s, "acme", &member, json!({ "event_type": "test.broken" })).await;
    let started = Instant::now();
    while deliveries(&s, "acme", &admin, "?status=dead").await.is_empty() {
        assert!(started.elapsed() < Duration::from_secs(20), "no dead letter");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    json_of(as_key(&s, Method::POST, "/t/acme/modules/subscriber/disable", &admin).send().await.unwrap(), 200).await;
    let ok = published_ids(&s, "acme", &member, json!({ "event_type": "test.ok" })).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let to_subscriber = deliveries(&s, "acme", &admin, "?module=subscriber").await;
    assert!(
        to_subscriber.iter().all(|d| d["event_id"] != ok[0].as_str()),
        "disabled: nothing queued {to_subscriber:?}"
    );

    let resp = as_key(&s, Method::POST, "/t/acme/modules/subscriber/purge", &admin)
        .json(&json!({ "confirm": "subscriber" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert!(deliveries(&s, "acme", &admin, "?module=subscriber").await.is_empty());
    let (detail,): (String,) = sqlx::query_as(
        "SELECT detail FROM audit_log WHERE tenant_id = 'acme' AND action = 'module.purge' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(s.app.db.pool())
    .await
    .unwrap();
    let detail: Value = serde_json::from_str(&detail).unwrap();
    assert!(detail["undelivered_events_dropped"].as_u64().unwrap() >= 1, "{detail} (dead: {})", broken[0]);
    s.stop().await;
}

/// The `tick` fires the ticker recorded, and each fire's runs in `job_runs`.
async fn ticks(s: &TestServer, member: &str) -> Vec<Value> {
    let v = json_of(as_key(s, Method::GET, "/t/acme/ticker/ticks", member).send().await.unwrap(), 200).await;
    v["items"].as_array().unwrap().clone()
}

/// `plaza_job_runs_total` of ticker's succeeded runs on the process at `base`.
async fn runs_counted(base: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| {
            l.starts_with("plaza_job_runs_total{") && l.contains("module=\"ticker\"") && l.contains("succeeded")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_every_second_runs_once_per_fire_on_two_processes() {
    let key = PublisherKey::generate().unwrap();
    let s = quick_retries(&key).await;
    let b = SecondHost::start(&s, &key.public_text()).await;
    publish_all(&s, &key, &["ticker-1.0.0"]).await;
    s.create_tenant("acme").await;
    s.create_tenant("globex").await;
    let admin = s.api_key("acme", &["admin"]).await;
    let member = s.api_key("acme", &["member"]).await;
    let globex_admin = s.api_key("globex", &["admin"]).await;

    // The jobs of the tenant's modules, with their next fire.
    enable(&s, "acme", &admin, "ticker", "*").await;
    let jobs = json_of(as_key(&s, Method::GET, "/t/acme/jobs", &admin).send().await.unwrap(), 200).await;
    let names: HashSet<&str> = jobs.as_array().unwrap().iter().map(|j| j["job"].as_str().unwrap()).collect();
    assert_eq!(names, HashSet::from(["tick", "slow"]), "{jobs}");
    assert!(jobs.as_array().unwrap().iter().all(|j| j["next_fire"].is_string()));
    // Another tenant has none, and cannot see or run these.
    let theirs = json_of(as_key(&s, Method::GET, "/t/globex/jobs", &globex_admin).send().await.unwrap(), 200).await;
    assert_eq!(theirs, json!([]));
    assert_problem(as_key(&s, Method::GET, "/t/acme/jobs/runs", &globex_admin).send().await.unwrap(), 404).await;
    let run = "/t/globex/jobs/ticker/tick/run";
    assert_problem(as_key(&s, Method::POST, run, &globex_admin).send().await.unwrap(), 404).await;
    assert_problem(as_key(&s, Method::POST, "/t/acme/jobs/ticker/nope/run", &admin).send().await.unwrap(), 404).await;

    // Both processes schedule it; every fire runs once.
    let watch = if postgres(&s) { Duration::from_secs(61) } else { Duration::from_secs(12) };
    let started = Instant::now();
    tokio::time::sleep(watch).await;
    json_of(as_key(&s, Method::POST, "/t/acme/modules/ticker/disable", &admin).send().await.unwrap(), 200).await;
    let stopped = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let elapsed = started.elapsed().as_secs();
    // Let runs in flight finish, then enable it again to read its data (fires
    // after it came back are left out: a re-enabled job owes nothing).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    enable(&s, "acme", &admin, "ticker", "*").await;
    let before_stop = |fire: &str| fire < stopped.as_str();
    let fired: Vec<String> = ticks(&s, &member)
        .await
        .iter()
        .filter(|t| t["job"] == "tick")
        .map(|t| t["fire_time"].as_str().unwrap().to_owned())
        .filter(|f| before_stop(f))
        .collect();
    let distinct: HashSet<&String> = fired.iter().collect();
    assert_eq!(distinct.len(), fired.len(), "a fire ran twice: {fired:?}");
    assert!(fired.len() as u64 + 3 >= elapsed, "{} fires in {elapsed} s: {fired:?}", fired.len());
    let runs =
        json_of(as_key(&s, Method::GET, "/t/acme/jobs/runs?job=tick&limit=500", &admin).send().await.unwrap(), 200)
            .await;
    let runs: Vec<&Value> =
        runs.as_array().unwrap().iter().filter(|r| before_stop(r["fire_time"].as_str().unwrap())).collect();
    assert_eq!(runs.len(), fired.len(), "one run per fire");
    assert!(runs.iter().all(|r| r["status"] == "succeeded" && r["trigger"] == "schedule" && r["attempts"] == 1));
    // Each process counts the runs it did: together, every fire.
    let on_a = s.metric("plaza_job_runs_total", &[("module", "ticker"), ("outcome", "succeeded")]).await;
    let on_b = runs_counted(&b.base).await;
    assert!(on_a + on_b >= fired.len() as f64, "{on_a} + {on_b} runs counted for {} fires", fired.len());
    eprintln!("fires run by the first process: {on_a}, by the second: {on_b}");
    drop(b);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cut_short_by_a_killed_process_runs_again_within_its_deadline() {
    let key = PublisherKey::generate().unwrap();
    let s = quick_retries(&key).await;
    let mut b = SecondHost::start(&s, &key.public_text()).await;
    publish_all(&s, &key, &["ticker-1.0.0"]).await;
    let (admin, member) = tenant_with(&s, "acme", &["ticker"]).await;

    // Run `slow` (4 s of work, 6 s deadline) by hand on the second process, then kill it mid-run.
    let url = format!("{}/t/acme/jobs/ticker/slow/run", b.base);
    let admin_key = admin.clone();
    let on_b = tokio::spawn(async move {
        reqwest::Client::new().post(url).header("x-api-key", admin_key).send().await.map(|r| r.status())
    });
    let slow = |items: &[Value], what: &str| items.iter().filter(|t| t["job"] == "slow" && t["what"] == what).count();
    let started = Instant::now();
    while slow(&ticks(&s, &member).await, "started") == 0 {
        assert!(started.elapsed() < Duration::from_secs(20), "slow never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    b.child.kill().unwrap();
    let killed = Instant::now();
    assert!(on_b.await.unwrap().is_err(), "the process died before answering");
    let items = loop {
        let items = ticks(&s, &member).await;
        if slow(&items, "started") == 2 {
            break items;
        }
        assert!(killed.elapsed() < Duration::from_secs(6), "the run was not taken over within its deadline: {items:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("taken over {:?} after the kill", killed.elapsed());
    assert_eq!(slow(&items, "finished"), 0);
    let done = Instant::now();
    let items = loop {
        let items = ticks(&s, &member).await;
        if slow(&items, "finished") == 1 {
            break items;
        }
        assert!(done.elapsed() < Duration::from_secs(10), "the new run did not finish: {items:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let runs: Vec<&Value> = items.iter().filter(|t| t["job"] == "slow").collect();
    assert!(
        runs.iter().all(|r| r["run_id"] == runs[0]["run_id"] && r["fire_time"] == runs[0]["fire_time"]),
        "one fire: {runs:?}"
    );
    let listed =
        json_of(as_key(&s, Method::GET, "/t/acme/jobs/runs?job=slow", &admin).send().await.unwrap(), 200).await;
    assert_eq!(listed[0]["status"], "succeeded", "{listed}");
    assert_eq!(listed[0]["attempts"], 2);
    assert_eq!(listed[0]["trigger"], "manual");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_published_before_its_process_was_killed_is_delivered_after_a_restart() {
    let key = PublisherKey::generate().unwrap();
    // This process only sets up and reads: it delivers nothing.
    let s = server_with(&key, |c| c.workers = false).await;
    publish_all(&s, &key, &["publisher-1.0.0", "subscriber-1.0.0"]).await;
    let (_, member) = tenant_with(&s, "acme", &["subscriber", "publisher"]).await;

    // Published through a process without workers, which is then killed.
    let trusted = key.public_text();
    let mut b = SecondHost::start_with(&s, &trusted, &[("PLAZA_WORKERS", "false")]).await;
    let resp = reqwest::Client::new()
        .post(format!("{}/t/acme/publisher/publish", b.base))
        .header("x-api-key", &member)
        .json(&json!({ "event_type": "test.ok" }))
        .send()
        .await
        .unwrap();
    let id = json_of(resp, 200).await["event_ids"][0].as_str().unwrap().to_owned();
    b.child.kill().unwrap();
    let _ = b.child.wait();
    assert!(received(&s.base, "acme", &member).await.iter().all(|i| i["event_id"] != id.as_str()));

    // A new process delivers it, once.
    let c = SecondHost::start(&s, &trusted).await;
    let items = received_until(&c.base, "acme", &member, Duration::from_secs(20), |items| {
        items.iter().any(|i| i["event_id"] == id.as_str())
    })
    .await;
    assert_eq!(items.iter().filter(|i| i["event_id"] == id.as_str()).count(), 1);
    drop(c);
    s.stop().await;
}

async fn count(s: &TestServer, sql: &'static str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(s.app.db.pool()).await.unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_tenant_runs_no_job_and_gets_no_event_until_resumed() {
    let key = PublisherKey::generate().unwrap();
    let s = quick_retries(&key).await;
    publish_all(&s, &key, &["subscriber-1.0.0", "ticker-1.0.0"]).await;
    let (_, member) = tenant_with(&s, "acme", &["subscriber"]).await;
    json_of(s.req(Method::POST, "/api/v1/tenants/acme/suspend").send().await.unwrap(), 200).await;
    // Enabled while suspended (by the host itself): its job does not run,
    // and its `module.enabled` event waits for the subscriber.
    s.app.modules.enable("acme", "ticker", None, &plaza::audit::Actor::new("test")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let runs = "SELECT COUNT(*) FROM job_runs WHERE tenant_id = 'acme'";
    assert_eq!(count(&s, runs).await, 0, "no job while suspended");
    let waiting = "SELECT COUNT(*) FROM event_deliveries WHERE tenant_id = 'acme' AND status = 'pending'";
    assert!(count(&s, waiting).await >= 1, "the event waits");

    json_of(s.req(Method::POST, "/api/v1/tenants/acme/resume").send().await.unwrap(), 200).await;
    received_until(&s.base, "acme", &member, Duration::from_secs(20), |items| {
        of_type(items, "module.enabled").iter().any(|e| e["payload"].as_str().unwrap().contains("\"ticker\""))
    })
    .await;
    let started = Instant::now();
    while ticks(&s, &member).await.is_empty() {
        assert!(started.elapsed() < Duration::from_secs(10), "the job did not start after the resume");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_left_in_a_module_outbox_go_out_with_the_next_ones() {
    let key = PublisherKey::generate().unwrap();
    let s = quick_retries(&key).await;
    publish_all(&s, &key, &["publisher-1.0.0", "subscriber-1.0.0"]).await;
    let (_, member) = tenant_with(&s, "acme", &["subscriber", "publisher"]).await;
    // What a process that stopped right after the module's commit leaves:
    // an event in the namespace's outbox, not yet in the host's.
    let left = uuid::Uuid::now_v7().to_string();
    let insert = "INSERT INTO {schema}_plaza_outbox (id, event_type, payload, request_id, published_at) \
                  VALUES ($1, 'test.ok', '{\"n\": 99}', NULL, $2)";
    let ns = &s.app.modules.services().sql;
    let now = plaza::db::now();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    if let Some(mut conn) = ns.sqlite_conn("acme", "publisher", deadline).await.unwrap() {
        conn.db().unwrap().execute(&insert.replace("{schema}", ""), [&left, &now]).unwrap();
    } else {
        let place = ns.pg_place("acme", "publisher").await.unwrap().unwrap();
        let sql = insert.replace("{schema}", &format!("{}.", place.names.schema));
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&left).bind(&now).execute(&place.pool).await.unwrap();
    }
    let next = published_ids(&s, "acme", &member, json!({ "event_type": "test.ok" })).await;
    let items =
        received_until(&s.base, "acme", &member, Duration::from_secs(20), |items| of_type(items, "test.ok").len() >= 2)
            .await;
    let ids: Vec<&str> = of_type(&items, "test.ok").iter().map(|i| i["event_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [left.as_str(), next[0].as_str()], "the left-over first, each once");
    s.stop().await;
}
