-- Edge agents and tokens (see the PostgreSQL migration for the commentary).

ALTER TABLE workers ADD COLUMN run_scope BLOB;
ALTER TABLE workers ADD COLUMN host TEXT;

CREATE TABLE tokens (
    id           BLOB    PRIMARY KEY,
    kind         TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    scopes       TEXT    NOT NULL,
    labels       TEXT    NOT NULL,
    run_id       BLOB,
    worker_id    BLOB,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX tokens_kind ON tokens (kind, created_at);

CREATE TABLE task_progress (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id  BLOB    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    task_id BLOB    NOT NULL,
    attempt INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    "values" TEXT   NOT NULL,
    UNIQUE (task_id, attempt, seq)
);
CREATE INDEX task_progress_run ON task_progress (run_id, id);
