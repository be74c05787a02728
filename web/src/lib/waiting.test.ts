import { describe, expect, it } from 'vitest';
import type { RunDetail, TaskState, WaitingReason } from '../api/types.ts';
import provisionRun from '../fixtures/provision-run.json';
import testRun from '../fixtures/test-run.json';
import { isStuck, parseWaiting, runWaitingReason, stuckTasks, waitingReason } from './waiting.ts';

const RUN = testRun as unknown as RunDetail;
const CHILD = provisionRun as unknown as RunDetail;

const NO_WORKER: WaitingReason = { kind: 'no_worker', message: "no live worker implements 'load.run'" };
const BUSY: WaitingReason = { kind: 'workers_busy', message: 'every worker that can run it is busy' };

/** The test run, live: `names` QUEUED (not started), with the server's reasons by task id. */
function queued(run: RunDetail, reasons: Record<string, WaitingReason | string>): RunDetail {
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

describe('parseWaiting', () => {
  it('takes the structured form as it is', () => {
    expect(parseWaiting(NO_WORKER)).toEqual(NO_WORKER);
    expect(parseWaiting({ kind: 'not_before', message: ' not before 2026-11-27T10:00:00.000Z ' })).toEqual({
      kind: 'not_before',
      message: 'not before 2026-11-27T10:00:00.000Z',
    });
  });

  it("reads an older server's sentence as a wait of unknown kind", () => {
    expect(parseWaiting("no live worker implements 'shell'")).toEqual({ kind: 'unknown', message: "no live worker implements 'shell'" });
  });

  it('keeps a kind it does not know (a newer server), and calls a missing one unknown', () => {
    expect(parseWaiting({ kind: 'quarantined', message: 'm' })).toEqual({ kind: 'quarantined', message: 'm' });
    expect(parseWaiting({ message: 'm' })).toEqual({ kind: 'unknown', message: 'm' });
  });

  it('is null for nothing to show', () => {
    for (const raw of [undefined, null, '', '  ', 42, {}, { kind: 'no_worker' }, { kind: 'no_worker', message: '' }]) {
      expect(parseWaiting(raw)).toBeNull();
    }
  });
});

describe('waitingReason', () => {
  const run = queued(RUN, { 'run-stroppy-test': NO_WORKER });

  it("is the server's reason for a QUEUED task", () => {
    expect(waitingReason(run, task(run, 'run-stroppy-test'))).toEqual(NO_WORKER);
  });

  it("reads an older server's plain sentence too", () => {
    const old = queued(RUN, { 'run-stroppy-test': "no live worker implements 'load.run'" });
    expect(waitingReason(old, task(old, 'run-stroppy-test'))).toEqual({ kind: 'unknown', message: "no live worker implements 'load.run'" });
  });

  it('is null for a task that is not QUEUED, even with a (stale) reason', () => {
    const stale = { ...run, waiting: { [task(run, 'validate-input').id]: BUSY } };
    expect(waitingReason(stale, task(stale, 'validate-input'))).toBeNull();
  });

  it('is null without a reason (an older server), unless the task waits for a concurrency slot', () => {
    const { waiting: _, ...old } = run;
    const t = task(old, 'run-stroppy-test');
    expect(waitingReason(old, t)).toBeNull();
    expect(waitingReason(old, { ...t, waiting_for_slot: true, concurrency_key: 'pg16' })).toEqual({
      kind: 'concurrency_slot',
      message: "waiting for a concurrency slot (key 'pg16')",
    });
  });
});

describe('runWaitingReason', () => {
  it('names the slot a run waits for while it is not admitted', () => {
    expect(runWaitingReason({ ...RUN, status: 'QUEUED', waiting_for_slot: true, concurrency_key: 'k' })).toEqual({
      kind: 'concurrency_slot',
      message: "waiting for a concurrency slot (key 'k')",
    });
    expect(runWaitingReason({ ...RUN, status: 'QUEUED', waiting_for_slot: false })).toBeNull();
    expect(runWaitingReason({ ...RUN, waiting_for_slot: true })).toBeNull(); // ended
  });
});

describe('isStuck', () => {
  it('is true for the kinds no live worker can take, whatever the sentence says', () => {
    expect(isStuck({ kind: 'no_worker', message: "no live worker implements 'shell'" })).toBe(true);
    expect(isStuck({ kind: 'missing_labels', message: "no live worker that implements 'bench' has the required labels: gpu = true" })).toBe(true);
    expect(isStuck({ kind: 'missing_labels', message: 'workers lack the labels gpu = true' })).toBe(true);
  });

  it('is false for every other kind, even when the sentence looks stuck', () => {
    for (const kind of ['concurrency_slot', 'durable_wait', 'not_before', 'workers_busy']) {
      expect(isStuck({ kind, message: 'no live worker is needed yet' })).toBe(false);
    }
    expect(isStuck(null)).toBe(false);
    expect(isStuck(undefined)).toBe(false);
  });

  it("reads an older server's sentence (or an unknown kind) by its words", () => {
    expect(isStuck(parseWaiting("no live worker implements 'shell'"))).toBe(true);
    expect(isStuck(parseWaiting("No live worker that implements 'bench' has the required labels"))).toBe(true);
    expect(isStuck(parseWaiting("waiting for a concurrency slot (key 'pg16')"))).toBe(false);
    expect(isStuck(parseWaiting('every worker that can run it is busy'))).toBe(false);
    expect(isStuck(parseWaiting('not before 2026-11-27T10:00:00.000Z'))).toBe(false);
    expect(isStuck({ kind: 'quarantined', message: 'no live worker may take it' })).toBe(true);
  });
});

describe('stuckTasks', () => {
  it("groups the run's and its child runs' stuck tasks by reason, ordinary waits left out", () => {
    const run = queued(RUN, { 'run-stroppy-test': NO_WORKER, 'destroy-plan': BUSY });
    const childTask = CHILD.tasks[0]!;
    // The child's detail from an older server: the same sentence groups with the new form.
    const child = queued(CHILD, { [childTask.name]: NO_WORKER.message });
    const groups = stuckTasks(run, new Map([[CHILD.id, child]]));
    expect(groups).toEqual([
      {
        reason: NO_WORKER.message,
        kind: 'no_worker',
        tasks: [
          { runId: RUN.id, name: 'run-stroppy-test', child: null },
          { runId: CHILD.id, name: childTask.name, child: 'cloud-provision · provision' },
        ],
      },
    ]);
  });

  it('lists missing labels apart from a missing action', () => {
    const labels: WaitingReason = { kind: 'missing_labels', message: "no live worker that implements 'shell' has the required labels: gpu = true" };
    const run = queued(RUN, { 'run-stroppy-test': NO_WORKER, 'destroy-plan': labels });
    expect(stuckTasks(run).map((g) => [g.kind, g.tasks.map((t) => t.name)])).toEqual([
      ['no_worker', ['run-stroppy-test']],
      ['missing_labels', ['destroy-plan']],
    ]);
  });

  it('is empty for a run with nothing stuck', () => {
    expect(stuckTasks(RUN)).toEqual([]);
    expect(stuckTasks(queued(RUN, { 'destroy-plan': BUSY }))).toEqual([]);
  });
});
