-- The module registry and the lifecycle of installs.

-- Every published (name, version): immutable once written. The component
-- itself is in the object store, content-addressed by its SHA-256.
CREATE TABLE registry_versions (
    name         TEXT NOT NULL,
    version      TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         BIGINT NOT NULL,
    description  TEXT NOT NULL,
    manifest     TEXT NOT NULL,              -- the manifest as JSON
    publisher    TEXT,                       -- `ed25519:…` of the key that signed; NULL when not signed
    signature    TEXT,                       -- base64 Ed25519 over the SHA-256
    source       TEXT NOT NULL CHECK (source IN ('published', 'bundled')),
    yanked       INTEGER NOT NULL DEFAULT 0,
    published_at TEXT NOT NULL,
    published_by TEXT NOT NULL,
    PRIMARY KEY (name, version)
);

-- What an install ran before its last upgrade, for rollback, and the range
-- the tenant asked for.
ALTER TABLE module_installs ADD COLUMN version_range TEXT NOT NULL DEFAULT '*';
ALTER TABLE module_installs ADD COLUMN previous_version TEXT;
ALTER TABLE module_installs ADD COLUMN previous_sha256 TEXT;

-- One row per lifecycle change: host processes poll its newest id (a safety
-- net beside PostgreSQL's LISTEN/NOTIFY) to drop what they cached of a tenant.
CREATE TABLE module_changes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT NOT NULL,
    module     TEXT NOT NULL,
    action     TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
