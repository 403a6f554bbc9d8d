-- +goose Up
-- Accounts of the web interface and their access: the relations of the
-- SQLite meta migrations 00003 and 00006. Emails are stored lowercased.
CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text        NOT NULL UNIQUE,
    password_hash text        NOT NULL,
    admin         boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL
);

CREATE TABLE org_members (
    user_id bigint NOT NULL REFERENCES users (id),
    org_id  bigint NOT NULL REFERENCES organizations (id),
    role    text   NOT NULL DEFAULT 'member',
    PRIMARY KEY (user_id, org_id)
);
CREATE INDEX org_members_org ON org_members (org_id);

-- Only the SHA-256 of a session cookie is kept.
CREATE TABLE sessions (
    hash       text        PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (id),
    csrf       text        NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE teams (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id     bigint      NOT NULL REFERENCES organizations (id),
    slug       text        NOT NULL,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (org_id, slug)
);

CREATE TABLE team_members (
    team_id bigint NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users (id),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

CREATE TABLE team_projects (
    team_id    bigint NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    project_id bigint NOT NULL REFERENCES projects (id),
    PRIMARY KEY (team_id, project_id)
);
CREATE INDEX team_projects_project ON team_projects (project_id);

-- Only the nonce of an invitation link is stored; the link also carries
-- its signature. A NULL used_at means still usable.
CREATE TABLE invitations (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id     bigint      NOT NULL REFERENCES organizations (id),
    email      text        NOT NULL DEFAULT '',
    role       text        NOT NULL,
    nonce      text        NOT NULL UNIQUE,
    created_by bigint      NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX invitations_org ON invitations (org_id);

CREATE TABLE signing_keys (
    purpose text  PRIMARY KEY,
    secret  bytea NOT NULL
);

-- Tokens users made for themselves; organization tokens have no row.
CREATE TABLE api_token_users (
    token_id bigint PRIMARY KEY REFERENCES api_tokens (id) ON DELETE CASCADE,
    user_id  bigint NOT NULL REFERENCES users (id),
    suffix   text   NOT NULL
);
CREATE INDEX api_token_users_user ON api_token_users (user_id);

-- A project's symbol sources, kept as the text the user saved (not jsonb,
-- which would reorder keys the form shows back).
CREATE TABLE project_sources (
    project_id bigint      PRIMARY KEY REFERENCES projects (id),
    config     text        NOT NULL,
    updated_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE project_sources;
DROP TABLE api_token_users;
DROP TABLE signing_keys;
DROP TABLE invitations;
DROP TABLE team_projects;
DROP TABLE team_members;
DROP TABLE teams;
DROP TABLE sessions;
DROP TABLE org_members;
DROP TABLE users;
