-- +goose Up
-- Roles: existing administrators own their organizations, and an
-- organization left without an owner gets its earliest member as one, so
-- no installation loses access to its settings on upgrade.
ALTER TABLE org_members ADD COLUMN role TEXT NOT NULL DEFAULT 'member';
UPDATE org_members SET role = 'owner' WHERE user_id IN (SELECT id FROM users WHERE admin = 1);
UPDATE org_members SET role = 'owner'
 WHERE NOT EXISTS (SELECT 1 FROM org_members o WHERE o.org_id = org_members.org_id AND o.role = 'owner')
   AND user_id = (SELECT min(o.user_id) FROM org_members o WHERE o.org_id = org_members.org_id);
CREATE INDEX org_members_org ON org_members (org_id);

CREATE TABLE teams (
    id         INTEGER PRIMARY KEY,
    org_id     INTEGER NOT NULL REFERENCES organizations (id),
    slug       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (org_id, slug)
);

CREATE TABLE team_members (
    team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id),
    PRIMARY KEY (team_id, user_id)
) WITHOUT ROWID;
CREATE INDEX team_members_user ON team_members (user_id);

CREATE TABLE team_projects (
    team_id    INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    PRIMARY KEY (team_id, project_id)
) WITHOUT ROWID;
CREATE INDEX team_projects_project ON team_projects (project_id);

-- Only the nonce of an invitation link is stored; the link also carries
-- its signature. used_at = 0 means still usable.
CREATE TABLE invitations (
    id         INTEGER PRIMARY KEY,
    org_id     INTEGER NOT NULL REFERENCES organizations (id),
    email      TEXT    NOT NULL DEFAULT '',
    role       TEXT    NOT NULL,
    nonce      TEXT    NOT NULL UNIQUE,
    created_by INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX invitations_org ON invitations (org_id);

CREATE TABLE signing_keys (
    purpose TEXT PRIMARY KEY,
    secret  BLOB NOT NULL
) WITHOUT ROWID;

-- Tokens users made for themselves; organization tokens have no row.
CREATE TABLE api_token_users (
    token_id INTEGER PRIMARY KEY REFERENCES api_tokens (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id),
    suffix   TEXT    NOT NULL
);
CREATE INDEX api_token_users_user ON api_token_users (user_id);

-- A project's symbol sources: a JSON array in Sentry Symbolicator's form.
CREATE TABLE project_sources (
    project_id INTEGER PRIMARY KEY REFERENCES projects (id),
    config     TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE project_sources;
DROP TABLE api_token_users;
DROP TABLE signing_keys;
DROP TABLE invitations;
DROP TABLE team_projects;
DROP TABLE team_members;
DROP TABLE teams;
DROP INDEX org_members_org;
ALTER TABLE org_members DROP COLUMN role;
