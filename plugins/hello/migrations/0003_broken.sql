-- Release 1.2.0, test-only (feature `broken`): portable SQL that the vetter
-- accepts but that fails on both SQLite and PostgreSQL, as the table does
-- not exist. It is for the tests of an upgrade whose migration fails.
INSERT INTO no_such_table (id) VALUES (1);
