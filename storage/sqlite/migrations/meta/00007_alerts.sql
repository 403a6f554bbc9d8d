-- +goose Up
-- Notification rules of a project; actions are a JSON array.
CREATE TABLE alert_rules (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects (id),
    name        TEXT    NOT NULL,
    enabled     INTEGER NOT NULL DEFAULT 1,
    trigger     TEXT    NOT NULL,
    threshold   INTEGER NOT NULL DEFAULT 0,
    window_ms   INTEGER NOT NULL DEFAULT 0,
    min_level   TEXT    NOT NULL DEFAULT '',
    environment TEXT    NOT NULL DEFAULT '',
    actions     TEXT    NOT NULL DEFAULT '[]',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX alert_rules_project ON alert_rules (project_id);

-- The outbox: one row per action of a fired rule. The unique key makes a
-- retried worker find its deliveries instead of adding new ones. rule_id
-- is not a foreign key: deliveries outlive deleted rules as history.
CREATE TABLE alert_deliveries (
    id           INTEGER PRIMARY KEY,
    rule_id      INTEGER NOT NULL,
    project_id   INTEGER NOT NULL,
    issue_id     INTEGER NOT NULL DEFAULT 0,
    key          TEXT    NOT NULL UNIQUE,
    trigger      TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    payload      BLOB    NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    last_error   TEXT    NOT NULL DEFAULT '',
    result       TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    sent_at      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt) WHERE status = 'pending';
CREATE INDEX alert_deliveries_project ON alert_deliveries (project_id, id DESC);
CREATE INDEX alert_deliveries_rule ON alert_deliveries (rule_id, id DESC);

-- Events per issue per minute, for frequency rules; old minutes are pruned.
CREATE TABLE alert_issue_minutes (
    issue_id INTEGER NOT NULL,
    minute   INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (issue_id, minute)
) WITHOUT ROWID;

-- Issues of external trackers created for Cairn issues.
CREATE TABLE issue_links (
    issue_id   INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    url        TEXT    NOT NULL,
    title      TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (issue_id, url)
) WITHOUT ROWID;

CREATE TABLE releases (
    id         INTEGER PRIMARY KEY,
    org_id     INTEGER NOT NULL REFERENCES organizations (id),
    version    TEXT    NOT NULL,
    projects   TEXT    NOT NULL DEFAULT '[]',
    refs       TEXT    NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    UNIQUE (org_id, version)
);

CREATE TABLE release_commits (
    release_id   INTEGER NOT NULL REFERENCES releases (id),
    repository   TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    sha          TEXT    NOT NULL,
    message      TEXT    NOT NULL DEFAULT '',
    author_name  TEXT    NOT NULL DEFAULT '',
    author_email TEXT    NOT NULL DEFAULT '',
    url          TEXT    NOT NULL DEFAULT '',
    time         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (release_id, repository, seq)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE release_commits;
DROP TABLE releases;
DROP TABLE issue_links;
DROP TABLE alert_issue_minutes;
DROP TABLE alert_deliveries;
DROP TABLE alert_rules;
