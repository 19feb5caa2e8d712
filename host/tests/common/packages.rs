//! Helpers for suites that go through the registry: the packages `cargo
//! xtask plugins` builds, publishing them signed, and a second host process.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use plaza_registry::PublisherKey;
use reqwest::Method;
use serde_json::Value;

use super::{TestServer, modules_dir};

pub fn packages_dir() -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/packages");
    assert!(
        dir.join("hello-1.1.0.wasm").exists(),
        "the test packages are not built: run `cargo xtask plugins` (cargo xtask test does)"
    );
    dir
}

pub fn hello(version: &str) -> Vec<u8> {
    let path = if version == "1.0.0" {
        modules_dir().join("hello.wasm")
    } else {
        packages_dir().join(format!("hello-{version}.wasm"))
    };
    std::fs::read(path).unwrap()
}

pub fn package(name: &str) -> Vec<u8> {
    std::fs::read(packages_dir().join(format!("{name}.wasm"))).unwrap()
}

/// A host that trusts `key` and has no bundled modules: everything comes
/// through the registry.
pub async fn server(key: &PublisherKey) -> TestServer {
    server_with(key, |_| {}).await
}

/// A host that trusts `key`, with more configuration changed by `tweak`.
pub async fn server_with(key: &PublisherKey, tweak: impl FnOnce(&mut plaza::Config)) -> TestServer {
    let trusted = key.public_text();
    TestServer::start_with(move |c| {
        c.trusted_publishers = trusted;
        tweak(c);
    })
    .await
}

pub async fn publish(s: &TestServer, wasm: Vec<u8>, signature: Option<String>) -> reqwest::Response {
    let mut form =
        reqwest::multipart::Form::new().part("package", reqwest::multipart::Part::bytes(wasm).file_name("module.wasm"));
    if let Some(sig) = signature {
        form = form.text("signature", sig);
    }
    s.req(Method::POST, "/api/v1/registry/modules").multipart(form).send().await.unwrap()
}

pub async fn publish_signed(s: &TestServer, key: &PublisherKey, wasm: Vec<u8>) -> Value {
    let sig = key.sign(&wasm).to_json();
    let resp = publish(s, wasm, Some(sig)).await;
    assert_eq!(resp.status(), 201, "publish: {}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

pub fn as_key(s: &TestServer, method: Method, path: &str, key: &str) -> reqwest::RequestBuilder {
    s.anon(method, path).header("x-api-key", key)
}

pub async fn json_of(resp: reqwest::Response, status: u16) -> Value {
    let code = resp.status().as_u16();
    let url = resp.url().to_string();
    let body = resp.text().await.unwrap();
    assert_eq!(code, status, "{url}: {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// A second host process (the real binary) on the same database and object store.
pub struct SecondHost {
    pub child: Child,
    pub base: String,
}

impl SecondHost {
    pub async fn start(first: &TestServer, trusted: &str) -> Self {
        Self::start_with(first, trusted, &[]).await
    }

    /// Starts it with extra environment variables.
    pub async fn start_with(first: &TestServer, trusted: &str, env: &[(&str, &str)]) -> Self {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let data = first.dir.path().join("second-host");
        std::fs::create_dir_all(&data).unwrap();
        let config = &first.app.config;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_plaza"));
        for (k, _) in std::env::vars() {
            if k.starts_with("PLAZA_") {
                cmd.env_remove(k);
            }
        }
        // On SQLite the two processes share the database file and the
        // namespaces' files: the same data dir.
        let data_dir =
            if config.effective_database_url().starts_with("sqlite") { config.data_dir.clone() } else { data };
        let child = cmd
            .arg("serve")
            .env("PLAZA_LISTEN", format!("127.0.0.1:{port}"))
            .env("PLAZA_DATA_DIR", &data_dir)
            .env("PLAZA_DATABASE_URL", config.effective_database_url())
            .env("PLAZA_STORAGE_URL", config.effective_storage_url())
            .env("PLAZA_S3_ENDPOINT", &config.s3_endpoint)
            .env("PLAZA_OPERATOR_TOKEN", &config.operator_token)
            .env("PLAZA_TRUSTED_PUBLISHERS", trusted)
            .env("PLAZA_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if reqwest::get(format!("{base}/ready")).await.is_ok_and(|r| r.status() == 200) {
                break;
            }
            assert!(Instant::now() < deadline, "the second host did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { child, base }
    }
}

impl Drop for SecondHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `url` until `check` holds, returning how long it took.
pub async fn seen_within(url: &str, limit: Duration, check: impl Fn(u16, &Value) -> bool) -> Duration {
    let started = Instant::now();
    let client = reqwest::Client::new();
    loop {
        let resp = client.get(url).send().await.unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if check(status, &body) {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{url} still answers {status} {body} after {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
