import { describe, expect, it } from 'vitest';
import type { SuiteResult, SuiteView, TestView } from '../api/types.ts';
import suiteFixture from '../fixtures/suite.json';
import { buildComparison, repetitionsText, rowsFromResult, suiteBaseline, suiteProgress } from './comparison.ts';

const SUITE = suiteFixture as unknown as SuiteView;

/** The suite with `f` applied to each test (and no aggregate: as while it runs). */
function running(f: (t: TestView) => TestView): SuiteView {
  return { ...SUITE, status: 'RUNNING', result: null, tests: SUITE.tests.map(f) };
}

describe('buildComparison', () => {
  it('uses the server aggregate once the suite has ended: medians, spread, verdicts', () => {
    const c = buildComparison(SUITE);
    expect(c.final).toBe(true);
    expect(c.baseline).toBe('default');
    expect(c.best).toBe('tuned');
    const tuned = c.rows.find((r) => r.name === 'tuned')!;
    // The median of 4030.98, 7108.65 and 6540.22, not the last run's TPS.
    expect(tuned).toMatchObject({ isBest: true, isBaseline: false, tps: 6540.216882, repeat: 3 });
    expect(tuned.tpsDeltaPct).toBeCloseTo(101.98, 2);
    expect(tuned.p95DeltaPct).toBeCloseTo(-56.62, 2);
    expect(tuned.comparison?.tps?.verdict).toBe('improvement');
    expect(tuned.comparison?.p95?.verdict).toBe('inconclusive');
    expect(tuned.tpsSummary).toMatchObject({ n: 3 });
    expect(tuned.tpsSummary!.cv_pct).toBeCloseTo(27.8, 1);
    expect(tuned.repetitions.map((p) => [p.repetition, p.tps])).toEqual([
      [1, 4030.978131],
      [2, 7108.645624],
      [3, 6540.216882],
    ]);
    expect(tuned.repetitions[0]!.runId).toBe(tuned.runId);
    const base = c.rows.find((r) => r.name === 'default')!;
    expect(base).toMatchObject({ isBaseline: true, isWorst: true, comparison: null });
  });

  it('computes medians and deltas from the repetitions measured so far while the suite runs', () => {
    // wal-tuned: its first run measured, its second under way.
    const c = buildComparison(
      running((t) =>
        t.name === 'wal-tuned'
          ? {
              ...t,
              status: 'RUNNING',
              steps: ['run-stroppy-test'],
              repetitions: [t.repetitions[0]!, { ...t.repetitions[1]!, status: 'RUNNING', result: null }],
            }
          : t,
      ),
    );
    expect(c.final).toBe(false);
    const tuned = c.rows.find((r) => r.name === 'tuned')!;
    expect(tuned.tps).toBe(6540.216882);
    // (6540.216882 - 3238.112924) / 3238.112924 * 100
    expect(tuned.tpsDeltaPct).toBeCloseTo(101.9762, 3);
    // p95 medians: 1.006 against 2.319
    expect(tuned.p95DeltaPct).toBeCloseTo(-56.6192, 3);
    expect(tuned.comparison).toBeNull();
    expect(tuned.tpsSummary!.n).toBe(3);
    const base = c.rows.find((r) => r.name === 'default')!;
    expect(base.transactions).toBe(9226 + 9660 + 10759);
    expect(base.latency).toMatchObject({ p50: 1.122, p95: 2.319, p99: 3.109, max: 15.721 });
    const wal = c.rows.find((r) => r.name === 'wal-tuned')!;
    expect(wal).toMatchObject({ tps: 3360.165226, steps: ['run-stroppy-test'], status: 'RUNNING' });
    expect(wal.repetitions.map((p) => p.tps)).toEqual([3360.165226, null]);
    expect(wal.tpsSummary).toMatchObject({ n: 1, cv_pct: 0 });
    expect(c.best).toBe('tuned');
    expect(c.worst).toBe('default');
  });

  it('leaves a failed repetition out of the medians', () => {
    const c = buildComparison(
      running((t) => (t.name === 'tuned' ? { ...t, repetitions: t.repetitions.map((r) => (r.repetition === 2 ? { ...r, status: 'FAILED' } : r)) } : t)),
    );
    const tuned = c.rows.find((r) => r.name === 'tuned')!;
    expect(tuned.tps).toBeCloseTo((4030.978131 + 6540.216882) / 2, 6);
    expect(tuned.repetitions[1]).toMatchObject({ status: 'FAILED', tps: null });
  });

  it('has no deltas while the baseline is not measured', () => {
    const c = buildComparison(running((t) => (t.name === 'default' ? { ...t, result: null, status: 'FAILED', repetitions: [] } : t)));
    expect(c.rows.every((r) => r.tpsDeltaPct === null)).toBe(true);
  });

  it('names no best or worst with fewer than two measured tests', () => {
    const c = buildComparison({ ...SUITE, result: null, tests: SUITE.tests.slice(0, 1) });
    expect(c.best).toBeNull();
    expect(c.rows[0]!.isBest).toBe(false);
  });
});

describe('suiteBaseline', () => {
  it('takes the named baseline, else the first test', () => {
    expect(suiteBaseline({ ...SUITE, result: null })).toBe('default');
    expect(suiteBaseline({ ...SUITE, result: null, spec: { baseline: 'tuned' } })).toBe('tuned');
    expect(suiteBaseline({ ...SUITE, result: null, spec: {} })).toBe('default');
  });
});

describe('suiteProgress', () => {
  it('counts ended tests and ended runs', () => {
    expect(suiteProgress(SUITE)).toEqual({ done: 3, total: 3, runsDone: 9, runsTotal: 9 });
    // Interleaved, in the second round: no test has ended, four runs have.
    const midway = SUITE.tests.map((t, i) => ({
      ...t,
      status: 'RUNNING',
      repetitions: t.repetitions.slice(0, i === 0 ? 2 : 1).concat(i === 1 ? [{ ...t.repetitions[1]!, status: 'RUNNING' }] : []),
    }));
    expect(suiteProgress({ tests: midway })).toEqual({ done: 0, total: 3, runsDone: 4, runsTotal: 9 });
    expect(
      suiteProgress({ tests: SUITE.tests.map((t, i) => ({ ...t, status: i === 0 ? 'FAILED' : i === 1 ? 'RUNNING' : 'PENDING' })) }),
    ).toMatchObject({ done: 1, total: 3 });
  });
});

describe('repetitionsText', () => {
  it('says how many runs completed of those planned', () => {
    const row = buildComparison(SUITE).rows[0]!;
    expect(repetitionsText(row)).toBe('3/3');
    expect(repetitionsText({ repeat: 3, repetitions: row.repetitions.slice(0, 2).map((p, i) => (i ? { ...p, status: 'RUNNING' } : p)) })).toBe('1/3');
    expect(repetitionsText({ repeat: 0, repetitions: [] })).toBe('0/0');
  });
});

describe('rowsFromResult (across suites)', () => {
  it('splits suite and test names and marks baseline, best and worst', () => {
    const base = SUITE.result!;
    const result: SuiteResult = {
      ...base,
      baseline: 'pg15-local-tuning/default',
      best: 'pg15-b/tuned',
      worst: 'pg15-local-tuning/default',
      tests: [
        { ...base.tests[0]!, name: 'pg15-local-tuning/default' },
        { ...base.tests[1]!, name: 'pg15-b/tuned' },
        { ...base.tests[2]!, name: 'pg15-b/never', run_id: '00000000-0000-0000-0000-000000000000', tps: null, status: 'CANCELLED' },
      ],
    };
    const rows = rowsFromResult(result);
    expect(rows.map((r) => [r.suite, r.test, r.isBaseline, r.isBest, r.isWorst])).toEqual([
      ['pg15-local-tuning', 'default', true, false, true],
      ['pg15-b', 'tuned', false, true, false],
      ['pg15-b', 'never', false, false, false],
    ]);
    expect(rows[1]!.tpsDeltaPct).toBeCloseTo(101.98, 2);
    expect(rows[1]!.comparison?.tps?.verdict).toBe('improvement');
    expect(rows[1]!.repetitions.map((p) => p.tps)).toEqual([4030.978131, 7108.645624, 6540.216882]);
    expect(rows[1]!.repeat).toBe(3);
    expect(rows[2]!.runId).toBeNull(); // a test that never started has the nil uuid
  });
});

describe('rowsFromResult with suites of the same name', () => {
  it('assigns rows to suites by order and marks one row each', () => {
    const base = SUITE.result!;
    const twice: SuiteResult = {
      ...base,
      baseline: 'x/default',
      best: 'x/tuned',
      worst: 'x/default',
      tests: [
        { ...base.tests[0]!, name: 'x/default', tps: 100 },
        { ...base.tests[1]!, name: 'x/tuned', tps: 300 },
        { ...base.tests[0]!, name: 'x/default', tps: 50 },
        { ...base.tests[1]!, name: 'x/tuned', tps: 400 },
      ],
    };
    const rows = rowsFromResult(twice, [
      { id: 'aaaaaaaa-0000-0000-0000-000000000001', name: 'x', tests: 2 },
      { id: 'bbbbbbbb-0000-0000-0000-000000000002', name: 'x', tests: 2 },
    ]);
    expect(rows.map((r) => r.suiteId?.slice(0, 2))).toEqual(['aa', 'aa', 'bb', 'bb']);
    expect(rows.map((r) => r.suite)).toEqual(['x (000001)', 'x (000001)', 'x (000002)', 'x (000002)']);
    expect(rows.map((r) => [r.isBaseline, r.isBest, r.isWorst])).toEqual([
      [true, false, false],
      [false, false, false],
      [false, false, true],
      [false, true, false],
    ]);
    expect(new Set(rows.map((r) => r.key)).size).toBe(4);
  });
});
