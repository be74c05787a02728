-- Crons (5 or 6 fields, UTC) and one-off scheduled runs. `next_at` is the next tick to
-- fire; a tick fires once however many replicas see it due: the replica that inserts its
-- `cron_firings` row starts the run. Missed ticks are not caught up.
CREATE TABLE crons (
    id         BLOB    PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    workflow   TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    expression TEXT    NOT NULL,
    input      TEXT   NOT NULL,
    next_at    INTEGER  NOT NULL,
    created_at INTEGER  NOT NULL
);
CREATE TABLE cron_firings (
    cron_id BLOB   NOT NULL,
    tick    INTEGER NOT NULL,
    run_id  BLOB,
    PRIMARY KEY (cron_id, tick)
);
CREATE TABLE scheduled_runs (
    id         BLOB    PRIMARY KEY,
    workflow   TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    input      TEXT   NOT NULL,
    at         INTEGER  NOT NULL,
    run_id     BLOB,
    created_at INTEGER  NOT NULL
);
CREATE INDEX scheduled_runs_due ON scheduled_runs (at) WHERE run_id IS NULL;
