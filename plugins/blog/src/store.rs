//! The blog's SQL: posts, their tags and their former slugs, and the
//! `blog.post-published` event written in the same transactions.

use std::collections::{HashMap, HashSet};

use plaza_sdk::prelude::*;
use plaza_sdk::sql::Value;
use serde::{Deserialize, Serialize};

use crate::logic::{self, FaqItem, FeedItem, Publication, Status};
use crate::{Cover, PUBLISHED_EVENT, Post, PostSummary, TagCount};

/// The columns of a [`PostRow`].
const POST_COLUMNS: &str = "id, title, slug, content_markdown, content_html, excerpt, custom_excerpt, status, \
    published_at, meta_description, faq, cover_content_type, cover_size, author_id, created_at, updated_at";
/// The columns of a [`SummaryRow`].
const SUMMARY_COLUMNS: &str = "id, title, slug, excerpt, status, published_at, meta_description, \
    cover_content_type, cover_size, author_id, created_at, updated_at";
/// Scheduled posts published by one job run at most (events per call are limited).
const PUBLISH_BATCH: i64 = 90;
/// Sitemap entries of each kind at most (rows per call are limited).
const SITEMAP_MAX: i64 = 4_000;

/// One row of `posts`.
#[derive(Debug, Clone, Deserialize)]
pub struct PostRow {
    pub id: i64,
    pub title: String,
    pub slug: String,
    pub content_markdown: String,
    pub content_html: String,
    pub excerpt: String,
    pub custom_excerpt: Option<String>,
    pub status: Status,
    pub published_at: Option<String>,
    pub meta_description: Option<String>,
    pub faq: String,
    pub cover_content_type: Option<String>,
    pub cover_size: Option<i64>,
    pub author_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl PostRow {
    /// The FAQ stored as JSON (empty if it cannot be read).
    pub fn faq_items(&self) -> Vec<FaqItem> {
        serde_json::from_str(&self.faq).unwrap_or_default()
    }
}

/// The columns of `posts` a list shows.
#[derive(Debug, Deserialize)]
struct SummaryRow {
    id: i64,
    title: String,
    slug: String,
    excerpt: String,
    status: Status,
    published_at: Option<String>,
    meta_description: Option<String>,
    cover_content_type: Option<String>,
    cover_size: Option<i64>,
    author_id: Option<String>,
    created_at: String,
    updated_at: String,
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

/// The payload of `blog.post-published`.
#[derive(Serialize)]
struct PostPublished<'a> {
    id: i64,
    slug: &'a str,
    title: &'a str,
}

/// What a write stores about a post, with everything derived from it.
pub struct PostFields {
    pub title: String,
    pub markdown: String,
    pub html: String,
    pub excerpt: String,
    pub custom_excerpt: Option<String>,
    pub meta_description: Option<String>,
    pub faq_json: String,
    pub search_text: String,
    pub publication: Publication,
}

impl PostFields {
    /// Renders the Markdown and derives the excerpt and the search text.
    pub fn new(
        title: String,
        markdown: String,
        custom_excerpt: Option<String>,
        meta_description: Option<String>,
        faq: Vec<FaqItem>,
        publication: Publication,
    ) -> Self {
        let plain = logic::plain_text(&markdown);
        Self {
            html: logic::render_markdown(&markdown),
            excerpt: custom_excerpt.clone().unwrap_or_else(|| logic::derive_excerpt(&plain)),
            search_text: logic::search_text(&[&title, &plain]),
            faq_json: serde_json::to_string(&faq).unwrap_or_else(|_| "[]".to_owned()),
            title,
            markdown,
            custom_excerpt,
            meta_description,
            publication,
        }
    }
}

/// The blob key of a post's cover.
pub fn cover_key(id: i64) -> String {
    format!("covers/{id}")
}

fn post_url(tenant: &str, slug: &str) -> String {
    format!("{}/posts/{slug}", logic::base_path(tenant))
}

fn cover(content_type: Option<String>, size: Option<i64>, post_url: &str) -> Option<Cover> {
    content_type.map(|content_type| Cover { content_type, size: size.unwrap_or(0), url: format!("{post_url}/cover") })
}

/// A post by id.
pub fn get(id: i64) -> Result<Option<PostRow>, Problem> {
    Ok(sql::query_one_as(&format!("SELECT {POST_COLUMNS} FROM posts WHERE id = $1"), &params![id])?)
}

/// A row as the API shows it, with its tags.
pub fn view(row: PostRow, tenant: &str) -> Result<Post, Problem> {
    let tags = tags_of(&[row.id])?.remove(&row.id).unwrap_or_default();
    let faq = row.faq_items();
    let url = post_url(tenant, &row.slug);
    Ok(Post {
        json_ld: logic::faq_json_ld(&faq),
        cover: cover(row.cover_content_type, row.cover_size, &url),
        id: row.id,
        title: row.title,
        slug: row.slug,
        status: row.status,
        content_markdown: row.content_markdown,
        content_html: row.content_html,
        excerpt: row.excerpt,
        meta_description: row.meta_description,
        faq,
        tags,
        author_id: row.author_id,
        published_at: row.published_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
        url,
    })
}

/// The tags of some posts, sorted, by post id.
fn tags_of(ids: &[i64]) -> Result<HashMap<i64, Vec<String>>, Problem> {
    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    if ids.is_empty() {
        return Ok(tags);
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let params: Vec<Value> = ids.iter().map(|&id| Value::from(id)).collect();
    let rows: Vec<(i64, String)> = sql::query_as(
        &format!(
            "SELECT post_id, tag FROM post_tags WHERE post_id IN ({}) ORDER BY post_id, tag",
            placeholders.join(", ")
        ),
        &params,
    )?;
    for (id, tag) in rows {
        tags.entry(id).or_default().push(tag);
    }
    Ok(tags)
}

fn set_tags(id: i64, tags: &[String]) -> Result<(), Problem> {
    sql::execute("DELETE FROM post_tags WHERE post_id = $1", &params![id])?;
    if tags.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..tags.len()).map(|i| format!("($1, ${})", i + 2)).collect();
    let mut params = vec![Value::from(id)];
    params.extend(tags.iter().map(Value::from));
    sql::execute(&format!("INSERT INTO post_tags (post_id, tag) VALUES {}", values.join(", ")), &params)?;
    Ok(())
}

// ----- slugs -----

/// Fails with 409 naming `slug` when another post has `slug` as its current slug.
fn ensure_slug_free(slug: &str, except: Option<i64>) -> Result<(), Problem> {
    let owner: Option<(i64,)> = sql::query_one_as("SELECT id FROM posts WHERE slug = $1", &params![slug])?;
    match owner {
        Some((id,)) if Some(id) != except => {
            let detail = format!("slug: `{slug}` is the slug of another post");
            Err(Problem::conflict(detail.clone())
                .with("field", "slug")
                .with("errors", serde_json::json!([{ "field": "slug", "detail": detail }])))
        }
        _ => Ok(()),
    }
}

/// The slug made from `title`, with `-2`, `-3`… if other posts have it.
fn automatic_slug(title: &str) -> Result<String, Problem> {
    let base = logic::slug_from_title(title);
    let pattern = format!("{}%", logic::slug_family_prefix(&base));
    let taken: Vec<(String,)> = sql::query_as("SELECT slug FROM posts WHERE slug LIKE $1", &params![pattern])?;
    let taken: HashSet<String> = taken.into_iter().map(|(s,)| s).collect();
    Ok(logic::unique_slug(&base, &taken))
}

/// A post takes `slug`: a former slug of another post stops redirecting.
fn claim_slug(slug: &str) -> Result<(), Problem> {
    sql::execute("DELETE FROM slug_redirects WHERE old_slug = $1", &params![slug])?;
    Ok(())
}

fn add_redirect(old_slug: &str, id: i64) -> Result<(), Problem> {
    claim_slug(old_slug)?;
    sql::execute("INSERT INTO slug_redirects (old_slug, post_id) VALUES ($1, $2)", &params![old_slug, id])?;
    Ok(())
}

/// What a public slug leads to.
pub enum Found {
    /// A published post with this slug.
    Post(Box<PostRow>),
    /// A former slug of a published post: its current slug.
    Moved(String),
    Missing,
}

/// The published post whose current slug is `slug`, or whose former one it is.
pub fn find_public(slug: &str) -> Result<Found, Problem> {
    let row: Option<PostRow> =
        sql::query_one_as(&format!("SELECT {POST_COLUMNS} FROM posts WHERE slug = $1"), &params![slug])?;
    if let Some(row) = row {
        // A current slug wins over a redirect, even when its post is not public.
        return Ok(if row.status == Status::Published { Found::Post(Box::new(row)) } else { Found::Missing });
    }
    let moved: Option<(String,)> = sql::query_one_as(
        "SELECT p.slug FROM slug_redirects r JOIN posts p ON p.id = r.post_id \
         WHERE r.old_slug = $1 AND p.status = 'published'",
        &params![slug],
    )?;
    Ok(moved.map_or(Found::Missing, |(current,)| Found::Moved(current)))
}

// ----- writes -----

fn publish_event(id: i64, slug: &str, title: &str) -> Result<(), Problem> {
    events::publish(PUBLISHED_EVENT, &PostPublished { id, slug, title })?;
    Ok(())
}

/// Inserts a post with its tags (and its event if it is published); its id.
pub fn create(
    fields: &PostFields,
    explicit_slug: Option<&str>,
    tags: &[String],
    author: Option<&str>,
    now: &str,
) -> Result<i64, Problem> {
    sql::transaction(|| -> Result<i64, Problem> {
        let slug = match explicit_slug {
            Some(slug) => {
                ensure_slug_free(slug, None)?;
                slug.to_owned()
            }
            None => automatic_slug(&fields.title)?,
        };
        claim_slug(&slug)?;
        let rows = sql::query(
            "INSERT INTO posts (title, slug, content_markdown, content_html, excerpt, custom_excerpt, status, \
             published_at, meta_description, faq, search_text, author_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id",
            &params![
                fields.title.as_str(),
                slug.as_str(),
                fields.markdown.as_str(),
                fields.html.as_str(),
                fields.excerpt.as_str(),
                fields.custom_excerpt.as_deref(),
                fields.publication.status.as_str(),
                fields.publication.published_at.as_deref(),
                fields.meta_description.as_deref(),
                fields.faq_json.as_str(),
                fields.search_text.as_str(),
                author,
                now,
            ],
        )?;
        let id = rows
            .get(0, "id")
            .and_then(Value::as_i64)
            .ok_or_else(|| Problem::internal("INSERT … RETURNING id gave no id"))?;
        set_tags(id, tags)?;
        if fields.publication.status == Status::Published {
            publish_event(id, &slug, &fields.title)?;
        }
        Ok(id)
    })
}

/// Updates a post: a new slug leaves the old one redirecting; `tags`
/// replace the post's when given.
pub fn update(
    current: &PostRow,
    fields: &PostFields,
    new_slug: Option<&str>,
    tags: Option<&[String]>,
    now: &str,
) -> Result<(), Problem> {
    sql::transaction(|| -> Result<(), Problem> {
        let slug = match new_slug {
            Some(slug) if slug != current.slug => {
                ensure_slug_free(slug, Some(current.id))?;
                claim_slug(slug)?;
                add_redirect(&current.slug, current.id)?;
                slug
            }
            _ => current.slug.as_str(),
        };
        sql::execute(
            "UPDATE posts SET title = $1, slug = $2, content_markdown = $3, content_html = $4, excerpt = $5, \
             custom_excerpt = $6, status = $7, published_at = $8, meta_description = $9, faq = $10, \
             search_text = $11, updated_at = $12 WHERE id = $13",
            &params![
                fields.title.as_str(),
                slug,
                fields.markdown.as_str(),
                fields.html.as_str(),
                fields.excerpt.as_str(),
                fields.custom_excerpt.as_deref(),
                fields.publication.status.as_str(),
                fields.publication.published_at.as_deref(),
                fields.meta_description.as_deref(),
                fields.faq_json.as_str(),
                fields.search_text.as_str(),
                now,
                current.id,
            ],
        )?;
        if let Some(tags) = tags {
            set_tags(current.id, tags)?;
        }
        if fields.publication.status == Status::Published && current.status != Status::Published {
            publish_event(current.id, slug, &fields.title)?;
        }
        Ok(())
    })
}

/// Moves a post to `planned` (publishing its event if it goes public);
/// nothing when it is there already.
pub fn set_publication(current: &PostRow, planned: &Publication, now: &str) -> Result<(), Problem> {
    if planned.status == current.status && planned.published_at == current.published_at {
        return Ok(());
    }
    sql::transaction(|| -> Result<(), Problem> {
        sql::execute(
            "UPDATE posts SET status = $1, published_at = $2, updated_at = $3 WHERE id = $4",
            &params![planned.status.as_str(), planned.published_at.as_deref(), now, current.id],
        )?;
        if planned.status == Status::Published && current.status != Status::Published {
            publish_event(current.id, &current.slug, &current.title)?;
        }
        Ok(())
    })
}

/// Records a post's cover (content type and size), or that it has none.
pub fn set_cover(id: i64, cover: Option<(&str, i64)>, now: &str) -> Result<(), Problem> {
    sql::execute(
        "UPDATE posts SET cover_content_type = $1, cover_size = $2, updated_at = $3 WHERE id = $4",
        &params![cover.map(|c| c.0), cover.map(|c| c.1), now, id],
    )?;
    Ok(())
}

/// Deletes a post with its tags and redirects.
pub fn delete(id: i64) -> Result<(), Problem> {
    sql::transaction(|| -> Result<(), Problem> {
        sql::execute("DELETE FROM post_tags WHERE post_id = $1", &params![id])?;
        sql::execute("DELETE FROM slug_redirects WHERE post_id = $1", &params![id])?;
        sql::execute("DELETE FROM posts WHERE id = $1", &params![id])?;
        Ok(())
    })
}

/// Publishes every scheduled post whose time has come (at most a batch per
/// run; the next run takes the rest), each with its event; how many.
pub fn publish_due(now: &str) -> Result<usize, plaza_sdk::Error> {
    sql::transaction(|| -> Result<usize, plaza_sdk::Error> {
        let due: Vec<(i64, String, String)> = sql::query_as(
            "SELECT id, slug, title FROM posts WHERE status = 'scheduled' AND published_at <= $1 \
             ORDER BY published_at, id LIMIT $2",
            &params![now, PUBLISH_BATCH],
        )?;
        let mut published = 0;
        for (id, slug, title) in due {
            let changed = sql::execute(
                "UPDATE posts SET status = 'published', updated_at = $1 WHERE id = $2 AND status = 'scheduled'",
                &params![now, id],
            )?;
            if changed == 1 {
                events::publish(PUBLISHED_EVENT, &PostPublished { id, slug: &slug, title: &title })?;
                published += 1;
            }
        }
        Ok(published)
    })
}

// ----- reads -----

/// The filters and page of a list of posts.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub status: Option<Status>,
    /// Folded words that must all start a word of the title or the content.
    pub terms: Vec<String>,
    pub tag: Option<String>,
    pub page: u32,
    pub per_page: u32,
}

impl ListQuery {
    /// From the query string: `page`, `per_page`, `q`, `tag`, and with
    /// `with_status` `status` (invalid values are 422s naming the parameter).
    pub fn from_request(req: &Request, with_status: bool) -> Result<Self, Problem> {
        let (page, per_page) = logic::parse_paging(req.query_param("page"), req.query_param("per_page"))?;
        let terms = match req.query_param("q") {
            Some(q) => logic::search_terms(q)?,
            None => Vec::new(),
        };
        let tag = match req.query_param("tag").map(str::trim).filter(|t| !t.is_empty()) {
            Some(raw) => Some(logic::normalize_tag(raw).ok_or_else(|| {
                logic::invalid_field("tag", format!("a tag has 1 to {} letters, digits or dashes", logic::TAG_MAX))
            })?),
            None => None,
        };
        let status = match req.query_param("status").map(str::trim).filter(|s| !s.is_empty() && with_status) {
            Some(raw) => Some(
                Status::parse(raw)
                    .ok_or_else(|| logic::invalid_field("status", "must be draft, published or scheduled"))?,
            ),
            None => None,
        };
        Ok(Self { status, terms, tag, page, per_page })
    }

    fn offset(&self) -> i64 {
        (i64::from(self.page) - 1) * i64::from(self.per_page)
    }
}

/// Appends a parameter; its placeholder.
fn bind(params: &mut Vec<Value>, value: impl Into<Value>) -> String {
    params.push(value.into());
    format!("${}", params.len())
}

/// A page of posts and how many match in all: published ones only when
/// `public` (newest publication first), else every post (newest first).
pub fn list(query: &ListQuery, public: bool, tenant: &str) -> Result<(Vec<PostSummary>, i64), Problem> {
    let mut conditions = Vec::new();
    let mut params = Vec::new();
    if public {
        conditions.push("status = 'published'".to_owned());
    } else if let Some(status) = query.status {
        conditions.push(format!("status = {}", bind(&mut params, status.as_str())));
    }
    for term in &query.terms {
        conditions.push(format!("search_text LIKE {}", bind(&mut params, format!("% {term}%"))));
    }
    if let Some(tag) = &query.tag {
        conditions
            .push(format!("id IN (SELECT post_id FROM post_tags WHERE tag = {})", bind(&mut params, tag.as_str())));
    }
    let filter = if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) };
    let total =
        sql::query_one_as::<Count>(&format!("SELECT COUNT(*) AS n FROM posts{filter}"), &params)?.map_or(0, |c| c.n);
    if total <= query.offset() {
        return Ok((Vec::new(), total));
    }
    let order = if public { "published_at DESC, id DESC" } else { "id DESC" };
    let limit = bind(&mut params, i64::from(query.per_page));
    let offset = bind(&mut params, query.offset());
    let rows: Vec<SummaryRow> = sql::query_as(
        &format!("SELECT {SUMMARY_COLUMNS} FROM posts{filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}"),
        &params,
    )?;
    let mut tags = tags_of(&rows.iter().map(|r| r.id).collect::<Vec<_>>())?;
    let items = rows
        .into_iter()
        .map(|row| {
            let url = post_url(tenant, &row.slug);
            PostSummary {
                tags: tags.remove(&row.id).unwrap_or_default(),
                cover: cover(row.cover_content_type, row.cover_size, &url),
                id: row.id,
                title: row.title,
                slug: row.slug,
                status: row.status,
                excerpt: row.excerpt,
                meta_description: row.meta_description,
                author_id: row.author_id,
                published_at: row.published_at,
                created_at: row.created_at,
                updated_at: row.updated_at,
                url,
            }
        })
        .collect();
    Ok((items, total))
}

/// A page of the tags of published posts, most used first, and how many there are.
pub fn tags(page: u32, per_page: u32) -> Result<(Vec<TagCount>, i64), Problem> {
    let total = sql::query_one_as::<Count>(
        "SELECT COUNT(DISTINCT t.tag) AS n FROM post_tags t JOIN posts p ON p.id = t.post_id \
         WHERE p.status = 'published'",
        &[],
    )?
    .map_or(0, |c| c.n);
    let offset = (i64::from(page) - 1) * i64::from(per_page);
    if total <= offset {
        return Ok((Vec::new(), total));
    }
    let rows: Vec<(String, i64)> = sql::query_as(
        "SELECT t.tag AS tag, COUNT(*) AS post_count FROM post_tags t JOIN posts p ON p.id = t.post_id \
         WHERE p.status = 'published' GROUP BY t.tag ORDER BY post_count DESC, t.tag LIMIT $1 OFFSET $2",
        &params![i64::from(per_page), offset],
    )?;
    Ok((rows.into_iter().map(|(tag, count)| TagCount { tag, count }).collect(), total))
}

/// The newest published posts, for the feed.
pub fn feed_items(limit: i64) -> Result<Vec<FeedItem>, Problem> {
    let rows: Vec<(i64, String, String, String, Option<String>)> = sql::query_as(
        "SELECT id, title, slug, excerpt, published_at FROM posts WHERE status = 'published' \
         ORDER BY published_at DESC, id DESC LIMIT $1",
        &params![limit],
    )?;
    let mut tags = tags_of(&rows.iter().map(|r| r.0).collect::<Vec<_>>())?;
    Ok(rows
        .into_iter()
        .map(|(id, title, slug, excerpt, published_at)| FeedItem {
            tags: tags.remove(&id).unwrap_or_default(),
            id,
            title,
            slug,
            excerpt,
            published_at,
        })
        .collect())
}

/// Published posts (`(slug, updated_at)`) and the tags they have.
pub type SitemapEntries = (Vec<(String, String)>, Vec<String>);

/// Published posts and their tags, for the sitemap.
pub fn sitemap_entries() -> Result<SitemapEntries, Problem> {
    let posts: Vec<(String, String)> = sql::query_as(
        "SELECT slug, updated_at FROM posts WHERE status = 'published' ORDER BY published_at DESC, id DESC LIMIT $1",
        &params![SITEMAP_MAX],
    )?;
    let tags: Vec<(String,)> = sql::query_as(
        "SELECT DISTINCT t.tag FROM post_tags t JOIN posts p ON p.id = t.post_id WHERE p.status = 'published' \
         ORDER BY t.tag LIMIT $1",
        &params![SITEMAP_MAX],
    )?;
    Ok((posts, tags.into_iter().map(|(t,)| t).collect()))
}
