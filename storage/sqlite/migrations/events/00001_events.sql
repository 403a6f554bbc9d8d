-- +goose Up
-- Times are integer microseconds since the Unix epoch.
CREATE TABLE events (
    project_id  INTEGER NOT NULL,
    event_id    TEXT    NOT NULL,
    issue_id    INTEGER NOT NULL,
    timestamp   INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    level       TEXT    NOT NULL DEFAULT '',
    platform    TEXT    NOT NULL DEFAULT '',
    release     TEXT    NOT NULL DEFAULT '',
    environment TEXT    NOT NULL DEFAULT '',
    title       TEXT    NOT NULL DEFAULT '',
    user_key    TEXT    NOT NULL DEFAULT '',
    data        BLOB    NOT NULL,
    PRIMARY KEY (project_id, event_id)
);
CREATE INDEX events_issue ON events (issue_id, timestamp DESC, event_id DESC);

-- The distinct users of each issue, for user counts.
CREATE TABLE issue_users (
    issue_id INTEGER NOT NULL,
    user_key TEXT    NOT NULL,
    PRIMARY KEY (issue_id, user_key)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE issue_users;
DROP TABLE events;
