-- A key's row is now written by the write's own transaction (`committed`), so a crash can no
-- longer leave an effect without its key or a key without its effect; `effect_id` is the record
-- a create made, from which a lost answer is rebuilt.
ALTER TABLE idempotency_keys ADD COLUMN committed BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE idempotency_keys ADD COLUMN effect_id INTEGER;
