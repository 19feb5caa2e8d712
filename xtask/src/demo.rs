//! The demo tenant's content: a few blog posts, a small TV catalogue
//! (videos, playlists, live channels, news, an ad request) and a
//! municipality's GDI (two sectors, signed documents, an expediente that
//! moved once), written through the modules' own HTTP API by the demo
//! accounts, as a client would.
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

    fn put(&self, path: &str, body: &Value) -> Result<Value> {
        self.send("PUT", path, Some(body), &[200, 201, 204])
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
    /// A `gdi-writer` of the Secretaría de Gobierno.
    pub gdi_writer: Api,
    /// A `gdi-signer`: the Secretario de Gobierno.
    pub secretary: Api,
    /// A `gdi-signer`: the Intendente, who numbers.
    pub intendente: Api,
    /// The tenant, for the paths.
    pub tenant: &'a str,
}

/// Seeds both modules; returns a line per part for the banner.
pub fn seed(authors: &Authors<'_>) -> Result<Vec<String>> {
    Ok(vec![seed_blog(authors)?, seed_playlists(authors)?, seed_gdi(authors)?])
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

fn seed_gdi(a: &Authors<'_>) -> Result<String> {
    let base = format!("/t/{}/gdi", a.tenant);
    let existing = a.admin.get(&format!("{base}/documents?per_page=1"))?;
    if existing["total"].as_i64().unwrap_or(0) > 0 {
        return Ok(format!("gdi: {} documents already there", existing["total"]));
    }
    let settings = format!("/t/{}/modules/gdi/config", a.tenant);
    for (key, value) in [("eco", json!("DEMO")), ("municipality", json!("Municipalidad de Plaza (demo)"))] {
        a.admin.put(&format!("{settings}/{key}"), &json!({ "value": value, "secret": false }))?;
    }
    a.admin.post(&format!("{base}/sectors"), &json!({ "code": "INTEN", "name": "Intendencia" }))?;
    a.admin.post(
        &format!("{base}/sectors"),
        &json!({ "code": "SECGOB", "name": "Secretaría de Gobierno", "parent_code": "INTEN" }),
    )?;
    a.admin.post(
        &format!("{base}/document-types"),
        &json!({ "code": "DECRE", "name": "Decreto", "numbering_positions": ["Intendente"],
                 "template": [{ "name": "visto", "label": "Visto", "required": true, "schema": { "type": "string" } }] }),
    )?;
    a.admin.post(
        &format!("{base}/document-types"),
        &json!({ "code": "NOTA", "name": "Nota", "numbering_positions": ["Secretario de Gobierno", "Intendente"] }),
    )?;
    let me = |api: &Api| -> Result<String> {
        let me = api.get(&format!("{base}/me"))?;
        me["user_id"].as_str().map(str::to_owned).with_context(|| format!("no user id in {me}"))
    };
    let (writer, secretary, intendente) = (me(&a.gdi_writer)?, me(&a.secretary)?, me(&a.intendente)?);
    for (user, sector, name, position, sign, number) in [
        (&writer, "SECGOB", "Ana Núñez", "Administrativa", false, false),
        (&secretary, "SECGOB", "José Peña", "Secretario de Gobierno", true, true),
        (&intendente, "INTEN", "María Ibáñez", "Intendente", true, true),
    ] {
        a.admin.put(
            &format!("{base}/members/{user}/sectors/{sector}"),
            &json!({ "full_name": name, "position": position, "can_sign": sign, "can_number": number }),
        )?;
    }
    let both =
        json!([{ "user_id": secretary, "sector_code": "SECGOB" }, { "user_id": intendente, "sector_code": "INTEN" }]);
    let documents = [
        (
            "DECRE",
            "Horario de atención de la Mesa de Entradas",
            "Artículo 1º: fíjase el horario de 8 a 14 h.",
            both.clone(),
        ),
        (
            "NOTA",
            "Pedido de informe a Hacienda",
            "Se solicita el informe de ejecución presupuestaria.",
            json!([{ "user_id": secretary, "sector_code": "SECGOB" }]),
        ),
    ];
    let mut signed = Vec::new();
    for (kind, subject, body, signers) in documents {
        let doc = a.gdi_writer.post(
            &format!("{base}/documents"),
            &json!({ "type_code": kind, "sector_code": "SECGOB", "subject": subject, "body_markdown": body,
                     "fields": if kind == "DECRE" { json!({ "visto": "la necesidad de ordenar la atención" }) } else { json!({}) },
                     "signers": signers }),
        )?;
        let id = id_of(&doc)?;
        a.gdi_writer.post(&format!("{base}/documents/{id}/submit"), &json!({}))?;
        let mut last = a.secretary.post(&format!("{base}/documents/{id}/sign"), &json!({}))?;
        if kind == "DECRE" {
            last = a.intendente.post(&format!("{base}/documents/{id}/sign"), &json!({}))?;
        }
        signed.push((id, last["number"].as_str().unwrap_or_default().to_owned()));
    }
    a.gdi_writer.post(
        &format!("{base}/documents"),
        &json!({ "type_code": "NOTA", "sector_code": "SECGOB", "subject": "Borrador: convocatoria a reunión", "signers": both }),
    )?;
    let expediente = a.gdi_writer.post(
        &format!("{base}/expedientes"),
        &json!({ "sector_code": "SECGOB", "subject": "Reorganización de la Mesa de Entradas",
                 "procedure_type": "Organización interna", "initiator": { "kind": "office", "name": "Secretaría de Gobierno" } }),
    )?;
    let eid = id_of(&expediente)?;
    for (id, _) in &signed {
        a.gdi_writer.post(&format!("{base}/expedientes/{eid}/documents"), &json!({ "document_id": id }))?;
    }
    a.gdi_writer.post(
        &format!("{base}/expedientes/{eid}/moves"),
        &json!({ "to_sector": "INTEN", "note": "Para conocimiento y firma del Intendente" }),
    )?;
    let numbers: Vec<&str> = signed.iter().map(|(_, n)| n.as_str()).collect();
    Ok(format!(
        "gdi: 2 sectors, signed {} and a draft; expediente {} moved to INTEN",
        numbers.join(", "),
        expediente["number"].as_str().unwrap_or_default()
    ))
}
