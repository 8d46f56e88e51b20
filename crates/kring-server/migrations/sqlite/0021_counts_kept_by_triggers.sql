-- The triggers of migration 21 (see its portable part).
CREATE TRIGGER appointments_insert_updates_the_count AFTER INSERT ON appointments
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'appointment', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER appointments_delete_updates_the_count AFTER DELETE ON appointments
BEGIN
    UPDATE resource_counts SET total = total - 1
    WHERE company_id = OLD.company_id AND resource = 'appointment';
END;

CREATE TRIGGER assignments_insert_updates_the_count AFTER INSERT ON assignments
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'assignment', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER assignments_delete_updates_the_count AFTER DELETE ON assignments
BEGIN
    UPDATE resource_counts SET total = total - 1
    WHERE company_id = OLD.company_id AND resource = 'assignment';
END;

CREATE TRIGGER chances_insert_updates_the_count AFTER INSERT ON chances
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'chance', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER chances_delete_updates_the_count AFTER DELETE ON chances
BEGIN
    UPDATE resource_counts SET total = total - 1
    WHERE company_id = OLD.company_id AND resource = 'chance';
END;

CREATE TRIGGER contacts_insert_updates_the_count AFTER INSERT ON contacts
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'contact', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER contacts_delete_updates_the_count AFTER DELETE ON contacts
BEGIN
    UPDATE resource_counts SET total = total - 1
    WHERE company_id = OLD.company_id AND resource = 'contact';
END;

CREATE TRIGGER contracts_insert_updates_the_count AFTER INSERT ON contracts
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'contract', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER contracts_delete_updates_the_count AFTER DELETE ON contracts
BEGIN
    UPDATE resource_counts SET total = total - 1
    WHERE company_id = OLD.company_id AND resource = 'contract';
END;

CREATE TRIGGER customers_insert_updates_the_count AFTER INSERT ON customers
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'customer', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER customers_delete_updates_the_count AFTER DELETE ON customers
BEGIN
    UPDATE resource_counts SET total = total - 1
    WHERE company_id = OLD.company_id AND resource = 'customer';
END;

CREATE TRIGGER emails_insert_updates_the_count AFTER INSERT ON emails
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'email', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER emails_delete_updates_the_count AFTER DELETE ON emails
BEGIN
    UPDATE resource_counts SET total = total - 1
    WHERE company_id = OLD.company_id AND resource = 'email';
END;

CREATE TRIGGER fields_insert_updates_the_count AFTER INSERT ON fields
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'field', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER fields_delete_updates_the_count AFTER DELETE ON fields
BEGIN
    UPDATE resource_counts SET total = total - 1
    WHERE company_id = OLD.company_id AND resource = 'field';
END;

CREATE TRIGGER notes_insert_updates_the_count AFTER INSERT ON notes
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'note', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER notes_delete_updates_the_count AFTER DELETE ON notes
BEGIN
    UPDATE resource_counts SET total = total - 1
    WHERE company_id = OLD.company_id AND resource = 'note';
END;

CREATE TRIGGER roles_insert_updates_the_count AFTER INSERT ON roles
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'role', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER roles_delete_updates_the_count AFTER DELETE ON roles
BEGIN
    UPDATE resource_counts SET total = total - 1
    WHERE company_id = OLD.company_id AND resource = 'role';
END;

CREATE TRIGGER tasks_insert_updates_the_count AFTER INSERT ON tasks
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'task', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER tasks_delete_updates_the_count AFTER DELETE ON tasks
BEGIN
    UPDATE resource_counts SET total = total - 1
    WHERE company_id = OLD.company_id AND resource = 'task';
END;

CREATE TRIGGER templates_insert_updates_the_count AFTER INSERT ON templates
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'template', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER templates_delete_updates_the_count AFTER DELETE ON templates
BEGIN
    UPDATE resource_counts SET total = total - 1
    WHERE company_id = OLD.company_id AND resource = 'template';
END;

CREATE TRIGGER todos_insert_updates_the_count AFTER INSERT ON todos
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'todo', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER todos_delete_updates_the_count AFTER DELETE ON todos
BEGIN
    UPDATE resource_counts SET total = total - 1
    WHERE company_id = OLD.company_id AND resource = 'todo';
END;

CREATE TRIGGER users_insert_updates_the_count AFTER INSERT ON users
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'user', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER users_delete_updates_the_count AFTER DELETE ON users
BEGIN
    UPDATE resource_counts SET total = total - 1
    WHERE company_id = OLD.company_id AND resource = 'user';
END;

CREATE TRIGGER webhooks_insert_updates_the_count AFTER INSERT ON webhooks
BEGIN
    INSERT INTO resource_counts (company_id, resource, total) VALUES (NEW.company_id, 'webhook', 1)
    ON CONFLICT (company_id, resource) DO UPDATE SET total = total + excluded.total;
END;

CREATE TRIGGER webhooks_delete_updates_the_count AFTER DELETE ON webhooks
BEGIN
    UPDATE resource_counts SET total = total - 1
    WHERE company_id = OLD.company_id AND resource = 'webhook';
END;
