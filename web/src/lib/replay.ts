/**
 * Replaying an ended run (`POST /runs/{id}/replay`): when it is offered, what the request
 * says, and which tasks it will run again (the chosen one and its descendants; the server
 * also reruns the on-failure task and the child runs those tasks spawned).
 */
import type { ReplayRequest, RunDetail, TaskState, WorkflowDef } from '../api/types.ts';
import { isTerminal } from './status.ts';

export interface ReplayAvailability {
  /** Offer the button at all (the run has ended). */
  show: boolean;
  /** It can be pressed now. */
  enabled: boolean;
  /** Why not (a tooltip), when shown but disabled. */
  why: string | null;
}

const HIDDEN: ReplayAvailability = { show: false, enabled: false, why: null };

/** A run can be replayed once it and every child run it spawned have ended. */
export function runReplay(run: RunDetail): ReplayAvailability {
  if (!isTerminal(run.status)) return HIDDEN;
  if (!run.children.every((c) => isTerminal(c.status))) {
    return { show: true, enabled: false, why: 'a child run of this run is still running' };
  }
  return { show: true, enabled: true, why: null };
}

/** "Replay from this task": as for the run; never for the on-failure task (every replay reruns it). */
export function taskReplay(run: RunDetail, task: TaskState): ReplayAvailability {
  if (task.is_on_failure) return HIDDEN;
  return runReplay(run);
}

/** The request body: the task to replay from, or none for every task. */
export function replayRequest(taskName?: string | null): ReplayRequest {
  return { tasks: taskName ? [taskName] : [] };
}

/**
 * The tasks a replay runs again, in definition order: every task, or `taskName` and its
 * descendants. Without a definition (no edges known), only what was named.
 */
export function replayScope(def: WorkflowDef | null | undefined, taskName?: string | null): string[] {
  const tasks = def?.tasks ?? [];
  if (!taskName) return tasks.map((t) => t.name);
  const chosen = new Set([taskName]);
  // Parents come before children in a definition, but do not rely on it: repeat until stable.
  for (let changed = true; changed; ) {
    changed = false;
    for (const t of tasks) {
      if (!chosen.has(t.name) && (t.parents ?? []).some((p) => chosen.has(p))) {
        chosen.add(t.name);
        changed = true;
      }
    }
  }
  const ordered = tasks.map((t) => t.name).filter((n) => chosen.has(n));
  return ordered.includes(taskName) ? ordered : [taskName];
}

/** The question the inline confirm asks: what will run again, what is kept. */
export function replayQuestion(def: WorkflowDef | null | undefined, taskName?: string | null): string {
  const scope = replayScope(def, taskName);
  if (!taskName) {
    return `Run every task of this run again${scope.length ? ` (${scope.length})` : ''}, with the child runs they spawned?`;
  }
  const after = scope.filter((n) => n !== taskName);
  const shown = after.slice(0, 6).join(', ') + (after.length > 6 ? `, … (${after.length - 6} more)` : '');
  const rest = after.length ? ` and the ${after.length === 1 ? 'task' : `${after.length} tasks`} after it (${shown})` : '';
  return `Run ${taskName}${rest} again, with the child runs they spawned? The tasks before it keep their outputs.`;
}
