/**
 * Why a QUEUED task has not started, from `RunDetail.waiting` (by task id): the server's
 * `kind` (what the dashboard decides on) and `message` (what it shows), e.g.
 * `{ kind: 'no_worker', message: "no live worker implements 'shell'" }`. A task no live worker
 * can take (`no_worker`, `missing_labels`) is *stuck*: it waits until a person starts a
 * fitting worker, so the pages show it louder than an ordinary wait.
 *
 * An older server sent only the sentence (a string): its kind is `unknown`, and whether it is
 * stuck is read from the sentence ("no live worker …"). Older still sent no `waiting` at all.
 */
import type { RunDetail, RunState, TaskState, WaitingKind } from '../api/types.ts';
import { isTerminal } from './status.ts';

/** Every kind the server sends (openapi.test.ts checks the list against the server's). */
export const WAITING_KINDS: readonly WaitingKind[] = [
  'no_worker',
  'missing_labels',
  'concurrency_slot',
  'durable_wait',
  'not_before',
  'workers_busy',
];

/** The kinds that need a person: no live worker can take the task. */
const STUCK_KINDS: ReadonlySet<string> = new Set<WaitingKind>(['no_worker', 'missing_labels']);

/** A wait as the pages show it. */
export interface Waiting {
  /** The server's kind; `unknown` for an older server's bare sentence. */
  kind: WaitingKind | 'unknown' | (string & {});
  /** The sentence for people. */
  message: string;
}

/**
 * One value of `RunDetail.waiting`: the structured form, or an older server's sentence.
 * Null for anything without a message.
 */
export function parseWaiting(raw: unknown): Waiting | null {
  if (typeof raw === 'string') {
    const message = raw.trim();
    return message ? { kind: 'unknown', message } : null;
  }
  if (raw && typeof raw === 'object') {
    const { kind, message } = raw as { kind?: unknown; message?: unknown };
    const text = typeof message === 'string' ? message.trim() : '';
    if (!text) return null;
    return { kind: typeof kind === 'string' && kind ? kind : 'unknown', message: text };
  }
  return null;
}

/** Why `task` waits, or null (not QUEUED, or the server gave no reason). */
export function waitingReason(run: RunDetail | undefined, task: TaskState): Waiting | null {
  if (task.status !== 'QUEUED') return null;
  const reason = parseWaiting(run?.waiting?.[task.id]);
  if (reason) return reason;
  // An older detail without `waiting`, or a gap: the flag still tells why.
  if (task.waiting_for_slot) return slotReason(task.concurrency_key);
  return null;
}

/** Why a run (rather than a task) waits: not admitted under its concurrency rule yet. */
export function runWaitingReason(run: RunState): Waiting | null {
  if (!run.waiting_for_slot || isTerminal(run.status)) return null;
  return slotReason(run.concurrency_key);
}

function slotReason(key: string | null | undefined): Waiting {
  return { kind: 'concurrency_slot', message: `waiting for a concurrency slot${key ? ` (key '${key}')` : ''}` };
}

/**
 * No live worker can take the task (none implements its action, or none has its labels).
 * Decided by the kind; a kind this dashboard does not know (an older server's sentence, or a
 * newer server's kind) falls back on the sentence.
 */
export function isStuck(reason: Waiting | null | undefined): boolean {
  if (!reason) return false;
  if (STUCK_KINDS.has(reason.kind)) return true;
  if ((WAITING_KINDS as readonly string[]).includes(reason.kind)) return false;
  return /^no live worker\b/i.test(reason.message.trim());
}

export interface StuckGroup {
  /** The server's sentence (the group's key). */
  reason: string;
  kind: Waiting['kind'];
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
      const g = groups.get(reason.message) ?? { reason: reason.message, kind: reason.kind, tasks: [] };
      g.tasks.push({ runId: r.id, name: t.name, child });
      groups.set(reason.message, g);
    }
  };
  add(run, null);
  for (const c of run.children) {
    const detail = childDetails.get(c.id);
    if (detail) add(detail, `${c.workflow}${c.parent?.key ? ` · ${c.parent.key}` : ''}`);
  }
  return [...groups.values()];
}
