import { describe, expect, it } from 'vitest';
import type { DatabasePoint, LoadResult, SuiteView } from '../api/types.ts';
import loadResult from '../fixtures/load-result.json';
import suiteFixture from '../fixtures/suite.json';
import {
  databaseSeries,
  hitRatioPct,
  loadMetrics,
  MB,
  mean,
  niceCeil,
  overallHitPct,
  padToRange,
  peak,
  replicationSeries,
  serverSeries,
  smallMultiples,
  systemSeries,
  toMb,
  waitSeries,
  waitStats,
  xExtent,
} from './metrics.ts';
import { asLoadResult, seriesFromResult } from './series.ts';

const RESULT = loadResult as unknown as LoadResult;

function db(t_s: number, waits?: Record<string, number>, more: Partial<DatabasePoint> = {}): DatabasePoint {
  return {
    t_s,
    commits_ps: 100,
    rollbacks_ps: 0,
    blocks_read_ps: 1,
    blocks_hit_ps: 99,
    temp_bytes_ps: 0,
    deadlocks: 0,
    checkpoints: 0,
    buffers_checkpoint_ps: 0,
    ...(waits ? { waits } : {}),
    ...more,
  };
}

describe('units and ratios', () => {
  it('converts bytes to MB (10^6) and refuses what is not a number', () => {
    expect(toMb(33_065_230.9)).toBeCloseTo(33.07, 2);
    expect(toMb(MB)).toBe(1);
    expect(toMb(null)).toBeNull();
    expect(toMb(undefined)).toBeNull();
    expect(toMb(Number.NaN)).toBeNull();
  });

  it('computes the buffer hit ratio, with no ratio when nothing was asked for', () => {
    expect(hitRatioPct(99, 1)).toBe(99);
    expect(hitRatioPct(5, 0)).toBe(100);
    expect(hitRatioPct(0, 0)).toBeNull();
    expect(hitRatioPct(null, 3)).toBeNull();
    expect(hitRatioPct(-1, 3)).toBeNull();
  });
});

describe('system and database series from a real result', () => {
  it('keeps the samples on the load clock, CPU in percent and disks in MB/s', () => {
    const s = systemSeries(RESULT.system)!;
    expect(s.t).toHaveLength(7);
    expect(s.t[0]).toBeCloseTo(1.065, 3);
    expect(s.user[0]).toBeCloseTo(34.85, 2);
    expect(s.system[0]).toBeCloseTo(42.42, 2);
    expect(s.steal[0]).toBe(0);
    expect(s.writeMb[0]).toBeCloseTo(33.07, 2);
    expect(s.util[0]).toBeCloseTo(28.78, 2);
  });

  it('derives commits, WAL MB/s and the hit ratio; counts checkpoints', () => {
    const d = databaseSeries(RESULT.database)!;
    expect(d.t).toHaveLength(7);
    expect(d.commits[0]).toBeCloseTo(3642.1, 1);
    expect(d.walMb[0]).toBeCloseTo(1.656, 3);
    expect(d.hitPct[0]).toBeCloseTo(99.937, 3);
    expect(d.hasWal).toBe(true);
    expect(d.hasRollbacks).toBe(false);
    expect(d.checkpoints).toBe(0);
    expect(d.checkpointsAt).toEqual([]);
  });

  it('passes the samples through asLoadResult', () => {
    const r = asLoadResult(loadResult)!;
    expect(r.system).toHaveLength(7);
    expect(r.database).toHaveLength(7);
  });

  it('returns nothing for an older result without samples', () => {
    expect(systemSeries(undefined)).toBeNull();
    expect(systemSeries(null)).toBeNull();
    expect(databaseSeries([])).toBeNull();
    expect(waitSeries(undefined)).toBeNull();
  });

  it('sorts samples by time, drops those without one, and tolerates missing fields', () => {
    const pts = [db(2), { commits_ps: 1 } as unknown as DatabasePoint, db(1, undefined, { checkpoints: 1 })];
    const d = databaseSeries(pts)!;
    expect(d.t).toEqual([1, 2]);
    expect(d.walMb).toEqual([null, null]);
    expect(d.hasWal).toBe(false);
    expect(d.checkpointsAt).toEqual([1]);
    expect(d.checkpoints).toBe(1);
  });

  it('integrates temp bytes over the sample intervals', () => {
    const d = databaseSeries([db(1, {}, { temp_bytes_ps: MB }), db(2, {}, { temp_bytes_ps: 2 * MB }), db(4, {}, { temp_bytes_ps: MB })])!;
    expect(d.tempMb).toBe(1 + 2 + 2);
  });
});

describe('wait events', () => {
  it('ranks the events of the real result by sessions summed over the samples', () => {
    expect(waitStats(RESULT.database).map((w) => [w.name, w.total])).toEqual([
      ['Lock:transactionid', 9],
      ['IO:WALSync', 2],
      ['Client:ClientRead', 1],
    ]);
  });

  it('keeps the top n over time: 0 where a sample saw none, null where it reported no waits', () => {
    const pts = [db(1, { 'Lock:tuple': 2, 'IO:WALSync': 1 }), db(2, {}), db(3), db(4, { 'Lock:tuple': 1, 'LWLock:WALWrite': 1 })];
    const w = waitSeries(pts, 2)!;
    expect(w.top.map((s) => s.name)).toEqual(['Lock:tuple', 'IO:WALSync']);
    expect(w.top[0]).toEqual({ name: 'Lock:tuple', total: 3, peak: 2, seen: 2 });
    expect(w.values).toEqual([
      [2, 0, null, 1],
      [1, 0, null, 0],
    ]);
    expect(w.others.map((s) => s.name)).toEqual(['LWLock:WALWrite']);
    expect(w.samples).toBe(3);
  });

  it('has no wait series when nothing ever waited', () => {
    expect(waitSeries([db(1, {}), db(2, {})])).toBeNull();
  });
});

describe('one time axis for stacked charts', () => {
  it('spans the TPS seconds and the samples together', () => {
    const tps = seriesFromResult(RESULT);
    const sys = systemSeries(RESULT.system)!;
    expect(xExtent(tps.t, sys.t)).toEqual([1, 8]);
    expect(xExtent([], [])).toBeNull();
  });

  it('stretches a series to the range with empty ends, keeping its own times', () => {
    const { x, ys } = padToRange([1.06, 2.06], [[10, 20]], [1, 8]);
    expect(x).toEqual([1, 1.06, 2.06, 8]);
    expect(ys).toEqual([[null, 10, 20, null]]);
    expect(padToRange([1, 8], [[1, 2]], [1, 8]).x).toEqual([1, 8]);
    expect(padToRange([], [[]], [1, 8])).toEqual({ x: [1, 8], ys: [[null, null]] });
    expect(padToRange([3], [[1]], null)).toEqual({ x: [3], ys: [[1]] });
  });

  it('finds a shared y maximum, none when everything is 0', () => {
    expect(peak([1, null, 3], [2])).toBe(3);
    expect(peak([0, null])).toBeNull();
  });
});

describe('summaries', () => {
  it('averages the values there are', () => {
    expect(mean([1, null, 3])).toBe(2);
    expect(mean([null])).toBeNull();
  });

  it('computes the overall hit ratio from summed blocks', () => {
    expect(overallHitPct([db(1, {}, { blocks_hit_ps: 90, blocks_read_ps: 10 }), db(2, {}, { blocks_hit_ps: 10, blocks_read_ps: 0 })])).toBeCloseTo(90.91, 2);
    expect(overallHitPct(undefined)).toBeNull();
  });

  it('builds everything for a result, and nothing for an older one', () => {
    const m = loadMetrics(RESULT);
    expect(m.system?.t).toHaveLength(7);
    expect(m.database?.t).toHaveLength(7);
    expect(m.waits?.top[0]?.name).toBe('Lock:transactionid');
    expect(m.hitPct).toBeCloseTo(99.96, 1);
    expect(loadMetrics({})).toEqual({ system: null, databaseMachine: null, database: null, waits: null, hitPct: null, replication: null, pooler: null, servers: null });
    expect(loadMetrics(RESULT, RESULT.system).databaseMachine?.t.length).toBe(RESULT.system!.length);
    expect(loadMetrics(null).system).toBeNull();
  });
});

describe('small multiples of a suite', () => {
  it('shares one time range and one maximum per metric across the tests', () => {
    const suite = suiteFixture as unknown as SuiteView;
    const m = smallMultiples([
      { name: 'a', result: RESULT },
      { name: 'b', result: { ...RESULT, system: RESULT.system!.map((p) => ({ ...p, t_s: p.t_s + 2, disk_write_bytes_ps: 2 * p.disk_write_bytes_ps })) } },
      { name: 'old', result: suite.tests[0]!.result },
      { name: 'pending', result: null },
    ]);
    expect(m.rows.map((r) => [r.name, r.measured, !!r.system, !!r.database])).toEqual([
      ['a', true, true, true],
      ['b', true, true, true],
      ['old', true, false, false],
      ['pending', false, false, false],
    ]);
    expect(m.range![0]).toBe(1);
    expect(m.range![1]).toBeCloseTo(9.065, 3);
    expect(m.writeMax).toBeCloseTo(2 * 48.658, 2);
    expect(m.commitsMax).toBe(Math.max(...RESULT.database!.map((p) => p.commits_ps)));
    expect(m.anySamples).toBe(true);
  });

  it('knows when no test has samples (older results)', () => {
    const suite = suiteFixture as unknown as SuiteView;
    const m = smallMultiples(suite.tests);
    expect(m.anySamples).toBe(false);
    expect(m.writeMax).toBeNull();
    expect(m.range).not.toBeNull();
  });
});

describe('niceCeil', () => {
  it('rounds an axis maximum up to a round number', () => {
    expect(niceCeil(7357)).toBe(10_000);
    expect(niceCeil(4100)).toBe(5000);
    expect(niceCeil(53.5)).toBe(100);
    expect(niceCeil(48.7)).toBe(50);
    expect(niceCeil(2)).toBe(2);
    expect(niceCeil(0.22)).toBe(0.25);
    expect(niceCeil(0)).toBe(1);
  });
});

describe('replication lag', () => {
  const replica = (name: string, lag_bytes: number, sync_state = 'async', replay_lag_ms: number | null = null) => ({
    name,
    state: 'streaming',
    sync_state,
    lag_bytes,
    replay_lag_ms,
  });

  it('has a series per standby, in name order, a gap where the primary did not list it', () => {
    const rep = replicationSeries([
      db(1, undefined, { replicas: [replica('replica_10', 5), replica('replica_2', 100, 'potential', 2)] }),
      db(2, undefined, { replicas: [replica('replica_2', 300, 'sync', 4)] }),
      db(3),
    ])!;
    expect(rep.t).toEqual([1, 2, 3]);
    expect(rep.replicas.map((r) => r.name)).toEqual(['replica_2', 'replica_10']);
    const [two, ten] = rep.replicas;
    expect(two).toEqual({ name: 'replica_2', syncState: 'sync', lagBytes: [100, 300, null], max: 300, mean: 200, maxReplayMs: 4 });
    expect(ten).toEqual({ name: 'replica_10', syncState: 'async', lagBytes: [5, null, null], max: 5, mean: 5, maxReplayMs: null });
  });

  it('is none for a single server and for older results', () => {
    expect(replicationSeries([db(1), db(2)])).toBeNull();
    expect(replicationSeries([db(1, undefined, { replicas: [] })])).toBeNull();
    expect(replicationSeries(null)).toBeNull();
    expect(loadMetrics(RESULT).replication).toBeNull();
    expect(loadMetrics(RESULT).pooler).toBeNull();
  });
});

describe("each server's own commits", () => {
  it('has the primary first, then the standbys in role order, on their merged times', () => {
    const s = serverSeries([db(1, undefined, { commits_ps: 5 }), db(2, undefined, { commits_ps: 7 })], {
      'replica-10': [db(1, undefined, { commits_ps: 40 })],
      'replica-2': [db(1.5, undefined, { commits_ps: 300 }), db(2.5, undefined, { commits_ps: 320 })],
    })!;
    expect(s.t).toEqual([1, 1.5, 2, 2.5]);
    expect(s.servers.map((x) => [x.name, x.mean])).toEqual([
      ['primary', 6],
      ['replica-2', 310],
      ['replica-10', 40],
    ]);
    // Undefined where another server sampled (the line goes on across), not null (a gap).
    expect(s.servers[0]!.commits).toEqual([5, undefined, 7, undefined]);
    expect(s.servers[1]!.commits).toEqual([undefined, 300, undefined, 320]);
  });

  it('is none without the standbys\' samples; the standbys alone without the primary\'s', () => {
    expect(serverSeries([db(1)], undefined)).toBeNull();
    expect(serverSeries([db(1)], {})).toBeNull();
    expect(serverSeries([db(1)], { 'replica-1': [] })).toBeNull();
    expect(loadMetrics(RESULT).servers).toBeNull();
    expect(serverSeries(null, { 'replica-1': [db(1)] })!.servers.map((x) => x.name)).toEqual(['replica-1']);
  });
});
