-- The host's own tables. Module data never lives here.

CREATE TABLE tenants (
    id             TEXT PRIMARY KEY,            -- the slug used in /t/{tenant}
    name           TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    db_location    TEXT NOT NULL DEFAULT 'main', -- which database holds its module namespaces
    storage_prefix TEXT NOT NULL,                -- its prefix in the object store
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

-- Who did what to which tenant, when. Kept when a tenant is deleted.
CREATE TABLE audit_log (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    tenant_id  TEXT,
    request_id TEXT,
    detail     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, id);

-- Metadata of tenant files; the bytes live in the object store at object_path.
CREATE TABLE files (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    object_path  TEXT NOT NULL,
    size         BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

-- Hashes of host secrets such as the generated operator token.
CREATE TABLE host_secrets (
    name       TEXT PRIMARY KEY,
    hash       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
