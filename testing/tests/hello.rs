//! plaza-testing on the bundled `hello` module: every capability through
//! the in-process host, roles, and a second tenant that sees nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use plaza_testing::TestHost;
use serde_json::{Value, json};

fn hello_wasm() -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/modules/hello.wasm");
    assert!(path.exists(), "run `cargo xtask plugins` first (cargo xtask test does)");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_through_plaza_testing() {
    let host = TestHost::new()
        .module(hello_wasm())
        .tenant("acme")
        .user(["member"])
        .config("greeting", json!("Hej"))
        .secret("api-token", "t0ken")
        .start()
        .await
        .unwrap();
    assert_eq!(host.module(), "hello");

    let index = host.anonymous().get("/").await;
    assert_eq!(index.status, 200);
    assert_eq!(index.json::<Value>()["tenant"], "acme");

    let created = host.post_json("/greetings", &json!({ "name": "Ana" })).await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.json::<Value>()["message"], "Hej, Ana!");
    let list = host.get("/greetings").await;
    assert_eq!(list.json::<Value>()["items"][0]["name"], "Ana");
    let invalid = host.post_json("/greetings", &json!({ "name": "" })).await;
    assert_eq!(invalid.status, 422);
    assert!(invalid.problem_type().is_some(), "{}", invalid.text());

    assert_eq!(host.put_bytes("/kv/k", "application/octet-stream", b"v".to_vec()).await.status, 204);
    assert_eq!(host.get("/kv/k").await.body, b"v");
    assert_eq!(host.put_bytes("/blobs/a.txt", "text/plain", b"blob".to_vec()).await.status, 204);
    let blob = host.get("/blobs/a.txt").await;
    assert_eq!((blob.header("content-type"), blob.text().as_str()), (Some("text/plain"), "blob"));
    let signed = host.request("POST", "/sign", &[], b"doc".to_vec()).await.json::<Value>();
    assert_eq!(signed["verified"], true);
    assert_eq!(host.get("/stats").await.json::<Value>()["greeted_count"], 1);

    // The config route needs admin; the secret never comes back in clear.
    assert_eq!(host.get("/config").await.status, 403);
    let admin = host.as_user(&["admin"]).await.unwrap();
    let config = admin.get("/config").await;
    assert!(!config.text().contains("t0ken"));
    assert_eq!(config.json::<Value>()["greeting"], "Hej");
    assert_eq!(host.anonymous().get("/greetings").await.status, 401);

    // Another tenant starts empty.
    let globex = host.other_tenant("globex", &["member"]).await.unwrap();
    assert_eq!(globex.get("/greetings").await.json::<Value>()["items"], json!([]));
    assert_eq!(globex.get("/kv/k").await.status, 404);
    assert_eq!(globex.get("/blobs/a.txt").await.status, 404);
}
