//! `blog`: a company blog backend. Posts are written in Markdown (rendered
//! and sanitised when saved), have slugs that keep redirecting after a
//! rename, tags, full-text search, an FAQ served as schema.org JSON-LD, a
//! cover image, and are published now or on a schedule (the
//! `publish-scheduled` job). Readers get published posts, tag pages, an RSS
//! feed and a sitemap without credentials; editors write drafts; admins
//! publish.
//!
//! The handlers are thin: the rules live in [`logic`] (no host calls, unit
//! tested natively) and the SQL in [`store`].

mod logic;
mod store;

use logic::{
    COVER_MAX_BYTES, COVER_TYPES, EXCERPT_MAX, FaqItem, FaqPage, META_DESCRIPTION_MAX, Publication, Status, TITLE_MAX,
};
use plaza_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use store::{ListQuery, PostRow};

/// The event published when a post goes public.
const PUBLISHED_EVENT: &str = "blog.post-published";
/// The job that publishes scheduled posts whose time has come.
const PUBLISH_JOB: &str = "publish-scheduled";

/// The release this build is: the crate's version, or with the `next`
/// feature the next patch release of the same code, which `cargo xtask
/// bench` upgrades to under load.
#[cfg(not(feature = "next"))]
const VERSION: &str = env!("CARGO_PKG_VERSION");
#[cfg(feature = "next")]
const VERSION: &str = "1.0.1";

struct Blog;

impl plaza_sdk::Module for Blog {
    fn router() -> Router {
        const WRITERS: [&str; 2] = ["editor", "admin"];
        Router::new("blog", VERSION)
            .description(
                "A company blog: Markdown posts with slugs, tags, search, FAQ JSON-LD and cover images, \
                 published now or on a schedule, with an RSS feed and a sitemap.",
            )
            .capabilities([Capability::Sql, Capability::Blob, Capability::Events, Capability::Config, Capability::Log])
            .config_schema::<BlogSettings>()
            .define_roles(["editor"])
            .migration_pg(
                1,
                "create posts, tags and slug redirects",
                include_str!("../migrations/0001_blog.sql"),
                include_str!("../migrations/0001_blog.postgres.sql"),
            )
            .job(PUBLISH_JOB, "* * * * *")
            // ----- public -----
            .get("/posts", public_posts)
            .public()
            .summary("Published posts, newest first (query `page`, `per_page`, `q`, `tag`)")
            .get("/posts/{slug}", public_post)
            .public()
            .summary("A published post by slug; a former slug answers 301 to the current one")
            .response::<Post>()
            .get("/posts/{slug}/cover", public_cover)
            .public()
            .summary("The cover image of a published post, with its content type")
            .response::<ImageBytes>()
            .get("/tags", public_tags)
            .public()
            .summary("Tags of published posts with their post counts (query `page`, `per_page`)")
            .get("/tags/{tag}", public_tag)
            .public()
            .summary("Published posts with a tag, newest first (query `page`, `per_page`, `q`)")
            .get("/feed.xml", feed)
            .public()
            .summary("RSS 2.0 feed of the 20 newest published posts (application/rss+xml)")
            .response::<RssFeed>()
            .get("/sitemap.xml", sitemap)
            .public()
            .summary("Sitemap of published posts and tag pages (application/xml)")
            .response::<Sitemap>()
            // ----- editors and admins -----
            .get("/admin/posts", admin_posts)
            .roles(WRITERS)
            .summary("Every post, newest first (query `status`, `q`, `tag`, `page`, `per_page`)")
            .post("/admin/posts", create_post)
            .roles(WRITERS)
            .summary("Write a post (editors: drafts only; admins may publish or schedule)")
            .get("/admin/posts/{id}", admin_post)
            .roles(WRITERS)
            .summary("A post in any status")
            .put("/admin/posts/{id}", update_post)
            .roles(WRITERS)
            .summary("Change a post; absent fields stay (only admins change status or published_at)")
            .put("/admin/posts/{id}/cover", put_cover)
            .roles(WRITERS)
            .summary("Set the cover image: the raw body, PNG, JPEG, WebP or GIF (content-type header), at most 5 MB")
            .request::<ImageBytes>()
            .get("/admin/posts/{id}/cover", admin_cover)
            .roles(WRITERS)
            .summary("The cover image of a post in any status")
            .response::<ImageBytes>()
            .delete("/admin/posts/{id}/cover", delete_cover)
            .roles(WRITERS)
            .summary("Remove the cover image")
            // ----- admins -----
            .post("/admin/posts/{id}/publish", publish_post)
            .roles(["admin"])
            .summary("Publish now, or schedule with a future `publish_at` (publishes blog.post-published)")
            .request::<PublishRequest>()
            .post("/admin/posts/{id}/unpublish", unpublish_post)
            .roles(["admin"])
            .summary("Take a post back to draft")
            .request::<NoInput>()
            .delete("/admin/posts/{id}", delete_post)
            .roles(["admin"])
            .summary("Delete a post, its redirects and its cover")
    }

    fn run_job(run: JobRun) -> Result<(), String> {
        match run.name.as_str() {
            PUBLISH_JOB => {
                let published = store::publish_due(&time::now_rfc3339()).map_err(|e| e.to_string())?;
                if published > 0 {
                    log::info(format!("{PUBLISH_JOB} ({}): published {published} scheduled posts", run.run_id));
                }
                Ok(())
            }
            other => Err(format!("unknown job `{other}`")),
        }
    }
}

plaza_sdk::export!(Blog);

/// The tenant's settings for the blog (tenant admins set them).
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct BlogSettings {
    /// The blog's name, e.g. "Noticias de la Municipalidad": the RSS feed's title ("Blog of {tenant}" when unset).
    pub title: Option<String>,
    /// One sentence about it: the feed's description.
    pub description: Option<String>,
}

impl BlogSettings {
    /// The settings as stored; a value of the wrong type is ignored (the
    /// host stores any JSON) rather than taking the feed down.
    fn read() -> Result<Self, Problem> {
        let text = |key: &str| -> Result<Option<String>, Problem> {
            Ok(config::get::<serde_json::Value>(key)?
                .and_then(|v| v.as_str().map(str::to_owned))
                .map(|s| s.trim().chars().take(200).collect::<String>())
                .filter(|s| !s.is_empty()))
        };
        Ok(Self { title: text("title")?, description: text("description")? })
    }
}

// ----- response types -----

/// A post, with everything about it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Post {
    pub id: i64,
    /// 1 to 200 characters.
    pub title: String,
    /// Unique in the tenant: `[a-z0-9]+(-[a-z0-9]+)*`, at most 120 characters.
    pub slug: String,
    pub status: Status,
    /// The post as its author wrote it.
    pub content_markdown: String,
    /// The Markdown rendered to HTML and sanitised (no scripts, event handlers or `javascript:` links).
    pub content_html: String,
    /// The given excerpt, or the first ~200 characters of the plain text.
    pub excerpt: String,
    /// For search engines: at most 300 characters.
    pub meta_description: Option<String>,
    /// Questions and answers, also in `json_ld`.
    pub faq: Vec<FaqItem>,
    /// The FAQ as a schema.org `FAQPage` (JSON-LD); null without FAQ.
    pub json_ld: Option<FaqPage>,
    /// Lower-case tags, sorted.
    pub tags: Vec<String>,
    /// The cover image, if any.
    pub cover: Option<Cover>,
    /// The user who created the post.
    pub author_id: Option<String>,
    /// When the post was (or will be) published: RFC 3339 UTC; null for drafts.
    pub published_at: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// The public address of the post (`/t/{tenant}/blog/posts/{slug}`), served while it is published.
    pub url: String,
}

/// A post in a list: without its content.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PostSummary {
    pub id: i64,
    pub title: String,
    pub slug: String,
    pub status: Status,
    pub excerpt: String,
    pub meta_description: Option<String>,
    /// Lower-case tags, sorted.
    pub tags: Vec<String>,
    pub cover: Option<Cover>,
    pub author_id: Option<String>,
    /// RFC 3339 UTC; null for drafts.
    pub published_at: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// The public address of the post, served while it is published.
    pub url: String,
}

/// A post's cover image.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Cover {
    /// `image/png`, `image/jpeg`, `image/webp` or `image/gif`.
    pub content_type: String,
    /// Its size in bytes.
    pub size: i64,
    /// Its public address, served while the post is published (editors read
    /// it at `/admin/posts/{id}/cover`).
    pub url: String,
}

/// A page of posts.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PostPage {
    pub items: Vec<PostSummary>,
    /// How many posts match, over all pages.
    pub total: i64,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
}

/// A page of the published posts with one tag.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TagPostPage {
    /// The tag, normalised.
    pub tag: String,
    pub items: Vec<PostSummary>,
    /// How many published posts have the tag, over all pages.
    pub total: i64,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
}

/// A tag and how many published posts have it.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct TagCount {
    pub tag: String,
    /// Published posts with this tag.
    pub count: i64,
}

/// A page of tags, most used first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TagPage {
    pub items: Vec<TagCount>,
    /// How many tags published posts have, over all pages.
    pub total: i64,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
}

/// An RSS 2.0 feed: the host documents the body as `application/rss+xml`.
#[derive(JsonSchema)]
#[schemars(extend("contentMediaType" = "application/rss+xml"))]
#[allow(dead_code)] // a schema only
struct RssFeed(String);

/// A sitemap: the host documents the body as `application/xml`.
#[derive(JsonSchema)]
#[schemars(extend("contentMediaType" = "application/xml"))]
#[allow(dead_code)] // a schema only
struct Sitemap(String);

/// An image's bytes (PNG, JPEG, WebP or GIF), with its own content type.
#[derive(JsonSchema)]
#[schemars(extend("contentMediaType" = "image/*", "contentEncoding" = "binary"))]
#[allow(dead_code)] // a schema only
struct ImageBytes(String);

// ----- request types -----

/// A new post.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPost {
    /// 1 to 200 characters.
    pub title: String,
    /// `[a-z0-9]+(-[a-z0-9]+)*`, at most 120 characters; made from the title
    /// when absent (accents folded, `-2`, `-3`… on a clash). A slug another
    /// post uses is a 409.
    pub slug: Option<String>,
    /// The content in Markdown (CommonMark with tables and strikethrough), at most 200 000 characters.
    #[serde(default)]
    pub content_markdown: String,
    /// At most 500 characters; derived from the content when absent or empty.
    pub excerpt: Option<String>,
    /// At most 300 characters.
    pub meta_description: Option<String>,
    /// At most 50 questions, each with a non-empty answer.
    #[serde(default)]
    pub faq: Vec<FaqItem>,
    /// At most 20 tags; each is normalised (accents folded, lower case, words joined by `-`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// `draft` by default; only admins may create `published` or `scheduled` posts.
    pub status: Option<Status>,
    /// RFC 3339: required for `scheduled` (in the future); for `published`, a past time or now when absent.
    pub published_at: Option<String>,
}

/// Changes to a post: absent (or null) fields stay as they are.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostUpdate {
    /// 1 to 200 characters.
    pub title: Option<String>,
    /// A new slug (the old one keeps redirecting); a slug another post uses is a 409.
    pub slug: Option<String>,
    /// The content in Markdown.
    pub content_markdown: Option<String>,
    /// At most 500 characters; an empty string derives it from the content again.
    pub excerpt: Option<String>,
    /// At most 300 characters; an empty string removes it.
    pub meta_description: Option<String>,
    /// Replaces the FAQ (`[]` removes it).
    pub faq: Option<Vec<FaqItem>>,
    /// Replaces the tags.
    pub tags: Option<Vec<String>>,
    /// Admins only.
    pub status: Option<Status>,
    /// Admins only: RFC 3339 (see `NewPost`).
    pub published_at: Option<String>,
}

/// How to publish: the body is optional.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// RFC 3339. Absent or past: published now; in the future: scheduled for then.
    pub publish_at: Option<String>,
}

// ----- public handlers -----

fn public_posts(req: &Request) -> Result<Json<PostPage>, Problem> {
    let query = ListQuery::from_request(req, false)?;
    let (items, total) = store::list(&query, true, &req.caller().tenant)?;
    Ok(Json(PostPage { items, total, page: query.page, per_page: query.per_page }))
}

fn public_post(req: &Request) -> Result<Response, Problem> {
    let slug: String = req.path_param("slug")?;
    let tenant = &req.caller().tenant;
    match store::find_public(&slug)? {
        store::Found::Post(row) => Ok(Response::json(200, &store::view(*row, tenant)?)),
        store::Found::Moved(current) => Ok(redirect(&format!("{}/posts/{current}", logic::base_path(tenant)))),
        store::Found::Missing => Err(no_post(&slug)),
    }
}

fn public_cover(req: &Request) -> Result<Response, Problem> {
    let slug: String = req.path_param("slug")?;
    let tenant = &req.caller().tenant;
    match store::find_public(&slug)? {
        store::Found::Post(row) => cover_response(&row),
        store::Found::Moved(current) => Ok(redirect(&format!("{}/posts/{current}/cover", logic::base_path(tenant)))),
        store::Found::Missing => Err(no_post(&slug)),
    }
}

fn public_tags(req: &Request) -> Result<Json<TagPage>, Problem> {
    let (page, per_page) = logic::parse_paging(req.query_param("page"), req.query_param("per_page"))?;
    let (items, total) = store::tags(page, per_page)?;
    Ok(Json(TagPage { items, total, page, per_page }))
}

fn public_tag(req: &Request) -> Result<Json<TagPostPage>, Problem> {
    let raw: String = req.path_param("tag")?;
    let tag = logic::normalize_tag(&raw).ok_or_else(|| no_tag(&raw))?;
    let mut query = ListQuery::from_request(req, false)?;
    query.tag = Some(tag.clone());
    let (items, total) = store::list(&query, true, &req.caller().tenant)?;
    if total == 0 {
        return Err(no_tag(&raw));
    }
    Ok(Json(TagPostPage { tag, items, total, page: query.page, per_page: query.per_page }))
}

fn feed(req: &Request) -> Result<Response, Problem> {
    let settings = BlogSettings::read()?;
    let channel = logic::Channel { title: settings.title.as_deref(), description: settings.description.as_deref() };
    let xml = logic::rss(&req.caller().tenant, &channel, &store::feed_items(20)?);
    Ok(Response::bytes("application/rss+xml; charset=utf-8", xml))
}

fn sitemap(req: &Request) -> Result<Response, Problem> {
    let (posts, tags) = store::sitemap_entries()?;
    Ok(Response::bytes("application/xml; charset=utf-8", logic::sitemap(&req.caller().tenant, &posts, &tags)))
}

// ----- editor and admin handlers -----

fn admin_posts(req: &Request) -> Result<Json<PostPage>, Problem> {
    let query = ListQuery::from_request(req, true)?;
    let (items, total) = store::list(&query, false, &req.caller().tenant)?;
    Ok(Json(PostPage { items, total, page: query.page, per_page: query.per_page }))
}

fn admin_post(req: &Request) -> Result<Json<Post>, Problem> {
    let row = existing(req)?;
    Ok(Json(store::view(row, &req.caller().tenant)?))
}

fn create_post(req: &Request, Json(new): Json<NewPost>) -> Result<Created<Post>, Problem> {
    let caller = req.caller();
    if !caller.has_role("admin") && (new.status.is_some_and(|s| s != Status::Draft) || new.published_at.is_some()) {
        return Err(editors_write_drafts());
    }
    let mut errors = Vec::new();
    let title = logic::required_text("title", &new.title, TITLE_MAX, &mut errors);
    if let Some(slug) = &new.slug {
        logic::check_slug(slug, &mut errors);
    }
    logic::check_content(&new.content_markdown, &mut errors);
    let custom_excerpt =
        new.excerpt.as_deref().and_then(|e| logic::optional_text("excerpt", e, EXCERPT_MAX, &mut errors));
    let meta_description = new
        .meta_description
        .as_deref()
        .and_then(|m| logic::optional_text("meta_description", m, META_DESCRIPTION_MAX, &mut errors));
    let faq = logic::clean_faq(&new.faq, &mut errors);
    let tags = logic::normalize_tags(&new.tags).unwrap_or_else(|e| {
        errors.push(e);
        Vec::new()
    });
    let now = time::now_unix();
    let publication = logic::plan_publication(None, new.status, new.published_at.as_deref(), now).unwrap_or_else(|e| {
        errors.push(e);
        Publication { status: Status::Draft, published_at: None }
    });
    logic::check(&errors)?;

    let fields =
        store::PostFields::new(title, new.content_markdown, custom_excerpt, meta_description, faq, publication);
    let id = store::create(&fields, new.slug.as_deref(), &tags, caller.user(), &logic::rfc3339(now))?;
    plaza_sdk::info!("post {id} created by {}", caller.user().unwrap_or("?"));
    Ok(Created(store::view(store::get(id)?.ok_or_else(|| no_post_id(id))?, &caller.tenant)?))
}

fn update_post(req: &Request, Json(update): Json<PostUpdate>) -> Result<Json<Post>, Problem> {
    let current = existing(req)?;
    let caller = req.caller();
    let current_publication = Publication { status: current.status, published_at: current.published_at.clone() };
    if !caller.has_role("admin") {
        let status_change = update.status.is_some_and(|s| s != current.status);
        let time_change = update
            .published_at
            .as_deref()
            .is_some_and(|t| logic::parse_rfc3339(t) != current.published_at.as_deref().and_then(logic::parse_rfc3339));
        if status_change || time_change {
            return Err(editors_write_drafts());
        }
    }
    let mut errors = Vec::new();
    let title = match &update.title {
        Some(t) => logic::required_text("title", t, TITLE_MAX, &mut errors),
        None => current.title.clone(),
    };
    if let Some(slug) = &update.slug {
        logic::check_slug(slug, &mut errors);
    }
    let markdown = match update.content_markdown {
        Some(m) => {
            logic::check_content(&m, &mut errors);
            m
        }
        None => current.content_markdown.clone(),
    };
    let custom_excerpt = match &update.excerpt {
        Some(e) => logic::optional_text("excerpt", e, EXCERPT_MAX, &mut errors),
        None => current.custom_excerpt.clone(),
    };
    let meta_description = match &update.meta_description {
        Some(m) => logic::optional_text("meta_description", m, META_DESCRIPTION_MAX, &mut errors),
        None => current.meta_description.clone(),
    };
    let faq = match &update.faq {
        Some(faq) => logic::clean_faq(faq, &mut errors),
        None => current.faq_items(),
    };
    let tags = update.tags.as_ref().map(|tags| {
        logic::normalize_tags(tags).unwrap_or_else(|e| {
            errors.push(e);
            Vec::new()
        })
    });
    let now = time::now_unix();
    let publication = if update.status.is_some() || update.published_at.is_some() {
        logic::plan_publication(Some(&current_publication), update.status, update.published_at.as_deref(), now)
            .unwrap_or_else(|e| {
                errors.push(e);
                current_publication.clone()
            })
    } else {
        current_publication
    };
    logic::check(&errors)?;

    let fields = store::PostFields::new(title, markdown, custom_excerpt, meta_description, faq, publication);
    store::update(&current, &fields, update.slug.as_deref(), tags.as_deref(), &logic::rfc3339(now))?;
    let row = store::get(current.id)?.ok_or_else(|| no_post_id(current.id))?;
    Ok(Json(store::view(row, &caller.tenant)?))
}

fn put_cover(req: &Request) -> Result<Json<Post>, Problem> {
    let current = existing(req)?;
    let media_type = req.content_type().map(logic::media_type).unwrap_or_default();
    if !COVER_TYPES.contains(&media_type.as_str()) {
        let detail = format!("content-type: a cover is one of {}, not `{media_type}`", COVER_TYPES.join(", "));
        return Err(Problem::of_kind(415, "unsupported-media-type")
            .detail(detail.clone())
            .with("errors", serde_json::json!([{ "field": "content-type", "detail": detail }])));
    }
    let body = req.body();
    if body.len() > COVER_MAX_BYTES {
        return Err(Problem::of_kind(413, "payload-too-large")
            .detail(format!("body: a cover has at most {COVER_MAX_BYTES} bytes, not {}", body.len())));
    }
    if !logic::looks_like(&media_type, body) {
        return Err(logic::invalid_field("body", format!("is not a {media_type} image")));
    }
    blob::put(&store::cover_key(current.id), body, &media_type)?;
    let size = i64::try_from(body.len()).unwrap_or(i64::MAX);
    store::set_cover(current.id, Some((&media_type, size)), &time::now_rfc3339())?;
    let row = store::get(current.id)?.ok_or_else(|| no_post_id(current.id))?;
    Ok(Json(store::view(row, &req.caller().tenant)?))
}

fn admin_cover(req: &Request) -> Result<Response, Problem> {
    cover_response(&existing(req)?)
}

fn delete_cover(req: &Request) -> Result<NoContent, Problem> {
    let current = existing(req)?;
    if current.cover_content_type.is_none() {
        return Err(Problem::not_found().detail(format!("post {} has no cover", current.id)));
    }
    store::set_cover(current.id, None, &time::now_rfc3339())?;
    blob::delete(&store::cover_key(current.id))?;
    Ok(NoContent)
}

// ----- admin handlers -----

fn publish_post(req: &Request) -> Result<Json<Post>, Problem> {
    let request: PublishRequest =
        if req.body().iter().all(u8::is_ascii_whitespace) { PublishRequest::default() } else { req.json()? };
    let current = existing(req)?;
    let now = time::now_unix();
    let at = match request.publish_at.as_deref() {
        Some(text) => Some(logic::parse_rfc3339(text).ok_or_else(|| {
            logic::invalid_field("publish_at", "must be an RFC 3339 date-time, e.g. 2025-03-01T12:00:00Z")
        })?),
        None => None,
    };
    let current_publication = Publication { status: current.status, published_at: current.published_at.clone() };
    let planned = match at {
        Some(at) if at > now => {
            logic::plan_publication(Some(&current_publication), Some(Status::Scheduled), Some(&logic::rfc3339(at)), now)
        }
        _ => logic::plan_publication(Some(&current_publication), Some(Status::Published), None, now),
    }
    .map_err(|e| logic::invalid(&[e]))?;
    store::set_publication(&current, &planned, &logic::rfc3339(now))?;
    let row = store::get(current.id)?.ok_or_else(|| no_post_id(current.id))?;
    Ok(Json(store::view(row, &req.caller().tenant)?))
}

fn unpublish_post(req: &Request) -> Result<Json<Post>, Problem> {
    let current = existing(req)?;
    let draft = Publication { status: Status::Draft, published_at: None };
    store::set_publication(&current, &draft, &time::now_rfc3339())?;
    let row = store::get(current.id)?.ok_or_else(|| no_post_id(current.id))?;
    Ok(Json(store::view(row, &req.caller().tenant)?))
}

fn delete_post(req: &Request) -> Result<NoContent, Problem> {
    let current = existing(req)?;
    store::delete(current.id)?;
    if current.cover_content_type.is_some() {
        // Outside the SQL transaction: a cover left behind is only unreachable.
        blob::delete(&store::cover_key(current.id))?;
    }
    plaza_sdk::info!("post {} deleted by {}", current.id, req.caller().user().unwrap_or("?"));
    Ok(NoContent)
}

// ----- helpers -----

/// The post named by the `{id}` path parameter, or 404.
fn existing(req: &Request) -> Result<PostRow, Problem> {
    let id: i64 = req.path_param("id")?;
    store::get(id)?.ok_or_else(|| no_post_id(id))
}

fn cover_response(row: &PostRow) -> Result<Response, Problem> {
    if row.cover_content_type.is_none() {
        return Err(Problem::not_found().detail(format!("post `{}` has no cover", row.slug)));
    }
    match blob::get(&store::cover_key(row.id))? {
        Some(object) => Ok(Response::bytes(&object.content_type, object.data)
            .with_header("x-content-type-options", "nosniff")
            .with_header("cache-control", "public, max-age=300")),
        None => Err(Problem::not_found().detail(format!("post `{}` has no cover", row.slug))),
    }
}

fn redirect(location: &str) -> Response {
    Response::new(301).with_header("location", location)
}

fn no_post(slug: &str) -> Problem {
    Problem::not_found().detail(format!("no published post `{slug}`"))
}

fn no_post_id(id: i64) -> Problem {
    Problem::not_found().detail(format!("no post {id}"))
}

fn no_tag(tag: &str) -> Problem {
    Problem::not_found().detail(format!("no published post has the tag `{tag}`"))
}

fn editors_write_drafts() -> Problem {
    Problem::forbidden("only admins change a post's status or publication time; editors write drafts")
        .with("errors", serde_json::json!([{ "field": "status", "detail": "only admins change it" }]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use plaza_sdk::{Access, Module};

    use super::*;

    /// The manifest builds natively: every route has access, a summary and
    /// response schemas; bodies are described.
    #[test]
    fn the_manifest_describes_every_route() {
        let manifest = Blog::router().manifest();
        assert_eq!((manifest.name.as_str(), manifest.version.as_str()), ("blog", "1.0.0"));
        assert_eq!(manifest.roles, vec!["editor"]);
        assert_eq!(manifest.jobs[0].name, "publish-scheduled");
        assert_eq!(manifest.jobs[0].schedule, "* * * * *");
        for route in &manifest.routes {
            assert!(!route.summary.is_empty(), "{}", route.path);
            // Only deletions answer 204 without a body.
            assert_eq!(
                route.response_schema.is_none(),
                route.method == Method::Delete,
                "{} {}",
                route.method,
                route.path
            );
        }
        let create = manifest.routes.iter().find(|r| r.operation_id == "post_admin_posts").unwrap();
        assert!(create.request_schema.as_deref().unwrap().contains("meta_description"));
        assert_eq!(create.access, Access::Roles(vec!["editor".into(), "admin".into()]));
        let publish = manifest.routes.iter().find(|r| r.path == "/admin/posts/{id}/publish").unwrap();
        assert!(publish.request_schema.as_deref().unwrap().contains("publish_at"));
        let image = manifest.routes.iter().find(|r| r.path == "/posts/{slug}/cover").unwrap();
        assert!(image.response_schema.as_deref().unwrap().contains("binary"));
    }
}
