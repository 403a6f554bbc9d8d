-- +goose Up
-- Accounts of the web interface; emails are stored lowercased.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    admin         INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE org_members (
    user_id INTEGER NOT NULL REFERENCES users (id),
    org_id  INTEGER NOT NULL REFERENCES organizations (id),
    PRIMARY KEY (user_id, org_id)
) WITHOUT ROWID;

-- Only the SHA-256 of a session cookie is kept.
CREATE TABLE sessions (
    hash       TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    csrf       TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);

-- +goose Down
DROP TABLE sessions;
DROP TABLE org_members;
DROP TABLE users;
