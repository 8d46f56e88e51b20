-- OAuth2 (issue 5): clients, single-use authorization codes, and refresh tokens. Access tokens
-- live with personal access tokens (the same lookup serves both); `client_id` says which client
-- a token was issued to and `family` ties every token of one grant together, so a replayed
-- code or refresh token can revoke them all. Secrets, codes and tokens are stored as SHA-256.

CREATE TABLE oauth_clients (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id    INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    secret_hash   TEXT,
    redirect      TEXT NOT NULL,
    confidential  BOOLEAN NOT NULL,
    revoked       BOOLEAN NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX oauth_clients_user ON oauth_clients (user_id);
CREATE INDEX oauth_clients_company ON oauth_clients (company_id, id);

CREATE TABLE oauth_codes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    code_hash       TEXT NOT NULL UNIQUE,
    client_id       INTEGER NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    scopes          TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    code_challenge  TEXT NOT NULL,
    family          TEXT NOT NULL,
    used            BOOLEAN NOT NULL DEFAULT 0,
    expires_at      TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX oauth_codes_client ON oauth_codes (client_id);
CREATE INDEX oauth_codes_user ON oauth_codes (user_id);

ALTER TABLE personal_access_tokens ADD COLUMN client_id INTEGER REFERENCES oauth_clients(id) ON DELETE CASCADE;
ALTER TABLE personal_access_tokens ADD COLUMN family TEXT;
CREATE INDEX personal_access_tokens_client ON personal_access_tokens (client_id);
CREATE INDEX personal_access_tokens_family ON personal_access_tokens (family);

CREATE TABLE oauth_refresh_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash   TEXT NOT NULL UNIQUE,
    client_id    INTEGER NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    family       TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    revoked      BOOLEAN NOT NULL DEFAULT 0,
    expires_at   TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX oauth_refresh_tokens_family ON oauth_refresh_tokens (family);
CREATE INDEX oauth_refresh_tokens_client ON oauth_refresh_tokens (client_id);
CREATE INDEX oauth_refresh_tokens_user ON oauth_refresh_tokens (user_id);
