-- The tenants' live streams (the `push` capability of plaza:module 1.1,
-- read as server-sent events at /t/{tenant}/stream). Items are numbered
-- per tenant by `stream_heads`, whose row is locked by each append until it
-- commits: items become visible in number order, so a reader resuming
-- after `Last-Event-ID` n never skips one that commits late.
CREATE TABLE stream_heads (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL
);

CREATE TABLE stream_items (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    user_id    TEXT,                    -- for one user, or
    role       TEXT,                    -- for the members holding a role
    module     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    data       TEXT NOT NULL,           -- JSON
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX stream_items_created ON stream_items (created_at);

-- Each tenant's VAPID key pair (RFC 8292), made on first use: the push
-- services learn its public half from browsers' subscriptions.
CREATE TABLE tenant_vapid_keys (
    tenant_id   TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    private_key BLOB NOT NULL,          -- PKCS#8 DER, P-256
    public_key  TEXT NOT NULL,          -- base64url, uncompressed point
    created_at  TEXT NOT NULL
);
