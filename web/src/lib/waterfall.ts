/**
 * The waterfall of a run: one row per task with its wait (queued → started) and its work
 * (started → finished, or → now while it runs), on a time axis from the run's creation.
 * Child runs' tasks come right after the task that spawned them, indented.
 */
import type { RunDetail, TaskState } from '../api/types.ts';
import { runWaitingReason, waitingReason, type Waiting } from './waiting.ts';

export interface WaterfallRow {
  key: string;
  /** Task id (for selection); child rows carry their own run's task id. */
  taskId: string;
  runId: string;
  name: string;
  status: string;
  /** 0 for the run's tasks, 1 for a child run's tasks. */
  depth: number;
  /** A child run's header row (its workflow name) rather than a task. */
  header?: boolean;
  /** Offsets from the axis origin, in ms; null when that moment has not come. */
  queued: number | null;
  started: number | null;
  finished: number | null;
  /** Derived lengths (ms): waiting for a worker, running. */
  waitMs: number | null;
  runMs: number | null;
  /** Why a QUEUED task (or a child run) has not started, from the server; null otherwise. */
  waiting: Waiting | null;
}

export interface Waterfall {
  origin: number;
  /** Axis length in ms (at least 1). */
  span: number;
  rows: WaterfallRow[];
}

function taskRow(run: RunDetail | undefined, t: TaskState, origin: number, now: number, depth: number): WaterfallRow {
  const off = (v: number | null) => (v === null ? null : v - origin);
  const queuedAt = t.queued_at ?? t.ready_at;
  const end = t.finished_at ?? (t.started_at !== null ? now : null);
  return {
    key: `${t.run_id}:${t.id}`,
    taskId: t.id,
    runId: t.run_id,
    name: t.name,
    status: t.status,
    depth,
    queued: off(queuedAt),
    started: off(t.started_at),
    finished: off(t.finished_at),
    waitMs: queuedAt !== null ? Math.max(0, (t.started_at ?? t.finished_at ?? now) - queuedAt) : null,
    runMs: t.started_at !== null && end !== null ? Math.max(0, end - t.started_at) : null,
    waiting: waitingReason(run, t),
  };
}

/** Order tasks by when they became ready (then by definition order, which `tasks` keeps). */
function ordered(tasks: readonly TaskState[]): TaskState[] {
  return tasks
    .map((t, i) => ({ t, i }))
    .sort((a, b) => {
      const ka = a.t.queued_at ?? a.t.ready_at ?? Number.MAX_SAFE_INTEGER;
      const kb = b.t.queued_at ?? b.t.ready_at ?? Number.MAX_SAFE_INTEGER;
      return ka - kb || a.i - b.i;
    })
    .map((x) => x.t);
}

export function buildWaterfall(
  run: RunDetail,
  now: number,
  childDetails: ReadonlyMap<string, RunDetail | undefined> = new Map(),
): Waterfall {
  const origin = run.created_at;
  const rows: WaterfallRow[] = [];
  for (const t of ordered(run.tasks)) {
    rows.push(taskRow(run, t, origin, now, 0));
    const kids = run.children.filter((c) => c.parent?.task_id === t.id);
    for (const c of kids) {
      rows.push({
        key: `child:${c.id}`,
        taskId: '',
        runId: c.id,
        name: `${c.workflow}${c.parent?.key ? ` · ${c.parent.key}` : ''}`,
        status: c.status,
        depth: 1,
        header: true,
        queued: c.created_at - origin,
        started: c.created_at - origin,
        finished: c.finished_at === null ? null : c.finished_at - origin,
        waitMs: 0,
        runMs: (c.finished_at ?? now) - c.created_at,
        waiting: runWaitingReason(c),
      });
      const detail = childDetails.get(c.id);
      for (const ct of ordered(detail?.tasks ?? [])) rows.push(taskRow(detail, ct, origin, now, 1));
    }
  }
  let end = run.finished_at ?? now;
  for (const r of rows) {
    for (const v of [r.queued, r.started, r.finished]) if (v !== null) end = Math.max(end, origin + v);
    if (r.started !== null && r.finished === null && r.status === 'RUNNING') end = Math.max(end, now);
  }
  return { origin, span: Math.max(1, end - origin), rows };
}

/** Nice tick spacing for an axis of `span` ms with about `target` ticks. */
export function axisTicks(span: number, target = 6): number[] {
  const steps = [100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000];
  const raw = span / Math.max(1, target);
  const step = steps.find((s) => s >= raw) ?? steps[steps.length - 1]!;
  const ticks: number[] = [];
  for (let t = 0; t <= span + 1e-9; t += step) ticks.push(t);
  return ticks;
}
