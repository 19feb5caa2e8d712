//! Modules end to end, over HTTP, with the real components of `plugins/`:
//! `hello` using every capability, tenants isolated from each other, and
//! the `hostile` module contained in every way it misbehaves. Runs on
//! SQLite and on PostgreSQL (`cargo xtask test`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{TestServer, assert_problem, modules_dir, sha256_hex};
use reqwest::Method;
use serde_json::{Value, json};

async fn server(allow_private: bool) -> TestServer {
    TestServer::start_with(|c| {
        c.modules_dir = modules_dir().display().to_string();
        c.module_deadline_ms = 1_500;
        c.module_memory_bytes = 48 << 20;
        c.module_response_bytes = 1 << 20;
        c.module_sql_statements = 500;
        c.module_allow_private_hosts = allow_private;
    })
    .await
}

fn with_key(s: &TestServer, method: Method, path: &str, key: &str) -> reqwest::RequestBuilder {
    s.anon(method, path).header("x-api-key", key)
}

/// A tiny HTTP server on 127.0.0.1 for the `http` capability to reach.
async fn echo_server() -> u16 {
    use poem::{Route, get, handler};
    #[handler]
    fn hi() -> &'static str {
        "hello from outside"
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let app = Route::new().at("/hi", get(hi));
    tokio::spawn(poem::Server::new(poem::listener::TcpListener::bind(format!("127.0.0.1:{port}"))).run(app));
    tokio::time::sleep(Duration::from_millis(100)).await;
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_uses_every_capability_end_to_end() {
    let s = server(true).await;
    s.tenant_with("acme", &["hello"]).await;
    let db = &s.app.db;
    plaza::modules::settings::set(db, "acme", "hello", "greeting", "\"Hola\"", false).await.unwrap();
    plaza::modules::settings::set(db, "acme", "hello", "api-token", "s3cret-value", true).await.unwrap();
    let member = s.api_key("acme", &["member"]).await;
    let admin = s.api_key("acme", &["admin"]).await;

    // A public route, anonymous and identified.
    let r = s.anon(Method::GET, "/t/acme/hello/").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["module"], "hello");
    assert_eq!(body["tenant"], "acme");
    assert_eq!(body["user"], Value::Null);
    let body: Value = with_key(&s, Method::GET, "/t/acme/hello/", &member).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["roles"], json!(["member"]));
    assert!(body["user"].as_str().unwrap().starts_with("api-key:"), "{body}");

    // Roles: no credentials 401, a role too weak 403.
    assert_problem(s.anon(Method::GET, "/t/acme/hello/greetings").send().await.unwrap(), 401).await;
    assert_problem(with_key(&s, Method::GET, "/t/acme/hello/config", &member).send().await.unwrap(), 403).await;

    // sql + events + kv + config: a greeting in one transaction with its event.
    let r = with_key(&s, Method::POST, "/t/acme/hello/greetings", &member)
        .json(&json!({ "name": "Ana" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["message"], "Hola, Ana!");
    let id = created["id"].as_i64().unwrap();
    let event_id = created["event_id"].as_str().unwrap().to_owned();
    let (event_type, tenant): (String, String) =
        sqlx::query_as("SELECT event_type, tenant_id FROM event_outbox WHERE id = $1")
            .bind(&event_id)
            .fetch_one(db.pool())
            .await
            .expect("the event reached the host's outbox");
    assert_eq!((event_type.as_str(), tenant.as_str()), ("hello.greeted", "acme"));
    let bad = with_key(&s, Method::POST, "/t/acme/hello/greetings", &member).json(&json!({ "name": "  " })).send();
    assert_problem(bad.await.unwrap(), 422).await;
    let list: Value =
        with_key(&s, Method::GET, "/t/acme/hello/greetings", &member).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["name"], "Ana");
    let one = with_key(&s, Method::GET, &format!("/t/acme/hello/greetings/{id}"), &member).send().await.unwrap();
    assert_eq!(one.status(), 200);
    assert_problem(with_key(&s, Method::GET, "/t/acme/hello/greetings/999", &member).send().await.unwrap(), 404).await;
    let stats: Value =
        with_key(&s, Method::GET, "/t/acme/hello/stats", &member).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["greeted_count"], 1);

    // kv
    let put = with_key(&s, Method::PUT, "/t/acme/hello/kv/colour", &member).body("blue").send().await.unwrap();
    assert_eq!(put.status(), 204);
    let got = with_key(&s, Method::GET, "/t/acme/hello/kv/colour", &member).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"blue");
    let keys: Value =
        with_key(&s, Method::GET, "/t/acme/hello/kv?prefix=col", &member).send().await.unwrap().json().await.unwrap();
    assert_eq!(keys["keys"], json!(["colour"]));
    assert_eq!(with_key(&s, Method::DELETE, "/t/acme/hello/kv/colour", &member).send().await.unwrap().status(), 204);
    assert_problem(with_key(&s, Method::GET, "/t/acme/hello/kv/colour", &member).send().await.unwrap(), 404).await;

    // blob, with its content type kept
    let png = common::bytes(70_000, 7);
    let put = with_key(&s, Method::PUT, "/t/acme/hello/blobs/logo.png", &member)
        .header("content-type", "image/png")
        .body(png.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    let got = with_key(&s, Method::GET, "/t/acme/hello/blobs/logo.png", &member).send().await.unwrap();
    assert_eq!(got.headers()["content-type"], "image/png");
    assert_eq!(sha256_hex(&got.bytes().await.unwrap()), sha256_hex(&png));
    assert_eq!(s.object_count("tenants/acme/modules/hello").await, 1, "stored under the module's prefix");
    let listed: Value =
        with_key(&s, Method::GET, "/t/acme/hello/blobs", &member).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["objects"][0]["size"], 70_000);

    // http, to an allowed host (private addresses allowed on this server)
    let port = echo_server().await;
    let fetched: Value = with_key(&s, Method::POST, "/t/acme/hello/fetch", &member)
        .json(&json!({ "url": format!("http://localhost:{port}/hi") }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["status"], 200, "{fetched}");
    assert_eq!(fetched["body"], "hello from outside");
    let refused = with_key(&s, Method::POST, "/t/acme/hello/fetch", &member)
        .json(&json!({ "url": "https://example.com/" }))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(refused, 403).await;
    assert!(problem["detail"].as_str().unwrap().contains("allowed hosts"), "{problem}");

    // config: the setting, and the secret only as a hash
    let r = with_key(&s, Method::GET, "/t/acme/hello/config", &admin).send().await.unwrap();
    let text = r.text().await.unwrap();
    assert!(!text.contains("s3cret-value"), "the secret never leaves: {text}");
    let cfg: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(cfg["secret_sha256"], sha256_hex(b"s3cret-value"));

    // crypto: a signature by the tenant's key, verified; the same key next time
    let signed: Value = with_key(&s, Method::POST, "/t/acme/hello/sign", &member)
        .body("contract")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(signed["verified"], true, "{signed}");
    assert_eq!(signed["sha256"], sha256_hex(b"contract"));
    let again: Value =
        with_key(&s, Method::POST, "/t/acme/hello/sign", &member).body("x").send().await.unwrap().json().await.unwrap();
    assert_eq!(again["public_key"], signed["public_key"]);
    let public = base64::engine::general_purpose::STANDARD.decode(signed["public_key"].as_str().unwrap()).unwrap();
    assert_eq!(public.len(), 32);

    // Its log lines reached the host's logs (counted per level).
    assert!(s.metric("plaza_module_log_lines_total", &[("module", "hello"), ("level", "info")]).await >= 1.0);
    // Every call was counted for the module.
    assert!(s.metric("plaza_module_calls_total", &[("module", "hello"), ("outcome", "ok")]).await >= 15.0);
    // Unknown routes and methods of a module are problems too.
    assert_problem(s.anon(Method::GET, "/t/acme/hello/nope").send().await.unwrap(), 404).await;
    let r = s.anon(Method::DELETE, "/t/acme/hello/").send().await.unwrap();
    assert_eq!(r.headers()["allow"], "GET");
    assert_problem(r, 405).await;
    assert_problem(s.anon(Method::GET, "/t/acme/blog/posts").send().await.unwrap(), 404).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_cannot_see_each_others_rows_keys_or_blobs() {
    let s = server(false).await;
    s.tenant_with("acme", &["hello"]).await;
    s.tenant_with("globex", &["hello"]).await;
    let acme = s.api_key("acme", &["member"]).await;
    let globex = s.api_key("globex", &["member"]).await;

    let r = with_key(&s, Method::POST, "/t/acme/hello/greetings", &acme).json(&json!({ "name": "Ana" })).send();
    let id = r.await.unwrap().json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    with_key(&s, Method::PUT, "/t/acme/hello/kv/secret", &acme).body("acme-only").send().await.unwrap();
    with_key(&s, Method::PUT, "/t/acme/hello/blobs/plan.txt", &acme)
        .header("content-type", "text/plain")
        .body("acme plan")
        .send()
        .await
        .unwrap();

    // globex's hello sees none of it.
    let list: Value =
        with_key(&s, Method::GET, "/t/globex/hello/greetings", &globex).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"], json!([]));
    for path in [
        format!("/t/globex/hello/greetings/{id}"),
        "/t/globex/hello/kv/secret".into(),
        "/t/globex/hello/blobs/plan.txt".into(),
    ] {
        assert_problem(with_key(&s, Method::GET, &path, &globex).send().await.unwrap(), 404).await;
    }
    let keys: Value =
        with_key(&s, Method::GET, "/t/globex/hello/kv", &globex).send().await.unwrap().json().await.unwrap();
    assert_eq!(keys["keys"], json!([]));
    let objects: Value =
        with_key(&s, Method::GET, "/t/globex/hello/blobs", &globex).send().await.unwrap().json().await.unwrap();
    assert_eq!(objects["objects"], json!([]));
    let stats: Value =
        with_key(&s, Method::GET, "/t/globex/hello/stats", &globex).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["greeted_count"], 0);

    // Writing the same names in globex leaves acme's values alone.
    with_key(&s, Method::PUT, "/t/globex/hello/kv/secret", &globex).body("globex").send().await.unwrap();
    with_key(&s, Method::PUT, "/t/globex/hello/blobs/plan.txt", &globex)
        .header("content-type", "text/plain")
        .body("globex plan")
        .send()
        .await
        .unwrap();
    let got = with_key(&s, Method::GET, "/t/acme/hello/kv/secret", &acme).send().await.unwrap();
    assert_eq!(got.text().await.unwrap(), "acme-only");
    let got = with_key(&s, Method::GET, "/t/acme/hello/blobs/plan.txt", &acme).send().await.unwrap();
    assert_eq!(got.text().await.unwrap(), "acme plan");

    // A key of one tenant opens nothing in the other.
    assert_problem(with_key(&s, Method::GET, "/t/globex/hello/greetings", &acme).send().await.unwrap(), 404).await;
    // Signing keys differ per tenant.
    let a: Value =
        with_key(&s, Method::POST, "/t/acme/hello/sign", &acme).body("x").send().await.unwrap().json().await.unwrap();
    let g: Value = with_key(&s, Method::POST, "/t/globex/hello/sign", &globex)
        .body("x")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(a["public_key"], g["public_key"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_version_compiles_once_and_its_sql_is_parsed_once() {
    let s = server(false).await;
    s.tenant_with("acme", &["hello"]).await;
    let key = s.api_key("acme", &["member"]).await;
    assert_eq!(s.metric("plaza_module_compiles_total", &[("module", "hello")]).await, 1.0);
    let call = || async { with_key(&s, Method::GET, "/t/acme/hello/greetings", &key).send().await.unwrap().status() };
    assert_eq!(call().await, 200);
    let parses = s.metric("plaza_module_sql_parses_total", &[("module", "hello")]).await;
    assert!(parses >= 1.0, "the first call parsed its SQL");
    for _ in 0..3 {
        assert_eq!(call().await, 200);
    }
    assert_eq!(s.metric("plaza_module_sql_parses_total", &[("module", "hello")]).await, parses, "no new parse");
    assert_eq!(s.metric("plaza_module_compiles_total", &[("module", "hello")]).await, 1.0, "no new compile");
    let bundled = std::fs::read_dir(modules_dir())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "wasm"))
        .count() as u64;
    assert_eq!(s.app.modules.runtime().cache().compiles(), bundled, "each bundled module, once");
    s.stop().await;
}

/// Runs `hostile` for tenant evil while globex's hello keeps answering.
async fn contained(s: &TestServer, method: Method, path: &str, body: Option<Value>) -> (reqwest::Response, Duration) {
    let globex = s.api_key("globex", &["member"]).await;
    let started = Instant::now();
    let mut req = s.anon(method, &format!("/t/evil/hostile{path}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let hostile = tokio::spawn(req.send());
    for _ in 0..5 {
        let r = with_key(s, Method::GET, "/t/globex/hello/greetings", &globex).send().await.unwrap();
        assert_eq!(r.status(), 200, "another tenant's call carries on during {path}");
    }
    let resp = hostile.await.unwrap().unwrap();
    (resp, started.elapsed())
}

async fn hostile_server() -> TestServer {
    let s = server(false).await;
    s.tenant_with("evil", &["hostile"]).await;
    s.tenant_with("globex", &["hello"]).await;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_ends_by_its_deadline_with_504() {
    let s = hostile_server().await;
    let (resp, elapsed) = contained(&s, Method::GET, "/loop", None).await;
    let p = assert_problem(resp, 504).await;
    assert!(p["detail"].as_str().unwrap().contains("hostile"), "{p}");
    assert!(elapsed >= Duration::from_millis(1_400) && elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert_eq!(s.metric("plaza_module_calls_total", &[("module", "hostile"), ("outcome", "deadline")]).await, 1.0);
    // The module still answers its next call.
    assert_eq!(s.anon(Method::GET, "/t/evil/hostile/ok").send().await.unwrap().status(), 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_growth_traps_at_its_cap() {
    let s = hostile_server().await;
    let (resp, _) = contained(&s, Method::GET, "/grow", None).await;
    let p = assert_problem(resp, 500).await;
    assert_eq!(p["type"], "urn:plaza:problem:module-memory-exceeded", "{p}");
    assert!(p["detail"].as_str().unwrap().contains("hostile"), "{p}");
    assert_eq!(s.metric("plaza_module_calls_total", &[("module", "hostile"), ("outcome", "memory")]).await, 1.0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_response_is_refused_and_a_panic_names_the_module() {
    let s = hostile_server().await;
    let (resp, _) = contained(&s, Method::GET, "/huge?mb=4", None).await;
    let p = assert_problem(resp, 502).await;
    assert_eq!(p["type"], "urn:plaza:problem:module-response-too-large", "{p}");
    let (resp, _) = contained(&s, Method::GET, "/panic", None).await;
    let p = assert_problem(resp, 500).await;
    assert_eq!(p["type"], "urn:plaza:problem:module-failed", "{p}");
    assert!(p["detail"].as_str().unwrap().contains("\"hostile\""), "{p}");
    assert_eq!(s.metric("plaza_module_calls_total", &[("module", "hostile"), ("outcome", "trap")]).await, 1.0);
    s.stop().await;
}

async fn sql_error(s: &TestServer, tenant: &str, statement: &str, query: bool) -> (u16, Value) {
    let r = s
        .anon(Method::POST, &format!("/t/{tenant}/hostile/sql"))
        .json(&json!({ "statement": statement, "query": query }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sql_escape_is_refused() {
    let s = hostile_server().await;
    s.tenant_with("acme", &["hostile"]).await;
    let ns = &s.app.modules.services().sql;
    let acme_schema = ns.pg_names("acme", "hostile").await.unwrap().schema;
    let (status, _) = sql_error(&s, "acme", "INSERT INTO notes (id, body) VALUES (1, 'acme private')", false).await;
    assert_eq!(status, 200);
    let escapes = [
        format!("SELECT * FROM {acme_schema}.notes"),
        "SELECT * FROM main.notes".to_owned(),
        "SELECT * FROM public.tenants".to_owned(),
        "SELECT * FROM notes WHERE id IN (SELECT id FROM other.notes)".to_owned(),
        "ATTACH DATABASE '/tmp/acme.db' AS acme".to_owned(),
        "PRAGMA writable_schema = 1".to_owned(),
        "SET ROLE postgres".to_owned(),
        "RESET ROLE".to_owned(),
        "SELECT set_config('role', 'postgres', true)".to_owned(),
        "SELECT pg_read_file('/etc/passwd')".to_owned(),
        "SELECT pg_catalog.pg_read_file('/etc/passwd')".to_owned(),
        "COPY notes TO PROGRAM 'id'".to_owned(),
        "COPY notes FROM '/etc/passwd'".to_owned(),
        "SELECT * FROM pg_tables".to_owned(),
        "SELECT * FROM information_schema.tables".to_owned(),
        "SELECT * FROM sqlite_master".to_owned(),
        "SELECT load_extension('/tmp/x')".to_owned(),
        "DELETE FROM _plaza_outbox".to_owned(),
        "GRANT ALL ON notes TO PUBLIC".to_owned(),
        "BEGIN".to_owned(),
    ];
    for statement in &escapes {
        let (status, body) = sql_error(&s, "evil", statement, true).await;
        assert_eq!((status, body["error"].as_str()), (403, Some("refused")), "{statement}: {body}");
    }
    // The statement kinds sqlparser cannot even parse are refused as invalid.
    for statement in ["DETACH acme", "DO $$ BEGIN PERFORM 1; END $$"] {
        let (status, body) = sql_error(&s, "evil", statement, false).await;
        assert!(status == 400 || status == 403, "{statement}: {status} {body}");
    }
    assert!(
        s.metric("plaza_module_capability_refusals_total", &[("module", "hostile"), ("capability", "sql")]).await
            >= 20.0
    );
    // acme's row is untouched, and evil has its own empty table.
    let (_, rows) = sql_error(&s, "acme", "SELECT body FROM notes", true).await;
    assert_eq!(rows["rows"].as_array().map(Vec::len), Some(1), "{rows}");
    let (_, rows) = sql_error(&s, "evil", "SELECT body FROM notes", true).await;
    assert_eq!(rows["rows"].as_array().map(Vec::len), Some(0), "{rows}");
    // Budgets: statements per call.
    let r = s.anon(Method::GET, "/t/evil/hostile/many-statements?n=600").send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "limit-exceeded");
    s.stop().await;
}

/// A module transaction that fails or is dropped while it begins leaves no
/// connection behind in a transaction: not in the tenant's role for the
/// host's next work, not aborted for the next call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_transaction_cut_off_while_it_begins_leaves_no_connection_behind() {
    use futures_util::FutureExt;
    use sqlx::Executor;
    // 4 connections, of which the host's change listener holds one.
    let s = TestServer::start_with(|c| {
        c.modules_dir = modules_dir().display().to_string();
        c.db_max_connections = 4;
    })
    .await;
    s.tenant_with("acme", &["hello"]).await;
    let ns = &s.app.modules.services().sql;
    let Some(place) = ns.pg_place("acme", "hello").await.unwrap() else {
        eprintln!("SKIPPED: module transactions' begin is PostgreSQL's (PLAZA_TEST_DATABASE_URL)");
        return s.stop().await;
    };
    let timeout = Duration::from_secs(30);
    // A namespace that is not there (dropped under a call): its role cannot
    // be entered, after the `BEGIN` went through.
    let gone = ns.pg_place("acme", "not-enabled").await.unwrap().unwrap();
    for _ in 0..3 {
        let err = ns.pg_begin(&gone.pool, &gone.names, timeout).await.unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }
    // Every usable connection of the pool at once: each begins cleanly.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut tx = ns.pg_begin(&place.pool, &place.names, timeout).await.expect("no connection left aborted");
        tx.execute("SELECT 1").await.unwrap();
        held.push(tx);
    }
    drop(held);
    // Begins dropped after their first step (a call's deadline, a client
    // gone). A begin is a round trip, so one poll leaves it in flight, unless
    // this thread was descheduled long enough for the spawned begin to
    // finish (a loaded CI machine): such a begin is dropped whole and
    // another one tried.
    let mut cut_off = 0;
    for _ in 0..50 {
        if ns.pg_begin(&place.pool, &place.names, timeout).now_or_never().is_none() {
            cut_off += 1;
            if cut_off == 3 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(cut_off, 3, "no begin was cut off in flight");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The host's next work, on every connection at once, runs as the host.
    let mut host = Vec::new();
    for _ in 0..3 {
        let mut tx = place.pool.begin().await.unwrap();
        let (user, session): (String, String) =
            sqlx::query_as("SELECT current_user::text, session_user::text").fetch_one(&mut *tx).await.unwrap();
        assert_eq!(user, session, "host work in a module's role");
        host.push(tx);
    }
    drop(host);
    s.stop().await;
}

/// Below the vetter, the database itself keeps a pair in its namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_refuses_escapes_the_vetter_would_miss() {
    use sqlx::{Connection, Executor};
    let s = hostile_server().await;
    s.tenant_with("acme", &["hostile"]).await;
    let ns = &s.app.modules.services().sql;
    let deadline = Instant::now() + Duration::from_secs(30);
    if let Some(mut conn) = ns.sqlite_conn("evil", "hostile", deadline).await.unwrap() {
        let attach = format!("ATTACH DATABASE '{}' AS other", s.dir.path().join("modules/acme/hostile.db").display());
        let err = conn.db().unwrap().execute_batch(&attach).unwrap_err();
        assert!(err.to_string().contains("too many attached databases"), "{err}");
    } else {
        let pool = ns.pg().unwrap();
        let acme = ns.pg_names("acme", "hostile").await.unwrap();
        let evil = ns.pg_names("evil", "hostile").await.unwrap();
        for escape in [
            format!("SELECT * FROM {}.notes", acme.schema),
            "SELECT * FROM public.tenants".to_owned(),
            "SELECT pg_read_file('/etc/hostname')".to_owned(),
            // (`SET ROLE` is checked against the session's user, which may
            // assume every module role: only the vetter stops it, and does.)
        ] {
            let mut conn = pool.acquire().await.unwrap();
            let mut tx = conn.begin().await.unwrap();
            plaza::capabilities::sql::namespace::enter(&mut tx, &evil, Duration::from_secs(5)).await.unwrap();
            let err = tx.execute(sqlx::AssertSqlSafe(escape.clone())).await.unwrap_err();
            let denied = err.to_string().contains("permission denied");
            assert!(denied, "{escape}: {err}");
        }
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_requests_off_the_list_or_to_internal_addresses_are_refused() {
    let s = hostile_server().await;
    let port = echo_server().await;
    for (url, why) in [
        ("https://example.com/".to_owned(), "allowed hosts"),
        (format!("https://127.0.0.1:{port}/hi"), "internal address"),
        (format!("https://localhost:{port}/hi"), "internal address"),
        (format!("http://127.0.0.1:{port}/hi"), "https"),
        ("file:///etc/passwd".to_owned(), "scheme"),
    ] {
        let (resp, _) = contained(&s, Method::POST, "/fetch", Some(json!({ "url": url }))).await;
        assert_eq!(resp.status(), 403, "{url}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "refused", "{url}: {body}");
        assert!(body["detail"].as_str().unwrap().contains(why), "{url}: {body}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_capability_is_refused() {
    let s = hostile_server().await;
    let (resp, _) = contained(&s, Method::GET, "/undeclared", None).await;
    assert_eq!(resp.status(), 500);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "undeclared-capability", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("kv"), "{body}");
    assert_eq!(
        s.metric("plaza_module_capability_refusals_total", &[("module", "hostile"), ("capability", "kv")]).await,
        1.0
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_modules_stop_answering_and_keep_their_data() {
    let s = server(false).await;
    s.tenant_with("acme", &["hello"]).await;
    let key = s.api_key("acme", &["member"]).await;
    with_key(&s, Method::POST, "/t/acme/hello/greetings", &key).json(&json!({ "name": "Ana" })).send().await.unwrap();
    let actor = plaza::audit::Actor::new("test");
    s.app.modules.disable("acme", "hello", &actor).await.unwrap();
    assert_problem(with_key(&s, Method::GET, "/t/acme/hello/greetings", &key).send().await.unwrap(), 404).await;
    s.app.modules.enable("acme", "hello", None, &actor).await.unwrap();
    let list: Value =
        with_key(&s, Method::GET, "/t/acme/hello/greetings", &key).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "data kept across disable and enable");
    let actions: Vec<(String,)> =
        sqlx::query_as("SELECT action FROM audit_log WHERE tenant_id = $1 AND action LIKE 'module.%' ORDER BY id")
            .bind("acme")
            .fetch_all(s.app.db.pool())
            .await
            .unwrap();
    let actions: Vec<&str> = actions.iter().map(|(a,)| a.as_str()).collect();
    assert_eq!(actions, ["module.enable", "module.disable", "module.enable"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_left_open_is_rolled_back_at_the_end_of_the_call() {
    let s = hostile_server().await;
    let r = s.anon(Method::POST, "/t/evil/hostile/open-transaction").send().await.unwrap();
    assert_eq!(r.status(), 200, "the insert itself succeeded inside the transaction");
    let (_, rows) = sql_error(&s, "evil", "SELECT body FROM notes", true).await;
    assert_eq!(rows["rows"], json!([]), "nothing of the open transaction remains");
    // The namespace is usable afterwards (no lock or transaction left behind).
    let (status, _) = sql_error(&s, "evil", "INSERT INTO notes (id, body) VALUES (1, 'after')", false).await;
    assert_eq!(status, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_tenant_drops_its_module_namespaces() {
    let s = server(false).await;
    s.tenant_with("acme", &["hello"]).await;
    s.tenant_with("globex", &["hello"]).await;
    let ns = &s.app.modules.services().sql;
    let r = s.req(Method::DELETE, "/api/v1/tenants/acme").send().await.unwrap();
    assert_eq!(r.status(), 204);
    if ns.pg().is_some() {
        let pool = ns.pg().unwrap();
        let mut conn = pool.acquire().await.unwrap();
        let schemas: Vec<(String,)> =
            sqlx::query_as("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'm\\_%'")
                .fetch_all(&mut *conn)
                .await
                .unwrap();
        let names: Vec<&str> = schemas.iter().map(|(n,)| n.as_str()).collect();
        assert!(names.iter().all(|n| !n.starts_with("m_acme_")), "{names:?}");
        assert!(names.iter().any(|n| n.starts_with("m_globex_")), "{names:?}");
    } else {
        assert!(!s.dir.path().join("modules/acme/hello.db").exists());
        assert!(s.dir.path().join("modules/globex/hello.db").exists());
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_openapi_document_has_the_routes_of_its_modules() {
    let s = server(false).await;
    s.tenant_with("acme", &["hello"]).await;
    s.create_tenant("globex").await;
    let (status, acme) = s.get_json("/t/acme/openapi.json").await;
    assert_eq!(status, 200);
    let parsed: openapiv3::OpenAPI = serde_json::from_value(acme.clone()).expect("valid OpenAPI 3");
    assert!(parsed.paths.paths.contains_key("/t/acme/files"), "the host's tenant API is there");
    assert!(!parsed.paths.paths.keys().any(|p| p.contains("{tenant}")), "the tenant is fixed in every path");
    let post = &acme["paths"]["/t/acme/hello/greetings"]["post"];
    assert_eq!(post["tags"], json!(["hello"]));
    assert!(post["operationId"].as_str().unwrap().starts_with("hello_"), "{post}");
    let body_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str().unwrap();
    let name = body_ref.strip_prefix("#/components/schemas/").unwrap();
    assert!(name.starts_with("hello."), "request types are components of the module: {name}");
    assert!(acme["components"]["schemas"][name]["properties"]["name"].is_object(), "{post}");
    assert!(post["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].is_string(), "{post}");
    // Raw-body routes take bytes; a route without a response schema may answer 204.
    let put_kv = &acme["paths"]["/t/acme/hello/kv/{key}"]["put"];
    assert!(put_kv["requestBody"]["content"]["application/octet-stream"].is_object(), "{put_kv}");
    assert!(put_kv["responses"]["204"].is_object(), "{put_kv}");
    assert_eq!(post["security"], json!([{ "bearerAuth": [] }, { "apiKey": [] }]));
    assert_eq!(acme["paths"]["/t/acme/hello/"]["get"]["security"], json!([]), "public routes need no auth");
    let get_one = &acme["paths"]["/t/acme/hello/greetings/{id}"]["get"];
    assert_eq!(get_one["parameters"][0]["name"], "id");
    let text = acme.to_string();
    assert!(!text.contains("\"$defs\"") && !text.contains("\"$schema\""), "JSON Schema keywords 3.0 lacks are gone");

    let page = s.anon(Method::GET, "/t/acme/docs").send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    assert!(page.text().await.unwrap().contains("data-spec-url=\"/t/acme/openapi.json\""));
    assert_problem(s.anon(Method::GET, "/t/nope/docs").send().await.unwrap(), 404).await;

    let (_, globex) = s.get_json("/t/globex/openapi.json").await;
    assert!(!globex["paths"].as_object().unwrap().keys().any(|p| p.contains("/hello")), "globex has no hello");
    // Anonymous callers see the public operations only (Swagger UI shows
    // them and its Authorize button); a tenant that does not exist is 404.
    let anonymous: Value = s.anon(Method::GET, "/t/acme/openapi.json").send().await.unwrap().json().await.unwrap();
    let paths = anonymous["paths"].as_object().unwrap();
    assert!(paths.contains_key("/t/acme/hello/") && paths.contains_key("/t/acme/hello/version"), "{paths:?}");
    assert!(!paths.contains_key("/t/acme/hello/greetings") && !paths.contains_key("/t/acme/files"), "{paths:?}");
    assert!(anonymous["components"]["securitySchemes"]["bearerAuth"].is_object(), "Authorize is offered");
    assert_problem(s.anon(Method::GET, "/t/nope/openapi.json").send().await.unwrap(), 404).await;
    let globex_key = s.api_key("globex", &["member"]).await;
    assert_problem(with_key(&s, Method::GET, "/t/acme/openapi.json", &globex_key).send().await.unwrap(), 404).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_tenant_serves_no_module_route() {
    let s = server(false).await;
    s.tenant_with("acme", &["hello"]).await;
    let key = s.api_key("acme", &["member"]).await;
    assert_eq!(with_key(&s, Method::GET, "/t/acme/hello/greetings", &key).send().await.unwrap().status(), 200);
    let r = s.req(Method::POST, "/api/v1/tenants/acme/suspend").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_problem(s.anon(Method::GET, "/t/acme/hello/").send().await.unwrap(), 403).await;
    assert_problem(with_key(&s, Method::GET, "/t/acme/hello/greetings", &key).send().await.unwrap(), 403).await;
    // Resumed: at once, too (the process that made the change re-reads it).
    let r = s.req(Method::POST, "/api/v1/tenants/acme/resume").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(with_key(&s, Method::GET, "/t/acme/hello/greetings", &key).send().await.unwrap().status(), 200);
    s.stop().await;
}

/// Polls `path` until it answers `status`, for at most five seconds.
async fn eventually(s: &TestServer, path: &str, status: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if s.anon(Method::GET, path).send().await.unwrap().status().as_u16() == status {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_changed_by_another_process_is_seen_within_seconds() {
    // Requests read a tenant from memory. Another process (the CLI, another
    // replica) suspending or deleting it announces the change; this one must
    // stop serving it within its re-check, without being told directly.
    let s = server(false).await;
    s.tenant_with("acme", &["hello"]).await;
    s.tenant_with("globex", &["hello"]).await;
    for t in ["acme", "globex"] {
        assert_eq!(s.anon(Method::GET, &format!("/t/{t}/hello/version")).send().await.unwrap().status(), 200);
    }
    let actor = plaza::audit::Actor::new("another process");
    // The database changed behind this process's back, as the CLI does it.
    plaza::tenancy::set_status(&s.app.db, &actor, "acme", plaza::tenancy::TenantStatus::Suspended).await.unwrap();
    assert!(eventually(&s, "/t/acme/hello/version", 403).await, "a suspension elsewhere is seen");
    plaza::tenancy::set_status(&s.app.db, &actor, "acme", plaza::tenancy::TenantStatus::Active).await.unwrap();
    assert!(eventually(&s, "/t/acme/hello/version", 200).await, "a resumption elsewhere is seen");
    plaza::tenancy::delete(&s.app.db, &s.app.storage, &actor, "acme").await.unwrap();
    assert!(eventually(&s, "/t/acme/hello/version", 404).await, "a deletion elsewhere is seen");
    let gone = s.anon(Method::GET, "/t/acme/hello/version").send().await.unwrap();
    assert_problem(gone, 404).await;
    // The other tenant is untouched, and an unknown name is 404 every time
    // (and is not kept in memory: nothing to fill it with).
    assert_eq!(s.anon(Method::GET, "/t/globex/hello/version").send().await.unwrap().status(), 200);
    for n in 0..3 {
        assert_problem(s.anon(Method::GET, &format!("/t/nobody-{n}/hello/version")).send().await.unwrap(), 404).await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hex_integers_are_integers_and_json_routes_take_json_only() {
    let s = hostile_server().await;
    let r = s
        .anon(Method::POST, "/t/evil/hostile/sql")
        .json(&json!({ "statement": "SELECT 0x10 + 1 AS n", "query": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["rows"][0]["n"], 17, "{body}");
    // The route declares a JSON body: the same JSON as text/plain is refused.
    let r = s
        .anon(Method::POST, "/t/evil/hostile/sql")
        .header("content-type", "text/plain")
        .body(r#"{"statement": "INSERT INTO notes (id, body) VALUES (7, 'x')"}"#)
        .send()
        .await
        .unwrap();
    assert_problem(r, 415).await;
    let (status, rows) = sql_error(&s, "evil", "SELECT id FROM notes", true).await;
    assert_eq!((status, rows["rows"].as_array().map(Vec::len)), (200, Some(0)), "nothing ran: {rows}");
    s.stop().await;
}
