-- Modules enabled per tenant, and the host-kept state of their capabilities.
-- A module's own SQL data never lives here: it has a namespace of its own
-- per tenant (a SQLite file, or a PostgreSQL schema with its own role).

-- Which module runs, at which version, for which tenant.
CREATE TABLE module_installs (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    module     TEXT NOT NULL,
    version    TEXT NOT NULL,
    sha256     TEXT NOT NULL,                 -- of the component that runs
    status     TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, module)
);

-- The kv capability: keys of one module for one tenant.
CREATE TABLE module_kv (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    module     TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      BYTEA NOT NULL,
    expires_at TEXT,                          -- RFC 3339; NULL never expires
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, module, key)
);

-- The config capability: settings (JSON text) and secrets a tenant gave a module.
CREATE TABLE module_config (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    module     TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    is_secret  BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, module, key)
);

-- The crypto capability: the Ed25519 key the host keeps for a module of a tenant.
CREATE TABLE module_keys (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    module      TEXT NOT NULL,
    private_key BYTEA NOT NULL,                 -- PKCS#8
    public_key  BYTEA NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, module)
);

-- The blob capability: what the object store does not keep everywhere
-- (content type), and the listing of a module's objects for a tenant.
CREATE TABLE module_blobs (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    module       TEXT NOT NULL,
    key          TEXT NOT NULL,
    size         BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, module, key)
);

-- Domain events published by modules, moved here from each namespace's
-- outbox once the module's transaction committed; delivery reads them.
CREATE TABLE event_outbox (
    id           TEXT PRIMARY KEY,            -- UUID v7: also the delivery order
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    module       TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    payload      TEXT NOT NULL,
    request_id   TEXT,
    published_at TEXT NOT NULL
);
CREATE INDEX event_outbox_by_tenant ON event_outbox (tenant_id, id);
