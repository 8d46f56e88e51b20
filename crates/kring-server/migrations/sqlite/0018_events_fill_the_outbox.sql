-- The outbox is filled by the event itself: one delivery per active subscription to the event
-- whose owner's role may read the resource (a payload holds only what its owner may read).
-- Written in the event's own statement, it saves every write one round trip. A subscription's
-- test event queues its one delivery itself.
CREATE TRIGGER events_fill_the_outbox AFTER INSERT ON events
WHEN NEW.resource <> 'webhook.test'
BEGIN
    INSERT INTO webhook_deliveries (company_id, webhook_id, event_id, status, attempts,
                                    next_attempt_at, created_at, updated_at)
    SELECT w.company_id, w.id, NEW.id, 'pending', 0, NEW.created_at, NEW.created_at,
           NEW.created_at
    FROM webhooks w
    WHERE w.company_id = NEW.company_id AND w.event = NEW.event AND w.active = 1
      AND EXISTS (SELECT 1 FROM users u JOIN role_permissions rp ON rp.role_id = u.role_id
                  JOIN permissions p ON p.id = rp.permission_id
                  WHERE u.id = w.user_id AND u.company_id = w.company_id
                    AND p.name = NEW.resource || '.view');
END;
