-- Mail sent by modules through the `mail` capability (plaza:module 1.1):
-- each message stored whole (the RFC 5322 bytes the relay will get) before
-- its send is acknowledged, then delivered by the host's mail worker with
-- retries. `lease_until` keeps two processes from sending it at once.
CREATE TABLE mail_messages (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    module          TEXT NOT NULL,
    state           TEXT NOT NULL,              -- queued | sent | failed
    sender          TEXT NOT NULL,              -- envelope sender
    recipients      TEXT NOT NULL,              -- JSON array: to, cc and bcc
    subject         TEXT NOT NULL,
    raw             BLOB NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_until     TEXT,
    last_error      TEXT,
    request_id      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX mail_messages_due ON mail_messages (state, next_attempt_at);
CREATE INDEX mail_messages_tenant ON mail_messages (tenant_id, created_at);

-- A tenant's own sender address and, optionally, its own SMTP relay (a
-- secret: never logged, never returned by the API).
CREATE TABLE tenant_mail_settings (
    tenant_id    TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    from_address TEXT NOT NULL,
    smtp_url     TEXT,
    updated_at   TEXT NOT NULL
);
