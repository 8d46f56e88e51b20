-- Idempotency keys (DESIGN §2): the first response to a key is kept for 24 hours and replayed
-- to the same request; `status` stays NULL while the first request is still running.

CREATE TABLE idempotency_keys (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    status        INTEGER,
    response      TEXT,
    created_at    TEXT NOT NULL,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
