//! No tenant can hurt another: the `rogue` module attacks through the host
//! (its pages, SQL built-ins, CPU, storage) while a second tenant's calls
//! keep succeeding; writers that share a database wait instead of failing.
//! Runs on SQLite and on PostgreSQL (`cargo xtask test`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, assert_problem, modules_dir};
use reqwest::Method;
use serde_json::{Value, json};

async fn server(tweak: impl FnOnce(&mut plaza::Config)) -> TestServer {
    TestServer::start_with(|c| {
        c.modules_dir = modules_dir().display().to_string();
        tweak(c);
    })
    .await
}

fn on_postgres() -> bool {
    common::backends().0 == "postgres"
}

/// The tests of this file measure the process (its memory, its latency):
/// they run one at a time.
static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The resident memory of this process (the host runs in it), in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Samples [`rss`] every 10 ms until dropped; `peak()` is the highest seen.
struct RssPeak {
    peak: std::sync::Arc<std::sync::atomic::AtomicU64>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl RssPeak {
    fn start() -> Self {
        use std::sync::atomic::Ordering;
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(rss()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p, st) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                p.fetch_max(rss(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Self { peak, stop }
    }

    fn peak(&self) -> u64 {
        self.peak.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for RssPeak {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

const MIB: u64 = 1 << 20;

/// A key of `tenant` with the admin role, and a published post in its blog.
async fn blog_with_a_post(s: &TestServer, tenant: &str) -> String {
    s.tenant_with(tenant, &["blog"]).await;
    let key = s.api_key(tenant, &["admin"]).await;
    let r = s
        .anon(Method::POST, &format!("/t/{tenant}/blog/admin/posts"))
        .header("x-api-key", &key)
        .json(&json!({ "title": "Hola", "content_markdown": "Hola **mundo**" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = s
        .anon(Method::POST, &format!("/t/{tenant}/blog/admin/posts/{id}/publish"))
        .header("x-api-key", &key)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    key
}

/// `n` reads of `tenant`'s public blog, `parallel` at a time: the latency
/// of each, failing the test on any answer but 200.
async fn blog_reads(s: &TestServer, tenant: &str, n: usize, parallel: usize) -> Vec<Duration> {
    use futures_util::StreamExt;
    let url = s.url(&format!("/t/{tenant}/blog/posts"));
    futures_util::stream::iter(0..n)
        .map(|_| {
            let (client, url) = (s.client.clone(), url.clone());
            async move {
                let started = Instant::now();
                let r = client.get(&url).send().await.unwrap();
                let status = r.status();
                let body = r.text().await.unwrap();
                assert_eq!(status, 200, "{tenant}'s read failed: {body}");
                assert!(body.contains("Hola"), "{body}");
                started.elapsed()
            }
        })
        .buffer_unordered(parallel)
        .collect()
        .await
}

fn p99(mut latencies: Vec<Duration>) -> Duration {
    latencies.sort();
    let at = (latencies.len() * 99).div_ceil(100).saturating_sub(1);
    latencies[at.min(latencies.len() - 1)]
}

// ---------------------------------------------------------------------------
// Writers that share a database wait for each other.
// ---------------------------------------------------------------------------

/// What one writer did: the posts and files it was told were stored, and
/// every answer that was not a success.
#[derive(Default)]
struct Written {
    posts: Vec<String>,
    files: Vec<(String, Vec<u8>)>,
    failures: Vec<String>,
}

async fn write_for(client: reqwest::Client, base: String, key: String, writer: usize, until: Instant) -> Written {
    let mut out = Written::default();
    let mut i = 0usize;
    while Instant::now() < until {
        if i.is_multiple_of(2) {
            let title = format!("Writer {writer} post {i}");
            let resp = client
                .post(format!("{base}/t/acme/blog/admin/posts"))
                .header("x-api-key", &key)
                .json(&json!({ "title": title, "content_markdown": "Concurrent **writes**", "tags": ["load", format!("w{writer}")] }))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            match (status, body["id"].as_i64()) {
                (201, Some(id)) => out.posts.push(id.to_string()),
                _ => out.failures.push(format!("post {title}: {status} {body}")),
            }
        } else {
            let name = format!("w{writer}-{i}.txt");
            let content = common::bytes(2048 + i, (writer * 100_000 + i) as u64);
            let resp = client
                .put(format!("{base}/t/acme/files/{name}"))
                .header("x-api-key", &key)
                .header("content-type", "text/plain")
                .body(content.clone())
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            if status == 200 || status == 201 {
                out.files.push((name, content));
            } else {
                out.failures.push(format!("file {name}: {status} {}", resp.text().await.unwrap_or_default()));
            }
        }
        i += 1;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_writers_for_ten_seconds_fail_nothing_and_lose_nothing() {
    let _alone = ALONE.lock().await;
    let s = server(|_| {}).await;
    s.tenant_with("acme", &["blog"]).await;
    let key = s.api_key("acme", &["admin"]).await;
    let until = Instant::now() + Duration::from_secs(10);
    let writers: Vec<_> =
        (0..8).map(|w| tokio::spawn(write_for(s.client.clone(), s.base.clone(), key.clone(), w, until))).collect();
    let mut all = Written::default();
    for w in writers {
        let done = w.await.unwrap();
        all.posts.extend(done.posts);
        all.files.extend(done.files);
        all.failures.extend(done.failures);
    }
    assert!(all.failures.is_empty(), "{} writes failed, first: {:?}", all.failures.len(), all.failures.first());
    assert!(all.posts.len() >= 8 && all.files.len() >= 8, "{} posts, {} files", all.posts.len(), all.files.len());
    // Every acknowledged write is there, byte for byte (read back through
    // the listings: thousands of writes, a few dozen pages).
    let mut stored_posts = std::collections::HashSet::new();
    for page in 1.. {
        let r = s
            .anon(Method::GET, &format!("/t/acme/blog/admin/posts?per_page=100&page={page}"))
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        let items = body["items"].as_array().unwrap();
        stored_posts.extend(items.iter().map(|p| p["id"].to_string()));
        if items.len() < 100 {
            break;
        }
    }
    for id in &all.posts {
        assert!(stored_posts.contains(id), "post {id} was acknowledged but is missing");
    }
    let mut stored_files = std::collections::HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/t/acme/files?limit=1000".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let body: Value =
            s.anon(Method::GET, &path).header("x-api-key", &key).send().await.unwrap().json().await.unwrap();
        for f in body["items"].as_array().unwrap() {
            stored_files.insert(f["key"].as_str().unwrap().to_owned(), f["sha256"].as_str().unwrap().to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    for (name, content) in &all.files {
        assert_eq!(stored_files.get(name), Some(&common::sha256_hex(content)), "file {name} lost or changed");
    }
    // And one of each read back whole.
    let (name, content) = &all.files[all.files.len() / 2];
    let r = s.anon(Method::GET, &format!("/t/acme/files/{name}")).header("x-api-key", &key).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), content.as_slice());
    eprintln!("stored {} posts and {} files with 8 writers", all.posts.len(), all.files.len());
    s.stop().await;
}

// ---------------------------------------------------------------------------
// SQL built-ins: bounded like wasm work.
// ---------------------------------------------------------------------------

const ATTACKS: &[&str] = &["printf", "randomblob", "hex", "zeroblob", "group-concat", "count", "sort"];

/// Host memory may grow by this much while the SQL attacks run (the
/// stated bound of docs/operations.md; before the bounds it grew by 3.3 GB).
const SQL_ATTACK_RSS_BOUND: u64 = 256 * MIB;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sql_built_ins_end_by_the_deadline_with_host_memory_bounded() {
    let _alone = ALONE.lock().await;
    let deadline = Duration::from_millis(2_000);
    let s = server(|c| c.module_deadline_ms = deadline.as_millis() as u64).await;
    s.tenant_with("evil", &["rogue"]).await;
    blog_with_a_post(&s, "acme").await;
    let db = if on_postgres() { "postgres" } else { "sqlite" };
    // Twice each at once on SQLite (the memory is the host's); once each on
    // PostgreSQL, whose values of up to a gigabyte live in the server.
    let rounds = if on_postgres() { 1 } else { 2 };
    let before = rss();
    let peak = RssPeak::start();
    let mut attacks = Vec::new();
    for attack in ATTACKS.iter().cycle().take(ATTACKS.len() * rounds) {
        let req = s.anon(Method::GET, &format!("/t/evil/rogue/sql/{attack}?db={db}"));
        attacks.push((
            *attack,
            tokio::spawn(async move {
                let started = Instant::now();
                let r = req.send().await.unwrap();
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap_or(Value::Null), started.elapsed())
            }),
        ));
    }
    // Meanwhile another tenant's reads all succeed.
    let reads = blog_reads(&s, "acme", 20, 2).await;
    for (attack, task) in attacks {
        let (status, body, elapsed) = task.await.unwrap();
        assert!(elapsed < deadline + Duration::from_secs(3), "{attack} answered after {elapsed:?}");
        match status {
            // Refused for its size or work, or cut at the deadline: contained.
            400 | 429 | 504 => {}
            // Or it finished small: SQLite's printf gives NULL past the value
            // cap, and a count on PostgreSQL is quick.
            200 => assert!(body["size"].as_u64().unwrap() <= 8, "{attack} built {body}"),
            other => panic!("{attack}: {other} {body}"),
        }
    }
    let grew = peak.peak().saturating_sub(before);
    drop(peak);
    eprintln!("SQL attacks on {db}: host RSS grew by {} MiB; acme p99 {:?}", grew / MIB, p99(reads));
    assert!(grew < SQL_ATTACK_RSS_BOUND, "host memory grew by {} MiB", grew / MIB);
    // The module's next call runs normally.
    assert_eq!(s.anon(Method::GET, "/t/evil/rogue/ok").send().await.unwrap().status(), 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aggregates_count_the_rows_they_scan() {
    let _alone = ALONE.lock().await;
    let s = server(|_| {}).await;
    s.tenant_with("evil", &["rogue"]).await;
    if on_postgres() {
        // PostgreSQL bounds a statement by time, memory and temporary files,
        // not by rows scanned: the count finishes, small and quick.
        let r = s.anon(Method::GET, "/t/evil/rogue/sql/count?db=postgres").send().await.unwrap();
        assert_eq!(r.status(), 200);
        return s.stop().await;
    }
    let r = s.anon(Method::GET, "/t/evil/rogue/sql/count").send().await.unwrap();
    assert_eq!(r.status(), 429);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "limit-exceeded", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("rows scanned"), "{body}");
    s.stop().await;
}

// ---------------------------------------------------------------------------
// Fair share: one tenant's load does not starve another.
// ---------------------------------------------------------------------------

/// Tenant B's p99 under tenant A's 100 concurrent CPU-heavy calls stays
/// under this (the stated bound; figures in docs/benchmarks.md).
const NOISY_NEIGHBOUR_P99: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_busy_tenant_cannot_starve_another() {
    let _alone = ALONE.lock().await;
    let s = server(|_| {}).await;
    s.tenant_with("evil", &["rogue"]).await;
    blog_with_a_post(&s, "acme").await;
    let url = s.url("/t/evil/rogue/spin?ms=1500");
    let noisy: Vec<_> = (0..100)
        .map(|_| {
            let (client, url) = (s.client.clone(), url.clone());
            tokio::spawn(async move {
                let r = client.get(&url).send().await.unwrap();
                (r.status().as_u16(), r.headers().get("retry-after").is_some())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reads = blog_reads(&s, "acme", 40, 2).await;
    let mut served = 0;
    let mut refused = 0;
    for task in noisy {
        match task.await.unwrap() {
            (200, _) => served += 1,
            (429, true) => refused += 1,
            other => panic!("the noisy tenant got {other:?}"),
        }
    }
    let p99 = p99(reads);
    eprintln!("noisy neighbour: {served} served, {refused} refused; acme p99 {p99:?}");
    assert!(p99 < NOISY_NEIGHBOUR_P99, "acme's p99 was {p99:?}");
    // The module's share (8 at once by default) ran; the rest were told to come back.
    assert!(served >= 8 && refused > 0, "{served} served, {refused} refused");
    assert!(s.metric("plaza_tenant_calls_rejected_total", &[("tenant", "evil")]).await >= refused as f64);
    assert!(s.metric("plaza_tenant_calls_queued_total", &[("tenant", "evil")]).await > 0.0);
    assert_eq!(s.metric("plaza_tenant_calls_rejected_total", &[("tenant", "acme")]).await, 0.0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_busy_tenant_whose_calls_are_short_is_served_not_refused() {
    let _alone = ALONE.lock().await;
    let s = server(|_| {}).await;
    blog_with_a_post(&s, "acme").await;
    // Far more at once than the tenant's slots: they queue, and all pass.
    let reads = blog_reads(&s, "acme", 640, 64).await;
    assert_eq!(reads.len(), 640);
    assert_eq!(s.metric("plaza_tenant_calls_rejected_total", &[("tenant", "acme")]).await, 0.0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn anonymous_calls_are_rate_limited_per_tenant() {
    let _alone = ALONE.lock().await;
    let s = server(|c| c.tenant_anonymous_rate = 5).await;
    s.tenant_with("evil", &["rogue"]).await;
    let key = blog_with_a_post(&s, "acme").await;
    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(s.anon(Method::GET, "/t/evil/rogue/ok").send().await.unwrap().status().as_u16());
    }
    assert!(statuses.iter().filter(|&&c| c == 200).count() <= 12, "{statuses:?}");
    let r = s.anon(Method::GET, "/t/evil/rogue/ok").send().await.unwrap();
    assert_eq!(r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned()).as_deref(), Some("1"));
    assert_problem(r, 429).await;
    // Another tenant's anonymous calls, and the limited tenant's signed-in ones, still pass.
    assert_eq!(blog_reads(&s, "acme", 5, 1).await.len(), 5);
    let r = s.anon(Method::GET, "/t/acme/blog/admin/posts").header("x-api-key", &key).send().await.unwrap();
    assert_eq!(r.status(), 200);
    s.stop().await;
}

// ---------------------------------------------------------------------------
// Module content: the host's security headers, sandboxed or on its own origin.
// ---------------------------------------------------------------------------

fn header<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn module_responses_carry_the_hosts_security_headers() {
    let s = server(|c| c.public_url = "https://plaza.example".into()).await;
    s.tenant_with("evil", &["rogue"]).await;
    for path in ["/page", "/svg", "/headers"] {
        let r = s.anon(Method::GET, &format!("/t/evil/rogue{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let csp = header(&r, "content-security-policy").unwrap();
        assert!(csp.starts_with("sandbox ") && !csp.contains("allow-same-origin"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains('*'), "{path}: {csp}");
        assert_eq!(r.headers().get_all("content-security-policy").iter().count(), 1, "{path}: the host's only");
        assert_eq!(header(&r, "x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(header(&r, "x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(header(&r, "referrer-policy"), Some("no-referrer"), "{path}");
        assert_eq!(header(&r, "strict-transport-security"), Some("max-age=63072000"), "{path}");
        assert_eq!(header(&r, "cross-origin-resource-policy"), Some("same-origin"), "{path}");
        assert_eq!(header(&r, "cross-origin-opener-policy"), Some("same-origin"), "{path}");
        for dropped in [
            "access-control-allow-origin",
            "access-control-allow-credentials",
            "access-control-allow-headers",
            "content-security-policy-report-only",
            "clear-site-data",
            "set-cookie",
            "service-worker-allowed",
        ] {
            assert!(r.headers().get(dropped).is_none(), "{path}: the module's {dropped} reached the client");
        }
    }
    // An informational status is no answer: the client gets a problem.
    for code in [100, 101, 103] {
        let r = s.anon(Method::GET, &format!("/t/evil/rogue/status?code={code}")).send().await.unwrap();
        let p = assert_problem(r, 502).await;
        assert!(p["detail"].as_str().unwrap().contains(&code.to_string()), "{p}");
    }
    let r = s.anon(Method::GET, "/t/evil/rogue/status?code=200").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("upgrade").is_none(), "a module cannot offer to switch protocols");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_content_origin_serves_module_content_only_and_ignores_cookies() {
    use common::users::PASSWORD;
    let s = server(|c| {
        c.module_content_url = "https://{tenant}.modules.example.com".into();
        c.registration = plaza::config::Registration::Open;
    })
    .await;
    s.tenant_with("evil", &["rogue"]).await;
    let key = blog_with_a_post(&s, "acme").await;
    let on = |tenant: &str, method: Method, path: &str| {
        s.anon(method, path).header("host", format!("{tenant}.modules.example.com"))
    };
    // A tenant's own origin: its pages run unsandboxed, under the host's policy.
    let r = on("evil", Method::GET, "/rogue/page").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = header(&r, "content-security-policy").unwrap();
    assert!(!csp.contains("sandbox") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let r = on("acme", Method::GET, "/blog/posts").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Hola"));
    // The host's API is not served there, with any credential.
    for path in ["/api/v1/tenants", "/t/acme/files", "/docs", "/t/acme/blog/posts"] {
        let r = on("acme", Method::GET, path).bearer_auth(&s.token).send().await.unwrap();
        assert_problem(r, 404).await;
    }
    // Cookie sign-in is not honoured there; API keys are.
    common::users::onboard(&s, None, "acme", "ana@acme.example", &["admin"]).await;
    let login = s
        .anon(Method::POST, "/api/v1/auth/login")
        .json(&json!({ "email": "ana@acme.example", "password": PASSWORD, "cookie": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let jar: Vec<String> = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let csrf = login.json::<Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_owned();
    let with_cookies =
        |req: reqwest::RequestBuilder| req.header("cookie", jar.join("; ")).header("x-csrf-token", &csrf);
    let r = with_cookies(on("acme", Method::GET, "/blog/admin/posts")).send().await.unwrap();
    assert_problem(r, 401).await;
    let r = on("acme", Method::GET, "/blog/admin/posts").header("x-api-key", &key).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // The API origin still serves module routes, sandboxed.
    let r = s.anon(Method::GET, "/t/evil/rogue/page").send().await.unwrap();
    assert!(header(&r, "content-security-policy").unwrap().starts_with("sandbox "));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_content_origin_keeps_pages_sandboxed() {
    let s = server(|c| c.module_content_url = "https://content.example.com".into()).await;
    s.tenant_with("evil", &["rogue"]).await;
    let r = s.anon(Method::GET, "/t/evil/rogue/page").header("host", "content.example.com").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-security-policy").unwrap().starts_with("sandbox "), "tenants share the origin");
    let r = s.anon(Method::GET, "/api/v1/tenants").header("host", "content.example.com").bearer_auth(&s.token);
    assert_problem(r.send().await.unwrap(), 404).await;
    s.stop().await;
}

// ---------------------------------------------------------------------------
// Quotas: per tenant and per module, set by the operator, reported to the tenant.
// ---------------------------------------------------------------------------

async fn rogue_post(s: &TestServer, path: &str) -> (u16, Value) {
    let r = s.anon(Method::POST, &format!("/t/evil/rogue{path}")).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_are_enforced_reported_and_set_by_the_operator() {
    let s = server(|c| {
        c.quota_storage_bytes = 3 * MIB;
        c.quota_module_blob_bytes = 2 * MIB;
        c.quota_module_kv_entries = 50;
        c.quota_module_sql_bytes = 2 * MIB;
    })
    .await;
    s.tenant_with("evil", &["rogue"]).await;
    let acme = blog_with_a_post(&s, "acme").await;

    // Blobs: the module's 2 MiB, then no more; replacing one in place is fine.
    assert_eq!(rogue_post(&s, "/blob?kb=1024&key=a").await.0, 201);
    assert_eq!(rogue_post(&s, "/blob?kb=1024&key=b").await.0, 201);
    let (status, body) = rogue_post(&s, "/blob?kb=1024&key=c").await;
    assert_eq!((status, body["error"].as_str()), (429, Some("limit-exceeded")), "{body}");
    assert!(body["detail"].as_str().unwrap().contains("module blob quota"), "{body}");
    assert_eq!(rogue_post(&s, "/blob?kb=1024&key=a").await.0, 201, "a replaced blob frees its bytes");

    // Key-value entries: 50 keys, then no new one; existing keys still change.
    assert_eq!(rogue_post(&s, "/kv?n=50").await.0, 201);
    let (status, body) = rogue_post(&s, "/kv?n=1&from=50").await;
    assert_eq!(status, 429, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("key-value entries"), "{body}");
    assert_eq!(rogue_post(&s, "/kv?n=10&from=0").await.0, 201);

    // SQL: the namespace stops growing at 2 MiB (on PostgreSQL by sizes
    // measured in the background every few seconds, so the refusal may come
    // a few calls later).
    let mut refused = None;
    for _ in 0..6 {
        let (status, body) = rogue_post(&s, "/fill?kb=1536").await;
        if status == 429 {
            refused = Some(body);
            break;
        }
        assert_eq!(status, 201, "{body}");
        if on_postgres() {
            tokio::time::sleep(Duration::from_millis(5_500)).await;
        }
    }
    let body = refused.expect("the SQL quota refused a write");
    assert!(body["detail"].as_str().unwrap().contains("quota"), "{body}");

    // Files count against the tenant's storage with its blobs: 2 MiB of
    // blobs leave 1 MiB of the 3. Another tenant is not affected.
    let upload = |tenant: &'static str, key: String, mib: u64| {
        s.anon(Method::PUT, &format!("/t/{tenant}/files/big.bin"))
            .header("x-api-key", key)
            .body(vec![b'f'; (mib * MIB) as usize])
            .send()
    };
    let evil_key = s.api_key("evil", &["admin"]).await;
    let p = assert_problem(upload("evil", evil_key.clone(), 2).await.unwrap(), 507).await;
    assert_eq!(p["type"], "urn:plaza:problem:storage-quota-exceeded", "{p}");
    assert_eq!(s.get_json("/t/evil/files/big.bin/metadata").await.0, 404, "nothing was stored");
    assert_eq!(upload("acme", acme.clone(), 2).await.unwrap().status(), 201);

    // The tenant's admins see what they use.
    let (status, usage) = s.get_json("/t/evil/usage").await;
    assert_eq!(status, 200, "{usage}");
    assert_eq!(usage["quotas"]["storage_bytes"], 3 * MIB);
    assert_eq!(usage["storage_bytes"], 2 * MIB);
    assert_eq!(usage["files_bytes"], 0);
    let rogue = usage["modules"].as_array().unwrap().iter().find(|m| m["module"] == "rogue").unwrap();
    assert_eq!(rogue["blob_bytes"], 2 * MIB, "{usage}");
    assert_eq!(rogue["kv_entries"], 50, "{usage}");
    assert!(rogue["sql_bytes"].as_u64().unwrap() > MIB, "{usage}");
    let r = s.anon(Method::GET, "/t/evil/usage").header("x-api-key", &acme).send().await.unwrap();
    assert_problem(r, 404).await;

    // The operator raises evil's quotas; the refused writes now pass.
    let r = s
        .req(Method::PUT, "/api/v1/tenants/evil/quotas")
        .json(&json!({ "storage_bytes": 10 * MIB, "module_blob_bytes": 8 * MIB }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set: Value = r.json().await.unwrap();
    assert_eq!(set["effective"]["storage_bytes"], 10 * MIB);
    assert_eq!(set["effective"]["module_kv_entries"], 50, "what was not set keeps the default");
    assert_eq!(rogue_post(&s, "/blob?kb=1024&key=c").await.0, 201);
    assert_eq!(upload("evil", evil_key.clone(), 2).await.unwrap().status(), 201);
    // Only the operator sets quotas, with a body of the right types.
    let r = s.anon(Method::PUT, "/api/v1/tenants/evil/quotas").header("x-api-key", &evil_key).json(&json!({}));
    assert_problem(r.send().await.unwrap(), 403).await;
    let r = s.req(Method::PUT, "/api/v1/tenants/evil/quotas").json(&json!({ "storage_bytes": "lots" }));
    assert_problem(r.send().await.unwrap(), 422).await;
    let (_, got) = s.get_json("/api/v1/tenants/evil/quotas").await;
    assert_eq!(got["overrides"]["storage_bytes"], 10 * MIB, "{got}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_set_by_another_process_apply_within_seconds() {
    // Calls read a tenant's quotas from memory, kept until changed. Another
    // process (the CLI, another replica) setting them announces the change
    // on the feed; this one must apply it without being told directly.
    let s = server(|c| c.quota_module_kv_entries = 5).await;
    s.tenant_with("evil", &["rogue"]).await;
    s.tenant_with("other", &["rogue"]).await;
    assert_eq!(rogue_post(&s, "/kv?n=5").await.0, 201);
    assert_eq!(rogue_post(&s, "/kv?n=1&from=5").await.0, 429, "the default quota applies");
    // Past the feed's re-check of the set-up's own changes, the quota is
    // read from memory only.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(rogue_post(&s, "/kv?n=1&from=5").await.0, 429);
    let actor = plaza::audit::Actor::new("another process");
    let raised = plaza::tenancy::quotas::QuotaOverrides { module_kv_entries: Some(20), ..Default::default() };
    plaza::tenancy::quotas::set(&s.app.db, &actor, "evil", &raised).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = rogue_post(&s, "/kv?n=1&from=5").await;
        if status == 201 {
            break;
        }
        assert_eq!(status, 429, "{body}");
        assert!(Instant::now() < deadline, "a quota raised elsewhere was not applied within 10 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The other tenant keeps the default.
    let r = s.anon(Method::POST, "/t/other/rogue/kv?n=6").send().await.unwrap();
    assert_eq!(r.status(), 429, "another tenant's quota is not raised");
    s.stop().await;
}
