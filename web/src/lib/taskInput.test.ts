import { describe, expect, it } from 'vitest';
import type { RunDetail } from '../api/types.ts';
import { TEST_RUN_DEF } from '../fixtures/definitions.ts';
import { atPath, deriveTaskInput } from './taskInput.ts';

const run = {
  id: 'r',
  input: { test: 'default' },
  tasks: [
    { name: 'build-placement', output: { database: { port: 5432 } } },
    { name: 'run-stroppy-containers', output: { load: { clients: 4 } } },
    { name: 'validate-input', output: { ok: true } },
  ],
  children: [],
} as unknown as RunDetail;
const def = (name: string) => TEST_RUN_DEF.tasks.find((t) => t.name === name);

describe('deriveTaskInput', () => {
  it('follows input_from into an ancestor output', () => {
    expect(deriveTaskInput(run, def('run-database-containers'))).toEqual({
      source: 'input_from: build-placement.database',
      value: { port: 5432 },
    });
  });

  it('gives the run input and the parents outputs otherwise', () => {
    expect(deriveTaskInput(run, def('acquire-network'))).toEqual({
      source: 'run input and the outputs of validate-input',
      value: { input: { test: 'default' }, parents: { 'validate-input': { ok: true } } },
    });
    expect(deriveTaskInput(run, def('validate-input'))).toEqual({ source: 'run input', value: { input: { test: 'default' } } });
  });

  it('is null without a definition, and null inside when the source has no output yet', () => {
    expect(deriveTaskInput(run, undefined)).toBeNull();
    expect(deriveTaskInput(run, { name: 'x', action: 'y', input_from: 'nothing.here' })?.value).toBeNull();
  });

  it('walks paths', () => {
    expect(atPath({ a: { b: 1 } }, ['a', 'b'])).toBe(1);
    expect(atPath({ a: 1 }, ['a', 'b'])).toBeUndefined();
  });
});
