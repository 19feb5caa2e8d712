//! `hello`: Plaza's example module. It uses every capability once, in the
//! simplest way that shows how: greetings in SQL with an event published in
//! the same transaction, a counter in KV, raw values in KV and blobs, an
//! outbound fetch, settings and a secret, hashes and signatures, a
//! subscription and a nightly job.
//!
//! Cargo features build its later releases, for the registry's upgrade
//! tests: `v1_1` (1.1.0, greetings get a `language`) and `broken` (1.2.0,
//! whose migration 3 always fails). Without them it is release 1.0.0.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use plaza_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The KV key of the number of greetings made, as decimal text.
const COUNTER_KEY: &str = "greeted-count";
/// Greetings older than this are removed by the `tidy` job.
const KEEP_DAYS: i64 = 365;

/// The release this build is: the crate's version by default, else the one
/// its features name (the crate version is the same for every release).
#[cfg(not(feature = "v1_1"))]
const VERSION: &str = env!("CARGO_PKG_VERSION");
#[cfg(all(feature = "v1_1", not(feature = "broken")))]
const VERSION: &str = "1.1.0";
#[cfg(feature = "broken")]
const VERSION: &str = "1.2.0";

/// The columns of a [`Greeting`], in its field order.
#[cfg(not(feature = "v1_1"))]
const GREETING_COLUMNS: &str = "id, name, created_by, created_at";
#[cfg(feature = "v1_1")]
const GREETING_COLUMNS: &str = "id, name, language, created_by, created_at";

/// The language of a greeting that names none (and of rows from before 1.1.0,
/// through migration 2's column default).
#[cfg(feature = "v1_1")]
const DEFAULT_LANGUAGE: &str = "en";

struct Hello;

impl plaza_sdk::Module for Hello {
    fn router() -> Router {
        let router = Router::new("hello", VERSION)
            .description("Greets people. The example module: every capability, one small feature each.")
            .capabilities([
                Capability::Sql,
                Capability::Kv,
                Capability::Blob,
                Capability::Http,
                Capability::Events,
                Capability::Config,
                Capability::Log,
                Capability::Crypto,
            ])
            .allowed_hosts(["localhost"])
            .migration_pg(
                1,
                "create greetings",
                include_str!("../migrations/0001_greetings.sql"),
                include_str!("../migrations/0001_greetings.postgres.sql"),
            );
        // Later releases add migrations; shipped ones are never edited.
        #[cfg(feature = "v1_1")]
        let router = router.migration(2, "add language", include_str!("../migrations/0002_language.sql"));
        #[cfg(feature = "broken")]
        let router = router.migration(3, "broken", include_str!("../migrations/0003_broken.sql"));
        router
            .config_schema::<HelloConfig>()
            .subscribe("hello.greeted")
            .job("tidy", "0 3 * * *")
            .get("/", index)
            .public()
            .summary("Who is calling")
            .get("/version", version)
            .public()
            .summary("The module's name and the release serving")
            .get("/greetings", list_greetings)
            .roles(["member"])
            .summary("Every greeting, oldest first")
            .post("/greetings", create_greeting)
            .roles(["member"])
            .summary("Greet someone (publishes hello.greeted)")
            .get("/greetings/{id}", get_greeting)
            .roles(["member"])
            .summary("One greeting")
            .get("/stats", stats)
            .roles(["member"])
            .summary("How many greetings were made")
            .put("/kv/{key}", kv_put)
            .roles(["member"])
            .summary("Store the body under a key (query `ttl`: seconds)")
            .get("/kv/{key}", kv_get)
            .roles(["member"])
            .summary("The bytes stored under a key")
            .delete("/kv/{key}", kv_delete)
            .roles(["member"])
            .summary("Delete a key")
            .get("/kv", kv_list)
            .roles(["member"])
            .summary("Keys, by prefix, a page at a time")
            .put("/blobs/{key}", blob_put)
            .roles(["member"])
            .summary("Store the body as an object, with its content type")
            .get("/blobs/{key}", blob_get)
            .roles(["member"])
            .summary("An object, with its content type")
            .delete("/blobs/{key}", blob_delete)
            .roles(["member"])
            .summary("Delete an object")
            .get("/blobs", blob_list)
            .roles(["member"])
            .summary("Objects, by prefix")
            .post("/fetch", fetch)
            .roles(["member"])
            .summary("GET a URL through the host (allowed hosts only)")
            .get("/config", show_config)
            .roles(["admin"])
            .summary("The greeting setting and a hash of the api-token secret")
            .post("/sign", sign)
            .roles(["member"])
            .summary("Hash, MAC and sign the body with the tenant's key")
    }

    fn on_event(event: Event) -> Result<(), String> {
        log::info(format!(
            "event {} ({}) from {} at {}: {}",
            event.id, event.event_type, event.source, event.published_at, event.payload
        ));
        Ok(())
    }

    fn run_job(run: JobRun) -> Result<(), String> {
        match run.name.as_str() {
            "tidy" => {
                // Timestamps are RFC 3339 UTC text, so text order is time order
                // on both SQLite and PostgreSQL.
                let cutoff = time::rfc3339(time::now_unix() - KEEP_DAYS * 86_400);
                let removed = sql::execute("DELETE FROM greetings WHERE created_at < $1", &params![cutoff.as_str()])
                    .map_err(|e| e.to_string())?;
                log::info(format!(
                    "tidy ({} for {}): removed {removed} greetings older than {cutoff}",
                    run.run_id, run.fire_time
                ));
                Ok(())
            }
            other => Err(format!("unknown job `{other}`")),
        }
    }
}

plaza_sdk::export!(Hello);

/// The tenant's settings for this module.
#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)] // read by the host (schema) and through config::get
struct HelloConfig {
    /// What to say before the name; "Hello" when unset.
    greeting: Option<String>,
}

#[derive(Serialize, JsonSchema)]
struct About {
    module: String,
    version: String,
    tenant: String,
    user: Option<String>,
    roles: Vec<String>,
}

fn index(req: &Request) -> Result<Json<About>, Problem> {
    let caller = req.caller();
    log::info(format!("hello from {} in {}", caller.user().unwrap_or("anonymous"), caller.tenant));
    Ok(Json(About {
        module: "hello".into(),
        version: VERSION.into(),
        tenant: caller.tenant.clone(),
        user: caller.user_id.clone(),
        roles: caller.roles.clone(),
    }))
}

#[derive(Serialize, JsonSchema)]
struct ModuleVersion {
    name: &'static str,
    version: &'static str,
}

/// Which release serves: the registry's upgrade tests read it.
fn version(_req: &Request) -> Result<Json<ModuleVersion>, Problem> {
    Ok(Json(ModuleVersion { name: "hello", version: VERSION }))
}

#[derive(Serialize, Deserialize, JsonSchema)]
struct Greeting {
    id: i64,
    name: String,
    /// A language tag such as `en` (since 1.1.0).
    #[cfg(feature = "v1_1")]
    language: String,
    created_by: Option<String>,
    /// RFC 3339, UTC.
    created_at: String,
}

#[derive(Serialize, JsonSchema)]
struct Greetings {
    items: Vec<Greeting>,
}

fn list_greetings(_req: &Request) -> Result<Json<Greetings>, Problem> {
    let items = sql::query_as(&format!("SELECT {GREETING_COLUMNS} FROM greetings ORDER BY id"), &[])?;
    Ok(Json(Greetings { items }))
}

fn get_greeting(req: &Request) -> Result<Json<Greeting>, Problem> {
    let id: i64 = req.path_param("id")?;
    sql::query_one_as(&format!("SELECT {GREETING_COLUMNS} FROM greetings WHERE id = $1"), &params![id])?
        .map(Json)
        .ok_or_else(|| Problem::not_found().detail(format!("no greeting {id}")))
}

#[derive(Deserialize, JsonSchema)]
struct NewGreeting {
    /// 1 to 100 characters (surrounding spaces are trimmed).
    name: String,
    /// A language tag such as `en`, 1 to 35 characters; `en` when absent (since 1.1.0).
    #[cfg(feature = "v1_1")]
    language: Option<String>,
}

#[derive(Serialize, JsonSchema)]
struct Greeted {
    id: i64,
    name: String,
    /// Since 1.1.0.
    #[cfg(feature = "v1_1")]
    language: String,
    message: String,
    /// The id of the `hello.greeted` event.
    event_id: String,
}

#[derive(Serialize)]
struct GreetedEvent<'a> {
    id: i64,
    name: &'a str,
}

fn create_greeting(req: &Request, Json(new): Json<NewGreeting>) -> Result<Created<Greeted>, Problem> {
    let name = new.name.trim();
    let len = name.chars().count();
    if !(1..=100).contains(&len) {
        return Err(
            Problem::unprocessable(format!("name must be 1 to 100 characters, not {len}")).with("field", "name")
        );
    }
    #[cfg(feature = "v1_1")]
    let language = new_language(new.language.as_deref())?;
    let greeting = greeting_setting()?.and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| "Hello".into());

    // The row and its event commit together, or neither does.
    let (id, event_id) = sql::transaction(|| -> Result<(i64, String), Problem> {
        #[cfg(not(feature = "v1_1"))]
        let rows = sql::query(
            "INSERT INTO greetings (name, created_by, created_at) VALUES ($1, $2, $3) RETURNING id",
            &params![name, req.caller().user(), time::now_rfc3339()],
        )?;
        #[cfg(feature = "v1_1")]
        let rows = sql::query(
            "INSERT INTO greetings (name, language, created_by, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            &params![name, language.as_str(), req.caller().user(), time::now_rfc3339()],
        )?;
        let id = rows
            .get(0, "id")
            .and_then(sql::Value::as_i64)
            .ok_or_else(|| Problem::internal("INSERT … RETURNING id returned no id"))?;
        let event_id = events::publish("hello.greeted", &GreetedEvent { id, name })?;
        Ok((id, event_id))
    })?;

    let count = greeted_count()? + 1;
    kv::set(COUNTER_KEY, count.to_string())?;

    Ok(Created(Greeted {
        id,
        name: name.to_owned(),
        #[cfg(feature = "v1_1")]
        language,
        message: format!("{greeting}, {name}!"),
        event_id,
    }))
}

/// The language of a new greeting: trimmed, 1 to 35 characters (the
/// longest usual language tag), [`DEFAULT_LANGUAGE`] when absent.
#[cfg(feature = "v1_1")]
fn new_language(language: Option<&str>) -> Result<String, Problem> {
    let Some(language) = language.map(str::trim) else {
        return Ok(DEFAULT_LANGUAGE.to_owned());
    };
    let len = language.chars().count();
    if !(1..=35).contains(&len) {
        return Err(
            Problem::unprocessable(format!("language must be 1 to 35 characters, not {len}")).with("field", "language")
        );
    }
    Ok(language.to_owned())
}

/// The `greeting` setting as it is stored (JSON), if set.
fn greeting_setting() -> Result<Option<serde_json::Value>, Problem> {
    Ok(config::get::<serde_json::Value>("greeting")?)
}

/// The counter in KV; a value that is not a number counts as 0.
fn greeted_count() -> Result<u64, Problem> {
    Ok(kv::get_string(COUNTER_KEY)?.and_then(|s| s.trim().parse().ok()).unwrap_or(0))
}

#[derive(Serialize, JsonSchema)]
struct Stats {
    greeted_count: u64,
}

fn stats(_req: &Request) -> Result<Json<Stats>, Problem> {
    Ok(Json(Stats { greeted_count: greeted_count()? }))
}

// ----- kv -----

#[derive(Deserialize)]
struct TtlQuery {
    ttl: Option<u32>,
}

fn kv_put(req: &Request) -> Result<NoContent, Problem> {
    let key: String = req.path_param("key")?;
    let TtlQuery { ttl } = req.query()?;
    kv::set_opt_ttl(&key, req.body(), ttl)?;
    Ok(NoContent)
}

fn kv_get(req: &Request) -> Result<Response, Problem> {
    let key: String = req.path_param("key")?;
    match kv::get(&key)? {
        Some(value) => Ok(Response::bytes("application/octet-stream", value)),
        None => Err(Problem::not_found().detail(format!("no key `{key}`"))),
    }
}

fn kv_delete(req: &Request) -> Result<NoContent, Problem> {
    let key: String = req.path_param("key")?;
    if kv::delete(&key)? { Ok(NoContent) } else { Err(Problem::not_found().detail(format!("no key `{key}`"))) }
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    prefix: String,
    cursor: Option<String>,
    limit: Option<u32>,
}

impl Page {
    /// 100 by default, at most 1000.
    fn limit(&self) -> u32 {
        self.limit.unwrap_or(100).clamp(1, 1000)
    }
}

#[derive(Serialize, JsonSchema)]
struct Keys {
    keys: Vec<String>,
}

fn kv_list(req: &Request) -> Result<Json<Keys>, Problem> {
    let page: Page = req.query()?;
    let keys = kv::list_keys(&page.prefix, page.cursor.as_deref(), page.limit())?;
    Ok(Json(Keys { keys }))
}

// ----- blobs -----

fn blob_put(req: &Request) -> Result<NoContent, Problem> {
    let key: String = req.path_param("key")?;
    let content_type = req.content_type().unwrap_or("application/octet-stream");
    blob::put(&key, req.body(), content_type)?;
    Ok(NoContent)
}

fn blob_get(req: &Request) -> Result<Response, Problem> {
    let key: String = req.path_param("key")?;
    match blob::get(&key)? {
        Some(object) => Ok(Response::bytes(&object.content_type, object.data)),
        None => Err(Problem::not_found().detail(format!("no object `{key}`"))),
    }
}

fn blob_delete(req: &Request) -> Result<NoContent, Problem> {
    let key: String = req.path_param("key")?;
    if blob::delete(&key)? { Ok(NoContent) } else { Err(Problem::not_found().detail(format!("no object `{key}`"))) }
}

#[derive(Serialize, JsonSchema)]
struct ObjectEntry {
    key: String,
    size: u64,
    content_type: String,
}

#[derive(Serialize, JsonSchema)]
struct Objects {
    objects: Vec<ObjectEntry>,
}

fn blob_list(req: &Request) -> Result<Json<Objects>, Problem> {
    let page: Page = req.query()?;
    let objects = blob::list(&page.prefix, page.cursor.as_deref(), page.limit())?
        .into_iter()
        .map(|o| ObjectEntry { key: o.key, size: o.size, content_type: o.content_type })
        .collect();
    Ok(Json(Objects { objects }))
}

// ----- http -----

#[derive(Deserialize, JsonSchema)]
struct FetchRequest {
    /// An absolute URL on an allowed host.
    url: String,
}

#[derive(Serialize, JsonSchema)]
struct Fetched {
    status: u16,
    /// The body as text (invalid UTF-8 replaced).
    body: String,
}

fn fetch(_req: &Request, Json(FetchRequest { url }): Json<FetchRequest>) -> Result<Json<Fetched>, Problem> {
    // A failed call becomes a problem with the host's reason as the detail
    // (refused → 403, invalid → 400, unavailable → 503, ...).
    let answer = http::get(url).timeout_ms(10_000).send()?;
    Ok(Json(Fetched { status: answer.status, body: answer.body_text() }))
}

// ----- config -----

#[derive(Serialize, JsonSchema)]
struct ConfigView {
    greeting: Option<serde_json::Value>,
    /// SHA-256 (hex) of the `api-token` secret: proves it is set without showing it.
    secret_sha256: Option<String>,
}

fn show_config(_req: &Request) -> Result<Json<ConfigView>, Problem> {
    let secret_sha256 = config::secret("api-token")?.map(|s| crypto::to_hex(&crypto::sha256(s.as_bytes())));
    Ok(Json(ConfigView { greeting: greeting_setting()?, secret_sha256 }))
}

// ----- crypto -----

#[derive(Serialize, JsonSchema)]
struct Signed {
    sha256: String,
    /// HMAC-SHA-256 (hex) with the key `plaza`.
    hmac: String,
    /// Ed25519 signature (base64) with the tenant's key for this module.
    signature: String,
    public_key: String,
    verified: bool,
}

fn sign(req: &Request) -> Result<Json<Signed>, Problem> {
    let body = req.body();
    let signature = crypto::sign(body)?;
    let public_key = crypto::public_key()?;
    Ok(Json(Signed {
        sha256: crypto::to_hex(&crypto::sha256(body)),
        hmac: crypto::to_hex(&crypto::hmac_sha256(b"plaza", body)),
        verified: crypto::verify(body, &signature, &public_key),
        signature: BASE64.encode(&signature),
        public_key: BASE64.encode(&public_key),
    }))
}

#[cfg(test)]
mod tests {
    use plaza_sdk::Module as _;

    use super::*;

    /// Each feature set builds the release `cargo xtask plugins` names its
    /// package after, with that release's migrations.
    #[test]
    fn the_manifest_describes_the_release() {
        let manifest = Hello::router().manifest();
        let (version, migrations): (&str, &[u32]) = if cfg!(feature = "broken") {
            ("1.2.0", &[1, 2, 3])
        } else if cfg!(feature = "v1_1") {
            ("1.1.0", &[1, 2])
        } else {
            ("1.0.0", &[1])
        };
        assert_eq!(manifest.version, version);
        assert_eq!(manifest.migrations.iter().map(|m| m.version).collect::<Vec<_>>(), migrations);
        assert!(manifest.routes.iter().any(|r| r.path == "/version"), "GET /version is declared");
    }
}
