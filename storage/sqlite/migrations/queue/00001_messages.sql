-- +goose Up
-- One row per message until it is acknowledged. state: 0 pending (ready,
-- leased or backing off), 2 dead. A pending message is deliverable when
-- visible_at has passed; leasing moves visible_at to the lease's end, so an
-- expired lease makes the message deliverable again. key has no index on
-- purpose (see queue.Message): rows are appended in id order and every
-- index stays sequential.
CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    key         TEXT    NOT NULL,
    body        BLOB    NOT NULL,
    state       INTEGER NOT NULL DEFAULT 0,
    leased      INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    visible_at  INTEGER NOT NULL,
    enqueued_at INTEGER NOT NULL,
    last_error  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX messages_pending ON messages (visible_at, id) WHERE state = 0;

-- +goose Down
DROP TABLE messages;
