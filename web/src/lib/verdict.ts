/**
 * The server's verdicts on a test against the baseline (a bootstrap interval of the ratio of
 * medians, see SuiteResult.significance): colour, label, and the sentences around them. Pure;
 * tested in verdict.test.ts.
 */
import type { Significance, Summary } from '../api/types.ts';
import { humanize } from './status.ts';

/** good (green) · bad (red) · neutral (grey, a real "no difference") · muted (pale, "can't tell"). */
export type VerdictTone = 'good' | 'bad' | 'neutral' | 'muted';

export interface VerdictStyle {
  tone: VerdictTone;
  label: string;
}

const VERDICTS: Record<string, VerdictStyle> = {
  improvement: { tone: 'good', label: 'Improvement' },
  regression: { tone: 'bad', label: 'Regression' },
  no_difference: { tone: 'neutral', label: 'No significant difference' },
  inconclusive: { tone: 'muted', label: 'Inconclusive' },
};

/** The verdicts with a style of their own. */
export const KNOWN_VERDICTS: ReadonlySet<string> = new Set(Object.keys(VERDICTS));

/** A verdict from a newer server is shown muted, under its own name. */
export function verdictStyle(verdict: string | null | undefined): VerdictStyle {
  const known = VERDICTS[(verdict ?? '').toLowerCase()];
  return known ?? { tone: 'muted', label: humanize(verdict ?? '') };
}

/** The delta colour classes of format.ts for a verdict: only a significant change is coloured. */
export function verdictDeltaTone(verdict: string | null | undefined): 'better' | 'worse' | 'same' {
  const tone = verdictStyle(verdict).tone;
  return tone === 'good' ? 'better' : tone === 'bad' ? 'worse' : 'same';
}

/** 0.95 → "95", 0.995 → "99.5". */
function percent(fraction: number, digits = 1): string {
  const v = Math.round(fraction * 100 * 10 ** digits) / 10 ** digits;
  return String(v);
}

/** "a difference counts beyond ±2.0 % at 95 % confidence". */
export function significanceText(s: Significance | null | undefined): string {
  if (!s) return '';
  return `a difference counts beyond ±${(s.min_effect * 100).toFixed(1)} % at ${percent(s.confidence)} % confidence`;
}

/** "3 runs, CV 7.8 %"; a single run has no spread to speak of. */
export function spreadText(s: Summary | null | undefined): string {
  if (!s || !s.n) return '';
  if (s.n === 1) return '1 run';
  return `${s.n} runs, CV ${s.cv_pct.toFixed(1)} %`;
}

/** `result.unsteady`'s "test#2" → { test, repetition }; a name may itself hold '#'. */
export function parseUnsteady(entries: readonly string[] | null | undefined): { test: string; repetition: number }[] {
  const out: { test: string; repetition: number }[] = [];
  for (const e of entries ?? []) {
    const at = e.lastIndexOf('#');
    const repetition = Number(e.slice(at + 1));
    if (at > 0 && Number.isInteger(repetition)) out.push({ test: e.slice(0, at), repetition });
  }
  return out;
}

/**
 * Median, mean and spread of one metric over the repetitions measured so far, the way the
 * server summarizes them (sample standard deviation; CV against the mean): for the live view,
 * before the server's aggregate exists.
 */
export function summarize(values: readonly number[]): Summary | null {
  const v = values.filter((x) => Number.isFinite(x));
  if (!v.length) return null;
  const sorted = [...v].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  const std_dev = v.length > 1 ? Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (v.length - 1)) : 0;
  return {
    n: v.length,
    median,
    mean,
    std_dev,
    cv_pct: mean !== 0 ? (std_dev / Math.abs(mean)) * 100 : 0,
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
  };
}
