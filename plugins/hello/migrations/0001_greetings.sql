-- Portable dialect (SQLite): INTEGER PRIMARY KEY is the rowid and numbers
-- itself. created_at is RFC 3339 UTC text, which sorts as time.
CREATE TABLE greetings (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    created_by TEXT,
    created_at TEXT NOT NULL
);
