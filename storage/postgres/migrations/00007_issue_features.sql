-- +goose Up
-- The SQLite events migration 00002 and meta migration 00004: an index of
-- event tags for tag search and tag distributions, and the indexes that
-- find an issue's rows when the issue is deleted.

-- The tags of each event, with release, environment and level as tags too
-- (events.Tags), written with the event in one transaction. The value
-- index answers "which issues carried key=value" from the index alone.
CREATE TABLE event_tags (
    project_id bigint NOT NULL,
    event_id   text   NOT NULL,
    issue_id   bigint NOT NULL,
    key        text   NOT NULL,
    value      text   NOT NULL,
    PRIMARY KEY (project_id, event_id, key)
);
CREATE INDEX event_tags_value ON event_tags (project_id, key, value, issue_id);

-- Events stored before this table existed get the tags their columns
-- hold; the payload's own tags are not read back here, as a payload that
-- is not valid JSON would fail the migration.
INSERT INTO event_tags (project_id, event_id, issue_id, key, value)
SELECT project_id, event_id, issue_id, t.key, left(t.value, 200)
FROM events CROSS JOIN LATERAL (VALUES ('release', release), ('environment', environment), ('level', level)) AS t (key, value)
WHERE t.value <> ''
ON CONFLICT DO NOTHING;

CREATE INDEX issue_hashes_issue ON issue_hashes (issue_id);
CREATE INDEX issue_events_issue ON issue_events (issue_id);

-- +goose Down
DROP INDEX issue_events_issue;
DROP INDEX issue_hashes_issue;
DROP TABLE event_tags;
