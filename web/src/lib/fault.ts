/**
 * A test's scheduled fault (`inject-fault`'s output) and the load's outage through it
 * (`LoadResult.outage`), for people and for the charts: one summary line ("kill of the
 * primary at +3.0 s · no transaction for 11.4 s · the load restarted 38 times · replica-1 led
 * after 10.2 s"), and where the fault and the outage fall on the load's clock (`t_s`: seconds
 * since its first measured window began, `windows[0].start_ms`). The server's times are
 * wall-clock epoch milliseconds. Pure; tested in fault.test.ts.
 */
import type { FaultInjected, LoadWindow, Outage } from '../api/types.ts';

/** The step that injects a test run's fault, on the db machine beside the load. */
export const FAULT_TASK = 'inject-fault';

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A task's output as a FaultInjected; null for a skipped step (`{"skipped": true}`), an unfinished one, or anything else. */
export function asFault(output: unknown): FaultInjected | null {
  if (!isRecord(output) || typeof output['kind'] !== 'string' || num(output['at_ms']) === null) return null;
  return output as unknown as FaultInjected;
}

/** A span in seconds, one decimal: "3.0 s". */
function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** "+3.0 s" after the window's start (or "−0.5 s" before it). */
function offset(ms: number): string {
  return `${ms < 0 ? '−' : '+'}${secs(Math.abs(ms))}`;
}

/** What a fault's kind does to the primary, in words: "kill", "restart" (a newer kind as the server names it). */
function kindWord(kind: string): string {
  return kind.replaceAll('_', ' ');
}

/**
 * The fault and its outage in a line: "kill of the primary at +3.0 s · no transaction for
 * 11.4 s · the load restarted 38 times · replica-1 led after 10.2 s" (a restart: "· accepted
 * connections again after 1.2 s"). The time of the fault only with the window's start
 * (`windowStartMs`), the outage's parts only with an outage.
 */
export function faultSummary(fault: FaultInjected, outage?: Outage | null, windowStartMs?: number | null): string {
  const start = num(windowStartMs);
  const parts = [`${kindWord(fault.kind)} of the primary${start === null ? '' : ` at ${offset(fault.at_ms - start)}`}`];
  if (outage) {
    const open = outage.first_after_ms === null || outage.first_after_ms === undefined;
    parts.push(`no transaction for ${outage.seconds.toFixed(1)} s${open ? ', to the end of the window' : ''}`);
    const n = outage.load_restarts;
    parts.push(n === 0 ? 'the load did not restart' : n === 1 ? 'the load restarted once' : `the load restarted ${n} times`);
  }
  const recovered = num(fault.recovered_at_ms);
  if (recovered !== null) parts.push(`accepted connections again after ${secs(recovered - fault.at_ms)}`);
  if (fault.new_leader) {
    const led = num(fault.new_leader_at_ms);
    parts.push(led === null ? `${fault.new_leader} led next` : `${fault.new_leader} led after ${secs(led - fault.at_ms)}`);
  }
  return parts.join(' · ');
}

/** The fault's marker on a chart: "kill primary". */
export function faultLabel(fault: FaultInjected): string {
  return `${kindWord(fault.kind)} primary`;
}

/** Where a fault and its outage go on the load's clock (seconds since the window began). */
export interface FaultMarks {
  /** The fault. */
  at: number;
  /** The marker's label: "kill primary". */
  label: string;
  /**
   * The outage, [the last transaction before, the first after]: to the window's end when none
   * completed again; clamped to the window. Null without an outage.
   */
  outage: [number, number] | null;
}

const onClock = (ms: number, start: number) => +((ms - start) / 1000).toFixed(3);

/**
 * The fault's and the outage's places on the load's clock; null without the fault, or
 * without the window that places it (an older result, a load still running).
 */
export function faultMarks(
  fault: FaultInjected | null | undefined,
  result: { windows?: readonly LoadWindow[] | null; outage?: Outage | null } | null | undefined,
): FaultMarks | null {
  const window = result?.windows?.[0];
  const start = num(window?.start_ms);
  if (!fault || start === null) return null;
  const end = num(window?.end_ms);
  const o = result?.outage;
  let outage: [number, number] | null = null;
  if (o && num(o.last_before_ms) !== null) {
    const to = num(o.first_after_ms) ?? end;
    if (to !== null) {
      const length = end === null ? Infinity : onClock(end, start);
      const clamp = (t: number) => Math.min(Math.max(t, 0), length);
      outage = [clamp(onClock(o.last_before_ms, start)), clamp(onClock(to, start))];
    }
  }
  return { at: onClock(fault.at_ms, start), label: faultLabel(fault), outage };
}

/** The chart overlays of a fault (LineChart's `events` and `bands`): its line, labelled, and its outage shaded. */
export interface FaultOverlay {
  events: { x: number; label: string }[];
  bands: { from: number; to: number }[];
}

export function faultOverlay(marks: FaultMarks | null): FaultOverlay {
  if (!marks) return { events: [], bands: [] };
  return {
    events: [{ x: marks.at, label: marks.label }],
    bands: marks.outage ? [{ from: marks.outage[0], to: marks.outage[1] }] : [],
  };
}
