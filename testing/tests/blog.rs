//! The bundled `blog` module on the in-process host: slugs and redirects,
//! sanitised Markdown, validation, roles, publishing now and on a schedule,
//! search, tags, pagination, RSS, sitemap, covers and tenant isolation.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use plaza_testing::{Client, Running, TestHost, TestResponse};
use serde_json::{Value, json};

fn blog_wasm() -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/modules/blog.wasm");
    assert!(path.exists(), "run `cargo xtask plugins` first (cargo xtask test does)");
    path
}

/// The host with blog enabled for acme; the default caller is an admin.
async fn start() -> (Running, Client) {
    let host = TestHost::new().module(blog_wasm()).user(["admin"]).start().await.unwrap();
    let editor = host.as_user(&["editor"]).await.unwrap();
    (host, editor)
}

fn unix_now() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

/// `secs` from now as RFC 3339 UTC.
fn rfc3339_in(secs: i64) -> String {
    rfc3339(unix_now() + secs)
}

/// Unix seconds as RFC 3339 UTC.
fn rfc3339(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn created(resp: &TestResponse) -> Value {
    assert_eq!(resp.status, 201, "{}", resp.text());
    resp.json()
}

fn ok(resp: &TestResponse) -> Value {
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()
}

/// A 422 problem naming `field` in its detail and its `errors`.
fn assert_invalid(resp: &TestResponse, field: &str) {
    assert_eq!(resp.status, 422, "{}", resp.text());
    assert_eq!(resp.problem_type().as_deref(), Some("urn:plaza:problem:validation-failed"));
    let doc: Value = resp.json();
    assert!(doc["detail"].as_str().unwrap().contains(field), "{doc}");
    assert!(doc["errors"].as_array().unwrap().iter().any(|e| e["field"] == field), "{doc}");
}

/// Creates a post as `client` and returns it.
async fn post(client: &Client, body: Value) -> Value {
    created(&client.post_json("/admin/posts", &body).await)
}

fn id(post: &Value) -> i64 {
    post["id"].as_i64().unwrap()
}

/// Checks that an XML document is well-formed; its element names.
fn parse_xml(text: &str) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut names = Vec::new();
    let mut depth = 0_i32;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) => {
                depth += 1;
                names.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap());
            }
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("not well-formed XML ({e}): {text}"),
        }
    }
    assert_eq!(depth, 0, "unbalanced XML: {text}");
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slugs_redirects_rendering_validation_and_roles() {
    let (host, editor) = start().await;
    let anonymous = host.anonymous();

    // Credentials are needed on admin routes; a plain member is refused.
    assert_eq!(anonymous.get("/admin/posts").await.status, 401);
    assert_eq!(anonymous.post_json("/admin/posts", &json!({ "title": "x" })).await.status, 401);
    let member = host.as_user(&["member"]).await.unwrap();
    assert_eq!(member.get("/admin/posts").await.status, 403);

    // Slugs come from the title, accents folded; clashes get -2, -3.
    let first = post(&editor, json!({ "title": "Año Nuevo: ¡Ñandú!", "content_markdown": "Hola" })).await;
    assert_eq!(first["slug"], "ano-nuevo-nandu");
    assert_eq!(first["status"], "draft");
    assert_eq!(first["published_at"], Value::Null);
    assert!(first["author_id"].as_str().is_some_and(|a| !a.is_empty()), "{first}");
    let second = post(&editor, json!({ "title": "Año nuevo, ñandú" })).await;
    assert_eq!(second["slug"], "ano-nuevo-nandu-2");
    assert_eq!(post(&editor, json!({ "title": "AÑO NUEVO ÑANDÚ" })).await["slug"], "ano-nuevo-nandu-3");

    // An explicit slug that another post has is a 409 naming `slug`; an invalid one a 422.
    let clash = editor.post_json("/admin/posts", &json!({ "title": "Other", "slug": "ano-nuevo-nandu" })).await;
    assert_eq!(clash.status, 409, "{}", clash.text());
    assert_eq!(clash.json::<Value>()["errors"][0]["field"], "slug");
    assert!(clash.json::<Value>()["detail"].as_str().unwrap().contains("slug"));
    assert_invalid(&editor.post_json("/admin/posts", &json!({ "title": "Other", "slug": "Not Valid" })).await, "slug");

    // Validation names the field; malformed JSON is a 400; unknown fields a 422.
    let long = "x".repeat(301);
    assert_invalid(
        &editor.post_json("/admin/posts", &json!({ "title": "Meta", "meta_description": long })).await,
        "meta_description",
    );
    assert_invalid(&editor.post_json("/admin/posts", &json!({ "title": "  " })).await, "title");
    assert_invalid(&editor.post_json("/admin/posts", &json!({ "title": "t".repeat(201) })).await, "title");
    assert_invalid(
        &editor
            .post_json("/admin/posts", &json!({ "title": "Faq", "faq": [{ "question": "Q?", "answer": " " }] }))
            .await,
        "faq[0].answer",
    );
    let many_tags: Vec<String> = (0..21).map(|i| format!("tag{i}")).collect();
    assert_invalid(&editor.post_json("/admin/posts", &json!({ "title": "Tags", "tags": many_tags })).await, "tags");
    let malformed =
        editor.request("POST", "/admin/posts", &[("content-type", "application/json")], b"{\"title\":".to_vec()).await;
    assert_eq!(malformed.status, 400);
    assert_eq!(editor.post_json("/admin/posts", &json!({ "title": "T", "colour": "red" })).await.status, 422);

    // Markdown is rendered and sanitised when written.
    let markdown = "Some **bold** text.\n\n<script>alert(1)</script>\n\n[click](javascript:alert(1)) \
                    <img src=x onerror=alert(2)>\n\n- one\n- two";
    let rendered = post(
        &editor,
        json!({
            "title": "Rendering",
            "content_markdown": markdown,
            "faq": [{ "question": "Is it safe?", "answer": "Yes." }, { "question": "Why?", "answer": "Ammonia." }],
            "tags": ["Security", "Markdown"],
        }),
    )
    .await;
    let html = rendered["content_html"].as_str().unwrap();
    assert!(html.contains("<strong>bold</strong>"), "{html}");
    assert!(html.contains("<li>one</li>"), "{html}");
    for bad in ["<script", "alert(1)", "javascript:", "onerror"] {
        assert!(!html.contains(bad), "{bad} survived: {html}");
    }
    assert_eq!(rendered["excerpt"], "Some bold text. click one two");
    assert_eq!(rendered["tags"], json!(["markdown", "security"]));
    assert_eq!(
        rendered["json_ld"],
        json!({
            "@context": "https://schema.org",
            "@type": "FAQPage",
            "mainEntity": [
                { "@type": "Question", "name": "Is it safe?", "acceptedAnswer": { "@type": "Answer", "text": "Yes." } },
                { "@type": "Question", "name": "Why?", "acceptedAnswer": { "@type": "Answer", "text": "Ammonia." } },
            ]
        })
    );
    assert_eq!(first["json_ld"], Value::Null);

    // Drafts are invisible to the public.
    assert_eq!(anonymous.get("/posts/ano-nuevo-nandu").await.status, 404);
    assert_eq!(ok(&anonymous.get("/posts").await)["total"], 0);

    // Editors cannot publish, nor change a status; admins can.
    let first_id = id(&first);
    let publish = format!("/admin/posts/{first_id}/publish");
    let refused = editor.post_json(&publish, &json!({})).await;
    assert_eq!(refused.status, 403);
    let refused = editor.put_json(&format!("/admin/posts/{first_id}"), &json!({ "status": "published" })).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(refused.problem_type().is_some());
    let refused = editor.post_json("/admin/posts", &json!({ "title": "Direct", "status": "published" })).await;
    assert_eq!(refused.status, 403);
    let published = ok(&host.request("POST", &publish, &[], Vec::new()).await);
    assert_eq!(published["status"], "published");
    assert!(published["published_at"].as_str().unwrap().ends_with('Z'));
    let public = ok(&anonymous.get("/posts/ano-nuevo-nandu").await);
    assert_eq!(public["id"], first_id);
    assert!(public["content_html"].as_str().unwrap().contains("Hola"));

    // Publishing wrote the event (the test host dispatches nothing, so it waits in the outbox).
    let events = plaza::events::deliveries::undispatched(&host.app().db, 100).await.unwrap();
    let event = events.iter().find(|e| e.event_type == "blog.post-published").expect("a blog.post-published event");
    let payload: Value = serde_json::from_str(&event.payload).unwrap();
    assert_eq!(payload, json!({ "id": first_id, "slug": "ano-nuevo-nandu", "title": "Año Nuevo: ¡Ñandú!" }));

    // Editors edit content (a partial update) and slugs; the old slug redirects.
    let renamed = ok(&editor
        .put_json(&format!("/admin/posts/{first_id}"), &json!({ "slug": "new-year", "content_markdown": "Adiós" }))
        .await);
    assert_eq!((renamed["slug"].as_str(), renamed["title"].as_str()), (Some("new-year"), Some("Año Nuevo: ¡Ñandú!")));
    assert_eq!(renamed["status"], "published");
    assert_eq!(renamed["excerpt"], "Adiós");
    let moved = anonymous.get("/posts/ano-nuevo-nandu").await;
    assert_eq!(moved.status, 301, "{}", moved.text());
    assert_eq!(moved.header("location"), Some("/t/acme/blog/posts/new-year"));
    assert_eq!(ok(&anonymous.get("/posts/new-year").await)["id"], first_id);
    // A second rename: the first slug leads to the current one directly.
    ok(&editor.put_json(&format!("/admin/posts/{first_id}"), &json!({ "slug": "happy-new-year" })).await);
    assert_eq!(
        anonymous.get("/posts/ano-nuevo-nandu").await.header("location"),
        Some("/t/acme/blog/posts/happy-new-year")
    );
    assert_eq!(anonymous.get("/posts/new-year").await.header("location"), Some("/t/acme/blog/posts/happy-new-year"));
    // Renaming onto another post's current slug is a 409.
    let clash = editor.put_json(&format!("/admin/posts/{first_id}"), &json!({ "slug": "ano-nuevo-nandu-2" })).await;
    assert_eq!(clash.status, 409);
    assert_eq!(clash.json::<Value>()["field"], "slug");

    // A redirect never shadows a current slug: another post takes the old one.
    let taker = post(&editor, json!({ "title": "Taker", "slug": "ano-nuevo-nandu" })).await;
    assert_eq!(anonymous.get("/posts/ano-nuevo-nandu").await.status, 404, "the taker is a draft");
    ok(&host.post_json(&format!("/admin/posts/{}/publish", id(&taker)), &json!({})).await);
    assert_eq!(ok(&anonymous.get("/posts/ano-nuevo-nandu").await)["id"], id(&taker));

    // Unpublishing hides a post again; unknown posts are 404s.
    let draft = ok(&host.post_json(&format!("/admin/posts/{}/unpublish", id(&taker)), &json!({})).await);
    assert_eq!((draft["status"].as_str(), &draft["published_at"]), (Some("draft"), &Value::Null));
    assert_eq!(anonymous.get("/posts/ano-nuevo-nandu").await.status, 404);
    assert_eq!(editor.get("/admin/posts/999999").await.status, 404);
    assert_eq!(editor.put_json("/admin/posts/999999", &json!({ "title": "x" })).await.status, 404);
    assert_eq!(anonymous.get("/posts/no-such-post").await.status, 404);

    // Deleting is for admins; it takes the post's redirects along.
    assert_eq!(editor.delete(&format!("/admin/posts/{first_id}")).await.status, 403);
    assert_eq!(host.delete(&format!("/admin/posts/{first_id}")).await.status, 204);
    assert_eq!(editor.get(&format!("/admin/posts/{first_id}")).await.status, 404);
    assert_eq!(anonymous.get("/posts/new-year").await.status, 404);
    assert_eq!(anonymous.get("/posts/happy-new-year").await.status, 404);

    // Another tenant sees none of acme's posts.
    let globex = host.other_tenant("globex", &["admin"]).await.unwrap();
    assert_eq!(ok(&globex.get("/admin/posts").await)["total"], 0);
    assert_eq!(ok(&globex.get("/posts").await)["total"], 0);
    assert_eq!(globex.get(&format!("/admin/posts/{}", id(&second))).await.status, 404);
    // ... and its slugs are its own.
    assert_eq!(post(&globex, json!({ "title": "Año Nuevo: ¡Ñandú!" })).await["slug"], "ano-nuevo-nandu");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_tags_pagination_feed_and_sitemap() {
    let (host, editor) = start().await;
    let anonymous = host.anonymous();

    // Five published posts tagged rust (two also web), one draft.
    let mut slugs = Vec::new();
    for i in 1..=5 {
        let tags = if i <= 2 { json!(["Rust", "Web Dev"]) } else { json!(["rust"]) };
        let p = post(
            &host,
            json!({ "title": format!("Post {i}"), "content_markdown": format!("Body {i}"), "tags": tags, "status": "published" }),
        )
        .await;
        slugs.push(p["slug"].as_str().unwrap().to_owned());
    }
    let nandu = post(
        &host,
        json!({
            "title": "El ñandú corre RÁPIDO",
            "content_markdown": "Un *pájaro* grande de Sudamérica & <b>más</b>.",
            "tags": ["Aves"],
            "status": "published",
        }),
    )
    .await;
    let fish = post(&host, json!({ "title": "Fish & Chips <3", "status": "published", "tags": ["food"] })).await;
    let draft =
        post(&editor, json!({ "title": "Secret draft", "content_markdown": "ñandú", "tags": ["hidden"] })).await;

    // Pagination: newest published first, with totals.
    let page1 = ok(&anonymous.get("/posts?per_page=3").await);
    assert_eq!(
        (page1["total"].as_i64(), page1["page"].as_i64(), page1["per_page"].as_i64()),
        (Some(7), Some(1), Some(3))
    );
    assert_eq!(page1["items"].as_array().unwrap().len(), 3);
    assert_eq!(page1["items"][0]["id"], fish["id"]);
    assert!(page1["items"][0].get("content_html").is_none(), "lists show summaries");
    let page3 = ok(&anonymous.get("/posts?per_page=3&page=3").await);
    assert_eq!(page3["items"].as_array().unwrap().len(), 1);
    assert_eq!(page3["total"], 7);
    assert_eq!(ok(&anonymous.get("/posts?page=9").await)["items"], json!([]));
    assert_invalid(&anonymous.get("/posts?per_page=500").await, "per_page");
    assert_invalid(&anonymous.get("/posts?page=0").await, "page");
    assert_invalid(&anonymous.get("/posts?page=abc").await, "page");

    // Search: accent- and case-insensitive, every word must match, drafts excluded.
    let found =
        |v: &Value| v["items"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect::<Vec<_>>();
    assert_eq!(found(&ok(&anonymous.get("/posts?q=NANDU").await)), vec![id(&nandu)]);
    assert_eq!(found(&ok(&anonymous.get("/posts?q=%C3%B1and%C3%BA%20pajaro").await)), vec![id(&nandu)]);
    assert_eq!(found(&ok(&anonymous.get("/posts?q=rapido%20sudamerica").await)), vec![id(&nandu)]);
    assert_eq!(ok(&anonymous.get("/posts?q=nandu%20gato").await)["total"], 0);
    assert_eq!(ok(&anonymous.get("/posts?q=body").await)["total"], 5);
    assert_eq!(ok(&anonymous.get("/posts?q=body&tag=Web%20Dev").await)["total"], 2);
    // The admin list sees drafts, filters by status, and checks its parameters.
    let admin_search = ok(&editor.get("/admin/posts?q=nandu").await);
    assert_eq!(admin_search["total"], 2);
    let drafts = ok(&editor.get("/admin/posts?status=draft").await);
    assert_eq!(found(&drafts), vec![id(&draft)]);
    assert_eq!(ok(&editor.get("/admin/posts").await)["total"], 8);
    assert_invalid(&editor.get("/admin/posts?status=bogus").await, "status");

    // Tags of published posts with counts; tag pages.
    let tags = ok(&anonymous.get("/tags").await);
    assert_eq!(tags["total"], 4);
    assert_eq!(tags["items"][0], json!({ "tag": "rust", "count": 5 }));
    assert_eq!(tags["items"][1], json!({ "tag": "web-dev", "count": 2 }));
    assert!(!tags.to_string().contains("hidden"), "draft tags are not listed: {tags}");
    let tag_page = ok(&anonymous.get("/tags/rust?per_page=2").await);
    assert_eq!((tag_page["tag"].as_str(), tag_page["total"].as_i64()), (Some("rust"), Some(5)));
    assert_eq!(tag_page["items"].as_array().unwrap().len(), 2);
    assert_eq!(ok(&anonymous.get("/tags/Web%20Dev").await)["total"], 2);
    assert_eq!(anonymous.get("/tags/hidden").await.status, 404);
    assert_eq!(ok(&anonymous.get("/tags?per_page=1&page=2").await)["items"][0]["tag"], "web-dev");

    // RSS: the published posts, escaped, no drafts, well-formed.
    let feed = anonymous.get("/feed.xml").await;
    assert_eq!(feed.status, 200);
    assert_eq!(feed.header("content-type"), Some("application/rss+xml; charset=utf-8"));
    let xml = feed.text();
    let names = parse_xml(&xml);
    assert_eq!(names.iter().filter(|n| *n == "item").count(), 7);
    assert!(xml.contains("<title>Fish &amp; Chips &lt;3</title>"), "{xml}");
    assert!(xml.contains(&format!("<link>/t/acme/blog/posts/{}</link>", nandu["slug"].as_str().unwrap())), "{xml}");
    assert!(xml.contains("<pubDate>"), "{xml}");
    assert!(!xml.contains("Secret draft"));

    // Sitemap: published posts and tag pages, no drafts, well-formed.
    let map = anonymous.get("/sitemap.xml").await;
    assert_eq!(map.status, 200);
    assert!(map.header("content-type").unwrap().starts_with("application/xml"));
    let xml = map.text();
    parse_xml(&xml);
    for slug in &slugs {
        assert!(xml.contains(&format!("<loc>/t/acme/blog/posts/{slug}</loc>")), "{xml}");
    }
    assert!(xml.contains("<loc>/t/acme/blog/tags/web-dev</loc>"), "{xml}");
    assert!(!xml.contains(draft["slug"].as_str().unwrap()), "{xml}");
    assert!(!xml.contains("/tags/hidden"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_posts_are_published_by_the_job() {
    let (host, editor) = start().await;
    let anonymous = host.anonymous();

    // Scheduling needs a future published_at, and an admin.
    assert_invalid(
        &host.post_json("/admin/posts", &json!({ "title": "S", "status": "scheduled" })).await,
        "published_at",
    );
    assert_invalid(
        &host
            .post_json("/admin/posts", &json!({ "title": "S", "status": "scheduled", "published_at": rfc3339_in(-60) }))
            .await,
        "published_at",
    );
    assert_invalid(
        &host
            .post_json("/admin/posts", &json!({ "title": "S", "status": "scheduled", "published_at": "tomorrow" }))
            .await,
        "published_at",
    );
    // Four seconds ahead: the calls below take well under that.
    let due = unix_now() + 4;
    let at = rfc3339(due);
    let refused =
        editor.post_json("/admin/posts", &json!({ "title": "S", "status": "scheduled", "published_at": at })).await;
    assert_eq!(refused.status, 403);

    let soon =
        post(&host, json!({ "title": "Soon", "status": "scheduled", "published_at": at, "tags": ["later"] })).await;
    assert_eq!((soon["status"].as_str(), soon["published_at"].as_str()), (Some("scheduled"), Some(at.as_str())));
    // A draft rescheduled through PUT, far ahead; another through /publish.
    let later = post(&editor, json!({ "title": "Later" })).await;
    let later = ok(&host
        .put_json(
            &format!("/admin/posts/{}", id(&later)),
            &json!({ "status": "scheduled", "published_at": rfc3339_in(3600) }),
        )
        .await);
    assert_eq!(later["status"], "scheduled");
    let queued = post(&editor, json!({ "title": "Queued" })).await;
    let queued = ok(&host
        .post_json(&format!("/admin/posts/{}/publish", id(&queued)), &json!({ "publish_at": rfc3339(due) }))
        .await);
    assert_eq!(queued["status"], "scheduled");

    // Not public before its time, even when the job runs.
    assert_eq!(anonymous.get("/posts/soon").await.status, 404);
    let run = host.run_job("publish-scheduled").await.unwrap();
    assert_eq!(run.status, "succeeded", "{run:?}");
    assert_eq!(anonymous.get("/posts/soon").await.status, 404);
    assert_eq!(ok(&anonymous.get("/posts").await)["total"], 0);

    // Once the time has passed, the job publishes it (and only it).
    let wait = u64::try_from(due + 1 - unix_now()).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(wait * 1000 + 100)).await;
    let run = host.run_job("publish-scheduled").await.unwrap();
    assert_eq!(run.status, "succeeded", "{run:?}");
    let public = ok(&anonymous.get("/posts/soon").await);
    assert_eq!((public["status"].as_str(), public["published_at"].as_str()), (Some("published"), Some(at.as_str())));
    assert_eq!(ok(&anonymous.get("/posts/queued").await)["status"], "published");
    assert_eq!(ok(&anonymous.get("/posts").await)["total"], 2);
    assert_eq!(ok(&editor.get(&format!("/admin/posts/{}", id(&later))).await)["status"], "scheduled");
    assert_eq!(ok(&anonymous.get("/tags/later").await)["total"], 1);
    let events = plaza::events::deliveries::undispatched(&host.app().db, 100).await.unwrap();
    let published: Vec<Value> = events
        .iter()
        .filter(|e| e.event_type == "blog.post-published")
        .map(|e| serde_json::from_str(&e.payload).unwrap())
        .collect();
    assert_eq!(published.len(), 2, "{published:?}");
    assert!(published.iter().any(|p| p["slug"] == "soon" && p["id"] == soon["id"]));
    // A second run has nothing left to do.
    host.run_job("publish-scheduled").await.unwrap();
    let again = plaza::events::deliveries::undispatched(&host.app().db, 100).await.unwrap();
    assert_eq!(again.iter().filter(|e| e.event_type == "blog.post-published").count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn covers_are_images_served_with_their_type() {
    let (host, editor) = start().await;
    let anonymous = host.anonymous();
    let p = post(&editor, json!({ "title": "Covered" })).await;
    let cover_path = format!("/admin/posts/{}/cover", id(&p));
    let png = [b"\x89PNG\r\n\x1a\n".as_slice(), b"not really the rest of a png"].concat();

    // Only images, and bodies that are what they claim to be.
    let text = editor.put_bytes(&cover_path, "text/plain", b"hello".to_vec()).await;
    assert_eq!(text.status, 415, "{}", text.text());
    assert_eq!(text.json::<Value>()["errors"][0]["field"], "content-type");
    assert_eq!(editor.put_bytes(&cover_path, "image/svg+xml", b"<svg/>".to_vec()).await.status, 415);
    assert_invalid(&editor.put_bytes(&cover_path, "image/png", b"GIF89a....".to_vec()).await, "body");
    assert_eq!(editor.put_bytes("/admin/posts/999999/cover", "image/png", png.clone()).await.status, 404);
    assert_eq!(anonymous.put_bytes(&cover_path, "image/png", png.clone()).await.status, 401);

    let with_cover = ok(&editor.put_bytes(&cover_path, "image/png", png.clone()).await);
    assert_eq!(with_cover["cover"]["content_type"], "image/png");
    assert_eq!(with_cover["cover"]["size"], png.len());
    assert_eq!(with_cover["cover"]["url"], "/t/acme/blog/posts/covered/cover");
    let own = editor.get(&cover_path).await;
    assert_eq!((own.status, own.header("content-type")), (200, Some("image/png")));

    // The public cover needs a published post.
    assert_eq!(anonymous.get("/posts/covered/cover").await.status, 404);
    ok(&host.post_json(&format!("/admin/posts/{}/publish", id(&p)), &json!({})).await);
    let image = anonymous.get("/posts/covered/cover").await;
    assert_eq!((image.status, image.header("content-type")), (200, Some("image/png")));
    assert_eq!(image.body, png);
    // Replaced by a GIF, then removed.
    let gif = b"GIF89a\x01\x00\x01\x00".to_vec();
    assert_eq!(
        ok(&editor.put_bytes(&cover_path, "image/gif", gif.clone()).await)["cover"]["content_type"],
        "image/gif"
    );
    assert_eq!(anonymous.get("/posts/covered/cover").await.body, gif);
    assert_eq!(editor.delete(&cover_path).await.status, 204);
    assert_eq!(editor.delete(&cover_path).await.status, 404);
    assert_eq!(anonymous.get("/posts/covered/cover").await.status, 404);
    assert_eq!(ok(&anonymous.get("/posts/covered").await)["cover"], Value::Null);

    // Deleting a post deletes its cover.
    ok(&editor.put_bytes(&cover_path, "image/webp", b"RIFF\x10\x00\x00\x00WEBPVP8 ".to_vec()).await);
    assert_eq!(host.delete(&format!("/admin/posts/{}", id(&p))).await.status, 204);
    assert_eq!(anonymous.get("/posts/covered/cover").await.status, 404);
}
