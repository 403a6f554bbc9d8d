-- +goose Up
-- The SQLite meta migration 00005: user feedback, release-health sessions
-- and client-report outcomes. Buckets are the hour (timestamptz) counts
-- fall in.

-- User feedback on events. The event may arrive after its report, so the
-- issue is filled in (issue_id <> 0) once a reader finds the event.
CREATE TABLE user_reports (
    project_id bigint      NOT NULL,
    event_id   text        NOT NULL,
    name       text        NOT NULL,
    email      text        NOT NULL,
    comments   text        NOT NULL,
    issue_id   bigint      NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (project_id, event_id)
);
CREATE INDEX user_reports_project ON user_reports (project_id, created_at);
CREATE INDEX user_reports_issue ON user_reports (issue_id, created_at);

-- Digests of the session and client-report items already counted, so that
-- a retried envelope or a redelivered message counts once. Rows older than
-- the retention window are pruned by day.
CREATE TABLE item_receipts (
    project_id bigint NOT NULL,
    item_id    text   NOT NULL,
    day        date   NOT NULL,
    PRIMARY KEY (project_id, item_id)
);
CREATE INDEX item_receipts_day ON item_receipts (day);

-- Hourly release-health counts by the hour the sessions started.
CREATE TABLE session_counts (
    project_id  bigint      NOT NULL,
    bucket      timestamptz NOT NULL,
    release     text        NOT NULL,
    environment text        NOT NULL,
    started     bigint      NOT NULL DEFAULT 0,
    errored     bigint      NOT NULL DEFAULT 0,
    crashed     bigint      NOT NULL DEFAULT 0,
    abnormal    bigint      NOT NULL DEFAULT 0,
    exited      bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, bucket, release, environment)
);

-- Sessions that had an error, with their worst state (1 errored,
-- 2 abnormal, 3 crashed): a session is counted errored once however many
-- updates report errors. Healthy sessions leave no row. Recorders lock a
-- session's row while they decide what its update adds.
CREATE TABLE session_errored (
    project_id bigint   NOT NULL,
    sid        text     NOT NULL,
    worst      smallint NOT NULL,
    PRIMARY KEY (project_id, sid)
);

-- Distinct users per hour, with the worst state of their sessions that
-- hour; distinct counts over a range are counts over the pairs.
CREATE TABLE session_users (
    project_id  bigint      NOT NULL,
    bucket      timestamptz NOT NULL,
    release     text        NOT NULL,
    environment text        NOT NULL,
    did         text        NOT NULL,
    worst       smallint    NOT NULL,
    PRIMARY KEY (project_id, bucket, release, environment, did)
);

-- Hourly outcomes of client reports.
CREATE TABLE outcomes (
    project_id bigint      NOT NULL,
    bucket     timestamptz NOT NULL,
    outcome    text        NOT NULL,
    reason     text        NOT NULL,
    category   text        NOT NULL,
    quantity   bigint      NOT NULL,
    PRIMARY KEY (project_id, bucket, outcome, reason, category)
);

-- +goose Down
DROP TABLE outcomes;
DROP TABLE session_users;
DROP TABLE session_errored;
DROP TABLE session_counts;
DROP TABLE item_receipts;
DROP TABLE user_reports;
