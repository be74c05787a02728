-- Crons (5 or 6 fields, UTC) and one-off scheduled runs. `next_at` is the next tick to
-- fire; a tick fires once however many replicas see it due: the replica that inserts its
-- `cron_firings` row starts the run. Missed ticks are not caught up.
CREATE TABLE crons (
    id         UUID    PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    workflow   TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    expression TEXT    NOT NULL,
    input      JSONB   NOT NULL,
    next_at    BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL
);
CREATE TABLE cron_firings (
    cron_id UUID   NOT NULL,
    tick    BIGINT NOT NULL,
    run_id  UUID,
    PRIMARY KEY (cron_id, tick)
);
CREATE TABLE scheduled_runs (
    id         UUID    PRIMARY KEY,
    workflow   TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    input      JSONB   NOT NULL,
    at         BIGINT  NOT NULL,
    run_id     UUID,
    created_at BIGINT  NOT NULL
);
CREATE INDEX scheduled_runs_due ON scheduled_runs (at) WHERE run_id IS NULL;
