-- A user's e-mail address is unique within its company, no longer across companies (a company
-- must not learn that another has an address).
ALTER TABLE users DROP CONSTRAINT users_email_key;
CREATE UNIQUE INDEX users_company_email ON users (company_id, email);
