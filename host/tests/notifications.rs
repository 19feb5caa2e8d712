//! The `notifications` module and the `push` capability end to end: the
//! live stream read as server-sent events by a signed-in member, while
//! another module raises notifications by events; resuming with
//! `Last-Event-ID`; tenants apart; and Web Push received at a local push
//! endpoint, its VAPID header checked and its payload decrypted by the
//! reference implementation (`http_ece`, `PLAZA_TEST_PYTHON`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::packages::{as_key, json_of, package, publish_signed};
use common::users::{as_user, onboard};
use common::{TestServer, assert_problem, modules_dir};
use futures_util::StreamExt;
use plaza_registry::PublisherKey;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One server-sent event.
#[derive(Debug, Clone)]
struct Sse {
    id: String,
    event: String,
    data: Value,
}

/// A reader of `/t/{tenant}/stream`.
struct Stream {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl Stream {
    async fn open(s: &TestServer, tenant: &str, access: &str, last_event_id: Option<&str>) -> Stream {
        let mut req = as_user(s, Method::GET, &format!("/t/{tenant}/stream"), access);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/event-stream"), "{ct}");
        Stream { body: resp.bytes_stream().boxed(), buffer: String::new() }
    }

    /// Whether the server ends the stream within `wait` (events before the end are skipped).
    async fn ends_within(&mut self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.body.next()).await {
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) => return true,
                Err(_) => return false,
            }
        }
    }

    /// The next event within `wait`, skipping keep-alive comments.
    async fn next(&mut self, wait: Duration) -> Option<Sse> {
        let until = Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if !data.is_empty() {
                    return Some(Sse { id, event, data: serde_json::from_str(&data).unwrap() });
                }
            }
            let left = until.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.body.next()).await {
                Ok(Some(Ok(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(_) | Err(_) => return None,
            }
        }
    }
}

fn python() -> Option<String> {
    std::env::var("PLAZA_TEST_PYTHON").ok().filter(|p| !p.is_empty())
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

async fn user_id(s: &TestServer, access: &str) -> String {
    let me = json_of(as_user(s, Method::GET, "/api/v1/auth/me", access).send().await.unwrap(), 200).await;
    me["id"].as_str().unwrap().to_owned()
}

/// A host with the bundled modules and the test publisher from the registry.
async fn server(tweak: impl FnOnce(&mut plaza::Config) + Send + 'static) -> (TestServer, PublisherKey) {
    let key = PublisherKey::generate().unwrap();
    let trusted = key.public_text();
    let s = TestServer::start_with(move |c| {
        c.modules_dir = modules_dir().display().to_string();
        c.trusted_publishers = trusted;
        c.event_retry_base_ms = 200;
        tweak(c);
    })
    .await;
    publish_signed(&s, &key, package("publisher-1.0.0")).await;
    (s, key)
}

/// What another module publishes to notify someone.
async fn raise(s: &TestServer, tenant: &str, key: &str, notification: Value) {
    json_of(
        as_key(s, Method::POST, &format!("/t/{tenant}/publisher/publish"), key)
            .json(&json!({ "event_type": "notifications.requested", "payload": notification }))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
}

async fn expect(stream: &mut Stream, title: &str) -> Sse {
    let event = stream.next(Duration::from_secs(20)).await.unwrap_or_else(|| panic!("{title} did not arrive"));
    assert_eq!(event.event, "notifications.created", "{event:?}");
    assert_eq!(event.data["data"]["title"], title, "{event:?}");
    assert_eq!(event.data["id"].to_string(), event.id, "the item's id is the event's");
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_carries_notifications_raised_by_events_resumes_without_loss_or_repeat_and_stays_in_its_tenant() {
    let (s, _) = server(|_| {}).await;
    s.tenant_with("acme", &["notifications"]).await;
    s.app.modules.enable("acme", "publisher", None, &plaza::audit::Actor::new("test")).await.unwrap();
    s.tenant_with("beta", &["notifications"]).await;
    let ana = onboard(&s, None, "acme", "ana@acme.test", &["member"]).await;
    let ana_id = user_id(&s, &ana).await;
    let luis = onboard(&s, None, "acme", "luis@acme.test", &["member"]).await;
    let beto = onboard(&s, None, "beta", "beto@beta.test", &["member"]).await;
    let publisher = s.api_key("acme", &["member"]).await;

    let mut ana_stream = Stream::open(&s, "acme", &ana, None).await;
    let mut luis_stream = Stream::open(&s, "acme", &luis, None).await;
    let mut beto_stream = Stream::open(&s, "beta", &beto, None).await;

    raise(&s, "acme", &publisher, json!({ "user_id": ana_id, "title": "N1", "body": "para Ana" })).await;
    let n1 = expect(&mut ana_stream, "N1").await;
    raise(&s, "acme", &publisher, json!({ "role": "member", "title": "N2", "type": "announcement" })).await;
    let n2 = expect(&mut ana_stream, "N2").await;
    assert_eq!(n2.data["module"], "notifications");
    // Luis got the role's notification, not Ana's own.
    let first_for_luis = luis_stream.next(Duration::from_secs(20)).await.unwrap();
    assert_eq!(first_for_luis.data["data"]["title"], "N2");

    // Ana's browser goes away; two more arrive meanwhile; she comes back.
    drop(ana_stream);
    raise(&s, "acme", &publisher, json!({ "user_id": ana_id, "title": "N3" })).await;
    raise(&s, "acme", &publisher, json!({ "role": "member", "title": "N4" })).await;
    let luis_n4 = luis_stream.next(Duration::from_secs(20)).await.unwrap();
    assert_eq!(luis_n4.data["data"]["title"], "N4");
    let mut ana_stream = Stream::open(&s, "acme", &ana, Some(&n2.id)).await;
    let n3 = expect(&mut ana_stream, "N3").await;
    let n4 = expect(&mut ana_stream, "N4").await;
    assert!(n1.id.parse::<i64>().unwrap() < n2.id.parse::<i64>().unwrap());
    assert!(n3.id.parse::<i64>().unwrap() < n4.id.parse::<i64>().unwrap());
    assert!(ana_stream.next(Duration::from_millis(1000)).await.is_none(), "nothing repeated");
    // A bad Last-Event-ID is a 422 problem.
    let r = as_user(&s, Method::GET, "/t/acme/stream", &ana).header("last-event-id", "abc").send().await.unwrap();
    assert_problem(r, 422).await;

    // A module of beta naming Ana's id reaches beta's stream, never acme's.
    let r = s.req(Method::POST, "/t/beta/notifications/send").json(&json!({ "user_id": ana_id, "title": "from beta" }));
    json_of(r.send().await.unwrap(), 201).await;
    assert!(ana_stream.next(Duration::from_millis(1500)).await.is_none(), "beta's item in acme's stream");
    // beta's member saw nothing of acme's; beta cannot open acme's stream.
    assert!(beto_stream.next(Duration::from_millis(500)).await.is_none(), "another tenant's items");
    assert_problem(as_user(&s, Method::GET, "/t/acme/stream", &beto).send().await.unwrap(), 404).await;
    assert_problem(s.anon(Method::GET, "/t/acme/stream").send().await.unwrap(), 401).await;

    // The list: Ana's own and her role's, with the unread count.
    let base = "/t/acme/notifications/notifications";
    let page = json_of(as_user(&s, Method::GET, base, &ana).send().await.unwrap(), 200).await;
    let titles: Vec<&str> = page["items"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["N4", "N3", "N2", "N1"], "{page}");
    assert_eq!(page["unread_count"], 4);
    let id = |n: &Sse| n.data["data"]["id"].as_i64().unwrap();
    let post = |path: String| as_user(&s, Method::POST, &path, &ana).send();
    assert_eq!(post(format!("{base}/{}/read", id(&n1))).await.unwrap().status(), 204);
    let count =
        json_of(as_user(&s, Method::GET, &format!("{base}/unread-count"), &ana).send().await.unwrap(), 200).await;
    assert_eq!(count["unread_count"], 3);
    assert_eq!(json_of(post(format!("{base}/read-all")).await.unwrap(), 200).await["marked"], 3);
    assert_eq!(post(format!("{base}/{}/unread", id(&n2))).await.unwrap().status(), 204);
    let unread =
        json_of(as_user(&s, Method::GET, &format!("{base}?unread=true"), &ana).send().await.unwrap(), 200).await;
    assert_eq!(unread["total"], 1);
    assert_eq!(unread["items"][0]["title"], "N2");
    // Deleting the role's N4 hides it from Ana only.
    let del = as_user(&s, Method::DELETE, &format!("{base}/{}", id(&n4)), &ana).send().await.unwrap();
    assert_eq!(del.status(), 204);
    let page = json_of(as_user(&s, Method::GET, base, &ana).send().await.unwrap(), 200).await;
    assert_eq!(page["total"], 3);
    let luis_page = json_of(as_user(&s, Method::GET, base, &luis).send().await.unwrap(), 200).await;
    let titles: Vec<&str> =
        luis_page["items"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["N4", "N2"], "Luis sees the role's, not Ana's own: {luis_page}");
    // Luis cannot read, mark or delete Ana's own.
    let r = as_user(&s, Method::POST, &format!("{base}/{}/read", id(&n1)), &luis).send().await.unwrap();
    assert_problem(r, 404).await;
    let r = as_user(&s, Method::DELETE, &format!("{base}/{}", id(&n3)), &luis).send().await.unwrap();
    assert_problem(r, 404).await;
    // beta sees none of acme's.
    let beta_page =
        json_of(as_user(&s, Method::GET, "/t/beta/notifications/notifications", &beto).send().await.unwrap(), 200)
            .await;
    assert_eq!(beta_page["total"], 0);
    // A member cannot send; an admin can, with checked input.
    let send = "/t/acme/notifications/send";
    let r =
        as_user(&s, Method::POST, send, &ana).json(&json!({ "role": "member", "title": "x" })).send().await.unwrap();
    assert_problem(r, 403).await;
    let bad = json!({ "user_id": ana_id, "title": "x", "action_url": "javascript:alert(1)" });
    assert_problem(s.req(Method::POST, send).json(&bad).send().await.unwrap(), 422).await;
    s.stop().await;
}

/// A push service on 127.0.0.1: `/gone/…` answers 410, anything else 201;
/// each request's headers and body go to the channel.
async fn push_service() -> (u16, tokio::sync::mpsc::UnboundedReceiver<(String, Vec<(String, String)>, Vec<u8>)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut raw = Vec::new();
                let mut chunk = [0u8; 8192];
                let head_end = loop {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    raw.extend_from_slice(&chunk[..n]);
                    if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
                let mut lines = head.lines();
                let path = lines.next().unwrap_or("").split(' ').nth(1).unwrap_or("").to_owned();
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let length: usize =
                    headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
                while raw.len() < head_end + length {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    raw.extend_from_slice(&chunk[..n]);
                }
                let status = if path.starts_with("/gone/") { "410 Gone" } else { "201 Created" };
                let _ = socket.write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").as_bytes()).await;
                let _ = tx.send((path, headers, raw[head_end..].to_vec()));
            });
        }
    });
    (port, rx)
}

fn ua(python: &str, args: &[&str], input: Option<&Value>) -> Value {
    let mut child = Command::new(python)
        .arg(fixture("webpush_ua.py"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    if let Some(input) = input {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "webpush_ua.py {args:?} failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_push_arrives_encrypted_for_the_browser_and_signed_with_the_tenants_vapid_key() {
    let Some(python) = python() else {
        eprintln!("SKIPPED: set PLAZA_TEST_PYTHON to a Python with http_ece (cargo xtask test does)");
        return;
    };
    // The local push service is on 127.0.0.1 over http: allowed for this test only.
    let (s, _) = server(|c| c.module_allow_private_hosts = true).await;
    let (port, mut pushes) = push_service().await;
    s.tenant_with("acme", &["notifications"]).await;
    let ana = onboard(&s, None, "acme", "ana@acme.test", &["member"]).await;
    let ana_id = user_id(&s, &ana).await;
    let base = "/t/acme/notifications";
    let vapid = json_of(as_user(&s, Method::GET, &format!("{base}/push/public-key"), &ana).send().await.unwrap(), 200)
        .await["public_key"]
        .as_str()
        .unwrap()
        .to_owned();

    // Ana's browser subscribes, and so does one whose subscription has expired.
    let browser = ua(&python, &["keys"], None);
    let endpoint = format!("http://127.0.0.1:{port}/push/ana-firefox");
    let device = json!({ "endpoint": endpoint, "keys": { "p256dh": browser["p256dh"], "auth": browser["auth"] }, "label": "Firefox" });
    json_of(as_user(&s, Method::POST, &format!("{base}/devices"), &ana).json(&device).send().await.unwrap(), 201).await;
    let old = ua(&python, &["keys"], None);
    let gone = json!({ "endpoint": format!("http://127.0.0.1:{port}/gone/old"), "keys": { "p256dh": old["p256dh"], "auth": old["auth"] } });
    json_of(as_user(&s, Method::POST, &format!("{base}/devices"), &ana).json(&gone).send().await.unwrap(), 201).await;

    let title = "Su expediente EX-7 avanzó — ñandú";
    let sent = json_of(
        s.req(Method::POST, &format!("{base}/send"))
            .json(&json!({ "user_id": ana_id, "title": title, "body": "Pasó a Hacienda", "action_url": "/t/acme/gdi/expedientes/7" }))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;

    let mut received = Vec::new();
    while received.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(30), pushes.recv()).await {
            Ok(got) => received.push(got.unwrap()),
            Err(_) => {
                let (_, deliveries) = s.get_json("/t/acme/events").await;
                panic!("{} of 2 pushes arrived; deliveries: {deliveries}", received.len());
            }
        }
    }
    let (_, headers, body) = received.iter().find(|(p, ..)| p == "/push/ana-firefox").expect("Ana's browser got it");
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    assert_eq!(header("content-encoding"), "aes128gcm");
    assert_eq!(header("ttl"), "86400");
    let opened = ua(
        &python,
        &["open"],
        Some(&json!({
            "private": browser["private"],
            "auth": browser["auth"],
            "body": base64::engine::general_purpose::STANDARD.encode(body),
            "authorization": header("authorization"),
            "origin": format!("http://127.0.0.1:{port}"),
        })),
    );
    assert_eq!(opened["k"], vapid.as_str(), "signed with the tenant's VAPID key");
    let payload: Value = serde_json::from_str(opened["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["title"], title);
    assert_eq!(payload["id"], sent["id"]);
    assert_eq!(payload["action_url"], "/t/acme/gdi/expedientes/7");

    // The expired subscription answered 410: it is forgotten.
    let started = Instant::now();
    loop {
        let devices =
            json_of(as_user(&s, Method::GET, &format!("{base}/devices"), &ana).send().await.unwrap(), 200).await;
        if devices.as_array().unwrap().len() == 1 {
            assert_eq!(devices[0]["label"], "Firefox");
            assert_eq!(devices[0]["push_service"], "127.0.0.1");
            assert!(devices[0].get("auth").is_none(), "keys are not shown");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{devices}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Another tenant has another VAPID key.
    s.tenant_with("beta", &["notifications"]).await;
    let beto = onboard(&s, None, "beta", "beto@beta.test", &["member"]).await;
    let other =
        json_of(as_user(&s, Method::GET, "/t/beta/notifications/push/public-key", &beto).send().await.unwrap(), 200)
            .await;
    assert_ne!(other["public_key"], vapid.as_str());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_in_time_and_a_removed_member_cannot_reconnect() {
    let (s, _) = server(|c| c.stream_max_secs = 2).await;
    s.tenant_with("acme", &["notifications"]).await;
    let ana = onboard(&s, None, "acme", "ana@acme.test", &["member"]).await;
    let ana_id = user_id(&s, &ana).await;
    let mut stream = Stream::open(&s, "acme", &ana, None).await;
    let started = Instant::now();
    assert!(stream.ends_within(Duration::from_secs(10)).await, "the connection is bounded");
    assert!(started.elapsed() >= Duration::from_millis(1500), "not before its time");
    // Reconnecting authorises again: once removed from the tenant, Ana gets nothing.
    let removed = s.req(Method::DELETE, &format!("/t/acme/members/{ana_id}")).send().await.unwrap();
    assert!(removed.status().is_success(), "{}", removed.status());
    assert_problem(as_user(&s, Method::GET, "/t/acme/stream", &ana).send().await.unwrap(), 404).await;
    s.stop().await;
}
