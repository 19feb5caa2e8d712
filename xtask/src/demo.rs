//! The demo tenant's content: a few blog posts and a small TV catalogue
//! (videos, playlists, live channels, news, an ad request), written through
//! the modules' own HTTP API by the demo accounts, as a client would.
//!
//! Seeding runs on every `cargo xtask dev` and is idempotent: each part is
//! skipped when the tenant already has content of that kind.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::util;

/// The demo tenant's API as one signed-in account.
pub struct Api {
    addr: SocketAddr,
    token: String,
}

impl Api {
    pub fn new(addr: SocketAddr, token: &str) -> Self {
        Self { addr, token: token.to_owned() }
    }

    /// Sends `body` as JSON and returns the answer when its status is one of
    /// `ok`; anything else stops the seeding with the server's problem.
    fn send(&self, method: &str, path: &str, body: Option<&Value>, ok: &[u16]) -> Result<Value> {
        let bearer = format!("Bearer {}", self.token);
        util::http_json(self.addr, method, path, &[("Authorization", bearer.as_str())], body, ok)
    }

    fn get(&self, path: &str) -> Result<Value> {
        self.send("GET", path, None, &[200])
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.send("POST", path, Some(body), &[200, 201])
    }
}

/// The id of a created record.
fn id_of(record: &Value) -> Result<i64> {
    record["id"].as_i64().with_context(|| format!("no id in {record}"))
}

/// The accounts that write the demo content.
pub struct Authors<'a> {
    /// An admin of the tenant (publishes posts, approves news and ads).
    pub admin: Api,
    /// A `producer` (videos, playlists, news).
    pub producer: Api,
    /// An `agency` (ad requests).
    pub agency: Api,
    /// The tenant, for the paths.
    pub tenant: &'a str,
}

/// Seeds both modules; returns a line per part for the banner.
pub fn seed(authors: &Authors<'_>) -> Result<Vec<String>> {
    Ok(vec![seed_blog(authors)?, seed_playlists(authors)?])
}

fn seed_blog(a: &Authors<'_>) -> Result<String> {
    let base = format!("/t/{}/blog", a.tenant);
    let existing = a.admin.get(&format!("{base}/admin/posts?per_page=1"))?;
    if existing["total"].as_i64().unwrap_or(0) > 0 {
        return Ok(format!("blog: {} posts already there", existing["total"]));
    }
    let posts = [
        (
            "Bienvenidos a Plaza",
            "Plaza runs the **blog**, the TV catalogue and every other module of a tenant in one host.\n\n\
             - one sign-in\n- one API document\n- modules enabled per tenant",
            vec!["plaza", "news"],
            true,
        ),
        (
            "Publicar un expediente en cinco pasos",
            "A walkthrough for the municipal team.\n\n1. Create the document\n2. Add signers\n3. Sign\n\
             4. Attach it to the expediente\n5. Publish",
            vec!["gdi", "how-to"],
            true,
        ),
        (
            "Año nuevo, módulos nuevos",
            "Modules are WebAssembly components: upgrades happen *without a restart*.",
            vec!["plaza", "modules"],
            true,
        ),
        ("Draft: roadmap", "Not public yet.", vec!["plaza"], false),
    ];
    let mut published = 0;
    for (title, markdown, tags, publish) in posts {
        let post = a.admin.post(
            &format!("{base}/admin/posts"),
            &json!({
                "title": title,
                "content_markdown": markdown,
                "tags": tags,
                "meta_description": format!("{title}: a post of the Plaza demo tenant"),
                "faq": [{ "question": "Is this a demo?", "answer": "Yes: cargo xtask dev seeded it." }],
            }),
        )?;
        if publish {
            a.admin.post(&format!("{base}/admin/posts/{}/publish", id_of(&post)?), &json!({}))?;
            published += 1;
        }
    }
    // One more, scheduled for tomorrow: the `publish-scheduled` job publishes it.
    let scheduled = a.admin.post(
        &format!("{base}/admin/posts"),
        &json!({ "title": "Scheduled for tomorrow", "content_markdown": "Published by the cron job." }),
    )?;
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    a.admin.post(&format!("{base}/admin/posts/{}/publish", id_of(&scheduled)?), &json!({ "publish_at": tomorrow }))?;
    Ok(format!("blog: {published} published posts, a draft and a scheduled one"))
}

fn seed_playlists(a: &Authors<'_>) -> Result<String> {
    let base = format!("/t/{}/playlists/api", a.tenant);
    let existing = a.admin.get(&format!("{base}/videos?per_page=1"))?;
    if existing["total"].as_i64().unwrap_or(0) > 0 {
        return Ok(format!("playlists: {} videos already there", existing["total"]));
    }
    let videos = [
        ("Noticiero central", 1800, "yt-noticiero-01"),
        ("Cocina de la abuela", 1320, "yt-cocina-07"),
        ("Fútbol: resumen de la fecha", 900, "yt-futbol-12"),
        ("Documental: los Andes", 3120, "yt-andes-02"),
        ("Entrevista de la semana", 1500, "yt-entrevista-33"),
    ];
    let mut ids = Vec::new();
    for (title, duration, media) in videos {
        let video = a.producer.post(
            &format!("{base}/videos"),
            &json!({
                "title": title,
                "description": format!("{title}, from the demo catalogue"),
                "duration_seconds": duration,
                "media_id": media,
                "thumbnail_url": format!("https://img.example.com/{media}.jpg"),
            }),
        )?;
        ids.push(id_of(&video)?);
    }
    for (name, items) in [("Lo más visto", &ids[..3]), ("Fin de semana", &ids[2..])] {
        let playlist = a
            .producer
            .post(&format!("{base}/playlists"), &json!({ "name": name, "description": format!("{name} (demo)") }))?;
        let playlist = id_of(&playlist)?;
        for video in items {
            a.producer.post(&format!("{base}/playlists/{playlist}/items"), &json!({ "video_id": video }))?;
        }
    }
    for (number, name) in [(2, "Canal 2 Noticias"), (5, "Deportes 5"), (9, "Cultura 9")] {
        a.admin.post(
            &format!("{base}/channels"),
            &json!({
                "name": name,
                "number": number,
                "stream_url": format!("https://streams.example.com/live/{number}.m3u8"),
                "active": true,
                "sort_order": number,
            }),
        )?;
    }
    let news = a.producer.post(
        &format!("{base}/news"),
        &json!({ "title": "Nueva grilla de programación", "body": "Desde el lunes, el noticiero empieza a las 20 h." }),
    )?;
    a.admin.post(&format!("{base}/news/{}/approve", id_of(&news)?), &json!({}))?;
    a.producer.post(
        &format!("{base}/news"),
        &json!({ "title": "Estreno del documental", "body": "Waiting for an admin's approval." }),
    )?;
    a.agency.post(
        &format!("{base}/ads"),
        &json!({
            "campaign": "Verano 2027",
            "advertiser": "Helados del Sur",
            "starts_on": "2027-01-05",
            "ends_on": "2027-02-28",
            "budget_cents": 25_000_000,
            "notes": "Prime time only",
        }),
    )?;
    Ok(format!("playlists: {} videos, 2 playlists, 3 channels, 2 news, 1 ad request", ids.len()))
}
