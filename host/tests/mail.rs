//! The `mail` capability and module end to end, against a real SMTP server:
//! aiosmtpd from PyPI (`PLAZA_TEST_PYTHON`, set by `cargo xtask test`) with
//! the handler in `fixtures/smtp_sink.py`, which keeps what it receives.
//! Messages are read back with a MIME parser: subject, both parts, the
//! attachment byte for byte, the From, the envelope.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::packages::{as_key, json_of, package, publish_signed};
use common::{TestServer, assert_problem, modules_dir};
use mail_parser::{MessageParser, MimeHeaders};
use plaza_registry::PublisherKey;
use reqwest::Method;
use serde_json::{Value, json};

/// A free port of 127.0.0.1 (nothing listens on it once this returns).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// aiosmtpd with the sink handler, killed on drop.
struct Smtp {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

/// One message the server kept: its envelope and its bytes.
struct Received {
    envelope: Value,
    raw: Vec<u8>,
}

fn python() -> Option<String> {
    std::env::var("PLAZA_TEST_PYTHON").ok().filter(|p| !p.is_empty())
}

impl Smtp {
    /// Starts the server on `port`, waiting until it accepts connections.
    async fn start(python: &str, port: u16) -> Smtp {
        let dir = tempfile::tempdir().unwrap();
        let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "smtp_sink.Sink"])
            .arg(dir.path())
            .env("PYTHONPATH", fixtures)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start aiosmtpd");
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "aiosmtpd did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Smtp { child, port, dir }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Answers DATA with `line` from now on (`None`: accepts again).
    fn reply_with(&self, line: Option<&str>) {
        let path = self.dir.path().join("reply");
        match line {
            Some(line) => std::fs::write(path, format!("{line}\n")).unwrap(),
            None => {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    fn received(&self) -> Vec<Received> {
        let mut out = Vec::new();
        for n in 1.. {
            let eml = self.dir.path().join(format!("{n}.eml"));
            let Ok(raw) = std::fs::read(&eml) else { break };
            let envelope = std::fs::read_to_string(self.dir.path().join(format!("{n}.json"))).unwrap();
            out.push(Received { envelope: serde_json::from_str(&envelope).unwrap(), raw });
        }
        out
    }

    /// Waits until `count` messages arrived.
    async fn wait_for(&self, count: usize) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let got = self.received();
            if got.len() >= count {
                return got;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "{} of {count} messages arrived", got.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A host with the bundled modules (`mail` among them) whose operator relay
/// is `relay`, with quick retries.
async fn server(relay: &str, tweak: impl FnOnce(&mut plaza::Config)) -> TestServer {
    let relay = relay.to_owned();
    TestServer::start_with(move |c| {
        c.modules_dir = modules_dir().display().to_string();
        c.smtp_url = relay;
        c.mail_retry_base_ms = 300;
        c.mail_max_attempts = 3;
        tweak(c);
    })
    .await
}

/// Creates `tenant` with `mail`, its sender set to `from`; returns an admin key.
async fn mail_tenant(s: &TestServer, tenant: &str, from: &str) -> String {
    s.tenant_with(tenant, &["mail"]).await;
    let settings = json_of(
        s.req(Method::PUT, &format!("/t/{tenant}/mail-settings")).json(&json!({ "from": from })).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(settings, json!({ "from": from, "own_from": true, "own_relay": false }));
    s.api_key(tenant, &["admin"]).await
}

async fn send(s: &TestServer, tenant: &str, key: &str, body: Value) -> reqwest::Response {
    as_key(s, Method::POST, &format!("/t/{tenant}/mail/send"), key).json(&body).send().await.unwrap()
}

/// The message's history entry once `done` holds for it.
async fn sent_until(s: &TestServer, tenant: &str, key: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let item =
            json_of(as_key(s, Method::GET, &format!("/t/{tenant}/mail/sent/{id}"), key).send().await.unwrap(), 200)
                .await;
        if done(&item) {
            return item;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "message {id} is still {item}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

macro_rules! smtp_or_skip {
    () => {
        match python() {
            Some(python) => python,
            None => {
                eprintln!("SKIPPED: set PLAZA_TEST_PYTHON to a Python with aiosmtpd (cargo xtask test does)");
                return;
            }
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_through_the_module_arrives_whole_from_the_tenants_sender() {
    let python = smtp_or_skip!();
    let smtp = Smtp::start(&python, free_port()).await;
    let s = server(&smtp.url(), |_| {}).await;
    let admin = mail_tenant(&s, "acme", "Municipalidad de Acme <avisos@acme.test>").await;
    // The catalogue shows `mail` among the capabilities: declared by the import.
    let (status, version) = s.get_json("/api/v1/registry/modules/mail/versions/1.0.0").await;
    assert_eq!(status, 200, "{version}");
    let capabilities = version["manifest"]["capabilities"].as_array().expect("capabilities").clone();
    assert!(capabilities.contains(&json!("mail")) && capabilities.contains(&json!("sql")), "{version}");
    let attachment = common::bytes(3000, 7);
    let resp = send(
        &s,
        "acme",
        &admin,
        json!({
            "to": ["ana@example.com"],
            "cc": ["luis@example.com"],
            "bcc": ["archivo@acme.test"],
            "reply_to": "mesa@acme.test",
            "subject": "Resolución 12/2026 — expediente EX-2026-7",
            "body": "Estimada Ana: adjuntamos la resolución.",
            "html": "<p>Estimada <b>Ana</b>: adjuntamos la resolución.</p>",
            "attachments": [{
                "filename": "resolucion.pdf",
                "content_type": "application/pdf",
                "content_base64": base64::engine::general_purpose::STANDARD.encode(&attachment),
            }],
        }),
    )
    .await;
    let queued = json_of(resp, 202).await;
    assert_eq!(queued["state"], "queued", "{queued}");
    let id = queued["id"].as_str().unwrap().to_owned();

    let got = smtp.wait_for(1).await;
    let message = MessageParser::default().parse(&got[0].raw).expect("a MIME message");
    assert_eq!(message.subject(), Some("Resolución 12/2026 — expediente EX-2026-7"));
    let from = message.from().and_then(|f| f.first()).unwrap();
    assert_eq!((from.name(), from.address()), (Some("Municipalidad de Acme"), Some("avisos@acme.test")));
    assert_eq!(message.body_text(0).as_deref(), Some("Estimada Ana: adjuntamos la resolución."));
    assert_eq!(message.body_html(0).as_deref(), Some("<p>Estimada <b>Ana</b>: adjuntamos la resolución.</p>"));
    let files: Vec<_> = message.attachments().collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].attachment_name(), Some("resolucion.pdf"));
    assert_eq!(files[0].contents(), attachment.as_slice(), "the attachment arrives byte for byte");
    // Bcc is in the envelope only; the envelope sender is the tenant's.
    assert!(!String::from_utf8_lossy(&got[0].raw).contains("archivo@acme.test"));
    let mut rcpt: Vec<&str> =
        got[0].envelope["rcpt_tos"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    rcpt.sort_unstable();
    assert_eq!(rcpt, ["ana@example.com", "archivo@acme.test", "luis@example.com"]);
    assert_eq!(got[0].envelope["mail_from"], "avisos@acme.test");
    let reply_to = message.reply_to().and_then(|r| r.first()).and_then(|a| a.address());
    assert_eq!(reply_to, Some("mesa@acme.test"));

    // The history shows it sent; the staged attachment is gone from the module's blobs.
    let item = sent_until(&s, "acme", &admin, &id, |i| i["state"] == "sent").await;
    assert_eq!(item["attempts"], 1);
    assert!(item["sent_at"].is_string());
    assert_eq!(s.object_count("tenants/acme/modules/mail").await, 0);
    let page = json_of(
        as_key(&s, Method::GET, "/t/acme/mail/sent?state=sent&to=ana@example.com", &admin).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(page["total"], 1, "{page}");
    let none =
        json_of(as_key(&s, Method::GET, "/t/acme/mail/sent?state=failed", &admin).send().await.unwrap(), 200).await;
    assert_eq!(none["total"], 0, "{none}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_escape_html_and_an_unknown_template_or_a_missing_variable_is_a_422() {
    let python = smtp_or_skip!();
    let smtp = Smtp::start(&python, free_port()).await;
    let s = server(&smtp.url(), |_| {}).await;
    let admin = mail_tenant(&s, "acme", "avisos@acme.test").await;
    let template = json!({
        "description": "Welcome a new citizen",
        "subject": "Bienvenida, {{ name }}",
        "text": "Hola {{ name }}, su número de trámite es {{ number }}.",
        "html": "<p>Hola <b>{{ name }}</b>, su número de trámite es {{ number }}.</p>",
    });
    let saved = json_of(
        as_key(&s, Method::PUT, "/t/acme/mail/templates/welcome", &admin).json(&template).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(saved["name"], "welcome");
    // A template that does not parse is refused when saved.
    let broken = json!({ "subject": "Hola {{ name", "text": "x" });
    let p = assert_problem(
        as_key(&s, Method::PUT, "/t/acme/mail/templates/broken", &admin).json(&broken).send().await.unwrap(),
        422,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("subject"), "{p}");

    let name = "<script>alert('x')</script> Pérez";
    let data = json!({ "name": name, "number": 42 });
    let preview = json_of(
        as_key(&s, Method::POST, "/t/acme/mail/templates/welcome/preview", &admin)
            .json(&json!({ "data": data }))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        preview["html"],
        "<p>Hola <b>&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt; Pérez</b>, su número de trámite es 42.</p>"
    );

    let queued = json_of(
        as_key(&s, Method::POST, "/t/acme/mail/send-template", &admin)
            .json(&json!({ "template": "welcome", "to": ["ana@example.com"], "data": data }))
            .send()
            .await
            .unwrap(),
        202,
    )
    .await;
    assert_eq!(queued["template"], "welcome");
    let got = smtp.wait_for(1).await;
    let message = MessageParser::default().parse(&got[0].raw).unwrap();
    let html = message.body_html(0).unwrap().into_owned();
    assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"), "{html}");
    assert_eq!(message.body_text(0).as_deref(), Some(format!("Hola {name}, su número de trámite es 42.").as_str()));
    assert_eq!(message.subject(), Some(format!("Bienvenida, {name}").as_str()));

    // An unknown template, a missing variable: 422 problems, nothing sent.
    for (body, says) in [
        (json!({ "template": "nope", "to": ["ana@example.com"], "data": {} }), "no template"),
        (json!({ "template": "welcome", "to": ["ana@example.com"], "data": { "name": "Ana" } }), "undefined"),
    ] {
        let p = assert_problem(
            as_key(&s, Method::POST, "/t/acme/mail/send-template", &admin).json(&body).send().await.unwrap(),
            422,
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains(says), "{p}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.received().len(), 1);
    let all = json_of(as_key(&s, Method::GET, "/t/acme/mail/sent", &admin).send().await.unwrap(), 200).await;
    assert_eq!(all["total"], 1, "{all}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_relay_cannot_take_is_retried_across_a_restart_then_failed_with_its_error() {
    let python = smtp_or_skip!();
    // Nothing listens on the operator's relay; acme's own relay comes up later.
    let down = format!("smtp://127.0.0.1:{}", free_port());
    let later = free_port();
    let s = server(&down, |c| {
        c.mail_max_attempts = 4;
        c.mail_retry_base_ms = 1_000;
    })
    .await;
    let admin = mail_tenant(&s, "acme", "avisos@acme.test").await;
    let beta = mail_tenant(&s, "beta", "avisos@beta.test").await;
    json_of(
        s.req(Method::PUT, "/t/beta/mail-settings")
            .json(&json!({ "from": "avisos@beta.test", "smtp_url": format!("smtp://127.0.0.1:{later}") }))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let message = |to: &str| json!({ "to": [to], "subject": "Aviso", "body": "Texto" });
    let lost = json_of(send(&s, "acme", &admin, message("ana@example.com")).await, 202).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let kept = json_of(send(&s, "beta", &beta, message("luis@example.com")).await, 202).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Tried once and kept queued with the reason.
    let item = sent_until(&s, "acme", &admin, &lost, |i| i["attempts"].as_i64() >= Some(1)).await;
    assert_eq!(item["state"], "queued", "{item}");
    assert!(item["last_error"].is_string(), "{item}");
    sent_until(&s, "beta", &beta, &kept, |i| i["attempts"].as_i64() >= Some(1)).await;

    // A restart in between loses neither.
    let s = s.restart(|_| {}).await;
    let smtp = Smtp::start(&python, later).await;
    smtp.wait_for(1).await;
    let item = sent_until(&s, "beta", &beta, &kept, |i| i["state"] == "sent").await;
    assert!(item["attempts"].as_i64() >= Some(2), "{item}");
    // acme's relay never came up: failed after the last attempt, with the error.
    let item = sent_until(&s, "acme", &admin, &lost, |i| i["state"] != "queued").await;
    assert_eq!(item["state"], "failed", "{item}");
    assert_eq!(item["attempts"], 4, "{item}");
    assert!(item["last_error"].as_str().unwrap().to_lowercase().contains("connect"), "{item}");

    // A relay that answers with an error: transient ones are retried to the
    // last attempt, a permanent one fails at once, each with the reply.
    json_of(
        s.req(Method::PUT, "/t/acme/mail-settings")
            .json(&json!({ "from": "avisos@acme.test", "smtp_url": smtp.url() }))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    smtp.reply_with(Some("451 4.3.0 Mailbox busy, try later"));
    let busy = json_of(send(&s, "acme", &admin, message("eva@example.com")).await, 202).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let item = sent_until(&s, "acme", &admin, &busy, |i| i["state"] != "queued").await;
    assert_eq!((item["state"].as_str(), item["attempts"].as_i64()), (Some("failed"), Some(4)), "{item}");
    assert!(item["last_error"].as_str().unwrap().contains("Mailbox busy"), "{item}");
    smtp.reply_with(Some("550 5.1.1 No such mailbox here"));
    let refused = json_of(send(&s, "acme", &admin, message("nadie@example.com")).await, 202).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let item = sent_until(&s, "acme", &admin, &refused, |i| i["state"] != "queued").await;
    assert_eq!((item["state"].as_str(), item["attempts"].as_i64()), (Some("failed"), Some(1)), "{item}");
    assert!(item["last_error"].as_str().unwrap().contains("No such mailbox"), "{item}");
    assert_eq!(smtp.received().len(), 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_module_has_mail_sent_by_publishing_an_event_once() {
    let python = smtp_or_skip!();
    let smtp = Smtp::start(&python, free_port()).await;
    let key = PublisherKey::generate().unwrap();
    let trusted = key.public_text();
    let s = server(&smtp.url(), move |c| c.trusted_publishers = trusted).await;
    publish_signed(&s, &key, package("publisher-1.0.0")).await;
    let admin = mail_tenant(&s, "acme", "avisos@acme.test").await;
    s.app.modules.enable("acme", "publisher", None, &plaza::audit::Actor::new("test")).await.unwrap();
    let member = s.api_key("acme", &["member"]).await;
    json_of(
        as_key(&s, Method::PUT, "/t/acme/mail/templates/expediente", &admin)
            .json(&json!({ "subject": "Expediente {{ number }}", "text": "Su expediente {{ number }} avanzó." }))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let payload = json!({ "template": "expediente", "to": ["ana@example.com"], "data": { "number": "EX-7" } });
    json_of(
        as_key(&s, Method::POST, "/t/acme/publisher/publish", &member)
            .json(&json!({ "event_type": "mail.send-requested", "payload": payload }))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let got = smtp.wait_for(1).await;
    let message = MessageParser::default().parse(&got[0].raw).unwrap();
    assert_eq!(message.subject(), Some("Expediente EX-7"));
    let page = json_of(as_key(&s, Method::GET, "/t/acme/mail/sent", &admin).send().await.unwrap(), 200).await;
    assert_eq!(page["items"][0]["source"], "event", "{page}");
    assert_eq!(page["items"][0]["sent_by"], "publisher", "{page}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(smtp.received().len(), 1, "one event, one message");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_sees_and_sends_only_as_itself_within_its_limits() {
    let python = smtp_or_skip!();
    let smtp = Smtp::start(&python, free_port()).await;
    let s = server(&smtp.url(), |c| c.mail_per_minute = 3).await;
    let acme = mail_tenant(&s, "acme", "avisos@acme.test").await;
    let beta = mail_tenant(&s, "beta", "avisos@beta.test").await;
    let message = json!({ "to": ["ana@example.com"], "subject": "Aviso", "body": "Texto" });
    let id = json_of(send(&s, "acme", &acme, message.clone()).await, 202).await["id"].as_str().unwrap().to_owned();
    json_of(
        as_key(&s, Method::PUT, "/t/acme/mail/templates/secret", &acme)
            .json(&json!({ "subject": "x", "text": "y" }))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    // beta sees none of acme's history, status or templates, and cannot
    // read or change acme's settings with its own admin key.
    let page = json_of(as_key(&s, Method::GET, "/t/beta/mail/sent", &beta).send().await.unwrap(), 200).await;
    assert_eq!(page["total"], 0);
    assert_problem(as_key(&s, Method::GET, &format!("/t/beta/mail/sent/{id}"), &beta).send().await.unwrap(), 404).await;
    assert_problem(as_key(&s, Method::GET, "/t/beta/mail/templates/secret", &beta).send().await.unwrap(), 404).await;
    // (A key of another tenant finds nothing there: the host does not say
    // whether acme exists.)
    assert_problem(as_key(&s, Method::GET, &format!("/t/acme/mail/sent/{id}"), &beta).send().await.unwrap(), 404).await;
    assert_problem(
        as_key(&s, Method::PUT, "/t/acme/mail-settings", &beta)
            .json(&json!({ "from": "evil@beta.test" }))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    // beta's message goes out from beta's sender, not acme's.
    json_of(send(&s, "beta", &beta, message.clone()).await, 202).await;
    let got = smtp.wait_for(2).await;
    let from = |r: &Received| r.envelope["mail_from"].as_str().unwrap().to_owned();
    let mut senders: Vec<String> = got.iter().map(from).collect();
    senders.sort();
    assert_eq!(senders, ["avisos@acme.test", "avisos@beta.test"]);
    // A header cannot be smuggled through the subject.
    let smuggled = json!({ "to": ["ana@example.com"], "subject": "Hi\r\nBcc: all@example.com", "body": "x" });
    assert_problem(send(&s, "acme", &acme, smuggled).await, 422).await;
    // A member without the `sender` role sends nothing.
    let member = s.api_key("acme", &["member"]).await;
    assert_problem(send(&s, "acme", &member, message.clone()).await, 403).await;
    let r = as_key(&s, Method::PUT, "/t/acme/mail-settings", &member).json(&json!({ "from": "x@evil.test" }));
    assert_problem(r.send().await.unwrap(), 403).await;
    let sender = s.api_key("acme", &["sender"]).await;
    json_of(send(&s, "acme", &sender, message.clone()).await, 202).await;
    // Three a minute: the fourth is a 429 problem; beta's own rate is untouched.
    json_of(send(&s, "acme", &acme, message.clone()).await, 202).await;
    let p = assert_problem(send(&s, "acme", &acme, message.clone()).await, 429).await;
    assert!(p["detail"].as_str().unwrap().contains("a minute"), "{p}");
    json_of(send(&s, "beta", &beta, message.clone()).await, 202).await;
    // The secret relay URL is never returned.
    let settings = json_of(s.req(Method::GET, "/t/acme/mail-settings").send().await.unwrap(), 200).await;
    assert_eq!(settings, json!({ "from": "avisos@acme.test", "own_from": true, "own_relay": false }));
    s.stop().await;
}
