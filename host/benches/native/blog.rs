//! The native side of `cargo xtask bench` (built only with the `bench`
//! feature): the blog's "one published post by slug" read written as a
//! plain poem handler against the same SQLite file the `blog` module uses,
//! so the module's overhead is measured against native code on the same
//! host, database and load. Not part of any release build.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path};
use poem::{IntoResponse, Response, Route, get, handler};
use rusqlite::OptionalExtension;
use serde::Serialize;
use serde_json::{Value, json};

use crate::App;

/// The columns the module's own read selects.
struct Row {
    id: i64,
    title: String,
    slug: String,
    content_markdown: String,
    content_html: String,
    excerpt: String,
    status: String,
    published_at: Option<String>,
    meta_description: Option<String>,
    faq: String,
    author_id: Option<String>,
    created_at: String,
    updated_at: String,
}

/// The answer, shaped as the module's `Post`.
#[derive(Serialize)]
struct Post {
    id: i64,
    title: String,
    slug: String,
    status: String,
    content_markdown: String,
    content_html: String,
    excerpt: String,
    meta_description: Option<String>,
    faq: Value,
    json_ld: Option<Value>,
    tags: Vec<String>,
    author_id: Option<String>,
    published_at: Option<String>,
    created_at: String,
    updated_at: String,
    url: String,
}

#[handler]
async fn post(Path((tenant, slug)): Path<(String, String)>, Data(app): Data<&Arc<App>>) -> Response {
    // The same connection handling as a module call: one connection, its
    // statements bounded by a deadline.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut conn = match app.modules.services().sql.sqlite_conn(&tenant, "blog", deadline).await {
        Ok(Some(conn)) => conn,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(err) => return unavailable(&err),
    };
    // The same statements the module runs, here on the holder's task.
    let read = |db: &rusqlite::Connection| -> rusqlite::Result<Option<(Row, Vec<String>)>> {
        let mut post = db.prepare_cached(
            "SELECT id, title, slug, content_markdown, content_html, excerpt, status, published_at, \
             meta_description, faq, author_id, created_at, updated_at FROM posts WHERE slug = ?1 AND status = 'published'",
        )?;
        let row = post
            .query_row([&slug], |r| {
                Ok(Row {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    slug: r.get(2)?,
                    content_markdown: r.get(3)?,
                    content_html: r.get(4)?,
                    excerpt: r.get(5)?,
                    status: r.get(6)?,
                    published_at: r.get(7)?,
                    meta_description: r.get(8)?,
                    faq: r.get(9)?,
                    author_id: r.get(10)?,
                    created_at: r.get(11)?,
                    updated_at: r.get(12)?,
                })
            })
            .optional()?;
        let Some(row) = row else { return Ok(None) };
        let mut tags = db.prepare_cached("SELECT tag FROM post_tags WHERE post_id = ?1 ORDER BY tag")?;
        let tags = tags.query_map([row.id], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(Some((row, tags)))
    };
    let found = match conn.db() {
        Ok(db) => read(db),
        Err(err) => return unavailable(&err),
    };
    let (row, tags) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(err) => return unavailable(&err),
    };
    let faq: Value = serde_json::from_str(&row.faq).unwrap_or_else(|_| json!([]));
    let json_ld = faq.as_array().filter(|items| !items.is_empty()).map(|items| {
        let questions: Vec<Value> = items
            .iter()
            .map(|q| {
                json!({ "@type": "Question", "name": q["question"],
                        "acceptedAnswer": { "@type": "Answer", "text": q["answer"] } })
            })
            .collect();
        json!({ "@context": "https://schema.org", "@type": "FAQPage", "mainEntity": questions })
    });
    let url = format!("/t/{tenant}/blog/posts/{}", row.slug);
    Json(Post {
        id: row.id,
        title: row.title,
        slug: row.slug,
        status: row.status,
        content_markdown: row.content_markdown,
        content_html: row.content_html,
        excerpt: row.excerpt,
        meta_description: row.meta_description,
        faq,
        json_ld,
        tags,
        author_id: row.author_id,
        published_at: row.published_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
        url,
    })
    .into_response()
}

/// A database failure: logged, answered 503.
fn unavailable(err: &dyn std::fmt::Display) -> Response {
    tracing::warn!(error = %err, "the native bench handler could not read");
    Response::builder().status(StatusCode::SERVICE_UNAVAILABLE).body("database unavailable")
}

/// `/bench/native/t/{tenant}/blog/posts/{slug}`.
pub fn endpoint() -> Route {
    Route::new().at("/native/t/:tenant/blog/posts/:slug", get(post))
}
