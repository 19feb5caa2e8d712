//! Swagger UI in a real browser (Debian's Chromium, headless) with the
//! network cut off: every asset must come from Plaza itself, and a person
//! can authorize and call a module's route from the tenant's docs page.
//!
//! `cargo xtask test` installs Chromium and sets `PLAZA_TEST_CHROMIUM`; a
//! plain `cargo test` uses `/usr/bin/chromium` when present and says so when not.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

#[path = "browser/cdp.rs"]
mod cdp;
mod common;

use std::path::PathBuf;
use std::process::Command;

use common::users::onboard;
use common::{TestServer, modules_dir};
use reqwest::Method;
use serde_json::{Value, json};

/// Runs headless Chromium on `url` with every host name unresolvable except
/// loopback, so a page that needs a CDN cannot render.
fn headless(browser: &PathBuf, profile: &std::path::Path, extra: &[&str], url: &str) -> std::process::Output {
    Command::new(browser)
        .args(cdp::OFFLINE_HEADLESS)
        .args(["--virtual-time-budget=15000", "--window-size=1280,2400"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("chromium runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swagger_ui_renders_offline_in_chromium() {
    let Some(browser) = cdp::chromium_or_skip() else { return };
    let s = TestServer::start().await;
    let url = s.url("/docs");
    let profile = tempfile::tempdir().unwrap();

    let dump = {
        let (browser, profile, url) = (browser.clone(), profile.path().to_owned(), url.clone());
        tokio::task::spawn_blocking(move || headless(&browser, &profile, &["--dump-dom"], &url)).await.unwrap()
    };
    let dom = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.status.success(), "chromium failed: {}", String::from_utf8_lossy(&dump.stderr));
    // Swagger UI built the page from /openapi.json: the title and operations are there.
    assert!(dom.contains("swagger-ui"), "Swagger UI did not load:\n{dom}");
    assert!(dom.contains("opblock"), "no operations rendered:\n{dom}");
    for text in ["Plaza", "Create a tenant", "Upload a file (raw body)", "Liveness probe", "Authorize"] {
        assert!(dom.contains(text), "{text:?} missing from the rendered page");
    }

    // Keep a screenshot with the test output for people to look at.
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&out_dir).unwrap();
    let shot = out_dir.join("docs.png");
    let arg = format!("--screenshot={}", shot.display());
    let (profile, url2) = (profile.path().to_owned(), url.clone());
    let out = tokio::task::spawn_blocking(move || headless(&browser, &profile, &[&arg], &url2)).await.unwrap();
    assert!(out.status.success(), "screenshot failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::metadata(&shot).map(|m| m.len() > 10_000).unwrap_or(false), "empty screenshot");
    eprintln!("screenshot of {url}: {}", shot.display());
    s.stop().await;
}

/// A server with the bundled modules, where anyone may register.
async fn open_server_with_modules() -> TestServer {
    TestServer::start_with(|c| {
        c.modules_dir = modules_dir().display().to_string();
        c.registration = plaza::config::Registration::Open;
    })
    .await
}

/// Waits (in the page) until `selector` matches an element; returns it.
const PAGE_HELPERS: &str = r#"
window.plazaWait = async function (find, what, ms) {
  const end = Date.now() + (ms || 20000);
  for (;;) {
    const found = find();
    if (found) return found;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise(r => setTimeout(r, 100));
  }
};
window.plazaOperation = function (method, path) {
  return [...document.querySelectorAll('.opblock-' + method)]
    .find(op => op.querySelector('[data-path="' + path + '"]'));
};
true
"#;

/// The demo tenant's docs page, driven as a person would: Authorize with the
/// demo admin's token, open the blog's posts list, "Try it out", "Execute",
/// and read the answer Swagger UI shows. A screenshot is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_tenant_docs_authorize_and_try_the_posts_list() {
    let Some(browser) = cdp::chromium_or_skip() else { return };
    let s = open_server_with_modules().await;
    s.tenant_with("demo", &["blog"]).await;
    let token = onboard(&s, None, "demo", "admin@demo.example", &["admin"]).await;
    let created = s
        .anon(Method::POST, "/t/demo/blog/admin/posts")
        .bearer_auth(&token)
        .json(&json!({ "title": "Hello from the demo", "content_markdown": "Seeded **post**." }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let id = created.json::<Value>().await.unwrap()["id"].clone();
    let published =
        s.anon(Method::POST, &format!("/t/demo/blog/admin/posts/{id}/publish")).bearer_auth(&token).json(&json!({}));
    assert_eq!(published.send().await.unwrap().status(), 200);

    let profile = tempfile::tempdir().unwrap();
    let mut page = cdp::Page::launch(&browser, profile.path()).await;
    page.navigate(&s.url("/t/demo/docs")).await;
    page.eval(PAGE_HELPERS).await;

    // Anonymous, the document has the public routes and the Authorize button.
    let posts = "/t/demo/blog/posts";
    let admin_posts = "/t/demo/blog/admin/posts";
    page.eval(&format!("plazaWait(() => plazaOperation('get', '{posts}'), 'the posts list').then(() => true)")).await;
    let protected_shown = page.eval(&format!("!!plazaOperation('get', '{admin_posts}')")).await;
    assert_eq!(protected_shown, json!(false), "anonymous callers see only public operations");

    // Authorize: the bearer field, typed into, then the modal's Authorize and Close.
    let bearer_form = "[...document.querySelectorAll('.modal-ux .auth-container')]
                         .find(c => c.textContent.includes('bearerAuth'))";
    page.click("document.querySelector('.auth-wrapper .authorize')", "Authorize").await;
    page.click(&format!("({bearer_form})?.querySelector('input')"), "the bearer field").await;
    page.type_text(&token).await;
    page.click(&format!("({bearer_form})?.querySelector('button.authorize')"), "the modal's Authorize").await;
    page.click("document.querySelector('.modal-ux button.btn-done')", "Close").await;

    // Authorized, the document is fetched again with the admin's routes.
    page.eval(&format!(
        "plazaWait(() => plazaOperation('get', '{admin_posts}'), 'the admin routes after authorizing').then(() => true)"
    ))
    .await;

    // Try it out on the public posts list, then on the editors' list, which
    // needs the authorization just given.
    let public = try_it_out(&mut page, posts).await;
    assert_eq!(public["status"], "200", "{public}");
    assert!(public["body"].as_str().unwrap().contains("Hello from the demo"), "{public}");
    let admin = try_it_out(&mut page, admin_posts).await;
    assert_eq!(admin["status"], "200", "{admin}");
    assert!(admin["body"].as_str().unwrap().contains("\"total\": 1"), "{admin}");
    assert!(admin["curl"].as_str().unwrap().contains(&format!("Authorization: Bearer {token}")), "{admin}");

    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&out_dir).unwrap();
    let shot = out_dir.join("demo-try-it-out.png");
    let size = page.screenshot(&shot).await;
    assert!(size > 10_000, "empty screenshot ({size} bytes)");
    eprintln!("screenshot: {}", shot.display());
    drop(page);
    s.stop().await;
}

/// Opens the GET operation on `path`, clicks "Try it out" and "Execute",
/// and returns what Swagger UI shows: the status, the body and the curl line.
async fn try_it_out(page: &mut cdp::Page, path: &str) -> Value {
    let within = |selector: &str| format!("plazaOperation('get', '{path}')?.querySelector('{selector}')");
    page.click(&within(".opblock-summary-control"), "the operation").await;
    page.click(&within(".try-out__btn"), "Try it out").await;
    page.click(&within("button.execute"), "Execute").await;
    let answer = page
        .eval(&format!(
            "plazaWait(() => {status}, 'the response').then(status => {{
               const op = plazaOperation('get', '{path}');
               const body = op.querySelector('.live-responses-table .response-col_description pre');
               const curl = op.querySelector('.curl-command .curl, .curl');
               return {{ status: status.textContent.trim(), body: body ? body.textContent : '',
                         curl: curl ? curl.textContent : '' }};
             }})",
            status = within(".live-responses-table tbody .response-col_status")
        ))
        .await;
    eprintln!("Swagger UI answered GET {path}: {answer:#}");
    answer
}

/// A page served by tenant evil's module, opened by tenant acme's admin who
/// is signed in with cookies: it runs, but in an opaque origin. It reads no
/// cookie, its requests to the host carry none, and their answers are
/// hidden from it, so it cannot act as the admin: acme's blog gets no post.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_page_cannot_act_as_the_person_who_opens_it() {
    let Some(browser) = cdp::chromium_or_skip() else { return };
    let s = open_server_with_modules().await;
    s.tenant_with("evil", &["rogue"]).await;
    s.tenant_with("acme", &["blog"]).await;
    onboard(&s, None, "acme", "admin@acme.example", &["admin"]).await;
    let key = s.api_key("acme", &["admin"]).await;

    let profile = tempfile::tempdir().unwrap();
    let mut page = cdp::Page::launch(&browser, profile.path()).await;
    // The admin signs in in cookie mode from a page of the host's origin
    // (its docs page, whose policy lets it call the API)...
    page.navigate(&s.url("/docs")).await;
    let csrf = page
        .eval(&format!(
            "fetch('/api/v1/auth/login', {{ method: 'POST', headers: {{ 'content-type': 'application/json' }},
               body: JSON.stringify({{ email: 'admin@acme.example', password: '{}', cookie: true }}) }})
             .then(r => r.json()).then(b => b.csrf_token)",
            common::users::PASSWORD
        ))
        .await;
    let csrf = csrf.as_str().expect("a CSRF token in the sign-in answer").to_owned();
    // ...and, from there, the cookies work: the host's own pages can act.
    let own = page
        .eval(&format!(
            "fetch('/t/acme/blog/admin/posts', {{ method: 'POST',
               headers: {{ 'content-type': 'application/json', 'x-csrf-token': '{csrf}' }},
               body: JSON.stringify({{ title: 'Written by the admin', content_markdown: 'ok' }}) }})
             .then(r => r.status)"
        ))
        .await;
    assert_eq!(own, json!(201), "cookie mode works on the host's own origin");
    let cookies = page.call("Network.getCookies", json!({ "urls": [s.url("/api/v1/auth/refresh")] })).await;
    let cookies = cookies["cookies"].as_array().unwrap();
    assert_eq!(cookies.len(), 3, "{cookies:?}");
    for c in cookies {
        let name = c["name"].as_str().unwrap();
        assert!(name.starts_with("__Host-") || name.starts_with("__Secure-"), "{name}");
        assert_eq!(c["httpOnly"], true, "{name} is not readable by any script");
    }

    // The admin opens evil's page.
    page.navigate(&s.url("/t/evil/rogue/page?victim=/t/acme/blog/admin/posts")).await;
    page.eval(PAGE_HELPERS).await;
    let got = page.eval("plazaWait(() => window.rogue && window.rogue.done && window.rogue, 'the rogue page')").await;
    eprintln!("the rogue page reports: {got:#}");
    assert_eq!(got["origin"], "null", "the page runs in an opaque origin: {got}");
    assert!(got.get("cookie").is_none_or(|c| c == ""), "it read cookies: {got}");
    assert!(got.get("storage").is_none(), "it reached the host's storage: {got}");
    assert!(got.get("me_status").is_none_or(|s| s != 200), "it read the admin's account: {got}");
    assert!(got.get("csrf_status").is_none_or(|s| s != 200), "it read the CSRF token: {got}");
    assert!(got.get("post_status").is_none_or(|s| s != 201), "it wrote a post: {got}");

    // Nothing was written in acme's blog but the admin's own post.
    let list: Value = s
        .anon(Method::GET, "/t/acme/blog/admin/posts")
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["items"][0]["title"], "Written by the admin", "{list}");
    drop(page);
    s.stop().await;
}
