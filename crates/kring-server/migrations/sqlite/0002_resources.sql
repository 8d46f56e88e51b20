-- Every Cirqll resource beyond the foundation (spec/cirqll.md §6). Business references are
-- plain REFERENCES (no database cascade): the engine deletes or detaches dependants itself,
-- so row counters, field values and the activity log stay right; the foreign key only catches
-- a mistake. Children that exist only inside a parent's body (subtasks, template items, field
-- options) and pivots cascade in the database.

CREATE TABLE addresses (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id    INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    street        TEXT,
    house_number  TEXT,
    postal_code   TEXT,
    city          TEXT,
    country       TEXT,
    latitude      REAL,
    longitude     REAL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX addresses_company ON addresses (company_id, id);

ALTER TABLE companies ADD COLUMN coc TEXT;
ALTER TABLE companies ADD COLUMN email TEXT;
ALTER TABLE companies ADD COLUMN phone TEXT;
ALTER TABLE companies ADD COLUMN address_id INTEGER REFERENCES addresses(id);
CREATE INDEX companies_address ON companies (address_id);

ALTER TABLE users ADD COLUMN phone TEXT;
ALTER TABLE users ADD COLUMN locale TEXT;

CREATE TABLE origins (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id  INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX origins_company ON origins (company_id, id);

ALTER TABLE customers ADD COLUMN origin_id INTEGER REFERENCES origins(id);
ALTER TABLE customers ADD COLUMN address_id INTEGER REFERENCES addresses(id);
CREATE INDEX customers_origin ON customers (origin_id);
CREATE INDEX customers_address ON customers (address_id);
CREATE INDEX customers_company_name ON customers (company_id, name);
CREATE INDEX customers_company_next_contact ON customers (company_id, next_contact);

CREATE TABLE contacts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id   INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    user_id      INTEGER REFERENCES users(id),
    customer_id  INTEGER REFERENCES customers(id),
    first_name   TEXT NOT NULL,
    last_name    TEXT,
    email        TEXT,
    phone        TEXT,
    mobile       TEXT,
    function     TEXT,
    description  TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX contacts_company ON contacts (company_id, id);
CREATE INDEX contacts_user ON contacts (user_id);
CREATE INDEX contacts_customer ON contacts (customer_id);
CREATE INDEX contacts_company_last_name ON contacts (company_id, last_name);

-- The many-to-many between customers and contacts (a contact's customer_id is its primary one).
CREATE TABLE customer_contact (
    customer_id  INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    contact_id   INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    PRIMARY KEY (customer_id, contact_id)
);
CREATE INDEX customer_contact_contact ON customer_contact (contact_id);

CREATE TABLE tasks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id   INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    user_id      INTEGER REFERENCES users(id),
    customer_id  INTEGER REFERENCES customers(id),
    contact_id   INTEGER REFERENCES contacts(id),
    name         TEXT NOT NULL,
    description  TEXT,
    start_date   TEXT,
    end_date     TEXT,
    done         BOOLEAN NOT NULL DEFAULT 0,
    priority     INTEGER,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX tasks_company ON tasks (company_id, id);
CREATE INDEX tasks_user ON tasks (user_id);
CREATE INDEX tasks_customer ON tasks (customer_id);
CREATE INDEX tasks_contact ON tasks (contact_id);
CREATE INDEX tasks_company_end_date ON tasks (company_id, end_date);

CREATE TABLE subtasks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id  INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    task_id     INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    done        BOOLEAN NOT NULL DEFAULT 0,
    position    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX subtasks_company ON subtasks (company_id, id);
CREATE INDEX subtasks_task ON subtasks (task_id);

CREATE TABLE appointments (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id   INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    user_id      INTEGER REFERENCES users(id),
    customer_id  INTEGER REFERENCES customers(id),
    contact_id   INTEGER REFERENCES contacts(id),
    name         TEXT NOT NULL,
    description  TEXT,
    location     TEXT,
    start_date   TEXT NOT NULL,
    end_date     TEXT,
    all_day      BOOLEAN NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX appointments_company ON appointments (company_id, id);
CREATE INDEX appointments_user ON appointments (user_id);
CREATE INDEX appointments_customer ON appointments (customer_id);
CREATE INDEX appointments_contact ON appointments (contact_id);
CREATE INDEX appointments_company_start_date ON appointments (company_id, start_date);

CREATE TABLE chances (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id     INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    user_id        INTEGER REFERENCES users(id),
    customer_id    INTEGER REFERENCES customers(id),
    contact_id     INTEGER REFERENCES contacts(id),
    name           TEXT NOT NULL,
    description    TEXT,
    price          REAL,
    chance         INTEGER,
    status         TEXT NOT NULL,
    expected_date  TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX chances_company ON chances (company_id, id);
CREATE INDEX chances_user ON chances (user_id);
CREATE INDEX chances_customer ON chances (customer_id);
CREATE INDEX chances_contact ON chances (contact_id);

CREATE TABLE assignments (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id   INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    user_id      INTEGER REFERENCES users(id),
    customer_id  INTEGER REFERENCES customers(id),
    contact_id   INTEGER REFERENCES contacts(id),
    chance_id    INTEGER REFERENCES chances(id),
    name         TEXT NOT NULL,
    description  TEXT,
    price        REAL,
    price_type   INTEGER NOT NULL,
    start_date   TEXT,
    end_date     TEXT,
    status       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX assignments_company ON assignments (company_id, id);
CREATE INDEX assignments_user ON assignments (user_id);
CREATE INDEX assignments_customer ON assignments (customer_id);
CREATE INDEX assignments_contact ON assignments (contact_id);
CREATE INDEX assignments_chance ON assignments (chance_id);

CREATE TABLE contracts (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id        INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    user_id           INTEGER REFERENCES users(id),
    customer_id       INTEGER NOT NULL REFERENCES customers(id),
    contact_id        INTEGER NOT NULL REFERENCES contacts(id),
    chance_id         INTEGER NOT NULL REFERENCES chances(id),
    name              TEXT NOT NULL,
    description       TEXT,
    price             REAL NOT NULL,
    price_type        INTEGER NOT NULL,
    calculated_price  REAL,
    start_date        TEXT NOT NULL,
    end_date          TEXT NOT NULL,
    reminder_date     TEXT,
    import_id         INTEGER,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX contracts_company ON contracts (company_id, id);
CREATE INDEX contracts_user ON contracts (user_id);
CREATE INDEX contracts_customer ON contracts (customer_id);
CREATE INDEX contracts_contact ON contracts (contact_id);
CREATE INDEX contracts_chance ON contracts (chance_id);
CREATE INDEX contracts_company_end_date ON contracts (company_id, end_date);

CREATE TABLE emails (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id   INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    user_id      INTEGER REFERENCES users(id),
    customer_id  INTEGER REFERENCES customers(id),
    contact_id   INTEGER REFERENCES contacts(id),
    subject      TEXT NOT NULL,
    body         TEXT,
    "from"       TEXT,
    "to"         TEXT,
    cc           TEXT,
    bcc          TEXT,
    sent_at      TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX emails_company ON emails (company_id, id);
CREATE INDEX emails_user ON emails (user_id);
CREATE INDEX emails_customer ON emails (customer_id);
CREATE INDEX emails_contact ON emails (contact_id);

CREATE TABLE field_options (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id  INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    field_id    INTEGER NOT NULL REFERENCES fields(id) ON DELETE CASCADE,
    value       TEXT NOT NULL,
    position    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX field_options_company ON field_options (company_id, id);
CREATE INDEX field_options_field ON field_options (field_id);
-- Filters on custom field values look a value up per record.
CREATE INDEX field_values_model ON field_values (model_id, model_type, field_id);

CREATE TABLE notes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id      INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    user_id         INTEGER REFERENCES users(id),
    customer_id     INTEGER REFERENCES customers(id),
    contact_id      INTEGER REFERENCES contacts(id),
    task_id         INTEGER REFERENCES tasks(id),
    appointment_id  INTEGER REFERENCES appointments(id),
    chance_id       INTEGER REFERENCES chances(id),
    assignment_id   INTEGER REFERENCES assignments(id),
    contract_id     INTEGER REFERENCES contracts(id),
    content         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX notes_company ON notes (company_id, id);
CREATE INDEX notes_user ON notes (user_id);
CREATE INDEX notes_customer ON notes (customer_id);
CREATE INDEX notes_contact ON notes (contact_id);
CREATE INDEX notes_task ON notes (task_id);
CREATE INDEX notes_appointment ON notes (appointment_id);
CREATE INDEX notes_chance ON notes (chance_id);
CREATE INDEX notes_assignment ON notes (assignment_id);
CREATE INDEX notes_contract ON notes (contract_id);

CREATE TABLE todos (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id   INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    user_id      INTEGER REFERENCES users(id),
    name         TEXT NOT NULL,
    description  TEXT,
    done         BOOLEAN NOT NULL DEFAULT 0,
    due_date     TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX todos_company ON todos (company_id, id);
CREATE INDEX todos_user ON todos (user_id);

CREATE TABLE templates (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id  INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    user_id     INTEGER REFERENCES users(id),
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX templates_company ON templates (company_id, id);
CREATE INDEX templates_user ON templates (user_id);

CREATE TABLE template_items (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id   INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    template_id  INTEGER NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT,
    position     INTEGER NOT NULL DEFAULT 0,
    offset_days  INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX template_items_company ON template_items (company_id, id);
CREATE INDEX template_items_template ON template_items (template_id);

-- One row per company: the settings object of GET/PATCH /api/setting.
CREATE TABLE settings (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id        INTEGER NOT NULL UNIQUE REFERENCES companies(id) ON DELETE CASCADE,
    locale            TEXT NOT NULL,
    timezone          TEXT NOT NULL,
    currency          TEXT NOT NULL,
    date_format       TEXT NOT NULL,
    week_starts_on    INTEGER NOT NULL,
    default_task_days INTEGER NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);

CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id  INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    user_id     INTEGER REFERENCES users(id),
    url         TEXT NOT NULL,
    event       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX webhooks_company ON webhooks (company_id, id);
CREATE INDEX webhooks_company_event ON webhooks (company_id, event);
CREATE INDEX webhooks_user ON webhooks (user_id);

-- Files attached to records (spatie/laravel-medialibrary's shape); the bytes live in storage.
CREATE TABLE media (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id       INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    model_type       TEXT NOT NULL,
    model_id         INTEGER NOT NULL,
    uuid             TEXT NOT NULL UNIQUE,
    collection_name  TEXT NOT NULL,
    name             TEXT NOT NULL,
    file_name        TEXT NOT NULL,
    mime_type        TEXT,
    size             INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX media_company ON media (company_id, id);
CREATE INDEX media_model ON media (model_id, model_type);

CREATE INDEX activity_log_subject_id ON activity_log (subject_id, subject_type);
