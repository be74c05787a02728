/** A test's verdict against the baseline, and its delta coloured by that verdict. */
import type { Comparison } from '../api/types.ts';
import { formatDelta } from '../lib/format.ts';
import { verdictDeltaTone, verdictStyle } from '../lib/verdict.ts';

/** The server's verdict, its reason (the interval, the threshold) on hover. */
export function VerdictBadge({ comparison, metric }: { comparison: Comparison | null | undefined; metric?: string }) {
  if (!comparison) return null;
  const v = verdictStyle(comparison.verdict);
  return (
    <span className={`verdict verdict-${v.tone}`} title={`${metric ? `${metric}: ` : ''}${comparison.reason}`}>
      {v.label}
    </span>
  );
}

/**
 * A change against the baseline. With a verdict only a significant change is green or red (a
 * +4 % inside the noise is grey); without one (the suite still runs) the sign says.
 */
export function VerdictDelta({
  pct,
  comparison,
  higherIsBetter,
}: {
  pct: number | null;
  comparison?: Comparison | null | undefined;
  higherIsBetter: boolean;
}) {
  const d = formatDelta(pct, higherIsBetter);
  const tone = comparison && d.tone !== 'none' ? verdictDeltaTone(comparison.verdict) : d.tone;
  return (
    <span className={`delta delta-${tone}`} title={comparison?.reason}>
      {d.text}
    </span>
  );
}
