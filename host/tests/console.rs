//! The web console in a real browser (Debian's Chromium, headless, offline):
//! a tenant admin signs in and manages the tenant's modules, members and
//! API keys; a member without the admin role gets no admin action and a
//! 403 when crafting one; every page passes axe-core's accessibility rules
//! (`PLAZA_TEST_AXE`, the axe.min.js `cargo xtask test` installs). Each
//! step checks what the page shows and then what the API says.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

#[path = "browser/cdp.rs"]
mod cdp;
mod common;

use std::path::PathBuf;

use base64::Engine as _;
use common::packages::{as_key, json_of, publish_signed};
use common::users::{PASSWORD, onboard};
use common::{TestServer, modules_dir};
use plaza_registry::PublisherKey;
use reqwest::Method;
use serde_json::{Value, json};

/// Waits in the page for a condition; clicks a button by its visible text.
const HELPERS: &str = r#"
window.plazaWait = async function (find, what, ms) {
  const end = Date.now() + (ms || 20000);
  for (;;) {
    const found = find();
    if (found) return found;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what + '; alert: ' + document.getElementById('alert').innerText + '; main: ' + document.getElementById('main').innerText.slice(0, 1500));
    await new Promise(r => setTimeout(r, 100));
  }
};
window.plazaButton = function (text, within) {
  return [...(within || document).querySelectorAll('button')].find(b => b.textContent.trim() === text && !b.disabled);
};
window.plazaRow = function (first) {
  return [...document.querySelectorAll('main tr')].find(r => r.cells[0] && r.cells[0].textContent.trim() === first);
};
true
"#;

struct Console {
    page: cdp::Page,
    base: String,
    axe: Option<String>,
    shots: Vec<PathBuf>,
}

impl Console {
    async fn open(s: &TestServer, browser: &std::path::Path, profile: &std::path::Path) -> Console {
        let page = cdp::Page::launch(browser, profile).await;
        let axe =
            std::env::var("PLAZA_TEST_AXE").ok().filter(|p| !p.is_empty()).map(|p| std::fs::read_to_string(p).unwrap());
        if axe.is_none() {
            eprintln!(
                "NOTE: PLAZA_TEST_AXE is not set: the accessibility checks are skipped (cargo xtask test sets it)"
            );
        }
        Console { page, base: s.url("/console"), axe, shots: Vec::new() }
    }

    /// Loads the console at `hash`, afresh (as a person reloading would).
    async fn go(&mut self, hash: &str) {
        self.page.navigate("about:blank").await;
        self.page.navigate(&format!("{}/{hash}", self.base)).await;
        self.page.eval(HELPERS).await;
    }

    /// Waits until the page's text contains `text`.
    async fn sees(&mut self, text: &str) {
        self.page
            .eval(&format!("plazaWait(() => document.body.innerText.includes({text:?}), {text:?}).then(() => true)"))
            .await;
    }

    async fn text(&mut self) -> String {
        self.page.eval("document.body.innerText").await.as_str().unwrap_or("").to_owned()
    }

    async fn click_button(&mut self, text: &str) {
        self.page.click(&format!("plazaButton({text:?})"), text).await;
    }

    async fn click_in_row(&mut self, row: &str, text: &str) {
        self.page.click(&format!("plazaRow({row:?}) && plazaButton({text:?}, plazaRow({row:?}))"), text).await;
    }

    async fn fill(&mut self, id: &str, value: &str) {
        self.page
            .eval(&format!(
                "(() => {{ const e = document.getElementById({id:?}); e.value = ''; e.focus(); return true; }})()"
            ))
            .await;
        self.page.type_text(value).await;
    }

    /// axe-core on the page as it is: no serious or critical violation.
    async fn accessible(&mut self, what: &str) {
        let Some(axe) = self.axe.clone() else { return };
        self.page.eval(&format!("{axe}\n;true")).await;
        let result = self
            .page
            .eval(
                "axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations
                   .filter(v => v.impact === 'serious' || v.impact === 'critical')
                   .map(v => v.id + ': ' + v.help + ' — ' + v.nodes.map(n => n.target.join(' ')).join(', ')))",
            )
            .await;
        assert_eq!(result, json!([]), "accessibility of {what}");
    }

    async fn screenshot(&mut self, name: &str) {
        let dir = match std::env::var_os("PLAZA_CONSOLE_SCREENSHOTS") {
            Some(d) => PathBuf::from(d),
            None => PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console"),
        };
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        assert!(self.page.screenshot(&path).await > 5_000, "an empty screenshot");
        self.shots.push(path);
    }

    /// Clicks the open dialog's confirming button.
    async fn confirm(&mut self, what: &str) {
        self.page.click("document.querySelector('dialog[open] button[type=submit]')", what).await;
    }

    async fn sign_in(&mut self, email: &str) {
        self.go("#/signin").await;
        self.page.eval("plazaWait(() => document.getElementById('email'), 'the sign-in form').then(() => true)").await;
        self.fill("email", email).await;
        self.fill("password", PASSWORD).await;
        self.click_button("Sign in").await;
    }
}

async fn installed(s: &TestServer, tenant: &str) -> Value {
    s.get_json(&format!("/t/{tenant}/modules")).await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_admin_manages_modules_members_and_keys_in_the_console() {
    let Some(browser) = cdp::chromium_or_skip() else { return };
    let key = PublisherKey::generate().unwrap();
    let trusted = key.public_text();
    let s = TestServer::start_with(move |c| {
        c.modules_dir = modules_dir().display().to_string();
        c.trusted_publishers = trusted;
    })
    .await;
    s.create_tenant("acme").await;
    s.create_tenant("beta").await;
    let admin_token = onboard(&s, None, "acme", "admin@acme.test", &["admin"]).await;
    onboard(&s, None, "acme", "luis@acme.test", &["member"]).await;
    let profile = tempfile::tempdir().unwrap();
    let mut c = Console::open(&s, &browser, profile.path()).await;

    // Sign in: the tenant is listed; its modules page has the catalogue.
    c.sign_in("admin@acme.test").await;
    c.sees("Your tenants").await;
    c.accessible("the home page").await;
    c.go("#/t/acme/modules").await;
    c.sees("Catalogue").await;
    c.accessible("the modules page").await;
    c.screenshot("modules").await;

    // Enable blog from the catalogue: the dialog names what it will be granted.
    c.click_in_row("blog", "Enable").await;
    c.sees("It will be granted these capabilities:").await;
    let granted = c.page.eval("[...document.querySelectorAll('#capabilities li')].map(l => l.textContent)").await;
    assert_eq!(granted, json!(["sql", "blob", "events", "config", "log"]));
    c.accessible("the enable dialog").await;
    c.screenshot("enable-dialog").await;
    c.confirm("Enable").await;
    c.sees("blog is enabled.").await;
    assert_eq!(installed(&s, "acme").await[0]["status"], "enabled");
    assert_eq!(installed(&s, "acme").await[0]["version"], "1.0.0");

    // Configure it from its settings schema: the feed takes the title.
    c.page
        .click(
            "[...document.querySelectorAll('main a')].find(a => a.getAttribute('href').endsWith('/blog/config'))",
            "Configure blog",
        )
        .await;
    c.sees("Settings of blog in acme").await;
    c.fill("setting-title", "Noticias de Acme").await;
    c.click_button("Save").await;
    c.sees("Settings of blog saved.").await;
    let feed = s.anon(Method::GET, "/t/acme/blog/feed.xml").send().await.unwrap().text().await.unwrap();
    assert!(feed.contains("<title>Noticias de Acme</title>"), "{feed}");
    c.go("#/t/acme/modules").await;

    // Data written through the module survives what follows until the purge.
    let post = s
        .anon(Method::POST, "/t/acme/blog/admin/posts")
        .bearer_auth(&admin_token)
        .json(&json!({ "title": "Kept across a disable", "content_markdown": "x" }))
        .send()
        .await
        .unwrap();
    let post_id = json_of(post, 201).await["id"].clone();

    // A second version appears in the registry: upgrade to it.
    let next = std::fs::read(common::packages::packages_dir().join("blog-1.0.1.wasm")).unwrap();
    publish_signed(&s, &key, next).await;
    c.go("#/t/acme/modules").await;
    c.click_in_row("blog", "Upgrade to 1.0.1").await;
    c.sees("Its pending migrations run first").await;
    c.sees("No migration runs.").await;
    c.confirm("Upgrade").await;
    c.sees("blog runs 1.0.1.").await;
    assert_eq!(installed(&s, "acme").await[0]["version"], "1.0.1");

    // Disable, then enable again: the data is there.
    c.click_in_row("blog", "Disable").await;
    c.confirm("Disable").await;
    c.sees("blog is disabled.").await;
    assert_eq!(installed(&s, "acme").await[0]["status"], "disabled");
    c.click_in_row("blog", "Enable").await;
    c.confirm("Enable").await;
    c.sees("blog is enabled.").await;
    let kept = s
        .anon(Method::GET, &format!("/t/acme/blog/admin/posts/{post_id}"))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(kept, 200).await["title"], "Kept across a disable");

    // Purge: nothing happens until the name is typed.
    c.click_in_row("blog", "Purge").await;
    c.sees("It cannot be undone.").await;
    let confirm = "document.querySelector('dialog[open] button[type=submit]')";
    assert_eq!(c.page.eval(&format!("{confirm}.disabled")).await, json!(true), "confirm before typing");
    c.screenshot("purge-dialog").await;
    c.page.click("document.getElementById('dialog-typed')", "the confirmation field").await;
    c.page.type_text("blog").await;
    c.page.click(confirm, "the dialog's Purge").await;
    c.sees("blog is purged.").await;
    assert_eq!(installed(&s, "acme").await, json!([]));

    // Configure a module from its config schema; a secret is write-only.
    s.app.modules.enable("acme", "hello", None, &plaza::audit::Actor::new("test")).await.unwrap();
    c.go("#/t/acme/modules").await;
    c.page
        .click(
            "[...document.querySelectorAll('main a')].find(a => a.getAttribute('href').endsWith('/hello/config'))",
            "Configure hello",
        )
        .await;
    c.sees("Settings of hello in acme").await;
    c.accessible("the settings page").await;
    c.fill("setting-greeting", "Buenos días").await;
    c.click_button("Save").await;
    c.sees("Settings of hello saved.").await;
    c.fill("secret-key", "api-token").await;
    c.fill("secret-value", "s3cr3t-value").await;
    c.page.click("document.querySelector('#secret-value').form.querySelector('button')", "Save the secret").await;
    c.sees("Secret api-token saved.").await;
    assert!(!c.text().await.contains("s3cr3t-value"), "a secret is never shown");
    let about = s.anon(Method::GET, "/t/acme/hello/config").bearer_auth(&admin_token).send().await.unwrap();
    let about = json_of(about, 200).await;
    assert_eq!(about["greeting"], "Buenos días", "{about}");
    assert_eq!(about["secret_sha256"], common::sha256_hex(b"s3cr3t-value"), "{about}");

    // Jobs, usage and the audit log, read-only.
    c.go("#/t/acme/jobs").await;
    c.sees("Jobs of acme").await;
    c.sees("tidy").await;
    c.accessible("the jobs page").await;
    c.go("#/t/acme/usage").await;
    c.sees("Usage of acme").await;
    assert!(c.text().await.contains("hello"), "per module");
    c.accessible("the usage page").await;
    c.go("#/t/acme/audit").await;
    c.sees("Audit log of acme").await;
    c.sees("module.purge").await;
    c.accessible("the audit page").await;

    // Members: invite one, change another's roles.
    c.go("#/t/acme/members").await;
    c.sees("luis@acme.test").await;
    c.accessible("the members page").await;
    c.fill("invite-email", "eva@acme.test").await;
    c.click_button("Invite").await;
    c.sees("give them this token").await;
    let luis_roles =
        "[...document.querySelectorAll('main input')].find(i => i.getAttribute('aria-label').includes('luis@'))";
    c.page.eval(&format!("(() => {{ const i = {luis_roles}; i.value = ''; i.focus(); return true; }})()")).await;
    c.page.type_text("member, editor").await;
    c.click_in_row("luis@acme.test", "Save").await;
    c.sees("Roles of luis@acme.test saved.").await;
    let members = s.get_json("/t/acme/members").await.1;
    let luis = members.as_array().unwrap().iter().find(|m| m["email"] == "luis@acme.test").unwrap().clone();
    assert_eq!(luis["roles"], json!(["member", "editor"]));

    // API keys: created once-visible, then revoked.
    c.go("#/t/acme/keys").await;
    c.sees("Create a key").await;
    c.fill("key-name", "ci").await;
    c.click_button("Create").await;
    c.sees("Copy it now").await;
    let secret =
        c.page.eval("document.querySelector('#new-key .secret').textContent").await.as_str().unwrap().to_owned();
    assert_eq!(
        json_of(as_key(&s, Method::GET, "/t/acme/usage", &secret).send().await.unwrap(), 403).await["status"],
        403
    );
    c.accessible("the API keys page").await;
    c.click_in_row("ci", "Revoke").await;
    c.confirm("Revoke").await;
    c.sees("Key ci revoked.").await;
    let keys = s.get_json("/t/acme/api-keys").await.1;
    assert!(keys[0]["revoked_at"].is_string(), "{keys}");
    assert_eq!(c.page.eval("plazaRow('ci').cells[3].textContent").await, json!("revoked"));
    let revoked = as_key(&s, Method::GET, "/t/acme/members", &secret).send().await.unwrap();
    assert_eq!(revoked.status(), 401);

    // Another tenant does not exist for this admin.
    c.go("#/t/beta/modules").await;
    c.sees("does not exist").await;
    assert_eq!(c.page.eval("[...document.querySelectorAll('main button')].length").await, json!(0));

    // Spanish: the same page in the other language.
    c.go("#/t/acme/keys").await;
    c.sees("API keys of acme").await;
    c.page.eval("(() => { const s = document.getElementById('lang'); s.value = 'es'; s.dispatchEvent(new Event('change')); return true; })()").await;
    c.sees("Claves de API de acme").await;
    assert_eq!(c.page.eval("document.documentElement.lang").await, json!("es"));
    c.accessible("the API keys page in Spanish").await;
    drop(c);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_sees_no_admin_action_and_a_crafted_one_is_refused() {
    let Some(browser) = cdp::chromium_or_skip() else { return };
    let s = TestServer::start_with(|c| c.modules_dir = modules_dir().display().to_string()).await;
    s.tenant_with("acme", &["blog"]).await;
    s.create_tenant("beta").await;
    onboard(&s, None, "acme", "luis@acme.test", &["member"]).await;
    let profile = tempfile::tempdir().unwrap();
    let mut c = Console::open(&s, &browser, profile.path()).await;
    c.sign_in("luis@acme.test").await;
    c.sees("Your tenants").await;
    let home = c.text().await;
    assert!(home.contains("acme") && !home.contains("beta"), "{home}");

    // The modules page: the API refuses, the console says so in words and offers nothing.
    c.go("#/t/acme/modules").await;
    c.sees("Forbidden").await;
    let buttons = c.page.eval("[...document.querySelectorAll('main button')].length").await;
    assert_eq!(buttons, json!(0));
    let alert = c.page.eval("document.getElementById('alert').innerText").await;
    assert!(alert.as_str().unwrap().contains("admin"), "the problem's detail is shown: {alert}");
    c.accessible("a refused page").await;

    // A crafted request from the page, with the session's own CSRF token: 403.
    let status = c
        .page
        .eval(
            "fetch('/t/acme/modules/blog/disable', { method: 'POST', credentials: 'same-origin',
               headers: { 'content-type': 'application/json', 'x-csrf-token': sessionStorage.getItem('plaza.csrf') },
               body: '{}' }).then(r => r.status)",
        )
        .await;
    assert_eq!(status, json!(403));
    assert_eq!(installed(&s, "acme").await[0]["status"], "enabled");
    // Another tenant's pages show nothing of it.
    c.go("#/t/beta/members").await;
    c.sees("does not exist").await;
    drop(c);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_retries_a_dead_letter_and_the_operator_creates_a_tenant_publishes_and_yanks() {
    let Some(browser) = cdp::chromium_or_skip() else { return };
    let key = PublisherKey::generate().unwrap();
    let trusted = key.public_text();
    let s = TestServer::start_with(move |c| {
        c.trusted_publishers = trusted;
        c.event_retry_base_ms = 50;
        c.event_max_attempts = 2;
    })
    .await;
    for name in ["publisher-1.0.0", "subscriber-1.0.0"] {
        publish_signed(&s, &key, common::packages::package(name)).await;
    }
    s.create_tenant("acme").await;
    let actor = plaza::audit::Actor::new("test");
    for module in ["subscriber", "publisher"] {
        s.app.modules.enable("acme", module, None, &actor).await.unwrap();
    }
    plaza::auth::accounts::create_user(&s.app.db, &actor, "ops@plaza.test", PASSWORD, "Ops", true, None).await.unwrap();
    // A delivery that always fails ends in the dead letters.
    let member = s.api_key("acme", &["member"]).await;
    let published =
        as_key(&s, Method::POST, "/t/acme/publisher/publish", &member).json(&json!({ "event_type": "test.broken" }));
    json_of(published.send().await.unwrap(), 200).await;
    let started = std::time::Instant::now();
    while s.get_json("/t/acme/events?status=dead").await.1.as_array().is_none_or(Vec::is_empty) {
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "no dead letter");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    onboard(&s, None, "acme", "admin@acme.test", &["admin"]).await;
    let profile = tempfile::tempdir().unwrap();
    let mut c = Console::open(&s, &browser, profile.path()).await;

    // The tenant's admin retries the dead letter.
    c.sign_in("admin@acme.test").await;
    c.sees("Your tenants").await;
    c.go("#/t/acme/events").await;
    c.sees("test.broken").await;
    c.accessible("the dead letters page").await;
    c.click_in_row("test.broken", "Retry").await;
    c.sees("is queued again.").await;
    let audit = s.get_json("/api/v1/tenants/acme/audit").await.1;
    assert!(audit.to_string().contains("event.retry"), "{audit}");
    c.click_button("Sign out").await;
    c.sees("Sign in").await;

    c.sign_in("ops@plaza.test").await;
    c.sees("Platform operator").await;

    // Tenants: create one.
    c.go("#/operator/tenants").await;
    c.sees("Create a tenant").await;
    c.accessible("the operator's tenants page").await;
    c.fill("tenant-id", "globex").await;
    c.fill("tenant-name", "Globex S.A.").await;
    c.click_button("Create").await;
    c.sees("Tenant globex created.").await;
    assert_eq!(s.get_json("/api/v1/tenants/globex").await.1["name"], "Globex S.A.");

    // A tenant's quotas.
    c.go("#/operator/tenants/globex/quotas").await;
    c.sees("Quotas of globex").await;
    c.accessible("the quotas page").await;
    c.fill("quota-storage_bytes", "1048576").await;
    c.click_button("Save").await;
    c.sees("Quotas of globex saved.").await;
    assert_eq!(s.get_json("/api/v1/tenants/globex/quotas").await.1["effective"]["storage_bytes"], 1_048_576);

    // Registry: publish a signed package by upload.
    c.go("#/operator/registry").await;
    c.sees("Versions of subscriber").await;
    let ticker = std::fs::read(common::packages::packages_dir().join("ticker-1.0.0.wasm")).unwrap();
    let signature = key.sign(&ticker).to_json();
    // The file a person picks (headless Chromium cannot read a path set
    // through the protocol here, so the page gets the same bytes as a File).
    let b64 = base64::engine::general_purpose::STANDARD.encode(&ticker);
    c.page
        .eval(&format!(
            "(() => {{ const bytes = Uint8Array.from(atob('{b64}'), ch => ch.charCodeAt(0));
               const dt = new DataTransfer(); dt.items.add(new File([bytes], 'ticker-1.0.0.wasm', {{ type: 'application/wasm' }}));
               document.getElementById('package-file').files = dt.files; return true; }})()"
        ))
        .await;
    c.fill("package-signature", &signature).await;
    c.click_button("Publish").await;
    c.sees("ticker 1.0.0 is published.").await;
    assert_eq!(s.get_json("/api/v1/registry/modules/ticker/versions/1.0.0").await.1["publisher_trusted"], true);

    // Registry: yank a version; it can no longer be enabled.
    c.accessible("the registry page").await;
    c.page
        .click("document.querySelector('button[aria-label=\"Yank subscriber 1.0.0\"]')", "Yank subscriber 1.0.0")
        .await;
    c.sees("subscriber 1.0.0 is yanked").await;
    assert_eq!(s.get_json("/api/v1/registry/modules/subscriber/versions/1.0.0").await.1["yanked"], true);
    let refused = s.req(Method::POST, "/t/globex/modules").json(&json!({ "name": "subscriber" })).send().await.unwrap();
    assert!(refused.status().is_client_error(), "a yanked version is not enabled: {}", refused.status());
    drop(c);
    s.stop().await;
}
