//! The storage suite: tenant files over HTTP, on local files by default and
//! on an S3-compatible server under `cargo xtask test`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::{TestServer, assert_problem, bytes, sha256_hex};
use reqwest::Method;
use serde_json::Value;

const MIB: usize = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_mib_file_round_trips_with_ranges_and_etags() {
    let s = TestServer::start().await;
    s.create_tenant("acme").await;
    let data = bytes(10 * MIB, 7);
    let resp = s
        .req(Method::PUT, "/t/acme/files/reports%2F2026%2Fbig.bin")
        .header("content-type", "application/x-plaza-test")
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["location"], "/t/acme/files/reports%2F2026%2Fbig.bin");
    let meta: Value = resp.json().await.unwrap();
    assert_eq!(meta["key"], "reports/2026/big.bin");
    assert_eq!(meta["size"], 10 * MIB);
    assert_eq!(meta["sha256"], sha256_hex(&data));
    assert_eq!(meta["content_type"], "application/x-plaza-test");

    // Whole file, streamed with its headers.
    let resp = s.req(Method::GET, "/t/acme/files/reports%2F2026%2Fbig.bin").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-plaza-test");
    assert_eq!(resp.headers()["content-length"], (10 * MIB).to_string().as_str());
    assert_eq!(resp.headers()["accept-ranges"], "bytes");
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", sha256_hex(&data)));
    let body = resp.bytes().await.unwrap();
    assert_eq!(sha256_hex(&body), sha256_hex(&data));

    // A range in the middle, across the 5 MiB part boundary.
    let (start, end) = (5 * MIB - 10, 5 * MIB + 99);
    let resp = s
        .req(Method::GET, "/t/acme/files/reports%2F2026%2Fbig.bin")
        .header("Range", format!("bytes={start}-{end}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.headers()["content-range"], format!("bytes {start}-{end}/{}", 10 * MIB).as_str());
    assert_eq!(resp.headers()["content-length"], "110");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &data[start..=end]);

    // Several ranges: one part each, in a multipart/byteranges body whose
    // length is exact, parsed back here as a client would.
    let resp = s
        .req(Method::GET, "/t/acme/files/reports%2F2026%2Fbig.bin")
        .header("Range", "bytes=9000000-9000009, 0-3, 5242870-5242889")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert!(resp.headers().get("content-range").is_none(), "the parts carry their own");
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    let boundary = ct.strip_prefix("multipart/byteranges; boundary=").expect(&ct).to_owned();
    let declared: usize = resp.headers()["content-length"].to_str().unwrap().parse().unwrap();
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.len(), declared);
    let parts = byteranges(&body, &boundary);
    let size = 10 * MIB;
    assert_eq!(parts.len(), 3, "sorted into three parts");
    for ((range, data_part), (a, b)) in parts.iter().zip([(0, 3), (5242870, 5242889), (9000000, 9000009)]) {
        assert_eq!(range, &format!("bytes {a}-{b}/{size}"));
        assert_eq!(data_part.as_slice(), &data[a..=b]);
    }

    // Suffix range.
    let resp =
        s.req(Method::GET, "/t/acme/files/reports%2F2026%2Fbig.bin").header("Range", "bytes=-16").send().await.unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &data[data.len() - 16..]);

    // Unsatisfiable range.
    let resp = s
        .req(Method::GET, "/t/acme/files/reports%2F2026%2Fbig.bin")
        .header("Range", "bytes=20000000-")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-range"], format!("bytes */{}", 10 * MIB).as_str());
    assert_problem(resp, 416).await;

    // No range of an empty file can be satisfied.
    assert_eq!(s.req(Method::PUT, "/t/acme/files/empty").body("").send().await.unwrap().status(), 201);
    let resp = s.req(Method::GET, "/t/acme/files/empty").header("Range", "bytes=0-0").send().await.unwrap();
    assert_eq!(resp.headers()["content-range"], "bytes */0");
    assert_problem(resp, 416).await;

    // Conditional GET.
    let resp = s
        .req(Method::GET, "/t/acme/files/reports%2F2026%2Fbig.bin")
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    assert!(resp.bytes().await.unwrap().is_empty());

    // Metadata.
    let (status, m) = s.get_json("/t/acme/files/reports%2F2026%2Fbig.bin/metadata").await;
    assert_eq!(status, 200);
    assert_eq!(m["sha256"], meta["sha256"]);
    assert_eq!(m["etag"], etag.as_str());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_upload_records_type_and_hash() {
    let s = TestServer::start().await;
    s.create_tenant("acme").await;
    let data = bytes(300_000, 3);
    let part = reqwest::multipart::Part::bytes(data.clone()).file_name("scan.pdf").mime_str("application/pdf").unwrap();
    let form = reqwest::multipart::Form::new().part("file", part);
    let resp = s.req(Method::POST, "/t/acme/files").multipart(form).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let meta: Value = resp.json().await.unwrap();
    assert_eq!(meta["key"], "scan.pdf");
    assert_eq!(meta["content_type"], "application/pdf");
    assert_eq!(meta["sha256"], sha256_hex(&data));
    // An explicit key wins over the file name.
    let part = reqwest::multipart::Part::bytes(b"abc".to_vec()).file_name("ignored.txt");
    let form = reqwest::multipart::Form::new().text("key", "docs/explicit.txt").part("file", part);
    let resp = s.req(Method::POST, "/t/acme/files").multipart(form).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.json::<Value>().await.unwrap()["key"], "docs/explicit.txt");
    let resp = s.req(Method::GET, "/t/acme/files/docs%2Fexplicit.txt").send().await.unwrap();
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"abc");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_uploads_are_413_and_keep_the_previous_file() {
    let s = TestServer::start_with(|c| c.max_upload_bytes = MIB as u64).await;
    s.create_tenant("acme").await;
    let original = bytes(1000, 1);
    let resp = s.req(Method::PUT, "/t/acme/files/keep.bin").body(original.clone()).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let objects_before = s.object_count("tenants/acme").await;

    // Declared length over the cap.
    let resp = s.req(Method::PUT, "/t/acme/files/keep.bin").body(bytes(MIB + 1, 2)).send().await.unwrap();
    assert_problem(resp, 413).await;
    // Streamed (chunked) over the cap, past the multipart threshold of the store.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..40).map(|i| Ok(bytes(64 * 1024, i))).collect();
    let resp = s
        .req(Method::PUT, "/t/acme/files/keep.bin")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 413).await;
    // Multipart over the cap.
    let part = reqwest::multipart::Part::bytes(bytes(MIB + 10, 4)).file_name("keep.bin");
    let resp = s
        .req(Method::POST, "/t/acme/files")
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 413).await;

    // Nothing stored was lost or half-written, and nothing was left behind.
    let resp = s.req(Method::GET, "/t/acme/files/keep.bin").send().await.unwrap();
    assert_eq!(resp.bytes().await.unwrap().as_ref(), original.as_slice());
    assert_eq!(s.object_count("tenants/acme").await, objects_before);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_and_deleting_files_cleans_up_objects() {
    let s = TestServer::start().await;
    s.create_tenant("acme").await;
    let resp = s
        .req(Method::PUT, "/t/acme/files/a.txt")
        .header("content-type", "text/plain")
        .body("one")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let first: Value = resp.json().await.unwrap();
    let resp = s
        .req(Method::PUT, "/t/acme/files/a.txt")
        .header("content-type", "text/markdown")
        .body("two!")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "replacing answers 200");
    let second: Value = resp.json().await.unwrap();
    assert_eq!(second["created_at"], first["created_at"]);
    assert_ne!(second["sha256"], first["sha256"]);
    let resp = s.req(Method::GET, "/t/acme/files/a.txt").send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/markdown");
    assert_eq!(resp.text().await.unwrap(), "two!");
    assert_eq!(s.object_count("tenants/acme/files").await, 1, "the replaced object is gone");

    let resp = s.req(Method::DELETE, "/t/acme/files/a.txt").send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert_problem(s.req(Method::GET, "/t/acme/files/a.txt").send().await.unwrap(), 404).await;
    assert_problem(s.req(Method::DELETE, "/t/acme/files/a.txt").send().await.unwrap(), 404).await;
    assert_eq!(s.object_count("tenants/acme/files").await, 0);

    let (_, audit) = s.get_json("/api/v1/tenants/acme/audit").await;
    let actions: Vec<&str> = audit.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["file.delete", "file.replace", "file.create", "tenant.create"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_through_a_prefix() {
    let s = TestServer::start().await;
    s.create_tenant("acme").await;
    for key in ["inv/2026/03.pdf", "inv/2026/01.pdf", "inv/2025/12.pdf", "inv%/odd.txt", "notes.txt", "inv/2026/02.pdf"]
    {
        let path = format!("/t/acme/files/{}", key.replace('%', "%25").replace('/', "%2F"));
        assert_eq!(s.req(Method::PUT, &path).body(key.to_owned()).send().await.unwrap().status(), 201, "{key}");
    }
    let mut keys = Vec::new();
    let mut cursor = None::<String>;
    loop {
        let mut req = s.req(Method::GET, "/t/acme/files").query(&[("prefix", "inv/2026/"), ("limit", "2")]);
        if let Some(c) = &cursor {
            req = req.query(&[("cursor", c)]);
        }
        let page: Value = req.send().await.unwrap().json().await.unwrap();
        keys.extend(page["items"].as_array().unwrap().iter().map(|i| i["key"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(keys, ["inv/2026/01.pdf", "inv/2026/02.pdf", "inv/2026/03.pdf"]);
    // `%` and `_` in a prefix are literal, not patterns.
    let page: Value =
        s.req(Method::GET, "/t/acme/files").query(&[("prefix", "inv%")]).send().await.unwrap().json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let page: Value = s.req(Method::GET, "/t/acme/files").send().await.unwrap().json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 6);
    assert!(page.get("next_cursor").is_none());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_never_sees_another_tenants_files() {
    let s = TestServer::start().await;
    s.create_tenant("acme").await;
    s.create_tenant("globex").await;
    let resp = s.req(Method::PUT, "/t/acme/files/secret.txt").body("acme only").send().await.unwrap();
    assert_eq!(resp.status(), 201);
    // Same key from the other tenant: not found, not listed, not deletable.
    assert_problem(s.req(Method::GET, "/t/globex/files/secret.txt").send().await.unwrap(), 404).await;
    assert_problem(s.req(Method::GET, "/t/globex/files/secret.txt/metadata").send().await.unwrap(), 404).await;
    assert_problem(s.req(Method::DELETE, "/t/globex/files/secret.txt").send().await.unwrap(), 404).await;
    let page: Value = s.req(Method::GET, "/t/globex/files").send().await.unwrap().json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
    // Writing the same key in the other tenant does not touch the first.
    let resp = s.req(Method::PUT, "/t/globex/files/secret.txt").body("globex").send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let resp = s.req(Method::GET, "/t/acme/files/secret.txt").send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "acme only");
    // Each tenant's bytes live under its own prefix.
    assert_eq!(s.object_count("tenants/acme").await, 1);
    assert_eq!(s.object_count("tenants/globex").await, 1);
    // Deleting one tenant removes its objects only.
    assert_eq!(s.req(Method::DELETE, "/api/v1/tenants/acme").send().await.unwrap().status(), 204);
    assert_eq!(s.object_count("tenants/acme").await, 0);
    assert_eq!(s.object_count("tenants/globex").await, 1);
    let resp = s.req(Method::GET, "/t/globex/files/secret.txt").send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "globex");
    s.stop().await;
}

/// The parts of a `multipart/byteranges` body: each one's `Content-Range`
/// and bytes.
fn byteranges(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
    let marker = format!("\r\n--{boundary}");
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(at) = find(rest, marker.as_bytes()) {
        rest = &rest[at + marker.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let head_end = find(rest, b"\r\n\r\n").expect("a part head");
        let head = String::from_utf8(rest[..head_end].to_vec()).unwrap();
        let range = head.lines().find_map(|l| l.strip_prefix("Content-Range: ")).expect("Content-Range").to_owned();
        let data = &rest[head_end + 4..];
        let len = find(data, marker.as_bytes()).expect("the next boundary");
        parts.push((range, data[..len].to_vec()));
        rest = data;
    }
    parts
}
