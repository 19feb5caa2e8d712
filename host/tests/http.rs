//! The HTTP suite: a real server on a free port, spoken to over HTTP.
//! Runs on SQLite by default and on PostgreSQL under `cargo xtask test`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::time::Duration;

use common::{TestServer, assert_problem};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_ok_and_echoes_the_request_id() {
    let s = TestServer::start().await;
    for path in ["/health", "/healthz"] {
        let resp = s.anon(Method::GET, path).header("X-Request-Id", "probe-42").send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-request-id"], "probe-42");
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
        assert_eq!(resp.headers()["x-frame-options"], "DENY");
        assert_eq!(resp.json::<Value>().await.unwrap(), json!({ "status": "ok" }));
    }
    // A request id a client cannot be trusted with is replaced.
    let resp = s.anon(Method::GET, "/health").header("X-Request-Id", "bad id;drop").send().await.unwrap();
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(id, "bad id;drop");
    assert_eq!(id.len(), 36);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_checks_database_and_object_store() {
    let s = TestServer::start().await;
    let resp = s.anon(Method::GET, "/ready").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let names: Vec<&str> = body["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["database", "object_store"]);
    assert!(body["checks"].as_array().unwrap().iter().all(|c| c["ok"] == true));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_is_503_when_the_object_store_is_gone() {
    let s = TestServer::start().await;
    if common::backends().1 != "local files" {
        return; // the storage suite covers S3; here the store is deleted from disk
    }
    std::fs::remove_dir_all(s.dir.path().join("objects")).unwrap();
    let resp = s.anon(Method::GET, "/ready").send().await.unwrap();
    let body = assert_problem(resp, 503).await;
    let store = body["checks"].as_array().unwrap().iter().find(|c| c["name"] == "object_store").unwrap();
    assert_eq!(store["ok"], false);
    let detail = store["detail"].as_str().unwrap();
    assert!(!detail.is_empty());
    assert!(!detail.contains(s.dir.path().to_str().unwrap()), "no server paths in an anonymous answer: {detail}");
    let db = body["checks"].as_array().unwrap().iter().find(|c| c["name"] == "database").unwrap();
    assert_eq!(db["ok"], true);
    // Liveness does not depend on dependencies.
    assert_eq!(s.anon(Method::GET, "/health").send().await.unwrap().status(), 200);
    s.stop().await;
}

/// A TCP proxy to the database that the test can cut, as if the server stopped.
struct CuttableProxy {
    addr: std::net::SocketAddr,
    cut: tokio::sync::watch::Sender<bool>,
}

impl CuttableProxy {
    async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, cut_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let mut stop = cut_rx.clone();
            loop {
                tokio::select! {
                    _ = stop.changed() => return, // listener dropped: new connections refused
                    accepted = listener.accept() => {
                        let Ok((mut inbound, _)) = accepted else { return };
                        let target = target.clone();
                        let mut cut_rx = cut_rx.clone();
                        tokio::spawn(async move {
                            let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else { return };
                            tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                                _ = cut_rx.changed() => {}
                            }
                        });
                    }
                }
            }
        });
        Self { addr, cut }
    }

    fn cut(&self) {
        let _ = self.cut.send(true);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_is_503_when_the_database_is_stopped() {
    let postgres = std::env::var("PLAZA_TEST_DATABASE_URL").ok().filter(|v| !v.is_empty());
    let proxy = match &postgres {
        Some(admin) => {
            let url = url::Url::parse(admin).unwrap();
            let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
            Some(CuttableProxy::start(target).await)
        }
        None => None,
    };
    let proxy_addr = proxy.as_ref().map(|p| p.addr);
    let s = TestServer::start_with(|c| {
        if let Some(addr) = proxy_addr {
            // Reach the test database through the proxy.
            let mut url = url::Url::parse(&c.database_url).unwrap();
            url.set_port(Some(addr.port())).unwrap();
            c.database_url = url.to_string();
        }
    })
    .await;
    assert_eq!(s.anon(Method::GET, "/ready").send().await.unwrap().status(), 200);
    match &proxy {
        Some(p) => p.cut(),
        // SQLite has no server to stop: closing the pool is what the host
        // sees when its database goes away.
        None => s.app.db.close().await,
    }
    let started = std::time::Instant::now();
    let resp = s.anon(Method::GET, "/ready").send().await.unwrap();
    let body = assert_problem(resp, 503).await;
    assert!(started.elapsed() < Duration::from_secs(10), "readiness must answer promptly");
    let db = body["checks"].as_array().unwrap().iter().find(|c| c["name"] == "database").unwrap();
    assert_eq!(db["ok"], false, "{body}");
    assert_eq!(s.anon(Method::GET, "/health").send().await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_template_and_report_the_pool() {
    let s = TestServer::start().await;
    s.create_tenant("acme").await;
    for _ in 0..3 {
        s.req(Method::GET, "/api/v1/tenants/acme").send().await.unwrap();
    }
    s.req(Method::GET, "/api/v1/tenants/nobody").send().await.unwrap();
    s.anon(Method::GET, "/no/such/route").send().await.unwrap();
    let resp = s.anon(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers().get_all("content-type").iter().count(), 1);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = resp.text().await.unwrap();
    let has = |needle: &str| text.lines().any(|l| l.starts_with(needle));
    assert!(
        has(r#"plaza_http_requests_total{method="GET",route="/api/v1/tenants/{tenant}",status="200"} 3"#),
        "{text}"
    );
    assert!(has(r#"plaza_http_requests_total{method="GET",route="/api/v1/tenants/{tenant}",status="404"} 1"#));
    assert!(has(r#"plaza_http_requests_total{method="POST",route="/api/v1/tenants",status="201"} 1"#));
    assert!(has(r#"plaza_http_requests_total{method="GET",route="unmatched",status="404"} 1"#));
    assert!(!text.contains("nobody"), "raw paths must not become labels");
    assert!(
        has(r#"plaza_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/tenants/{tenant}"}"#),
        "{text}"
    );
    assert!(has("plaza_db_pool_connections "));
    assert!(has("plaza_db_pool_idle_connections "));
    assert!(has("plaza_db_pool_max_connections 5"));
    s.stop().await;
}

async fn audit_actions(s: &TestServer, tenant: &str) -> Vec<String> {
    let (status, body) = s.get_json(&format!("/api/v1/tenants/{tenant}/audit")).await;
    assert_eq!(status, 200, "{body}");
    let mut actions: Vec<String> =
        body.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect();
    actions.reverse(); // oldest first
    actions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_lifecycle_is_audited() {
    let s = TestServer::start().await;
    let resp = s
        .req(Method::POST, "/api/v1/tenants")
        .header("X-Request-Id", "create-acme")
        .json(&json!({ "id": "acme", "name": "  Acme Corp " }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["location"], "/api/v1/tenants/acme");
    let created: Value = resp.json().await.unwrap();
    assert_eq!(created["id"], "acme");
    assert_eq!(created["name"], "Acme Corp");
    assert_eq!(created["status"], "active");
    assert_eq!(created["storage_prefix"], "tenants/acme");
    assert_eq!(created["db_location"], "main");

    let (status, got) = s.get_json("/api/v1/tenants/acme").await;
    assert_eq!((status, &got), (200, &created));

    // Duplicate: 409, and no second audit row.
    let dup = s.req(Method::POST, "/api/v1/tenants").json(&json!({ "id": "acme", "name": "x" })).send().await.unwrap();
    assert_problem(dup, 409).await;

    let resp = s.req(Method::POST, "/api/v1/tenants/acme/suspend").send().await.unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "suspended");
    // A suspended tenant's routes are refused.
    let files = s.req(Method::GET, "/t/acme/files").send().await.unwrap();
    let problem = assert_problem(files, 403).await;
    assert_eq!(problem["type"], "urn:plaza:problem:tenant-suspended");
    // Suspending again changes nothing and is not audited twice.
    s.req(Method::POST, "/api/v1/tenants/acme/suspend").send().await.unwrap();
    let resp = s.req(Method::POST, "/api/v1/tenants/acme/resume").send().await.unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "active");
    assert_eq!(s.req(Method::GET, "/t/acme/files").send().await.unwrap().status(), 200);

    let resp = s.req(Method::DELETE, "/api/v1/tenants/acme").send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert_problem(s.req(Method::GET, "/api/v1/tenants/acme").send().await.unwrap(), 404).await;
    assert_problem(s.req(Method::GET, "/t/acme/files").send().await.unwrap(), 404).await;

    assert_eq!(audit_actions(&s, "acme").await, ["tenant.create", "tenant.suspend", "tenant.resume", "tenant.delete"]);
    let (_, entries) = s.get_json("/api/v1/tenants/acme/audit").await;
    let create = entries.as_array().unwrap().iter().find(|e| e["action"] == "tenant.create").unwrap();
    assert_eq!(create["actor"], "operator");
    assert_eq!(create["request_id"], "create-acme");
    assert_eq!(create["detail"]["name"], "Acme Corp");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_rows_are_written_in_the_same_transaction_as_the_change() {
    let s = TestServer::start().await;
    s.create_tenant("acme").await;
    // Count rows straight from the database: one tenant, one audit row.
    let tenants: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM tenants").fetch_one(s.app.db.pool()).await.unwrap();
    let audits: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE tenant_id = 'acme'")
        .fetch_one(s.app.db.pool())
        .await
        .unwrap();
    assert_eq!((tenants.0, audits.0), (1, 1));
    // A failed change (duplicate) leaves neither a tenant nor an audit row behind.
    let dup = s.req(Method::POST, "/api/v1/tenants").json(&json!({ "id": "acme", "name": "x" })).send().await.unwrap();
    assert_eq!(dup.status(), 409);
    let audits: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log").fetch_one(s.app.db.pool()).await.unwrap();
    assert_eq!(audits.0, 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_list_in_pages() {
    let s = TestServer::start().await;
    for id in ["delta", "alpha", "charlie", "bravo", "echo"] {
        s.create_tenant(id).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/tenants?limit=2&cursor={c}"),
            None => "/api/v1/tenants?limit=2".into(),
        };
        let (status, page) = s.get_json(&path).await;
        assert_eq!(status, 200);
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|t| t["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["alpha", "bravo", "charlie", "delta", "echo"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_routes_need_the_operator_token() {
    let s = TestServer::start().await;
    let resp = s.anon(Method::GET, "/api/v1/tenants").send().await.unwrap();
    assert!(resp.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    assert_problem(resp, 401).await;
    let resp = s.anon(Method::GET, "/api/v1/tenants").bearer_auth("not-the-token").send().await.unwrap();
    assert_problem(resp, 401).await;
    let resp = s.anon(Method::GET, "/t/acme/files").bearer_auth("not-the-token").send().await.unwrap();
    assert_problem(resp, 401).await;
    let resp = s.anon(Method::POST, "/api/v1/tenants").json(&json!({"id": "x1", "name": "x"})).send().await.unwrap();
    assert_problem(resp, 401).await;
    let (status, _) = s.get_json("/api/v1/tenants").await;
    assert_eq!(status, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_problem_json_never_a_500() {
    let s = TestServer::start_with(|c| c.max_body_bytes = 4096).await;
    s.create_tenant("acme").await;
    let post = |body: &'static str| {
        s.req(Method::POST, "/api/v1/tenants").header("content-type", "application/json").body(body)
    };
    // Malformed JSON.
    let p = assert_problem(post("{\"id\": \"x\"").send().await.unwrap(), 400).await;
    assert!(p["detail"].as_str().unwrap().contains("malformed JSON"));
    assert_problem(post("not json").send().await.unwrap(), 400).await;
    // Missing fields and wrong types.
    assert_problem(post("{\"id\": \"okay\"}").send().await.unwrap(), 422).await;
    assert_problem(post("{\"id\": 7, \"name\": \"x\"}").send().await.unwrap(), 422).await;
    assert_problem(post("[]").send().await.unwrap(), 422).await;
    // Invalid slugs.
    for bad in ["A", "Upper", "1abc", "with space", "trailing-", "x", "ñandú", "../etc"] {
        let body = json!({ "id": bad, "name": "n" });
        let resp = s.req(Method::POST, "/api/v1/tenants").json(&body).send().await.unwrap();
        let p = assert_problem(resp, 422).await;
        assert!(p["detail"].as_str().unwrap().contains("invalid tenant id"), "{p}");
    }
    // Blank and oversized names.
    let resp = s.req(Method::POST, "/api/v1/tenants").json(&json!({"id": "okay", "name": "  "})).send().await.unwrap();
    assert_problem(resp, 422).await;
    // Wrong content type.
    let resp =
        s.req(Method::POST, "/api/v1/tenants").header("content-type", "text/plain").body("{}").send().await.unwrap();
    assert_problem(resp, 415).await;
    // Oversized body, declared and streamed.
    let big = format!("{{\"id\": \"big\", \"name\": \"{}\"}}", "x".repeat(10_000));
    let resp = s
        .req(Method::POST, "/api/v1/tenants")
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_problem(resp, 413).await;
    let stream = futures_util::stream::iter(
        big.into_bytes().chunks(1000).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>(),
    );
    let resp = s
        .req(Method::POST, "/api/v1/tenants")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 413).await;
    // Unknown tenant, unknown route, wrong method, bad query.
    assert_problem(s.req(Method::GET, "/api/v1/tenants/nobody").send().await.unwrap(), 404).await;
    assert_problem(s.req(Method::GET, "/api/v1/tenants/NOT%20A%20SLUG").send().await.unwrap(), 404).await;
    let p = assert_problem(s.req(Method::GET, "/t/nobody/files").send().await.unwrap(), 404).await;
    assert_eq!(p["type"], "urn:plaza:problem:tenant-not-found");
    assert_problem(s.req(Method::GET, "/t/nobody/files/x").send().await.unwrap(), 404).await;
    assert_problem(s.anon(Method::GET, "/nothing/here").send().await.unwrap(), 404).await;
    assert_problem(s.req(Method::PATCH, "/api/v1/tenants").send().await.unwrap(), 405).await;
    assert_problem(s.req(Method::GET, "/api/v1/tenants?limit=0").send().await.unwrap(), 400).await;
    assert_problem(s.req(Method::GET, "/api/v1/tenants?limit=abc").send().await.unwrap(), 400).await;
    assert_problem(s.req(Method::GET, "/t/acme/files?limit=5000").send().await.unwrap(), 400).await;
    // File keys and content types.
    let resp = s.req(Method::PUT, "/t/acme/files/%2Fabs").body("x").send().await.unwrap();
    assert_problem(resp, 422).await;
    let resp = s.req(Method::PUT, "/t/acme/files/a%0Ab").body("x").send().await.unwrap();
    assert_problem(resp, 422).await;
    let resp =
        s.req(Method::PUT, "/t/acme/files/ok").header("content-type", "nonsense").body("x").send().await.unwrap();
    assert_problem(resp, 422).await;
    // Multipart without a file part.
    let form = reqwest::multipart::Form::new().text("key", "k");
    let resp = s.req(Method::POST, "/t/acme/files").multipart(form).send().await.unwrap();
    let status = resp.status().as_u16();
    assert!(status == 400 || status == 422, "{status}");
    assert_problem(resp, status).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_only_configured_origins() {
    let s = TestServer::start_with(|c| c.cors_origins = "https://app.example.com".into()).await;
    let preflight = |origin: &str| {
        s.anon(Method::OPTIONS, "/api/v1/tenants")
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .header("Access-Control-Request-Headers", "authorization")
    };
    let ok = preflight("https://app.example.com").send().await.unwrap();
    assert!(ok.status().is_success(), "{}", ok.status());
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://app.example.com");
    let bad = preflight("https://evil.example.net").send().await.unwrap();
    assert!(bad.headers().get("access-control-allow-origin").is_none());
    let get = s.req(Method::GET, "/api/v1/tenants").header("Origin", "https://app.example.com").send().await.unwrap();
    assert_eq!(get.headers()["access-control-allow-origin"], "https://app.example.com");
    let exposed = get.headers()["access-control-expose-headers"].to_str().unwrap().to_lowercase();
    assert!(exposed.contains("x-request-id"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_lets_in_flight_requests_finish() {
    let s = TestServer::start().await;
    s.create_tenant("acme").await;
    // An upload that trickles in over ~1.5 s.
    let chunks = futures_util::stream::unfold(0u32, |i| async move {
        if i == 15 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        Some((Ok::<_, std::io::Error>(vec![b'x'; 1024]), i + 1))
    });
    let upload = s
        .req(Method::PUT, "/t/acme/files/slow.bin")
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(chunks))
        .send();
    let in_flight = tokio::spawn(upload);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let base = s.base.clone();
    let app = std::sync::Arc::clone(&s.app);
    s.stop().await; // returns once the in-flight request is done
    let resp = in_flight.await.unwrap().expect("the in-flight request completes");
    assert_eq!(resp.status(), 201);
    let meta: Value = resp.json().await.unwrap();
    assert_eq!(meta["size"], 15 * 1024);
    // The server no longer accepts connections.
    assert!(reqwest::get(format!("{base}/health")).await.is_err());
    drop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_serve_swagger_ui_from_bundled_assets() {
    let s = TestServer::start().await;
    let resp = s.anon(Method::GET, "/docs").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = resp.text().await.unwrap();
    assert!(html.contains("data-spec-url=\"/openapi.json\""));
    // Nothing is fetched from another origin: every src/href is local.
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            let target = part.split('"').next().unwrap();
            assert!(target.starts_with('/'), "external asset {target}");
        }
    }
    for (path, ct, min) in [
        ("/docs/assets/swagger-ui-bundle.js", "text/javascript", 500_000),
        ("/docs/assets/swagger-ui.css", "text/css", 50_000),
        ("/docs/assets/init.js", "text/javascript", 100),
    ] {
        let resp = s.anon(Method::GET, path).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with(ct));
        assert!(resp.bytes().await.unwrap().len() > min, "{path}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_is_valid_and_complete() {
    let s = TestServer::start().await;
    let resp = s.anon(Method::GET, "/openapi.json").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let doc: openapiv3::OpenAPI = serde_json::from_str(&text).expect("parses as OpenAPI 3");
    assert!(doc.openapi.starts_with("3."));
    let schemes = doc.components.as_ref().map(|c| c.security_schemes.clone()).unwrap_or_default();
    assert!(schemes.contains_key("bearerAuth"), "bearer scheme declared");
    assert!(schemes.contains_key("apiKey"), "API key scheme declared");
    let mut ops = 0;
    for (path, item) in doc.paths.iter() {
        let item = item.as_item().expect("inline path item");
        for (method, op) in item.iter() {
            ops += 1;
            let name = format!("{method} {path}");
            assert!(op.operation_id.as_deref().is_some_and(|s| !s.is_empty()), "{name}: operationId");
            assert!(op.summary.as_deref().is_some_and(|s| !s.is_empty()), "{name}: summary");
            let errors: Vec<u16> = op
                .responses
                .responses
                .keys()
                .filter_map(|k| match k {
                    openapiv3::StatusCode::Code(c) if *c >= 400 => Some(*c),
                    _ => None,
                })
                .collect();
            assert!(errors.contains(&400) && errors.contains(&500), "{name}: error responses {errors:?}");
            let security = op.security.as_ref().unwrap_or_else(|| panic!("{name}: security requirement"));
            let public = [
                "/health",
                "/healthz",
                "/ready",
                "/metrics",
                "/.well-known/jwks.json",
                "/api/v1/auth/register",
                "/api/v1/auth/login",
                "/api/v1/auth/login/mfa",
                "/api/v1/auth/refresh",
                "/api/v1/auth/logout",
                "/api/v1/auth/csrf",
            ]
            .contains(&path.as_str());
            assert_eq!(security.is_empty(), public, "{name}: public iff a probe or a sign-in step");
            if !public {
                let names: Vec<&String> = security.iter().flat_map(|r| r.keys()).collect();
                assert!(
                    names.iter().any(|n| *n == "bearerAuth") && names.iter().any(|n| *n == "apiKey"),
                    "{name}: {names:?}"
                );
            }
        }
    }
    assert!(ops >= 14, "{ops} operations");
    // The same document is what `plaza openapi` prints.
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), plaza::http::spec());
    s.stop().await;
}

/// Sends raw bytes on a fresh connection and returns the whole answer.
async fn raw_exchange(s: &TestServer, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer (and close) before all of a huge head is sent.
    let _ = conn.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

fn problem_of(answer: &str, status: u16) -> Value {
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no answer: {answer:?}"));
    assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
    assert!(head.to_ascii_lowercase().contains("content-type: application/problem+json"), "{head}");
    let problem: Value = serde_json::from_str(body).unwrap();
    assert_eq!(problem["status"], status);
    assert!(head.contains(problem["request_id"].as_str().unwrap()), "the request id is in the head too");
    problem
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_answered_with_problems_not_empty_bodies() {
    let s = TestServer::start().await;
    let mut huge = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 1 << 20));
    huge.extend_from_slice(b"\r\n\r\n");
    let p = problem_of(&raw_exchange(&s, &huge).await, 431);
    assert_eq!(p["type"], "urn:plaza:problem:header-fields-too-large");
    for (request, why) in [
        (&b"GET /t/acme\x01files HTTP/1.1\r\nHost: x\r\n\r\n"[..], "percent-encoded"),
        (b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", "percent-encoded"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", "header name"),
        (b"GET / HTTP/4.0\r\nHost: x\r\n\r\n", "version"),
    ] {
        let p = problem_of(&raw_exchange(&s, request).await, 400);
        assert!(p["detail"].as_str().unwrap().contains(why), "{p}");
    }
    // Good requests, HTTP/1.0 and kept-alive HTTP/1.1 ones, are served as ever.
    let ok = raw_exchange(&s, b"GET /health HTTP/1.0\r\n\r\n").await;
    assert!(ok.starts_with("HTTP/1.0 200") || ok.starts_with("HTTP/1.1 200"), "{ok}");
    for _ in 0..3 {
        assert_eq!(s.anon(Method::GET, "/health").send().await.unwrap().status(), 200);
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_are_read_as_their_schema_says() {
    let s = TestServer::start().await;
    s.create_tenant("acme").await;
    // A number where a string belongs is a 422 naming the field, not a lookup of "5".
    let resp = s.req(Method::POST, "/t/acme/modules").json(&json!({ "name": 5 })).send().await.unwrap();
    let p = assert_problem(resp, 422).await;
    assert!(p["detail"].as_str().unwrap().contains("`name` must be a string"), "{p}");
    let resp = s.req(Method::POST, "/api/v1/tenants").json(&json!({ "id": "x1", "name": true })).send().await.unwrap();
    assert_problem(resp, 422).await;
    assert_eq!(s.get_json("/api/v1/tenants/x1").await.0, 404, "nothing was created");
    // JSON sent as text/plain (what an HTML form can send across sites) is refused.
    let resp = s
        .req(Method::POST, "/api/v1/tenants")
        .header("content-type", "text/plain")
        .body(r#"{"id": "x2", "name": "X"}"#)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 415).await;
    s.stop().await;
}
