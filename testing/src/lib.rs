//! `plaza-testing`: test a built module the way Plaza will run it.
//!
//! A [`TestHost`] is a real Plaza host in your test process: a temporary
//! SQLite database (or, when `PLAZA_TEST_DATABASE_URL` names a PostgreSQL
//! server, a fresh database there), objects in a temporary directory, the same runtime,
//! capabilities, limits and HTTP layer as production. Requests go through
//! the host's router in-process (no port is opened), so a test sees exactly
//! what a client would: statuses, headers, problem documents.
//!
//! ```no_run
//! # async fn demo() -> Result<(), plaza_testing::TestError> {
//! use plaza_testing::TestHost;
//!
//! let host = TestHost::new()
//!     .module("target/wasm32-wasip2/release/greeter.wasm")
//!     .tenant("acme")
//!     .user(["member"])
//!     .start()
//!     .await?;
//! let created = host.post_json("/greetings", &serde_json::json!({ "name": "Ana" })).await;
//! assert_eq!(created.status, 201);
//! let list = host.get("/greetings").await;
//! assert_eq!(list.json::<serde_json::Value>()["items"][0]["name"], "Ana");
//! assert_eq!(host.anonymous().get("/greetings").await.status, 401);
//! # Ok(()) }
//! ```

pub mod tax_mock;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use plaza::App;
use plaza::audit::Actor;
use poem::endpoint::BoxEndpoint;
use poem::{Endpoint, EndpointExt};

/// Why a test host could not start.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error("cannot read module {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("no module given: call .module(path) with the built .wasm")]
    NoModule,
    #[error("the host did not start: {0}")]
    Start(#[from] plaza::app::StartError),
    #[error("the module was refused: {0}")]
    Module(#[from] plaza::modules::ModuleError),
    #[error("tenant: {0}")]
    Tenant(#[from] plaza::tenancy::TenancyError),
    #[error("test user: {0}")]
    Auth(#[from] plaza::auth::AuthError),
    #[error("setting {key}: {source}")]
    Config { key: String, source: plaza::modules::settings::ConfigError },
    #[error("temporary directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("job: {0}")]
    Job(#[from] plaza::workers::JobError),
    #[error("the call failed: {0}")]
    Call(#[from] plaza::runtime::CallError),
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("test database (PLAZA_TEST_DATABASE_URL): {0}")]
    Database(String),
}

/// What a test host is made of, before it starts.
#[derive(Debug, Clone)]
pub struct TestHost {
    modules: Vec<PathBuf>,
    tenant: String,
    roles: Vec<String>,
    settings: Vec<(String, String, bool)>,
    allow_private_hosts: bool,
    deadline_ms: Option<u64>,
}

impl Default for TestHost {
    fn default() -> Self {
        Self::new()
    }
}

impl TestHost {
    /// Tenant `acme`, a user with the `member` role, no module yet.
    pub fn new() -> Self {
        Self {
            modules: Vec::new(),
            tenant: "acme".into(),
            roles: vec!["member".into()],
            settings: Vec::new(),
            allow_private_hosts: false,
            deadline_ms: None,
        }
    }

    /// A module to load and enable (the first one is the one under test;
    /// add the modules it depends on after it).
    pub fn module(mut self, wasm: impl AsRef<Path>) -> Self {
        self.modules.push(wasm.as_ref().to_path_buf());
        self
    }

    /// The tenant the module is enabled for.
    pub fn tenant(mut self, id: &str) -> Self {
        id.clone_into(&mut self.tenant);
        self
    }

    /// The roles of the default caller (`member`, `admin`, or module roles).
    pub fn user<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// A setting of the module for the tenant (what `config::get` reads).
    pub fn config(mut self, key: &str, value: serde_json::Value) -> Self {
        self.settings.push((key.to_owned(), value.to_string(), false));
        self
    }

    /// A secret of the module for the tenant (what `config::secret` reads).
    pub fn secret(mut self, key: &str, value: &str) -> Self {
        self.settings.push((key.to_owned(), value.to_owned(), true));
        self
    }

    /// Lets the module's `http` calls reach loopback and private addresses
    /// (a local stub server in your test). Off in production by default.
    pub fn allow_private_hosts(mut self) -> Self {
        self.allow_private_hosts = true;
        self
    }

    /// The operator's cap on one call's wall-clock time.
    pub fn deadline_ms(mut self, ms: u64) -> Self {
        self.deadline_ms = Some(ms);
        self
    }

    /// Starts the host, loads and enables the modules, and signs the user in.
    pub async fn start(self) -> Result<Running, TestError> {
        let first = self.modules.first().ok_or(TestError::NoModule)?;
        let dir = tempfile::tempdir()?;
        let database_url = match std::env::var("PLAZA_TEST_DATABASE_URL") {
            Ok(admin) if !admin.is_empty() => fresh_postgres(&admin).await?,
            _ => format!("sqlite://{}", dir.path().join("plaza.db").display()),
        };
        let mut config = plaza::Config {
            data_dir: dir.path().to_path_buf(),
            database_url,
            storage_url: format!("file://{}", dir.path().join("objects").display()),
            operator_token: format!("test-{}", uuid::Uuid::new_v4().simple()),
            log: "warn".into(),
            module_allow_private_hosts: self.allow_private_hosts,
            ..plaza::Config::default()
        };
        if let Some(ms) = self.deadline_ms {
            config.module_deadline_ms = ms;
        }
        let app = App::start(config).await?;
        let actor = Actor::new("plaza-testing");
        plaza::tenancy::create(&app.db, &actor, &self.tenant, &self.tenant).await?;
        let mut under_test = String::new();
        for path in &self.modules {
            let wasm =
                std::fs::read(path).map_err(|source| TestError::Read { path: path.display().to_string(), source })?;
            // The module under test enters the registry as bundled: the test
            // put it there, which is trust enough.
            let module = app.modules.register_bundled(wasm).await?;
            app.modules.enable(&self.tenant, module.name(), None, &actor).await?;
            if path == first {
                module.name().clone_into(&mut under_test);
            }
        }
        for (key, value, secret) in &self.settings {
            plaza::modules::settings::set(&app.db, &self.tenant, &under_test, key, value, *secret)
                .await
                .map_err(|source| TestError::Config { key: key.clone(), source })?;
        }
        let router = plaza::http::router(Arc::clone(&app)).boxed();
        let running = Running {
            inner: Arc::new(Shared { app, router, module: under_test, tenant: self.tenant.clone(), _dir: dir }),
            default: Client::anonymous_placeholder(),
        };
        let default = running.client_for(&self.tenant, &self.roles).await?;
        Ok(Running { default, ..running })
    }
}

/// A new PostgreSQL database on the server `admin` names (a URL that may
/// create databases), for one test host; its URL.
async fn fresh_postgres(admin: &str) -> Result<String, TestError> {
    use sqlx::Connection;
    let name = format!("plaza_testing_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin).await.map_err(|e| TestError::Database(e.to_string()))?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .map_err(|e| TestError::Database(e.to_string()))?;
    let mut url = url::Url::parse(admin).map_err(|e| TestError::Database(e.to_string()))?;
    url.set_path(&name);
    Ok(url.to_string())
}

struct Shared {
    app: Arc<App>,
    router: BoxEndpoint<'static, poem::Response>,
    module: String,
    tenant: String,
    _dir: tempfile::TempDir,
}

/// A started test host; its methods call the module as the default user.
pub struct Running {
    inner: Arc<Shared>,
    default: Client,
}

impl std::ops::Deref for Running {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.default
    }
}

impl Running {
    /// The host itself, for checks a client cannot make.
    pub fn app(&self) -> &Arc<App> {
        &self.inner.app
    }

    /// The name of the module under test.
    pub fn module(&self) -> &str {
        &self.inner.module
    }

    /// A caller with no credentials.
    pub fn anonymous(&self) -> Client {
        Client { inner: Some(Arc::clone(&self.inner)), tenant: self.inner.tenant.clone(), key: None }
    }

    /// A caller of the tenant with other roles.
    pub async fn as_user<S: AsRef<str>>(&self, roles: &[S]) -> Result<Client, TestError> {
        let roles: Vec<String> = roles.iter().map(|r| r.as_ref().to_owned()).collect();
        self.client_for(&self.inner.tenant, &roles).await
    }

    /// Another tenant with the module under test enabled, and a caller
    /// there: for checking that tenants do not see each other's data.
    pub async fn other_tenant<S: AsRef<str>>(&self, id: &str, roles: &[S]) -> Result<Client, TestError> {
        let actor = Actor::new("plaza-testing");
        let app = &self.inner.app;
        plaza::tenancy::create(&app.db, &actor, id, id).await?;
        app.modules.enable(id, &self.inner.module, None, &actor).await?;
        let roles: Vec<String> = roles.iter().map(|r| r.as_ref().to_owned()).collect();
        self.client_for(id, &roles).await
    }

    /// Installs the X.509 certificate `name` (PEM certificate and key) of
    /// the module under test for `tenant`, as a tenant admin would: what the
    /// module's `crypto.sign-cms` and `crypto.sign-raw` then sign with.
    pub async fn install_certificate(
        &self,
        tenant: &str,
        name: &str,
        cert_pem: &str,
        key_pem: &str,
    ) -> Result<(), TestError> {
        let actor = Actor::new("plaza-testing");
        let services = self.inner.app.modules.services();
        plaza::capabilities::crypto::certificates::install_pem(
            services,
            &actor,
            tenant,
            &self.inner.module,
            name,
            cert_pem,
            key_pem,
        )
        .await
        .map_err(|e| TestError::Certificate(e.to_string()))?;
        Ok(())
    }

    /// A setting of the module under test for another tenant (see
    /// [`Running::other_tenant`]).
    pub async fn configure(&self, tenant: &str, key: &str, value: &serde_json::Value) -> Result<(), TestError> {
        plaza::modules::settings::set(&self.inner.app.db, tenant, &self.inner.module, key, &value.to_string(), false)
            .await
            .map_err(|source| TestError::Config { key: key.to_owned(), source })
    }

    /// Moves the wall clock modules see by `secs` from the system's (0 puts
    /// it back): test what happens in a new year or after an expiry
    /// without sleeping. The host's own timestamps are not moved.
    pub fn shift_module_clock(&self, secs: i64) {
        self.inner.app.modules.services().clock.set_offset(secs);
    }

    /// Runs a job of the module under test now, as the scheduler would,
    /// and returns the finished run (`status` is `succeeded` or `failed`).
    pub async fn run_job(&self, job: &str) -> Result<plaza::jobs::runs::JobRunRecord, TestError> {
        let app = &self.inner.app;
        let actor = Actor::new("plaza-testing");
        let (tenant, module) = (&self.inner.tenant, &self.inner.module);
        Ok(plaza::workers::run_now(&app.modules, &app.db, &app.metrics, &actor, tenant, module, job).await?)
    }

    /// Delivers an event to the module under test's `on_event`, as the
    /// dispatcher would (source `plaza-testing`, a fresh id), and returns
    /// the module's verdict: `Err` would ask the host for a retry.
    pub async fn deliver(
        &self,
        event_type: &str,
        payload: &serde_json::Value,
    ) -> Result<Result<(), String>, TestError> {
        let id = uuid::Uuid::now_v7().to_string();
        self.deliver_with_id(&id, event_type, payload).await
    }

    /// [`Running::deliver`] with a given event id: deliver the same id twice
    /// to check that the module ignores a duplicate.
    pub async fn deliver_with_id(
        &self,
        id: &str,
        event_type: &str,
        payload: &serde_json::Value,
    ) -> Result<Result<(), String>, TestError> {
        let app = &self.inner.app;
        let (tenant, module) = (&self.inner.tenant, &self.inner.module);
        let active = app.modules.enabled(tenant).await?;
        let loaded = active.get(module).and_then(|a| a.module.as_ref().ok()).cloned().ok_or_else(|| {
            plaza::modules::ModuleError::NotEnabled { tenant: tenant.clone(), module: module.clone() }
        })?;
        let event = plaza::contract::Event {
            id: id.to_owned(),
            event_type: event_type.to_owned(),
            source: "plaza-testing".into(),
            payload: payload.to_string(),
            published_at: plaza::db::now(),
        };
        Ok(app.modules.deliver(&loaded, tenant, event).await?)
    }

    async fn client_for(&self, tenant: &str, roles: &[String]) -> Result<Client, TestError> {
        let actor = Actor::new("plaza-testing");
        let (_, secret) = plaza::auth::api_keys::create(&self.inner.app.db, &actor, tenant, "test user", roles).await?;
        Ok(Client { inner: Some(Arc::clone(&self.inner)), tenant: tenant.to_owned(), key: Some(secret) })
    }
}

/// One caller: a tenant and its credentials. Paths are below the module,
/// e.g. `client.get("/posts")` calls `/t/{tenant}/{module}/posts`.
pub struct Client {
    inner: Option<Arc<Shared>>,
    tenant: String,
    key: Option<String>,
}

impl Client {
    fn anonymous_placeholder() -> Self {
        Self { inner: None, tenant: String::new(), key: None }
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.request("GET", path, &[], Vec::new()).await
    }

    pub async fn delete(&self, path: &str) -> TestResponse {
        self.request("DELETE", path, &[], Vec::new()).await
    }

    pub async fn post_json(&self, path: &str, body: &impl serde::Serialize) -> TestResponse {
        let body = serde_json::to_vec(body).unwrap_or_default();
        self.request("POST", path, &[("content-type", "application/json")], body).await
    }

    pub async fn put_json(&self, path: &str, body: &impl serde::Serialize) -> TestResponse {
        let body = serde_json::to_vec(body).unwrap_or_default();
        self.request("PUT", path, &[("content-type", "application/json")], body).await
    }

    pub async fn put_bytes(&self, path: &str, content_type: &str, body: Vec<u8>) -> TestResponse {
        self.request("PUT", path, &[("content-type", content_type)], body).await
    }

    /// Any request; `path` is below the module (with its query string).
    pub async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> TestResponse {
        let Some(inner) = &self.inner else {
            return TestResponse::failed("the test host has not started");
        };
        let uri = format!("/t/{}/{}{}", self.tenant, inner.module, path);
        let Ok(method) = poem::http::Method::from_bytes(method.as_bytes()) else {
            return TestResponse::failed("unknown HTTP method");
        };
        let mut req = poem::Request::builder().method(method).uri_str(&uri);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(key) = &self.key {
            req = req.header("x-api-key", key.as_str());
        }
        let resp = match inner.router.call(req.body(body)).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        };
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str().to_owned(), v.to_owned())))
            .collect();
        let body = resp.into_body().into_vec().await.unwrap_or_default();
        TestResponse { status, headers, body }
    }
}

/// What the module (and the host in front of it) answered.
#[derive(Debug, Clone)]
pub struct TestResponse {
    pub status: u16,
    /// Header names are lower-case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl TestResponse {
    fn failed(why: &str) -> Self {
        Self { status: 599, headers: Vec::new(), body: why.as_bytes().to_vec() }
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    ///
    /// # Panics
    /// When the body is not JSON of that shape: this is a test helper, and a
    /// test should fail loudly with the body in the message.
    #[allow(clippy::panic)]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        match serde_json::from_slice(&self.body) {
            Ok(v) => v,
            Err(e) => panic!("status {}: body is not the expected JSON ({e}): {}", self.status, self.text()),
        }
    }

    /// The `type` of a problem document (`urn:plaza:problem:…`), if the body is one.
    pub fn problem_type(&self) -> Option<String> {
        let is_problem = self.header("content-type").is_some_and(|c| c.starts_with("application/problem+json"));
        let doc: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        is_problem.then(|| doc["type"].as_str().map(str::to_owned)).flatten()
    }
}
