-- A listed resource's row counter (`resource_counts`, an unfiltered list's `total`) is kept by
-- its table's own triggers, in the writing statement: one statement less for every create and
-- delete, and exact whatever inserts or deletes (a cascade, `kring seed`, SQL by hand).

CREATE TRIGGER appointments_insert_updates_the_count AFTER INSERT ON appointments
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'appointment', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER appointments_delete_updates_the_count AFTER DELETE ON appointments
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (OLD.company_id, 'appointment', -1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER assignments_insert_updates_the_count AFTER INSERT ON assignments
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'assignment', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER assignments_delete_updates_the_count AFTER DELETE ON assignments
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (OLD.company_id, 'assignment', -1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER chances_insert_updates_the_count AFTER INSERT ON chances
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'chance', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER chances_delete_updates_the_count AFTER DELETE ON chances
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (OLD.company_id, 'chance', -1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER contacts_insert_updates_the_count AFTER INSERT ON contacts
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'contact', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER contacts_delete_updates_the_count AFTER DELETE ON contacts
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (OLD.company_id, 'contact', -1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER contracts_insert_updates_the_count AFTER INSERT ON contracts
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'contract', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER contracts_delete_updates_the_count AFTER DELETE ON contracts
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (OLD.company_id, 'contract', -1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER customers_insert_updates_the_count AFTER INSERT ON customers
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'customer', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER customers_delete_updates_the_count AFTER DELETE ON customers
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (OLD.company_id, 'customer', -1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER emails_insert_updates_the_count AFTER INSERT ON emails
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'email', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER emails_delete_updates_the_count AFTER DELETE ON emails
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (OLD.company_id, 'email', -1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER fields_insert_updates_the_count AFTER INSERT ON fields
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'field', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER fields_delete_updates_the_count AFTER DELETE ON fields
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (OLD.company_id, 'field', -1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER notes_insert_updates_the_count AFTER INSERT ON notes
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'note', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER notes_delete_updates_the_count AFTER DELETE ON notes
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (OLD.company_id, 'note', -1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER roles_insert_updates_the_count AFTER INSERT ON roles
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'role', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER roles_delete_updates_the_count AFTER DELETE ON roles
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (OLD.company_id, 'role', -1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER tasks_insert_updates_the_count AFTER INSERT ON tasks
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'task', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER tasks_delete_updates_the_count AFTER DELETE ON tasks
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (OLD.company_id, 'task', -1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER templates_insert_updates_the_count AFTER INSERT ON templates
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'template', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER templates_delete_updates_the_count AFTER DELETE ON templates
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (OLD.company_id, 'template', -1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER todos_insert_updates_the_count AFTER INSERT ON todos
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'todo', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER todos_delete_updates_the_count AFTER DELETE ON todos
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (OLD.company_id, 'todo', -1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER users_insert_updates_the_count AFTER INSERT ON users
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'user', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER users_delete_updates_the_count AFTER DELETE ON users
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (OLD.company_id, 'user', -1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER webhooks_insert_updates_the_count AFTER INSERT ON webhooks
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'webhook', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER webhooks_delete_updates_the_count AFTER DELETE ON webhooks
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (OLD.company_id, 'webhook', -1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;
