//! The router: the one place a module describes itself. Its routes dispatch
//! requests inside the guest and, with everything else declared on it,
//! become the manifest the host reads at publish time.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::fmt;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::bindings::plaza::module::types::{
    Access, Capability, Dependency, Job, Limits, Manifest, Method, Migration, Route,
};
use crate::request::parse_json_body;
use crate::{IntoResponse, Json, Problem, Request, Response};

/// JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1) of `T`, as JSON
/// text: one self-contained document (shared definitions under `$defs`).
pub fn schema_json<T: JsonSchema + ?Sized>() -> String {
    schemars::SchemaGenerator::default().into_root_schema_for::<T>().as_value().to_string()
}

/// The body of an action that takes no input (`POST /posts/{id}/unpublish`):
/// declare it with `.request::<NoInput>()` and the route is documented as
/// taking an empty JSON object rather than raw bytes. The handler does not
/// read the body, so clients may send `{}` or nothing.
#[derive(Debug, Default, serde::Deserialize, JsonSchema)]
pub struct NoInput {}

thread_local! {
    /// False while a router is built to serve one call rather than to
    /// describe the module (see [`serving`]).
    static DESCRIBING: Cell<bool> = const { Cell::new(true) };
}

/// Whether the router being built describes the module (its manifest).
fn describing() -> bool {
    DESCRIBING.with(Cell::get)
}

/// Builds a router only to serve calls: each call gets a fresh instance, so
/// the router is built again on every call, and what only the manifest
/// needs — summaries, descriptions, operation ids, migrations' text, the
/// checks of the description (made when the manifest is built, at publish)
/// — is skipped. Dispatch needs the methods, templates and handlers only.
#[doc(hidden)]
pub fn serving<R>(build: impl FnOnce() -> R) -> R {
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            DESCRIBING.with(|d| d.set(true));
        }
    }
    DESCRIBING.with(|d| d.set(false));
    let _restore = Restore;
    build()
}

/// Generates a schema lazily: routers are built on every call (each call
/// gets a fresh instance), schemas are needed only by `manifest()`.
type SchemaFn = fn() -> Option<String>;

fn some_schema<T: JsonSchema + ?Sized>() -> Option<String> {
    Some(schema_json::<T>())
}

/// A function that can serve a route. Implemented for
///
/// - `fn(&Request) -> Result<R, Problem>`, and
/// - `fn(&Request, Json<B>) -> Result<R, Problem>` (the body is parsed
///   before the call: malformed → 400, wrong shape → 422),
///
/// where `R` is an [`IntoResponse`] (`Response`, `Json<T>`, `Created<T>`,
/// `NoContent`). The request schema comes from `B` and the response schema
/// from `R`, so the manifest documents the route from the handler's own
/// signature. `Args` only tells the two shapes apart.
pub trait Handler<Args>: 'static {
    /// Serves one request.
    fn call(&self, req: &Request) -> Result<Response, Problem>;

    /// JSON Schema of the request body, if the handler takes one.
    fn request_schema() -> Option<String>
    where
        Self: Sized;

    /// JSON Schema of the success body, if the handler's answer has one.
    fn response_schema() -> Option<String>
    where
        Self: Sized;
}

impl<F, R> Handler<(R,)> for F
where
    F: Fn(&Request) -> Result<R, Problem> + 'static,
    R: IntoResponse,
{
    fn call(&self, req: &Request) -> Result<Response, Problem> {
        self(req).map(IntoResponse::into_response)
    }

    fn request_schema() -> Option<String> {
        None
    }

    fn response_schema() -> Option<String> {
        R::response_schema()
    }
}

impl<F, B, R> Handler<(Json<B>, R)> for F
where
    F: Fn(&Request, Json<B>) -> Result<R, Problem> + 'static,
    B: DeserializeOwned + JsonSchema,
    R: IntoResponse,
{
    fn call(&self, req: &Request) -> Result<Response, Problem> {
        let body = parse_json_body::<B>(&req.body)?;
        self(req, Json(body)).map(IntoResponse::into_response)
    }

    fn request_schema() -> Option<String> {
        some_schema::<B>()
    }

    fn response_schema() -> Option<String> {
        R::response_schema()
    }
}

type BoxedHandler = Box<dyn Fn(&Request) -> Result<Response, Problem>>;

struct Entry {
    /// The manifest's route, schemas left empty until `manifest()`.
    route: Route,
    /// Who may call it; `manifest()` insists it was said.
    access: Option<Access>,
    request_schema: SchemaFn,
    response_schema: SchemaFn,
    handler: BoxedHandler,
}

/// A module's description and routes. Build it in [`crate::Module::router`]:
///
/// ```
/// # use plaza_sdk::prelude::*;
/// # fn index(_: &Request) -> Result<Response, Problem> { Ok(Response::no_content()) }
/// # #[derive(serde::Deserialize, schemars::JsonSchema)] struct New { name: String }
/// # fn create(_: &Request, _: Json<New>) -> Result<NoContent, Problem> { Ok(NoContent) }
/// let router = Router::new("hello", "1.0.0")
///     .description("Greets people")
///     .capabilities([Capability::Sql, Capability::Log])
///     .migration(1, "create greetings", "CREATE TABLE greetings (id INTEGER PRIMARY KEY, name TEXT)")
///     .get("/", index).public().summary("Who is calling")
///     .post("/greetings", create).roles(["member"]).summary("Greet someone");
/// assert_eq!(router.manifest().routes[1].operation_id, "post_greetings");
/// ```
///
/// Route settings (`public`, `roles`, `summary`, `operation_id`, ...) apply
/// to the route added last. Every route must say who may call it, with
/// `.public()` or `.roles([..])`: there is no default, so nothing is opened
/// by omission (the host refuses a manifest without it, too).
///
/// Mistakes in the description itself (a route setting before any route, the
/// same method and path twice, a malformed template, a route without access)
/// panic: the module cannot be published with them, the panic message says
/// what to fix, and a native unit test calling `manifest()` finds them early.
pub struct Router {
    name: String,
    version: String,
    description: String,
    capabilities: Vec<Capability>,
    allowed_hosts: Vec<String>,
    migrations: Vec<Migration>,
    jobs: Vec<Job>,
    subscriptions: Vec<String>,
    config_schema: SchemaFn,
    dependencies: Vec<Dependency>,
    roles: Vec<String>,
    limits: Limits,
    routes: Vec<Entry>,
    /// Routes under this prefix also answer without it (deprecated aliases).
    legacy_prefix: Option<String>,
}

impl Default for Limits {
    /// No limit asked for: the operator's caps apply.
    fn default() -> Self {
        Self {
            deadline_ms: None,
            memory_bytes: None,
            response_bytes: None,
            sql_statements: None,
            sql_rows: None,
            http_requests: None,
        }
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routes: Vec<String> =
            self.routes.iter().map(|e| format!("{} {}", method_name(e.route.method), e.route.path)).collect();
        f.debug_struct("Router")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("routes", &routes)
            .field("legacy_prefix", &self.legacy_prefix)
            .finish_non_exhaustive()
    }
}

fn no_schema() -> Option<String> {
    None
}

impl Router {
    /// A module named `name` (lower case, also its URL segment) at semantic
    /// version `version` (usually `env!("CARGO_PKG_VERSION")`).
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            description: String::new(),
            capabilities: Vec::new(),
            allowed_hosts: Vec::new(),
            migrations: Vec::new(),
            jobs: Vec::new(),
            subscriptions: Vec::new(),
            config_schema: no_schema,
            dependencies: Vec::new(),
            roles: Vec::new(),
            limits: Limits::default(),
            routes: Vec::new(),
            legacy_prefix: None,
        }
    }

    // ----- the module -----

    /// What the module does, for the registry and the tenant's API document.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        if describing() {
            self.description = text.into();
        }
        self
    }

    /// Host capabilities the module imports; calling an undeclared one fails
    /// with `undeclared-capability`.
    pub fn capabilities(mut self, capabilities: impl IntoIterator<Item = Capability>) -> Self {
        for c in capabilities {
            if !self.capabilities.contains(&c) {
                self.capabilities.push(c);
            }
        }
        self
    }

    /// Hosts the `http` capability may reach (`api.example.com`, `*.example.com`).
    pub fn allowed_hosts(mut self, hosts: impl IntoIterator<Item = impl Into<String>>) -> Self {
        if describing() {
            self.allowed_hosts.extend(hosts.into_iter().map(Into::into));
        }
        self
    }

    /// A migration in the portable dialect, run on both SQLite and PostgreSQL.
    pub fn migration(self, version: u32, name: impl Into<String>, sql: impl Into<String>) -> Self {
        if !describing() {
            return self;
        }
        self.push_migration(Migration { version, name: name.into(), sql: sql.into(), postgres_sql: None })
    }

    /// A migration with a PostgreSQL variant, for where the dialects must
    /// differ (e.g. `INTEGER PRIMARY KEY` auto-increments only on SQLite).
    pub fn migration_pg(
        self,
        version: u32,
        name: impl Into<String>,
        sql: impl Into<String>,
        postgres_sql: impl Into<String>,
    ) -> Self {
        if !describing() {
            return self;
        }
        self.push_migration(Migration {
            version,
            name: name.into(),
            sql: sql.into(),
            postgres_sql: Some(postgres_sql.into()),
        })
    }

    fn push_migration(mut self, migration: Migration) -> Self {
        if let Some(last) = self.migrations.last()
            && migration.version <= last.version
        {
            panic!(
                "migration {} (`{}`) must come after migration {}: versions increase, each used once",
                migration.version, migration.name, last.version
            );
        }
        self.migrations.push(migration);
        self
    }

    /// JSON Schema of the tenant's settings for this module (`config::get` reads them).
    pub fn config_schema<T: JsonSchema>(mut self) -> Self {
        self.config_schema = some_schema::<T>;
        self
    }

    /// Subscribes `on_event` to an event type.
    pub fn subscribe(mut self, event_type: impl Into<String>) -> Self {
        if describing() {
            self.subscriptions.push(event_type.into());
        }
        self
    }

    /// A scheduled job: cron with five fields (minute first) or six
    /// (seconds first), in UTC. `run_job` gets its runs.
    pub fn job(self, name: impl Into<String>, schedule: impl Into<String>) -> Self {
        if !describing() {
            return self;
        }
        self.job_with(Job { name: name.into(), schedule: schedule.into(), timezone: None, deadline_ms: None })
    }

    /// A scheduled job with every setting (time zone, deadline).
    pub fn job_with(mut self, job: Job) -> Self {
        if !describing() {
            return self;
        }
        if self.jobs.iter().any(|j| j.name == job.name) {
            panic!("job `{}` is declared twice", job.name);
        }
        self.jobs.push(job);
        self
    }

    /// Another module this one needs, with a semver range (`^1.2`).
    pub fn depends_on(mut self, name: impl Into<String>, version_req: impl Into<String>) -> Self {
        if !describing() {
            return self;
        }
        self.dependencies.push(Dependency { name: name.into(), version_req: version_req.into() });
        self
    }

    /// Roles the module defines (e.g. `producer`), for tenant admins to grant.
    pub fn define_roles(mut self, roles: impl IntoIterator<Item = impl Into<String>>) -> Self {
        if !describing() {
            return self;
        }
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// Per-call limits the module asks for; the operator's caps win.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    // ----- routes -----

    /// Adds a route: `path` is a template below the module's prefix, with
    /// `{name}` parameters (`/posts/{slug}`).
    pub fn route<H, Args>(mut self, method: Method, path: &str, handler: H) -> Self
    where
        H: Handler<Args>,
    {
        // Serving one call, the router needs what dispatch needs: the
        // description's checks and the operation id are for the manifest.
        let describing = describing();
        if describing {
            check_template(path);
            if self.routes.iter().any(|e| e.route.method == method && e.route.path == path) {
                panic!("route {} {path} is declared twice", method_name(method));
            }
        }
        let route = Route {
            method,
            path: path.to_owned(),
            operation_id: if describing { default_operation_id(method, path) } else { String::new() },
            summary: String::new(),
            description: None,
            request_schema: None,
            response_schema: None,
            access: Access::Public,
            deprecated: false,
        };
        self.routes.push(Entry {
            route,
            access: None,
            request_schema: H::request_schema,
            response_schema: H::response_schema,
            handler: Box::new(move |req| handler.call(req)),
        });
        if describing {
            self.check_aliases(Some(self.routes.len() - 1));
        }
        self
    }

    /// Every route whose path starts with `prefix` (a whole segment or
    /// more: `/api` covers `/api` and `/api/videos`, not `/apis`) also
    /// answers without it, as a deprecated alias: `/api/videos/{id}` at
    /// `/videos/{id}`, `/api` itself at `/`. Declared once; it covers the
    /// routes added before and after it.
    ///
    /// `manifest()` lists each alias after the routes: same method, access,
    /// schemas and summary, `deprecated`, a description naming the route it
    /// stands for, and the operation id `legacy_<operation id>`. `handle()`
    /// serves an alias with the original route's handler. An alias that
    /// collides with a declared route (same method, same template up to
    /// parameter names) panics, like the other description mistakes.
    pub fn legacy_alias_prefix(mut self, prefix: &str) -> Self {
        if !describing() {
            self.legacy_prefix = Some(prefix.to_owned());
            return self;
        }
        if let Some(old) = &self.legacy_prefix {
            panic!("legacy_alias_prefix is declared once (`{old}`, then `{prefix}`)");
        }
        if !prefix.starts_with('/') || prefix.len() < 2 || prefix.ends_with('/') || prefix.contains(['{', '}']) {
            panic!("legacy alias prefix `{prefix}`: literal segments starting with `/`, without a trailing `/`");
        }
        self.legacy_prefix = Some(prefix.to_owned());
        self.check_aliases(None);
        self
    }

    /// The alias template of a route path, if the legacy prefix covers it.
    fn alias_of<'a>(&self, path: &'a str) -> Option<&'a str> {
        let rest = path.strip_prefix(self.legacy_prefix.as_deref()?)?;
        match rest {
            "" => Some("/"),
            _ if rest.starts_with('/') => Some(rest),
            _ => None,
        }
    }

    /// Whether `entry` serves the route template `template`, itself or as
    /// its legacy alias.
    fn serves(&self, entry: &Entry, template: &str) -> bool {
        entry.route.path == template || self.alias_of(&entry.route.path) == Some(template)
    }

    /// Panics when an alias takes the place of a declared route. With
    /// `added`, only the pairs involving that route (the one just added);
    /// without, every pair (the prefix was just declared).
    fn check_aliases(&self, added: Option<usize>) {
        let Some(prefix) = &self.legacy_prefix else { return };
        let is_new = |i: usize| added.is_none_or(|a| a == i);
        for (i, aliased) in self.routes.iter().enumerate() {
            let Some(alias) = self.alias_of(&aliased.route.path) else { continue };
            let method = aliased.route.method;
            let taken = self.routes.iter().enumerate().find(|(j, e)| {
                (is_new(i) || is_new(*j)) && e.route.method == method && same_shape(&e.route.path, alias)
            });
            if let Some((_, taken)) = taken {
                panic!(
                    "the legacy alias {m} {alias} (of {m} {}, prefix `{prefix}`) collides with the route {m} {}",
                    aliased.route.path,
                    taken.route.path,
                    m = method_name(method),
                );
            }
        }
    }

    /// A `GET` route.
    pub fn get<H: Handler<Args>, Args>(self, path: &str, handler: H) -> Self {
        self.route(Method::Get, path, handler)
    }

    /// A `HEAD` route (without one, `HEAD` is served by the `GET` route).
    pub fn head<H: Handler<Args>, Args>(self, path: &str, handler: H) -> Self {
        self.route(Method::Head, path, handler)
    }

    /// A `POST` route.
    pub fn post<H: Handler<Args>, Args>(self, path: &str, handler: H) -> Self {
        self.route(Method::Post, path, handler)
    }

    /// A `PUT` route.
    pub fn put<H: Handler<Args>, Args>(self, path: &str, handler: H) -> Self {
        self.route(Method::Put, path, handler)
    }

    /// A `PATCH` route.
    pub fn patch<H: Handler<Args>, Args>(self, path: &str, handler: H) -> Self {
        self.route(Method::Patch, path, handler)
    }

    /// A `DELETE` route.
    pub fn delete<H: Handler<Args>, Args>(self, path: &str, handler: H) -> Self {
        self.route(Method::Delete, path, handler)
    }

    /// An `OPTIONS` route.
    pub fn options<H: Handler<Args>, Args>(self, path: &str, handler: H) -> Self {
        self.route(Method::Options, path, handler)
    }

    fn last_route(&mut self, setting: &str) -> &mut Entry {
        match self.routes.last_mut() {
            Some(entry) => entry,
            None => panic!("`{setting}` configures the route added last: call it after get/post/put/..."),
        }
    }

    /// The last route answers anyone, without credentials.
    pub fn public(mut self) -> Self {
        self.last_route("public").access = Some(Access::Public);
        self
    }

    /// The last route needs one of these roles in the tenant (at least one role).
    pub fn roles(mut self, roles: impl IntoIterator<Item = impl Into<String>>) -> Self {
        if !describing() {
            // The host checks roles before the call.
            return self;
        }
        let roles: Vec<String> = roles.into_iter().map(Into::into).collect();
        let entry = self.last_route("roles");
        if roles.is_empty() {
            panic!(
                "route {} {}: `roles` needs at least one role (or use `public()`)",
                method_name(entry.route.method),
                entry.route.path
            );
        }
        entry.access = Some(Access::Roles(roles));
        self
    }

    /// One line about the last route, for the API document.
    pub fn summary(mut self, text: impl Into<String>) -> Self {
        if !describing() {
            return self;
        }
        self.last_route("summary").route.summary = text.into();
        self
    }

    /// A longer description of the last route (Markdown).
    pub fn route_description(mut self, text: impl Into<String>) -> Self {
        if !describing() {
            return self;
        }
        self.last_route("route_description").route.description = Some(text.into());
        self
    }

    /// The last route's operation id, instead of the default derived from
    /// method and path (`GET /greetings/{id}` → `get_greetings_id`).
    pub fn operation_id(mut self, id: impl Into<String>) -> Self {
        if !describing() {
            return self;
        }
        self.last_route("operation_id").route.operation_id = id.into();
        self
    }

    /// Marks the last route deprecated.
    pub fn deprecated(mut self) -> Self {
        self.last_route("deprecated").route.deprecated = true;
        self
    }

    /// The last route's request body schema, for a handler that reads the
    /// body itself (`req.json::<T>()`) rather than taking `Json<T>`.
    pub fn request<T: JsonSchema>(mut self) -> Self {
        self.last_route("request").request_schema = some_schema::<T>;
        self
    }

    /// The last route's response body schema, for a handler that answers a
    /// plain `Response` rather than `Json<T>`/`Created<T>`.
    pub fn response<T: JsonSchema>(mut self) -> Self {
        self.last_route("response").response_schema = some_schema::<T>;
        self
    }

    // ----- use -----

    /// The manifest: everything declared above, with the routes' schemas
    /// generated now, then the legacy aliases (see
    /// [`Router::legacy_alias_prefix`]). Panics on a route without access
    /// and on duplicate operation ids (publish-time bugs).
    pub fn manifest(&self) -> Manifest {
        let mut routes: Vec<Route> = self
            .routes
            .iter()
            .map(|e| {
                let Some(access) = e.access.clone() else {
                    panic!(
                        "route {} {}: say who may call it with .public() or .roles([..])",
                        method_name(e.route.method),
                        e.route.path
                    );
                };
                Route {
                    access,
                    request_schema: (e.request_schema)(),
                    response_schema: (e.response_schema)(),
                    ..e.route.clone()
                }
            })
            .collect();
        let aliases: Vec<Route> = routes
            .iter()
            .filter_map(|r| {
                let alias = self.alias_of(&r.path)?;
                let of = format!("Deprecated alias of `{} {}`.", method_name(r.method), r.path);
                Some(Route {
                    path: alias.to_owned(),
                    operation_id: format!("legacy_{}", r.operation_id),
                    description: Some(match &r.description {
                        Some(d) => format!("{of}\n\n{d}"),
                        None => of,
                    }),
                    deprecated: true,
                    ..r.clone()
                })
            })
            .collect();
        routes.extend(aliases);
        let mut ids = BTreeSet::new();
        for r in &routes {
            if !ids.insert(r.operation_id.as_str()) {
                panic!(
                    "operation id `{}` is used twice (last by {} {}): set one with .operation_id(..)",
                    r.operation_id,
                    method_name(r.method),
                    r.path
                );
            }
        }
        Manifest {
            name: self.name.clone(),
            version: self.version.clone(),
            description: self.description.clone(),
            routes,
            capabilities: self.capabilities.clone(),
            allowed_hosts: self.allowed_hosts.clone(),
            migrations: self.migrations.clone(),
            jobs: self.jobs.clone(),
            subscriptions: self.subscriptions.clone(),
            config_schema: (self.config_schema)(),
            dependencies: self.dependencies.clone(),
            roles: self.roles.clone(),
            limits: self.limits,
        }
    }

    /// Serves a request the host routed here, by its method and the route
    /// template that matched (the host has already extracted the path
    /// parameters). An unknown template is a 404 and a known template with
    /// another method a 405 (with `allow`); `HEAD` falls back to `GET`
    /// without the body. A legacy alias template is served by the route it
    /// stands for. A handler's problem becomes a problem+json answer
    /// carrying the request id and the path the client sent
    /// (`/t/{tenant}/{module}/…`). Panics are not caught: they trap,
    /// and the host answers 500 naming the module.
    pub fn handle(&self, req: &Request) -> Response {
        let find = |method: Method| self.routes.iter().find(|e| e.route.method == method && self.serves(e, &req.route));
        let result = match find(req.method) {
            Some(entry) => (entry.handler)(req),
            None if req.method == Method::Head => match find(Method::Get) {
                Some(entry) => (entry.handler)(req).map(|r| r.with_body(Vec::new())),
                None => Err(self.no_route(req)),
            },
            None => Err(self.no_route(req)),
        };
        result.unwrap_or_else(|problem| {
            let instance = format!("/t/{}/{}{}", req.caller.tenant, self.name, req.path);
            problem.to_response(Some(&instance), Some(&req.caller.request_id))
        })
    }

    fn no_route(&self, req: &Request) -> Problem {
        let allowed: Vec<&str> =
            self.routes.iter().filter(|e| self.serves(e, &req.route)).map(|e| method_name(e.route.method)).collect();
        if allowed.is_empty() {
            Problem::not_found().detail(format!("module `{}` has no route `{}`", self.name, req.route))
        } else {
            Problem::of_kind(405, "method-not-allowed")
                .detail(format!(
                    "{} {} is not served; allowed: {}",
                    method_name(req.method),
                    req.route,
                    allowed.join(", ")
                ))
                .header("allow", allowed.join(", "))
        }
    }
}

/// The method as HTTP spells it.
pub fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
        Method::Options => "OPTIONS",
    }
}

/// The capability as the WIT spells it.
pub(crate) fn capability_name(c: Capability) -> &'static str {
    match c {
        Capability::Sql => "sql",
        Capability::Kv => "kv",
        Capability::Blob => "blob",
        Capability::Http => "http",
        Capability::Events => "events",
        Capability::Config => "config",
        Capability::Log => "log",
        Capability::Crypto => "crypto",
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(capability_name(*self))
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(method_name(*self))
    }
}

/// `get_greetings_id` for `GET /greetings/{id}`, `get_root` for `GET /`.
fn default_operation_id(method: Method, path: &str) -> String {
    let mut id = method_name(method).to_ascii_lowercase();
    let mut words = 0;
    for word in path.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        id.push('_');
        id.push_str(&word.to_ascii_lowercase());
        words += 1;
    }
    if words == 0 {
        id.push_str("_root");
    }
    id
}

/// Whether two templates match the same paths: equal once parameter names
/// are ignored (`/a/{x}` and `/a/{y}`).
fn same_shape(a: &str, b: &str) -> bool {
    fn shape(path: &str) -> impl Iterator<Item = &str> {
        path.split('/').map(|s| if s.starts_with('{') { "{}" } else { s })
    }
    shape(a).eq(shape(b))
}

/// A template starts with `/` and its `{name}` parameters are whole
/// segments with distinct, non-empty names.
fn check_template(path: &str) {
    if !path.starts_with('/') {
        panic!("route path `{path}` must start with `/`");
    }
    let mut names = BTreeSet::new();
    for segment in path.split('/').skip(1) {
        let opens = segment.matches('{').count();
        let closes = segment.matches('}').count();
        if opens == 0 && closes == 0 {
            continue;
        }
        let name = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
        match name {
            Some(name) if opens == 1 && closes == 1 && !name.is_empty() => {
                if !names.insert(name) {
                    panic!("route path `{path}` uses parameter `{name}` twice");
                }
            }
            _ => panic!("route path `{path}`: a parameter is a whole segment, `{{name}}`"),
        }
    }
}

#[cfg(test)]
mod tests {
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};
    use serde_json::Value;

    use super::*;
    use crate::request::tests::request;
    use crate::{Created, NoContent};

    #[derive(Deserialize, JsonSchema)]
    struct NewThing {
        #[allow(dead_code)]
        name: String,
    }

    #[derive(Serialize, JsonSchema)]
    struct Thing {
        id: i64,
        name: String,
    }

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Settings {
        greeting: Option<String>,
    }

    fn index(req: &Request) -> Result<Response, Problem> {
        Ok(Response::text(format!("hi {}", req.caller().tenant)))
    }

    fn get_thing(req: &Request) -> Result<Json<Thing>, Problem> {
        let id: i64 = req.path_param("id")?;
        if id == 1 { Ok(Json(Thing { id, name: "one".into() })) } else { Err(Problem::not_found()) }
    }

    fn create_thing(_req: &Request, Json(new): Json<NewThing>) -> Result<Created<Thing>, Problem> {
        Ok(Created(Thing { id: 7, name: new.name }))
    }

    fn delete_thing(_req: &Request) -> Result<NoContent, Problem> {
        Ok(NoContent)
    }

    fn router() -> Router {
        Router::new("things", "1.2.3")
            .description("Things")
            .capabilities([Capability::Sql, Capability::Log, Capability::Sql])
            .allowed_hosts(["localhost"])
            .migration(1, "create", "CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .migration_pg(2, "more", "SELECT 1", "SELECT 2")
            .config_schema::<Settings>()
            .subscribe("things.made")
            .job("tidy", "0 3 * * *")
            .limits(Limits { deadline_ms: Some(2000), ..Default::default() })
            .get("/", index)
            .public()
            .summary("Hello")
            .get("/things/{id}", get_thing)
            .roles(["member"])
            .post("/things", create_thing)
            .roles(["member"])
            .operation_id("make_thing")
            .delete("/things/{id}", delete_thing)
            .deprecated()
            .roles(["admin", "owner"])
            .put("/raw", |_req: &Request| Ok::<_, Problem>(Response::no_content()))
            .public()
            .request::<NewThing>()
            .response::<Thing>()
    }

    fn schema(s: &Option<String>) -> Value {
        serde_json::from_str(s.as_deref().unwrap()).unwrap()
    }

    #[test]
    fn the_manifest_is_generated_from_the_router() {
        let m = router().manifest();
        assert_eq!((m.name.as_str(), m.version.as_str(), m.description.as_str()), ("things", "1.2.3", "Things"));
        assert_eq!(m.capabilities, vec![Capability::Sql, Capability::Log]);
        assert_eq!(m.allowed_hosts, vec!["localhost"]);
        assert_eq!(m.migrations.len(), 2);
        assert_eq!(m.migrations[1].postgres_sql.as_deref(), Some("SELECT 2"));
        assert_eq!(m.subscriptions, vec!["things.made"]);
        assert_eq!(m.jobs[0].schedule, "0 3 * * *");
        assert_eq!(m.limits.deadline_ms, Some(2000));
        assert_eq!(m.limits.memory_bytes, None);
        assert_eq!(schema(&m.config_schema)["properties"]["greeting"]["type"], serde_json::json!(["string", "null"]));

        let ids: Vec<&str> = m.routes.iter().map(|r| r.operation_id.as_str()).collect();
        assert_eq!(ids, ["get_root", "get_things_id", "make_thing", "delete_things_id", "put_raw"]);
        let [index, get, post, delete, raw] = &m.routes[..] else { panic!("five routes") };
        assert_eq!(index.access, Access::Public);
        assert_eq!(index.summary, "Hello");
        assert_eq!((index.request_schema.as_deref(), index.response_schema.as_deref()), (None, None));
        assert_eq!(get.access, Access::Roles(vec!["member".into()]));
        assert_eq!(get.request_schema, None);
        assert_eq!(schema(&get.response_schema)["title"], "Thing");
        assert_eq!(schema(&post.request_schema)["required"], serde_json::json!(["name"]));
        assert_eq!(schema(&post.response_schema)["properties"]["id"]["type"], "integer");
        assert!(delete.deprecated);
        assert_eq!(delete.access, Access::Roles(vec!["admin".into(), "owner".into()]));
        assert_eq!(delete.response_schema, None);
        assert_eq!(schema(&raw.request_schema)["title"], "NewThing");
        assert_eq!(schema(&raw.response_schema)["title"], "Thing");
    }

    #[test]
    fn requests_dispatch_by_method_and_route_template() {
        let r = router();
        let mut req = request(Method::Get, "/things/{id}");
        req.path = "/things/1".into();
        req.path_params = vec![("id".into(), "1".into())];
        let resp = r.handle(&req);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body_json::<Value>().unwrap(), serde_json::json!({"id": 1, "name": "one"}));

        req.path_params = vec![("id".into(), "2".into())];
        let resp = r.handle(&req);
        assert_eq!(resp.status, 404);
        assert_eq!(resp.header("content-type"), Some("application/problem+json"));
        let doc: Value = resp.body_json().unwrap();
        assert_eq!(
            (doc["instance"].as_str(), doc["request_id"].as_str()),
            (Some("/t/acme/things/things/1"), Some("req-1"))
        );

        let mut head = req.clone();
        head.method = Method::Head;
        head.path_params = vec![("id".into(), "1".into())];
        let resp = r.handle(&head);
        assert_eq!((resp.status, resp.body.len()), (200, 0));

        let mut post = request(Method::Post, "/things");
        post.body = br#"{"name":"new"}"#.to_vec();
        let resp = r.handle(&post);
        assert_eq!(resp.status, 201);
        assert_eq!(resp.body_json::<Value>().unwrap()["name"], "new");
        post.body = br#"{"nom":"new"}"#.to_vec();
        assert_eq!(r.handle(&post).status, 422);
        post.body = b"nope".to_vec();
        assert_eq!(r.handle(&post).status, 400);

        assert_eq!(r.handle(&request(Method::Get, "/")).body, b"hi acme");
        assert_eq!(r.handle(&request(Method::Get, "/nothing")).status, 404);
        let resp = r.handle(&request(Method::Patch, "/things/{id}"));
        assert_eq!(resp.status, 405);
        assert_eq!(resp.header("allow"), Some("GET, DELETE"));
    }

    #[test]
    fn default_operation_ids_come_from_method_and_path() {
        assert_eq!(default_operation_id(Method::Get, "/"), "get_root");
        assert_eq!(default_operation_id(Method::Get, "/greetings/{id}"), "get_greetings_id");
        assert_eq!(default_operation_id(Method::Put, "/kv/{key}"), "put_kv_key");
        assert_eq!(default_operation_id(Method::Get, "/many-statements"), "get_many_statements");
    }

    #[test]
    #[should_panic(expected = "declared twice")]
    fn a_route_cannot_be_declared_twice() {
        let _ = Router::new("x", "1.0.0").get("/", index).get("/", index);
    }

    #[test]
    #[should_panic(expected = "after get/post")]
    fn route_settings_need_a_route() {
        let _ = Router::new("x", "1.0.0").public();
    }

    #[test]
    #[should_panic(expected = "whole segment")]
    fn templates_are_checked() {
        let _ = Router::new("x", "1.0.0").get("/a/x{id}", index);
    }

    #[test]
    #[should_panic(expected = "say who may call it")]
    fn routes_need_access() {
        let _ = Router::new("x", "1.0.0").get("/a", index).manifest();
    }

    #[test]
    #[should_panic(expected = "at least one role")]
    fn roles_are_not_empty() {
        let _ = Router::new("x", "1.0.0").get("/a", index).roles(Vec::<String>::new());
    }

    #[test]
    #[should_panic(expected = "used twice")]
    fn operation_ids_are_unique() {
        let _ = Router::new("x", "1.0.0")
            .get("/a", index)
            .public()
            .get("/b", index)
            .public()
            .operation_id("get_a")
            .manifest();
    }

    fn legacy_router() -> Router {
        Router::new("videos", "1.0.0")
            .get("/api", index)
            .public()
            .summary("Index")
            .legacy_alias_prefix("/api")
            .get("/api/things/{id}", get_thing)
            .public()
            .summary("One thing")
            .route_description("By id.")
            .post("/api/things", create_thing)
            .roles(["admin"])
            .operation_id("make_thing")
            .get("/health", index)
            .public()
            .get("/apis", index)
            .public()
    }

    #[test]
    fn legacy_aliases_are_deprecated_routes_in_the_manifest() {
        let m = legacy_router().manifest();
        let routes: Vec<(&str, &str, &str, bool)> = m
            .routes
            .iter()
            .map(|r| (method_name(r.method), r.path.as_str(), r.operation_id.as_str(), r.deprecated))
            .collect();
        assert_eq!(
            routes,
            [
                ("GET", "/api", "get_api", false),
                ("GET", "/api/things/{id}", "get_api_things_id", false),
                ("POST", "/api/things", "make_thing", false),
                ("GET", "/health", "get_health", false),
                ("GET", "/apis", "get_apis", false),
                ("GET", "/", "legacy_get_api", true),
                ("GET", "/things/{id}", "legacy_get_api_things_id", true),
                ("POST", "/things", "legacy_make_thing", true),
            ]
        );
        let (get, alias) = (&m.routes[1], &m.routes[6]);
        assert_eq!(alias.summary, "One thing");
        assert_eq!(alias.access, get.access);
        assert_eq!(alias.response_schema, get.response_schema);
        assert_eq!(alias.description.as_deref(), Some("Deprecated alias of `GET /api/things/{id}`.\n\nBy id."));
        let post_alias = &m.routes[7];
        assert_eq!(post_alias.access, Access::Roles(vec!["admin".into()]));
        assert_eq!(post_alias.request_schema, m.routes[2].request_schema);
        assert!(post_alias.request_schema.is_some());
        assert_eq!(m.routes[5].description.as_deref(), Some("Deprecated alias of `GET /api`."));
    }

    #[test]
    fn legacy_aliases_dispatch_to_the_original_handler() {
        let r = legacy_router();
        let mut req = request(Method::Get, "/things/{id}");
        req.path = "/things/1".into();
        req.path_params = vec![("id".into(), "1".into())];
        let resp = r.handle(&req);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body_json::<Value>().unwrap(), serde_json::json!({"id": 1, "name": "one"}));
        req.method = Method::Head;
        assert_eq!((r.handle(&req).status, r.handle(&req).body.len()), (200, 0));

        let mut post = request(Method::Post, "/things");
        post.body = br#"{"name":"new"}"#.to_vec();
        assert_eq!(r.handle(&post).status, 201);
        assert_eq!(r.handle(&request(Method::Get, "/")).body, b"hi acme");
        // The originals still answer; an unaliased route has no alias.
        assert_eq!(r.handle(&request(Method::Get, "/api")).status, 200);
        assert_eq!(r.handle(&request(Method::Get, "/s")).status, 404);
        assert_eq!(r.handle(&request(Method::Get, "/things")).status, 405);

        let resp = r.handle(&request(Method::Delete, "/things/{id}"));
        assert_eq!(resp.status, 405);
        assert_eq!(resp.header("allow"), Some("GET"));
        let resp = r.handle(&request(Method::Put, "/things"));
        assert_eq!((resp.status, resp.header("allow")), (405, Some("POST")));
    }

    #[test]
    #[should_panic(expected = "collides with the route GET /things/{slug}")]
    fn a_legacy_alias_cannot_take_a_declared_route() {
        let _ = Router::new("x", "1.0.0")
            .get("/things/{slug}", index)
            .public()
            .legacy_alias_prefix("/api")
            .get("/api/things/{id}", get_thing);
    }

    #[test]
    #[should_panic(expected = "collides with the route GET /things")]
    fn a_declared_route_cannot_take_a_legacy_alias() {
        let _ = Router::new("x", "1.0.0").get("/api/things", index).legacy_alias_prefix("/api").get("/things", index);
    }

    #[test]
    fn a_legacy_alias_may_share_a_path_with_another_method() {
        let r = Router::new("x", "1.0.0")
            .legacy_alias_prefix("/api")
            .get("/api/things", index)
            .public()
            .post("/things", create_thing)
            .public();
        assert_eq!(r.manifest().routes.len(), 3);
        assert_eq!(r.handle(&request(Method::Get, "/things")).status, 200);
        assert_eq!(r.handle(&request(Method::Put, "/things")).header("allow"), Some("GET, POST"));
    }

    #[test]
    #[should_panic(expected = "declared once")]
    fn the_legacy_prefix_is_declared_once() {
        let _ = Router::new("x", "1.0.0").legacy_alias_prefix("/api").legacy_alias_prefix("/v1");
    }

    #[test]
    #[should_panic(expected = "without a trailing")]
    fn the_legacy_prefix_is_checked() {
        let _ = Router::new("x", "1.0.0").legacy_alias_prefix("/api/");
    }

    #[test]
    #[should_panic(expected = "must come after")]
    fn migration_versions_increase() {
        let _ = Router::new("x", "1.0.0").migration(2, "b", "").migration(1, "a", "");
    }
}
