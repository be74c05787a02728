/**
 * Bars comparing a suite's tests: TPS (higher is better) and p95 latency (lower is better).
 * Per test the bar is the median of its runs, a dot each run, the whisker the confidence
 * interval of its difference to the baseline (the interval of the ratio times the baseline's
 * median), and the server's verdict beside it. Plain elements on one shared scale per metric:
 * no chart library for a handful of bars.
 */
import type { CSSProperties } from 'react';
import { Link } from 'react-router';
import type { Comparison, Summary } from '../api/types.ts';
import { axis, extent, position, tickLabel, whiskerOf, type BarShape } from '../lib/bars.ts';
import type { ComparisonRow, RepPoint } from '../lib/comparison.ts';
import { formatLatency, formatTps, shortId } from '../lib/format.ts';
import { spreadText, verdictStyle } from '../lib/verdict.ts';
import { VerdictBadge, VerdictDelta } from './Verdict.tsx';

interface Metric {
  title: string;
  hint: string;
  /** The unit in the dots' and whiskers' tooltips. */
  unit: string;
  value: (r: ComparisonRow) => number | null;
  dot: (p: RepPoint) => number | null;
  summary: (r: ComparisonRow) => Summary | null;
  comparison: (r: ComparisonRow) => Comparison | null;
  delta: (r: ComparisonRow) => number | null;
  format: (v: number) => string;
  higherIsBetter: boolean;
  /** Thinner bars: the second metric, read after the first. */
  compact: boolean;
}

const METRICS: Metric[] = [
  {
    title: 'Throughput (TPS)',
    hint: 'median of the runs · higher is better',
    unit: 'TPS',
    value: (r) => r.tps,
    dot: (p) => p.tps,
    summary: (r) => r.tpsSummary,
    comparison: (r) => r.comparison?.tps ?? null,
    delta: (r) => r.tpsDeltaPct,
    format: formatTps,
    higherIsBetter: true,
    compact: false,
  },
  {
    title: 'Latency p95',
    hint: 'median of the runs · lower is better',
    unit: 'ms',
    value: (r) => r.latency?.p95 ?? null,
    dot: (p) => p.p95,
    summary: (r) => r.p95Summary,
    comparison: (r) => r.comparison?.p95 ?? null,
    delta: (r) => r.p95DeltaPct,
    format: formatLatency,
    higherIsBetter: false,
    compact: true,
  },
];

/** A row's name; across suites, `suite / test`. */
function label(r: ComparisonRow): string {
  const x = r as ComparisonRow & { suite?: string; test?: string };
  return x.suite !== undefined && x.test !== undefined ? `${x.suite} / ${x.test}` : r.name;
}

function rowKey(r: ComparisonRow): string {
  return 'key' in r ? String(r.key) : r.name;
}

/** Green or red only for a significant change; the baseline grey; the rest blue. */
function barTone(r: ComparisonRow, c: Comparison | null): string {
  if (r.isBaseline) return 'baseline';
  const tone = c ? verdictStyle(c.verdict).tone : null;
  return tone === 'good' ? 'good' : tone === 'bad' ? 'bad' : 'other';
}

function notMeasured(r: ComparisonRow): string {
  if (r.status === 'FAILED') return 'failed';
  if (r.status === 'CANCELLED') return 'cancelled';
  if (r.status === 'PENDING' || r.status === 'RUNNING' || r.status === 'QUEUED') return 'measuring…';
  return 'not measured';
}

function Figure({ rows, metric, confidencePct }: { rows: ComparisonRow[]; metric: Metric; confidencePct: string }) {
  const base = rows.find((r) => r.isBaseline);
  const baseMedian = base ? metric.value(base) : null;
  const shapes: BarShape[] = rows.map((r) => ({
    value: metric.value(r),
    whisker: r.isBaseline ? null : whiskerOf(metric.comparison(r), baseMedian),
    dots: r.repetitions.map(metric.dot).filter((v): v is number => v !== null),
  }));
  const scale = axis(extent(shapes));
  const pos = (v: number) => position(v, scale.max);
  // Vertical grid lines at the ticks, drawn by the track's background.
  const grid = scale.ticks.length > 1 ? ({ '--grid': `${100 / (scale.ticks.length - 1)}%` } as CSSProperties) : undefined;
  return (
    <figure className={`bars${metric.compact ? ' bars-compact' : ''}`} aria-label={metric.title}>
      <figcaption>
        {metric.title} <span className="muted small">{metric.hint}</span>
      </figcaption>
      {rows.map((r, i) => {
        const shape = shapes[i]!;
        const v = shape.value;
        const c = r.isBaseline ? null : metric.comparison(r);
        const w = shape.whisker;
        return (
          <div className="bar-row" key={rowKey(r)}>
            <span className="bar-label" title={label(r)}>
              {label(r)}
            </span>
            <span className="bar-track" style={grid}>
              {v !== null && scale.max > 0 && <span className={`bar bar-${barTone(r, c)}`} style={{ width: `${Math.max(0.5, pos(v))}%` }} />}
              {baseMedian !== null && scale.max > 0 && <span className="bar-ref" style={{ left: `${pos(baseMedian)}%` }} aria-hidden="true" />}
              {w && (
                <span
                  className="whisker"
                  style={{ left: `${pos(w[0])}%`, width: `${Math.max(0, pos(w[1]) - pos(w[0]))}%` }}
                  title={`${confidencePct} % interval: ${metric.format(w[0])} to ${metric.format(w[1])}${c ? ` — ${c.reason}` : ''}`}
                />
              )}
              {r.repetitions.map((p) => {
                const d = metric.dot(p);
                if (d === null) return null;
                const unsteady = p.steadiness && !p.steadiness.steady;
                return (
                  <span
                    key={p.repetition}
                    className={`rep-dot${unsteady ? ' rep-dot-unsteady' : ''}`}
                    style={{ left: `${pos(d)}%` }}
                    title={`${label(r)} #${p.repetition}: ${metric.format(d)}${unsteady ? ` — not steady: ${p.steadiness?.note ?? ''}` : ''}`}
                  />
                );
              })}
            </span>
            <span className="bar-value">
              {v === null ? <span className="muted">{notMeasured(r)}</span> : <span className="strong">{metric.format(v)}</span>}
              {!r.isBaseline && v !== null && <VerdictDelta pct={metric.delta(r)} comparison={c} higherIsBetter={metric.higherIsBetter} />}
            </span>
            <span className="bar-verdict">
              {r.isBaseline ? <span className="tag">baseline</span> : <VerdictBadge comparison={c} metric={metric.title} />}
              <span className="small muted">{spreadText(metric.summary(r))}</span>
            </span>
          </div>
        );
      })}
      {scale.ticks.length > 1 && (
        <div className="bar-row bar-axis" aria-hidden="true">
          <span />
          <span className="axis-ticks">
            {scale.ticks.map((t) => (
              <span key={t} style={{ left: `${pos(t)}%` }}>
                {tickLabel(t)}
              </span>
            ))}
          </span>
          <span />
          <span />
        </div>
      )}
    </figure>
  );
}

/** How to read the bars. */
function Legend({ confidencePct }: { confidencePct: string }) {
  return (
    <p className="bars-legend small muted">
      <span>
        <span className="legend-bar" /> median
      </span>
      <span>
        <span className="legend-dot" /> one run
      </span>
      <span>
        <span className="legend-whisker" /> {confidencePct} % interval against the baseline
      </span>
      <span>
        <span className="legend-ref" /> baseline median
      </span>
      <span>
        <span className="verdict verdict-good">green</span> / <span className="verdict verdict-bad">red</span>: a significant change
      </span>
    </p>
  );
}

export function ComparisonChart({ rows, confidence = 0.95 }: { rows: ComparisonRow[]; confidence?: number | undefined }) {
  const confidencePct = String(Math.round(confidence * 1000) / 10);
  if (!rows.some((r) => r.tps !== null || r.latency !== null)) return <p className="muted">Nothing measured yet.</p>;
  return (
    <div className="comparison">
      {METRICS.map((m) => (
        <Figure key={m.title} rows={rows} metric={m} confidencePct={confidencePct} />
      ))}
      <Legend confidencePct={confidencePct} />
    </div>
  );
}

/** Runs whose throughput was not steady over their window (a drift, a collapse): worth a look. */
export function UnsteadyRuns({ rows, unsteady }: { rows: ComparisonRow[]; unsteady: { test: string; repetition: number }[] }) {
  if (!unsteady.length) return null;
  return (
    <div className="warn-box unsteady">
      <strong>Unsteady runs</strong>: their throughput did not hold steady over the measured window, so their numbers say less.
      <ul>
        {unsteady.map((u) => {
          const p = rows.find((r) => r.name === u.test)?.repetitions.find((x) => x.repetition === u.repetition);
          return (
            <li key={`${u.test}#${u.repetition}`}>
              <span className="strong">
                {u.test} #{u.repetition}
              </span>
              {p?.steadiness?.note && <> — {p.steadiness.note}</>}
              {p && (
                <>
                  {' '}
                  (<Link to={`/runs/${p.runId}`}>run {shortId(p.runId)}</Link>)
                </>
              )}
            </li>
          );
        })}
      </ul>
    </div>
  );
}
