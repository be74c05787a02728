-- Trust boundaries (see the PostgreSQL migration for the commentary).
CREATE INDEX tokens_by_run ON tokens (run_id) WHERE run_id IS NOT NULL;
