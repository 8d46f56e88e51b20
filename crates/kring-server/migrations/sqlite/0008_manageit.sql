-- The ManageIt dialect (issue 6) over the same customers and fields as Cirqll (DESIGN §1).
-- A ManageIt customer is a person with a business: `name` of Cirqll is the business's name
-- (`business_information.company_name`); the person's names and the other business details
-- are columns Cirqll does not show.

ALTER TABLE customers ADD COLUMN first_name TEXT;
ALTER TABLE customers ADD COLUMN last_name TEXT;
ALTER TABLE customers ADD COLUMN stripe_customer_flag BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN company_phone TEXT;
ALTER TABLE customers ADD COLUMN company_email TEXT;
ALTER TABLE customers ADD COLUMN company_website TEXT;
ALTER TABLE customers ADD COLUMN address_1 TEXT;
ALTER TABLE customers ADD COLUMN address_2 TEXT;
ALTER TABLE customers ADD COLUMN country TEXT;
ALTER TABLE customers ADD COLUMN city TEXT;
ALTER TABLE customers ADD COLUMN state TEXT;
ALTER TABLE customers ADD COLUMN zip_code TEXT;
ALTER TABLE customers ADD COLUMN fax TEXT;
-- ManageIt refuses a second customer with the same email.
CREATE INDEX customers_company_email ON customers (company_id, lower(email));

-- What ManageIt's custom-field configuration has beyond Cirqll's field.
ALTER TABLE fields ADD COLUMN user_id INTEGER REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE fields ADD COLUMN field_key TEXT;
ALTER TABLE fields ADD COLUMN description TEXT;
ALTER TABLE fields ADD COLUMN placeholder TEXT;
ALTER TABLE fields ADD COLUMN location INTEGER NOT NULL DEFAULT 3;
ALTER TABLE fields ADD COLUMN field_group TEXT;
-- fileConfig of a file field: accepted formats (JSON list of labels), one or many, how many.
ALTER TABLE fields ADD COLUMN accept_file TEXT;
ALTER TABLE fields ADD COLUMN allow_multiple BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE fields ADD COLUMN max_files INTEGER NOT NULL DEFAULT 0;
CREATE INDEX fields_user ON fields (user_id);

-- A customer's portal permissions (invoice, contract, proposal, meeting × create, edit,
-- delete, view); permission ids are fixed (1–16), so no catalog table is needed.
CREATE TABLE customer_permissions (
    company_id     INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    customer_id    INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    permission_id  INTEGER NOT NULL,
    created_at     TEXT    NOT NULL,
    PRIMARY KEY (customer_id, permission_id)
);
CREATE INDEX customer_permissions_company ON customer_permissions (company_id);

-- Stored files are found by their uuid (download URLs) and by the record they belong to.
CREATE INDEX media_company_uuid ON media (company_id, uuid);

-- Files whose media rows were deleted, written by the deleting transaction itself (the trigger
-- below, so no way of deleting a media row can forget its file); a sweeper removes the bytes
-- afterwards, so a crash or an unreachable bucket delays the removal but never loses it.
CREATE TABLE file_deletions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id  INTEGER NOT NULL,
    uuid        TEXT    NOT NULL,
    created_at  TEXT    NOT NULL
);
-- The time in Kring's fixed-width format (`2025-07-29T12:32:45.123000Z`).
CREATE TRIGGER media_file_forgotten AFTER DELETE ON media
BEGIN
    INSERT INTO file_deletions (company_id, uuid, created_at)
    VALUES (OLD.company_id, OLD.uuid,
            strftime('%Y-%m-%dT%H:%M:', 'now') || strftime('%f', 'now') || '000Z');
END;
