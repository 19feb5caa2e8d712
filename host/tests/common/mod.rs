//! The test harness: a real Plaza server on a free port, spoken to over HTTP.
//!
//! Backends come from the environment, so the same tests run on every
//! backend `cargo xtask test` provides:
//! - `PLAZA_TEST_DATABASE_URL`: an admin URL of a PostgreSQL server; each
//!   test gets a database of its own. Unset: a SQLite file per test.
//! - `PLAZA_TEST_STORAGE_URL` (`s3://bucket`) with `PLAZA_S3_ENDPOINT` and
//!   `AWS_*`: each test gets a prefix of its own. Unset: local files.
#![allow(dead_code)]

pub mod packages;
pub mod users;

use std::sync::{Arc, Once};

use plaza::server::Running;
use plaza::{App, Config};
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::Value;
use tempfile::TempDir;

pub const PROBLEM_JSON: &str = "application/problem+json";

static BANNER: Once = Once::new();

/// Which backends this test process runs on.
pub fn backends() -> (String, String) {
    let db = if std::env::var("PLAZA_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) { "postgres" } else { "sqlite" };
    let storage =
        if std::env::var("PLAZA_TEST_STORAGE_URL").is_ok_and(|v| !v.is_empty()) { "s3" } else { "local files" };
    (db.into(), storage.into())
}

pub struct TestServer {
    pub base: String,
    pub token: String,
    pub client: Client,
    pub app: Arc<App>,
    pub dir: TempDir,
    running: Option<Running>,
}

/// A fresh database for one test: a SQLite file, or a new PostgreSQL database.
async fn fresh_database(dir: &TempDir) -> String {
    match std::env::var("PLAZA_TEST_DATABASE_URL") {
        Ok(admin) if !admin.is_empty() => {
            use sqlx::Connection;
            let name = format!("plaza_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to the test PostgreSQL");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create a test database");
            let mut url = url::Url::parse(&admin).expect("PLAZA_TEST_DATABASE_URL is a URL");
            url.set_path(&name);
            url.to_string()
        }
        _ => format!("sqlite://{}", dir.path().join("plaza.db").display()),
    }
}

/// A fresh storage root for one test: a prefix in the test bucket, or local files.
fn fresh_storage(dir: &TempDir) -> (String, String) {
    match std::env::var("PLAZA_TEST_STORAGE_URL") {
        Ok(url) if !url.is_empty() => {
            let endpoint = std::env::var("PLAZA_S3_ENDPOINT").unwrap_or_default();
            (format!("{}/{}", url.trim_end_matches('/'), uuid::Uuid::new_v4().simple()), endpoint)
        }
        _ => (format!("file://{}", dir.path().join("objects").display()), String::new()),
    }
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a server whose configuration `tweak` may change.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        BANNER.call_once(|| {
            let (db, storage) = backends();
            eprintln!("plaza tests: database = {db}, storage = {storage}");
        });
        let dir = tempfile::tempdir().expect("temp dir");
        let token = format!("test-operator-{}", uuid::Uuid::new_v4().simple());
        let (storage_url, s3_endpoint) = fresh_storage(&dir);
        let mut config = Config {
            listen: "127.0.0.1:0".parse().expect("addr"),
            data_dir: dir.path().to_path_buf(),
            database_url: fresh_database(&dir).await,
            storage_url,
            s3_endpoint,
            operator_token: token.clone(),
            shutdown_grace_secs: 10,
            db_max_connections: 5,
            ..Config::default()
        };
        tweak(&mut config);
        let app = App::start(config).await.expect("plaza starts");
        let running = plaza::server::start(Arc::clone(&app)).await.expect("plaza listens");
        let base = format!("http://{}", running.addr);
        Self { base, token, client: Client::new(), app, dir, running: Some(running) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the operator token.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(&self.token)
    }

    /// A request without credentials.
    pub fn anon(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let resp = self.req(Method::GET, path).send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Creates a tenant through the API.
    pub async fn create_tenant(&self, id: &str) {
        let resp = self
            .req(Method::POST, "/api/v1/tenants")
            .json(&serde_json::json!({ "id": id, "name": format!("Tenant {id}") }))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 201, "create tenant {id}: {}", resp.text().await.unwrap_or_default());
    }

    /// Stops the server gracefully and starts another on the same database,
    /// objects and data directory, its configuration changed by `tweak`:
    /// what a host restart keeps.
    pub async fn restart(mut self, tweak: impl FnOnce(&mut Config)) -> Self {
        if let Some(r) = self.running.take() {
            r.shutdown().await.expect("graceful shutdown");
        }
        let mut config = self.app.config.clone();
        config.database_url = config.effective_database_url();
        tweak(&mut config);
        let app = App::start(config).await.expect("plaza starts again");
        let running = plaza::server::start(Arc::clone(&app)).await.expect("plaza listens again");
        let base = format!("http://{}", running.addr);
        Self { base, token: self.token, client: self.client, app, dir: self.dir, running: Some(running) }
    }

    /// Stops the server gracefully.
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await.expect("graceful shutdown");
        }
    }

    /// Number of objects stored under `prefix` (relative to the storage root).
    pub async fn object_count(&self, prefix: &str) -> usize {
        use futures_util::StreamExt;
        let prefix = object_store::path::Path::from(prefix);
        self.app.storage.store().list(Some(&prefix)).count().await
    }
}

/// Asserts that `resp` is a problem document with `status`, and returns it.
pub async fn assert_problem(resp: Response, status: u16) -> Value {
    assert_eq!(resp.status().as_u16(), status, "status of {}", resp.url());
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(ct.starts_with(PROBLEM_JSON), "content type {ct:?} is not problem+json");
    let request_id = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("x-request-id header");
    let body: Value = resp.json().await.expect("problem body is JSON");
    assert_eq!(body["status"], status, "{body}");
    assert!(body["type"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
    assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
    assert!(body["detail"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
    assert_eq!(body["request_id"], request_id.as_str(), "{body}");
    body
}

/// Deterministic pseudo-random bytes (xorshift), so content errors show.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The directory `cargo xtask plugins` builds the bundled modules into.
pub fn modules_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/modules");
    assert!(
        dir.join("hello.wasm").exists() && dir.join("hostile.wasm").exists(),
        "the test modules are not built: run `cargo xtask plugins` (cargo xtask test does)"
    );
    dir
}

impl TestServer {
    /// Creates an API key of `tenant` with `roles`, returning its secret.
    pub async fn api_key(&self, tenant: &str, roles: &[&str]) -> String {
        let resp = self
            .req(Method::POST, &format!("/t/{tenant}/api-keys"))
            .json(&serde_json::json!({ "name": format!("test {}", roles.join(" ")), "roles": roles }))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 201, "create API key");
        let body: Value = resp.json().await.expect("JSON");
        body["secret"].as_str().expect("secret").to_owned()
    }

    /// Creates a tenant and enables `modules` for it.
    pub async fn tenant_with(&self, tenant: &str, modules: &[&str]) {
        self.create_tenant(tenant).await;
        for m in modules {
            self.app.modules.enable(tenant, m, None, &plaza::audit::Actor::new("test")).await.expect("enable module");
        }
    }

    /// The value of one sample of `/metrics` (0 when absent).
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let text = self.anon(Method::GET, "/metrics").send().await.expect("metrics").text().await.expect("text");
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .filter(|l| labels.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\""))))
            .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
            .sum()
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}
