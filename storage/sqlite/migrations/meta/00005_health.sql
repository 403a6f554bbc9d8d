-- +goose Up
-- User feedback on events. The event may arrive after its report, so the
-- issue is filled in (issue_id <> 0) once a reader finds the event.
CREATE TABLE user_reports (
    project_id INTEGER NOT NULL,
    event_id   TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    email      TEXT    NOT NULL,
    comments   TEXT    NOT NULL,
    issue_id   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, event_id)
);
CREATE INDEX user_reports_project ON user_reports (project_id, created_at);
CREATE INDEX user_reports_issue ON user_reports (issue_id, created_at);

-- Digests of the session and client-report items already counted, so that
-- a retried envelope or a redelivered message counts once. Rows older than
-- the retention window are pruned by day.
CREATE TABLE item_receipts (
    project_id INTEGER NOT NULL,
    item_id    TEXT    NOT NULL,
    day        INTEGER NOT NULL,
    PRIMARY KEY (project_id, item_id)
) WITHOUT ROWID;
CREATE INDEX item_receipts_day ON item_receipts (day);

-- Hourly release-health counts; bucket is the hour (microseconds) the
-- sessions started.
CREATE TABLE session_counts (
    project_id  INTEGER NOT NULL,
    bucket      INTEGER NOT NULL,
    release     TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    started     INTEGER NOT NULL DEFAULT 0,
    errored     INTEGER NOT NULL DEFAULT 0,
    crashed     INTEGER NOT NULL DEFAULT 0,
    abnormal    INTEGER NOT NULL DEFAULT 0,
    exited      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, bucket, release, environment)
) WITHOUT ROWID;

-- Sessions that had an error, with their worst state (1 errored,
-- 2 abnormal, 3 crashed): a session is counted errored once however many
-- updates report errors. Healthy sessions leave no row.
CREATE TABLE session_errored (
    project_id INTEGER NOT NULL,
    sid        TEXT    NOT NULL,
    worst      INTEGER NOT NULL,
    PRIMARY KEY (project_id, sid)
) WITHOUT ROWID;

-- Distinct users per hour, with the worst state of their sessions that
-- hour; distinct counts over a range are COUNT over the pairs.
CREATE TABLE session_users (
    project_id  INTEGER NOT NULL,
    bucket      INTEGER NOT NULL,
    release     TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    did         TEXT    NOT NULL,
    worst       INTEGER NOT NULL,
    PRIMARY KEY (project_id, bucket, release, environment, did)
) WITHOUT ROWID;

-- Hourly outcomes of client reports.
CREATE TABLE outcomes (
    project_id INTEGER NOT NULL,
    bucket     INTEGER NOT NULL,
    outcome    TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    category   TEXT    NOT NULL,
    quantity   INTEGER NOT NULL,
    PRIMARY KEY (project_id, bucket, outcome, reason, category)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE outcomes;
DROP TABLE session_users;
DROP TABLE session_errored;
DROP TABLE session_counts;
DROP TABLE item_receipts;
DROP TABLE user_reports;
