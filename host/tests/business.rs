//! The first business modules, `blog` and `playlists`, end to end over HTTP
//! against a real host (SQLite in pass 1 of `cargo xtask test`, PostgreSQL
//! in pass 3): who may call every route, per role; the rules that need a
//! real server and database (concurrent playlist edits, scheduled
//! publishing through the job runner, redirects); legacy aliases; the
//! tenant's API document; and a second tenant that sees none of it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::users::onboard;
use common::{TestServer, assert_problem, modules_dir};
use reqwest::Method;
use serde_json::{Value, json};

/// Who may call a route, as a test expects it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Access {
    Public,
    Roles(&'static [&'static str]),
}
use Access::{Public, Roles};

/// A server with the bundled modules, `acme` and `globex` with `modules`.
async fn server(modules: &[&str]) -> TestServer {
    let s = TestServer::start_with(|c| {
        c.modules_dir = modules_dir().display().to_string();
        c.registration = plaza::config::Registration::Open;
    })
    .await;
    s.tenant_with("acme", modules).await;
    s.tenant_with("globex", modules).await;
    s
}

/// One signed-in person: a bearer token.
#[derive(Clone)]
struct As {
    base: String,
    token: Option<String>,
    client: reqwest::Client,
}

impl As {
    fn anonymous(s: &TestServer) -> Self {
        Self { base: s.base.clone(), token: None, client: s.client.clone() }
    }

    async fn member(s: &TestServer, tenant: &str, email: &str, roles: &[&str]) -> Self {
        let token = onboard(s, None, tenant, email, roles).await;
        Self { base: s.base.clone(), token: Some(token), client: s.client.clone() }
    }

    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.client.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
        let req = self.req(method, path);
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        req.send().await.unwrap()
    }

    /// The JSON answer of a call that must answer `status`.
    async fn ok(&self, method: Method, path: &str, body: Option<Value>, status: u16) -> Value {
        let resp = self.send(method.clone(), path, body).await;
        let got = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_eq!(got, status, "{method} {path}: {text}");
        if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() }
    }

    async fn get(&self, path: &str) -> Value {
        self.ok(Method::GET, path, None, 200).await
    }
}

/// The operations of `module` in the tenant's document (read by `who`):
/// (METHOD, path below the module) → operation.
async fn operations(who: &As, tenant: &str, module: &str) -> (Value, BTreeMap<(String, String), Value>) {
    let doc = who.get(&format!("/t/{tenant}/openapi.json")).await;
    let prefix = format!("/t/{tenant}/{module}");
    let mut ops = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(rest) = path.strip_prefix(&prefix) else { continue };
        for (method, op) in item.as_object().unwrap() {
            ops.insert((method.to_uppercase(), rest.to_owned()), op.clone());
        }
    }
    (doc, ops)
}

/// For every route of `module`: the document lists exactly the routes of
/// `expected` with their access, and the host enforces it for each role —
/// anonymous callers get 401 and members without a listed role 403 on
/// protected routes, everyone else gets through to the module (which
/// answers for ids that do not exist and empty bodies without changing
/// anything). `people` are (role, person) pairs.
async fn check_access(
    s: &TestServer,
    module: &str,
    expected: &[(&str, &str, Access)],
    people: &[(&str, As)],
    admin: &As,
) {
    let (_, ops) = operations(admin, "acme", module).await;
    let documented: BTreeSet<(String, String)> = ops.keys().cloned().collect();
    let listed: BTreeSet<(String, String)> =
        expected.iter().map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned())).collect();
    assert_eq!(documented, listed, "the routes of {module} in the document are the routes this test checks");

    let anonymous = As::anonymous(s);
    for (method, path, access) in expected {
        let op = &ops[&((*method).to_owned(), (*path).to_owned())];
        match access {
            Public => assert_eq!(op["security"], json!([]), "{method} {path} is public"),
            Roles(roles) => {
                assert_ne!(op["security"], json!([]), "{method} {path} needs credentials");
                let text = op["description"].as_str().unwrap_or_default();
                assert!(
                    text.contains(&format!("Needs one of the roles: {}.", roles.join(", "))),
                    "{method} {path}: {text}"
                );
            }
        }
        let concrete = path
            .replace("{id}", "999999")
            .replace("{item_id}", "999999")
            .replace("{slug}", "no-such-post")
            .replace("{tag}", "no-such-tag");
        let url = format!("/t/acme/{module}{concrete}");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let body = matches!(method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
        let denied = |status: u16| status == 401 || status == 403;

        let status = anonymous.send(method.clone(), &url, body.clone()).await.status().as_u16();
        match access {
            Public => assert!(!denied(status), "anonymous {method} {url}: {status}"),
            Roles(_) => assert_eq!(status, 401, "anonymous {method} {url}"),
        }
        for (role, person) in people {
            let status = person.send(method.clone(), &url, body.clone()).await.status().as_u16();
            let allowed = match access {
                Public => true,
                Roles(roles) => roles.contains(role) || (*role == "owner" && roles.contains(&"admin")),
            };
            if allowed {
                assert!(!denied(status), "{role} {method} {url}: {status}");
            } else {
                assert_eq!(status, 403, "{role} {method} {url}");
            }
        }
    }
}

/// Every operation documents the schema of its body, if it takes one, and
/// of its answer, unless it answers 204: JSON schemas as components of the
/// module, other bodies (a feed, an image) by their media type.
fn assert_schemas(module: &str, doc: &Value, ops: &BTreeMap<(String, String), Value>) {
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let documented = |content: &Value| {
        let Some((media, body)) = content.as_object().and_then(|c| c.iter().next()) else { return false };
        let schema = &body["schema"];
        match schema["$ref"].as_str() {
            Some(r) => {
                media == "application/json" && schemas.contains_key(r.trim_start_matches("#/components/schemas/"))
            }
            None => schema["type"].is_string(),
        }
    };
    for ((method, path), op) in ops {
        if let Some(body) = op.get("requestBody") {
            let content = &body["content"];
            assert!(content.get("application/octet-stream").is_none(), "{module} {method} {path}: {body}");
            assert!(documented(content), "{module} {method} {path}: request {body}");
        }
        let success = op["responses"]["200"].get("content").or_else(|| op["responses"]["201"].get("content"));
        match success {
            Some(content) => assert!(documented(content), "{module} {method} {path}: {content}"),
            None => assert!(method == "DELETE" && op["responses"]["204"].is_object(), "{module} {method} {path}: {op}"),
        }
    }
}

// ---------------------------------------------------------------- blog

const BLOG_ROUTES: &[(&str, &str, Access)] = &[
    ("GET", "/posts", Public),
    ("GET", "/posts/{slug}", Public),
    ("GET", "/posts/{slug}/cover", Public),
    ("GET", "/tags", Public),
    ("GET", "/tags/{tag}", Public),
    ("GET", "/feed.xml", Public),
    ("GET", "/sitemap.xml", Public),
    ("GET", "/admin/posts", Roles(&["editor", "admin"])),
    ("POST", "/admin/posts", Roles(&["editor", "admin"])),
    ("GET", "/admin/posts/{id}", Roles(&["editor", "admin"])),
    ("PUT", "/admin/posts/{id}", Roles(&["editor", "admin"])),
    ("PUT", "/admin/posts/{id}/cover", Roles(&["editor", "admin"])),
    ("GET", "/admin/posts/{id}/cover", Roles(&["editor", "admin"])),
    ("DELETE", "/admin/posts/{id}/cover", Roles(&["editor", "admin"])),
    ("POST", "/admin/posts/{id}/publish", Roles(&["admin"])),
    ("POST", "/admin/posts/{id}/unpublish", Roles(&["admin"])),
    ("DELETE", "/admin/posts/{id}", Roles(&["admin"])),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blog_over_http_roles_slugs_sanitizing_and_scheduled_publishing() {
    let s = server(&["blog"]).await;
    let admin = As::member(&s, "acme", "admin@acme.example", &["admin"]).await;
    let editor = As::member(&s, "acme", "editor@acme.example", &["editor"]).await;
    let member = As::member(&s, "acme", "member@acme.example", &["member"]).await;
    let anonymous = As::anonymous(&s);
    let people = [("admin", admin.clone()), ("editor", editor.clone()), ("member", member.clone())];
    check_access(&s, "blog", BLOG_ROUTES, &people, &admin).await;
    let (doc, ops) = operations(&admin, "acme", "blog").await;
    assert_schemas("blog", &doc, &ops);
    let media = |method: &str, path: &str, at: &str| {
        let op = &ops[&(method.to_owned(), path.to_owned())];
        let content = if at == "request" { &op["requestBody"]["content"] } else { &op["responses"]["200"]["content"] };
        content.as_object().unwrap().keys().next().unwrap().clone()
    };
    assert_eq!(media("GET", "/feed.xml", "response"), "application/rss+xml");
    assert_eq!(media("GET", "/sitemap.xml", "response"), "application/xml");
    assert_eq!(media("GET", "/posts/{slug}/cover", "response"), "image/*");
    assert_eq!(media("PUT", "/admin/posts/{id}/cover", "request"), "image/*");

    // An editor writes a draft: the slug folds the accents; the markdown is
    // rendered and sanitized; nothing is public yet.
    let draft = editor
        .ok(
            Method::POST,
            "/t/acme/blog/admin/posts",
            Some(json!({
                "title": "Año Nuevo: ¡Ñandú!",
                "content_markdown": "Hola **mundo** <script>alert('x')</script> [x](javascript:alert(1))",
                "tags": ["Fiestas", "news"],
                "faq": [{ "question": "¿Qué es?", "answer": "Un ave." }],
            })),
            201,
        )
        .await;
    let id = draft["id"].as_i64().unwrap();
    assert_eq!(draft["slug"], "ano-nuevo-nandu");
    assert_eq!(draft["status"], "draft");
    let html = draft["content_html"].as_str().unwrap();
    assert!(html.contains("<strong>mundo</strong>"), "{html}");
    assert!(!html.contains("<script") && !html.contains("javascript:"), "sanitized: {html}");
    assert_eq!(draft["json_ld"]["@type"], "FAQPage");
    assert_eq!(anonymous.send(Method::GET, "/t/acme/blog/posts/ano-nuevo-nandu", None).await.status(), 404);
    assert_eq!(anonymous.get("/t/acme/blog/posts").await["total"], 0);

    // Editors cannot publish (403 from the host: the route is admin's).
    let publish = format!("/t/acme/blog/admin/posts/{id}/publish");
    assert_problem(editor.send(Method::POST, &publish, Some(json!({}))).await, 403).await;
    // The same title again gets another slug; taking another post's slug is a 409 naming the field.
    let twin = editor
        .ok(
            Method::POST,
            "/t/acme/blog/admin/posts",
            Some(json!({"title": "Año nuevo: ñandú", "content_markdown": "x"})),
            201,
        )
        .await;
    assert_eq!(twin["slug"], "ano-nuevo-nandu-2");
    let twin_path = format!("/t/acme/blog/admin/posts/{}", twin["id"]);
    let clash =
        assert_problem(editor.send(Method::PUT, &twin_path, Some(json!({"slug": "ano-nuevo-nandu"}))).await, 409).await;
    assert!(clash.to_string().contains("slug"), "{clash}");
    let long = assert_problem(
        editor.send(Method::PUT, &twin_path, Some(json!({"meta_description": "x".repeat(301)}))).await,
        422,
    )
    .await;
    assert_eq!(long["errors"][0]["field"], "meta_description", "{long}");

    // An admin publishes; the post is public, in the feed, the sitemap and its tag page.
    let published = admin.ok(Method::POST, &publish, Some(json!({})), 200).await;
    assert_eq!(published["status"], "published");
    let public = anonymous.get("/t/acme/blog/posts/ano-nuevo-nandu").await;
    assert_eq!(public["title"], "Año Nuevo: ¡Ñandú!");
    assert_eq!(anonymous.get("/t/acme/blog/tags/fiestas").await["total"], 1);
    let feed = anonymous.send(Method::GET, "/t/acme/blog/feed.xml", None).await;
    assert!(feed.headers()["content-type"].to_str().unwrap().starts_with("application/rss+xml"));
    let feed = feed.text().await.unwrap();
    assert!(
        feed.contains("<rss") && feed.contains("Año Nuevo: ¡Ñandú!") && !feed.contains("ano-nuevo-nandu-2"),
        "{feed}"
    );
    let sitemap = anonymous.send(Method::GET, "/t/acme/blog/sitemap.xml", None).await.text().await.unwrap();
    assert!(sitemap.contains("/t/acme/blog/posts/ano-nuevo-nandu<"), "{sitemap}");
    let found = anonymous.get("/t/acme/blog/posts?q=nandu%20MUNDO").await;
    assert_eq!((found["total"].clone(), found["items"][0]["id"].clone()), (json!(1), json!(id)), "{found}");

    // A new slug: the old one answers 301 to it.
    let renamed = editor
        .ok(Method::PUT, &format!("/t/acme/blog/admin/posts/{id}"), Some(json!({"slug": "feliz-ano"})), 200)
        .await;
    assert_eq!(renamed["slug"], "feliz-ano");
    let no_follow = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let moved = no_follow.get(s.url("/t/acme/blog/posts/ano-nuevo-nandu")).send().await.unwrap();
    assert_eq!(moved.status(), 301);
    assert_eq!(moved.headers()["location"], "/t/acme/blog/posts/feliz-ano");
    assert_eq!(anonymous.get("/t/acme/blog/posts/feliz-ano").await["id"], id);

    // Scheduled publishing: in the future it is not public; once its time
    // has come, the job (run by the host's job runner) publishes it.
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let twin_publish = format!("{twin_path}/publish");
    let scheduled = admin.ok(Method::POST, &twin_publish, Some(json!({"publish_at": soon})), 200).await;
    assert_eq!(scheduled["status"], "scheduled");
    assert_eq!(anonymous.send(Method::GET, "/t/acme/blog/posts/ano-nuevo-nandu-2", None).await.status(), 404);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let run = s.req(Method::POST, "/t/acme/jobs/blog/publish-scheduled/run").send().await.unwrap();
    assert_eq!(run.status(), 200, "{}", run.text().await.unwrap());
    assert_eq!(anonymous.get("/t/acme/blog/posts/ano-nuevo-nandu-2").await["status"], "published");
    assert_eq!(anonymous.get("/t/acme/blog/posts").await["total"], 2);

    // Another tenant sees none of it, even with acme's slugs and ids.
    let globex_admin = As::member(&s, "globex", "admin@globex.example", &["admin"]).await;
    assert_eq!(anonymous.get("/t/globex/blog/posts").await["total"], 0);
    assert_eq!(anonymous.send(Method::GET, "/t/globex/blog/posts/feliz-ano", None).await.status(), 404);
    let other = globex_admin.send(Method::GET, &format!("/t/globex/blog/admin/posts/{id}"), None).await;
    assert_eq!(other.status(), 404);
    let other = globex_admin.send(Method::DELETE, &format!("/t/globex/blog/admin/posts/{id}"), None).await;
    assert_eq!(other.status(), 404);
    // acme's admin token is not globex's: 404, as for any tenant it is not a member of.
    assert_eq!(admin.send(Method::GET, "/t/globex/blog/admin/posts", None).await.status(), 404);
    assert_eq!(anonymous.get("/t/acme/blog/posts").await["total"], 2, "acme's posts are untouched");

    // A hostile module of the same tenant cannot read or change the blog's
    // tables: unqualified names are its own namespace, qualified ones refused.
    s.app.modules.enable("acme", "hostile", None, &plaza::audit::Actor::new("test")).await.unwrap();
    let blog_schema = s.app.modules.services().sql.pg_names("acme", "blog").await.unwrap().schema;
    for (statement, query) in [
        ("SELECT title FROM posts".to_owned(), true),
        (format!("SELECT title FROM {blog_schema}.posts"), true),
        (format!("UPDATE {blog_schema}.posts SET title = 'pwned'"), false),
        ("UPDATE posts SET title = 'pwned'".to_owned(), false),
    ] {
        let resp = s
            .anon(Method::POST, "/t/acme/hostile/sql")
            .json(&json!({ "statement": statement, "query": query }))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert!(status >= 400 && !text.contains("Ñandú"), "{statement}: {status} {text}");
    }
    assert_eq!(anonymous.get("/t/acme/blog/posts/feliz-ano").await["title"], "Año Nuevo: ¡Ñandú!");
    s.stop().await;
}

// ----------------------------------------------------------- playlists

const ADMIN: &[&str] = &["admin"];
const PRODUCERS: &[&str] = &["admin", "producer"];
const AGENCIES: &[&str] = &["admin", "agency"];

const PLAYLIST_ROUTES: &[(&str, &str, Access)] = &[
    ("GET", "/api/videos", Public),
    ("GET", "/api/videos/{id}", Public),
    ("POST", "/api/videos", Roles(PRODUCERS)),
    ("PUT", "/api/videos/{id}", Roles(PRODUCERS)),
    ("DELETE", "/api/videos/{id}", Roles(PRODUCERS)),
    ("GET", "/api/playlists", Public),
    ("GET", "/api/playlists/{id}", Public),
    ("POST", "/api/playlists", Roles(PRODUCERS)),
    ("PUT", "/api/playlists/{id}", Roles(PRODUCERS)),
    ("DELETE", "/api/playlists/{id}", Roles(PRODUCERS)),
    ("POST", "/api/playlists/{id}/items", Roles(PRODUCERS)),
    ("PUT", "/api/playlists/{id}/items/{item_id}", Roles(PRODUCERS)),
    ("DELETE", "/api/playlists/{id}/items/{item_id}", Roles(PRODUCERS)),
    ("GET", "/api/channels", Public),
    ("GET", "/api/channels/{id}", Public),
    ("GET", "/api/admin/channels", Roles(ADMIN)),
    ("POST", "/api/channels", Roles(ADMIN)),
    ("PUT", "/api/channels/{id}", Roles(ADMIN)),
    ("DELETE", "/api/channels/{id}", Roles(ADMIN)),
    ("PUT", "/api/channels/{id}/logo", Roles(ADMIN)),
    ("GET", "/api/channels/{id}/logo", Public),
    ("GET", "/api/news", Public),
    ("GET", "/api/news/{id}", Public),
    ("POST", "/api/news", Roles(PRODUCERS)),
    ("GET", "/api/admin/news", Roles(PRODUCERS)),
    ("PUT", "/api/news/{id}", Roles(PRODUCERS)),
    ("POST", "/api/news/{id}/approve", Roles(ADMIN)),
    ("POST", "/api/news/{id}/reject", Roles(ADMIN)),
    ("DELETE", "/api/news/{id}", Roles(PRODUCERS)),
    ("POST", "/api/ads", Roles(&["agency"])),
    ("GET", "/api/ads", Roles(AGENCIES)),
    ("GET", "/api/ads/{id}", Roles(AGENCIES)),
    ("POST", "/api/ads/{id}/approve", Roles(ADMIN)),
    ("POST", "/api/ads/{id}/reject", Roles(ADMIN)),
    ("POST", "/api/ads/{id}/cancel", Roles(AGENCIES)),
    ("POST", "/api/ads/{id}/complete", Roles(ADMIN)),
    ("GET", "/api/ads/report", Roles(AGENCIES)),
];

/// The routes with their legacy aliases: each `/api/...` route also answers
/// without the prefix, deprecated.
fn with_aliases(routes: &[(&'static str, &'static str, Access)]) -> Vec<(&'static str, &'static str, Access)> {
    let mut all = routes.to_vec();
    for (method, path, access) in routes {
        let alias: &'static str = Box::leak(path.trim_start_matches("/api").to_owned().into_boxed_str());
        all.push((method, alias, *access));
    }
    all
}

/// The playlist's items as (item id, position, video id), in order.
async fn items(who: &As, playlist: i64) -> Vec<(i64, i64, i64)> {
    let list = who.get(&format!("/t/acme/playlists/api/playlists/{playlist}")).await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["item_id"].as_i64().unwrap(), i["position"].as_i64().unwrap(), i["video"]["id"].as_i64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playlists_over_http_roles_concurrent_ordering_ads_and_aliases() {
    let s = server(&["playlists"]).await;
    let admin = As::member(&s, "acme", "admin@acme.example", &["admin"]).await;
    let producer = As::member(&s, "acme", "producer@acme.example", &["producer"]).await;
    let agency = As::member(&s, "acme", "agency@acme.example", &["agency"]).await;
    let user = As::member(&s, "acme", "user@acme.example", &["user"]).await;
    let anonymous = As::anonymous(&s);
    let people =
        [("admin", admin.clone()), ("producer", producer.clone()), ("agency", agency.clone()), ("user", user.clone())];
    check_access(&s, "playlists", &with_aliases(PLAYLIST_ROUTES), &people, &admin).await;

    // Aliases: deprecated in the document, the same answers as the /api routes.
    let (doc, ops) = operations(&admin, "acme", "playlists").await;
    assert_schemas("playlists", &doc, &ops);
    let logo = &ops[&("GET".to_owned(), "/api/channels/{id}/logo".to_owned())];
    assert!(logo["responses"]["200"]["content"]["image/*"].is_object(), "{logo}");
    for ((method, path), op) in &ops {
        let alias = !path.starts_with("/api");
        assert_eq!(op["deprecated"].as_bool().unwrap_or(false), alias, "{method} {path}");
    }

    // A producer's catalogue: ten videos and a playlist of them.
    let mut videos = Vec::new();
    for n in 0..10 {
        let video = producer
            .ok(
                Method::POST,
                "/t/acme/playlists/api/videos",
                Some(json!({"title": format!("Video {n}"), "description": "", "duration_seconds": 60 + n, "media_id": format!("m-{n}")})),
                201,
            )
            .await;
        videos.push(video["id"].as_i64().unwrap());
    }
    assert_eq!(anonymous.get("/t/acme/playlists/api/videos").await["total"], 10);
    assert_eq!(anonymous.get("/t/acme/playlists/videos").await, anonymous.get("/t/acme/playlists/api/videos").await);
    let playlist = producer
        .ok(Method::POST, "/t/acme/playlists/api/playlists", Some(json!({"name": "Top", "description": "best"})), 201)
        .await["id"]
        .as_i64()
        .unwrap();
    for video in &videos {
        let path = format!("/t/acme/playlists/api/playlists/{playlist}/items");
        producer.ok(Method::POST, &path, Some(json!({"video_id": video})), 201).await;
    }
    let before = items(&admin, playlist).await;
    assert_eq!(before.iter().map(|i| i.1).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>());

    // Twenty concurrent moves (through both the route and its alias): no gap,
    // no duplicate, no item lost.
    let moves = (0..20).map(|n| {
        let producer = producer.clone();
        let (item, _, _) = before[(n * 7) % before.len()];
        let prefix = if n % 2 == 0 { "/api" } else { "" };
        let path = format!("/t/acme/playlists{prefix}/playlists/{playlist}/items/{item}");
        async move { producer.send(Method::PUT, &path, Some(json!({"position": (n * 3) % 10 + 1}))).await.status() }
    });
    for status in futures_util::future::join_all(moves).await {
        assert_eq!(status, 200);
    }
    let after = items(&admin, playlist).await;
    assert_eq!(after.iter().map(|i| i.1).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>(), "{after:?}");
    let mut seen: Vec<i64> = after.iter().map(|i| i.2).collect();
    seen.sort();
    assert_eq!(seen, videos, "the same videos, each once");

    // Another producer cannot edit this one's video (403 from the module).
    let other_producer = As::member(&s, "acme", "producer2@acme.example", &["producer"]).await;
    let path = format!("/t/acme/playlists/api/videos/{}", videos[0]);
    assert_problem(other_producer.send(Method::PUT, &path, Some(json!({"title": "mine"}))).await, 403).await;

    // Ad requests: legal transitions leave a history; illegal ones are 409.
    let ad = agency
        .ok(
            Method::POST,
            "/t/acme/playlists/api/ads",
            Some(json!({"campaign": "Verano", "advertiser": "Helados", "starts_on": "2027-01-05", "ends_on": "2027-02-28", "budget_cents": 100000, "notes": ""})),
            201,
        )
        .await;
    let ad = ad["id"].as_i64().unwrap();
    let ad_path = |action: &str| format!("/t/acme/playlists/api/ads/{ad}/{action}");
    let refused = assert_problem(admin.send(Method::POST, &ad_path("complete"), Some(json!({}))).await, 409).await;
    assert!(refused["detail"].as_str().unwrap().contains("pending"), "{refused}");
    admin.ok(Method::POST, &ad_path("approve"), Some(json!({})), 200).await;
    assert_problem(admin.send(Method::POST, &ad_path("reject"), Some(json!({"reason": "late"}))).await, 409).await;
    admin.ok(Method::POST, &ad_path("complete"), Some(json!({})), 200).await;
    let shown = agency.get(&format!("/t/acme/playlists/api/ads/{ad}")).await;
    let steps: Vec<&str> =
        shown["history"].as_array().unwrap().iter().map(|h| h["to_status"].as_str().unwrap()).collect();
    assert_eq!(steps, ["pending", "approved", "completed"], "{shown}");
    let other_agency = As::member(&s, "acme", "agency2@acme.example", &["agency"]).await;
    assert_eq!(other_agency.send(Method::GET, &format!("/t/acme/playlists/api/ads/{ad}"), None).await.status(), 404);

    // Another tenant sees none of it and cannot change it.
    let globex = As::member(&s, "globex", "admin@globex.example", &["admin"]).await;
    assert_eq!(anonymous.get("/t/globex/playlists/api/videos").await["total"], 0);
    let path = format!("/t/globex/playlists/api/playlists/{playlist}/items/{}", after[0].0);
    assert_eq!(globex.send(Method::DELETE, &path, None).await.status(), 404);
    assert_eq!(globex.send(Method::GET, &format!("/t/globex/playlists/api/ads/{ad}"), None).await.status(), 404);
    assert_eq!(items(&admin, playlist).await.len(), 10, "acme's playlist is untouched");
    s.stop().await;
}
