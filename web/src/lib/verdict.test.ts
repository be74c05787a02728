import { describe, expect, it } from 'vitest';
import type { SuiteView } from '../api/types.ts';
import suiteFixture from '../fixtures/suite.json';
import { parseUnsteady, significanceText, spreadText, summarize, verdictDeltaTone, verdictStyle } from './verdict.ts';

const SUITE = suiteFixture as unknown as SuiteView;

describe('verdictStyle', () => {
  it.each([
    ['improvement', 'good', 'Improvement'],
    ['regression', 'bad', 'Regression'],
    ['no_difference', 'neutral', 'No significant difference'],
    ['inconclusive', 'muted', 'Inconclusive'],
  ])('%s → %s / %s', (verdict, tone, label) => {
    expect(verdictStyle(verdict)).toEqual({ tone, label });
  });

  it('shows a verdict from a newer server muted, under its own name', () => {
    expect(verdictStyle('too_slow_to_tell')).toEqual({ tone: 'muted', label: 'Too slow to tell' });
    expect(verdictStyle(undefined).tone).toBe('muted');
  });

  it('colours a delta only when the change is significant', () => {
    expect(verdictDeltaTone('improvement')).toBe('better');
    expect(verdictDeltaTone('regression')).toBe('worse');
    expect(verdictDeltaTone('inconclusive')).toBe('same');
    expect(verdictDeltaTone('no_difference')).toBe('same');
  });
});

describe('significanceText', () => {
  it('says the threshold and the confidence', () => {
    expect(significanceText(SUITE.result!.significance)).toBe('a difference counts beyond ±2.0 % at 95 % confidence');
    expect(significanceText({ min_effect: 0.005, confidence: 0.995 })).toBe('a difference counts beyond ±0.5 % at 99.5 % confidence');
    expect(significanceText(null)).toBe('');
  });
});

describe('spreadText', () => {
  it('gives the number of runs and their coefficient of variation', () => {
    const tuned = SUITE.result!.tests.find((t) => t.name === 'tuned')!;
    expect(spreadText(tuned.tps_summary)).toBe('3 runs, CV 27.8 %');
    expect(spreadText({ ...tuned.tps_summary!, n: 1 })).toBe('1 run');
    expect(spreadText(null)).toBe('');
  });
});

describe('parseUnsteady', () => {
  it('splits test and repetition at the last #', () => {
    expect(parseUnsteady(['tuned#2', 'a#b#3', 'bogus', '#1'])).toEqual([
      { test: 'tuned', repetition: 2 },
      { test: 'a#b', repetition: 3 },
    ]);
    expect(parseUnsteady(undefined)).toEqual([]);
  });
});

describe('summarize', () => {
  it('matches the server summary of the same runs', () => {
    for (const row of SUITE.result!.tests) {
      const mine = summarize(row.repetitions.map((r) => r.tps!))!;
      const server = row.tps_summary!;
      expect(mine.n).toBe(server.n);
      expect(mine.median).toBeCloseTo(server.median, 9);
      expect(mine.mean).toBeCloseTo(server.mean, 9);
      expect(mine.std_dev).toBeCloseTo(server.std_dev, 9);
      expect(mine.cv_pct).toBeCloseTo(server.cv_pct, 9);
      expect([mine.min, mine.max]).toEqual([server.min, server.max]);
    }
  });

  it('takes the middle pair for an even count and has no spread for one run', () => {
    expect(summarize([4, 1, 3, 2])!.median).toBe(2.5);
    expect(summarize([7])).toMatchObject({ n: 1, median: 7, std_dev: 0, cv_pct: 0 });
    expect(summarize([])).toBeNull();
  });
});
