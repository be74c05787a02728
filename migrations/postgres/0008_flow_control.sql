-- Flow control (concurrency slots, rate limits) and durable waits of handlers.

-- A run or task whose workflow/task has a concurrency rule carries its key; it waits for a
-- slot (`waiting_for_slot`) until the admission pass lets it in. Admitted holders are the
-- non-waiting, non-finished rows with a key.
ALTER TABLE runs ADD COLUMN concurrency_key TEXT;
ALTER TABLE runs ADD COLUMN waiting_for_slot BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE tasks ADD COLUMN concurrency_key TEXT;
ALTER TABLE tasks ADD COLUMN waiting_for_slot BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX runs_concurrency ON runs (workflow, concurrency_key)
    WHERE concurrency_key IS NOT NULL AND status IN ('QUEUED', 'RUNNING');
CREATE INDEX tasks_concurrency ON tasks (name, concurrency_key)
    WHERE concurrency_key IS NOT NULL AND status IN ('QUEUED', 'RUNNING');

-- Static rate limits: at most `units` per sliding window of `window_ms`.
CREATE TABLE rate_limits (
    key        TEXT   PRIMARY KEY,
    units      BIGINT NOT NULL,
    window_ms  BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- What claimed tasks consumed, kept for one window (the sliding log).
CREATE TABLE rate_limit_usage (
    id      BIGSERIAL PRIMARY KEY,
    key     TEXT   NOT NULL,
    task_id UUID   NOT NULL,
    units   BIGINT NOT NULL,
    at      BIGINT NOT NULL
);
CREATE INDEX rate_limit_usage_by_key ON rate_limit_usage (key, at);

-- A handler's durable wait for a user event (`Context::wait_for_event`), by call order
-- within the task. Satisfied once `event_id` is set; the payload is what the handler gets.
CREATE TABLE durable_waits (
    task_id    UUID    NOT NULL,
    seq        INTEGER NOT NULL,
    event_key  TEXT    NOT NULL,
    expression TEXT,
    since      BIGINT  NOT NULL,
    event_id   BIGINT,
    payload    JSONB,
    PRIMARY KEY (task_id, seq)
);
CREATE INDEX durable_waits_pending ON durable_waits (event_key) WHERE event_id IS NULL;
