import { describe, expect, it } from 'vitest';
import type { Comparison } from '../api/types.ts';
import { axis, extent, niceCeil, position, tickLabel, whiskerOf } from './bars.ts';

const cmp = (low: number | null, high: number | null): Comparison => ({
  ratio: 1,
  delta_pct: 0,
  low,
  high,
  verdict: 'inconclusive',
  reason: '',
});

describe('niceCeil', () => {
  it.each([
    [1777, 2000],
    [2000, 2000],
    [2001, 2500],
    [0.3, 0.5],
    [0.7, 1],
    [9, 10],
    [0.06, 0.1],
  ])('%s → %s', (v, nice) => {
    expect(niceCeil(v)).toBeCloseTo(nice, 12);
  });
});

describe('axis', () => {
  it('rounds the end of the scale up to a whole step', () => {
    expect(axis(7108.6)).toEqual({ max: 8000, ticks: [0, 2000, 4000, 6000, 8000] });
    expect(axis(2.897)).toEqual({ max: 3, ticks: [0, 1, 2, 3] });
    expect(axis(0.3)).toEqual({ max: 0.3, ticks: [0, 0.1, 0.2, 0.3] });
  });

  it('has no scale without a value', () => {
    expect(axis(0)).toEqual({ max: 0, ticks: [] });
    expect(axis(Number.NaN)).toEqual({ max: 0, ticks: [] });
  });
});

describe('whiskerOf', () => {
  it('is the interval of the ratio times the baseline median', () => {
    const [lo, hi] = whiskerOf(cmp(1.1220648558380328, 2.3022288093351193), 3238.112924)!;
    expect(lo).toBeCloseTo(3633.37, 1);
    expect(hi).toBeCloseTo(7454.87, 1);
  });

  it('has none without an interval (fewer than 3 runs) or without a baseline', () => {
    expect(whiskerOf(cmp(null, null), 100)).toBeNull();
    expect(whiskerOf(cmp(0.9, 1.1), null)).toBeNull();
    expect(whiskerOf(cmp(0.9, 1.1), 0)).toBeNull();
    expect(whiskerOf(null, 100)).toBeNull();
  });
});

describe('extent and position', () => {
  it('covers bars, whisker ends and dots, and clamps to the track', () => {
    expect(extent([{ value: 10, whisker: [8, 14], dots: [9, 11] }, { value: null, whisker: null, dots: [16] }])).toBe(16);
    expect(extent([])).toBe(0);
    expect(position(50, 200)).toBe(25);
    expect(position(300, 200)).toBe(100);
    expect(position(-1, 200)).toBe(0);
    expect(position(5, 0)).toBe(0);
  });
});

describe('tickLabel', () => {
  it('shortens thousands', () => {
    expect(tickLabel(8000)).toBe('8k');
    expect(tickLabel(2500)).toBe('2.5k');
    expect(tickLabel(0.25)).toBe('0.25');
    expect(tickLabel(0)).toBe('0');
  });
});
