-- The engine's durable state. Times are milliseconds since the Unix epoch (UTC), as in the
-- PostgreSQL schema, so both stores share their queries.

CREATE TABLE workflows (
    name       TEXT   NOT NULL,
    version    TEXT   NOT NULL,
    definition TEXT  NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE runs (
    id               BLOB    PRIMARY KEY,
    workflow         TEXT    NOT NULL,
    version          TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    input            TEXT   NOT NULL,
    output           TEXT,
    error            TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    wake_at          INTEGER,
    created_at       INTEGER  NOT NULL,
    finished_at      INTEGER,
    FOREIGN KEY (workflow, version) REFERENCES workflows (name, version)
);
CREATE INDEX runs_by_created ON runs (created_at);
CREATE INDEX runs_waking ON runs (wake_at) WHERE wake_at IS NOT NULL;

CREATE TABLE tasks (
    id                BLOB    PRIMARY KEY,
    run_id            BLOB    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name              TEXT    NOT NULL,
    action            TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    is_on_failure     INTEGER NOT NULL,
    -- Cancelled by a person (not by a timeout or a condition): the on-failure task runs.
    cancel_requested  INTEGER NOT NULL DEFAULT 0,
    attempt           INTEGER NOT NULL,
    retry_count       INTEGER NOT NULL,
    ready_at          INTEGER,
    queued_at         INTEGER,
    not_before        INTEGER,
    schedule_deadline INTEGER,
    started_at        INTEGER,
    deadline          INTEGER,
    -- The task's execution timeout, so a batch claim can compute each deadline in SQL.
    timeout_ms        INTEGER NOT NULL,
    finished_at       INTEGER,
    worker_id         BLOB,
    output            TEXT,
    error             TEXT,
    UNIQUE (run_id, name)
);
CREATE INDEX tasks_queued ON tasks (action, not_before) WHERE status = 'QUEUED';
CREATE INDEX tasks_schedule_deadline ON tasks (schedule_deadline) WHERE status = 'QUEUED';
CREATE INDEX tasks_running_deadline ON tasks (deadline) WHERE status = 'RUNNING';
CREATE INDEX tasks_running_worker ON tasks (worker_id) WHERE status = 'RUNNING';

CREATE TABLE task_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id    BLOB    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    task_id   BLOB,
    task_name TEXT,
    attempt   INTEGER,
    kind      TEXT    NOT NULL,
    message   TEXT,
    data      TEXT,
    at        INTEGER  NOT NULL
);
CREATE INDEX task_events_by_run ON task_events (run_id, id);

CREATE TABLE workers (
    id             BLOB    PRIMARY KEY,
    name           TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    actions        TEXT   NOT NULL,
    labels         TEXT   NOT NULL,
    slots          INTEGER NOT NULL,
    status         TEXT    NOT NULL,
    registered_at  INTEGER  NOT NULL,
    last_heartbeat INTEGER  NOT NULL
);
CREATE INDEX workers_active ON workers (last_heartbeat) WHERE status = 'ACTIVE';

CREATE TABLE task_logs (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id  BLOB    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    task_id BLOB    NOT NULL,
    attempt INTEGER NOT NULL,
    seq     INTEGER  NOT NULL,
    at      INTEGER  NOT NULL,
    line    TEXT    NOT NULL,
    UNIQUE (task_id, attempt, seq)
);
CREATE INDEX task_logs_by_run ON task_logs (run_id, id);

CREATE TABLE task_memos (
    task_id BLOB  NOT NULL,
    key     TEXT  NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (task_id, key)
);
