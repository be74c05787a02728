/**
 * Geometry of the comparison bars (components/ComparisonChart.tsx): one shared scale per
 * metric with round ticks, the whisker of a confidence interval, the dots of the runs. Values
 * in, percentages of the track out. Pure; tested in bars.test.ts.
 */
import type { Comparison } from '../api/types.ts';

/** What one row draws, in the metric's unit. */
export interface BarShape {
  /** The median (the bar); null when not measured. */
  value: number | null;
  /** The interval of the ratio times the baseline's median; null without one. */
  whisker: readonly [number, number] | null;
  /** One value per measured run. */
  dots: readonly number[];
}

/** The smallest of 1, 2, 2.5 and 5 × 10^k at or above `v` (> 0). */
export function niceCeil(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 1;
  const exp = Math.floor(Math.log10(v));
  const base = 10 ** exp;
  for (const m of [1, 2, 2.5, 5, 10]) {
    // A hair of tolerance: 0.3 / 0.1 is 2.9999999999999996.
    if (m * base >= v * (1 - 1e-9)) return m * base;
  }
  return 10 * base;
}

/** A scale from 0 covering `max`, in about `intervals` round steps, and its ticks. */
export function axis(max: number, intervals = 4): { max: number; ticks: number[] } {
  if (!(max > 0) || !Number.isFinite(max)) return { max: 0, ticks: [] };
  const step = niceCeil(max / intervals);
  const n = Math.max(1, Math.ceil(max / step - 1e-9));
  const ticks = Array.from({ length: n + 1 }, (_, i) => round(i * step));
  return { max: round(n * step), ticks };
}

/** Rid a tick of floating-point dust (0.30000000000000004). */
function round(v: number): number {
  return Number(v.toPrecision(12));
}

/** The largest value a set of rows draws (bar end, whisker end, dot). */
export function extent(shapes: readonly BarShape[]): number {
  let max = 0;
  for (const s of shapes) {
    for (const v of [s.value, s.whisker?.[1], ...s.dots]) if (v !== null && v !== undefined && Number.isFinite(v)) max = Math.max(max, v);
  }
  return max;
}

/** `v` as a percentage of the track, clamped to it. */
export function position(v: number, max: number): number {
  if (!(max > 0)) return 0;
  return Math.min(100, Math.max(0, (v / max) * 100));
}

/**
 * Where a test's median may plausibly lie against the baseline: the interval of the ratio
 * (candidate / baseline medians) times the baseline's median. None when the server gave no
 * interval (fewer than 3 runs) or the baseline was not measured.
 */
export function whiskerOf(c: Comparison | null | undefined, baseMedian: number | null | undefined): [number, number] | null {
  if (!c || c.low === null || c.low === undefined || c.high === null || c.high === undefined) return null;
  if (baseMedian === null || baseMedian === undefined || !(baseMedian > 0)) return null;
  const a = c.low * baseMedian;
  const b = c.high * baseMedian;
  return a <= b ? [a, b] : [b, a];
}

/** A tick's label: 8000 → "8k", 2500 → "2.5k", 0.25 → "0.25". */
export function tickLabel(v: number): string {
  if (Math.abs(v) >= 1000) return `${round(v / 1000)}k`;
  return String(round(v));
}
