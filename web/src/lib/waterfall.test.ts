import { describe, expect, it } from 'vitest';
import type { RunDetail } from '../api/types.ts';
import provisionRun from '../fixtures/provision-run.json';
import testRun from '../fixtures/test-run.json';
import { axisTicks, buildWaterfall } from './waterfall.ts';

const RUN = testRun as unknown as RunDetail;
const CHILD = provisionRun as unknown as RunDetail;

describe('buildWaterfall', () => {
  const wf = buildWaterfall(RUN, RUN.finished_at!, new Map([[CHILD.id, CHILD]]));

  it('has a row per task, in the order they became ready, on an axis from the run start', () => {
    const top = wf.rows.filter((r) => r.depth === 0);
    expect(top).toHaveLength(RUN.tasks.length);
    expect(top[0]!.name).toBe('validate-input');
    expect(wf.origin).toBe(RUN.created_at);
    expect(wf.span).toBe(RUN.finished_at! - RUN.created_at);
    for (const r of top) if (r.finished !== null) expect(r.finished).toBeLessThanOrEqual(wf.span);
  });

  it('splits waiting from running', () => {
    const first = wf.rows[0]!;
    const t = RUN.tasks[0]!;
    expect(first.waitMs).toBe(t.started_at! - t.queued_at!);
    expect(first.runMs).toBe(t.finished_at! - t.started_at!);
  });

  it('puts the child run and its tasks right after the task that spawned it', () => {
    const i = wf.rows.findIndex((r) => r.name === 'deploy-plan');
    expect(wf.rows[i + 1]).toMatchObject({ header: true, depth: 1, runId: CHILD.id, name: 'cloud-provision · provision' });
    expect(wf.rows.slice(i + 2, i + 2 + CHILD.tasks.length).every((r) => r.depth === 1 && r.runId === CHILD.id)).toBe(true);
  });

  it('shows a skipped task without a run bar', () => {
    const skipped = wf.rows.find((r) => r.name === 'install-stroppy')!;
    expect(skipped.status).toBe('SKIPPED');
    expect(skipped.started).toBeNull();
    expect(skipped.runMs).toBeNull();
  });

  it("carries the server's reason on a queued task's row, and only there", () => {
    const now = RUN.created_at + 60_000;
    const load = RUN.tasks.find((t) => t.name === 'run-stroppy-test')!;
    const waiting: RunDetail = {
      ...RUN,
      status: 'RUNNING',
      finished_at: null,
      tasks: RUN.tasks.map((t) => (t.id === load.id ? { ...t, status: 'QUEUED', started_at: null, finished_at: null } : t)),
      waiting: { [load.id]: { kind: 'no_worker', message: "no live worker implements 'load.run'" } },
    };
    const w = buildWaterfall(waiting, now);
    const row = w.rows.find((r) => r.name === 'run-stroppy-test')!;
    expect(row).toMatchObject({
      status: 'QUEUED',
      started: null,
      waiting: { kind: 'no_worker', message: "no live worker implements 'load.run'" },
    });
    expect(row.waitMs).toBe(now - load.queued_at!);
    expect(w.rows.filter((r) => r.waiting !== null)).toHaveLength(1);
  });

  it('runs a running task until now', () => {
    const now = RUN.created_at + 60_000;
    const running: RunDetail = {
      ...RUN,
      status: 'RUNNING',
      finished_at: null,
      tasks: RUN.tasks.map((t) => (t.name === 'run-stroppy-test' ? { ...t, status: 'RUNNING', finished_at: null } : t)),
    };
    const w = buildWaterfall(running, now);
    const row = w.rows.find((r) => r.name === 'run-stroppy-test')!;
    const task = running.tasks.find((t) => t.name === 'run-stroppy-test')!;
    expect(row.runMs).toBe(now - task.started_at!);
    expect(w.span).toBe(60_000);
  });
});

describe('axisTicks', () => {
  it('picks round steps', () => {
    expect(axisTicks(20_000)).toEqual([0, 5000, 10_000, 15_000, 20_000]);
    expect(axisTicks(1000, 5)).toEqual([0, 200, 400, 600, 800, 1000]);
    expect(axisTicks(3_600_000).length).toBeLessThanOrEqual(8);
  });
});
