/**
 * A suite's comparison table: one row per test with TPS, latency percentiles, errors and
 * the deltas against the baseline, and each of its repetitions. Uses the server's aggregate
 * once the suite has ended (medians over the repetitions, intervals and verdicts); while it
 * runs, builds the same rows from the repetitions measured so far (medians and deltas
 * computed here the way the server does: (value - baseline) / baseline * 100; no verdicts).
 */
import type { Comparisons, LatencySummary, LoadResult, RepetitionRow, Steadiness, SuiteResult, SuiteView, Summary, TestView } from '../api/types.ts';
import { summarize } from './verdict.ts';

/** One measured run of a test: a link in the table, a dot in the chart. */
export interface RepPoint {
  /** From 1. */
  repetition: number;
  runId: string;
  status: string;
  error: string | null;
  tps: number | null;
  p95: number | null;
  /** The server's steadiness check (final numbers only). */
  steadiness: Steadiness | null;
}

export interface ComparisonRow {
  name: string;
  /** The first repetition's run. */
  runId: string | null;
  status: string;
  steps: string[];
  stepsDone: number;
  stepsTotal: number;
  error: string | null;
  /** Medians over the measured repetitions. */
  tps: number | null;
  latency: LatencySummary | null;
  transactions: number | null;
  errors: number | null;
  durationS: number | null;
  tpsDeltaPct: number | null;
  p95DeltaPct: number | null;
  isBaseline: boolean;
  isBest: boolean;
  isWorst: boolean;
  /** Runs planned (0 when unknown). */
  repeat: number;
  repetitions: RepPoint[];
  tpsSummary: Summary | null;
  p95Summary: Summary | null;
  /** The server's intervals and verdicts against the baseline; null for the baseline and while the suite runs. */
  comparison: Comparisons | null;
}

export interface Comparison {
  baseline: string | null;
  rows: ComparisonRow[];
  best: string | null;
  worst: string | null;
  /** True when the numbers come from the server's final aggregate. */
  final: boolean;
}

function delta(value: number | null | undefined, base: number | null | undefined): number | null {
  if (value === null || value === undefined || base === null || base === undefined || !(base > 0)) return null;
  return ((value - base) / base) * 100;
}

/** The baseline the suite names (`baseline:`), else its first test. */
export function suiteBaseline(suite: SuiteView): string | null {
  if (suite.result?.baseline) return suite.result.baseline;
  const spec = suite.spec as { baseline?: unknown } | null;
  if (spec && typeof spec.baseline === 'string' && spec.baseline) return spec.baseline;
  return suite.tests[0]?.name ?? null;
}

/** The loads a test has measured so far (a failed or cancelled repetition counts for nothing). */
function measuredLoads(t: TestView): LoadResult[] {
  return (t.repetitions ?? [])
    .filter((r) => r.status !== 'FAILED' && r.status !== 'CANCELLED')
    .map((r) => r.result)
    .filter((r): r is LoadResult => Boolean(r));
}

const median = (values: number[]) => summarize(values)?.median ?? null;

/** Per-percentile medians (max: the largest), as the server aggregates them. */
function medianLatency(loads: LoadResult[]): LatencySummary | null {
  if (!loads.length) return null;
  const of = (k: keyof LatencySummary) => median(loads.map((l) => l.latency_ms[k]))!;
  return { avg: of('avg'), p50: of('p50'), p90: of('p90'), p95: of('p95'), p99: of('p99'), max: Math.max(...loads.map((l) => l.latency_ms.max)) };
}

function repPoints(t: TestView, agg: RepetitionRow[] | undefined): RepPoint[] {
  const final = new Map((agg ?? []).map((r) => [r.repetition, r]));
  return (t.repetitions ?? []).map((r) => {
    const a = final.get(r.repetition);
    const counts = r.status !== 'FAILED' && r.status !== 'CANCELLED';
    return {
      repetition: r.repetition,
      runId: r.run_id,
      status: r.status,
      error: r.error ?? a?.error ?? null,
      tps: a ? (a.tps ?? null) : counts ? (r.result?.tps ?? null) : null,
      p95: a ? (a.p95_ms ?? null) : counts ? (r.result?.latency_ms.p95 ?? null) : null,
      steadiness: a?.steadiness ?? null,
    };
  });
}

export function buildComparison(suite: SuiteView): Comparison {
  const baseline = suiteBaseline(suite);
  const agg = suite.result;
  const aggByName = new Map((agg?.tests ?? []).map((t) => [t.name, t]));
  const baseTest = suite.tests.find((t) => t.name === baseline);
  const baseLoads = baseTest ? measuredLoads(baseTest) : [];
  const baseTps = median(baseLoads.map((l) => l.tps));
  const baseP95 = median(baseLoads.map((l) => l.latency_ms.p95));

  const rows: ComparisonRow[] = suite.tests.map((t) => {
    const a = aggByName.get(t.name);
    const loads = measuredLoads(t);
    const tps = a ? a.tps : median(loads.map((l) => l.tps));
    const latency = a ? a.latency_ms : medianLatency(loads);
    const sum = (f: (l: LoadResult) => number) => (loads.length ? loads.reduce((s, l) => s + f(l), 0) : null);
    return {
      name: t.name,
      runId: t.run_id ?? a?.run_id ?? null,
      status: t.status,
      steps: t.steps,
      stepsDone: t.steps_done,
      stepsTotal: t.steps_total,
      error: t.error ?? a?.error ?? null,
      tps,
      latency,
      transactions: a ? a.transactions : sum((l) => l.transactions),
      errors: a ? a.errors : sum((l) => l.errors),
      durationS: a ? a.duration_s : median(loads.map((l) => l.duration_s)),
      tpsDeltaPct: a ? a.tps_delta_pct : delta(tps, baseTps),
      p95DeltaPct: a ? a.p95_delta_pct : delta(latency?.p95, baseP95),
      isBaseline: t.name === baseline,
      isBest: false,
      isWorst: false,
      repeat: t.repeat ?? 0,
      repetitions: repPoints(t, a?.repetitions),
      tpsSummary: a ? (a.tps_summary ?? null) : summarize(loads.map((l) => l.tps)),
      p95Summary: a ? (a.p95_summary ?? null) : summarize(loads.map((l) => l.latency_ms.p95)),
      comparison: a?.comparison ?? null,
    };
  });

  let best = agg?.best ?? null;
  let worst = agg?.worst ?? null;
  if (!agg) {
    const measured = rows.filter((r) => r.tps !== null);
    if (measured.length >= 2) {
      best = measured.reduce((m, r) => (r.tps! > m.tps! ? r : m)).name;
      worst = measured.reduce((m, r) => (r.tps! < m.tps! ? r : m)).name;
    }
  }
  for (const r of rows) {
    r.isBest = r.name === best;
    r.isWorst = r.name === worst && best !== worst;
  }
  return { baseline, rows, best, worst, final: Boolean(agg) };
}

const ENDED = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

/**
 * Progress of a suite: tests that have ended / all, and measured runs that have ended / all
 * planned (interleaved tests end together in the last round: the runs tell how far it is).
 */
export function suiteProgress(suite: Pick<SuiteView, 'tests'>): { done: number; total: number; runsDone: number; runsTotal: number } {
  let runsDone = 0;
  let runsTotal = 0;
  for (const t of suite.tests) {
    const reps = t.repetitions ?? [];
    runsDone += reps.filter((r) => ENDED.has(r.status)).length;
    runsTotal += Math.max(t.repeat ?? 1, reps.length);
  }
  return { done: suite.tests.filter((t) => ENDED.has(t.status)).length, total: suite.tests.length, runsDone, runsTotal };
}

/** "2/3": a test's completed runs of those planned. */
export function repetitionsText(row: Pick<ComparisonRow, 'repeat' | 'repetitions'>): string {
  const done = row.repetitions.filter((r) => r.status === 'COMPLETED').length;
  return `${done}/${Math.max(row.repeat, row.repetitions.length)}`;
}

export interface CompareSuite {
  id: string;
  name: string;
  /**
   * Number of its tests that started: the server emits them in order, suite after suite, and
   * leaves out a test that never ran (a cancelled suite's).
   */
  tests: number;
}

export type CompareRow = ComparisonRow & { key: string; suite: string; suiteId: string | null; test: string };

/**
 * Rows of a cross-suite comparison (`GET /results/compare`), whose tests are named
 * `<suite name>/<test name>`. With the suites' ids and test counts (in the order asked) each
 * row also gets its suite's id — names alone are ambiguous when a spec was submitted twice,
 * so the baseline, best and worst marks go to one row each (the first baseline row, the
 * fastest "best" row, the slowest "worst" row), which is what the server computed with.
 */
export function rowsFromResult(result: SuiteResult, suites: CompareSuite[] = []): CompareRow[] {
  // Which suite each row belongs to, when the counts add up.
  const owners: (CompareSuite | null)[] = [];
  if (suites.reduce((n, s) => n + s.tests, 0) === result.tests.length) for (const s of suites) for (let i = 0; i < s.tests; i++) owners.push(s);
  const rows: CompareRow[] = result.tests.map((t, i) => {
    const slash = t.name.indexOf('/');
    const owner = owners[i] ?? null;
    return {
      key: `${i}:${t.name}`,
      name: t.name,
      suite: slash >= 0 ? t.name.slice(0, slash) : '',
      suiteId: owner?.id ?? null,
      test: slash >= 0 ? t.name.slice(slash + 1) : t.name,
      runId: t.run_id && !/^0{8}-0{4}-0{4}-0{4}-0{12}$/.test(t.run_id) ? t.run_id : null,
      status: t.status,
      steps: [],
      stepsDone: 0,
      stepsTotal: 0,
      error: t.error,
      tps: t.tps,
      latency: t.latency_ms,
      transactions: t.transactions,
      errors: t.errors,
      durationS: t.duration_s,
      tpsDeltaPct: t.tps_delta_pct,
      p95DeltaPct: t.p95_delta_pct,
      isBaseline: false,
      isBest: false,
      isWorst: false,
      repeat: (t.repetitions ?? []).length,
      repetitions: (t.repetitions ?? []).map((r) => ({
        repetition: r.repetition,
        runId: r.run_id,
        status: r.status,
        error: r.error ?? null,
        tps: r.tps ?? null,
        p95: r.p95_ms ?? null,
        steadiness: r.steadiness ?? null,
      })),
      tpsSummary: t.tps_summary ?? null,
      p95Summary: t.p95_summary ?? null,
      comparison: t.comparison ?? null,
    };
  });
  const baseline = rows.find((r) => r.name === result.baseline);
  if (baseline) baseline.isBaseline = true;
  const pick = (name: string | null, better: (a: number, b: number) => boolean) => {
    let chosen: CompareRow | undefined;
    for (const r of rows) if (r.name === name && r.tps !== null && (!chosen || better(r.tps, chosen.tps!))) chosen = r;
    return chosen;
  };
  const best = pick(result.best, (a, b) => a > b);
  const worst = result.best !== result.worst ? pick(result.worst, (a, b) => a < b) : undefined;
  if (best) best.isBest = true;
  if (worst) worst.isWorst = true;
  // Tell apart suites of the same name.
  const names = new Map<string, Set<string>>();
  for (const r of rows) if (r.suiteId) names.set(r.suite, (names.get(r.suite) ?? new Set()).add(r.suiteId));
  for (const r of rows) if (r.suiteId && (names.get(r.suite)?.size ?? 0) > 1) r.suite = `${r.suite} (${r.suiteId.replace(/-/g, '').slice(-6)})`;
  return rows;
}
