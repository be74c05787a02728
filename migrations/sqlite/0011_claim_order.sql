-- Claims read the queue in (not_before, id) order, whatever the actions: with this index
-- the head of the queue is read in order and LIMIT stops early, instead of sorting every
-- queued task (and joining each to its run) on every claim.
CREATE INDEX tasks_claimable ON tasks (not_before, id) WHERE status = 'QUEUED';
