-- A company's data version: moved by every insert, update and delete of a table the API reads
-- (every table of the registry, pivots included), in the writing transaction itself. A list
-- remembers its filtered `total` under the version its count saw, and trusts it only while the
-- version is unchanged, so a remembered total is exact on every instance, whatever wrote.
-- The version row has no reference to its company: a company's deletion cascades through
-- these triggers, which must not fail on the company already gone.
CREATE TABLE data_versions (
    company_id  BIGINT NOT NULL PRIMARY KEY,
    version     BIGINT NOT NULL
);

-- Once per statement, from the rows it changed (`changed`, the statement's transition table).
-- A unit of work takes its company's order lock before anything else, so two requests never
-- wait for each other's version row; no lock is taken here, which would be one advisory lock
-- per company for a statement that writes many companies (a start's grants to built-in roles).

CREATE FUNCTION moves_the_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO data_versions (company_id, version)
    SELECT DISTINCT company_id, 1 FROM (SELECT company_id FROM changed) AS rows (company_id)
    WHERE company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = data_versions.version + 1;
    RETURN NULL;
END
$$;

CREATE FUNCTION companies_moves_the_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO data_versions (company_id, version)
    SELECT DISTINCT company_id, 1 FROM (SELECT id FROM changed) AS rows (company_id)
    WHERE company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = data_versions.version + 1;
    RETURN NULL;
END
$$;

CREATE FUNCTION customer_contact_moves_the_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO data_versions (company_id, version)
    SELECT DISTINCT company_id, 1 FROM (SELECT c.company_id FROM changed JOIN customers c ON c.id = changed.customer_id) AS rows (company_id)
    WHERE company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = data_versions.version + 1;
    RETURN NULL;
END
$$;

CREATE FUNCTION role_permissions_moves_the_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO data_versions (company_id, version)
    SELECT DISTINCT company_id, 1 FROM (SELECT r.company_id FROM changed JOIN roles r ON r.id = changed.role_id) AS rows (company_id)
    WHERE company_id IS NOT NULL
    ON CONFLICT (company_id) DO UPDATE SET version = data_versions.version + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER activity_log_insert_moves_the_version AFTER INSERT ON activity_log
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER activity_log_update_moves_the_version AFTER UPDATE ON activity_log
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER activity_log_delete_moves_the_version AFTER DELETE ON activity_log
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER addresses_insert_moves_the_version AFTER INSERT ON addresses
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER addresses_update_moves_the_version AFTER UPDATE ON addresses
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER addresses_delete_moves_the_version AFTER DELETE ON addresses
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER appointments_insert_moves_the_version AFTER INSERT ON appointments
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER appointments_update_moves_the_version AFTER UPDATE ON appointments
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER appointments_delete_moves_the_version AFTER DELETE ON appointments
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER assignments_insert_moves_the_version AFTER INSERT ON assignments
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER assignments_update_moves_the_version AFTER UPDATE ON assignments
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER assignments_delete_moves_the_version AFTER DELETE ON assignments
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER chances_insert_moves_the_version AFTER INSERT ON chances
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER chances_update_moves_the_version AFTER UPDATE ON chances
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER chances_delete_moves_the_version AFTER DELETE ON chances
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER contacts_insert_moves_the_version AFTER INSERT ON contacts
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER contacts_update_moves_the_version AFTER UPDATE ON contacts
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER contacts_delete_moves_the_version AFTER DELETE ON contacts
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER contracts_insert_moves_the_version AFTER INSERT ON contracts
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER contracts_update_moves_the_version AFTER UPDATE ON contracts
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER contracts_delete_moves_the_version AFTER DELETE ON contracts
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER customer_permissions_insert_moves_the_version AFTER INSERT ON customer_permissions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER customer_permissions_update_moves_the_version AFTER UPDATE ON customer_permissions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER customer_permissions_delete_moves_the_version AFTER DELETE ON customer_permissions
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER customers_insert_moves_the_version AFTER INSERT ON customers
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER customers_update_moves_the_version AFTER UPDATE ON customers
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER customers_delete_moves_the_version AFTER DELETE ON customers
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER emails_insert_moves_the_version AFTER INSERT ON emails
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER emails_update_moves_the_version AFTER UPDATE ON emails
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER emails_delete_moves_the_version AFTER DELETE ON emails
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER field_options_insert_moves_the_version AFTER INSERT ON field_options
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER field_options_update_moves_the_version AFTER UPDATE ON field_options
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER field_options_delete_moves_the_version AFTER DELETE ON field_options
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER field_values_insert_moves_the_version AFTER INSERT ON field_values
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER field_values_update_moves_the_version AFTER UPDATE ON field_values
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER field_values_delete_moves_the_version AFTER DELETE ON field_values
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER fields_insert_moves_the_version AFTER INSERT ON fields
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER fields_update_moves_the_version AFTER UPDATE ON fields
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER fields_delete_moves_the_version AFTER DELETE ON fields
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER media_insert_moves_the_version AFTER INSERT ON media
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER media_update_moves_the_version AFTER UPDATE ON media
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER media_delete_moves_the_version AFTER DELETE ON media
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER notes_insert_moves_the_version AFTER INSERT ON notes
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER notes_update_moves_the_version AFTER UPDATE ON notes
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER notes_delete_moves_the_version AFTER DELETE ON notes
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER origins_insert_moves_the_version AFTER INSERT ON origins
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER origins_update_moves_the_version AFTER UPDATE ON origins
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER origins_delete_moves_the_version AFTER DELETE ON origins
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER roles_insert_moves_the_version AFTER INSERT ON roles
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER roles_update_moves_the_version AFTER UPDATE ON roles
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER roles_delete_moves_the_version AFTER DELETE ON roles
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER settings_insert_moves_the_version AFTER INSERT ON settings
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER settings_update_moves_the_version AFTER UPDATE ON settings
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER settings_delete_moves_the_version AFTER DELETE ON settings
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER subtasks_insert_moves_the_version AFTER INSERT ON subtasks
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER subtasks_update_moves_the_version AFTER UPDATE ON subtasks
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER subtasks_delete_moves_the_version AFTER DELETE ON subtasks
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER tasks_insert_moves_the_version AFTER INSERT ON tasks
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER tasks_update_moves_the_version AFTER UPDATE ON tasks
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER tasks_delete_moves_the_version AFTER DELETE ON tasks
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER template_items_insert_moves_the_version AFTER INSERT ON template_items
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER template_items_update_moves_the_version AFTER UPDATE ON template_items
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER template_items_delete_moves_the_version AFTER DELETE ON template_items
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER templates_insert_moves_the_version AFTER INSERT ON templates
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER templates_update_moves_the_version AFTER UPDATE ON templates
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER templates_delete_moves_the_version AFTER DELETE ON templates
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER todos_insert_moves_the_version AFTER INSERT ON todos
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER todos_update_moves_the_version AFTER UPDATE ON todos
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER todos_delete_moves_the_version AFTER DELETE ON todos
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER users_insert_moves_the_version AFTER INSERT ON users
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER users_update_moves_the_version AFTER UPDATE ON users
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER users_delete_moves_the_version AFTER DELETE ON users
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER webhooks_insert_moves_the_version AFTER INSERT ON webhooks
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER webhooks_update_moves_the_version AFTER UPDATE ON webhooks
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER webhooks_delete_moves_the_version AFTER DELETE ON webhooks
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION moves_the_version();
CREATE TRIGGER companies_insert_moves_the_version AFTER INSERT ON companies
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION companies_moves_the_version();
CREATE TRIGGER companies_update_moves_the_version AFTER UPDATE ON companies
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION companies_moves_the_version();
CREATE TRIGGER companies_delete_moves_the_version AFTER DELETE ON companies
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION companies_moves_the_version();
CREATE TRIGGER customer_contact_insert_moves_the_version AFTER INSERT ON customer_contact
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION customer_contact_moves_the_version();
CREATE TRIGGER customer_contact_update_moves_the_version AFTER UPDATE ON customer_contact
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION customer_contact_moves_the_version();
CREATE TRIGGER customer_contact_delete_moves_the_version AFTER DELETE ON customer_contact
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION customer_contact_moves_the_version();
CREATE TRIGGER role_permissions_insert_moves_the_version AFTER INSERT ON role_permissions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION role_permissions_moves_the_version();
CREATE TRIGGER role_permissions_update_moves_the_version AFTER UPDATE ON role_permissions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION role_permissions_moves_the_version();
CREATE TRIGGER role_permissions_delete_moves_the_version AFTER DELETE ON role_permissions
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION role_permissions_moves_the_version();
