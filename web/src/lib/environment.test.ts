import { describe, expect, it } from 'vitest';
import type { Report } from '../api/types.ts';
import reportFixture from '../fixtures/report.json';
import { diffValue, environmentFacts, humanSetting, isEmptyEnvironment, machineText, sharedFacts } from './environment.ts';

const REPORT = reportFixture as unknown as Report;

describe('machineText', () => {
  it('puts a machine on one line', () => {
    expect(machineText(REPORT.environments[0]!.database_machine)).toBe('vm · AMD EPYC · 2 cores · 24 GB RAM · 271 GB disk · kernel 6.18.44-fc-v1045');
    expect(machineText(null)).toBe('');
  });
});

describe('sharedFacts', () => {
  it('says once what every test shares', () => {
    const shared = sharedFacts(REPORT.environments);
    expect(shared.postgres).toBe('PostgreSQL 15.18 (Debian 15.18-0+deb12u1)');
    expect(shared.tool).toBe('pgbench (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)');
    expect(shared.database).toMatch(/^vm · AMD EPYC/);
  });

  it('leaves a fact that differs, or that a test lacks, to each test', () => {
    const [a, b] = REPORT.environments;
    const other = { ...b!, postgres_version: '16.4', loader_machine: null };
    const shared = sharedFacts([a!, other]);
    expect(shared.postgres).toBeNull();
    expect(shared.loader).toBeNull();
    expect(shared.database).not.toBeNull();
    expect(environmentFacts(other).postgres).toBe('PostgreSQL 16.4');
    expect(sharedFacts([])).toEqual({ postgres: null, database: null, loader: null, tool: null });
  });
});

describe('isEmptyEnvironment', () => {
  it('tells a test that never measured anything', () => {
    expect(REPORT.environments.some(isEmptyEnvironment)).toBe(false);
    expect(isEmptyEnvironment({ test: 'never', changed_settings: [], vs_baseline: [], postgres_version: null, command: null })).toBe(true);
  });
});

describe('humanSetting', () => {
  it.each([
    ['32768 8kB', null, '256 MB'],
    ['512 8kB', null, '4 MB'],
    ['2048 MB', null, '2 GB'],
    ['143 MB', null, '143 MB'],
    ['900 s', null, '15 min'],
    ['7200 s', null, '2 h'],
    ['200 ms', null, '200 ms'],
    ['16384', '8kB', '128 MB'],
    ['2048', 'kB', '2 MB'],
    ['100', 'kB', '100 kB'],
    ['off', null, 'off'],
    ['(disabled)', null, '(disabled)'],
    ['72', null, '72'],
    ['-1', '8kB', '-1'],
    ['0', 'MB', '0'],
    ['0 s', null, '0'],
    ['on', 'ms', 'on ms'],
  ])('%s (%s) → %s', (value, unit, human) => {
    expect(humanSetting(value, unit)).toBe(human);
  });

  it('reads the report’s diff the same way', () => {
    const tuned = REPORT.environments.find((e) => e.test === 'tuned')!;
    const rows = tuned.vs_baseline.map((d) => [d.name, diffValue(d.baseline).text, diffValue(d.this).text]);
    expect(rows).toContainEqual(['shared_buffers', '(default)', '256 MB']);
    expect(rows).toContainEqual(['synchronous_commit', '(default)', 'off']);
    expect(rows).toContainEqual(['wal_buffers', '4 MB', '8 MB']);
    expect(diffValue(null).isDefault).toBe(true);
  });
});
