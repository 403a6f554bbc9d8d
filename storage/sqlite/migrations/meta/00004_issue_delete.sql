-- +goose Up
-- Deleting an issue removes its counted events and hashes by issue id.
CREATE INDEX issue_events_issue ON issue_events (issue_id);
CREATE INDEX issue_hashes_issue ON issue_hashes (issue_id);

-- +goose Down
DROP INDEX issue_hashes_issue;
DROP INDEX issue_events_issue;
