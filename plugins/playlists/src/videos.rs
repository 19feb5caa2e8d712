//! Videos: the catalogue the playlists are made of.

use plaza_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{self, Errors, Page, PageRequest};
use crate::playlists;

const COLUMNS: &str =
    "id, title, description, duration_seconds, media_id, thumbnail_url, owner_id, created_at, updated_at";

/// A video of the catalogue.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Video {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub duration_seconds: i64,
    /// The video provider's id of the media (unique in the tenant).
    pub media_id: String,
    pub thumbnail_url: Option<String>,
    /// The user who added it.
    pub owner_id: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub updated_at: String,
}

/// A new video.
#[derive(Deserialize, JsonSchema)]
pub struct NewVideo {
    /// 1 to 200 characters.
    title: String,
    /// Up to 5000 characters; empty when absent.
    #[serde(default)]
    description: String,
    /// Length in seconds, above 0.
    duration_seconds: i64,
    /// The video provider's id: 1 to 200 characters, unique in the tenant.
    media_id: String,
    /// An `http(s)://` URL.
    #[serde(default)]
    thumbnail_url: Option<String>,
}

/// Changes to a video: absent fields stay as they are; `thumbnail_url:
/// null` removes the thumbnail.
#[derive(Deserialize, JsonSchema, Default)]
pub struct VideoChanges {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    duration_seconds: Option<i64>,
    #[serde(default)]
    media_id: Option<String>,
    #[serde(default, deserialize_with = "common::present")]
    thumbnail_url: Option<Option<String>>,
}

/// A video's fields, checked.
struct Fields {
    title: String,
    description: String,
    duration_seconds: i64,
    media_id: String,
    thumbnail_url: Option<String>,
}

impl Fields {
    fn check(self) -> Result<Self, Problem> {
        let mut errors = Errors::default();
        let title = common::text(&mut errors, "title", &self.title, 1, 200);
        let description = common::text(&mut errors, "description", &self.description, 0, 5000);
        errors.check(self.duration_seconds > 0, "duration_seconds", || {
            format!("`duration_seconds` must be above 0, not {}", self.duration_seconds)
        });
        let media_id = common::text(&mut errors, "media_id", &self.media_id, 1, 200);
        let thumbnail_url = self.thumbnail_url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
        if let Some(url) = &thumbnail_url {
            errors.check(common::is_http_url(url), "thumbnail_url", || {
                "`thumbnail_url` must be an http:// or https:// URL".to_owned()
            });
        }
        errors.finish()?;
        Ok(Self { title, description, duration_seconds: self.duration_seconds, media_id, thumbnail_url })
    }
}

// ----- handlers -----

pub fn list(req: &Request) -> Result<Json<Page<Video>>, Problem> {
    let page = PageRequest::from_request(req)?;
    search(req.query_param("q"), page).map(Json)
}

pub fn get(req: &Request) -> Result<Json<Video>, Problem> {
    find(common::id(req)?).map(Json)
}

pub fn create(req: &Request, Json(new): Json<NewVideo>) -> Result<Created<Video>, Problem> {
    let owner = common::user_id(req.caller())?;
    let fields = Fields {
        title: new.title,
        description: new.description,
        duration_seconds: new.duration_seconds,
        media_id: new.media_id,
        thumbnail_url: new.thumbnail_url,
    };
    insert(fields.check()?, owner).map(Created)
}

pub fn update(req: &Request, Json(changes): Json<VideoChanges>) -> Result<Json<Video>, Problem> {
    let id = common::id(req)?;
    let video = find(id)?;
    common::ensure_owner(req.caller(), &video.owner_id, &format!("video {id}"))?;
    save(video, changes).map(Json)
}

pub fn delete(req: &Request) -> Result<NoContent, Problem> {
    let id = common::id(req)?;
    let video = find(id)?;
    common::ensure_owner(req.caller(), &video.owner_id, &format!("video {id}"))?;
    remove(id)?;
    Ok(NoContent)
}

// ----- logic -----

/// Videos whose title contains `q` (case-insensitive for ASCII), newest first.
pub fn search(q: Option<&str>, page: PageRequest) -> Result<Page<Video>, Problem> {
    match q.map(str::trim).filter(|q| !q.is_empty()) {
        None => common::paged(COLUMNS, "FROM videos", "id DESC", &[], page),
        Some(q) => {
            let pattern = format!("%{}%", like_escape(&q.to_lowercase()));
            common::paged(
                COLUMNS,
                "FROM videos WHERE LOWER(title) LIKE $1 ESCAPE '!'",
                "id DESC",
                &params![pattern],
                page,
            )
        }
    }
}

/// `text` with LIKE's wildcards (and the escape character `!`) escaped.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '!' | '%' | '_') {
            out.push('!');
        }
        out.push(c);
    }
    out
}

/// The video, or 404.
pub fn find(id: i64) -> Result<Video, Problem> {
    sql::query_one_as(&format!("SELECT {COLUMNS} FROM videos WHERE id = $1"), &params![id])?
        .ok_or_else(|| Problem::not_found().detail(format!("no video {id}")))
}

/// Whether the video exists.
pub fn exists(id: i64) -> Result<bool, Problem> {
    Ok(common::count("SELECT COUNT(*) AS n FROM videos WHERE id = $1", &params![id])? > 0)
}

/// 409 naming `media_id` when another video has it.
fn ensure_media_id_free(media_id: &str, except: Option<i64>) -> Result<(), Problem> {
    let used: Option<i64> =
        sql::query_one_as::<(i64,)>("SELECT id FROM videos WHERE media_id = $1", &params![media_id])?
            .map(|(id,)| id)
            .filter(|id| Some(*id) != except);
    match used {
        Some(other) => Err(media_id_taken(media_id, Some(other))),
        None => Ok(()),
    }
}

fn media_id_taken(media_id: &str, other: Option<i64>) -> Problem {
    let by = other.map(|id| format!(" by video {id}")).unwrap_or_default();
    common::taken("media_id", format!("`media_id` `{media_id}` is already used{by}"))
}

/// A unique-constraint conflict on insert or update is the media id (two
/// requests raced past the check).
fn on_conflict(media_id: &str) -> impl FnOnce(plaza_sdk::Error) -> Problem + '_ {
    move |err| match err.kind() {
        "conflict" => media_id_taken(media_id, None),
        _ => err.into(),
    }
}

fn insert(fields: Fields, owner: &str) -> Result<Video, Problem> {
    ensure_media_id_free(&fields.media_id, None)?;
    let now = time::now_rfc3339();
    let video: Option<Video> = sql::query_one_as(
        &format!(
            "INSERT INTO videos (title, description, duration_seconds, media_id, thumbnail_url, owner_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {COLUMNS}"
        ),
        &params![
            fields.title.as_str(),
            fields.description.as_str(),
            fields.duration_seconds,
            fields.media_id.as_str(),
            fields.thumbnail_url.as_deref(),
            owner,
            now
        ],
    )
    .map_err(on_conflict(&fields.media_id))?;
    let video = video.ok_or_else(|| Problem::internal("INSERT … RETURNING gave no row"))?;
    plaza_sdk::info!("video {} ({}) added by {owner}", video.id, video.media_id);
    Ok(video)
}

fn save(video: Video, changes: VideoChanges) -> Result<Video, Problem> {
    let fields = Fields {
        title: changes.title.unwrap_or(video.title),
        description: changes.description.unwrap_or(video.description),
        duration_seconds: changes.duration_seconds.unwrap_or(video.duration_seconds),
        media_id: changes.media_id.unwrap_or(video.media_id),
        thumbnail_url: changes.thumbnail_url.unwrap_or(video.thumbnail_url),
    }
    .check()?;
    ensure_media_id_free(&fields.media_id, Some(video.id))?;
    let saved: Option<Video> = sql::query_one_as(
        &format!(
            "UPDATE videos SET title = $1, description = $2, duration_seconds = $3, media_id = $4, thumbnail_url = $5, \
             updated_at = $6 WHERE id = $7 RETURNING {COLUMNS}"
        ),
        &params![
            fields.title.as_str(),
            fields.description.as_str(),
            fields.duration_seconds,
            fields.media_id.as_str(),
            fields.thumbnail_url.as_deref(),
            time::now_rfc3339(),
            video.id
        ],
    )
    .map_err(on_conflict(&fields.media_id))?;
    saved.ok_or_else(|| Problem::not_found().detail(format!("no video {}", video.id)))
}

/// Deletes the video and takes it out of every playlist (whose positions
/// close up), in one transaction.
fn remove(id: i64) -> Result<(), Problem> {
    sql::transaction(|| -> Result<(), Problem> {
        let lists: Vec<(i64,)> = sql::query_as(
            "SELECT DISTINCT playlist_id FROM playlist_items WHERE video_id = $1 ORDER BY playlist_id",
            &params![id],
        )?;
        for (playlist_id,) in lists {
            playlists::edit_items(playlist_id, |items| {
                items.retain(|item| item.video_id != id);
                Ok(())
            })?;
        }
        match sql::execute("DELETE FROM videos WHERE id = $1", &params![id])? {
            0 => Err(Problem::not_found().detail(format!("no video {id}"))),
            _ => Ok(()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_are_escaped() {
        assert_eq!(like_escape("50%_off!"), "50!%!_off!!");
    }

    #[test]
    fn fields_are_checked_together() {
        let fields = Fields {
            title: " ".into(),
            description: String::new(),
            duration_seconds: 0,
            media_id: "m1".into(),
            thumbnail_url: Some("ftp://x".into()),
        };
        let problem = fields.check().err();
        let names: Option<Vec<String>> = problem.map(|p| {
            p.extensions()["errors"]
                .as_array()
                .map(|a| a.iter().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect())
                .unwrap_or_default()
        });
        assert_eq!(names, Some(vec!["title".into(), "duration_seconds".into(), "thumbnail_url".into()]));
    }
}
