-- +goose Up
-- The SQLite meta migration 00007: notification rules, their outbox of
-- deliveries, per-minute issue counts, links to external issues, and
-- releases with their commits.
CREATE TABLE alert_rules (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id  bigint      NOT NULL REFERENCES projects (id),
    name        text        NOT NULL,
    enabled     boolean     NOT NULL DEFAULT true,
    trigger     text        NOT NULL,
    threshold   integer     NOT NULL DEFAULT 0,
    window_ms   bigint      NOT NULL DEFAULT 0,
    min_level   text        NOT NULL DEFAULT '',
    environment text        NOT NULL DEFAULT '',
    actions     jsonb       NOT NULL DEFAULT '[]',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX alert_rules_project ON alert_rules (project_id);

-- The outbox: one row per action of a fired rule. The unique key makes a
-- retried worker find its deliveries instead of adding new ones. rule_id
-- is not a foreign key: deliveries outlive deleted rules as history.
-- Senders claim due rows with FOR UPDATE SKIP LOCKED and push
-- next_attempt forward by their lease.
CREATE TABLE alert_deliveries (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id      bigint      NOT NULL,
    project_id   bigint      NOT NULL,
    issue_id     bigint      NOT NULL DEFAULT 0,
    key          text        NOT NULL UNIQUE,
    trigger      text        NOT NULL,
    action       jsonb       NOT NULL,
    payload      bytea       NOT NULL,
    status       text        NOT NULL DEFAULT 'pending',
    attempts     integer     NOT NULL DEFAULT 0,
    next_attempt timestamptz NOT NULL,
    last_error   text        NOT NULL DEFAULT '',
    result       text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    sent_at      timestamptz
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt, id) WHERE status = 'pending';
CREATE INDEX alert_deliveries_project ON alert_deliveries (project_id, id DESC);
CREATE INDEX alert_deliveries_rule ON alert_deliveries (rule_id, id DESC);

-- Events per issue per minute (Unix minutes), for frequency rules; old
-- minutes are pruned.
CREATE TABLE alert_issue_minutes (
    issue_id bigint NOT NULL,
    minute   bigint NOT NULL,
    count    bigint NOT NULL,
    PRIMARY KEY (issue_id, minute)
);

-- Issues of external trackers created for Cairn issues.
CREATE TABLE issue_links (
    issue_id   bigint      NOT NULL,
    kind       text        NOT NULL,
    url        text        NOT NULL,
    title      text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    PRIMARY KEY (issue_id, url)
);

CREATE TABLE releases (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id     bigint      NOT NULL REFERENCES organizations (id),
    version    text        NOT NULL,
    projects   text[]      NOT NULL DEFAULT '{}',
    refs       jsonb       NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL,
    UNIQUE (org_id, version)
);

-- A NULL time means the commit's time is not known.
CREATE TABLE release_commits (
    release_id   bigint      NOT NULL REFERENCES releases (id),
    repository   text        NOT NULL,
    seq          integer     NOT NULL,
    sha          text        NOT NULL,
    message      text        NOT NULL DEFAULT '',
    author_name  text        NOT NULL DEFAULT '',
    author_email text        NOT NULL DEFAULT '',
    url          text        NOT NULL DEFAULT '',
    time         timestamptz,
    PRIMARY KEY (release_id, repository, seq)
);

-- +goose Down
DROP TABLE release_commits;
DROP TABLE releases;
DROP TABLE issue_links;
DROP TABLE alert_issue_minutes;
DROP TABLE alert_deliveries;
DROP TABLE alert_rules;
