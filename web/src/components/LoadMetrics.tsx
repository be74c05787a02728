/**
 * Grafana-like panels under a load's TPS chart: the load machine's CPU and disks, the
 * database's commits, WAL, buffer hits, wait events, its standbys' lag and each server's own
 * commits, second by second (and what the pooler counted, when the load went through one). Every chart spans
 * the same time range and shares one cursor and zoom with the TPS chart (`sync`), so a dip in
 * TPS lines up with what the machine and the database did then. Checkpoints are dashed lines
 * on every chart; a scheduled fault a solid one, its outage shaded.
 */
import { useMemo, type ReactNode } from 'react';
import { byteUnit, formatBytes, formatLatency, formatNumber } from '../lib/format.ts';
import { mean, padToRange, type LoadMetrics as Metrics, type ReplicationSeries, type ServerSeries, type WaitSeries } from '../lib/metrics.ts';
import { LineChart, type ChartBand, type ChartEvent, type LineSeries } from './LineChart.tsx';
import { PoolerFigures } from './PoolerFigures.tsx';

/** Okabe-Ito, as the suite's charts: distinct for colour-blind readers. */
const C = { blue: '#0072b2', orange: '#e69f00', green: '#009e73', pink: '#cc79a7', sky: '#56b4e9', red: '#d55e00', grey: '#52606d' };
const WAIT_COLORS = [C.red, C.blue, C.orange, C.green, C.pink];
/** A standby's colour, by its number (`replica_2`, `replica-2`), the same on every panel; green is the primary's commits. */
const REPLICA_COLORS = [C.blue, C.orange, C.pink, C.sky];
function replicaColor(name: string, i: number): string {
  const n = Number(/(\d+)$/.exec(name)?.[1]);
  return REPLICA_COLORS[(Number.isInteger(n) && n > 0 ? n - 1 : i) % REPLICA_COLORS.length]!;
}
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
  /** A fault's moment (unlabelled here: the TPS chart above names it) and its outage, on every chart. */
  events?: readonly ChartEvent[] | undefined;
  bands?: readonly ChartBand[] | undefined;
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

/** A machine's CPU lines: the same on the load machine's panel and the database machine's. */
function cpuLines(m: NonNullable<Metrics['system']>): Lines {
  return [
    { label: 'user', values: m.user, color: C.blue, unit: '%' },
    { label: 'system', values: m.system, color: C.orange, unit: '%' },
    { label: 'iowait', values: m.iowait, color: C.red, unit: '%' },
  ];
}

/** The standbys' lag, one line each, in the unit its largest value reads best in. */
function lagData(rep: ReplicationSeries, range: [number, number] | null) {
  const { unit, size } = byteUnit(Math.max(0, ...rep.replicas.map((r) => r.max ?? 0)));
  const lines = rep.replicas.map((r, i) => ({
    label: r.syncState ? `${r.name} (${r.syncState})` : r.name,
    values: r.lagBytes.map((v) => (v === null ? null : v / size)),
    color: replicaColor(r.name, i),
    unit,
  }));
  return { unit, chart: stretched(rep.t, lines, range) };
}

/**
 * Each server's commits, one line each. Not through padToRange: its samples' times are
 * merged, and a line must go on across another server's times (undefined there, not null).
 */
function perServerData(s: ServerSeries, range: [number, number] | null): { x: number[]; series: LineSeries[] } {
  // The range's ends, as padToRange adds them.
  const x = [...s.t];
  const ys = s.servers.map((srv) => [...srv.commits]);
  if (range && (!x.length || range[0] < x[0]!)) {
    x.unshift(range[0]);
    ys.forEach((y) => y.unshift(null));
  }
  if (range && range[1] > x[x.length - 1]!) {
    x.push(range[1]);
    ys.forEach((y) => y.push(null));
  }
  return {
    x,
    series: s.servers.map((srv, i) => ({
      label: srv.name,
      values: ys[i]!,
      color: srv.name === 'primary' ? C.green : replicaColor(srv.name, i),
      unit: '/s',
    })),
  };
}

/**
 * The data of every chart of the stack, built once per result: new arrays on each render would
 * reset a chart's zoom (uPlot refits x on setData).
 */
export function stackData(m: Metrics, range: [number, number] | null) {
  const { system: sys, database: db, waits, databaseMachine: dbm } = m;
  return {
    lag: m.replication ? lagData(m.replication, range) : null,
    perServer: m.servers ? perServerData(m.servers, range) : null,
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

export function LoadMetricsStack({ metrics, range, sync, markers, events, bands }: StackProps & { metrics: Metrics }) {
  const data = useMemo(() => stackData(metrics, range), [metrics, range]);
  const { system: sys, database: db, waits } = metrics;
  const missing = !sys && !db ? 'No system samples' : !sys ? 'No system samples (the load machine)' : !db ? 'No database samples' : null;
  const common = { height: METRIC_HEIGHT, sync, gutter: true, markers, events, bands };
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
      {metrics.servers && data.perServer && (
        <MetricPanel
          label="Per server"
          title={
            <>
              Per server <span className="muted">commits/s, each server's own</span>
            </>
          }
          meta={`avg ${metrics.servers.servers.map((s) => `${s.name} ${formatNumber(s.mean, 0)}`).join(' · ')} commits/s`}
        >
          <LineChart {...data.perServer} {...common} yLabel="commits/s" yRange={[0, null]} />
        </MetricPanel>
      )}
      {metrics.replication && data.lag && (
        <MetricPanel
          label="Replication lag"
          title={
            <>
              Replication lag <span className="muted">{data.lag.unit} of WAL not replayed yet, per standby</span>
            </>
          }
          meta={metrics.replication.replicas
            .map((r) => `${r.name} max ${formatBytes(r.max)} · mean ${formatBytes(r.mean)}${r.maxReplayMs === null ? '' : ` · replay ≤ ${formatLatency(r.maxReplayMs)}`}`)
            .join('; ')}
        >
          <LineChart {...data.lag.chart} {...common} yLabel={data.lag.unit} yRange={[0, null]} />
        </MetricPanel>
      )}
      {metrics.pooler && (
        <MetricPanel
          label="Pooler"
          title={
            <>
              Pooler <span className="muted">PgBouncer's counts over the window</span>
            </>
          }
        >
          <PoolerFigures pooler={metrics.pooler} />
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
