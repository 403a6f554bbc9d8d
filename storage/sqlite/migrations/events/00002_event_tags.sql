-- +goose Up
-- The tags of each event, with release, environment and level as tags too,
-- for tag search and tag distributions without decoding event payloads.
-- Events stored before this table existed have no rows here.
CREATE TABLE event_tags (
    project_id INTEGER NOT NULL,
    event_id   TEXT    NOT NULL,
    issue_id   INTEGER NOT NULL,
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    PRIMARY KEY (project_id, event_id, key)
) WITHOUT ROWID;
CREATE INDEX event_tags_value ON event_tags (project_id, key, value, issue_id);

-- +goose Down
DROP TABLE event_tags;
