-- Portable dialect, as SQLite runs it: INTEGER PRIMARY KEY is the rowid and
-- numbers itself. Timestamps are RFC 3339 UTC text (they sort as time);
-- dates are YYYY-MM-DD text. Owners are the caller's user id.

CREATE TABLE videos (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    duration_seconds INTEGER NOT NULL,
    media_id TEXT NOT NULL UNIQUE,
    thumbnail_url TEXT,
    owner_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- `revision` is bumped first thing in every edit of a playlist's items:
-- the UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite),
-- so concurrent edits of one playlist run one after the other.
CREATE TABLE playlists (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    revision INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Positions are 1..n within a playlist, rewritten under the playlist's lock.
CREATE TABLE playlist_items (
    id INTEGER PRIMARY KEY,
    playlist_id INTEGER NOT NULL,
    video_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX playlist_items_by_playlist ON playlist_items (playlist_id, position);
CREATE INDEX playlist_items_by_video ON playlist_items (video_id);

CREATE TABLE channels (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    number INTEGER NOT NULL UNIQUE,
    stream_url TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    sort_order INTEGER NOT NULL,
    -- The content type of the logo stored as blob `logos/{id}`, if any.
    logo_content_type TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- status: pending, approved or rejected.
CREATE TABLE news (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    reason TEXT,
    reviewed_by TEXT,
    reviewed_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX news_by_status ON news (status, created_at);

-- status: pending, approved, rejected, cancelled or completed.
CREATE TABLE ads (
    id INTEGER PRIMARY KEY,
    agency_id TEXT NOT NULL,
    campaign TEXT NOT NULL,
    advertiser TEXT NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    budget_cents INTEGER NOT NULL,
    notes TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX ads_by_agency ON ads (agency_id);

-- One row per status change; creation is the first (from_status NULL).
CREATE TABLE ad_history (
    id INTEGER PRIMARY KEY,
    ad_id INTEGER NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    actor TEXT NOT NULL,
    at TEXT NOT NULL,
    reason TEXT
);
CREATE INDEX ad_history_by_ad ON ad_history (ad_id, id);
