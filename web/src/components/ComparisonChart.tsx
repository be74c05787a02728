/** Bars comparing a suite's tests: TPS (higher is better) and p95 latency (lower is better). */
import type { ComparisonRow } from '../lib/comparison.ts';
import { formatDelta, formatLatency, formatTps } from '../lib/format.ts';

interface Metric {
  title: string;
  value: (r: ComparisonRow) => number | null;
  delta: (r: ComparisonRow) => number | null;
  format: (v: number) => string;
  higherIsBetter: boolean;
}

const METRICS: Metric[] = [
  { title: 'Throughput (TPS)', value: (r) => r.tps, delta: (r) => r.tpsDeltaPct, format: formatTps, higherIsBetter: true },
  {
    title: 'Latency p95',
    value: (r) => r.latency?.p95 ?? null,
    delta: (r) => r.p95DeltaPct,
    format: formatLatency,
    higherIsBetter: false,
  },
];

/** A row's name; across suites, `suite / test`. */
function label(r: ComparisonRow): string {
  const x = r as ComparisonRow & { suite?: string; test?: string };
  return x.suite !== undefined && x.test !== undefined ? `${x.suite} / ${x.test}` : r.name;
}

function Bars({ rows, metric }: { rows: ComparisonRow[]; metric: Metric }) {
  const values = rows.map(metric.value);
  const max = Math.max(0, ...values.filter((v): v is number => v !== null));
  const measured = values.filter((v) => v !== null) as number[];
  const bestValue = measured.length > 1 ? (metric.higherIsBetter ? Math.max(...measured) : Math.min(...measured)) : null;
  return (
    <figure className="bars">
      <figcaption>{metric.title}</figcaption>
      {rows.map((r, i) => {
        const v = values[i] ?? null;
        const d = r.isBaseline ? null : formatDelta(metric.delta(r), metric.higherIsBetter);
        const tone = v === null ? 'none' : v === bestValue ? 'best' : r.isBaseline ? 'baseline' : 'other';
        return (
          <div className="bar-row" key={'key' in r ? String(r.key) : r.name}>
            <span className="bar-label" title={label(r)}>
              {label(r)}
            </span>
            <span className="bar-track">
              {v !== null && max > 0 && (
                <span className={`bar bar-${tone}`} style={{ width: `${Math.max(1, (v / max) * 100)}%` }} />
              )}
            </span>
            <span className="bar-value">
              {v === null ? <span className="muted">{r.status === 'FAILED' ? 'failed' : 'not measured'}</span> : metric.format(v)}
              {r.isBaseline && v !== null && <span className="tag">baseline</span>}
              {d && d.tone !== 'none' && <span className={`delta delta-${d.tone}`}>{d.text}</span>}
            </span>
          </div>
        );
      })}
    </figure>
  );
}

export function ComparisonChart({ rows }: { rows: ComparisonRow[] }) {
  return (
    <div className="comparison">
      {METRICS.map((m) => (
        <Bars key={m.title} rows={rows} metric={m} />
      ))}
    </div>
  );
}
