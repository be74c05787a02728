-- Child runs (RunMany): a run spawned by a task of another run, under a key that makes the
-- spawn idempotent (a parent task executed again finds its children instead of doubling them).
ALTER TABLE runs ADD COLUMN parent_run_id BLOB;
ALTER TABLE runs ADD COLUMN parent_task_id BLOB;
ALTER TABLE runs ADD COLUMN child_key TEXT;
ALTER TABLE runs ADD COLUMN child_index INTEGER;
CREATE UNIQUE INDEX runs_child_key ON runs (parent_task_id, child_key) WHERE parent_task_id IS NOT NULL;
CREATE INDEX runs_parent_run ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
