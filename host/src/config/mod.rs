//! Configuration: defaults, then an optional `plaza.toml`, then `PLAZA_*`
//! environment variables, each layer overriding the one before.
//!
//! Every setting has a working default so that `plaza serve` on a fresh
//! machine runs on SQLite and local files under `./data`.

pub mod content_origin;
pub mod retry;

pub use retry::RetryPolicy;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Every environment variable the host reads, in one place: the compose file
/// is checked against this list by a test (`tests/deploy.rs`).
pub const ENV_VARS: &[&str] = &[
    "PLAZA_CONFIG",
    "PLAZA_LISTEN",
    "PLAZA_DATA_DIR",
    "PLAZA_DATABASE_URL",
    "PLAZA_DB_MAX_CONNECTIONS",
    "PLAZA_STORAGE_URL",
    "PLAZA_S3_ENDPOINT",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "PLAZA_LOG",
    "PLAZA_LOG_FORMAT",
    "PLAZA_CORS_ORIGINS",
    "PLAZA_MAX_BODY_BYTES",
    "PLAZA_MAX_UPLOAD_BYTES",
    "PLAZA_OPERATOR_TOKEN",
    "PLAZA_SHUTDOWN_GRACE_SECS",
    "PLAZA_PUBLIC_URL",
    "PLAZA_REGISTRATION",
    "PLAZA_ACCESS_TOKEN_TTL_SECS",
    "PLAZA_REFRESH_TOKEN_TTL_SECS",
    "PLAZA_COOKIE_SECURE",
    "PLAZA_JWKS_URL",
    "PLAZA_JWT_ISSUER",
    "PLAZA_JWT_AUDIENCE",
    "PLAZA_TENANT_CLAIM",
    "PLAZA_ROLES_CLAIM",
    "PLAZA_AUTH_MAX_FAILURES",
    "PLAZA_AUTH_BACKOFF_MS",
    "PLAZA_AUTH_RATE_PER_MINUTE",
    "PLAZA_SMTP_URL",
    "PLAZA_SMTP_FROM",
    "PLAZA_MODULES_DIR",
    "PLAZA_MODULE_DEADLINE_MS",
    "PLAZA_MODULE_MEMORY_BYTES",
    "PLAZA_MODULE_RESPONSE_BYTES",
    "PLAZA_MODULE_SQL_STATEMENTS",
    "PLAZA_MODULE_SQL_ROWS",
    "PLAZA_MODULE_HTTP_REQUESTS",
    "PLAZA_MODULE_ALLOW_PRIVATE_HOSTS",
    "PLAZA_MODULE_CONCURRENCY",
    "PLAZA_MODULE_SQL_VALUE_BYTES",
    "PLAZA_MODULE_SQL_WORK",
    "PLAZA_MODULE_PG_WORK_MEM_KB",
    "PLAZA_MODULE_PG_TEMP_FILE_KB",
    "PLAZA_SQLITE_HEAP_BYTES",
    "PLAZA_MODULE_CONTENT_URL",
    "PLAZA_TENANT_CONCURRENCY",
    "PLAZA_TENANT_MODULE_CONCURRENCY",
    "PLAZA_TENANT_QUEUE",
    "PLAZA_TENANT_QUEUE_MS",
    "PLAZA_TENANT_ANONYMOUS_RATE",
    "PLAZA_QUOTA_STORAGE_BYTES",
    "PLAZA_QUOTA_MODULE_BLOB_BYTES",
    "PLAZA_QUOTA_MODULE_KV_ENTRIES",
    "PLAZA_QUOTA_MODULE_SQL_BYTES",
    "PLAZA_TRUSTED_PUBLISHERS",
    "PLAZA_ALLOW_UNSIGNED_MODULES",
    "PLAZA_DATABASES",
    "PLAZA_WORKERS",
    "PLAZA_JOB_DEADLINE_MS",
    "PLAZA_EVENT_MAX_ATTEMPTS",
    "PLAZA_EVENT_RETRY_BASE_MS",
    "PLAZA_MAIL_PER_MINUTE",
    "PLAZA_MAIL_PER_DAY",
    "PLAZA_MAIL_MAX_ATTEMPTS",
    "PLAZA_MAIL_RETRY_BASE_MS",
    "PLAZA_STREAM_MAX_SECS",
];

/// Who may create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    /// Anyone may register; tenants still grant access by invitation.
    Open,
    /// Only holders of an invitation may register.
    #[default]
    Invite,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, coloured when the output is a terminal.
    #[default]
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The effective configuration of one host process.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Where the SQLite database, local objects and keys live by default.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; empty means SQLite under `data_dir`.
    pub database_url: String,
    /// Upper bound of the database connection pool.
    pub db_max_connections: u32,
    /// `file:///abs/path`, or `s3://bucket[/prefix]`; empty means files under `data_dir`.
    pub storage_url: String,
    /// Endpoint of an S3-compatible server (R2, MinIO, …); empty means AWS.
    pub s3_endpoint: String,
    /// A `tracing` filter directive such as `info` or `plaza=debug,info`.
    pub log: String,
    /// `pretty` or `json`.
    pub log_format: LogFormat,
    /// Comma-separated origins allowed by CORS; empty disables CORS.
    pub cors_origins: String,
    /// Largest request body accepted by JSON endpoints.
    pub max_body_bytes: u64,
    /// Largest file accepted by the files API.
    pub max_upload_bytes: u64,
    /// Operator bearer token; when empty, one is generated at first start.
    pub operator_token: String,
    /// How long in-flight requests may run after SIGTERM/SIGINT.
    pub shutdown_grace_secs: u64,
    /// The public base URL of this install; the `iss` of host-issued tokens.
    pub public_url: String,
    /// `open` or `invite`.
    pub registration: Registration,
    /// Lifetime of host-issued access tokens.
    pub access_token_ttl_secs: u64,
    /// Lifetime of refresh tokens (each use rotates them).
    pub refresh_token_ttl_secs: u64,
    /// Mark auth cookies `Secure` (turn off only for plain-HTTP development).
    pub cookie_secure: bool,
    /// JWKS of an external identity provider (Auth0, any OIDC); empty disables it.
    pub jwks_url: String,
    /// Required `iss` of external tokens.
    pub jwt_issuer: String,
    /// Required `aud` of external tokens.
    pub jwt_audience: String,
    /// Claim of external tokens naming the tenant (may be a namespaced URL).
    pub tenant_claim: String,
    /// Claim of external tokens listing roles (may be a namespaced URL).
    pub roles_claim: String,
    /// Failed sign-ins (per account and per address) before back-off starts.
    pub auth_max_failures: u32,
    /// First back-off delay; it doubles with each further failure (capped at 15 minutes).
    pub auth_backoff_ms: u64,
    /// Sign-in, registration, refresh and MFA attempts allowed per minute, per address and per account.
    pub auth_rate_per_minute: u32,
    /// SMTP server for invitation mail: `smtps://user:pass@host` (TLS), or
    /// `smtp://…?tls=required` (STARTTLS); empty hands the invitation token
    /// back to the inviting admin instead.
    pub smtp_url: String,
    /// Sender of invitation mail.
    pub smtp_from: String,
    /// Directory of module components (`*.wasm`) loaded at start; empty: none.
    pub modules_dir: String,
    /// Operator cap: wall-clock time of one module call.
    pub module_deadline_ms: u64,
    /// Operator cap: linear memory of one module instance.
    pub module_memory_bytes: u64,
    /// Operator cap: size of one module response body.
    pub module_response_bytes: u64,
    /// Operator cap: SQL statements one module call may run.
    pub module_sql_statements: u32,
    /// Operator cap: rows one module call may read.
    pub module_sql_rows: u32,
    /// Operator cap: outbound HTTP requests of one module call.
    pub module_http_requests: u32,
    /// Let modules reach loopback, private and link-local addresses (development only).
    pub module_allow_private_hosts: bool,
    /// Module calls running at once in this process (pool slots).
    pub module_concurrency: u32,
    /// Operator cap: largest string or blob one module SQL statement may
    /// build or read (SQLite's `SQLITE_LIMIT_LENGTH`; the row guard on PostgreSQL).
    pub module_sql_value_bytes: u64,
    /// Operator cap: SQLite virtual-machine steps one module call may run,
    /// about ten per row scanned or produced (aggregates included).
    pub module_sql_work: u64,
    /// `work_mem` of module transactions on PostgreSQL, in KiB.
    pub module_pg_work_mem_kb: u32,
    /// `temp_file_limit` of module transactions on PostgreSQL, in KiB
    /// (applied when the host's role may set it; see docs/operations.md).
    pub module_pg_temp_file_kb: u64,
    /// SQLite's hard heap limit for the whole process, in bytes (its soft
    /// limit, where caches are shed, is half of it).
    pub sqlite_heap_bytes: u64,
    /// A separate origin for module content: `https://{tenant}.modules.example.com`
    /// (one origin per tenant) or `https://content.example.com` (one for all,
    /// paths `/t/{tenant}/…`). Empty: module pages are sandboxed on the API origin.
    pub module_content_url: String,
    /// Module calls of one tenant running at once in this process.
    pub tenant_concurrency: u32,
    /// Module calls of one module of one tenant running at once.
    pub tenant_module_concurrency: u32,
    /// Calls of one tenant that may wait for a slot; beyond them, 429.
    pub tenant_queue: u32,
    /// Longest wait for a tenant's slot before the call is refused (429).
    pub tenant_queue_ms: u64,
    /// Anonymous requests per second to one tenant's module routes (bursts
    /// of twice that); 0: no limit.
    pub tenant_anonymous_rate: u32,
    /// Default quota: bytes of one tenant's files and module blobs together.
    pub quota_storage_bytes: u64,
    /// Default quota: bytes of blobs of one module of a tenant.
    pub quota_module_blob_bytes: u64,
    /// Default quota: key-value entries of one module of a tenant.
    pub quota_module_kv_entries: u64,
    /// Default quota: bytes of one module's SQL namespace for a tenant.
    pub quota_module_sql_bytes: u64,
    /// Publisher keys (`ed25519:…`, comma-separated) whose packages the registry accepts.
    pub trusted_publishers: String,
    /// Development switch: accept unsigned packages, and packages signed by untrusted keys.
    pub allow_unsigned_modules: bool,
    /// More PostgreSQL databases tenants can be placed on: `name=postgres://…`, comma-separated.
    pub databases: String,
    /// Run the job scheduler and the event dispatcher in this serving process.
    pub workers: bool,
    /// Operator cap: wall-clock time of one job run.
    pub job_deadline_ms: u64,
    /// Attempts to deliver an event to a module before it goes to the dead-letter list.
    pub event_max_attempts: u32,
    /// Wait after a failed delivery; doubled after each further failure (at most an hour).
    pub event_retry_base_ms: u64,
    /// Messages a tenant's modules may send per minute (`mail` capability).
    pub mail_per_minute: u32,
    /// Messages a tenant's modules may send per UTC day.
    pub mail_per_day: u32,
    /// Delivery attempts of a message before it is marked failed.
    pub mail_max_attempts: u32,
    /// Wait after a failed delivery attempt; doubled after each further one (at most an hour).
    pub mail_retry_base_ms: u64,
    /// Longest life of one live-stream connection (`/t/{tenant}/stream`):
    /// the browser reconnects and is authorised again (a removed member, a
    /// revoked key, a suspended tenant stop receiving within this time).
    pub stream_max_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: String::new(),
            db_max_connections: 20,
            storage_url: String::new(),
            s3_endpoint: String::new(),
            log: "info".into(),
            log_format: LogFormat::Pretty,
            cors_origins: String::new(),
            max_body_bytes: 1024 * 1024,
            max_upload_bytes: 25 * 1024 * 1024,
            operator_token: String::new(),
            shutdown_grace_secs: 30,
            public_url: "http://127.0.0.1:8080".into(),
            registration: Registration::Invite,
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            cookie_secure: true,
            jwks_url: String::new(),
            jwt_issuer: String::new(),
            jwt_audience: String::new(),
            tenant_claim: "tenant".into(),
            roles_claim: "roles".into(),
            auth_max_failures: 5,
            auth_backoff_ms: 1000,
            auth_rate_per_minute: 30,
            smtp_url: String::new(),
            smtp_from: "Plaza <plaza@localhost>".into(),
            modules_dir: String::new(),
            module_deadline_ms: 5_000,
            module_memory_bytes: 64 << 20,
            module_response_bytes: 8 << 20,
            module_sql_statements: 1_000,
            module_sql_rows: 10_000,
            module_http_requests: 10,
            module_allow_private_hosts: false,
            module_concurrency: 64,
            module_sql_value_bytes: 2_000_000,
            module_sql_work: 10_000_000,
            module_pg_work_mem_kb: 8 * 1024,
            module_pg_temp_file_kb: 1024 * 1024,
            sqlite_heap_bytes: 1 << 30,
            module_content_url: String::new(),
            tenant_concurrency: 16,
            tenant_module_concurrency: 8,
            tenant_queue: 256,
            tenant_queue_ms: 1_000,
            tenant_anonymous_rate: 0,
            quota_storage_bytes: 10 << 30,
            quota_module_blob_bytes: 2 << 30,
            quota_module_kv_entries: 100_000,
            quota_module_sql_bytes: 1 << 30,
            trusted_publishers: String::new(),
            allow_unsigned_modules: false,
            databases: String::new(),
            workers: true,
            job_deadline_ms: 300_000,
            event_max_attempts: 8,
            event_retry_base_ms: 1_000,
            mail_per_minute: 60,
            mail_per_day: 1_000,
            mail_max_attempts: 8,
            mail_retry_base_ms: 30_000,
            stream_max_secs: 900,
        }
    }
}

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Value(String),
}

impl Config {
    /// Reads defaults, the config file (`PLAZA_CONFIG`, else `./plaza.toml`
    /// when present) and the environment.
    pub fn load(explicit_file: Option<&Path>) -> Result<Self, ConfigError> {
        let env_file = std::env::var_os("PLAZA_CONFIG").map(PathBuf::from);
        let file = explicit_file.map(Path::to_path_buf).or(env_file);
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path)),
            Some(path) => figment = figment.merge(Toml::file(path)),
            None => figment = figment.merge(Toml::file("plaza.toml")),
        }
        // Only the variables the host knows: a typo in plaza.toml is an
        // error, but unrelated PLAZA_* variables (test settings) are not.
        // S3 credentials keep their AWS_* names and are read by object_store.
        let known: Vec<String> = ENV_VARS
            .iter()
            .filter_map(|v| v.strip_prefix("PLAZA_"))
            .filter(|v| *v != "CONFIG")
            .map(str::to_lowercase)
            .collect();
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        let figment = figment.merge(Env::prefixed("PLAZA_").only(&known));
        let config: Config = figment.extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.database_list()?;
        if !self.databases.trim().is_empty() && !self.effective_database_url().starts_with("postgres") {
            return Err(ConfigError::Value("databases: placing tenants on other databases needs PostgreSQL".into()));
        }
        if let Err(e) = plaza_registry::TrustedKeys::parse(&self.trusted_publishers) {
            return Err(ConfigError::Value(format!("trusted_publishers: {e}")));
        }
        if self.max_upload_bytes == 0 || self.max_body_bytes == 0 {
            return Err(ConfigError::Value("body and upload limits must be above zero".into()));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log) {
            return Err(ConfigError::Value(format!("log filter {:?}: {e}", self.log)));
        }
        if !self.jwks_url.is_empty() && (self.jwt_issuer.is_empty() || self.jwt_audience.is_empty()) {
            return Err(ConfigError::Value(
                "jwks_url needs jwt_issuer and jwt_audience: external tokens are always checked for both".into(),
            ));
        }
        if self.access_token_ttl_secs == 0 || self.refresh_token_ttl_secs == 0 || self.auth_rate_per_minute == 0 {
            return Err(ConfigError::Value("token lifetimes and auth rates must be above zero".into()));
        }
        if self.module_deadline_ms == 0
            || self.module_memory_bytes < (1 << 20)
            || self.module_response_bytes == 0
            || self.module_concurrency == 0
            || self.module_sql_value_bytes < 1024
            || self.module_sql_value_bytes > i32::MAX as u64
            || self.module_sql_work == 0
            || self.tenant_concurrency == 0
            || self.tenant_module_concurrency == 0
            || self.job_deadline_ms == 0
            || self.event_max_attempts == 0
            || self.event_retry_base_ms == 0
            || self.mail_per_minute == 0
            || self.mail_max_attempts == 0
            || self.mail_retry_base_ms == 0
            || self.stream_max_secs == 0
        {
            return Err(ConfigError::Value(
                "module and tenant limits must be above zero (module_memory_bytes at least 1 MiB, \
                 module_sql_value_bytes between 1 KiB and 2 GiB)"
                    .into(),
            ));
        }
        if let Err(e) = content_origin::ContentOrigin::parse(&self.module_content_url) {
            return Err(ConfigError::Value(format!("module_content_url: {e}")));
        }
        if self.db_max_connections == 0 {
            return Err(ConfigError::Value("db_max_connections must be above zero".into()));
        }
        if !self.database_url.is_empty()
            && !self.database_url.starts_with("sqlite:")
            && !self.database_url.starts_with("postgres://")
            && !self.database_url.starts_with("postgresql://")
        {
            return Err(ConfigError::Value(
                "database_url must start with sqlite:, postgres:// or postgresql://".into(),
            ));
        }
        Ok(())
    }

    /// The database URL with the SQLite default filled in.
    pub fn effective_database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("plaza.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// The storage URL with the local-files default filled in.
    pub fn effective_storage_url(&self) -> String {
        if self.storage_url.is_empty() {
            format!("file://{}", absolute(&self.data_dir.join("objects")).display())
        } else {
            self.storage_url.clone()
        }
    }

    /// CORS origins as a list, blanks dropped.
    pub fn cors_origin_list(&self) -> Vec<String> {
        self.cors_origins.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
    }

    /// A one-line summary safe to log: secrets and URL passwords redacted.
    pub fn redacted_summary(&self) -> String {
        format!(
            "listen={} data_dir={} database={} pool_max={} storage={} s3_endpoint={} log={} log_format={:?} cors=[{}] max_body={} max_upload={} operator_token={} shutdown_grace={}s public_url={} registration={:?} jwks={} smtp={} modules_dir={} module_deadline={}ms module_memory={} module_concurrency={} trusted_publishers={} allow_unsigned_modules={} databases=[{}] workers={} job_deadline={}ms event_max_attempts={} event_retry_base={}ms",
            self.listen,
            self.data_dir.display(),
            redact_url(&self.effective_database_url()),
            self.db_max_connections,
            redact_url(&self.effective_storage_url()),
            if self.s3_endpoint.is_empty() { "-".into() } else { redact_url(&self.s3_endpoint) },
            self.log,
            self.log_format,
            self.cors_origins,
            self.max_body_bytes,
            self.max_upload_bytes,
            if self.operator_token.is_empty() { "unset" } else { "***" },
            self.shutdown_grace_secs,
            self.public_url,
            self.registration,
            if self.jwks_url.is_empty() { "-".into() } else { redact_url(&self.jwks_url) },
            if self.smtp_url.is_empty() { "-".into() } else { redact_url(&self.smtp_url) },
            if self.modules_dir.is_empty() { "-" } else { &self.modules_dir },
            self.module_deadline_ms,
            self.module_memory_bytes,
            self.module_concurrency,
            self.trusted_publishers.split(',').filter(|k| !k.trim().is_empty()).count(),
            self.allow_unsigned_modules,
            self.database_list()
                .map(|list| list.iter().map(|(n, u)| format!("{n}={}", redact_url(u))).collect::<Vec<_>>().join(","))
                .unwrap_or_else(|e| e.to_string()),
            self.workers,
            self.job_deadline_ms,
            self.event_max_attempts,
            self.event_retry_base_ms,
        )
    }

    /// `PLAZA_DATABASES` as `(name, url)` pairs.
    pub fn database_list(&self) -> Result<Vec<(String, String)>, ConfigError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for item in self.databases.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, url) = item.split_once('=').ok_or_else(|| {
                ConfigError::Value(format!("databases: expected name=postgres://…, got {:?}", redact_url(item)))
            })?;
            let name = name.trim();
            let ok_name = !name.is_empty()
                && name.len() <= 32
                && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && name != "main";
            if !ok_name || out.iter().any(|(n, _)| n == name) {
                return Err(ConfigError::Value(format!(
                    "databases: {name:?} must be a unique name of lower-case letters, digits and hyphens (not `main`)"
                )));
            }
            if !url.trim().starts_with("postgres://") && !url.trim().starts_with("postgresql://") {
                return Err(ConfigError::Value(format!("databases: {name} must be a postgres:// URL")));
            }
            out.push((name.to_owned(), url.trim().to_owned()));
        }
        Ok(out)
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted_summary())
    }
}

/// Replaces the password (and user name) of a URL with `***`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if !url.password().unwrap_or("").is_empty() || !url.username().is_empty() => {
            let _ = url.set_password(Some("***"));
            let _ = url.set_username("***");
            url.to_string()
        }
        _ => raw.to_owned(),
    }
}

/// Makes a path absolute against the current directory, without touching the disk.
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_in_urls() {
        let s = redact_url("postgres://plaza:s3cret@db:5432/plaza");
        assert!(!s.contains("s3cret"), "{s}");
        assert!(s.contains("db:5432/plaza"));
    }

    #[test]
    fn summary_never_shows_the_operator_token() {
        let config = Config {
            operator_token: "topsecret-token".into(),
            database_url: "postgres://u:pw-in-url@h/db".into(),
            ..Config::default()
        };
        let line = config.redacted_summary();
        assert!(!line.contains("topsecret-token"));
        assert!(!line.contains("pw-in-url"));
        assert!(!format!("{config:?}").contains("topsecret-token"));
    }

    #[test]
    fn defaults_use_sqlite_and_local_files_under_the_data_dir() {
        let config = Config::default();
        assert_eq!(config.effective_database_url(), "sqlite://./data/plaza.db");
        assert!(config.effective_storage_url().starts_with("file:///"));
        assert!(config.effective_storage_url().ends_with("/data/objects"));
    }

    #[test]
    fn rejects_bad_log_filters() {
        let config = Config { log: "plaza=loud".into(), ..Config::default() };
        assert!(config.validate().is_err());
    }

    #[test]
    fn rejects_unknown_database_schemes() {
        let config = Config { database_url: "mysql://x".into(), ..Config::default() };
        assert!(config.validate().is_err());
    }
}
