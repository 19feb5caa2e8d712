-- Scheduled jobs and event delivery (issue 6).

-- One row per run of a module's job for a tenant. A scheduled fire is taken
-- by inserting its row: the unique key makes each fire run once, however
-- many host processes see it. A run still `running` past its lease was lost
-- with its process and is taken over by another.
CREATE TABLE job_runs (
    id          TEXT PRIMARY KEY,             -- UUID v7
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    module      TEXT NOT NULL,
    job         TEXT NOT NULL,
    fire_time   TEXT NOT NULL,                -- RFC 3339 UTC; a manual run's: when it was asked for
    trigger     TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual')),
    version     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    error       TEXT,
    attempts    INTEGER NOT NULL DEFAULT 1,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    lease_until TEXT,                         -- set while running
    UNIQUE (tenant_id, module, job, fire_time)
);
CREATE INDEX job_runs_running ON job_runs (status, lease_until);
CREATE INDEX job_runs_by_tenant ON job_runs (tenant_id, started_at);

-- Events are fanned out to their subscribers once: `dispatched` says it happened.
ALTER TABLE event_outbox ADD COLUMN dispatched INTEGER NOT NULL DEFAULT 0;
CREATE INDEX event_outbox_undispatched ON event_outbox (id) WHERE dispatched = 0;

-- One row per (event, subscribing module): its delivery state. Deliveries
-- to one module of one tenant go in event order; a failed one is retried
-- with back-off, then parked as `dead` until an admin retries it.
CREATE TABLE event_deliveries (
    event_id        TEXT NOT NULL REFERENCES event_outbox (id) ON DELETE CASCADE,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    module          TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_until     TEXT,                     -- set while a process delivers it
    last_error      TEXT,
    delivered_at    TEXT,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (event_id, module)
);
CREATE INDEX event_deliveries_queue ON event_deliveries (tenant_id, module, status, event_id);
CREATE INDEX event_deliveries_pending ON event_deliveries (status) WHERE status = 'pending';
