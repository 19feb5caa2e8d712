//! The contract's versions: a module built against `plaza:module@1.0.0`
//! (kept as a binary in `fixtures/hello-wit-1.0.wasm`) still loads and
//! runs on this host, whose WIT is 1.1, with every capability it uses —
//! SQL, events, KV, blobs, config and the 1.0 crypto functions — and a 1.1
//! module beside it in the same tenant.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{TestServer, modules_dir};
use reqwest::Method;
use serde_json::{Value, json};

const HELLO_WIT_1_0: &[u8] = include_bytes!("fixtures/hello-wit-1.0.wasm");

/// Does the binary import the 1.0 interfaces? (Else the fixture was rebuilt
/// by mistake and the test would prove nothing.)
fn imports(wasm: &[u8], needle: &str) -> bool {
    wasm.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_built_against_1_0_runs_on_the_1_1_host() {
    assert!(imports(HELLO_WIT_1_0, "plaza:module/crypto@1.0.0"), "the fixture imports the 1.0 crypto");
    assert!(!imports(HELLO_WIT_1_0, "plaza:module/crypto@1.1.0"));
    let gdi = std::fs::read(modules_dir().join("gdi.wasm")).unwrap();
    assert!(imports(&gdi, "plaza:module/crypto@1.1.0"), "the bundled modules are built against 1.1");

    let s = TestServer::start().await;
    s.create_tenant("acme").await;
    let actor = plaza::audit::Actor::new("test");
    let module = s.app.modules.register_bundled(HELLO_WIT_1_0.to_vec()).await.expect("a 1.0 module is accepted");
    assert_eq!(module.name(), "hello");
    s.app.modules.enable("acme", "hello", None, &actor).await.expect("and enabled");
    let key = s.api_key("acme", &["member"]).await;
    let call = |method: Method, path: &str| {
        s.client.request(method, format!("{}/t/acme/hello{path}", s.base)).header("x-api-key", key.clone())
    };

    // SQL and events.
    let resp = call(Method::POST, "/greetings").json(&json!({ "name": "Ana" })).send().await.unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let list: Value = call(Method::GET, "/greetings").send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"][0]["name"], "Ana", "{list}");
    // KV and blobs.
    assert!(call(Method::PUT, "/kv/k").body("v").send().await.unwrap().status().is_success());
    let kv = call(Method::GET, "/kv/k").send().await.unwrap().text().await.unwrap();
    assert!(kv.contains('v'), "{kv}");
    assert!(
        call(Method::PUT, "/blobs/b.txt")
            .header("content-type", "text/plain")
            .body("blob")
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    assert_eq!(call(Method::GET, "/blobs/b.txt").send().await.unwrap().text().await.unwrap(), "blob");
    // The 1.0 crypto functions, served by the 1.1 interface.
    let signed: Value = call(Method::POST, "/sign").body("hola").send().await.unwrap().json().await.unwrap();
    assert_eq!(signed["verified"], true, "{signed}");
    let public_key = STANDARD.decode(signed["public_key"].as_str().unwrap()).unwrap();
    assert_eq!(public_key.len(), 32);

    // A 1.1 module beside it in the same tenant.
    s.app.modules.register_bundled(gdi).await.unwrap();
    s.app.modules.enable("acme", "gdi", None, &actor).await.unwrap();
    let admin = s.api_key("acme", &["admin"]).await;
    let resp = s.client.get(format!("{}/t/acme/gdi/sectors", s.base)).header("x-api-key", admin).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}
