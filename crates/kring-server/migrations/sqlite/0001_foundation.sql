-- Kring foundation schema (SQLite). Timestamps are TEXT in Kring's fixed-width UTC format
-- (2025-07-29T12:32:45.000000Z), written by the application so text order is time order.
-- AUTOINCREMENT so an id is never reused after a delete.

CREATE TABLE companies (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

CREATE TABLE permissions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    created_at  TEXT    NOT NULL
);

CREATE TABLE roles (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id  INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    UNIQUE (company_id, name)
);

CREATE TABLE role_permissions (
    role_id       INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    permission_id INTEGER NOT NULL REFERENCES permissions(id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, permission_id)
);
CREATE INDEX role_permissions_permission ON role_permissions (permission_id);

CREATE TABLE users (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id  INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    role_id     INTEGER NOT NULL REFERENCES roles(id),
    name        TEXT    NOT NULL,
    email       TEXT    NOT NULL UNIQUE,
    password    TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX users_company ON users (company_id, id);
CREATE INDEX users_role ON users (role_id);

CREATE TABLE personal_access_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id   INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    scopes       TEXT    NOT NULL,
    expires_at   TEXT,
    revoked      BOOLEAN NOT NULL DEFAULT 0,
    created_at   TEXT    NOT NULL
);
CREATE INDEX personal_access_tokens_user ON personal_access_tokens (user_id);
CREATE INDEX personal_access_tokens_company ON personal_access_tokens (company_id);

CREATE TABLE customers (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id         INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    user_id            INTEGER REFERENCES users(id) ON DELETE SET NULL,
    name               TEXT    NOT NULL,
    description        TEXT,
    coc                TEXT,
    email              TEXT,
    phone              TEXT,
    next_contact       TEXT,
    show_on_map        BOOLEAN NOT NULL DEFAULT 0,
    next_contact_note  TEXT,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL
);
CREATE INDEX customers_company ON customers (company_id, id);
CREATE INDEX customers_user ON customers (user_id);

CREATE TABLE fields (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id  INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    model       TEXT    NOT NULL,
    required    BOOLEAN NOT NULL DEFAULT 0,
    position    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX fields_company ON fields (company_id, id);
CREATE INDEX fields_company_model ON fields (company_id, model);

-- One value per field per record. model_type names the resource (customer, contact, ...).
CREATE TABLE field_values (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id  INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    field_id    INTEGER NOT NULL REFERENCES fields(id) ON DELETE CASCADE,
    model_type  TEXT    NOT NULL,
    model_id    INTEGER NOT NULL,
    value       TEXT,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    UNIQUE (model_type, model_id, field_id)
);
CREATE INDEX field_values_field ON field_values (field_id);
CREATE INDEX field_values_company ON field_values (company_id, id);

-- Who changed what (spatie/laravel-activitylog's shape). properties is JSON text.
CREATE TABLE activity_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id    INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    log_name      TEXT    NOT NULL,
    description   TEXT    NOT NULL,
    subject_type  TEXT    NOT NULL,
    subject_id    INTEGER NOT NULL,
    event         TEXT    NOT NULL,
    causer_type   TEXT,
    causer_id     INTEGER,
    properties    TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
CREATE INDEX activity_log_subject ON activity_log (company_id, subject_type, subject_id);
CREATE INDEX activity_log_causer ON activity_log (causer_id);

-- Exact row counts per company and resource, kept in the same transaction as every insert and
-- delete, so an unfiltered list's `total` is one primary-key read instead of a scan.
CREATE TABLE resource_counts (
    company_id  INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    resource    TEXT    NOT NULL,
    total       INTEGER NOT NULL,
    PRIMARY KEY (company_id, resource)
);
