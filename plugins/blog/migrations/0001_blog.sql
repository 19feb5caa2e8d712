-- Portable dialect (SQLite): INTEGER PRIMARY KEY is the rowid and numbers
-- itself. Timestamps are RFC 3339 UTC text, which sorts as time.
CREATE TABLE posts (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    content_markdown TEXT NOT NULL,
    -- Rendered and sanitised when the post is written.
    content_html TEXT NOT NULL,
    -- The excerpt served: the given one, or one derived from the content.
    excerpt TEXT NOT NULL,
    -- The excerpt the author gave, NULL when it is derived.
    custom_excerpt TEXT,
    -- draft, published or scheduled.
    status TEXT NOT NULL,
    published_at TEXT,
    meta_description TEXT,
    -- JSON: [{"question": ..., "answer": ...}].
    faq TEXT NOT NULL,
    cover_content_type TEXT,
    cover_size INTEGER,
    -- Title and plain text, accents folded, lower case, words separated by
    -- single spaces: what full-text search matches against.
    search_text TEXT NOT NULL,
    author_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX posts_status_published_at ON posts (status, published_at);

CREATE TABLE post_tags (
    post_id INTEGER NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (post_id, tag)
);
CREATE INDEX post_tags_tag ON post_tags (tag);

-- Former slugs of posts, answered with a redirect to the current one.
CREATE TABLE slug_redirects (
    old_slug TEXT PRIMARY KEY,
    post_id INTEGER NOT NULL
);
CREATE INDEX slug_redirects_post ON slug_redirects (post_id);
