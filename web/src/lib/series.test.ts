import { describe, expect, it } from 'vitest';
import type { ProgressPoint, RunDetail } from '../api/types.ts';
import testRun from '../fixtures/test-run.json';
import { alignSeries, asLoadResult, loadSeries, LOAD_TASK, seriesFromProgress, seriesFromResult } from './series.ts';

const RUN = testRun as unknown as RunDetail;
const LOAD = RUN.tasks.find((t) => t.name === LOAD_TASK)!;

function point(seq: number, tps: number, attempt = 1, task = 'load'): ProgressPoint {
  return { run_id: 'r', task_id: task, attempt, seq, at: 10_000 + seq * 1000, values: { tps, latency_ms: 5 + seq } };
}

describe('load series', () => {
  it('reads the measured series from the load task output', () => {
    const r = asLoadResult(LOAD.output)!;
    expect(r.tool).toBe('pgbench');
    const s = seriesFromResult(r);
    expect(s.source).toBe('result');
    expect(s.t).toEqual([1, 2, 3, 4, 5]);
    expect(s.tps[0]).toBe(601.9);
    expect(s.latency[0]).toBe(6.44);
  });

  it('refuses outputs that are not load results', () => {
    expect(asLoadResult({ skipped: true })).toBeNull();
    expect(asLoadResult(null)).toBeNull();
    expect(asLoadResult({ tps: 1, latency_ms: {} })?.series).toEqual([]);
  });

  it('builds a live series from progress points: latest attempt, deduplicated, in order', () => {
    const pts = [point(1, 110), point(0, 100), point(1, 110), point(0, 50, 2), point(1, 60, 2), point(5, 1, 1, 'other')];
    const s = seriesFromProgress(pts, 'load');
    expect(s.source).toBe('progress');
    expect(s.tps).toEqual([50, 60]);
    expect(s.t).toEqual([1, 2]);
    expect(s.latency).toEqual([5, 6]);
  });

  it('prefers the result and falls back to progress while the load runs', () => {
    expect(loadSeries(LOAD, []).source).toBe('result');
    const running = { ...LOAD, status: 'RUNNING', output: null };
    expect(loadSeries(running, [point(0, 10, 1, LOAD.id)]).tps).toEqual([10]);
    expect(loadSeries(running, []).source).toBe('none');
  });
});

describe('alignSeries', () => {
  it('puts series with different x on one axis with gaps', () => {
    const { x, ys } = alignSeries([
      { t: [1, 2, 3], values: [10, 20, 30] },
      { t: [2, 4], values: [5, 7] },
    ]);
    expect(x).toEqual([1, 2, 3, 4]);
    expect(ys).toEqual([
      [10, 20, 30, null],
      [null, 5, null, 7],
    ]);
  });
});
