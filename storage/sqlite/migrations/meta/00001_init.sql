-- +goose Up
-- Times are integer microseconds since the Unix epoch; lists are JSON arrays.
CREATE TABLE organizations (
    id         INTEGER PRIMARY KEY,
    slug       TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE projects (
    id             INTEGER PRIMARY KEY,
    org_id         INTEGER NOT NULL REFERENCES organizations (id),
    slug           TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    platform       TEXT    NOT NULL DEFAULT '',
    disabled       INTEGER NOT NULL DEFAULT 0,
    scrub          INTEGER NOT NULL DEFAULT 0,
    scrub_fields   TEXT    NOT NULL DEFAULT '[]',
    -- next_short_seq numbers the project's issues (the short id).
    next_short_seq INTEGER NOT NULL DEFAULT 1,
    created_at     INTEGER NOT NULL,
    UNIQUE (org_id, slug)
);

CREATE TABLE project_keys (
    id                   INTEGER PRIMARY KEY,
    project_id           INTEGER NOT NULL REFERENCES projects (id),
    public_key           TEXT    NOT NULL UNIQUE,
    label                TEXT    NOT NULL DEFAULT '',
    disabled             INTEGER NOT NULL DEFAULT 0,
    rate_limit_count     INTEGER NOT NULL DEFAULT 0,
    rate_limit_window_ms INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL
);
CREATE INDEX project_keys_project ON project_keys (project_id);

CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    org_id     INTEGER NOT NULL REFERENCES organizations (id),
    token_hash TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL DEFAULT '',
    scopes     TEXT    NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL
);

CREATE TABLE issues (
    id            INTEGER PRIMARY KEY,
    project_id    INTEGER NOT NULL REFERENCES projects (id),
    short_seq     INTEGER NOT NULL,
    type          TEXT    NOT NULL,
    title         TEXT    NOT NULL,
    culprit       TEXT    NOT NULL,
    level         TEXT    NOT NULL,
    platform      TEXT    NOT NULL,
    metadata      TEXT    NOT NULL DEFAULT '{}',
    status        TEXT    NOT NULL DEFAULT 'unresolved',
    substatus     TEXT    NOT NULL DEFAULT 'new',
    times_seen    INTEGER NOT NULL DEFAULT 0,
    user_count    INTEGER NOT NULL DEFAULT 0,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    first_release TEXT    NOT NULL DEFAULT '',
    last_release  TEXT    NOT NULL DEFAULT '',
    environments  TEXT    NOT NULL DEFAULT '[]',
    resolved_at   INTEGER NOT NULL DEFAULT 0,
    last_event_id TEXT    NOT NULL DEFAULT '',
    UNIQUE (project_id, short_seq)
);
CREATE INDEX issues_last_seen ON issues (project_id, last_seen DESC);
CREATE INDEX issues_first_seen ON issues (project_id, first_seen DESC);
CREATE INDEX issues_times_seen ON issues (project_id, times_seen DESC);

-- Several hashes may lead to one issue (a grouping change, a merge).
CREATE TABLE issue_hashes (
    project_id INTEGER NOT NULL,
    hash       TEXT    NOT NULL,
    issue_id   INTEGER NOT NULL REFERENCES issues (id),
    PRIMARY KEY (project_id, hash)
) WITHOUT ROWID;

-- The events already counted, which makes recording occurrences idempotent.
CREATE TABLE issue_events (
    project_id INTEGER NOT NULL,
    event_id   TEXT    NOT NULL,
    issue_id   INTEGER NOT NULL,
    PRIMARY KEY (project_id, event_id)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE issue_events;
DROP TABLE issue_hashes;
DROP TABLE issues;
DROP TABLE api_tokens;
DROP TABLE project_keys;
DROP TABLE projects;
DROP TABLE organizations;
