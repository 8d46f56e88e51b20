-- Built-in roles are known by a fixed marker, not by their name (a role renamed to
-- company_owner gains nothing), and keep the highest permission id they were last granted,
-- so a restart grants them only permissions that are new since, never one a company took away.
ALTER TABLE roles ADD COLUMN builtin {text};
ALTER TABLE roles ADD COLUMN granted_through {int} NOT NULL DEFAULT 0;
UPDATE roles SET builtin = 'owner' WHERE name = 'company_owner';
UPDATE roles SET builtin = 'viewer' WHERE name = 'company_viewer';
UPDATE roles SET granted_through = (SELECT COALESCE(MAX(id), 0) FROM permissions)
    WHERE builtin IS NOT NULL;
CREATE UNIQUE INDEX roles_builtin ON roles (company_id, builtin);
