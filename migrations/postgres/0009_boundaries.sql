-- Trust boundaries.

-- Tokens bound to a run: its machines' enrollment tokens (whose existence makes the run's
-- agent tasks those machines' alone) and their agents' sessions, revoked together when the
-- machines are destroyed.
CREATE INDEX tokens_by_run ON tokens (run_id) WHERE run_id IS NOT NULL;
