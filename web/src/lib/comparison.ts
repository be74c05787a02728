/**
 * A suite's comparison table: one row per test with TPS, latency percentiles, errors and
 * the deltas against the baseline. Uses the server's aggregate once the suite has ended;
 * while it runs, builds the same rows from the tests measured so far (deltas computed here
 * the way the server does: (value - baseline) / baseline * 100).
 */
import type { LatencySummary, SuiteResult, SuiteView } from '../api/types.ts';

export interface ComparisonRow {
  name: string;
  runId: string | null;
  status: string;
  steps: string[];
  stepsDone: number;
  stepsTotal: number;
  error: string | null;
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

export function buildComparison(suite: SuiteView): Comparison {
  const baseline = suiteBaseline(suite);
  const agg = suite.result;
  const aggByName = new Map((agg?.tests ?? []).map((t) => [t.name, t]));
  const baseResult = suite.tests.find((t) => t.name === baseline)?.result ?? null;

  const rows: ComparisonRow[] = suite.tests.map((t) => {
    const a = aggByName.get(t.name);
    const r = t.result;
    const tps = a?.tps ?? r?.tps ?? null;
    const latency = a?.latency_ms ?? r?.latency_ms ?? null;
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
      transactions: a?.transactions ?? r?.transactions ?? null,
      errors: a?.errors ?? r?.errors ?? null,
      durationS: a?.duration_s ?? r?.duration_s ?? null,
      tpsDeltaPct: a ? a.tps_delta_pct : delta(tps, baseResult?.tps),
      p95DeltaPct: a ? a.p95_delta_pct : delta(latency?.p95, baseResult?.latency_ms.p95),
      isBaseline: t.name === baseline,
      isBest: false,
      isWorst: false,
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

/** Progress of a suite: tests that have ended / all. */
export function suiteProgress(suite: Pick<SuiteView, 'tests'>): { done: number; total: number } {
  const ended = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);
  return { done: suite.tests.filter((t) => ended.has(t.status)).length, total: suite.tests.length };
}

export interface CompareSuite {
  id: string;
  name: string;
  /** Number of tests: the server emits each suite's tests in order, suite after suite. */
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
