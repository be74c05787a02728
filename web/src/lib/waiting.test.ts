import { describe, expect, it } from 'vitest';
import type { RunDetail, TaskState } from '../api/types.ts';
import provisionRun from '../fixtures/provision-run.json';
import testRun from '../fixtures/test-run.json';
import { isStuck, runWaitingReason, stuckTasks, waitingReason } from './waiting.ts';

const RUN = testRun as unknown as RunDetail;
const CHILD = provisionRun as unknown as RunDetail;

/** The test run, live: `names` QUEUED (not started), with the server's reasons by task id. */
function queued(run: RunDetail, reasons: Record<string, string>): RunDetail {
  const byName = new Map(run.tasks.map((t) => [t.name, t]));
  return {
    ...run,
    status: 'RUNNING',
    finished_at: null,
    tasks: run.tasks.map((t) =>
      t.name in reasons ? { ...t, status: 'QUEUED', started_at: null, finished_at: null, worker_id: null } : t,
    ),
    waiting: Object.fromEntries(Object.entries(reasons).map(([name, r]) => [byName.get(name)!.id, r])),
  };
}

function task(run: RunDetail, name: string): TaskState {
  return run.tasks.find((t) => t.name === name)!;
}

describe('waitingReason', () => {
  const run = queued(RUN, { 'run-stroppy-test': "no live worker implements 'load.run'" });

  it("is the server's reason for a QUEUED task", () => {
    expect(waitingReason(run, task(run, 'run-stroppy-test'))).toBe("no live worker implements 'load.run'");
  });

  it('is null for a task that is not QUEUED, even with a (stale) reason', () => {
    const stale = { ...run, waiting: { [task(run, 'validate-input').id]: 'every worker that can run it is busy' } };
    expect(waitingReason(stale, task(stale, 'validate-input'))).toBeNull();
  });

  it('is null without a reason (an older server), unless the task waits for a concurrency slot', () => {
    const { waiting: _, ...old } = run;
    const t = task(old, 'run-stroppy-test');
    expect(waitingReason(old, t)).toBeNull();
    expect(waitingReason(old, { ...t, waiting_for_slot: true, concurrency_key: 'pg16' })).toBe(
      "waiting for a concurrency slot (key 'pg16')",
    );
  });
});

describe('runWaitingReason', () => {
  it('names the slot a run waits for while it is not admitted', () => {
    expect(runWaitingReason({ ...RUN, status: 'QUEUED', waiting_for_slot: true, concurrency_key: 'k' })).toBe(
      "waiting for a concurrency slot (key 'k')",
    );
    expect(runWaitingReason({ ...RUN, status: 'QUEUED', waiting_for_slot: false })).toBeNull();
    expect(runWaitingReason({ ...RUN, waiting_for_slot: true })).toBeNull(); // ended
  });
});

describe('isStuck', () => {
  it('is true only when no live worker can take the task', () => {
    expect(isStuck("no live worker implements 'shell'")).toBe(true);
    expect(isStuck("no live worker that implements 'bench' has the required labels: gpu = true")).toBe(true);
    expect(isStuck("waiting for a concurrency slot (key 'pg16')")).toBe(false);
    expect(isStuck('every worker that can run it is busy')).toBe(false);
    expect(isStuck('its handler waits for an event')).toBe(false);
    expect(isStuck('not before 2026-11-27T10:00:00.000Z')).toBe(false);
    expect(isStuck(null)).toBe(false);
  });
});

describe('stuckTasks', () => {
  it("groups the run's and its child runs' stuck tasks by reason, ordinary waits left out", () => {
    const run = queued(RUN, {
      'run-stroppy-test': "no live worker implements 'load.run'",
      'destroy-plan': 'every worker that can run it is busy',
    });
    const childTask = CHILD.tasks[0]!;
    const child = queued(CHILD, { [childTask.name]: "no live worker implements 'load.run'" });
    const groups = stuckTasks(run, new Map([[CHILD.id, child]]));
    expect(groups).toEqual([
      {
        reason: "no live worker implements 'load.run'",
        tasks: [
          { runId: RUN.id, name: 'run-stroppy-test', child: null },
          { runId: CHILD.id, name: childTask.name, child: 'cloud-provision · provision' },
        ],
      },
    ]);
  });

  it('is empty for a run with nothing stuck', () => {
    expect(stuckTasks(RUN)).toEqual([]);
  });
});
