import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/problem.ts';
import type { DeploymentView } from '../api/types.ts';
import { DASH } from './format.ts';
import {
  deploymentTotals,
  destroyedSummary,
  destroyFailure,
  formatAge,
  formatSpan,
  leakReason,
  TTL_SOON_MS,
  ttlLeft,
} from './infrastructure.ts';

const NOW = 1_900_000_000_000;
const MIN = 60_000;
const HOUR = 60 * MIN;

function deployment(over: Partial<DeploymentView> = {}): DeploymentView {
  return {
    run_id: '019a0000-0000-7000-8000-00000000abcd',
    provider: 'local',
    run_status: 'RUNNING',
    suite_id: '019a0000-0000-7000-8000-000000001234',
    created_at: NOW - 12 * MIN,
    expires_at: NOW + 3 * HOUR,
    network: '127.10.3.0/24',
    machines: [
      { name: 'db-1', cores: 4, address: '127.10.3.2', cloud_id: null, created: true },
      { name: 'loader-1', cores: 2, address: null, cloud_id: null, created: false },
    ],
    destroy_error: null,
    destroy_attempts: null,
    destroy_failed_at: null,
    ...over,
  };
}

function problem(status: number, detail: string): ApiError {
  return new ApiError({ type: 'about:blank', title: 'x', status, detail, errors: [] });
}

describe('formatSpan', () => {
  it('shows whole units, the two largest from hours up', () => {
    expect(formatSpan(0)).toBe('0s');
    expect(formatSpan(45_900)).toBe('45s');
    expect(formatSpan(12 * MIN + 59_000)).toBe('12m');
    expect(formatSpan(2 * HOUR + 50 * MIN + 30_000)).toBe('2h 50m');
    expect(formatSpan(3 * HOUR)).toBe('3h');
    expect(formatSpan(3 * 24 * HOUR + 4 * HOUR + 10 * MIN)).toBe('3d 4h');
    expect(formatSpan(2 * 24 * HOUR)).toBe('2d');
  });

  it('never goes below zero (a clock a little ahead of the server)', () => {
    expect(formatSpan(-5000)).toBe('0s');
  });
});

describe('formatAge', () => {
  it('is the time since the run was created', () => {
    expect(formatAge(NOW - 12 * MIN, NOW)).toBe('12m');
    expect(formatAge(NOW - 26 * HOUR, NOW)).toBe('1d 2h');
  });

  it('is a dash when the run is gone', () => {
    expect(formatAge(null, NOW)).toBe(DASH);
  });
});

describe('ttlLeft', () => {
  it('counts down to the leak guard', () => {
    expect(ttlLeft(NOW + 2 * HOUR + 50 * MIN + 10_000, NOW)).toEqual({ text: 'in 2h 50m', tone: 'ok' });
  });

  it('warns when little is left', () => {
    expect(ttlLeft(NOW + TTL_SOON_MS - 1000, NOW)).toEqual({ text: 'in 14m', tone: 'soon' });
  });

  it('says expired once the TTL has passed', () => {
    expect(ttlLeft(NOW, NOW)).toEqual({ text: 'expired', tone: 'expired' });
    expect(ttlLeft(NOW - HOUR, NOW)).toEqual({ text: 'expired', tone: 'expired' });
  });

  it('is a dash without a TTL', () => {
    expect(ttlLeft(null, NOW)).toEqual({ text: DASH, tone: 'none' });
  });
});

describe('leakReason', () => {
  it('is none while the run uses its machines', () => {
    expect(leakReason(deployment(), NOW)).toBeNull();
    expect(leakReason(deployment({ run_status: 'QUEUED' }), NOW)).toBeNull();
  });

  it('names a gone run, an ended run and a passed TTL', () => {
    expect(leakReason(deployment({ run_status: null, created_at: null, expires_at: null }), NOW)).toBe(
      'its run no longer exists',
    );
    expect(leakReason(deployment({ run_status: 'FAILED' }), NOW)).toBe(
      'its run has ended (failed) but the machines are still held',
    );
    expect(leakReason(deployment({ expires_at: NOW - 1 }), NOW)).toBe('its TTL has passed');
  });
});

describe('deploymentTotals', () => {
  it('adds up machines and cores and counts the leaks', () => {
    expect(deploymentTotals([deployment(), deployment({ run_status: null })], NOW)).toEqual({
      machines: 4,
      cores: 12,
      leaks: 1,
    });
    expect(deploymentTotals([], NOW)).toEqual({ machines: 0, cores: 0, leaks: 0 });
  });
});

describe('destroyedSummary', () => {
  it('names the machines destroyed and a cancelled run', () => {
    expect(destroyedSummary({ run_id: 'r', cancelled: false, destroyed: ['db-1'] }, '0000abcd')).toBe(
      'Destroyed 1 machine of run 0000abcd: db-1.',
    );
    expect(destroyedSummary({ run_id: 'r', cancelled: true, destroyed: ['db-1', 'loader-1'] }, '0000abcd')).toBe(
      'Destroyed 2 machines of run 0000abcd: db-1, loader-1. The run was still going and is cancelled.',
    );
  });

  it('says so when there was nothing left to destroy', () => {
    expect(destroyedSummary({ run_id: 'r', cancelled: false, destroyed: [] }, '0000abcd')).toBe(
      'Run 0000abcd held no machines any more; its leases are given back.',
    );
  });
});

describe('destroyFailure', () => {
  it("is the problem's detail, with what the status means", () => {
    expect(destroyFailure(problem(404, 'nothing is provisioned for run r'))).toBe(
      'nothing is provisioned for run r (it may have been destroyed already)',
    );
    expect(destroyFailure(problem(403, 'this needs the admin scope'))).toMatch(/^this needs the admin scope \(.*admin scope\)$/);
    expect(destroyFailure(problem(502, 'terraform destroy failed'))).toMatch(/^terraform destroy failed \(.*leak guard tries again\)$/);
    expect(destroyFailure(problem(500, 'boom'))).toBe('boom');
  });

  it('passes other errors through', () => {
    expect(destroyFailure(new Error('offline'))).toBe('offline');
  });
});
