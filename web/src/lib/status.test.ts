import { describe, expect, it } from 'vitest';
import { humanize, isTerminal, statusStyle, TONE_COLOR } from './status.ts';

describe('statusStyle', () => {
  it.each([
    ['PENDING', 'pending', 'Pending'],
    ['QUEUED', 'queued', 'Queued'],
    ['RUNNING', 'running', 'Running'],
    ['COMPLETED', 'success', 'Completed'],
    ['FAILED', 'failure', 'Failed'],
    ['REGRESSED', 'warning', 'Regressed'],
    ['CANCELLED', 'cancelled', 'Cancelled'],
    ['CANCELLING', 'warning', 'Cancelling'],
    ['SKIPPED', 'skipped', 'Skipped'],
    ['ACTIVE', 'success', 'Active'],
    ['LOST', 'failure', 'Lost'],
    ['STOPPED', 'cancelled', 'Stopped'],
    ['TIMED_OUT', 'failure', 'Timed out'],
    ['RETRYING', 'warning', 'Retrying'],
    ['CANCEL_REQUESTED', 'warning', 'Cancel requested'],
  ])('%s → %s / %s', (status, tone, label) => {
    expect(statusStyle(status)).toMatchObject({ tone, label });
  });

  it('is case-insensitive', () => {
    expect(statusStyle('running').tone).toBe('running');
  });

  it('guesses the tone of a kind from a newer server and humanizes its label', () => {
    expect(statusStyle('RUN_TIMED_OUT_HARD')).toEqual({ tone: 'failure', label: 'Run timed out hard', live: false });
    expect(statusStyle('WAITING_FOR_EVENT')).toMatchObject({ tone: 'queued', label: 'Waiting for event', live: true });
    expect(statusStyle('SOMETHING')).toMatchObject({ tone: 'pending', label: 'Something' });
  });

  it('handles a missing status', () => {
    expect(statusStyle(undefined)).toMatchObject({ tone: 'pending', label: 'Unknown' });
    expect(statusStyle(null).label).toBe('Unknown');
  });

  it('marks only unfinished states as live', () => {
    expect(statusStyle('RUNNING').live).toBe(true);
    expect(statusStyle('QUEUED').live).toBe(true);
    expect(statusStyle('COMPLETED').live).toBe(false);
    expect(statusStyle('FAILED').live).toBe(false);
    expect(statusStyle('REGRESSED').live).toBe(false);
  });

  it('tells a regressed suite from a failed one', () => {
    expect(statusStyle('REGRESSED').tone).not.toBe(statusStyle('FAILED').tone);
    expect(statusStyle('regressed').label).toBe('Regressed');
  });

  it('has a colour for every tone', () => {
    for (const s of ['PENDING', 'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'REGRESSED', 'CANCELLED', 'SKIPPED', 'CANCELLING']) {
      expect(TONE_COLOR[statusStyle(s).tone]).toMatch(/^#[0-9a-f]{6}$/);
    }
  });
});

describe('isTerminal', () => {
  it('knows the end states', () => {
    expect(['COMPLETED', 'FAILED', 'REGRESSED', 'CANCELLED', 'SKIPPED'].every((s) => isTerminal(s))).toBe(true);
    expect(isTerminal('regressed')).toBe(true);
    expect(['PENDING', 'QUEUED', 'RUNNING', 'CANCELLING', '', undefined].some((s) => isTerminal(s))).toBe(false);
  });
});

describe('humanize', () => {
  it('turns SCREAMING_SNAKE into a sentence', () => {
    expect(humanize('RUN_COMPLETED')).toBe('Run completed');
    expect(humanize('')).toBe('Unknown');
  });
});
