-- Flow control (concurrency slots, rate limits) and durable waits of handlers.

-- A run or task whose workflow/task has a concurrency rule carries its key; it waits for a
-- slot (`waiting_for_slot`) until the admission pass lets it in. Admitted holders are the
-- non-waiting, non-finished rows with a key.
ALTER TABLE runs ADD COLUMN concurrency_key TEXT;
ALTER TABLE runs ADD COLUMN waiting_for_slot INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN concurrency_key TEXT;
ALTER TABLE tasks ADD COLUMN waiting_for_slot INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_concurrency ON runs (workflow, concurrency_key)
    WHERE concurrency_key IS NOT NULL AND status IN ('QUEUED', 'RUNNING');
CREATE INDEX tasks_concurrency ON tasks (name, concurrency_key)
    WHERE concurrency_key IS NOT NULL AND status IN ('QUEUED', 'RUNNING');

-- Static rate limits: at most `units` per sliding window of `window_ms`.
CREATE TABLE rate_limits (
    key        TEXT   PRIMARY KEY,
    units      INTEGER NOT NULL,
    window_ms  INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- What claimed tasks consumed, kept for one window (the sliding log).
CREATE TABLE rate_limit_usage (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    key     TEXT   NOT NULL,
    task_id BLOB   NOT NULL,
    units   INTEGER NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX rate_limit_usage_by_key ON rate_limit_usage (key, at);

-- A handler's durable wait for a user event (`Context::wait_for_event`), by call order
-- within the task. Satisfied once `event_id` is set; the payload is what the handler gets.
CREATE TABLE durable_waits (
    task_id    BLOB    NOT NULL,
    seq        INTEGER NOT NULL,
    event_key  TEXT    NOT NULL,
    expression TEXT,
    since      INTEGER  NOT NULL,
    event_id   INTEGER,
    payload    TEXT,
    PRIMARY KEY (task_id, seq)
);
CREATE INDEX durable_waits_pending ON durable_waits (event_key) WHERE event_id IS NULL;
