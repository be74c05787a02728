-- Trust boundaries (see the PostgreSQL migration for the commentary).
ALTER TABLE runs ADD COLUMN agents_bound INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tokens_by_run ON tokens (run_id) WHERE run_id IS NOT NULL;
