/**
 * The load machine and the database during a measured load: a LoadResult's per-second
 * `system` and `database` samples as chart series, on the load's clock (`t_s` is seconds since
 * the measured load started, as in its TPS series). Older results have neither: every builder
 * returns null then. Pure; tested in metrics.test.ts.
 */
import type { DatabasePoint, PoolerStats, SystemPoint } from '../api/types.ts';

type Num = number | null;

/** Bytes in a megabyte: 10^6, as disks and networks count them (Grafana's "bytes (SI)"). */
export const MB = 1_000_000;

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Bytes (per second) to MB (per second); null for a missing or broken value. */
export function toMb(bytes: unknown): number | null {
  const b = num(bytes);
  return b === null ? null : b / MB;
}

/**
 * Share of the block requests served from shared buffers, in percent: hit / (hit + read).
 * Null when nothing was asked for in the interval (no ratio, rather than 0 % or 100 %).
 */
export function hitRatioPct(hit: unknown, read: unknown): number | null {
  const h = num(hit);
  const r = num(read);
  if (h === null || r === null || h < 0 || r < 0 || h + r === 0) return null;
  return (100 * h) / (h + r);
}

/** Samples with a usable time, in time order (the server sends them so; a copy is cheap). */
function samples<T extends { t_s: number }>(points: unknown): T[] {
  if (!Array.isArray(points)) return [];
  return (points as unknown[]).filter((p): p is T => isRecord(p) && num(p['t_s']) !== null).sort((a, b) => a.t_s - b.t_s);
}

export interface SystemSeries {
  t: number[];
  user: Num[];
  system: Num[];
  iowait: Num[];
  steal: Num[];
  readMb: Num[];
  writeMb: Num[];
  util: Num[];
}

export function systemSeries(points: readonly SystemPoint[] | null | undefined): SystemSeries | null {
  const pts = samples<SystemPoint>(points);
  if (!pts.length) return null;
  return {
    t: pts.map((p) => p.t_s),
    user: pts.map((p) => num(p.cpu_user_pct)),
    system: pts.map((p) => num(p.cpu_system_pct)),
    iowait: pts.map((p) => num(p.cpu_iowait_pct)),
    steal: pts.map((p) => num(p.cpu_steal_pct)),
    readMb: pts.map((p) => toMb(p.disk_read_bytes_ps)),
    writeMb: pts.map((p) => toMb(p.disk_write_bytes_ps)),
    util: pts.map((p) => num(p.disk_util_pct)),
  };
}

export interface DatabaseSeries {
  t: number[];
  commits: Num[];
  rollbacks: Num[];
  walMb: Num[];
  hitPct: Num[];
  blocksRead: Num[];
  /** When checkpoints ran: the times of the samples that saw one (for markers). */
  checkpointsAt: number[];
  /** Totals over the window. */
  checkpoints: number;
  deadlocks: number;
  tempMb: number;
  /** PostgreSQL reported its WAL volume (14 and later). */
  hasWal: boolean;
  /** Some transaction rolled back (the line is drawn only then). */
  hasRollbacks: boolean;
}

export function databaseSeries(points: readonly DatabasePoint[] | null | undefined): DatabaseSeries | null {
  const pts = samples<DatabasePoint>(points);
  if (!pts.length) return null;
  const walMb = pts.map((p) => toMb(p.wal_bytes_ps));
  const rollbacks = pts.map((p) => num(p.rollbacks_ps));
  const sum = (f: (p: DatabasePoint) => unknown) => pts.reduce((s, p) => s + (num(f(p)) ?? 0), 0);
  // A rate over the interval before each sample (a second for the first): integrate it.
  let tempBytes = 0;
  pts.forEach((p, i) => {
    const dt = i === 0 ? 1 : p.t_s - pts[i - 1]!.t_s;
    tempBytes += (num(p.temp_bytes_ps) ?? 0) * dt;
  });
  return {
    t: pts.map((p) => p.t_s),
    commits: pts.map((p) => num(p.commits_ps)),
    rollbacks,
    walMb,
    hitPct: pts.map((p) => hitRatioPct(p.blocks_hit_ps, p.blocks_read_ps)),
    blocksRead: pts.map((p) => num(p.blocks_read_ps)),
    checkpointsAt: pts.filter((p) => (num(p.checkpoints) ?? 0) > 0).map((p) => p.t_s),
    checkpoints: sum((p) => p.checkpoints),
    deadlocks: sum((p) => p.deadlocks),
    tempMb: tempBytes / MB,
    hasWal: walMb.some((v) => v !== null),
    hasRollbacks: rollbacks.some((v) => v !== null && v > 0),
  };
}

/** One wait event over the window: sessions summed over the samples, the most at once, in how many samples. */
export interface WaitStat {
  name: string;
  total: number;
  peak: number;
  seen: number;
}

/** The wait events seen, most waited first (ties by name, for a stable order). */
export function waitStats(points: readonly DatabasePoint[] | null | undefined): WaitStat[] {
  const by = new Map<string, WaitStat>();
  for (const p of samples<DatabasePoint>(points)) {
    if (!isRecord(p.waits)) continue;
    for (const [name, raw] of Object.entries(p.waits)) {
      const n = num(raw);
      if (n === null || n <= 0) continue;
      const s = by.get(name) ?? { name, total: 0, peak: 0, seen: 0 };
      s.total += n;
      s.peak = Math.max(s.peak, n);
      s.seen += 1;
      by.set(name, s);
    }
  }
  return [...by.values()].sort((a, b) => b.total - a.total || a.name.localeCompare(b.name));
}

export interface WaitSeries {
  t: number[];
  /** The top wait events, most waited first; `values[i]` is `top[i]`'s sessions per sample. */
  top: WaitStat[];
  values: Num[][];
  /** Wait events left out of `top`. */
  others: WaitStat[];
  /** Samples that reported their waits. */
  samples: number;
}

/**
 * The `n` most waited-on events over time, as active sessions per sample. A sample that
 * reported its waits but not this event had 0 sessions in it; one that reported no waits at
 * all (an older agent) has none (null). Null when no event was ever waited on.
 */
export function waitSeries(points: readonly DatabasePoint[] | null | undefined, n = 5): WaitSeries | null {
  const pts = samples<DatabasePoint>(points);
  const stats = waitStats(pts);
  if (!stats.length) return null;
  const top = stats.slice(0, n);
  return {
    t: pts.map((p) => p.t_s),
    top,
    values: top.map((w) => pts.map((p) => (isRecord(p.waits) ? (num(p.waits[w.name]) ?? 0) : null))),
    others: stats.slice(n),
    samples: pts.filter((p) => isRecord(p.waits)).length,
  };
}

/** One standby over the window, as its primary saw it. */
export interface ReplicaLag {
  /** Its `application_name` (`replica_1`). */
  name: string;
  /** As last sampled (`async`, `sync`, `quorum`, `potential`). */
  syncState: string | null;
  /** WAL not replayed yet, in bytes, per sample; null where the primary did not list it. */
  lagBytes: Num[];
  max: number | null;
  mean: number | null;
  /** The largest `replay_lag` sampled; null when none was (an idle, caught-up standby). */
  maxReplayMs: number | null;
}

export interface ReplicationSeries {
  t: number[];
  /** In name order: replica_1, replica_2... */
  replicas: ReplicaLag[];
}

/**
 * Each standby's lag over the window, from the primary's `pg_stat_replication` samples
 * (`DatabasePoint.replicas`). Null without replicas (a single server, an older result).
 */
export function replicationSeries(points: readonly DatabasePoint[] | null | undefined): ReplicationSeries | null {
  const pts = samples<DatabasePoint>(points);
  const rows = pts.map((p) => (Array.isArray(p.replicas) ? p.replicas.filter((r) => isRecord(r) && typeof r.name === 'string') : []));
  const names = [...new Set(rows.flat().map((r) => r.name))].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (!names.length) return null;
  return {
    t: pts.map((p) => p.t_s),
    replicas: names.map((name) => {
      const seen = rows.map((row) => row.find((r) => r.name === name));
      const lagBytes = seen.map((r) => (r ? num(r.lag_bytes) : null));
      const replay = seen.map((r) => num(r?.replay_lag_ms)).filter((v): v is number => v !== null);
      const lags = lagBytes.filter((v): v is number => v !== null);
      const last = seen.filter((r) => r !== undefined).pop();
      return {
        name,
        syncState: last?.sync_state ?? null,
        lagBytes,
        max: lags.length ? Math.max(...lags) : null,
        mean: mean(lagBytes),
        maxReplayMs: replay.length ? Math.max(...replay) : null,
      };
    }),
  };
}

/** One server's commits over the window: the primary's, or a standby's own. */
export interface ServerCommits {
  /** `primary`, or the standby's machine role (`replica-1`). */
  name: string;
  /**
   * Commits per second at each of the merged times: a number; null where a sample of this
   * server lacked it (a gap in its line); undefined where this server had no sample at that
   * time, only another one did (its line goes on across).
   */
  commits: (number | null | undefined)[];
  mean: number | null;
}

export interface ServerSeries {
  /** Every server's sample times, merged (their samplers need not tick together). */
  t: number[];
  /** The primary first, then the standbys in role order: replica-1, replica-2... */
  servers: ServerCommits[];
}

/**
 * Each server's own commits/s over the window: the primary's (`database`) beside each
 * standby's (`servers`, by role). Null without other servers' samples (no standbys, an older
 * result): the Database panel has the primary's then.
 */
export function serverSeries(
  primary: readonly DatabasePoint[] | null | undefined,
  servers: Readonly<Record<string, readonly DatabasePoint[]>> | null | undefined,
): ServerSeries | null {
  if (!isRecord(servers)) return null;
  const others = Object.keys(servers)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .map((name) => ({ name, pts: samples<DatabasePoint>(servers[name]) }))
    .filter((s) => s.pts.length);
  if (!others.length) return null;
  const own = samples<DatabasePoint>(primary);
  const all = [...(own.length ? [{ name: 'primary', pts: own }] : []), ...others];
  const t = [...new Set(all.flatMap((s) => s.pts.map((p) => p.t_s)))].sort((a, b) => a - b);
  return {
    t,
    servers: all.map(({ name, pts }) => {
      const at = new Map(pts.map((p) => [p.t_s, num(p.commits_ps)]));
      return { name, commits: t.map((x) => (at.has(x) ? at.get(x)! : undefined)), mean: mean(pts.map((p) => num(p.commits_ps))) };
    }),
  };
}

/** The [first, last] x over several series (charts stacked on one time axis); null when all are empty. */
export function xExtent(...ts: readonly (readonly number[])[]): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const t of ts) {
    for (const v of t) {
      if (!Number.isFinite(v)) continue;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  return lo <= hi ? [lo, hi] : null;
}

/**
 * Stretch a series to an x range: the range's ends are added, with no values, where the data
 * does not reach them. Each chart then spans exactly the range (uPlot fits x to the data), so
 * charts stacked on one range share their time axis, zoom included; the values keep their own
 * times (samples at 1.06 s stay there, not snapped to the TPS seconds).
 */
export function padToRange(
  t: readonly number[],
  ys: readonly (readonly Num[])[],
  range: readonly [number, number] | null,
): { x: number[]; ys: Num[][] } {
  const x = [...t];
  const out = ys.map((y) => x.map((_, i) => y[i] ?? null));
  if (!range) return { x, ys: out };
  if (!x.length || range[0] < x[0]!) {
    x.unshift(range[0]);
    out.forEach((y) => y.unshift(null));
  }
  if (range[1] > x[x.length - 1]!) {
    x.push(range[1]);
    out.forEach((y) => y.push(null));
  }
  return { x, ys: out };
}

/** The largest value over some series (a y axis shared by small multiples); null when none is above 0. */
export function peak(...ys: readonly (readonly Num[])[]): number | null {
  let hi = 0;
  for (const y of ys) for (const v of y) if (v !== null && Number.isFinite(v)) hi = Math.max(hi, v);
  return hi > 0 ? hi : null;
}

/** The mean of the values there are; null when there are none. */
export function mean(ys: readonly Num[]): number | null {
  let sum = 0;
  let n = 0;
  for (const v of ys) {
    if (v === null || !Number.isFinite(v)) continue;
    sum += v;
    n += 1;
  }
  return n ? sum / n : null;
}

/** The buffer hit ratio over the whole window (blocks summed, not the per-second ratios averaged). */
export function overallHitPct(points: readonly DatabasePoint[] | null | undefined): number | null {
  const pts = samples<DatabasePoint>(points);
  return hitRatioPct(
    pts.reduce((s, p) => s + (num(p.blocks_hit_ps) ?? 0), 0),
    pts.reduce((s, p) => s + (num(p.blocks_read_ps) ?? 0), 0),
  );
}

/** Everything drawn under a load's TPS chart; each part null when the result lacks its samples. */
export interface LoadMetrics {
  system: SystemSeries | null;
  /** The database machine over the same window, when it is another machine. */
  databaseMachine: SystemSeries | null;
  database: DatabaseSeries | null;
  waits: WaitSeries | null;
  hitPct: number | null;
  /** The primary's standbys, when it had some. */
  replication: ReplicationSeries | null;
  /** What the pooler the load went through counted, when it went through one. */
  pooler: PoolerStats | null;
  /** Each server's own commits, when the result has the standbys' samples. */
  servers: ServerSeries | null;
}

export function loadMetrics(
  result:
    | {
        system?: SystemPoint[] | null;
        database?: DatabasePoint[] | null;
        pooler?: PoolerStats | null;
        servers?: Record<string, DatabasePoint[]> | null;
      }
    | null
    | undefined,
  databaseMachine?: SystemPoint[] | null,
): LoadMetrics {
  return {
    system: systemSeries(result?.system),
    databaseMachine: systemSeries(databaseMachine),
    database: databaseSeries(result?.database),
    waits: waitSeries(result?.database),
    hitPct: overallHitPct(result?.database),
    replication: replicationSeries(result?.database),
    pooler: result?.pooler ?? null,
    servers: serverSeries(result?.database, result?.servers),
  };
}

/** One test's row of the suite's small multiples. */
export interface MultiplesRow {
  name: string;
  /** The test has a measured result (with or without samples). */
  measured: boolean;
  system: SystemSeries | null;
  database: DatabaseSeries | null;
}

/**
 * The suite's small multiples: per test, its samples; one time range for every chart (the
 * load's seconds included, as on the TPS chart), and one y maximum per metric, so two tests are
 * compared by eye without reading the axes. Maxima are null when nothing rose above 0.
 */
export function smallMultiples(
  tests: readonly {
    name: string;
    result?: { series?: readonly { t_s: number }[]; system?: SystemPoint[] | null; database?: DatabasePoint[] | null } | null;
  }[],
): { rows: MultiplesRow[]; range: [number, number] | null; writeMax: number | null; commitsMax: number | null; anySamples: boolean } {
  const rows = tests.map((t) => ({
    name: t.name,
    measured: !!t.result,
    system: systemSeries(t.result?.system),
    database: databaseSeries(t.result?.database),
  }));
  const loadTimes = tests.map((t) => (Array.isArray(t.result?.series) ? t.result.series.map((p) => p.t_s) : []));
  return {
    rows,
    range: xExtent(...loadTimes, ...rows.map((r) => r.system?.t ?? []), ...rows.map((r) => r.database?.t ?? [])),
    writeMax: peak(...rows.map((r) => r.system?.writeMb ?? [])),
    commitsMax: peak(...rows.map((r) => r.database?.commits ?? [])),
    anySamples: rows.some((r) => r.system || r.database),
  };
}

/** The next round number up (1, 2, 2.5, 5 × 10^k): a shared axis maximum that gets its own tick. */
export function niceCeil(v: number): number {
  if (!Number.isFinite(v) || v <= 0) return 1;
  const mag = 10 ** Math.floor(Math.log10(v));
  const step = [1, 2, 2.5, 5, 10].find((s) => s * mag >= v * (1 - 1e-9)) ?? 10;
  return +(step * mag).toPrecision(12);
}
