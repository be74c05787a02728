/**
 * Grafana-like panels under a load's TPS chart: the load machine's CPU and disks, the
 * database's commits, WAL, buffer hits and wait events, second by second. Every chart spans
 * the same time range and shares one cursor and zoom with the TPS chart (`sync`), so a dip in
 * TPS lines up with what the machine and the database did then. Checkpoints are dashed lines
 * on every chart.
 */
import { useMemo, type ReactNode } from 'react';
import { formatNumber } from '../lib/format.ts';
import { mean, padToRange, type LoadMetrics as Metrics, type WaitSeries } from '../lib/metrics.ts';
import { LineChart, type LineSeries } from './LineChart.tsx';

/** Okabe-Ito, as the suite's charts: distinct for colour-blind readers. */
const C = { blue: '#0072b2', orange: '#e69f00', green: '#009e73', pink: '#cc79a7', sky: '#56b4e9', red: '#d55e00', grey: '#52606d' };
const WAIT_COLORS = [C.red, C.blue, C.orange, C.green, C.pink];
export const METRIC_HEIGHT = 130;
const PCT: [number, number] = [0, 100];

type Num = number | null;

function pct(v: Num): string {
  return v === null ? '—' : `${formatNumber(v, v >= 99.5 && v < 100 ? 2 : 1)}%`;
}

/** A panel of the stack: a small heading (what and in which unit), a glance figure, the chart. */
export function MetricPanel({ label, title, meta, children }: { label: string; title: ReactNode; meta?: ReactNode; children: ReactNode }) {
  return (
    <section className="metric" aria-label={label}>
      <div className="metric-head">
        <h3>{title}</h3>
        {meta && <span className="muted small">{meta}</span>}
      </div>
      {children}
    </section>
  );
}

interface StackProps {
  range: [number, number] | null;
  sync: string;
  markers: readonly number[];
}

type Lines = (Omit<LineSeries, 'values'> & { values: Num[] })[];

/** A chart's data, its samples stretched to the shared range (see padToRange). */
function stretched(t: number[], lines: Lines, range: [number, number] | null): { x: number[]; series: LineSeries[] } {
  const padded = padToRange(
    t,
    lines.map((l) => l.values),
    range,
  );
  return { x: padded.x, series: lines.map((l, i) => ({ ...l, values: padded.ys[i]! })) };
}

/**
 * The data of every chart of the stack, built once per result: new arrays on each render would
 * reset a chart's zoom (uPlot refits x on setData).
 */
/** A machine's CPU lines: the same on the load machine's panel and the database machine's. */
function cpuLines(m: NonNullable<Metrics['system']>): Lines {
  return [
    { label: 'user', values: m.user, color: C.blue, unit: '%' },
    { label: 'system', values: m.system, color: C.orange, unit: '%' },
    { label: 'iowait', values: m.iowait, color: C.red, unit: '%' },
  ];
}

function stackData(m: Metrics, range: [number, number] | null) {
  const { system: sys, database: db, waits, databaseMachine: dbm } = m;
  return {
    dbCpu: dbm
      ? stretched(dbm.t, [...cpuLines(dbm), { label: 'disk write', values: dbm.writeMb, color: C.green, unit: 'MB/s', scale: 'y2', dash: true }], range)
      : null,
    cpu: sys ? stretched(sys.t, [...cpuLines(sys), { label: 'steal', values: sys.steal, color: C.grey, unit: '%', dash: true }], range) : null,
    disk: sys
      ? stretched(
          sys.t,
          [
            { label: 'write', values: sys.writeMb, color: C.blue, unit: 'MB/s' },
            { label: 'read', values: sys.readMb, color: C.green, unit: 'MB/s' },
            { label: 'util', values: sys.util, color: C.grey, unit: '%', scale: 'y2', dash: true },
          ],
          range,
        )
      : null,
    db: db
      ? stretched(
          db.t,
          [
            { label: 'commits', values: db.commits, color: C.green, unit: '/s' },
            ...(db.hasRollbacks ? [{ label: 'rollbacks', values: db.rollbacks, color: C.red, unit: '/s' }] : []),
            ...(db.hasWal ? [{ label: 'WAL', values: db.walMb, color: C.pink, unit: 'MB/s', scale: 'y2' as const, dash: true }] : []),
          ],
          range,
        )
      : null,
    cache: db
      ? stretched(
          db.t,
          [
            { label: 'hit ratio', values: db.hitPct, color: C.blue, unit: '%', digits: 2 },
            { label: 'blocks read', values: db.blocksRead, color: C.orange, unit: '/s', scale: 'y2', dash: true },
          ],
          range,
        )
      : null,
    waits: waits
      ? stretched(
          waits.t,
          waits.top.map((w, i) => ({ label: w.name, values: waits.values[i]!, color: WAIT_COLORS[i % WAIT_COLORS.length]! })),
          range,
        )
      : null,
  };
}

function WaitsTable({ waits }: { waits: WaitSeries }) {
  return (
    <table className="table table-compact waits-table" aria-label="Top wait events">
      <thead>
        <tr>
          <th>Wait event</th>
          <th className="num">Avg sessions</th>
          <th className="num">Peak</th>
          <th className="num">Seen in</th>
        </tr>
      </thead>
      <tbody>
        {waits.top.map((w, i) => (
          <tr key={w.name}>
            <td className="mono">
              <span className="swatch" style={{ background: WAIT_COLORS[i % WAIT_COLORS.length] }} aria-hidden="true" />
              {w.name}
            </td>
            <td className="num">{formatNumber(w.total / Math.max(1, waits.samples), 2)}</td>
            <td className="num">{w.peak}</td>
            <td className="num">
              {w.seen}/{waits.samples} s
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function LoadMetricsStack({ metrics, range, sync, markers }: StackProps & { metrics: Metrics }) {
  const data = useMemo(() => stackData(metrics, range), [metrics, range]);
  const { system: sys, database: db, waits } = metrics;
  const missing = !sys && !db ? 'No system samples' : !sys ? 'No system samples (the load machine)' : !db ? 'No database samples' : null;
  const common = { height: METRIC_HEIGHT, sync, gutter: true, markers };
  return (
    <div className="metric-stack">
      {missing && <p className="muted small">{missing} in this result.</p>}
      {sys && data.cpu && (
        <MetricPanel
          label="CPU"
          title={
            <>
              CPU <span className="muted">% of all cores</span>
            </>
          }
          meta={`avg user ${pct(mean(sys.user))} · system ${pct(mean(sys.system))} · iowait ${pct(mean(sys.iowait))} · steal ${pct(mean(sys.steal))}`}
        >
          <LineChart {...data.cpu} {...common} yLabel="CPU %" yRange={PCT} />
        </MetricPanel>
      )}
      {metrics.databaseMachine && data.dbCpu && (
        <MetricPanel
          label="Database machine"
          title={
            <>
              Database machine <span className="muted">CPU % of all cores, disk write MB/s</span>
            </>
          }
          meta={`avg user ${pct(mean(metrics.databaseMachine.user))} · system ${pct(mean(metrics.databaseMachine.system))} · iowait ${pct(mean(metrics.databaseMachine.iowait))} · write ${formatNumber(mean(metrics.databaseMachine.writeMb))} MB/s`}
        >
          <LineChart {...data.dbCpu} {...common} yLabel="CPU %" y2Label="MB/s" yRange={PCT} y2Range={[0, null]} />
        </MetricPanel>
      )}
      {sys && data.disk && (
        <MetricPanel
          label="Disk"
          title={
            <>
              Disk <span className="muted">MB/s, busiest disk's util %</span>
            </>
          }
          meta={`avg write ${formatNumber(mean(sys.writeMb))} MB/s · read ${formatNumber(mean(sys.readMb))} MB/s · util ${pct(mean(sys.util))}`}
        >
          <LineChart {...data.disk} {...common} yLabel="MB/s" y2Label="util %" yRange={[0, null]} y2Range={PCT} />
        </MetricPanel>
      )}
      {db && data.db && (
        <MetricPanel
          label="Database"
          title={
            <>
              Database <span className="muted">commits/s{db.hasWal ? ', WAL MB/s' : ''}</span>
            </>
          }
          meta={
            <>
              avg {formatNumber(mean(db.commits), 0)} commits/s
              {db.hasWal ? ` · WAL ${formatNumber(mean(db.walMb))} MB/s` : ' · no WAL figures (PostgreSQL before 14)'} ·{' '}
              {db.checkpoints ? (
                <span className="marker-key">
                  {formatNumber(db.checkpoints, 0)} checkpoint{db.checkpoints === 1 ? '' : 's'} (dashed lines)
                </span>
              ) : (
                'no checkpoint'
              )}
              {db.deadlocks > 0 && <span className="error-text"> · {formatNumber(db.deadlocks, 0)} deadlock{db.deadlocks === 1 ? '' : 's'}</span>}
              {db.tempMb > 0 && ` · temp files ${formatNumber(db.tempMb)} MB`}
            </>
          }
        >
          <LineChart
            {...data.db}
            {...common}
            yLabel="commits/s"
            yRange={[0, null]}
            {...(db.hasWal ? { y2Label: 'WAL MB/s', y2Range: [0, null] as [number, null] } : {})}
          />
        </MetricPanel>
      )}
      {db && data.cache && (
        <MetricPanel
          label="Buffer cache"
          title={
            <>
              Buffer cache <span className="muted">hit %, blocks read/s</span>
            </>
          }
          meta={`hit ratio ${pct(metrics.hitPct)} over the window · avg ${formatNumber(mean(db.blocksRead))} blocks read/s`}
        >
          <LineChart {...data.cache} {...common} yLabel="hit %" y2Label="reads/s" yRange={[null, 100]} y2Range={[0, null]} />
        </MetricPanel>
      )}
      {db && (
        <MetricPanel
          label="Wait events"
          title={
            <>
              Wait events <span className="muted">sessions waiting, at each sample</span>
            </>
          }
          meta={
            waits
              ? `top ${waits.top.length}${waits.others.length ? ` of ${waits.top.length + waits.others.length}` : ''} by sessions over the window`
              : undefined
          }
        >
          {waits && data.waits ? (
            <>
              <LineChart {...data.waits} {...common} yLabel="sessions" yRange={[0, null]} />
              <WaitsTable waits={waits} />
            </>
          ) : (
            <p className="muted small">No session was seen waiting.</p>
          )}
        </MetricPanel>
      )}
    </div>
  );
}
