-- Accounts, tenant memberships, invitations, refresh tokens, API keys, MFA.

CREATE TABLE users (
    id             TEXT PRIMARY KEY,          -- UUID v7
    email          TEXT NOT NULL UNIQUE,      -- lower-cased
    display_name   TEXT NOT NULL DEFAULT '',
    password_hash  TEXT,                      -- argon2id PHC string
    is_operator    BOOLEAN NOT NULL DEFAULT FALSE,
    totp_secret    TEXT,                      -- base32; set once MFA is confirmed
    totp_pending   TEXT,                      -- base32; set during enrolment
    totp_last_step BIGINT,                    -- last accepted time step (no code is accepted twice)
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   TEXT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE memberships (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    roles      TEXT NOT NULL,                 -- JSON array of role names
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);

CREATE TABLE invitations (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    roles       TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    invited_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    accepted_at TEXT
);

CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,
    amr         TEXT NOT NULL,                -- how the family signed in (space-separated), kept on refresh
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    revoked_at  TEXT
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,               -- shown in listings to recognise a key
    key_hash     TEXT NOT NULL UNIQUE,
    roles        TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id);
