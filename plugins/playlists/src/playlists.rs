//! Playlists: ordered lists of videos. Positions are exactly 1..n: every
//! edit of a playlist's items runs in one transaction that first locks the
//! playlist (bumping its `revision`), then reads the items, reorders them in
//! memory and rewrites the positions that changed.

use plaza_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{self, Errors, Page, PageRequest};
use crate::videos::{self, Video};

const COLUMNS: &str = "p.id, p.name, p.description, p.owner_id, p.revision, p.created_at, p.updated_at, \
     (SELECT COUNT(*) FROM playlist_items i WHERE i.playlist_id = p.id) AS item_count";

/// A playlist, without its items.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Playlist {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// The user who created it.
    pub owner_id: String,
    /// Bumped by every change of its items.
    pub revision: i64,
    /// How many items it has.
    pub item_count: i64,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub updated_at: String,
}

/// A playlist with its items, in order.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlaylistDetail {
    #[serde(flatten)]
    pub playlist: Playlist,
    pub items: Vec<PlaylistItem>,
}

/// One entry of a playlist.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlaylistItem {
    /// The entry's id (a video may be in a playlist more than once).
    pub item_id: i64,
    /// From 1, without gaps.
    pub position: i64,
    pub video: Video,
}

/// A new playlist.
#[derive(Deserialize, JsonSchema)]
pub struct NewPlaylist {
    /// 1 to 200 characters.
    name: String,
    /// Up to 5000 characters; empty when absent.
    #[serde(default)]
    description: String,
}

/// Changes to a playlist: absent fields stay as they are.
#[derive(Deserialize, JsonSchema)]
pub struct PlaylistChanges {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

/// A video to insert.
#[derive(Deserialize, JsonSchema)]
pub struct NewItem {
    video_id: i64,
    /// Where, from 1; the end when absent. Clamped to 1..=n+1.
    #[serde(default)]
    position: Option<i64>,
}

/// Where to move an item.
#[derive(Deserialize, JsonSchema)]
pub struct Move {
    /// From 1; clamped to 1..=n.
    position: i64,
}

// ----- handlers -----

pub fn list(req: &Request) -> Result<Json<Page<Playlist>>, Problem> {
    let page = PageRequest::from_request(req)?;
    common::paged(COLUMNS, "FROM playlists p", "p.id DESC", &[], page).map(Json)
}

pub fn get(req: &Request) -> Result<Json<PlaylistDetail>, Problem> {
    detail(common::id(req)?).map(Json)
}

pub fn create(req: &Request, Json(new): Json<NewPlaylist>) -> Result<Created<PlaylistDetail>, Problem> {
    let owner = common::user_id(req.caller())?;
    let (name, description) = check(&new.name, &new.description)?;
    let id = insert(&name, &description, owner)?;
    detail(id).map(Created)
}

pub fn update(req: &Request, Json(changes): Json<PlaylistChanges>) -> Result<Json<PlaylistDetail>, Problem> {
    let playlist = owned(req)?;
    let name = changes.name.unwrap_or(playlist.name);
    let description = changes.description.unwrap_or(playlist.description);
    let (name, description) = check(&name, &description)?;
    sql::execute(
        "UPDATE playlists SET name = $1, description = $2, updated_at = $3 WHERE id = $4",
        &params![name, description, time::now_rfc3339(), playlist.id],
    )?;
    detail(playlist.id).map(Json)
}

pub fn delete(req: &Request) -> Result<NoContent, Problem> {
    let playlist = owned(req)?;
    remove(playlist.id)?;
    Ok(NoContent)
}

pub fn add_item(req: &Request, Json(new): Json<NewItem>) -> Result<Created<PlaylistDetail>, Problem> {
    let playlist = owned(req)?;
    insert_item(playlist.id, new.video_id, new.position)?;
    detail(playlist.id).map(Created)
}

pub fn move_item(req: &Request, Json(to): Json<Move>) -> Result<Json<PlaylistDetail>, Problem> {
    let playlist = owned(req)?;
    let item_id: i64 = req.path_param("item_id")?;
    move_to(playlist.id, item_id, to.position)?;
    detail(playlist.id).map(Json)
}

pub fn remove_item(req: &Request) -> Result<Json<PlaylistDetail>, Problem> {
    let playlist = owned(req)?;
    let item_id: i64 = req.path_param("item_id")?;
    take_out(playlist.id, item_id)?;
    detail(playlist.id).map(Json)
}

/// The playlist of the path, if the caller may change it (404, 403).
fn owned(req: &Request) -> Result<Playlist, Problem> {
    let playlist = find(common::id(req)?)?;
    common::ensure_owner(req.caller(), &playlist.owner_id, &format!("playlist {}", playlist.id))?;
    Ok(playlist)
}

// ----- logic -----

fn check(name: &str, description: &str) -> Result<(String, String), Problem> {
    let mut errors = Errors::default();
    let name = common::text(&mut errors, "name", name, 1, 200);
    let description = common::text(&mut errors, "description", description, 0, 5000);
    errors.finish()?;
    Ok((name, description))
}

/// The playlist, or 404.
pub fn find(id: i64) -> Result<Playlist, Problem> {
    sql::query_one_as(&format!("SELECT {COLUMNS} FROM playlists p WHERE p.id = $1"), &params![id])?
        .ok_or_else(|| Problem::not_found().detail(format!("no playlist {id}")))
}

/// One row of the items query: the entry and its video, flat.
#[derive(Deserialize)]
struct ItemRow {
    item_id: i64,
    position: i64,
    id: i64,
    title: String,
    description: String,
    duration_seconds: i64,
    media_id: String,
    thumbnail_url: Option<String>,
    owner_id: String,
    created_at: String,
    updated_at: String,
}

/// The playlist with its items in order, or 404.
pub fn detail(id: i64) -> Result<PlaylistDetail, Problem> {
    let playlist = find(id)?;
    let rows: Vec<ItemRow> = sql::query_as(
        "SELECT i.id AS item_id, i.position, v.id, v.title, v.description, v.duration_seconds, v.media_id, \
         v.thumbnail_url, v.owner_id, v.created_at, v.updated_at \
         FROM playlist_items i JOIN videos v ON v.id = i.video_id WHERE i.playlist_id = $1 ORDER BY i.position, i.id",
        &params![id],
    )?;
    let items = rows
        .into_iter()
        .map(|r| PlaylistItem {
            item_id: r.item_id,
            position: r.position,
            video: Video {
                id: r.id,
                title: r.title,
                description: r.description,
                duration_seconds: r.duration_seconds,
                media_id: r.media_id,
                thumbnail_url: r.thumbnail_url,
                owner_id: r.owner_id,
                created_at: r.created_at,
                updated_at: r.updated_at,
            },
        })
        .collect();
    Ok(PlaylistDetail { playlist, items })
}

fn insert(name: &str, description: &str, owner: &str) -> Result<i64, Problem> {
    let now = time::now_rfc3339();
    let rows = sql::query(
        "INSERT INTO playlists (name, description, owner_id, revision, created_at, updated_at) \
         VALUES ($1, $2, $3, 0, $4, $4) RETURNING id",
        &params![name, description, owner, now],
    )?;
    common::returned_id(&rows)
}

fn remove(id: i64) -> Result<(), Problem> {
    sql::transaction(|| -> Result<(), Problem> {
        sql::execute("DELETE FROM playlist_items WHERE playlist_id = $1", &params![id])?;
        match sql::execute("DELETE FROM playlists WHERE id = $1", &params![id])? {
            0 => Err(Problem::not_found().detail(format!("no playlist {id}"))),
            _ => Ok(()),
        }
    })
}

/// An entry as the reordering sees it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Item {
    pub id: i64,
    pub video_id: i64,
    pub position: i64,
}

/// Changes a playlist's items; the caller holds a transaction. Locks the
/// playlist first (404 if there is none), reads its items in order, lets
/// `f` insert, remove or reorder them in memory, then deletes the entries
/// `f` removed and rewrites the positions that are no longer their index
/// (from 1). Entries `f` adds must already be rows (it inserts them).
pub fn edit_items<T>(playlist_id: i64, f: impl FnOnce(&mut Vec<Item>) -> Result<T, Problem>) -> Result<T, Problem> {
    // The lock: PostgreSQL's row lock, SQLite's write lock, held to commit.
    let locked = sql::execute(
        "UPDATE playlists SET revision = revision + 1, updated_at = $1 WHERE id = $2",
        &params![time::now_rfc3339(), playlist_id],
    )?;
    if locked == 0 {
        return Err(Problem::not_found().detail(format!("no playlist {playlist_id}")));
    }
    let mut items: Vec<Item> = sql::query_as(
        "SELECT id, video_id, position FROM playlist_items WHERE playlist_id = $1 ORDER BY position, id",
        &params![playlist_id],
    )?;
    let before: Vec<i64> = items.iter().map(|i| i.id).collect();
    let out = f(&mut items)?;
    for gone in before.iter().filter(|id| !items.iter().any(|i| i.id == **id)) {
        sql::execute("DELETE FROM playlist_items WHERE id = $1", &params![*gone])?;
    }
    for (id, position) in renumber(&mut items) {
        sql::execute("UPDATE playlist_items SET position = $1 WHERE id = $2", &params![position, id])?;
    }
    Ok(out)
}

/// Sets each item's position to its index from 1; returns the
/// `(id, position)` of those that changed.
fn renumber(items: &mut [Item]) -> Vec<(i64, i64)> {
    let mut changed = Vec::new();
    for (position, item) in (1..).zip(items.iter_mut()) {
        if item.position != position {
            item.position = position;
            changed.push((item.id, position));
        }
    }
    changed
}

/// `position` (from 1) clamped to `1..=max`, as a vector index.
fn index_of(position: i64, max: usize) -> usize {
    let max = i64::try_from(max).unwrap_or(i64::MAX).max(1);
    usize::try_from(position.clamp(1, max) - 1).unwrap_or(0)
}

/// Inserts `item` at `position` (from 1, clamped to 1..=n+1; the end when absent).
fn place(items: &mut Vec<Item>, item: Item, position: Option<i64>) {
    let at = position.map_or(items.len(), |p| index_of(p, items.len() + 1));
    items.insert(at, item);
}

/// Moves the entry `item_id` to `position` (clamped to 1..=n); `false` when
/// there is no such entry.
fn shift(items: &mut Vec<Item>, item_id: i64, position: i64) -> bool {
    let Some(from) = items.iter().position(|i| i.id == item_id) else { return false };
    let item = items.remove(from);
    let at = index_of(position, items.len() + 1);
    items.insert(at, item);
    true
}

fn no_item(playlist_id: i64, item_id: i64) -> Problem {
    Problem::not_found().detail(format!("playlist {playlist_id} has no item {item_id}"))
}

fn insert_item(playlist_id: i64, video_id: i64, position: Option<i64>) -> Result<(), Problem> {
    sql::transaction(|| {
        edit_items(playlist_id, |items| {
            if !videos::exists(video_id)? {
                return Err(common::invalid("video_id", format!("there is no video {video_id}")));
            }
            let rows = sql::query(
                "INSERT INTO playlist_items (playlist_id, video_id, position, created_at) \
                 VALUES ($1, $2, 0, $3) RETURNING id",
                &params![playlist_id, video_id, time::now_rfc3339()],
            )?;
            let id = common::returned_id(&rows)?;
            place(items, Item { id, video_id, position: 0 }, position);
            Ok(())
        })
    })
}

fn move_to(playlist_id: i64, item_id: i64, position: i64) -> Result<(), Problem> {
    sql::transaction(|| {
        edit_items(playlist_id, |items| {
            if shift(items, item_id, position) { Ok(()) } else { Err(no_item(playlist_id, item_id)) }
        })
    })
}

fn take_out(playlist_id: i64, item_id: i64) -> Result<(), Problem> {
    sql::transaction(|| {
        edit_items(playlist_id, |items| {
            let before = items.len();
            items.retain(|i| i.id != item_id);
            if items.len() < before { Ok(()) } else { Err(no_item(playlist_id, item_id)) }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(ids: &[i64]) -> Vec<Item> {
        (1..).zip(ids).map(|(position, &id)| Item { id, video_id: id * 10, position }).collect()
    }

    fn ids(items: &[Item]) -> Vec<i64> {
        items.iter().map(|i| i.id).collect()
    }

    #[test]
    fn inserting_clamps_the_position() {
        let new = |id| Item { id, video_id: 0, position: 0 };
        let mut list = items(&[1, 2, 3]);
        place(&mut list, new(4), None);
        place(&mut list, new(5), Some(1));
        place(&mut list, new(6), Some(-7));
        place(&mut list, new(7), Some(99));
        place(&mut list, new(8), Some(3));
        assert_eq!(ids(&list), [6, 5, 8, 1, 2, 3, 4, 7]);
        let changed = renumber(&mut list);
        assert_eq!(list.iter().map(|i| i.position).collect::<Vec<_>>(), (1..=8).collect::<Vec<_>>());
        assert_eq!(changed.len(), 8, "every position moved: {changed:?}");
    }

    #[test]
    fn moving_clamps_to_the_list() {
        let mut list = items(&[1, 2, 3, 4]);
        assert!(shift(&mut list, 1, 3));
        assert_eq!(ids(&list), [2, 3, 1, 4]);
        assert!(shift(&mut list, 4, 0));
        assert_eq!(ids(&list), [4, 2, 3, 1]);
        assert!(shift(&mut list, 2, 100));
        assert_eq!(ids(&list), [4, 3, 1, 2]);
        assert!(!shift(&mut list, 9, 1));
        assert_eq!(renumber(&mut list), [(4, 1), (3, 2), (1, 3), (2, 4)]);
        assert!(renumber(&mut list).is_empty(), "nothing left to rewrite");
    }
}
