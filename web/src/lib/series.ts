/**
 * Load over time (TPS and latency per second): from the measured result's `series` once the
 * load has finished, or from the live progress points while it runs.
 */
import type { LoadResult, ProgressPoint, TaskState } from '../api/types.ts';

export interface LoadSeries {
  /** Seconds since the load started. */
  t: number[];
  tps: number[];
  latency: (number | null)[];
  failed: (number | null)[];
  source: 'result' | 'progress' | 'none';
}

export const EMPTY_SERIES: LoadSeries = { t: [], tps: [], latency: [], failed: [], source: 'none' };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The task's output as a LoadResult, when it looks like one. */
export function asLoadResult(output: unknown): LoadResult | null {
  if (!isRecord(output)) return null;
  if (typeof output['tps'] !== 'number' || !isRecord(output['latency_ms'])) return null;
  const r = output as unknown as LoadResult;
  return { ...r, series: Array.isArray(r.series) ? r.series : [], summary: typeof r.summary === 'string' ? r.summary : '' };
}

export function seriesFromResult(result: LoadResult): LoadSeries {
  const pts = [...result.series].sort((a, b) => a.t_s - b.t_s);
  return {
    t: pts.map((p) => p.t_s),
    tps: pts.map((p) => p.tps),
    latency: pts.map((p) => (Number.isFinite(p.latency_ms) ? p.latency_ms : null)),
    failed: pts.map((p) => (Number.isFinite(p.failed) ? p.failed : null)),
    source: 'result',
  };
}

/**
 * Progress points of one task: keep the latest attempt only (a retried load starts over),
 * one point per seq, in order; time is seconds since the attempt's first point (+1, so the
 * first second's point sits at t=1 as in the result's series).
 */
export function seriesFromProgress(points: readonly ProgressPoint[], taskId?: string): LoadSeries {
  const mine = taskId ? points.filter((p) => p.task_id === taskId) : points;
  if (!mine.length) return EMPTY_SERIES;
  const attempt = mine.reduce((m, p) => Math.max(m, p.attempt), 0);
  const bySeq = new Map<number, ProgressPoint>();
  for (const p of mine) if (p.attempt === attempt) bySeq.set(p.seq, p);
  const pts = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  const first = pts[0]!.at;
  const out: LoadSeries = { t: [], tps: [], latency: [], failed: [], source: 'progress' };
  for (const p of pts) {
    const tps = p.values['tps'];
    if (tps === undefined) continue;
    out.t.push(Math.round((p.at - first) / 100) / 10 + 1);
    out.tps.push(tps);
    const lat = p.values['latency_ms'];
    out.latency.push(lat === undefined ? null : lat);
    const failed = p.values['failed'];
    out.failed.push(failed === undefined ? null : failed);
  }
  return out;
}

/** The series to chart for the load task: its result when it has one, else live progress. */
export function loadSeries(task: TaskState | undefined, progress: readonly ProgressPoint[]): LoadSeries {
  const result = asLoadResult(task?.output);
  if (result && result.series.length) return seriesFromResult(result);
  return seriesFromProgress(progress, task?.id);
}

/** Name of the task whose output is the load result. */
export const LOAD_TASK = 'run-stroppy-test';

/**
 * Put several series on one x axis (the union of their x values, sorted); a series has
 * null where it has no point. For overlaying the tests of a suite on one chart.
 */
export function alignSeries(series: readonly { t: readonly number[]; values: readonly (number | null)[] }[]): {
  x: number[];
  ys: (number | null)[][];
} {
  const xs = new Set<number>();
  for (const s of series) for (const t of s.t) xs.add(t);
  const x = [...xs].sort((a, b) => a - b);
  const index = new Map(x.map((v, i) => [v, i]));
  const ys = series.map((s) => {
    const y: (number | null)[] = new Array<number | null>(x.length).fill(null);
    s.t.forEach((t, i) => {
      y[index.get(t)!] = s.values[i] ?? null;
    });
    return y;
  });
  return { x, ys };
}
