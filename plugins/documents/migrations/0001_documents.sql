-- The documents module, portable dialect as SQLite runs it (INTEGER PRIMARY
-- KEY numbers itself). Timestamps are RFC 3339 UTC text.

-- Which database this namespace is on, for the few statements that differ
-- (full-text search): the PostgreSQL variant of this migration says
-- 'postgres'.
CREATE VIEW documents_backend AS SELECT 'sqlite' AS name;

CREATE TABLE folders (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    folder_id INTEGER REFERENCES folders (id),
    owner TEXT NOT NULL,
    -- The current version's number; earlier ones are in document_versions.
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    -- Who wrote the current version (title and content), and when.
    updated_by TEXT NOT NULL,
    content_updated_at TEXT NOT NULL
);
CREATE INDEX documents_folder ON documents (folder_id);
CREATE INDEX documents_owner ON documents (owner);
CREATE INDEX documents_updated ON documents (updated_at);

-- Every earlier version of a document's title and content, never rewritten.
CREATE TABLE document_versions (
    document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (document_id, version)
);

-- Shares: with a user (by id) or with a role (by name), to view or to edit.
CREATE TABLE shares (
    document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    grantee_kind TEXT NOT NULL CHECK (grantee_kind IN ('user', 'role')),
    grantee TEXT NOT NULL,
    permission TEXT NOT NULL CHECK (permission IN ('view', 'edit')),
    shared_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (document_id, grantee_kind, grantee)
);
CREATE INDEX shares_grantee ON shares (grantee_kind, grantee);

CREATE TABLE attachments (
    id INTEGER PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    uploaded_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX attachments_document ON attachments (document_id);

-- Full-text search: an fts5 table whose rowid is the document's id, kept in
-- step by the module in the same transactions as `documents` (modules
-- cannot create triggers). The default unicode61 tokenizer: case and
-- diacritics folded, no stemming.
CREATE VIRTUAL TABLE documents_fts USING fts5(title, content);
