-- The event log (issue 7): every create, update and delete of a routed resource, written in the
-- same transaction as the change. It feeds the change feed now and the webhook outbox later.
-- Ids are handed out in commit order (PostgreSQL takes a transaction-scoped advisory lock before
-- writing one; SQLite has one writer), so a reader that resumes after an id misses nothing.

CREATE TABLE events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id      INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    resource        TEXT NOT NULL,
    record_id       INTEGER NOT NULL,
    event           TEXT NOT NULL,
    data            TEXT NOT NULL,
    changed_fields  TEXT,
    previous        TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX events_company ON events (company_id, id);
