import { describe, expect, it } from 'vitest';
import type { SuiteView } from '../api/types.ts';
import suiteFixture from '../fixtures/suite.json';
import { buildComparison, rowsFromResult, suiteBaseline, suiteProgress } from './comparison.ts';
import type { SuiteResult } from '../api/types.ts';

const SUITE = suiteFixture as unknown as SuiteView;

describe('buildComparison', () => {
  it('uses the server aggregate once the suite has ended', () => {
    const c = buildComparison(SUITE);
    expect(c.final).toBe(true);
    expect(c.baseline).toBe('default');
    expect(c.best).toBe('tuned');
    const tuned = c.rows.find((r) => r.name === 'tuned')!;
    expect(tuned).toMatchObject({ isBest: true, isBaseline: false, tps: 1640.369088 });
    expect(tuned.tpsDeltaPct).toBeCloseTo(250.27, 2);
    expect(tuned.p95DeltaPct).toBeCloseTo(-75.47, 2);
    expect(c.rows.find((r) => r.name === 'default')).toMatchObject({ isBaseline: true, isWorst: true });
  });

  it('computes deltas from the tests measured so far while the suite runs', () => {
    const running: SuiteView = {
      ...SUITE,
      status: 'RUNNING',
      result: null,
      tests: SUITE.tests.map((t) => (t.name === 'wal-tuned' ? { ...t, status: 'RUNNING', result: null, steps: ['run-stroppy-test'] } : t)),
    };
    const c = buildComparison(running);
    expect(c.final).toBe(false);
    const tuned = c.rows.find((r) => r.name === 'tuned')!;
    // (1640.369088 - 468.318826) / 468.318826 * 100
    expect(tuned.tpsDeltaPct).toBeCloseTo(250.2676, 3);
    // (5.263 - 21.455) / 21.455 * 100
    expect(tuned.p95DeltaPct).toBeCloseTo(-75.4696, 3);
    expect(c.rows.find((r) => r.name === 'wal-tuned')).toMatchObject({ tps: null, tpsDeltaPct: null, steps: ['run-stroppy-test'] });
    expect(c.best).toBe('tuned');
    expect(c.worst).toBe('default');
  });

  it('has no deltas while the baseline is not measured', () => {
    const c = buildComparison({
      ...SUITE,
      result: null,
      tests: SUITE.tests.map((t) => (t.name === 'default' ? { ...t, result: null, status: 'FAILED' } : t)),
    });
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
  it('counts ended tests', () => {
    expect(suiteProgress(SUITE)).toEqual({ done: 3, total: 3 });
    expect(
      suiteProgress({ tests: SUITE.tests.map((t, i) => ({ ...t, status: i === 0 ? 'FAILED' : i === 1 ? 'RUNNING' : 'PENDING' })) }),
    ).toEqual({ done: 1, total: 3 });
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
    expect(rows[1]!.tpsDeltaPct).toBeCloseTo(250.27, 2);
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
