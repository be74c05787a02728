import { describe, expect, it } from 'vitest';
import type { RunDetail } from '../api/types.ts';
import { TEST_RUN_DEF } from '../fixtures/definitions.ts';
import testRun from '../fixtures/test-run.json';
import { replayQuestion, replayRequest, replayScope, runReplay, taskReplay } from './replay.ts';

const RUN = testRun as unknown as RunDetail;

describe('replay availability', () => {
  it('is offered and enabled for an ended run (completed, failed or cancelled)', () => {
    for (const status of ['COMPLETED', 'FAILED', 'CANCELLED']) {
      expect(runReplay({ ...RUN, status })).toEqual({ show: true, enabled: true, why: null });
    }
  });

  it('is hidden while the run is live', () => {
    for (const status of ['QUEUED', 'RUNNING']) {
      expect(runReplay({ ...RUN, status, finished_at: null })).toMatchObject({ show: false, enabled: false });
    }
  });

  it('is shown but disabled while a child run still runs', () => {
    const run = { ...RUN, children: RUN.children.map((c) => ({ ...c, status: 'RUNNING' })) };
    expect(runReplay(run)).toMatchObject({ show: true, enabled: false, why: expect.stringMatching(/child run/) });
  });

  it('is not offered from the on-failure task (every replay reruns it)', () => {
    const onFailure = RUN.tasks.find((t) => t.is_on_failure)!;
    const load = RUN.tasks.find((t) => t.name === 'run-stroppy-test')!;
    expect(taskReplay(RUN, onFailure).show).toBe(false);
    expect(taskReplay(RUN, load)).toMatchObject({ show: true, enabled: true });
    expect(taskReplay({ ...RUN, status: 'RUNNING' }, load).show).toBe(false);
  });
});

describe('replayRequest', () => {
  it('names the task to replay from, or none for the whole run', () => {
    expect(replayRequest('build-placement')).toEqual({ tasks: ['build-placement'] });
    expect(replayRequest(null)).toEqual({ tasks: [] });
    expect(replayRequest()).toEqual({ tasks: [] });
  });
});

describe('replayScope', () => {
  it('is every task for the whole run', () => {
    expect(replayScope(TEST_RUN_DEF)).toEqual(TEST_RUN_DEF.tasks.map((t) => t.name));
  });

  it('is the task and its descendants, in definition order', () => {
    expect(replayScope(TEST_RUN_DEF, 'run-stroppy-containers')).toEqual([
      'run-stroppy-containers',
      'install-stroppy',
      'run-stroppy-test',
      'inject-fault',
      'collect-database-machine',
      'destroy-plan',
    ]);
    // The fault runs beside the load; the database machine's samples wait for both.
    expect(replayScope(TEST_RUN_DEF, 'inject-fault')).toEqual(['inject-fault', 'collect-database-machine', 'destroy-plan']);
    // etcd comes before every server: a replay from it starts them all again.
    expect(replayScope(TEST_RUN_DEF, 'run-dcs').slice(0, 3)).toEqual(['run-dcs', 'run-database-containers', 'run-replica-1']);
    expect(replayScope(TEST_RUN_DEF, 'destroy-plan')).toEqual(['destroy-plan']);
  });

  it('is only the named task without a definition', () => {
    expect(replayScope(undefined, 'x')).toEqual(['x']);
    expect(replayScope(null)).toEqual([]);
  });
});

describe('replayQuestion', () => {
  it('says what runs again', () => {
    expect(replayQuestion(TEST_RUN_DEF)).toBe('Run every task of this run again (19), with the child runs they spawned?');
    expect(replayQuestion(TEST_RUN_DEF, 'run-stroppy-test')).toBe(
      'Run run-stroppy-test and the 2 tasks after it (collect-database-machine, destroy-plan) again, with the child runs they spawned? The tasks before it keep their outputs.',
    );
    expect(replayQuestion(TEST_RUN_DEF, 'validate-input')).toMatch(/^Run validate-input and the 18 tasks after it \(acquire-network, .*, run-dcs, … \(12 more\)\) again/);
  });
});
