-- A company's data version: moved by every insert, update and delete of a table the API reads
-- (every table of the registry, pivots included), in the writing transaction itself. A list
-- remembers its filtered `total` under the version its count saw, and trusts it only while the
-- version is unchanged, so a remembered total is exact on every instance, whatever wrote.
-- The version row has no reference to its company: a company's deletion cascades through
-- these triggers, which must not fail on the company already gone.
CREATE TABLE data_versions (
    company_id  INTEGER NOT NULL PRIMARY KEY,
    version     INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER activity_log_insert_moves_the_version AFTER INSERT ON activity_log
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER activity_log_update_moves_the_version AFTER UPDATE ON activity_log
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER activity_log_delete_moves_the_version AFTER DELETE ON activity_log
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER addresses_insert_moves_the_version AFTER INSERT ON addresses
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER addresses_update_moves_the_version AFTER UPDATE ON addresses
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER addresses_delete_moves_the_version AFTER DELETE ON addresses
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER appointments_insert_moves_the_version AFTER INSERT ON appointments
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER appointments_update_moves_the_version AFTER UPDATE ON appointments
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER appointments_delete_moves_the_version AFTER DELETE ON appointments
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER assignments_insert_moves_the_version AFTER INSERT ON assignments
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER assignments_update_moves_the_version AFTER UPDATE ON assignments
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER assignments_delete_moves_the_version AFTER DELETE ON assignments
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER chances_insert_moves_the_version AFTER INSERT ON chances
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER chances_update_moves_the_version AFTER UPDATE ON chances
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER chances_delete_moves_the_version AFTER DELETE ON chances
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER contacts_insert_moves_the_version AFTER INSERT ON contacts
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER contacts_update_moves_the_version AFTER UPDATE ON contacts
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER contacts_delete_moves_the_version AFTER DELETE ON contacts
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER contracts_insert_moves_the_version AFTER INSERT ON contracts
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER contracts_update_moves_the_version AFTER UPDATE ON contracts
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER contracts_delete_moves_the_version AFTER DELETE ON contracts
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER customer_permissions_insert_moves_the_version AFTER INSERT ON customer_permissions
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER customer_permissions_update_moves_the_version AFTER UPDATE ON customer_permissions
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER customer_permissions_delete_moves_the_version AFTER DELETE ON customer_permissions
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER customers_insert_moves_the_version AFTER INSERT ON customers
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER customers_update_moves_the_version AFTER UPDATE ON customers
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER customers_delete_moves_the_version AFTER DELETE ON customers
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER emails_insert_moves_the_version AFTER INSERT ON emails
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER emails_update_moves_the_version AFTER UPDATE ON emails
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER emails_delete_moves_the_version AFTER DELETE ON emails
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER field_options_insert_moves_the_version AFTER INSERT ON field_options
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER field_options_update_moves_the_version AFTER UPDATE ON field_options
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER field_options_delete_moves_the_version AFTER DELETE ON field_options
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER field_values_insert_moves_the_version AFTER INSERT ON field_values
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER field_values_update_moves_the_version AFTER UPDATE ON field_values
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER field_values_delete_moves_the_version AFTER DELETE ON field_values
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER fields_insert_moves_the_version AFTER INSERT ON fields
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER fields_update_moves_the_version AFTER UPDATE ON fields
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER fields_delete_moves_the_version AFTER DELETE ON fields
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER media_insert_moves_the_version AFTER INSERT ON media
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER media_update_moves_the_version AFTER UPDATE ON media
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER media_delete_moves_the_version AFTER DELETE ON media
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER notes_insert_moves_the_version AFTER INSERT ON notes
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER notes_update_moves_the_version AFTER UPDATE ON notes
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER notes_delete_moves_the_version AFTER DELETE ON notes
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER origins_insert_moves_the_version AFTER INSERT ON origins
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER origins_update_moves_the_version AFTER UPDATE ON origins
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER origins_delete_moves_the_version AFTER DELETE ON origins
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER roles_insert_moves_the_version AFTER INSERT ON roles
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER roles_update_moves_the_version AFTER UPDATE ON roles
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER roles_delete_moves_the_version AFTER DELETE ON roles
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER settings_insert_moves_the_version AFTER INSERT ON settings
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER settings_update_moves_the_version AFTER UPDATE ON settings
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER settings_delete_moves_the_version AFTER DELETE ON settings
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER subtasks_insert_moves_the_version AFTER INSERT ON subtasks
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER subtasks_update_moves_the_version AFTER UPDATE ON subtasks
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER subtasks_delete_moves_the_version AFTER DELETE ON subtasks
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER tasks_insert_moves_the_version AFTER INSERT ON tasks
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER tasks_update_moves_the_version AFTER UPDATE ON tasks
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER tasks_delete_moves_the_version AFTER DELETE ON tasks
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER template_items_insert_moves_the_version AFTER INSERT ON template_items
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER template_items_update_moves_the_version AFTER UPDATE ON template_items
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER template_items_delete_moves_the_version AFTER DELETE ON template_items
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER templates_insert_moves_the_version AFTER INSERT ON templates
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER templates_update_moves_the_version AFTER UPDATE ON templates
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER templates_delete_moves_the_version AFTER DELETE ON templates
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER todos_insert_moves_the_version AFTER INSERT ON todos
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER todos_update_moves_the_version AFTER UPDATE ON todos
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER todos_delete_moves_the_version AFTER DELETE ON todos
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER users_insert_moves_the_version AFTER INSERT ON users
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER users_update_moves_the_version AFTER UPDATE ON users
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER users_delete_moves_the_version AFTER DELETE ON users
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER webhooks_insert_moves_the_version AFTER INSERT ON webhooks
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER webhooks_update_moves_the_version AFTER UPDATE ON webhooks
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.company_id, 1 WHERE NEW.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER webhooks_delete_moves_the_version AFTER DELETE ON webhooks
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.company_id, 1 WHERE OLD.company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER companies_insert_moves_the_version AFTER INSERT ON companies
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.id, 1 WHERE NEW.id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER companies_update_moves_the_version AFTER UPDATE ON companies
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT NEW.id, 1 WHERE NEW.id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER companies_delete_moves_the_version AFTER DELETE ON companies
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT OLD.id, 1 WHERE OLD.id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER customer_contact_insert_moves_the_version AFTER INSERT ON customer_contact
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT (SELECT company_id FROM customers WHERE id = NEW.customer_id), 1 WHERE (SELECT company_id FROM customers WHERE id = NEW.customer_id) IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER customer_contact_update_moves_the_version AFTER UPDATE ON customer_contact
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT (SELECT company_id FROM customers WHERE id = NEW.customer_id), 1 WHERE (SELECT company_id FROM customers WHERE id = NEW.customer_id) IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER customer_contact_delete_moves_the_version AFTER DELETE ON customer_contact
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT (SELECT company_id FROM customers WHERE id = OLD.customer_id), 1 WHERE (SELECT company_id FROM customers WHERE id = OLD.customer_id) IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER role_permissions_insert_moves_the_version AFTER INSERT ON role_permissions
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT (SELECT company_id FROM roles WHERE id = NEW.role_id), 1 WHERE (SELECT company_id FROM roles WHERE id = NEW.role_id) IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER role_permissions_update_moves_the_version AFTER UPDATE ON role_permissions
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT (SELECT company_id FROM roles WHERE id = NEW.role_id), 1 WHERE (SELECT company_id FROM roles WHERE id = NEW.role_id) IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER role_permissions_delete_moves_the_version AFTER DELETE ON role_permissions
BEGIN
    INSERT INTO data_versions (company_id, version) SELECT (SELECT company_id FROM roles WHERE id = OLD.role_id), 1 WHERE (SELECT company_id FROM roles WHERE id = OLD.role_id) IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = version + 1;
END;
