//! The registry and each tenant's module lifecycle, over HTTP, with real
//! signed components (`cargo xtask plugins` builds `hello` 1.0.0 into
//! target/modules and its 1.1.0 and 1.2.0 releases, `greetbook`, `ping` and
//! `pong` into target/packages): publish, enable, upgrade, roll back,
//! disable, purge; what is refused; two host processes on one database;
//! tenants placed on a second PostgreSQL database.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::packages::{SecondHost, as_key, hello, json_of, package, publish, publish_signed, seen_within, server};
use common::{TestServer, assert_problem};
use plaza_registry::PublisherKey;
use reqwest::Method;
use serde_json::{Value, json};

/// A component with the same manifest and other bytes: a custom section
/// appended (valid wasm, another SHA-256).
fn with_custom_section(mut wasm: Vec<u8>) -> Vec<u8> {
    let name = b"plaza-test";
    let payload = b"other bytes, same version";
    let size = 1 + name.len() + payload.len();
    wasm.push(0);
    wasm.push(u8::try_from(size).unwrap());
    wasm.push(u8::try_from(name.len()).unwrap());
    wasm.extend_from_slice(name);
    wasm.extend_from_slice(payload);
    wasm
}

async fn audit_actions(s: &TestServer, tenant: &str) -> Vec<String> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT action FROM audit_log WHERE tenant_id = $1 AND action LIKE 'module.%' ORDER BY id")
            .bind(tenant)
            .fetch_all(s.app.db.pool())
            .await
            .unwrap();
    rows.into_iter().map(|(a,)| a).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_enable_upgrade_roll_back_disable_and_purge() {
    let key = PublisherKey::generate().unwrap();
    let s = server(&key).await;
    let v1 = publish_signed(&s, &key, hello("1.0.0")).await;
    assert_eq!(v1["name"], "hello");
    assert_eq!(v1["publisher"], key.public_text());
    assert!(v1["manifest"]["routes"].as_array().is_some_and(|r| !r.is_empty()), "{v1}");
    // The catalogue lists it, with its manifest per version.
    let (status, catalogue) = s.get_json("/api/v1/registry/modules").await;
    assert_eq!(status, 200);
    assert_eq!(catalogue[0]["name"], "hello");
    assert_eq!(catalogue[0]["latest"], "1.0.0");
    // Stored content-addressed.
    let sha = v1["sha256"].as_str().unwrap();
    use object_store::ObjectStoreExt as _;
    let stored =
        s.app.storage.store().head(&object_store::path::Path::from(format!("registry/sha256/{sha}.wasm"))).await;
    assert_eq!(stored.unwrap().size, hello("1.0.0").len() as u64);

    s.create_tenant("acme").await;
    s.create_tenant("globex").await;
    let admin = s.api_key("acme", &["admin"]).await;
    let member = s.api_key("acme", &["member"]).await;
    let globex = s.api_key("globex", &["admin"]).await;

    // Members may not manage modules; admins may.
    assert_problem(
        as_key(&s, Method::POST, "/t/acme/modules", &member).json(&json!({ "name": "hello" })).send().await.unwrap(),
        403,
    )
    .await;
    let change = json_of(
        as_key(&s, Method::POST, "/t/acme/modules", &admin).json(&json!({ "name": "hello" })).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(change["install"]["version"], "1.0.0");
    assert_eq!(change["migrations_applied"]["hello"], json!([1]));
    let version = json_of(s.anon(Method::GET, "/t/acme/hello/version").send().await.unwrap(), 200).await;
    assert_eq!(version["version"], "1.0.0");
    json_of(
        as_key(&s, Method::POST, "/t/acme/hello/greetings", &member)
            .json(&json!({ "name": "Ana" }))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    // Settings are checked against the module's config schema; secrets never shown.
    let setting = |key: &str, body: Value| {
        as_key(&s, Method::PUT, &format!("/t/acme/modules/hello/config/{key}"), &admin).json(&body).send()
    };
    let p = assert_problem(setting("greeting", json!({ "value": 42 })).await.unwrap(), 422).await;
    assert!(p["detail"].as_str().unwrap().contains("config schema"), "{p}");
    assert_eq!(setting("greeting", json!({ "value": "Hola" })).await.unwrap().status(), 204);
    assert_eq!(setting("api-token", json!({ "value": "s3cret", "secret": true })).await.unwrap().status(), 204);
    let settings =
        json_of(as_key(&s, Method::GET, "/t/acme/modules/hello/config", &admin).send().await.unwrap(), 200).await;
    assert_eq!(
        settings,
        json!([
            { "key": "api-token", "secret": true, "value": null },
            { "key": "greeting", "secret": false, "value": "Hola" }
        ])
    );
    assert!(!settings.to_string().contains("s3cret"));
    // Tenant B has not enabled it.
    assert_problem(s.anon(Method::GET, "/t/globex/hello/version").send().await.unwrap(), 404).await;
    assert_problem(as_key(&s, Method::GET, "/t/globex/hello/greetings", &globex).send().await.unwrap(), 404).await;

    // 1.1.0 adds a migration and a language to greetings.
    publish_signed(&s, &key, hello("1.1.0")).await;
    let change = json_of(
        as_key(&s, Method::POST, "/t/acme/modules/hello/upgrade", &admin).json(&json!({})).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(change["install"]["version"], "1.1.0");
    assert_eq!(change["install"]["previous_version"], "1.0.0");
    assert_eq!(change["migrations_applied"]["hello"], json!([2]));
    let version = json_of(s.anon(Method::GET, "/t/acme/hello/version").send().await.unwrap(), 200).await;
    assert_eq!(version["version"], "1.1.0", "the next request runs the new version");
    let created = json_of(
        as_key(&s, Method::POST, "/t/acme/hello/greetings", &member)
            .json(&json!({ "name": "Luis", "language": "es" }))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    assert_eq!(created["language"], "es", "{created}");
    let list = json_of(as_key(&s, Method::GET, "/t/acme/hello/greetings", &member).send().await.unwrap(), 200).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "old data kept: {list}");
    assert_eq!(items[0]["name"], "Ana");
    assert_eq!(items[0]["language"], "en", "old rows get the migration's default");

    // 1.2.0's migration fails: the upgrade is refused, 1.1.0 still serves, data untouched.
    publish_signed(&s, &key, hello("1.2.0")).await;
    let problem = assert_problem(
        as_key(&s, Method::POST, "/t/acme/modules/hello/upgrade", &admin).json(&json!({})).send().await.unwrap(),
        409,
    )
    .await;
    assert!(problem["type"].as_str().unwrap().ends_with("migration-failed"), "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("migration 3"), "{problem}");
    let version = json_of(s.anon(Method::GET, "/t/acme/hello/version").send().await.unwrap(), 200).await;
    assert_eq!(version["version"], "1.1.0");
    let list = json_of(as_key(&s, Method::GET, "/t/acme/hello/greetings", &member).send().await.unwrap(), 200).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let install = json_of(as_key(&s, Method::GET, "/t/acme/modules/hello", &admin).send().await.unwrap(), 200).await;
    assert_eq!(install["version"], "1.1.0");

    // Roll back to 1.0.0 (migration 2 only added a defaulted column), then forward again.
    let change =
        json_of(as_key(&s, Method::POST, "/t/acme/modules/hello/rollback", &admin).send().await.unwrap(), 200).await;
    assert_eq!(change["install"]["version"], "1.0.0");
    let version = json_of(s.anon(Method::GET, "/t/acme/hello/version").send().await.unwrap(), 200).await;
    assert_eq!(version["version"], "1.0.0");
    json_of(
        as_key(&s, Method::POST, "/t/acme/hello/greetings", &member)
            .json(&json!({ "name": "Eva" }))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let change = json_of(
        as_key(&s, Method::POST, "/t/acme/modules/hello/upgrade", &admin)
            .json(&json!({ "version": "~1.1" }))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(change["install"]["version"], "1.1.0");
    assert_eq!(change["migrations_applied"]["hello"], json!([]), "migration 2 stayed applied");

    // Disable: 404, data kept; enable again: data back, same version.
    json_of(as_key(&s, Method::POST, "/t/acme/modules/hello/disable", &admin).send().await.unwrap(), 200).await;
    assert_problem(as_key(&s, Method::GET, "/t/acme/hello/greetings", &member).send().await.unwrap(), 404).await;
    let change = json_of(
        as_key(&s, Method::POST, "/t/acme/modules", &admin).json(&json!({ "name": "hello" })).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(change["install"]["version"], "1.1.0", "a disabled module comes back at its own version");
    let list = json_of(as_key(&s, Method::GET, "/t/acme/hello/greetings", &member).send().await.unwrap(), 200).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 3, "data back: {list}");
    as_key(&s, Method::PUT, "/t/acme/hello/kv/note", &member).body("kept?").send().await.unwrap();

    // Purge: only when confirmed by name; then the data is gone.
    assert_problem(
        as_key(&s, Method::POST, "/t/acme/modules/hello/purge", &admin)
            .json(&json!({ "confirm": "yes" }))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    let resp = as_key(&s, Method::POST, "/t/acme/modules/hello/purge", &admin)
        .json(&json!({ "confirm": "hello" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_problem(as_key(&s, Method::GET, "/t/acme/hello/greetings", &member).send().await.unwrap(), 404).await;
    assert_problem(as_key(&s, Method::GET, "/t/acme/modules/hello", &admin).send().await.unwrap(), 404).await;
    let kv: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM module_kv WHERE tenant_id = 'acme' AND module = 'hello'")
        .fetch_one(s.app.db.pool())
        .await
        .unwrap();
    assert_eq!(kv.0, 0);
    // (The newest, 1.2.0, cannot migrate: a fresh install asks for 1.1.)
    let p = assert_problem(
        as_key(&s, Method::POST, "/t/acme/modules", &admin).json(&json!({ "name": "hello" })).send().await.unwrap(),
        409,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("migration 3"), "{p}");
    json_of(
        as_key(&s, Method::POST, "/t/acme/modules", &admin)
            .json(&json!({ "name": "hello", "version": "~1.1" }))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let list = json_of(as_key(&s, Method::GET, "/t/acme/hello/greetings", &member).send().await.unwrap(), 200).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "purged data does not come back: {list}");

    assert_eq!(
        audit_actions(&s, "acme").await,
        [
            "module.enable",
            "module.setting.set",
            "module.secret.set",
            "module.upgrade",
            "module.rollback",
            "module.upgrade",
            "module.disable",
            "module.enable",
            "module.purge",
            "module.enable"
        ]
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_packages_and_unsafe_lifecycle_steps_are_refused() {
    let key = PublisherKey::generate().unwrap();
    let stranger = PublisherKey::generate().unwrap();
    let s = server(&key).await;
    let wasm = hello("1.0.0");

    // Unsigned, signed by an untrusted key, tampered with.
    let p = assert_problem(publish(&s, wasm.clone(), None).await, 403).await;
    assert!(p["detail"].as_str().unwrap().contains("not signed"), "{p}");
    let p = assert_problem(publish(&s, wasm.clone(), Some(stranger.sign(&wasm).to_json())).await, 403).await;
    assert!(p["detail"].as_str().unwrap().contains("does not trust"), "{p}");
    let mut tampered = wasm.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let p = assert_problem(publish(&s, tampered, Some(key.sign(&wasm).to_json())).await, 422).await;
    assert!(p["detail"].as_str().unwrap().contains("another component"), "{p}");
    assert_problem(publish(&s, b"not wasm".to_vec(), Some(key.sign(b"not wasm").to_json())).await, 422).await;
    let (_, catalogue) = s.get_json("/api/v1/registry/modules").await;
    assert_eq!(catalogue, json!([]), "nothing refused was stored");

    // A version is never overwritten, not even by other bytes of the same manifest.
    publish_signed(&s, &key, wasm.clone()).await;
    let other = with_custom_section(wasm.clone());
    let p = assert_problem(publish(&s, other.clone(), Some(key.sign(&other).to_json())).await, 409).await;
    assert!(p["detail"].as_str().unwrap().contains("never overwritten"), "{p}");
    // Only the operator publishes.
    s.create_tenant("acme").await;
    let admin = s.api_key("acme", &["admin"]).await;
    let form = reqwest::multipart::Form::new().part("package", reqwest::multipart::Part::bytes(wasm.clone()));
    let resp = as_key(&s, Method::POST, "/api/v1/registry/modules", &admin).multipart(form).send().await.unwrap();
    assert_problem(resp, 403).await;

    // A dependency cycle.
    publish_signed(&s, &key, package("ping-1.0.0")).await;
    publish_signed(&s, &key, package("pong-1.0.0")).await;
    let p = assert_problem(
        as_key(&s, Method::POST, "/t/acme/modules", &admin).json(&json!({ "name": "ping" })).send().await.unwrap(),
        409,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("cycle"), "{p}");
    assert_eq!(json_of(as_key(&s, Method::GET, "/t/acme/modules", &admin).send().await.unwrap(), 200).await, json!([]));

    // Dependencies are enabled with their dependent; what is needed cannot be disabled or purged.
    publish_signed(&s, &key, package("greetbook-1.0.0")).await;
    let change = json_of(
        as_key(&s, Method::POST, "/t/acme/modules", &admin).json(&json!({ "name": "greetbook" })).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(change["also_enabled"][0]["module"], "hello", "{change}");
    json_of(s.anon(Method::GET, "/t/acme/greetbook/ping").send().await.unwrap(), 200).await;
    let p = assert_problem(
        as_key(&s, Method::POST, "/t/acme/modules/hello/purge", &admin)
            .json(&json!({ "confirm": "hello" }))
            .send()
            .await
            .unwrap(),
        409,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("greetbook"), "{p}");
    assert_problem(as_key(&s, Method::POST, "/t/acme/modules/hello/disable", &admin).send().await.unwrap(), 409).await;
    json_of(s.anon(Method::GET, "/t/acme/hello/version").send().await.unwrap(), 200).await;
    json_of(as_key(&s, Method::POST, "/t/acme/modules/greetbook/disable", &admin).send().await.unwrap(), 200).await;
    let resp = as_key(&s, Method::POST, "/t/acme/modules/hello/purge", &admin)
        .json(&json!({ "confirm": "hello" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204, "purge allowed once nothing enabled needs it");

    // A yanked version is not chosen for new installs.
    let yanked = json_of(
        s.req(Method::PUT, "/api/v1/registry/modules/hello/versions/1.0.0/yank")
            .json(&json!({ "yanked": true }))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(yanked["yanked"], true);
    s.create_tenant("globex").await;
    let globex = s.api_key("globex", &["admin"]).await;
    assert_problem(
        as_key(&s, Method::POST, "/t/globex/modules", &globex).json(&json!({ "name": "hello" })).send().await.unwrap(),
        404,
    )
    .await;
    // Bad ranges are 422, unknown modules 404; no rollback without an upgrade.
    assert_problem(
        as_key(&s, Method::POST, "/t/globex/modules", &globex)
            .json(&json!({ "name": "greetbook", "version": "not a range" }))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_problem(
        as_key(&s, Method::POST, "/t/globex/modules", &globex).json(&json!({ "name": "nope" })).send().await.unwrap(),
        404,
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_host_process_follows_changes_and_upgrades_fail_no_request() {
    let key = PublisherKey::generate().unwrap();
    let s = server(&key).await;
    let b = SecondHost::start(&s, &key.public_text()).await;
    // Published while both run: each process compiles the versions ahead of need.
    publish_signed(&s, &key, hello("1.0.0")).await;
    publish_signed(&s, &key, hello("1.1.0")).await;
    s.create_tenant("acme").await;
    let admin = s.api_key("acme", &["admin"]).await;
    // PostgreSQL notifies at once; SQLite processes rely on the one-second re-check.
    let postgres = s.app.config.effective_database_url().starts_with("postgres");
    let limit = if postgres { Duration::from_secs(1) } else { Duration::from_millis(2500) };
    let on_b = format!("{}/t/acme/hello/version", b.base);
    seen_within(&on_b, limit, |status, _| status == 404).await;

    // Enable on A: B serves it.
    json_of(
        as_key(&s, Method::POST, "/t/acme/modules", &admin)
            .json(&json!({ "name": "hello", "version": "=1.0.0" }))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let took = seen_within(&on_b, limit, |status, v| status == 200 && v["version"] == "1.0.0").await;
    eprintln!("enable seen by the second process after {took:?}");

    // Upgrade on A under load on both processes: no request fails.
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for (i, base) in [s.base.clone(), b.base.clone(), s.base.clone(), b.base.clone()].into_iter().enumerate() {
        let (stop, failures, served) = (Arc::clone(&stop), Arc::clone(&failures), Arc::clone(&served));
        load.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let path = if i % 2 == 0 { "/t/acme/hello/version" } else { "/t/acme/hello/" };
            while !stop.load(Ordering::Relaxed) {
                match client.get(format!("{base}{path}")).send().await {
                    Ok(r) if r.status() == 200 => served.fetch_add(1, Ordering::Relaxed),
                    Ok(r) => {
                        eprintln!("failed during upgrade: {} {}", r.status(), r.text().await.unwrap_or_default());
                        failures.fetch_add(1, Ordering::Relaxed)
                    }
                    Err(e) => {
                        eprintln!("failed during upgrade: {e}");
                        failures.fetch_add(1, Ordering::Relaxed)
                    }
                };
                // A steady load, not a saturating one: the 1 s bound is about
                // notifications, not about queueing on a 2-core machine.
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    json_of(
        as_key(&s, Method::POST, "/t/acme/modules/hello/upgrade", &admin).json(&json!({})).send().await.unwrap(),
        200,
    )
    .await;
    let took = seen_within(&on_b, limit, |status, v| status == 200 && v["version"] == "1.1.0").await;
    eprintln!("upgrade seen by the second process after {took:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    assert!(served.load(Ordering::Relaxed) > 20, "the load ran");
    assert_eq!(failures.load(Ordering::Relaxed), 0, "no request failed during the upgrade");

    // Disable on A: B stops serving it.
    json_of(as_key(&s, Method::POST, "/t/acme/modules/hello/disable", &admin).send().await.unwrap(), 200).await;
    let took = seen_within(&on_b, limit, |status, _| status == 404).await;
    eprintln!("disable seen by the second process after {took:?}");
    drop(b);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_placed_on_a_second_postgres_database_works_end_to_end() {
    let Ok(admin_url) = std::env::var("PLAZA_TEST_DATABASE_URL") else {
        eprintln!("SKIPPED: placement needs PostgreSQL (PLAZA_TEST_DATABASE_URL)");
        return;
    };
    use sqlx::Connection;
    let second = format!("plaza_second_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {second}"))).execute(&mut conn).await.unwrap();
    let mut second_url = url::Url::parse(&admin_url).unwrap();
    second_url.set_path(&second);
    let second_url = second_url.to_string();

    let key = PublisherKey::generate().unwrap();
    let trusted = key.public_text();
    let databases = format!("eu2={second_url}");
    let s = TestServer::start_with(move |c| {
        c.trusted_publishers = trusted;
        c.databases = databases;
    })
    .await;
    publish_signed(&s, &key, hello("1.0.0")).await;
    let resp = s
        .req(Method::POST, "/api/v1/tenants")
        .json(&json!({ "id": "nowhere", "name": "Nowhere", "database": "moon" }))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 422).await;
    let created = json_of(
        s.req(Method::POST, "/api/v1/tenants")
            .json(&json!({ "id": "acme", "name": "Acme", "database": "eu2" }))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    assert_eq!(created["db_location"], "eu2");
    s.create_tenant("globex").await;
    for tenant in ["acme", "globex"] {
        let admin = s.api_key(tenant, &["admin"]).await;
        let member = s.api_key(tenant, &["member"]).await;
        json_of(
            as_key(&s, Method::POST, &format!("/t/{tenant}/modules"), &admin)
                .json(&json!({ "name": "hello" }))
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        json_of(
            as_key(&s, Method::POST, &format!("/t/{tenant}/hello/greetings"), &member)
                .json(&json!({ "name": format!("someone of {tenant}") }))
                .send()
                .await
                .unwrap(),
            201,
        )
        .await;
        let list = json_of(
            as_key(&s, Method::GET, &format!("/t/{tenant}/hello/greetings"), &member).send().await.unwrap(),
            200,
        )
        .await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        assert_eq!(list["items"][0]["name"], format!("someone of {tenant}"));
    }
    // acme's schema is on the second database, globex's on the main one.
    let count = |url: String, tenant: &'static str| async move {
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE $1")
            .bind(format!("m_{tenant}_hello_%"))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        n.0
    };
    let main_url = s.app.config.effective_database_url();
    assert_eq!(count(second_url.clone(), "acme").await, 1);
    assert_eq!(count(main_url.clone(), "acme").await, 0);
    assert_eq!(count(main_url, "globex").await, 1);
    assert_eq!(count(second_url, "globex").await, 0);
    // Purge works there too.
    let admin = s.api_key("acme", &["admin"]).await;
    let resp = as_key(&s, Method::POST, "/t/acme/modules/hello/purge", &admin)
        .json(&json!({ "confirm": "hello" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    s.stop().await;
}
