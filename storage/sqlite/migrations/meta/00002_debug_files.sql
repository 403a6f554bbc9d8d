-- +goose Up
-- One row per object of an uploaded debug file; a fat Mach-O is one blob
-- (checksum) and one row per architecture.
CREATE TABLE debug_files (
    id         INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    checksum   TEXT    NOT NULL,
    blob_key   TEXT    NOT NULL,
    name       TEXT    NOT NULL DEFAULT '',
    debug_id   TEXT    NOT NULL,
    code_id    TEXT    NOT NULL DEFAULT '',
    arch       TEXT    NOT NULL DEFAULT '',
    format     TEXT    NOT NULL,
    kind       TEXT    NOT NULL DEFAULT '',
    features   TEXT    NOT NULL DEFAULT '[]',
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (project_id, checksum, debug_id, arch)
);
CREATE INDEX debug_files_debug_id ON debug_files (project_id, debug_id);
CREATE INDEX debug_files_code_id ON debug_files (project_id, code_id) WHERE code_id <> '';
CREATE INDEX debug_files_blob ON debug_files (blob_key);

-- Tokens restricted to some projects of their organization.
CREATE TABLE api_token_projects (
    token_id   INTEGER NOT NULL REFERENCES api_tokens (id),
    project_id INTEGER NOT NULL REFERENCES projects (id),
    PRIMARY KEY (token_id, project_id)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE api_token_projects;
DROP TABLE debug_files;
