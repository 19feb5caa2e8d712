CREATE TABLE templates (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    subject     TEXT NOT NULL,
    text_body   TEXT,
    html_body   TEXT,
    updated_by  TEXT,
    updated_at  TEXT NOT NULL
);

CREATE TABLE sent (
    id         TEXT PRIMARY KEY,
    recipients TEXT NOT NULL,
    subject    TEXT NOT NULL,
    template   TEXT,
    source     TEXT NOT NULL,
    event_id   TEXT UNIQUE,
    sent_by    TEXT,
    state      TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    last_error TEXT,
    sent_at    TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX sent_created ON sent (created_at);
CREATE INDEX sent_state ON sent (state);
