/**
 * Why a QUEUED task has not started: the server's sentence from `RunDetail.waiting` (by task
 * id), e.g. "no live worker implements 'shell'", "waiting for a concurrency slot (key 'pg16')",
 * "not before 2026-11-27T10:00:00.000Z". A task no live worker can take is *stuck*: it waits
 * until a person starts a fitting worker, so the pages show it louder than an ordinary wait.
 */
import type { RunDetail, RunState, TaskState } from '../api/types.ts';
import { isTerminal } from './status.ts';

/** The reason `task` waits, or null (not QUEUED, or the server gave none). */
export function waitingReason(run: RunDetail | undefined, task: TaskState): string | null {
  if (task.status !== 'QUEUED') return null;
  const reason = run?.waiting?.[task.id]?.trim();
  if (reason) return reason;
  // An older detail without `waiting`, or a gap: the flag still tells why.
  if (task.waiting_for_slot) return slotReason(task.concurrency_key);
  return null;
}

/** Why a run (rather than a task) waits: not admitted under its concurrency rule yet. */
export function runWaitingReason(run: RunState): string | null {
  if (!run.waiting_for_slot || isTerminal(run.status)) return null;
  return slotReason(run.concurrency_key);
}

function slotReason(key: string | null | undefined): string {
  return `waiting for a concurrency slot${key ? ` (key '${key}')` : ''}`;
}

/** No live worker can take the task (none implements its action, or none has its labels). */
export function isStuck(reason: string | null | undefined): boolean {
  return Boolean(reason && /^no live worker\b/i.test(reason.trim()));
}

export interface StuckGroup {
  reason: string;
  /** The tasks waiting for that reason, with the run they belong to (a child run's are named). */
  tasks: { runId: string; name: string; child: string | null }[];
}

/**
 * The stuck tasks of a run and of its loaded child runs, grouped by reason (in the order
 * first seen), for the banner that says what needs a person.
 */
export function stuckTasks(run: RunDetail, childDetails: ReadonlyMap<string, RunDetail | undefined> = new Map()): StuckGroup[] {
  const groups = new Map<string, StuckGroup>();
  const add = (r: RunDetail, child: string | null) => {
    for (const t of r.tasks) {
      const reason = waitingReason(r, t);
      if (!reason || !isStuck(reason)) continue;
      const g = groups.get(reason) ?? { reason, tasks: [] };
      g.tasks.push({ runId: r.id, name: t.name, child });
      groups.set(reason, g);
    }
  };
  add(run, null);
  for (const c of run.children) {
    const detail = childDetails.get(c.id);
    if (detail) add(detail, `${c.workflow}${c.parent?.key ? ` · ${c.parent.key}` : ''}`);
  }
  return [...groups.values()];
}
