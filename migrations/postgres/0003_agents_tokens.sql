-- Edge agents and tokens.

-- An agent enrolled for one run claims only that run's tasks; `host` is what it told
-- about its machine (version, hostname, cpus, ...).
ALTER TABLE workers ADD COLUMN run_scope UUID;
ALTER TABLE workers ADD COLUMN host JSONB;

-- Every bearer token, stored as its SHA-256 only. `kind`: `api` (people and CI, with
-- scopes), `enrollment` (lets an agent register; may bind it to a run and give it labels),
-- `agent` (an agent's session, bound to its worker row).
CREATE TABLE tokens (
    id           UUID   PRIMARY KEY,
    kind         TEXT   NOT NULL,
    name         TEXT   NOT NULL,
    token_hash   TEXT   NOT NULL UNIQUE,
    scopes       JSONB  NOT NULL,
    labels       JSONB  NOT NULL,
    run_id       UUID,
    worker_id    UUID,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX tokens_kind ON tokens (kind, created_at);

-- Time-series points reported by running tasks (TPS each second, ...).
CREATE TABLE task_progress (
    id      BIGSERIAL PRIMARY KEY,
    run_id  UUID    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    task_id UUID    NOT NULL,
    attempt INTEGER NOT NULL,
    seq     BIGINT  NOT NULL,
    at      BIGINT  NOT NULL,
    "values" JSONB  NOT NULL,
    UNIQUE (task_id, attempt, seq)
);
CREATE INDEX task_progress_run ON task_progress (run_id, id);
