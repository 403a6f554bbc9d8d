-- +goose Up
-- Projects may drop a minidump's blob once the event read from it is
-- stored (meta.Project.DropMinidumps).
ALTER TABLE projects ADD COLUMN drop_minidumps INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE projects DROP COLUMN drop_minidumps;
