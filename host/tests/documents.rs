//! The `documents` module end to end over HTTP against a real host (SQLite
//! by default, PostgreSQL when `PLAZA_TEST_DATABASE_URL` is set): who sees
//! and changes what (owner, admins, `view` and `edit` shares with users and
//! roles, everyone else a 404), full-text search with ranking and escaped
//! highlights on both databases, version history and restore, folders,
//! attachments, exports, and a second tenant that sees none of it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::users::onboard;
use common::{TestServer, assert_problem, modules_dir};
use reqwest::Method;
use serde_json::{Value, json};

/// A server with the bundled modules; `acme` and `globex` with `documents`.
async fn server() -> TestServer {
    let s = TestServer::start_with(|c| {
        c.modules_dir = modules_dir().display().to_string();
        c.registration = plaza::config::Registration::Open;
    })
    .await;
    s.tenant_with("acme", &["documents"]).await;
    s.tenant_with("globex", &["documents"]).await;
    s
}

/// One signed-in member of a tenant.
#[derive(Clone)]
struct Member {
    tenant: String,
    token: String,
    id: String,
    base: String,
    client: reqwest::Client,
}

impl Member {
    async fn join(s: &TestServer, tenant: &str, email: &str, roles: &[&str]) -> Self {
        let token = onboard(s, None, tenant, email, roles).await;
        let (status, members) = s.get_json(&format!("/t/{tenant}/members")).await;
        assert_eq!(status, 200, "{members}");
        let id = members.as_array().unwrap().iter().find(|m| m["email"] == email).unwrap()["user_id"]
            .as_str()
            .unwrap()
            .to_owned();
        Self { tenant: tenant.to_owned(), token, id, base: s.base.clone(), client: s.client.clone() }
    }

    /// A request below the tenant's module: `path` starts after `/documents`.
    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.req_in(&self.tenant, method, path)
    }

    fn req_in(&self, tenant: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}/t/{tenant}/documents{path}", self.base)).bearer_auth(&self.token)
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
        let req = self.req(method, path);
        match body {
            Some(b) => req.json(&b),
            None => req,
        }
        .send()
        .await
        .unwrap()
    }

    /// The JSON answer of a call that must answer `status`.
    async fn ok(&self, method: Method, path: &str, body: Option<Value>, status: u16) -> Value {
        let resp = self.send(method.clone(), path, body).await;
        let got = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_eq!(got, status, "{} {method} {path}: {text}", self.id);
        if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() }
    }

    async fn get(&self, path: &str) -> Value {
        self.ok(Method::GET, path, None, 200).await
    }

    async fn status(&self, method: Method, path: &str, body: Option<Value>) -> u16 {
        self.send(method, path, body).await.status().as_u16()
    }

    async fn create(&self, title: &str, content: &str) -> i64 {
        let doc = self.ok(Method::POST, "/documents", Some(json!({ "title": title, "content": content })), 201).await;
        assert_eq!(doc["owner"], self.id.as_str());
        doc["id"].as_i64().unwrap()
    }

    /// Ids of the documents the member's listing shows.
    async fn listed(&self) -> Vec<i64> {
        ids(&self.get("/documents?per_page=100").await)
    }

    /// Ids of the search hits for `q`, best first.
    async fn found(&self, q: &str) -> Vec<i64> {
        ids(&self.search(q).await)
    }

    async fn search(&self, q: &str) -> Value {
        let resp = self.req(Method::GET, "/search").query(&[("q", q), ("per_page", "100")]).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"].as_array().unwrap().iter().map(|d| d["id"].as_i64().unwrap()).collect()
}

/// The payloads of the `documents.shared` events of `tenant` in the host's
/// outbox, waiting a little for the namespace's outbox to be moved there.
async fn shared_events(s: &TestServer, tenant: &str, at_least: usize) -> Vec<Value> {
    let started = std::time::Instant::now();
    loop {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT payload FROM event_outbox WHERE tenant_id = $1 AND event_type = 'documents.shared' ORDER BY id",
        )
        .bind(tenant)
        .fetch_all(s.app.db.pool())
        .await
        .unwrap();
        if rows.len() >= at_least || started.elapsed() > std::time::Duration::from_secs(10) {
            return rows.into_iter().map(|(p,)| serde_json::from_str(&p).unwrap()).collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_admins_and_shares_see_a_document() {
    let s = server().await;
    let ana = Member::join(&s, "acme", "ana@acme.example", &["member"]).await;
    let bob = Member::join(&s, "acme", "bob@acme.example", &["member"]).await;
    let carl = Member::join(&s, "acme", "carl@acme.example", &["member"]).await;
    let dana = Member::join(&s, "acme", "dana@acme.example", &["admin"]).await;

    let doc = ana.create("Budget 2026", "The budget for 2026 is **approved**.").await;
    let path = format!("/documents/{doc}");

    // Unshared: a 404 (not a 403), absent from listings and search.
    assert_problem(bob.send(Method::GET, &path, None).await, 404).await;
    assert_problem(bob.send(Method::PATCH, &path, Some(json!({ "title": "x" }))).await, 404).await;
    assert_problem(bob.send(Method::DELETE, &path, None).await, 404).await;
    assert_problem(bob.send(Method::GET, &format!("{path}/versions"), None).await, 404).await;
    assert_problem(bob.send(Method::GET, &format!("{path}/export.md"), None).await, 404).await;
    assert!(bob.listed().await.is_empty());
    assert!(bob.found("budget").await.is_empty());
    assert_eq!(ana.found("budget").await, [doc]);

    // A `view` share: read, never change.
    let share = ana
        .ok(Method::POST, &format!("{path}/shares"), Some(json!({ "user_id": bob.id, "permission": "view" })), 201)
        .await;
    assert_eq!((share["grantee_kind"].as_str(), share["permission"].as_str()), (Some("user"), Some("view")));
    let seen = bob.get(&path).await;
    assert_eq!(
        (seen["access"].as_str(), seen["content"].as_str()),
        (Some("view"), Some("The budget for 2026 is **approved**."))
    );
    assert_eq!(bob.listed().await, [doc]);
    assert_eq!(bob.found("budget").await, [doc]);
    assert_problem(bob.send(Method::PATCH, &path, Some(json!({ "content": "mine now" }))).await, 403).await;
    assert_problem(bob.send(Method::POST, &format!("{path}/versions/1/restore"), None).await, 403).await;
    assert_problem(bob.send(Method::DELETE, &path, None).await, 403).await;
    let reshare = json!({ "user_id": carl.id, "permission": "edit" });
    assert_problem(bob.send(Method::POST, &format!("{path}/shares"), Some(reshare)).await, 403).await;
    assert_eq!(ana.get(&path).await["content"], "The budget for 2026 is **approved**.", "nothing changed");
    // Still nothing for carl.
    assert_problem(carl.send(Method::GET, &path, None).await, 404).await;
    assert!(carl.found("budget").await.is_empty());

    // An `edit` share with a role (every member): read and change, not delete or share.
    let edit = json!({ "role": "member", "permission": "edit" });
    ana.ok(Method::POST, &format!("{path}/shares"), Some(edit), 201).await;
    assert_eq!(carl.get(&path).await["access"], "edit");
    assert_eq!(bob.get(&path).await["access"], "edit", "the strongest share wins");
    let changed = carl.ok(Method::PATCH, &path, Some(json!({ "content": "Carl's budget." })), 200).await;
    assert_eq!((changed["version"].as_i64(), changed["updated_by"].as_str()), (Some(2), Some(carl.id.as_str())));
    assert_problem(carl.send(Method::DELETE, &path, None).await, 403).await;
    assert_problem(carl.send(Method::GET, &format!("{path}/shares"), None).await, 403).await;
    let reshare = json!({ "user_id": carl.id, "permission": "edit" });
    assert_problem(carl.send(Method::POST, &format!("{path}/shares"), Some(reshare)).await, 403).await;

    // Tenant admins do everything, unshared.
    let admin_view = dana.get(&path).await;
    assert_eq!(admin_view["access"], "full");
    let shares = dana.get(&format!("{path}/shares")).await;
    assert_eq!(shares["items"].as_array().unwrap().len(), 2);

    // Changing a share's permission answers 200; unsharing takes access away.
    let view = json!({ "role": "member", "permission": "view" });
    let changed = ana.ok(Method::POST, &format!("{path}/shares"), Some(view), 200).await;
    assert_eq!(changed["permission"], "view");
    assert_problem(carl.send(Method::PATCH, &path, Some(json!({ "content": "again" }))).await, 403).await;
    assert_eq!(ana.status(Method::DELETE, &format!("{path}/shares/roles/member"), None).await, 204);
    assert_problem(ana.send(Method::DELETE, &format!("{path}/shares/roles/member"), None).await, 404).await;
    assert_problem(carl.send(Method::GET, &path, None).await, 404).await;
    assert!(carl.listed().await.is_empty());
    assert!(carl.found("budget").await.is_empty());
    assert_eq!(bob.get(&path).await["access"], "view", "bob's own share stays");
    assert_eq!(ana.status(Method::DELETE, &format!("{path}/shares/users/{}", bob.id), None).await, 204);
    assert_problem(bob.send(Method::GET, &path, None).await, 404).await;

    // Share requests are checked field by field.
    let bad = ana
        .ok(Method::POST, &format!("{path}/shares"), Some(json!({ "user_id": bob.id, "permission": "admin" })), 422)
        .await;
    assert_eq!(bad["errors"][0]["field"], "permission");
    let bad = ana.ok(Method::POST, &format!("{path}/shares"), Some(json!({ "permission": "view" })), 422).await;
    assert_eq!(bad["errors"][0]["field"], "user_id");

    // Every share published documents.shared with the document, the grantee and who shared.
    let events = shared_events(&s, "acme", 3).await;
    let to_bob = events.iter().find(|e| e["user_id"] == bob.id.as_str()).expect("an event for bob's share");
    assert_eq!(to_bob["document_id"], doc);
    assert_eq!((to_bob["title"].as_str(), to_bob["permission"].as_str()), (Some("Budget 2026"), Some("view")));
    assert_eq!(to_bob["shared_by"], ana.id.as_str());
    assert!(events.iter().any(|e| e["role"] == "member" && e["permission"] == "edit"));
    assert_eq!(events.len(), 3, "bob view, member edit, member view: {events:?}");

    // The admin deletes it.
    assert_eq!(dana.status(Method::DELETE, &path, None).await, 204);
    assert_problem(ana.send(Method::GET, &path, None).await, 404).await;
    assert!(ana.found("budget").await.is_empty(), "a deleted document leaves the index");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_tenant_sees_and_changes_nothing_of_the_first() {
    let s = server().await;
    let ana = Member::join(&s, "acme", "ana@acme.example", &["member"]).await;
    let eve = Member::join(&s, "globex", "eve@globex.example", &["owner"]).await;

    let secret = ana.create("Acme merger plan", "The merger with Initech closes in May.").await;
    let own = eve.create("Globex notes", "Globex plans nothing about a merger.").await;

    // Eve's tenant has its own documents (the same ids may exist in both).
    assert_eq!(eve.listed().await, [own]);
    let hits = eve.search("merger").await;
    assert_eq!(ids(&hits), [own]);
    assert!(!hits.to_string().contains("Initech"), "{hits}");
    assert!(eve.found("initech").await.is_empty());
    if own == secret {
        assert_eq!(eve.get(&format!("/documents/{own}")).await["title"], "Globex notes");
    }

    // Acme's paths are closed to her, whatever her role in globex.
    let path = format!("/documents/{secret}");
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({ "content": "owned" }))),
        (Method::DELETE, None),
        (Method::POST, Some(json!({ "user_id": eve.id, "permission": "edit" }))),
    ] {
        let p = if method == Method::POST { format!("{path}/shares") } else { path.clone() };
        let resp = eve.req_in("acme", method.clone(), &p).json(&body.unwrap_or(Value::Null)).send().await.unwrap();
        assert!(matches!(resp.status().as_u16(), 403 | 404), "{method} {p}: {}", resp.status());
    }
    let resp = eve.req_in("acme", Method::GET, "/search").query(&[("q", "merger")]).send().await.unwrap();
    assert!(matches!(resp.status().as_u16(), 403 | 404));
    let doc = ana.get(&path).await;
    assert_eq!(
        (doc["content"].as_str(), doc["version"].as_i64()),
        (Some("The merger with Initech closes in May."), Some(1))
    );
    assert_eq!(ana.found("merger").await, [secret], "and acme's search sees only acme's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_ranks_and_highlights_on_every_database() {
    let s = server().await;
    let ana = Member::join(&s, "acme", "ana@acme.example", &["member"]).await;

    let once = ana.create("Minutes of March", "We spoke of the budget once: 1 < 2 & \"quoted\".").await;
    let twice = ana.create("Budget review", "The budget is approved.").await;
    let none = ana.create("Unrelated", "Nothing to see here.").await;

    let hits = ana.search("Budget").await;
    assert_eq!(ids(&hits), [twice, once], "title and content rank above content once: {hits}");
    assert_eq!(hits["total"], 2);
    let [first, second] = [&hits["items"][0], &hits["items"][1]];
    assert!(first["score"].as_f64().unwrap() > second["score"].as_f64().unwrap(), "{hits}");
    assert_eq!(first["title_html"], "<mark>Budget</mark> review");
    assert!(first["snippet_html"].as_str().unwrap().contains("The <mark>budget</mark> is approved"), "{hits}");
    let snippet = second["snippet_html"].as_str().unwrap();
    assert!(snippet.contains("spoke of the <mark>budget</mark> once"), "{snippet}");
    assert!(snippet.contains("1 &lt; 2 &amp; &quot;quoted&quot;"), "escaped: {snippet}");
    assert_eq!(snippet.matches('<').count(), 2, "only the mark tags: {snippet}");
    assert_eq!(second["title_html"], "Minutes of March");

    // Every word must match; case and punctuation do not matter; operators are words.
    assert_eq!(ana.found("budget APPROVED!").await, [twice]);
    assert!(ana.found("budget OR unrelated").await.is_empty());
    assert!(ana.found("\"budget").await.len() == 2, "a stray quote is no syntax error");
    let bad = ana.ok(Method::GET, "/search?q=%21%21", None, 422).await;
    assert_eq!(bad["errors"][0]["field"], "q");

    // The index follows changes.
    ana.ok(Method::PATCH, &format!("/documents/{none}"), Some(json!({ "content": "Now about the budget." })), 200)
        .await;
    assert_eq!(ana.found("budget").await.len(), 3);
    ana.ok(
        Method::PATCH,
        &format!("/documents/{twice}"),
        Some(json!({ "title": "Review", "content": "Approved." })),
        200,
    )
    .await;
    assert_eq!(ana.found("budget").await.len(), 2);
    assert_eq!(ana.found("approved").await, [twice]);
    assert_eq!(ana.status(Method::DELETE, &format!("/documents/{once}"), None).await, 204);
    assert_eq!(ana.found("budget").await, [none]);

    // Search narrows by folder and type like the listing.
    let folder =
        ana.ok(Method::POST, "/folders", Some(json!({ "name": "Finance" })), 201).await["id"].as_i64().unwrap();
    let filed = ana
        .ok(
            Method::POST,
            "/documents",
            Some(json!({ "title": "Q1 budget", "content": "x", "type": "policy", "folder_id": folder })),
            201,
        )
        .await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(ana.found("budget").await.len(), 2);
    let in_folder = ana.req(Method::GET, "/search").query(&[("q", "budget"), ("folder", &folder.to_string())]);
    assert_eq!(ids(&in_folder.send().await.unwrap().json().await.unwrap()), [filed]);
    let by_type = ana.req(Method::GET, "/search").query(&[("q", "budget"), ("type", "policy")]);
    assert_eq!(ids(&by_type.send().await.unwrap().json().await.unwrap()), [filed]);
    assert_eq!(ids(&ana.get(&format!("/documents?folder={folder}")).await), [filed]);
    assert_eq!(ids(&ana.get("/documents?folder=none&type=note").await).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_folders_attachments_and_exports() {
    let s = server().await;
    let ana = Member::join(&s, "acme", "ana@acme.example", &["member"]).await;
    let bob = Member::join(&s, "acme", "bob@acme.example", &["member"]).await;
    let carl = Member::join(&s, "acme", "carl@acme.example", &["member"]).await;

    // Validation names the field.
    let bad = ana.ok(Method::POST, "/documents", Some(json!({ "title": "  ", "content": "x" })), 422).await;
    assert_eq!(bad["errors"][0]["field"], "title");
    let bad = ana.ok(Method::POST, "/documents", Some(json!({ "title": "t", "folder_id": 999 })), 422).await;
    assert_eq!(bad["errors"][0]["field"], "folder_id");

    // Folders: unique names, only empty ones go.
    let hr = ana.ok(Method::POST, "/folders", Some(json!({ "name": "HR" })), 201).await["id"].as_i64().unwrap();
    assert_problem(ana.send(Method::POST, "/folders", Some(json!({ "name": "HR" }))).await, 409).await;
    let doc = ana
        .ok(
            Method::POST,
            "/documents",
            Some(json!({ "title": "Leave policy", "content": "# Leave\n\nTen days a year.", "type": "policy", "folder_id": hr })),
            201,
        )
        .await;
    let id = doc["id"].as_i64().unwrap();
    assert_eq!(
        (doc["folder"].as_str(), doc["type"].as_str(), doc["version"].as_i64()),
        (Some("HR"), Some("policy"), Some(1))
    );
    assert_problem(ana.send(Method::DELETE, &format!("/folders/{hr}"), None).await, 409).await;
    assert_problem(bob.send(Method::PATCH, &format!("/folders/{hr}"), Some(json!({ "name": "Mine" }))).await, 403)
        .await;
    let renamed = ana.ok(Method::PATCH, &format!("/folders/{hr}"), Some(json!({ "name": "People" })), 200).await;
    assert_eq!(renamed["name"], "People");
    assert_eq!(ana.get("/folders").await["items"][0]["name"], "People");

    // Versions: each text change keeps the previous one; restore adds a new version.
    let path = format!("/documents/{id}");
    ana.ok(Method::PATCH, &path, Some(json!({ "content": "# Leave\n\nFifteen days a year." })), 200).await;
    let v3 = ana.ok(Method::PUT, &path, Some(json!({ "title": "Leave policy 2026", "version": 2 })), 200).await;
    assert_eq!(v3["version"], 3);
    let stale = ana.ok(Method::PATCH, &path, Some(json!({ "content": "late", "version": 2 })), 409).await;
    assert_eq!(stale["version"], 3);
    let meta = ana.ok(Method::PATCH, &path, Some(json!({ "type": "rule" })), 200).await;
    assert_eq!(meta["version"], 3, "a new type is no new version");
    let versions = ana.get(&format!("{path}/versions")).await;
    let numbers: Vec<i64> =
        versions["items"].as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [3, 2, 1]);
    assert_eq!(versions["items"][0]["current"], true);
    let v1 = ana.get(&format!("{path}/versions/1")).await;
    assert_eq!(
        (v1["title"].as_str(), v1["content"].as_str()),
        (Some("Leave policy"), Some("# Leave\n\nTen days a year."))
    );
    assert_eq!(v1["author"], ana.id.as_str());
    assert_problem(ana.send(Method::GET, &format!("{path}/versions/9"), None).await, 404).await;
    let restored = ana.ok(Method::POST, &format!("{path}/versions/1/restore"), None, 200).await;
    assert_eq!(restored["version"], 4);
    assert_eq!(
        (restored["title"].as_str(), restored["content"].as_str()),
        (Some("Leave policy"), Some("# Leave\n\nTen days a year."))
    );
    let numbers: Vec<i64> = ana.get(&format!("{path}/versions")).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [4, 3, 2, 1], "the history is never rewritten");
    assert_eq!(ana.get(&format!("{path}/versions/2")).await["content"], "# Leave\n\nFifteen days a year.");
    assert_eq!(ana.get(&format!("{path}/versions/3")).await["title"], "Leave policy 2026");

    // Attachments: the owner and editors add and remove, viewers read, others see nothing.
    ana.ok(Method::POST, &format!("{path}/shares"), Some(json!({ "user_id": bob.id, "permission": "view" })), 201)
        .await;
    let bytes = common::bytes(50_000, 7);
    let upload = |who: &Member, name: &str| {
        who.req(Method::POST, &format!("{path}/attachments"))
            .query(&[("filename", name)])
            .header("content-type", "application/octet-stream")
            .body(bytes.clone())
    };
    let resp = upload(&ana, "form.bin").send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let attachment: Value = resp.json().await.unwrap();
    assert_eq!((attachment["size"].as_i64(), attachment["filename"].as_str()), (Some(50_000), Some("form.bin")));
    let file = format!("{path}/attachments/{}", attachment["id"]);
    assert_problem(upload(&bob, "mine.bin").send().await.unwrap(), 403).await;
    assert_problem(upload(&carl, "mine.bin").send().await.unwrap(), 404).await;
    let bad = upload(&ana, "a/b").send().await.unwrap();
    assert_eq!(assert_problem(bad, 422).await["errors"][0]["field"], "filename");
    let listed = bob.get(&format!("{path}/attachments")).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let got = bob.send(Method::GET, &file, None).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "application/octet-stream");
    assert!(got.headers()["content-disposition"].to_str().unwrap().contains("filename=\"form.bin\""));
    assert_eq!(got.bytes().await.unwrap().as_ref(), bytes.as_slice());
    assert_problem(carl.send(Method::GET, &file, None).await, 404).await;
    assert_problem(bob.send(Method::DELETE, &file, None).await, 403).await;
    assert_eq!(ana.status(Method::DELETE, &file, None).await, 204);
    assert_problem(bob.send(Method::GET, &file, None).await, 404).await;

    // Exports: Markdown with a front matter, and a PDF with the text.
    let md = bob.send(Method::GET, &format!("{path}/export.md"), None).await;
    assert_eq!(md.status(), 200);
    assert!(md.headers()["content-type"].to_str().unwrap().starts_with("text/markdown"));
    let md = md.text().await.unwrap();
    assert!(md.starts_with("---\ntitle: \"Leave policy\"\ntype: \"rule\"\nfolder: \"People\"\nupdated_at: \""), "{md}");
    assert!(md.ends_with("---\n\n# Leave\n\nTen days a year.\n"), "{md}");
    let pdf = bob.send(Method::GET, &format!("{path}/export.pdf"), None).await;
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let pdf = pdf.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains("Leave policy"), "{text}");
        assert!(text.contains("Ten days a year."), "{text}");
        assert!(text.contains("Folder: People"), "{text}");
    }
    assert_problem(carl.send(Method::GET, &format!("{path}/export.pdf"), None).await, 404).await;

    // An empty folder goes.
    assert_problem(bob.send(Method::DELETE, &path, None).await, 403).await;
    assert_eq!(ana.status(Method::DELETE, &path, None).await, 204);
    assert_eq!(s.object_count("tenants/acme/modules/documents").await, 0, "the attachments went with it");
    assert_eq!(ana.status(Method::DELETE, &format!("/folders/{hr}"), None).await, 204);
    assert_problem(ana.send(Method::DELETE, &format!("/folders/{hr}"), None).await, 404).await;
}

/// The text of a PDF as poppler's `pdftotext` reads it; `None` (skipped)
/// when it is not installed, unless `PLAZA_TEST_POPPLER` requires it.
fn pdf_text(pdf: &[u8]) -> Option<String> {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join("pdftotext")).find(|p| p.is_file()));
    let Some(tool) = found else {
        assert!(std::env::var_os("PLAZA_TEST_POPPLER").is_none(), "pdftotext is missing: install poppler-utils");
        eprintln!("skipped: pdftotext (poppler-utils) is not installed");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new(tool).arg(&path).arg("-").output().unwrap();
    assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8(out.stdout).unwrap())
}
