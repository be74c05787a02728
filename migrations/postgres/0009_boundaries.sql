-- Trust boundaries.

-- A run whose machines were provisioned for it (agents enrolled for this run only): its
-- agent tasks go to those agents and never to an agent that is not bound to the run.
ALTER TABLE runs ADD COLUMN agents_bound BOOLEAN NOT NULL DEFAULT FALSE;

-- Tokens bound to a run (its machines' enrollment and session tokens) are revoked together
-- when its machines are destroyed.
CREATE INDEX tokens_by_run ON tokens (run_id) WHERE run_id IS NOT NULL;
