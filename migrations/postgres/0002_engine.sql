-- The engine's durable state. Times are milliseconds since the Unix epoch (UTC), as in the
-- SQLite schema, so both stores share their queries.

CREATE TABLE workflows (
    name       TEXT   NOT NULL,
    version    TEXT   NOT NULL,
    definition JSONB  NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE runs (
    id               UUID    PRIMARY KEY,
    workflow         TEXT    NOT NULL,
    version          TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    input            JSONB   NOT NULL,
    output           JSONB,
    error            TEXT,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    wake_at          BIGINT,
    created_at       BIGINT  NOT NULL,
    finished_at      BIGINT,
    FOREIGN KEY (workflow, version) REFERENCES workflows (name, version)
);
CREATE INDEX runs_by_created ON runs (created_at);
CREATE INDEX runs_waking ON runs (wake_at) WHERE wake_at IS NOT NULL;

CREATE TABLE tasks (
    id                UUID    PRIMARY KEY,
    run_id            UUID    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name              TEXT    NOT NULL,
    action            TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    is_on_failure     BOOLEAN NOT NULL,
    -- Cancelled by a person (not by a timeout or a condition): the on-failure task runs.
    cancel_requested  BOOLEAN NOT NULL DEFAULT FALSE,
    attempt           INTEGER NOT NULL,
    retry_count       INTEGER NOT NULL,
    ready_at          BIGINT,
    queued_at         BIGINT,
    not_before        BIGINT,
    schedule_deadline BIGINT,
    started_at        BIGINT,
    deadline          BIGINT,
    -- The task's execution timeout, so a batch claim can compute each deadline in SQL.
    timeout_ms        BIGINT  NOT NULL,
    finished_at       BIGINT,
    worker_id         UUID,
    output            JSONB,
    error             TEXT,
    UNIQUE (run_id, name)
);
CREATE INDEX tasks_queued ON tasks (action, not_before) WHERE status = 'QUEUED';
CREATE INDEX tasks_schedule_deadline ON tasks (schedule_deadline) WHERE status = 'QUEUED';
CREATE INDEX tasks_running_deadline ON tasks (deadline) WHERE status = 'RUNNING';
CREATE INDEX tasks_running_worker ON tasks (worker_id) WHERE status = 'RUNNING';

CREATE TABLE task_events (
    id        BIGSERIAL PRIMARY KEY,
    run_id    UUID    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    task_id   UUID,
    task_name TEXT,
    attempt   INTEGER,
    kind      TEXT    NOT NULL,
    message   TEXT,
    data      JSONB,
    at        BIGINT  NOT NULL
);
CREATE INDEX task_events_by_run ON task_events (run_id, id);

CREATE TABLE workers (
    id             UUID    PRIMARY KEY,
    name           TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    actions        JSONB   NOT NULL,
    labels         JSONB   NOT NULL,
    slots          INTEGER NOT NULL,
    status         TEXT    NOT NULL,
    registered_at  BIGINT  NOT NULL,
    last_heartbeat BIGINT  NOT NULL
);
CREATE INDEX workers_active ON workers (last_heartbeat) WHERE status = 'ACTIVE';

CREATE TABLE task_logs (
    id      BIGSERIAL PRIMARY KEY,
    run_id  UUID    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    task_id UUID    NOT NULL,
    attempt INTEGER NOT NULL,
    seq     BIGINT  NOT NULL,
    at      BIGINT  NOT NULL,
    line    TEXT    NOT NULL,
    UNIQUE (task_id, attempt, seq)
);
CREATE INDEX task_logs_by_run ON task_logs (run_id, id);

CREATE TABLE task_memos (
    task_id UUID  NOT NULL,
    key     TEXT  NOT NULL,
    value   JSONB NOT NULL,
    PRIMARY KEY (task_id, key)
);
