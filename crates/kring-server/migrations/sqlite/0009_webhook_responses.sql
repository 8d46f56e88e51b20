-- What a webhook receiver answered (security plan T53): at most 64 KiB of its body is read, and
-- the first kilobyte of that is kept with the attempt as text, shown JSON-escaped in
-- `/deliveries` and never relayed raw.
ALTER TABLE webhook_attempts ADD COLUMN response_body TEXT;
