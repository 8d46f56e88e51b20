-- no-transaction
-- A user's e-mail address is unique within its company, no longer across companies (a company
-- must not learn that another has an address). SQLite drops a column's UNIQUE only by
-- rebuilding the table, and the rebuild must run with foreign keys off (dropping the old table
-- would otherwise cascade into every table that references users), which cannot change inside
-- a transaction: hence no-transaction, and a transaction of its own. Running it again after a
-- crash between its commit and its record is harmless: it rebuilds the table once more.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE users_rebuilt (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id  INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    role_id     INTEGER NOT NULL REFERENCES roles(id),
    name        TEXT    NOT NULL,
    email       TEXT    NOT NULL,
    password    TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    phone       TEXT,
    locale      TEXT
);
INSERT INTO users_rebuilt (id, company_id, role_id, name, email, password, created_at,
                           updated_at, phone, locale)
    SELECT id, company_id, role_id, name, email, password, created_at, updated_at, phone, locale
    FROM users;
-- Ids of deleted users are never given again (AUTOINCREMENT): carry the counter over.
DELETE FROM sqlite_sequence WHERE name = 'users_rebuilt';
INSERT INTO sqlite_sequence (name, seq) SELECT 'users_rebuilt', seq FROM sqlite_sequence
    WHERE name = 'users';
DROP TABLE users;
ALTER TABLE users_rebuilt RENAME TO users;
CREATE INDEX users_company ON users (company_id, id);
CREATE INDEX users_role ON users (role_id);
CREATE UNIQUE INDEX users_company_email ON users (company_id, email);
COMMIT;
PRAGMA foreign_keys = ON;
