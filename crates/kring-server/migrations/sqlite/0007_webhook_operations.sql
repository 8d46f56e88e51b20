-- Webhook operations (issue 7): secret rotation, the attempt history and redelivery.
-- During a rotation the replaced secret keeps signing beside the new one until
-- `previous_secret_until`. Every attempt of a delivery is kept with its response code and
-- duration. A redelivery is a new delivery of the same event that names the first delivery of
-- that message, whose id is the `webhook-id` receivers see on both.

ALTER TABLE webhooks ADD COLUMN previous_secret TEXT;
ALTER TABLE webhooks ADD COLUMN previous_secret_until TEXT;

ALTER TABLE webhook_deliveries ADD COLUMN redelivery_of INTEGER
    REFERENCES webhook_deliveries(id) ON DELETE SET NULL;
CREATE INDEX webhook_deliveries_redelivery ON webhook_deliveries (redelivery_of);

CREATE TABLE webhook_attempts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id       INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    delivery_id      INTEGER NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt          INTEGER NOT NULL,
    response_status  INTEGER,
    error            TEXT,
    duration_ms      INTEGER NOT NULL,
    attempted_at     TEXT NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt);
CREATE INDEX webhook_attempts_company ON webhook_attempts (company_id, id);
