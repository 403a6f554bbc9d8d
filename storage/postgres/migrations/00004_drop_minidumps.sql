-- +goose Up
-- The SQLite meta migration 00008: projects may drop a minidump's blob
-- once the event read from it is stored (meta.Project.DropMinidumps).
ALTER TABLE projects ADD COLUMN drop_minidumps boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE projects DROP COLUMN drop_minidumps;
