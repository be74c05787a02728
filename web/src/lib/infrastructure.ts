/**
 * What the Infrastructure page makes of a deployment (a test run's machines on one provider):
 * its age, the time left before the leak guard destroys it, whether it is already the leak
 * guard's, and what a destroy did. Pure; tested in infrastructure.test.ts.
 */
import type { DeploymentView, DestroyedDeployment } from '../api/types.ts';
import { ApiError, errorMessage } from '../api/problem.ts';
import { DASH } from './format.ts';
import { isTerminal } from './status.ts';

/** A compact span of time: "45s", "12m", "2h 50m", "3d 4h" (whole units, rounded down). */
export function formatSpan(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

/** How long ago a deployment's run was created: "12m" (a dash when the run is gone). */
export function formatAge(createdAt: number | null | undefined, now: number): string {
  if (createdAt === null || createdAt === undefined) return DASH;
  return formatSpan(now - createdAt);
}

/** Under this much TTL left, the time is shown in the warning colour. */
export const TTL_SOON_MS = 15 * 60_000;

export interface TtlLeft {
  /** "in 2h 50m", "expired", or a dash when there is no TTL (the run is gone). */
  text: string;
  /** `expired`: past the TTL (the leak guard is destroying it); `soon`: under TTL_SOON_MS left. */
  tone: 'none' | 'ok' | 'soon' | 'expired';
}

/** The time left before the leak guard destroys the machines, whatever the run does. */
export function ttlLeft(expiresAt: number | null | undefined, now: number): TtlLeft {
  if (expiresAt === null || expiresAt === undefined) return { text: DASH, tone: 'none' };
  const left = expiresAt - now;
  if (left <= 0) return { text: 'expired', tone: 'expired' };
  return { text: `in ${formatSpan(left)}`, tone: left < TTL_SOON_MS ? 'soon' : 'ok' };
}

/**
 * Why a deployment is a leak (the leak guard destroys it at its next pass), or null while its
 * run still uses it: the run is gone, the run has ended and its teardown left the machines,
 * or the TTL is past.
 */
export function leakReason(d: Pick<DeploymentView, 'run_status' | 'expires_at'>, now: number): string | null {
  if (d.run_status === null || d.run_status === undefined) return 'its run no longer exists';
  if (isTerminal(d.run_status)) return `its run has ended (${d.run_status.toLowerCase()}) but the machines are still held`;
  if (d.expires_at !== null && d.expires_at !== undefined && d.expires_at <= now) return 'its TTL has passed';
  return null;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The sentence after a destroy: which machines went and whether the run was cancelled. */
export function destroyedSummary(r: DestroyedDeployment, shortRun: string): string {
  const machines = r.destroyed.length
    ? `Destroyed ${plural(r.destroyed.length, 'machine')} of run ${shortRun}: ${r.destroyed.join(', ')}.`
    : `Run ${shortRun} held no machines any more; its leases are given back.`;
  return r.cancelled ? `${machines} The run was still going and is cancelled.` : machines;
}

/** Why a destroy failed: the problem's `detail`, with what the status means for the machines. */
export function destroyFailure(err: unknown): string {
  const detail = errorMessage(err);
  if (!(err instanceof ApiError)) return detail;
  switch (err.status) {
    case 403:
      return `${detail} (destroying a deployment takes a token with the admin scope)`;
    case 404:
      return `${detail} (it may have been destroyed already)`;
    case 502:
      return `${detail} (the provider could not destroy everything: the leases stay and the leak guard tries again)`;
    default:
      return detail;
  }
}

/** Totals for the panel head: deployments' machines and cores, and how many are leaks. */
export function deploymentTotals(ds: DeploymentView[], now: number): { machines: number; cores: number; leaks: number } {
  let machines = 0;
  let cores = 0;
  let leaks = 0;
  for (const d of ds) {
    machines += d.machines.length;
    for (const m of d.machines) cores += m.cores;
    if (leakReason(d, now)) leaks += 1;
  }
  return { machines, cores, leaks };
}
