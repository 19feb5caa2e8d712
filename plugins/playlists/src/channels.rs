//! Live channels: a number, a stream URL and a logo (blob `logos/{id}`).

use plaza_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{self, Errors, Page, PageRequest};

const COLUMNS: &str = "id, name, number, stream_url, active, sort_order, \
     CASE WHEN logo_content_type IS NULL THEN 0 ELSE 1 END AS has_logo, created_at, updated_at";

/// The order of the listings.
const ORDER: &str = "sort_order, number";

/// Logos: at most 2 MB, of these types.
pub const MAX_LOGO_BYTES: usize = 2 * 1024 * 1024;
pub const LOGO_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/webp", "image/svg+xml"];

/// A live channel.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Channel {
    pub id: i64,
    pub name: String,
    /// The channel number (unique in the tenant).
    pub number: i64,
    /// An `http(s)://` URL of the stream.
    pub stream_url: String,
    /// Inactive channels are hidden from the public listing.
    pub active: bool,
    /// Listings order by it, then by number.
    pub sort_order: i64,
    /// Whether `GET /api/channels/{id}/logo` has an image.
    pub has_logo: bool,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub updated_at: String,
}

/// A new channel.
#[derive(Deserialize, JsonSchema)]
pub struct NewChannel {
    /// 1 to 200 characters.
    name: String,
    /// Above 0, unique in the tenant.
    number: i64,
    /// An `http://` or `https://` URL.
    stream_url: String,
    /// True when absent.
    #[serde(default)]
    active: Option<bool>,
    /// 0 when absent.
    #[serde(default)]
    sort_order: Option<i64>,
}

/// Changes to a channel: absent fields stay as they are.
#[derive(Deserialize, JsonSchema)]
pub struct ChannelChanges {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    number: Option<i64>,
    #[serde(default)]
    stream_url: Option<String>,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    sort_order: Option<i64>,
}

struct Fields {
    name: String,
    number: i64,
    stream_url: String,
    active: bool,
    sort_order: i64,
}

impl Fields {
    fn check(self) -> Result<Self, Problem> {
        let mut errors = Errors::default();
        let name = common::text(&mut errors, "name", &self.name, 1, 200);
        errors.check(self.number > 0, "number", || format!("`number` must be above 0, not {}", self.number));
        let stream_url = self.stream_url.trim().to_owned();
        errors.check(common::is_http_url(&stream_url), "stream_url", || {
            "`stream_url` must be an http:// or https:// URL".to_owned()
        });
        errors.finish()?;
        Ok(Self { name, stream_url, ..self })
    }
}

// ----- handlers -----

pub fn list(req: &Request) -> Result<Json<Page<Channel>>, Problem> {
    let page = PageRequest::from_request(req)?;
    common::paged(COLUMNS, "FROM channels WHERE active = $1", ORDER, &params![true], page).map(Json)
}

pub fn list_all(req: &Request) -> Result<Json<Page<Channel>>, Problem> {
    let page = PageRequest::from_request(req)?;
    common::paged(COLUMNS, "FROM channels", ORDER, &[], page).map(Json)
}

pub fn get(req: &Request) -> Result<Json<Channel>, Problem> {
    visible(req).map(Json)
}

pub fn create(_req: &Request, Json(new): Json<NewChannel>) -> Result<Created<Channel>, Problem> {
    let fields = Fields {
        name: new.name,
        number: new.number,
        stream_url: new.stream_url,
        active: new.active.unwrap_or(true),
        sort_order: new.sort_order.unwrap_or(0),
    };
    insert(fields.check()?).map(Created)
}

pub fn update(req: &Request, Json(changes): Json<ChannelChanges>) -> Result<Json<Channel>, Problem> {
    let channel = find(common::id(req)?)?;
    save(channel, changes).map(Json)
}

pub fn delete(req: &Request) -> Result<NoContent, Problem> {
    remove(common::id(req)?)?;
    Ok(NoContent)
}

pub fn put_logo(req: &Request) -> Result<Json<Channel>, Problem> {
    let id = common::id(req)?;
    let content_type = logo_type(req.content_type())?;
    store_logo(id, req.body(), &content_type).map(Json)
}

pub fn get_logo(req: &Request) -> Result<Response, Problem> {
    let channel = visible(req)?;
    let no_logo = || Problem::not_found().detail(format!("channel {} has no logo", channel.id));
    if !channel.has_logo {
        return Err(no_logo());
    }
    let logo = blob::get(&logo_key(channel.id))?.ok_or_else(no_logo)?;
    Ok(Response::bytes(&logo.content_type, logo.data).with_header("cache-control", "public, max-age=300"))
}

/// The channel of the path: inactive ones only for admins (404 otherwise).
fn visible(req: &Request) -> Result<Channel, Problem> {
    let channel = find(common::id(req)?)?;
    if channel.active || common::is_admin(req.caller()) {
        Ok(channel)
    } else {
        Err(Problem::not_found().detail(format!("no channel {}", channel.id)))
    }
}

// ----- logic -----

fn logo_key(id: i64) -> String {
    format!("logos/{id}")
}

/// The channel, or 404.
pub fn find(id: i64) -> Result<Channel, Problem> {
    sql::query_one_as(&format!("SELECT {COLUMNS} FROM channels WHERE id = $1"), &params![id])?
        .ok_or_else(|| Problem::not_found().detail(format!("no channel {id}")))
}

fn number_taken(number: i64, other: Option<i64>) -> Problem {
    let by = other.map(|id| format!(" by channel {id}")).unwrap_or_default();
    common::taken("number", format!("channel number {number} is already used{by}"))
}

/// 409 naming `number` when another channel has it.
fn ensure_number_free(number: i64, except: Option<i64>) -> Result<(), Problem> {
    let used = sql::query_one_as::<(i64,)>("SELECT id FROM channels WHERE number = $1", &params![number])?
        .map(|(id,)| id)
        .filter(|id| Some(*id) != except);
    match used {
        Some(other) => Err(number_taken(number, Some(other))),
        None => Ok(()),
    }
}

fn on_conflict(number: i64) -> impl FnOnce(plaza_sdk::Error) -> Problem {
    move |err| match err.kind() {
        "conflict" => number_taken(number, None),
        _ => err.into(),
    }
}

fn insert(fields: Fields) -> Result<Channel, Problem> {
    ensure_number_free(fields.number, None)?;
    let now = time::now_rfc3339();
    let channel: Option<Channel> = sql::query_one_as(
        &format!(
            "INSERT INTO channels (name, number, stream_url, active, sort_order, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {COLUMNS}"
        ),
        &params![
            fields.name.as_str(),
            fields.number,
            fields.stream_url.as_str(),
            fields.active,
            fields.sort_order,
            now
        ],
    )
    .map_err(on_conflict(fields.number))?;
    channel.ok_or_else(|| Problem::internal("INSERT … RETURNING gave no row"))
}

fn save(channel: Channel, changes: ChannelChanges) -> Result<Channel, Problem> {
    let fields = Fields {
        name: changes.name.unwrap_or(channel.name),
        number: changes.number.unwrap_or(channel.number),
        stream_url: changes.stream_url.unwrap_or(channel.stream_url),
        active: changes.active.unwrap_or(channel.active),
        sort_order: changes.sort_order.unwrap_or(channel.sort_order),
    }
    .check()?;
    ensure_number_free(fields.number, Some(channel.id))?;
    let saved: Option<Channel> = sql::query_one_as(
        &format!(
            "UPDATE channels SET name = $1, number = $2, stream_url = $3, active = $4, sort_order = $5, updated_at = $6 \
             WHERE id = $7 RETURNING {COLUMNS}"
        ),
        &params![
            fields.name.as_str(),
            fields.number,
            fields.stream_url.as_str(),
            fields.active,
            fields.sort_order,
            time::now_rfc3339(),
            channel.id
        ],
    )
    .map_err(on_conflict(fields.number))?;
    saved.ok_or_else(|| Problem::not_found().detail(format!("no channel {}", channel.id)))
}

fn remove(id: i64) -> Result<(), Problem> {
    let channel = find(id)?;
    sql::execute("DELETE FROM channels WHERE id = $1", &params![id])?;
    if channel.has_logo {
        blob::delete(&logo_key(id))?;
    }
    Ok(())
}

/// The logo's content type from the request's (parameters dropped): 415
/// unless PNG, JPEG, WebP or SVG.
fn logo_type(content_type: Option<&str>) -> Result<String, Problem> {
    let essence = content_type.and_then(|c| c.split(';').next()).map(|c| c.trim().to_ascii_lowercase());
    match essence {
        Some(t) if LOGO_TYPES.contains(&t.as_str()) => Ok(t),
        other => Err(Problem::of_kind(415, "unsupported-media-type").detail(format!(
            "a logo is {}; not {}",
            LOGO_TYPES.join(", "),
            other.map_or_else(|| "a body without content type".to_owned(), |t| format!("`{t}`"))
        ))),
    }
}

/// Stores the logo (422 when empty, 413 over 2 MB) and records its type.
fn store_logo(id: i64, data: &[u8], content_type: &str) -> Result<Channel, Problem> {
    find(id)?;
    if data.is_empty() {
        return Err(common::invalid("logo", "the body is the logo image, and it is empty"));
    }
    if data.len() > MAX_LOGO_BYTES {
        return Err(Problem::of_kind(413, "content-too-large")
            .detail(format!("a logo is at most {MAX_LOGO_BYTES} bytes, not {}", data.len())));
    }
    blob::put(&logo_key(id), data, content_type)?;
    sql::execute(
        "UPDATE channels SET logo_content_type = $1, updated_at = $2 WHERE id = $3",
        &params![content_type, time::now_rfc3339(), id],
    )?;
    find(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logo_types_are_checked() {
        assert_eq!(logo_type(Some("image/PNG")).ok().as_deref(), Some("image/png"));
        assert_eq!(logo_type(Some("image/svg+xml; charset=utf-8")).ok().as_deref(), Some("image/svg+xml"));
        assert_eq!(logo_type(Some("image/gif")).err().map(|p| p.status()), Some(415));
        assert_eq!(logo_type(None).err().map(|p| p.status()), Some(415));
    }
}
