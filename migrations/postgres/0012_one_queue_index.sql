-- Claims read the queue through tasks_claimable alone. The older (action, not_before) index
-- cost an entry on every queued task and, with stale statistics on a fast-growing queue, led
-- the planner to read and sort the whole queue instead of its ordered head.
DROP INDEX tasks_queued;
