//! The bundled `playlists` module (a TV/streaming app's admin and mobile
//! API) through plaza-testing: roles and ownership, playlist order under
//! concurrent edits, channels and logos, the news workflow, ad requests and
//! their history, the legacy aliases, and a second tenant that sees nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeSet;
use std::sync::Arc;

use plaza_testing::{Client, Running, TestHost, TestResponse};
use serde_json::{Value, json};

fn playlists_wasm() -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/modules/playlists.wasm");
    assert!(path.exists(), "run `cargo xtask plugins` first (cargo xtask test does)");
    path
}

/// A host whose default caller is a tenant admin.
async fn start() -> Running {
    TestHost::new().module(playlists_wasm()).user(["admin"]).start().await.expect("the host starts with playlists")
}

async fn as_role(host: &Running, role: &str) -> Client {
    host.as_user(&[role]).await.expect("a caller of acme")
}

/// The body as JSON, after checking the status (the body is in the message).
#[track_caller]
fn expect(resp: &TestResponse, status: u16) -> Value {
    assert_eq!(resp.status, status, "{}", resp.text());
    if resp.body.is_empty() { Value::Null } else { resp.json() }
}

/// The fields a 422 or 409 names in its `errors`.
fn error_fields(resp: &TestResponse) -> Vec<String> {
    let doc: Value = resp.json();
    doc["errors"]
        .as_array()
        .map(|a| a.iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

async fn new_video(client: &Client, title: &str, media_id: &str) -> Value {
    let body = json!({ "title": title, "description": "", "duration_seconds": 60, "media_id": media_id });
    expect(&client.post_json("/api/videos", &body).await, 201)
}

/// Item ids of a playlist in order, after checking positions are 1..n.
#[track_caller]
fn ordered_items(playlist: &Value) -> Vec<i64> {
    let items = playlist["items"].as_array().expect("items");
    let positions: Vec<i64> = items.iter().map(|i| i["position"].as_i64().unwrap()).collect();
    assert_eq!(positions, (1..=items.len() as i64).collect::<Vec<_>>(), "positions are 1..n: {playlist}");
    items.iter().map(|i| i["item_id"].as_i64().unwrap()).collect()
}

fn video_ids(playlist: &Value) -> Vec<i64> {
    playlist["items"].as_array().unwrap().iter().map(|i| i["video"]["id"].as_i64().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_listings_are_open_and_admin_routes_are_not() {
    let host = start().await;
    let anonymous = host.anonymous();
    for path in ["/api/videos", "/api/playlists", "/api/channels", "/api/news"] {
        let page = expect(&anonymous.get(path).await, 200);
        assert_eq!(page, json!({ "items": [], "total": 0, "page": 1, "per_page": 20 }), "{path}");
    }
    let bad = anonymous.get("/api/videos?per_page=101").await;
    assert_eq!((bad.status, error_fields(&bad)), (422, vec!["per_page".to_owned()]));
    assert_eq!(anonymous.get("/api/videos?page=0").await.status, 422);

    let user = as_role(&host, "user").await;
    let closed = [
        ("GET", "/api/admin/channels"),
        ("GET", "/api/admin/news"),
        ("GET", "/api/ads"),
        ("GET", "/api/ads/report"),
        ("POST", "/api/videos"),
        ("POST", "/api/playlists"),
        ("POST", "/api/channels"),
        ("POST", "/api/news"),
        ("POST", "/api/ads"),
        ("DELETE", "/api/channels/1"),
        ("POST", "/api/news/1/approve"),
        ("POST", "/api/ads/1/approve"),
    ];
    for (method, path) in closed {
        let body = b"{}".to_vec();
        assert_eq!(anonymous.request(method, path, &[], body.clone()).await.status, 401, "{method} {path}");
        assert_eq!(user.request(method, path, &[], body).await.status, 403, "{method} {path}");
    }
    // The user still reads what anyone reads.
    assert_eq!(user.get("/api/videos").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producers_edit_only_their_own_videos() {
    let host = start().await;
    let ana = as_role(&host, "producer").await;
    let bo = as_role(&host, "producer").await;

    let video = new_video(&ana, "Opening night", "vid-1").await;
    let vid = id(&video);
    assert_eq!(video["duration_seconds"], 60);
    assert_eq!(video["thumbnail_url"], Value::Null);

    let invalid = ana
        .post_json(
            "/api/videos",
            &json!({ "title": " ", "duration_seconds": 0, "media_id": "vid-2", "thumbnail_url": "ftp://x" }),
        )
        .await;
    assert_eq!(invalid.status, 422, "{}", invalid.text());
    assert_eq!(invalid.header("content-type"), Some("application/problem+json"));
    assert_eq!(error_fields(&invalid), ["title", "duration_seconds", "thumbnail_url"]);
    let clash =
        bo.post_json("/api/videos", &json!({ "title": "Copy", "duration_seconds": 5, "media_id": "vid-1" })).await;
    assert_eq!((clash.status, error_fields(&clash)), (409, vec!["media_id".to_owned()]));

    let path = format!("/api/videos/{vid}");
    let edited = expect(
        &ana.put_json(&path, &json!({ "title": "Opening night (HD)", "thumbnail_url": "https://img.example/1.jpg" }))
            .await,
        200,
    );
    assert_eq!((edited["title"].as_str(), edited["duration_seconds"].as_i64()), (Some("Opening night (HD)"), Some(60)));
    let forbidden = bo.put_json(&path, &json!({ "title": "Mine now" })).await;
    assert_eq!(forbidden.status, 403, "{}", forbidden.text());
    assert_eq!(bo.delete(&path).await.status, 403);
    expect(&host.put_json(&path, &json!({ "description": "Edited by an admin" })).await, 200);
    let clear = expect(&ana.put_json(&path, &json!({ "thumbnail_url": null })).await, 200);
    assert_eq!(clear["thumbnail_url"], Value::Null);
    assert_eq!(clear["description"], "Edited by an admin");

    new_video(&bo, "Late show", "vid-3").await;
    let found = expect(&host.anonymous().get("/api/videos?q=NIGHT").await, 200);
    assert_eq!((found["total"].as_i64(), found["items"][0]["id"].as_i64()), (Some(1), Some(vid)));
    let all = expect(&host.anonymous().get("/api/videos?per_page=1&page=2").await, 200);
    assert_eq!((all["total"].as_i64(), all["items"][0]["id"].as_i64()), (Some(2), Some(vid)), "newest first");
    assert_eq!(expect(&host.anonymous().get("/api/videos?q=100%25").await, 200)["total"], 0);

    assert_eq!(host.anonymous().get("/api/videos/999").await.status, 404);
    assert_eq!(host.anonymous().get("/api/videos/abc").await.status, 400);
    assert_eq!(ana.delete(&path).await.status, 204);
    assert_eq!(host.anonymous().get(&path).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playlist_edits_keep_positions_without_gaps() {
    let host = start().await;
    let ana = as_role(&host, "producer").await;
    let bo = as_role(&host, "producer").await;
    let mut videos = Vec::new();
    for n in 1..=4 {
        videos.push(id(&new_video(&ana, &format!("Episode {n}"), &format!("ep-{n}")).await));
    }
    let list = expect(&ana.post_json("/api/playlists", &json!({ "name": "Season 1" })).await, 201);
    let items_path = format!("/api/playlists/{}/items", id(&list));
    assert_eq!(list["items"], json!([]));

    // Append, insert first, insert far past the end (clamped to the end), insert in the middle.
    let p = expect(&ana.post_json(&items_path, &json!({ "video_id": videos[1] })).await, 201);
    assert_eq!(video_ids(&p), [videos[1]]);
    let p = expect(&ana.post_json(&items_path, &json!({ "video_id": videos[0], "position": 1 })).await, 201);
    let p2 = expect(&ana.post_json(&items_path, &json!({ "video_id": videos[3], "position": 99 })).await, 201);
    let p3 = expect(&ana.post_json(&items_path, &json!({ "video_id": videos[2], "position": 3 })).await, 201);
    assert_eq!(video_ids(&p3), videos, "in episode order");
    let items = ordered_items(&p3);
    assert_eq!(ordered_items(&p).len() + 2, items.len());
    assert_eq!(ordered_items(&p2).len(), 3);

    // Move the last first, then the first past the end (clamped).
    let p = expect(&ana.put_json(&format!("{items_path}/{}", items[3]), &json!({ "position": 1 })).await, 200);
    assert_eq!(ordered_items(&p), [items[3], items[0], items[1], items[2]]);
    let p = expect(&ana.put_json(&format!("{items_path}/{}", items[3]), &json!({ "position": 50 })).await, 200);
    assert_eq!(ordered_items(&p), items);
    // Remove one in the middle: the others close the gap.
    let p = expect(&ana.delete(&format!("{items_path}/{}", items[1])).await, 200);
    assert_eq!(ordered_items(&p), [items[0], items[2], items[3]]);
    assert_eq!(p["item_count"], 3);

    // Unknown things, bad input, someone else's playlist.
    assert_eq!(ana.delete(&format!("{items_path}/{}", items[1])).await.status, 404);
    assert_eq!(ana.put_json(&format!("{items_path}/999"), &json!({ "position": 1 })).await.status, 404);
    assert_eq!(ana.post_json("/api/playlists/999/items", &json!({ "video_id": videos[0] })).await.status, 404);
    let unknown = ana.post_json(&items_path, &json!({ "video_id": 999 })).await;
    assert_eq!((unknown.status, error_fields(&unknown)), (422, vec!["video_id".to_owned()]));
    assert_eq!(bo.post_json(&items_path, &json!({ "video_id": videos[0] })).await.status, 403);
    assert_eq!(bo.put_json(&format!("/api/playlists/{}", id(&list)), &json!({ "name": "Mine" })).await.status, 403);
    assert_eq!(ana.post_json("/api/playlists", &json!({ "name": "" })).await.status, 422);

    // Deleting a video takes it out of the playlist, renumbering the rest.
    assert_eq!(ana.delete(&format!("/api/videos/{}", videos[2])).await.status, 204);
    let p = expect(&host.anonymous().get(&format!("/api/playlists/{}", id(&list))).await, 200);
    assert_eq!(ordered_items(&p), [items[0], items[3]]);
    assert_eq!(video_ids(&p), [videos[0], videos[3]]);

    let listed = expect(&host.anonymous().get("/api/playlists").await, 200);
    assert_eq!((listed["total"].as_i64(), listed["items"][0]["item_count"].as_i64()), (Some(1), Some(2)));
    let renamed = expect(&host.put_json(&format!("/api/playlists/{}", id(&list)), &json!({ "name": "S1" })).await, 200);
    assert_eq!((renamed["name"].as_str(), ordered_items(&renamed).len()), (Some("S1"), 2));
    assert_eq!(ana.delete(&format!("/api/playlists/{}", id(&list))).await.status, 204);
    assert_eq!(host.anonymous().get(&format!("/api/playlists/{}", id(&list))).await.status, 404);
}

/// A small deterministic generator: the test needs spread, not randomness.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_moves_keep_the_order_whole() {
    let host = start().await;
    let producer = Arc::new(as_role(&host, "producer").await);
    let list = expect(&producer.post_json("/api/playlists", &json!({ "name": "Live mix" })).await, 201);
    let items_path = format!("/api/playlists/{}/items", id(&list));
    let mut last = Value::Null;
    for n in 1..=8 {
        let video = new_video(&producer, &format!("Clip {n}"), &format!("clip-{n}")).await;
        last = expect(&producer.post_json(&items_path, &json!({ "video_id": id(&video) })).await, 201);
    }
    let items = ordered_items(&last);
    let before: BTreeSet<i64> = items.iter().copied().collect();

    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let item = items[rng.below(items.len() as u64) as usize];
        let position = rng.below(10) as i64; // 0 and 9 are clamped
        let (client, path) = (Arc::clone(&producer), format!("{items_path}/{item}"));
        tasks.push(tokio::spawn(async move { client.put_json(&path, &json!({ "position": position })).await }));
    }
    // Concurrent inserts and removals too.
    let extra = id(&new_video(&producer, "Bonus", "clip-bonus").await);
    for position in [1, 4, 100] {
        let (client, path) = (Arc::clone(&producer), items_path.clone());
        tasks.push(tokio::spawn(async move {
            client.post_json(&path, &json!({ "video_id": extra, "position": position })).await
        }));
    }
    for task in tasks {
        let resp = task.await.unwrap();
        assert!(resp.status == 200 || resp.status == 201, "{} {}", resp.status, resp.text());
        ordered_items(&resp.json());
    }

    let after = expect(&host.anonymous().get(&format!("/api/playlists/{}", id(&list))).await, 200);
    let order = ordered_items(&after);
    assert_eq!(order.len(), 11);
    let kept: BTreeSet<i64> = order.iter().copied().filter(|i| before.contains(i)).collect();
    assert_eq!(kept, before, "the same items, each once");
    assert_eq!(video_ids(&after).iter().filter(|v| **v == extra).count(), 3);
    let revision = after["revision"].as_i64().unwrap();
    assert_eq!(revision, 8 + 20 + 3, "every edit locked the playlist once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_numbers_logos_and_visibility() {
    let host = start().await;
    let anonymous = host.anonymous();
    let news = json!({ "name": "News 24", "number": 5, "stream_url": "https://live.example/news.m3u8" });
    let news = expect(&host.post_json("/api/channels", &news).await, 201);
    assert_eq!(
        (news["active"].as_bool(), news["sort_order"].as_i64(), news["has_logo"].as_bool()),
        (Some(true), Some(0), Some(false))
    );
    let sport = json!({ "name": "Sport", "number": 2, "stream_url": "http://live.example/sport", "sort_order": 1 });
    let sport = expect(&host.post_json("/api/channels", &sport).await, 201);
    let kids = json!({ "name": "Kids", "number": 9, "stream_url": "https://live.example/kids", "active": false });
    let kids = expect(&host.post_json("/api/channels", &kids).await, 201);

    let clash = host
        .post_json("/api/channels", &json!({ "name": "Copy", "number": 5, "stream_url": "https://x.example" }))
        .await;
    assert_eq!((clash.status, error_fields(&clash)), (409, vec!["number".to_owned()]));
    let moved = host.put_json(&format!("/api/channels/{}", id(&sport)), &json!({ "number": 5 })).await;
    assert_eq!(moved.status, 409);
    let bad = host.post_json("/api/channels", &json!({ "name": "Bad", "number": 0, "stream_url": "rtmp://x" })).await;
    assert_eq!((bad.status, error_fields(&bad)), (422, vec!["number".to_owned(), "stream_url".to_owned()]));

    // Public: active ones, by sort order then number; the inactive one is hidden.
    let public = expect(&anonymous.get("/api/channels").await, 200);
    let names: Vec<&str> = public["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!((names, public["total"].as_i64()), (vec!["News 24", "Sport"], Some(2)));
    assert_eq!(anonymous.get(&format!("/api/channels/{}", id(&kids))).await.status, 404);
    assert_eq!(host.get(&format!("/api/channels/{}", id(&kids))).await.status, 200);
    assert_eq!(expect(&host.get("/api/admin/channels").await, 200)["total"], 3);
    let shown = expect(&host.put_json(&format!("/api/channels/{}", id(&kids)), &json!({ "active": true })).await, 200);
    assert_eq!(shown["active"], true);
    assert_eq!(expect(&anonymous.get("/api/channels").await, 200)["total"], 3);

    // Logos: an image type, stored and served publicly with its type.
    let logo_path = format!("/api/channels/{}/logo", id(&news));
    let png = b"\x89PNG\r\n\x1a\nlogo".to_vec();
    assert_eq!(anonymous.get(&logo_path).await.status, 404);
    let stored = expect(&host.put_bytes(&logo_path, "image/png", png.clone()).await, 200);
    assert_eq!(stored["has_logo"], true);
    let logo = anonymous.get(&logo_path).await;
    assert_eq!((logo.status, logo.header("content-type"), &logo.body), (200, Some("image/png"), &png));
    assert_eq!(host.put_bytes(&logo_path, "image/gif", b"GIF89a".to_vec()).await.status, 415);
    assert_eq!(host.put_bytes(&logo_path, "image/png", Vec::new()).await.status, 422);
    let user = as_role(&host, "user").await;
    assert_eq!(user.put_bytes(&logo_path, "image/png", png.clone()).await.status, 403);
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec();
    expect(&host.put_bytes(&logo_path, "image/svg+xml", svg.clone()).await, 200);
    assert_eq!(anonymous.get(&logo_path).await.header("content-type"), Some("image/svg+xml"));

    assert_eq!(host.delete(&format!("/api/channels/{}", id(&news))).await.status, 204);
    assert_eq!(anonymous.get(&logo_path).await.status, 404);
    assert_eq!(host.delete(&format!("/api/channels/{}", id(&news))).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn news_waits_for_approval() {
    let host = start().await;
    let anonymous = host.anonymous();
    let ana = as_role(&host, "producer").await;
    let bo = as_role(&host, "producer").await;

    let item = expect(&ana.post_json("/api/news", &json!({ "title": "New season", "body": "Soon." })).await, 201);
    let path = format!("/api/news/{}", id(&item));
    assert_eq!(item["status"], "pending");
    assert_eq!(expect(&anonymous.get("/api/news").await, 200)["total"], 0);
    assert_eq!(anonymous.get(&path).await.status, 404);
    assert_eq!(expect(&ana.get("/api/admin/news").await, 200)["total"], 1);
    assert_eq!(expect(&bo.get("/api/admin/news").await, 200)["total"], 0, "another producer's");
    assert_eq!(expect(&host.get("/api/admin/news?status=pending").await, 200)["total"], 1);
    assert_eq!(host.get("/api/admin/news?status=lost").await.status, 422);
    assert_eq!(bo.put_json(&path, &json!({ "title": "Mine" })).await.status, 403);
    assert_eq!(ana.post_json(&format!("{path}/approve"), &json!({})).await.status, 403);

    let approved = expect(&host.request("POST", &format!("{path}/approve"), &[], Vec::new()).await, 200);
    assert_eq!(approved["status"], "approved");
    let twice = host.request("POST", &format!("{path}/approve"), &[], Vec::new()).await;
    assert_eq!(twice.status, 409, "{}", twice.text());
    let problem: Value = twice.json();
    assert_eq!((problem["status"].as_i64(), problem["current_status"].as_str()), (Some(409), Some("approved")));
    let public = expect(&anonymous.get("/api/news").await, 200);
    assert_eq!((public["total"].as_i64(), public["items"][0]["title"].as_str()), (Some(1), Some("New season")));
    assert_eq!(expect(&anonymous.get(&path).await, 200)["body"], "Soon.");
    assert_eq!(ana.put_json(&path, &json!({ "body": "Changed" })).await.status, 409, "approved: admins only");

    // Rejection needs a reason; the producer's edit sends it back to pending.
    let other = expect(&ana.post_json("/api/news", &json!({ "title": "Rumour", "body": "Maybe." })).await, 201);
    let other_path = format!("/api/news/{}", id(&other));
    let no_reason = host.post_json(&format!("{other_path}/reject"), &json!({})).await;
    assert_eq!((no_reason.status, error_fields(&no_reason)), (422, vec!["reason".to_owned()]));
    assert_eq!(host.request("POST", &format!("{other_path}/reject"), &[], Vec::new()).await.status, 422);
    let rejected =
        expect(&host.post_json(&format!("{other_path}/reject"), &json!({ "reason": "Unsourced" })).await, 200);
    assert_eq!((rejected["status"].as_str(), rejected["reason"].as_str()), (Some("rejected"), Some("Unsourced")));
    assert_eq!(host.post_json(&format!("{other_path}/reject"), &json!({ "reason": "Again" })).await.status, 409);
    let resubmitted = expect(&ana.put_json(&other_path, &json!({ "body": "Confirmed." })).await, 200);
    assert_eq!((resubmitted["status"].as_str(), resubmitted["reason"].as_str()), (Some("pending"), None));
    assert_eq!(expect(&ana.get("/api/admin/news?status=pending").await, 200)["total"], 1);

    assert_eq!(bo.delete(&other_path).await.status, 403);
    assert_eq!(ana.delete(&other_path).await.status, 204);
    assert_eq!(host.delete(&path).await.status, 204);
    assert_eq!(expect(&anonymous.get("/api/news").await, 200)["total"], 0);
}

fn ad(campaign: &str, budget_cents: i64) -> Value {
    json!({
        "campaign": campaign,
        "advertiser": "Fizz Co",
        "starts_on": "2025-06-01",
        "ends_on": "2025-06-30",
        "budget_cents": budget_cents,
        "notes": "Prime time",
    })
}

/// A POST without a body.
async fn post(client: &Client, path: String) -> TestResponse {
    client.request("POST", &path, &[], Vec::new()).await
}

fn history(detail: &Value) -> Vec<(Value, Value)> {
    detail["history"].as_array().unwrap().iter().map(|h| (h["from_status"].clone(), h["to_status"].clone())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad_requests_follow_their_workflow() {
    let host = start().await;
    let a = as_role(&host, "agency").await;
    let b = as_role(&host, "agency").await;

    let first = expect(&a.post_json("/api/ads", &ad("Summer", 100_000)).await, 201);
    let first_path = format!("/api/ads/{}", id(&first));
    assert_eq!(first["status"], "pending");
    assert_eq!(history(&first), [(Value::Null, json!("pending"))]);
    assert_eq!(b.get(&first_path).await.status, 404, "another agency's");
    assert_eq!(post(&b, format!("{first_path}/cancel")).await.status, 404);
    assert_eq!(expect(&b.get("/api/ads").await, 200)["total"], 0);
    assert_eq!(post(&a, format!("{first_path}/approve")).await.status, 403);

    let invalid = a
        .post_json(
            "/api/ads",
            &json!({ "campaign": "X", "advertiser": "Y", "starts_on": "2025-07-02", "ends_on": "2025-07-01", "budget_cents": 0 }),
        )
        .await;
    assert_eq!((invalid.status, error_fields(&invalid)), (422, vec!["ends_on".to_owned(), "budget_cents".to_owned()]));
    let bad_date = a.post_json("/api/ads", &json!({ "campaign": "X", "advertiser": "Y", "starts_on": "2025-02-30", "ends_on": "2025-03-01", "budget_cents": 1 })).await;
    assert_eq!(error_fields(&bad_date), ["starts_on"]);

    // pending → approved → completed, each step recorded in order.
    let approved = expect(&post(&host, format!("{first_path}/approve")).await, 200);
    assert_eq!(approved["status"], "approved");
    let done = expect(&post(&host, format!("{first_path}/complete")).await, 200);
    assert_eq!(
        history(&done),
        [
            (Value::Null, json!("pending")),
            (json!("pending"), json!("approved")),
            (json!("approved"), json!("completed"))
        ]
    );
    let steps = done["history"].as_array().unwrap();
    assert!(steps[0]["by"] != steps[1]["by"], "the agency created it, an admin approved it");
    assert_eq!(expect(&a.get(&first_path).await, 200)["history"], done["history"]);

    // Rejection needs a reason; a rejected request cannot be approved.
    let second = expect(&a.post_json("/api/ads", &ad("Autumn", 50_000)).await, 201);
    let second_path = format!("/api/ads/{}", id(&second));
    let no_reason = host.post_json(&format!("{second_path}/reject"), &json!({ "reason": " " })).await;
    assert_eq!((no_reason.status, error_fields(&no_reason)), (422, vec!["reason".to_owned()]));
    let rejected = expect(&host.post_json(&format!("{second_path}/reject"), &json!({ "reason": "Budget" })).await, 200);
    assert_eq!(rejected["history"][1]["reason"], "Budget");
    let illegal = post(&host, format!("{second_path}/approve")).await;
    assert_eq!(illegal.status, 409, "{}", illegal.text());
    let problem: Value = illegal.json();
    assert_eq!(problem["status"], 409);
    assert_eq!(
        (problem["current_status"].as_str(), problem["wanted_status"].as_str()),
        (Some("rejected"), Some("approved"))
    );
    assert!(problem["detail"].as_str().unwrap().contains("rejected"));

    // A pending request cannot be completed; its agency may cancel it.
    let third = expect(&a.post_json("/api/ads", &ad("Winter", 25_000)).await, 201);
    let third_path = format!("/api/ads/{}", id(&third));
    assert_eq!(post(&host, format!("{third_path}/complete")).await.status, 409);
    let cancelled = expect(&post(&a, format!("{third_path}/cancel")).await, 200);
    assert_eq!(history(&cancelled).last(), Some(&(json!("pending"), json!("cancelled"))));
    assert_eq!(post(&a, format!("{third_path}/cancel")).await.status, 409);

    // b's approved request, for the report.
    let theirs = expect(&b.post_json("/api/ads", &ad("Spring", 70_000)).await, 201);
    expect(&post(&host, format!("/api/ads/{}/approve", id(&theirs))).await, 200);

    let report_a = expect(&a.get("/api/ads/report").await, 200);
    assert_eq!(
        report_a,
        json!({
            "total": 3,
            "counts": { "pending": 0, "approved": 0, "rejected": 1, "cancelled": 1, "completed": 1 },
            "approved_budget_cents": 0,
            "completed_budget_cents": 100_000,
        })
    );
    let report_all = expect(&host.get("/api/ads/report").await, 200);
    assert_eq!((report_all["total"].as_i64(), report_all["approved_budget_cents"].as_i64()), (Some(4), Some(70_000)));
    assert_eq!(expect(&host.get("/api/ads?status=approved").await, 200)["total"], 1);
    assert_eq!(expect(&a.get("/api/ads?status=approved").await, 200)["total"], 0);
    assert_eq!(expect(&a.get("/api/ads").await, 200)["total"], 3);
    assert_eq!(host.get("/api/ads/999").await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_paths_answer_as_deprecated_aliases() {
    let host = start().await;
    let producer = as_role(&host, "producer").await;
    // Writing through an alias works too, with the same access rules.
    let video = expect(
        &producer
            .post_json("/videos", &json!({ "title": "Old app", "duration_seconds": 9, "media_id": "old-1" }))
            .await,
        201,
    );
    assert_eq!(host.anonymous().post_json("/videos", &json!({})).await.status, 401);
    let new = expect(&host.anonymous().get("/api/videos").await, 200);
    let old = expect(&host.anonymous().get("/videos").await, 200);
    assert_eq!((old["total"].as_i64(), &old), (Some(1), &new));
    assert_eq!(expect(&host.anonymous().get(&format!("/videos/{}", id(&video))).await, 200), video);
    assert_eq!(host.anonymous().get("/ads/report").await.status, 401);
    assert_eq!(host.anonymous().request("PATCH", "/videos", &[], Vec::new()).await.status, 405);

    // The manifest lists each alias, deprecated; so does the tenant's OpenAPI document.
    let active = host.app().modules.enabled("acme").await.unwrap();
    let module = active.get("playlists").and_then(|a| a.module.as_ref().ok()).cloned().unwrap();
    let routes = &module.manifest.routes;
    let alias = routes.iter().find(|r| r.path == "/videos/{id}").expect("the alias of GET /api/videos/{id}");
    assert!(alias.deprecated);
    assert_eq!(alias.operation_id, "legacy_get_api_videos_id");
    assert!(alias.description.as_deref().unwrap().contains("`GET /api/videos/{id}`"));
    let prefixed = routes.iter().filter(|r| r.path.starts_with("/api")).count();
    assert_eq!(routes.iter().filter(|r| r.deprecated).count(), prefixed);
    let doc = plaza::modules::openapi::tenant_document(&json!({}), "acme", &[&*module]);
    assert_eq!(doc["paths"]["/t/acme/playlists/videos/{id}"]["get"]["deprecated"], true);
    assert!(doc["paths"]["/t/acme/playlists/api/videos/{id}"]["get"].get("deprecated").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenant_sees_nothing_of_acme() {
    let host = start().await;
    let producer = as_role(&host, "producer").await;
    let video = new_video(&producer, "Acme only", "acme-1").await;
    let list = expect(&producer.post_json("/api/playlists", &json!({ "name": "Acme mix" })).await, 201);
    let channel = json!({ "name": "Acme TV", "number": 1, "stream_url": "https://acme.example/live" });
    let channel = expect(&host.post_json("/api/channels", &channel).await, 201);
    let news = expect(&producer.post_json("/api/news", &json!({ "title": "Acme", "body": "News" })).await, 201);
    expect(&host.request("POST", &format!("/api/news/{}/approve", id(&news)), &[], Vec::new()).await, 200);
    let agency = as_role(&host, "agency").await;
    let ad = expect(&agency.post_json("/api/ads", &ad("Acme ads", 1_000)).await, 201);

    let globex = host.other_tenant("globex", &["admin"]).await.unwrap();
    for path in ["/api/videos", "/api/playlists", "/api/channels", "/api/admin/channels", "/api/news", "/api/ads"] {
        assert_eq!(expect(&globex.get(path).await, 200)["total"], 0, "{path}");
    }
    assert_eq!(globex.get(&format!("/api/videos/{}", id(&video))).await.status, 404);
    assert_eq!(globex.get(&format!("/api/playlists/{}", id(&list))).await.status, 404);
    assert_eq!(globex.get(&format!("/api/channels/{}", id(&channel))).await.status, 404);
    assert_eq!(globex.get(&format!("/api/news/{}", id(&news))).await.status, 404);
    assert_eq!(globex.get(&format!("/api/ads/{}", id(&ad))).await.status, 404);
    assert_eq!(expect(&globex.get("/api/ads/report").await, 200)["total"], 0);
    // The same media id and channel number are free in globex.
    expect(
        &globex
            .post_json("/api/videos", &json!({ "title": "Globex", "duration_seconds": 1, "media_id": "acme-1" }))
            .await,
        201,
    );
    expect(
        &globex
            .post_json("/api/channels", &json!({ "name": "G", "number": 1, "stream_url": "https://g.example" }))
            .await,
        201,
    );
    assert_eq!(expect(&host.anonymous().get("/api/videos").await, 200)["total"], 1);
}
