-- The triggers of migration 21 (see its portable part).
-- Once per statement, from the rows it inserted or deleted (`changed`).

CREATE FUNCTION updates_the_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE resource_counts c SET total = c.total - gone.n
        FROM (SELECT company_id, COUNT(*) AS n FROM changed GROUP BY company_id) AS gone
        WHERE c.company_id = gone.company_id AND c.resource = TG_ARGV[0];
    ELSE
        INSERT INTO resource_counts (company_id, resource, total)
        SELECT company_id, TG_ARGV[0], COUNT(*) FROM changed GROUP BY company_id
        ON CONFLICT (company_id, resource) DO UPDATE
        SET total = resource_counts.total + excluded.total;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER appointments_insert_updates_the_count AFTER INSERT ON appointments
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('appointment');
CREATE TRIGGER appointments_delete_updates_the_count AFTER DELETE ON appointments
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('appointment');
CREATE TRIGGER assignments_insert_updates_the_count AFTER INSERT ON assignments
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('assignment');
CREATE TRIGGER assignments_delete_updates_the_count AFTER DELETE ON assignments
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('assignment');
CREATE TRIGGER chances_insert_updates_the_count AFTER INSERT ON chances
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('chance');
CREATE TRIGGER chances_delete_updates_the_count AFTER DELETE ON chances
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('chance');
CREATE TRIGGER contacts_insert_updates_the_count AFTER INSERT ON contacts
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('contact');
CREATE TRIGGER contacts_delete_updates_the_count AFTER DELETE ON contacts
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('contact');
CREATE TRIGGER contracts_insert_updates_the_count AFTER INSERT ON contracts
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('contract');
CREATE TRIGGER contracts_delete_updates_the_count AFTER DELETE ON contracts
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('contract');
CREATE TRIGGER customers_insert_updates_the_count AFTER INSERT ON customers
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('customer');
CREATE TRIGGER customers_delete_updates_the_count AFTER DELETE ON customers
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('customer');
CREATE TRIGGER emails_insert_updates_the_count AFTER INSERT ON emails
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('email');
CREATE TRIGGER emails_delete_updates_the_count AFTER DELETE ON emails
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('email');
CREATE TRIGGER fields_insert_updates_the_count AFTER INSERT ON fields
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('field');
CREATE TRIGGER fields_delete_updates_the_count AFTER DELETE ON fields
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('field');
CREATE TRIGGER notes_insert_updates_the_count AFTER INSERT ON notes
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('note');
CREATE TRIGGER notes_delete_updates_the_count AFTER DELETE ON notes
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('note');
CREATE TRIGGER roles_insert_updates_the_count AFTER INSERT ON roles
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('role');
CREATE TRIGGER roles_delete_updates_the_count AFTER DELETE ON roles
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('role');
CREATE TRIGGER tasks_insert_updates_the_count AFTER INSERT ON tasks
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('task');
CREATE TRIGGER tasks_delete_updates_the_count AFTER DELETE ON tasks
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('task');
CREATE TRIGGER templates_insert_updates_the_count AFTER INSERT ON templates
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('template');
CREATE TRIGGER templates_delete_updates_the_count AFTER DELETE ON templates
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('template');
CREATE TRIGGER todos_insert_updates_the_count AFTER INSERT ON todos
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('todo');
CREATE TRIGGER todos_delete_updates_the_count AFTER DELETE ON todos
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('todo');
CREATE TRIGGER users_insert_updates_the_count AFTER INSERT ON users
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('user');
CREATE TRIGGER users_delete_updates_the_count AFTER DELETE ON users
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('user');
CREATE TRIGGER webhooks_insert_updates_the_count AFTER INSERT ON webhooks
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('webhook');
CREATE TRIGGER webhooks_delete_updates_the_count AFTER DELETE ON webhooks
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION updates_the_count('webhook');
