-- +goose Up
-- The relations of the SQLite meta, events and queue stores in one schema.
-- Times are timestamptz (microseconds, like the SQLite integers); lists are
-- text arrays and maps jsonb.
CREATE TABLE organizations (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug       text        NOT NULL UNIQUE,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE projects (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id         bigint      NOT NULL REFERENCES organizations (id),
    slug           text        NOT NULL,
    name           text        NOT NULL,
    platform       text        NOT NULL DEFAULT '',
    disabled       boolean     NOT NULL DEFAULT false,
    scrub          boolean     NOT NULL DEFAULT false,
    scrub_fields   text[]      NOT NULL DEFAULT '{}',
    -- next_short_seq numbers the project's issues (the short id); the row
    -- lock taken by incrementing it orders concurrent issue creation.
    next_short_seq bigint      NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL,
    UNIQUE (org_id, slug)
);

CREATE TABLE project_keys (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id           bigint      NOT NULL REFERENCES projects (id),
    public_key           text        NOT NULL UNIQUE,
    label                text        NOT NULL DEFAULT '',
    disabled             boolean     NOT NULL DEFAULT false,
    rate_limit_count     integer     NOT NULL DEFAULT 0,
    rate_limit_window_ms bigint      NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL
);
CREATE INDEX project_keys_project ON project_keys (project_id);

CREATE TABLE api_tokens (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id     bigint      NOT NULL REFERENCES organizations (id),
    token_hash text        NOT NULL UNIQUE,
    name       text        NOT NULL DEFAULT '',
    scopes     text[]      NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL
);

-- Tokens restricted to some projects of their organization.
CREATE TABLE api_token_projects (
    token_id   bigint NOT NULL REFERENCES api_tokens (id),
    project_id bigint NOT NULL REFERENCES projects (id),
    PRIMARY KEY (token_id, project_id)
);

CREATE TABLE issues (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id    bigint      NOT NULL REFERENCES projects (id),
    short_seq     bigint      NOT NULL,
    type          text        NOT NULL,
    title         text        NOT NULL,
    culprit       text        NOT NULL,
    level         text        NOT NULL,
    platform      text        NOT NULL,
    metadata      jsonb       NOT NULL DEFAULT '{}',
    status        text        NOT NULL DEFAULT 'unresolved',
    substatus     text        NOT NULL DEFAULT 'new',
    times_seen    bigint      NOT NULL DEFAULT 0,
    user_count    bigint      NOT NULL DEFAULT 0,
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL,
    first_release text        NOT NULL DEFAULT '',
    last_release  text        NOT NULL DEFAULT '',
    environments  text[]      NOT NULL DEFAULT '{}',
    resolved_at   timestamptz,
    last_event_id text        NOT NULL DEFAULT '',
    UNIQUE (project_id, short_seq)
);
CREATE INDEX issues_last_seen ON issues (project_id, last_seen DESC, id DESC);
CREATE INDEX issues_first_seen ON issues (project_id, first_seen DESC, id DESC);
CREATE INDEX issues_times_seen ON issues (project_id, times_seen DESC, id DESC);

-- Several hashes may lead to one issue (a grouping change, a merge).
CREATE TABLE issue_hashes (
    project_id bigint NOT NULL,
    hash       text   NOT NULL,
    issue_id   bigint NOT NULL REFERENCES issues (id),
    PRIMARY KEY (project_id, hash)
);

-- The events already counted, which makes recording occurrences idempotent.
CREATE TABLE issue_events (
    project_id bigint NOT NULL,
    event_id   text   NOT NULL,
    issue_id   bigint NOT NULL,
    PRIMARY KEY (project_id, event_id)
);

-- One row per object of an uploaded debug file, as in SQLite.
CREATE TABLE debug_files (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id bigint      NOT NULL REFERENCES projects (id),
    checksum   text        NOT NULL,
    blob_key   text        NOT NULL,
    name       text        NOT NULL DEFAULT '',
    debug_id   text        NOT NULL,
    code_id    text        NOT NULL DEFAULT '',
    arch       text        NOT NULL DEFAULT '',
    format     text        NOT NULL,
    kind       text        NOT NULL DEFAULT '',
    features   text[]      NOT NULL DEFAULT '{}',
    size       bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (project_id, checksum, debug_id, arch)
);
CREATE INDEX debug_files_debug_id ON debug_files (project_id, debug_id);
CREATE INDEX debug_files_code_id ON debug_files (project_id, code_id) WHERE code_id <> '';
CREATE INDEX debug_files_blob ON debug_files (blob_key);

-- Processed events. No foreign keys: in production this table may live in
-- another database than the metadata.
CREATE TABLE events (
    project_id  bigint      NOT NULL,
    event_id    text        NOT NULL,
    issue_id    bigint      NOT NULL,
    timestamp   timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    level       text        NOT NULL DEFAULT '',
    platform    text        NOT NULL DEFAULT '',
    release     text        NOT NULL DEFAULT '',
    environment text        NOT NULL DEFAULT '',
    title       text        NOT NULL DEFAULT '',
    user_key    text        NOT NULL DEFAULT '',
    data        bytea       NOT NULL,
    PRIMARY KEY (project_id, event_id)
);
CREATE INDEX events_issue ON events (issue_id, timestamp DESC, event_id DESC);

-- The distinct users of each issue, for user counts.
CREATE TABLE issue_users (
    issue_id bigint NOT NULL,
    user_key text   NOT NULL,
    PRIMARY KEY (issue_id, user_key)
);

-- The queue: one row per message until it is acknowledged. state: 0
-- pending (ready, leased or backing off), 2 dead. A pending message is
-- deliverable once visible_at has passed on the database's clock, which
-- every process shares.
CREATE TABLE messages (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key         text        NOT NULL,
    body        bytea       NOT NULL,
    state       smallint    NOT NULL DEFAULT 0,
    leased      boolean     NOT NULL DEFAULT false,
    attempts    integer     NOT NULL DEFAULT 0,
    visible_at  timestamptz NOT NULL,
    enqueued_at timestamptz NOT NULL,
    last_error  text        NOT NULL DEFAULT ''
);
CREATE INDEX messages_pending ON messages (visible_at, id) WHERE state = 0;
CREATE INDEX messages_dead ON messages (id) WHERE state = 2;

-- +goose Down
DROP TABLE messages;
DROP TABLE issue_users;
DROP TABLE events;
DROP TABLE debug_files;
DROP TABLE issue_events;
DROP TABLE issue_hashes;
DROP TABLE issues;
DROP TABLE api_token_projects;
DROP TABLE api_tokens;
DROP TABLE project_keys;
DROP TABLE projects;
DROP TABLE organizations;
