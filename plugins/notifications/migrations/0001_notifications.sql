-- Portable dialect (SQLite): INTEGER PRIMARY KEY numbers itself.
-- A notification is for one user or for the members holding a role; each
-- reader's read marks and deletions are rows of their own, so a role's
-- notification is read or deleted per person.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    user_id TEXT,
    role TEXT,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    kind TEXT NOT NULL,
    action_url TEXT,
    source TEXT NOT NULL,
    sent_by TEXT,
    event_id TEXT UNIQUE,
    created_at TEXT NOT NULL
);
CREATE INDEX notifications_user ON notifications (user_id, id);
CREATE INDEX notifications_role ON notifications (role, id);

CREATE TABLE reads (
    notification_id INTEGER NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    read_at TEXT NOT NULL,
    PRIMARY KEY (notification_id, user_id)
);

CREATE TABLE hidden (
    notification_id INTEGER NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    PRIMARY KEY (notification_id, user_id)
);

-- Browsers' push subscriptions, with the roles their user held when the
-- device was registered (space-separated, between spaces), for role sends.
CREATE TABLE devices (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    roles TEXT NOT NULL,
    endpoint TEXT NOT NULL UNIQUE,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    label TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX devices_user ON devices (user_id);
