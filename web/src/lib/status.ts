/**
 * Status → colour and label, for runs, suites, tests, tasks, agents and timeline events.
 * One vocabulary of tones so a colour means the same thing on every page:
 *   pending (grey outline) · queued (amber) · running (blue, animated) · success (green) ·
 *   failure (red) · cancelled (dark grey) · skipped (light grey, dashed) · warning (orange).
 */

export type Tone = 'pending' | 'queued' | 'running' | 'success' | 'failure' | 'cancelled' | 'skipped' | 'warning';

export interface StatusStyle {
  tone: Tone;
  /** Human label, e.g. "Running". */
  label: string;
  /** The status will change again (polling / animation worth it). */
  live: boolean;
}

const STYLES: Record<string, StatusStyle> = {
  PENDING: { tone: 'pending', label: 'Pending', live: true },
  QUEUED: { tone: 'queued', label: 'Queued', live: true },
  WAITING: { tone: 'queued', label: 'Waiting', live: true },
  ASSIGNED: { tone: 'running', label: 'Assigned', live: true },
  STARTED: { tone: 'running', label: 'Started', live: true },
  RUNNING: { tone: 'running', label: 'Running', live: true },
  RETRYING: { tone: 'warning', label: 'Retrying', live: true },
  REASSIGNED: { tone: 'warning', label: 'Reassigned', live: true },
  TIMEOUT_REFRESHED: { tone: 'running', label: 'Timeout refreshed', live: true },
  ADMITTED: { tone: 'running', label: 'Admitted', live: true },
  REQUEUED: { tone: 'queued', label: 'Requeued', live: true },
  SUSPENDED: { tone: 'queued', label: 'Suspended', live: true },
  REPLAYED: { tone: 'warning', label: 'Replayed', live: true },
  TIMED_OUT: { tone: 'failure', label: 'Timed out', live: false },
  CANCELLING: { tone: 'warning', label: 'Cancelling', live: true },
  CANCEL_REQUESTED: { tone: 'warning', label: 'Cancel requested', live: true },
  COMPLETED: { tone: 'success', label: 'Completed', live: false },
  RUN_COMPLETED: { tone: 'success', label: 'Run completed', live: false },
  FAILED: { tone: 'failure', label: 'Failed', live: false },
  // A suite whose tests all ran, one of them worse than the baseline: orange, not the red of a failure.
  REGRESSED: { tone: 'warning', label: 'Regressed', live: false },
  RUN_FAILED: { tone: 'failure', label: 'Run failed', live: false },
  CANCELLED: { tone: 'cancelled', label: 'Cancelled', live: false },
  RUN_CANCELLED: { tone: 'cancelled', label: 'Run cancelled', live: false },
  SKIPPED: { tone: 'skipped', label: 'Skipped', live: false },
  // agents
  ACTIVE: { tone: 'success', label: 'Active', live: true },
  LOST: { tone: 'failure', label: 'Lost', live: false },
  STOPPED: { tone: 'cancelled', label: 'Stopped', live: false },
};

/** Statuses and event kinds with a style of their own (the others get a guessed one). */
export const KNOWN_STATUSES: ReadonlySet<string> = new Set(Object.keys(STYLES));

/** "SOME_NEW_KIND" → "Some new kind". */
export function humanize(status: string): string {
  const words = status.toLowerCase().replace(/[_-]+/g, ' ').trim();
  return words ? words[0]!.toUpperCase() + words.slice(1) : 'Unknown';
}

export function statusStyle(status: string | null | undefined): StatusStyle {
  const key = (status ?? '').toUpperCase();
  const known = STYLES[key];
  if (known) return known;
  // A kind from a newer server: guess the tone from its name so it still reads right.
  let tone: Tone = 'pending';
  if (/FAIL|ERROR|TIMED_OUT|LOST/.test(key)) tone = 'failure';
  else if (/CANCEL/.test(key)) tone = 'cancelled';
  else if (/COMPLET|SUCCE|DONE/.test(key)) tone = 'success';
  else if (/RUN|START|ASSIGN/.test(key)) tone = 'running';
  else if (/QUEUE|WAIT/.test(key)) tone = 'queued';
  return { tone, label: humanize(key), live: tone === 'running' || tone === 'queued' || tone === 'pending' };
}

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'REGRESSED', 'CANCELLED', 'SKIPPED']);

/** The run/suite/task/test has ended and will not change again. */
export function isTerminal(status: string | null | undefined): boolean {
  return TERMINAL.has((status ?? '').toUpperCase());
}

/** CSS colour variables per tone (defined in styles.css); used by SVG and charts. */
export const TONE_COLOR: Record<Tone, string> = {
  pending: '#9aa5b1',
  queued: '#d69e2e',
  running: '#2b6cb0',
  success: '#2f855a',
  failure: '#c53030',
  cancelled: '#52606d',
  skipped: '#cbd2d9',
  warning: '#dd6b20',
};
