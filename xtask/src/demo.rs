//! The demo tenant's content: a few blog posts, a small TV catalogue
//! (videos, playlists, live channels, news, an ad request), a
//! municipality's GDI (two sectors, signed documents, an expediente that
//! moved once), a small Ecuadorian shop's ERP (catalogue, opening stock,
//! customers, a received purchase, sales) and the shop's electronic invoices
//! (the SRI's facturas of those sales, authorized by the local tax-authority
//! mock) and a mail template, written through the modules' own HTTP API by the demo accounts, as
//! a client would.
//!
//! Seeding runs on every `cargo xtask dev` and is idempotent: each part is
//! skipped when the tenant already has content of that kind (settings are
//! written again, which changes nothing but the mock's URL).

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

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
    /// An `erp-seller`: the shop's cashier (customers, sales, payments).
    pub cashier: Api,
    /// An `erp-stock`: the warehouse keeper (suppliers, purchases).
    pub storekeeper: Api,
    /// An `erp-accountant` (reports).
    pub accountant: Api,
    /// An `einvoicing-issuer`: the clerk who follows the invoices.
    pub invoicing: Api,
    /// The tenant, for the paths.
    pub tenant: &'a str,
    /// The base URL of the tax-authority mock `dev` runs, the demo's SRI.
    pub tax_mock: &'a str,
}

/// Seeds every module; returns a line per part for the banner.
pub fn seed(authors: &Authors<'_>) -> Result<Vec<String>> {
    let mut lines = vec![seed_blog(authors)?, seed_playlists(authors)?, seed_gdi(authors)?];
    // einvoicing's settings go in before erp's sales: each confirmed sale's
    // event then finds a country and an issuer and becomes a factura.
    seed_einvoicing(authors)?;
    let (erp, sales) = seed_erp(authors)?;
    lines.push(erp);
    lines.push(check_einvoicing(authors, &sales)?);
    lines.push(seed_mail(authors)?);
    lines.push(seed_notifications(authors)?);
    lines.push(seed_documents(authors)?);
    Ok(lines)
}

/// A folder and a few documents (one shared with every member, one with a
/// second version), once.
fn seed_documents(a: &Authors<'_>) -> Result<String> {
    let base = format!("/t/{}/documents", a.tenant);
    let existing = a.admin.get(&format!("{base}/documents"))?;
    if existing["total"].as_i64().unwrap_or(0) > 0 {
        return Ok("documents: already seeded".to_owned());
    }
    let folder = a.admin.post(&format!("{base}/folders"), &json!({ "name": "Políticas" }))?;
    let folder_id = id_of(&folder)?;
    let policy = a.admin.post(
        &format!("{base}/documents"),
        &json!({
            "title": "Política de uso de datos", "type": "policy", "folder_id": folder_id,
            "content": "# Uso de datos\n\nLos datos de los vecinos se usan solo para el trámite que los pidió.",
        }),
    )?;
    a.admin.post(
        &format!("{base}/documents/{}/shares", id_of(&policy)?),
        &json!({ "role": "member", "permission": "view" }),
    )?;
    let budget = a.admin.post(
        &format!("{base}/documents"),
        &json!({
            "title": "Presupuesto participativo 2027", "type": "minutes",
            "content": "Acta de la reunión: se priorizan tres obras de alumbrado.",
        }),
    )?;
    let current = a.admin.get(&format!("{base}/documents/{}", id_of(&budget)?))?;
    a.admin.put(
        &format!("{base}/documents/{}", id_of(&budget)?),
        &json!({
            "content": "Acta de la reunión: se priorizan tres obras de alumbrado y una plaza.",
            "version": current["version"],
        }),
    )?;
    Ok("documents: a folder, a policy shared with every member, minutes with two versions".to_owned())
}

/// A notification for the demo admin and one for every member, once.
fn seed_notifications(a: &Authors<'_>) -> Result<String> {
    let base = format!("/t/{}/notifications", a.tenant);
    let mine = a.admin.get(&format!("{base}/notifications"))?;
    if mine["total"].as_i64().unwrap_or(0) == 0 {
        let me = a.admin.get("/api/v1/auth/me")?;
        let id = me["id"].as_str().context("no id in /auth/me")?;
        a.admin.post(
            &format!("{base}/send"),
            &json!({
                "user_id": id, "title": "Bienvenida a Plaza",
                "body": "Los módulos de la demo están habilitados; la API está en /t/demo/docs.",
                "type": "welcome", "action_url": format!("/t/{}/docs", a.tenant),
            }),
        )?;
        a.admin.post(
            &format!("{base}/send"),
            &json!({
                "role": "member", "title": "Mantenimiento programado",
                "body": "El sábado de 22:00 a 23:00 la plataforma puede no responder.", "type": "announcement",
            }),
        )?;
    }
    Ok("notifications: one for the demo admin, one for every member".to_owned())
}

/// The tenant's sender and a template (written again on every start: a PUT
/// changes nothing when they are the same). Nothing is sent: the demo has
/// no SMTP relay unless the developer sets one.
fn seed_mail(a: &Authors<'_>) -> Result<String> {
    let t = a.tenant;
    a.admin
        .put(&format!("/t/{t}/mail-settings"), &json!({ "from": "Municipalidad Demo <avisos@demo.plaza.example>" }))?;
    a.admin.put(
        &format!("/t/{t}/mail/templates/expediente-movido"),
        &json!({
            "description": "Tells a citizen their expediente moved to another sector",
            "subject": "Expediente {{ number }}: ahora en {{ sector }}",
            "text": "Hola {{ name }},\n\nsu expediente {{ number }} pasó a {{ sector }}.\n\nMunicipalidad Demo",
            "html": "<p>Hola {{ name }},</p><p>su expediente <b>{{ number }}</b> pasó a {{ sector }}.</p><p>Municipalidad Demo</p>",
        }),
    )?;
    Ok("mail: sender avisos@demo.plaza.example, template expediente-movido".to_owned())
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

/// The id of the record of `list` (a JSON array) whose `field` is `value`.
fn find_in(list: &Value, field: &str, value: &str) -> Option<i64> {
    list.as_array()?.iter().find(|r| r[field].as_str() == Some(value)).and_then(|r| r["id"].as_i64())
}

/// An amount of the API (`"12.50"`) in cents.
fn cents(amount: &Value) -> Result<i64> {
    let text = amount.as_str().with_context(|| format!("not an amount: {amount}"))?;
    let (units, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let fraction = format!("{fraction:0<2}");
    Ok(units.parse::<i64>()? * 100 + fraction[..2].parse::<i64>()?)
}

/// Seeds the shop; returns the banner's line and the ids of the sales it
/// confirmed, whose facturas [`check_einvoicing`] waits for (none when the
/// shop was there already).
fn seed_erp(a: &Authors<'_>) -> Result<(String, Vec<i64>)> {
    let base = format!("/t/{}/erp", a.tenant);
    let existing = a.admin.get(&format!("{base}/products?per_page=1"))?;
    if existing["total"].as_i64().unwrap_or(0) > 0 {
        return Ok((format!("erp: {} products already there", existing["total"]), Vec::new()));
    }
    let settings = format!("/t/{}/modules/erp/config", a.tenant);
    for (key, value) in [
        ("country", json!("EC")),
        ("timezone", json!("America/Guayaquil")),
        (
            "company",
            json!({ "name": "Comercial Plaza S.A. (demo)", "tax_id": "1790011674001", "trade_name": "Tienda Plaza",
                    "address": "Av. Amazonas N24-03 y Colón, Quito" }),
        ),
    ] {
        a.admin.put(&format!("{settings}/{key}"), &json!({ "value": value, "secret": false }))?;
    }
    // The warehouse, the series and the categories may be there from a run
    // that stopped before the products: reuse them.
    let warehouse = match find_in(&a.admin.get(&format!("{base}/warehouses"))?, "code", "MAIN") {
        Some(id) => id,
        None => id_of(
            &a.admin.post(&format!("{base}/warehouses"), &json!({ "code": "MAIN", "name": "Bodega principal" }))?,
        )?,
    };
    let series = a.admin.get(&format!("{base}/series"))?;
    if !series.as_array().is_some_and(|all| all.iter().any(|s| s["code"] == "001-001")) {
        a.admin
            .post(&format!("{base}/series"), &json!({ "establishment": "001", "point": "001", "name": "Caja 1" }))?;
    }
    let categories = a.admin.get(&format!("{base}/categories"))?;
    let category = |code: &str, name: &str| -> Result<i64> {
        match find_in(&categories, "code", code) {
            Some(id) => Ok(id),
            None => id_of(&a.admin.post(&format!("{base}/categories"), &json!({ "code": code, "name": name }))?),
        }
    };
    let (groceries, drinks) = (category("ABARROTES", "Abarrotes")?, category("BEBIDAS", "Bebidas")?);
    // (sku, barcode, name, category, price, cost, tax, opening stock)
    let catalogue = [
        ("ARZ-2KG", "7861234500010", "Arroz Flor 2 kg", groceries, "2.85", "2.10", "iva0", "60"),
        ("AZU-1KG", "7861234500027", "Azúcar blanca 1 kg", groceries, "1.20", "0.88", "iva0", "80"),
        ("LECHE-1L", "7861234500034", "Leche entera 1 L", groceries, "1.05", "0.80", "iva0", "48"),
        ("ACE-1L", "7861234500041", "Aceite de girasol 1 L", groceries, "3.49", "2.60", "iva15", "36"),
        ("ATUN-180", "7861234500058", "Atún en aceite 180 g", groceries, "1.75", "1.22", "iva15", "72"),
        ("CAFE-250", "7861234500065", "Café molido 250 g", drinks, "4.10", "2.95", "iva5", "24"),
        ("COLA-3L", "7861234500072", "Cola 3 L", drinks, "2.20", "1.45", "iva15", "30"),
        ("AGUA-1L", "7861234500089", "Agua mineral 1 L", drinks, "0.75", "0.40", "iva15", "96"),
    ];
    let mut products = std::collections::HashMap::new();
    for (sku, barcode, name, category, price, cost, tax, _) in catalogue {
        let product = a.admin.post(
            &format!("{base}/products"),
            &json!({ "sku": sku, "barcode": barcode, "name": name, "category_id": category, "price": price,
                     "cost": cost, "tax_code": tax, "low_stock_threshold": "12" }),
        )?;
        products.insert(sku, id_of(&product)?);
    }
    // Opening stock as an import batch: rows, validation, promotion.
    let batch = a.admin.post(
        &format!("{base}/imports/batches"),
        &json!({ "kind": "stock", "source": "inventario-inicial (cargo xtask dev)" }),
    )?;
    let batch = format!("{base}/imports/batches/{}", id_of(&batch)?);
    let rows: Vec<Value> = catalogue
        .iter()
        .map(|(sku, _, _, _, _, cost, _, quantity)| {
            json!({ "sku": sku, "warehouse": "MAIN", "quantity": quantity, "unit_cost": cost })
        })
        .collect();
    a.admin.post(&format!("{batch}/rows"), &json!(rows))?;
    let validated = a.admin.post(&format!("{batch}/validate"), &json!({}))?;
    if validated["rows_invalid"].as_i64() != Some(0) {
        let errors = a.admin.get(&format!("{batch}/errors"))?;
        anyhow::bail!("the opening stock has invalid rows: {errors}");
    }
    a.admin.post(&format!("{batch}/promote"), &json!({}))?;
    // Customers, by the cashier.
    let mut customers = Vec::new();
    for (tax_id, name, email, phone) in [
        ("1714307103", "María Pérez", "maria.perez@example.com", "0991234567"),
        ("0926687856", "Pedro Andrade", "pedro.andrade@example.com", "0987654321"),
        ("1792060346001", "Distribuidora El Ejido Cía. Ltda.", "compras@ejido.example.com", "022345678"),
    ] {
        let customer = a.cashier.post(
            &format!("{base}/customers"),
            &json!({ "tax_id": tax_id, "name": name, "email": email, "phone": phone, "address": "Quito" }),
        )?;
        customers.push(id_of(&customer)?);
    }
    // A supplier and a received purchase, by the warehouse keeper.
    let supplier = a.storekeeper.post(
        &format!("{base}/suppliers"),
        &json!({ "tax_id": "1790011674001", "name": "Mayorista Andino S.A.", "email": "ventas@andino.example.com",
                 "phone": "022987654", "address": "Panamericana Norte km 12, Quito" }),
    )?;
    let purchase = a.storekeeper.post(
        &format!("{base}/purchases"),
        &json!({ "supplier_id": id_of(&supplier)?, "warehouse_id": warehouse, "supplier_document": "001-002-000004512",
                 "lines": [
                     { "product_id": products["ACE-1L"], "quantity": "24", "unit_cost": "2.70" },
                     { "product_id": products["COLA-3L"], "quantity": "18", "unit_cost": "1.50" },
                     { "product_id": products["ARZ-2KG"], "quantity": "40", "unit_cost": "2.05" },
                 ] }),
    )?;
    let purchase = a.storekeeper.post(&format!("{base}/purchases/{}/receive", id_of(&purchase)?), &json!({}))?;
    // Sales, by the cashier: a ticket paid in cash, one paid by card, one part-paid.
    let line = |sku: &str, quantity: &str| json!({ "product_id": products[sku], "quantity": quantity });
    let ticket = a.cashier.post(
        &format!("{base}/sales"),
        &json!({ "customer_id": customers[0], "series": "001-001", "confirm": true,
                 "lines": [line("ARZ-2KG", "2"), line("ACE-1L", "1"),
                           { "product_id": products["COLA-3L"], "quantity": "1", "discount_percent": "10" }],
                 "payments": [{ "method": "cash", "tendered": "20.00" }] }),
    )?;
    let card = a.cashier.post(
        &format!("{base}/sales"),
        &json!({ "customer_id": customers[1], "series": "001-001", "notes": "Pedido por teléfono",
                 "lines": [line("CAFE-250", "2"), line("LECHE-1L", "6"), line("ATUN-180", "4")] }),
    )?;
    let card = id_of(&card)?;
    let confirmed = a.cashier.post(&format!("{base}/sales/{card}/confirm"), &json!({}))?;
    let card = a.cashier.post(
        &format!("{base}/sales/{card}/payments"),
        &json!({ "method": "card", "amount": confirmed["due"], "reference": "AUT-558201" }),
    )?;
    let credit = a.cashier.post(
        &format!("{base}/sales"),
        &json!({ "customer_id": customers[2], "series": "001-001", "confirm": true, "notes": "Crédito a 30 días",
                 "lines": [line("AGUA-1L", "24"), line("AZU-1KG", "10"), line("ACE-1L", "6")] }),
    )?;
    // Half of it, to the cent, by transfer.
    let half = cents(&credit["total"])? / 2;
    let credit = a.cashier.post(
        &format!("{base}/sales/{}/payments", id_of(&credit)?),
        &json!({ "method": "transfer", "amount": format!("{}.{:02}", half / 100, half % 100), "reference": "TRF-20931" }),
    )?;
    let sales = vec![id_of(&ticket)?, id_of(&card)?, id_of(&credit)?];
    let summary = a.accountant.get(&format!("{base}/reports/tax-summary"))?;
    let state =
        |sale: &Value| format!("{} {}", sale["number"].as_str().unwrap_or("?"), sale["state"].as_str().unwrap_or("?"));
    let line = format!(
        "erp: {} products, opening stock, 3 customers, purchase {} {}; sales {}, {}, {} (due {}); tax summary {} USD",
        products.len(),
        purchase["supplier_document"].as_str().unwrap_or_default(),
        purchase["state"].as_str().unwrap_or_default(),
        state(&ticket),
        state(&card),
        state(&credit),
        credit["due"].as_str().unwrap_or_default(),
        summary["total"].as_str().unwrap_or_default(),
    );
    Ok((line, sales))
}

/// The settings of einvoicing: the shop issues SRI facturas in pruebas
/// (ambiente 1) to the local mock instead of celcer.sri.gob.ec. No
/// certificate is uploaded: the host makes a self-signed test one on first
/// use, which only a mock accepts, and that is what pruebas here is for.
/// Written on every run (a PUT of the same value changes nothing) so that
/// `sri_url` follows the port the mock got this time.
fn seed_einvoicing(a: &Authors<'_>) -> Result<()> {
    let settings = format!("/t/{}/modules/einvoicing/config", a.tenant);
    // The issuer before the country: a tenant with a country but no issuer
    // fails every sale's event instead of skipping it.
    for (key, value) in [
        (
            "ecuador",
            json!({ "ruc": "1790011674001", "razon_social": "Comercial Plaza S.A. (demo)",
                    "nombre_comercial": "Tienda Plaza", "dir_matriz": "Av. Amazonas N24-03 y Colón, Quito",
                    "establecimiento": "001", "punto_emision": "900", "ambiente": 1,
                    "obligado_contabilidad": true, "sri_url": a.tax_mock }),
        ),
        ("timezone", json!("America/Guayaquil")),
        ("country", json!("EC")),
    ] {
        a.admin.put(&format!("{settings}/{key}"), &json!({ "value": value, "secret": false }))?;
    }
    Ok(())
}

/// How long the facturas of the demo's sales may take: erp's events reach
/// einvoicing through the host's relay, and each factura is signed, sent and
/// authorized in the call that receives its event.
const INVOICES_TIMEOUT: Duration = Duration::from_secs(30);

/// States of an SRI document that no retry changes.
const REFUSED: [&str; 2] = ["returned", "not_authorized"];

/// A listed document's state, or that there is none yet.
fn state_of(doc: Option<&Value>) -> &str {
    doc.and_then(|d| d["state"].as_str()).unwrap_or("none yet")
}

/// Waits until each of `sales` has its factura authorized by the mock, so
/// that a broken link (settings, the relay, the host refusing loopback) is
/// a failed start rather than a demo without invoices. With no new sales
/// (erp's seed ran on an earlier start) it only counts what is there.
fn check_einvoicing(a: &Authors<'_>, sales: &[i64]) -> Result<String> {
    let base = format!("/t/{}/einvoicing/documents", a.tenant);
    if sales.is_empty() {
        let all = a.invoicing.get(&format!("{base}?per_page=1"))?;
        let authorized = a.invoicing.get(&format!("{base}?state=authorized&per_page=1"))?;
        return Ok(format!(
            "einvoicing: {} documents already there, {} authorized",
            all["total"].as_i64().unwrap_or(0),
            authorized["total"].as_i64().unwrap_or(0)
        ));
    }
    let deadline = Instant::now() + INVOICES_TIMEOUT;
    loop {
        let listing = a.invoicing.get(&format!("{base}?kind=invoice&per_page=100"))?;
        let invoices: Vec<Option<&Value>> = sales
            .iter()
            .map(|sale| listing["items"].as_array()?.iter().find(|d| d["sale_id"].as_i64() == Some(*sale)))
            .collect();
        if invoices.iter().all(|doc| state_of(*doc) == "authorized") {
            let numbers: Vec<&str> = invoices.iter().flatten().filter_map(|d| d["number"].as_str()).collect();
            let key = invoices.iter().flatten().find_map(|d| d["access_key"].as_str()).unwrap_or_default();
            return Ok(format!(
                "einvoicing: {} facturas authorized by the local SRI mock ({}; claves {}…)",
                numbers.len(),
                numbers.join(", "),
                key.get(..10).unwrap_or(key)
            ));
        }
        let refused = invoices.iter().any(|doc| REFUSED.contains(&state_of(*doc)));
        if refused || Instant::now() >= deadline || util::interrupted() {
            let why = if refused {
                "refused by the SRI mock"
            } else if util::interrupted() {
                "interrupted while waiting"
            } else {
                "not authorized in time"
            };
            let mut details = Vec::new();
            for (sale, doc) in sales.iter().zip(&invoices) {
                let detail = match doc.and_then(|d| d["id"].as_i64()) {
                    // The listing has no messages or last error: the document has.
                    Some(id) => {
                        let full = a.invoicing.get(&format!("{base}/{id}"))?;
                        format!(
                            "{} (last error: {}, messages: {})",
                            state_of(*doc),
                            full["last_error"],
                            full["messages"]
                        )
                    }
                    None => state_of(*doc).to_owned(),
                };
                details.push(format!("sale {sale}: {detail}"));
            }
            anyhow::bail!("the demo's facturas were {why}: {}", details.join("; "));
        }
        thread::sleep(Duration::from_millis(500));
    }
}
