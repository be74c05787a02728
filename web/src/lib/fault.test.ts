import { describe, expect, it } from 'vitest';
import type { FaultInjected, Outage, SuiteView } from '../api/types.ts';
import suiteFixture from '../fixtures/suite-topology.json';
import testRun from '../fixtures/test-run.json';
import { asFault, faultLabel, faultMarks, faultOverlay, faultSummary, FAULT_TASK } from './fault.ts';

const SUITE = suiteFixture as unknown as SuiteView;
const KILLED = SUITE.tests.find((t) => t.name === 'leader-killed')!;
const START = KILLED.result!.windows![0]!.start_ms;

/** A crash-restart of a single server: back 1.2 s after the kill, its load once restarted. */
const RESTART: FaultInjected = { kind: 'restart', at_ms: START + 5000, recovered_at_ms: START + 6200, new_leader: null, new_leader_at_ms: null };
const RESTART_OUTAGE: Outage = { last_before_ms: START + 4990, first_after_ms: START + 6490, seconds: 1.5, load_restarts: 1 };

describe('asFault', () => {
  it("is the inject-fault step's output once it did its fault, null while skipped", () => {
    expect(asFault(KILLED.fault)).toEqual(KILLED.fault);
    const skipped = testRun.tasks.find((t) => t.name === FAULT_TASK)!;
    expect(skipped.status).toBe('SKIPPED');
    expect(asFault(skipped.output)).toBeNull();
    expect(asFault(null)).toBeNull();
    expect(asFault({ kind: 'kill' })).toBeNull();
  });
});

describe('faultSummary', () => {
  it('says what was done, when, how long no transaction completed, the restarts, and who led after', () => {
    expect(faultSummary(KILLED.fault!, KILLED.result!.outage, START)).toBe(
      'kill of the primary at +3.0 s · no transaction for 11.4 s · the load restarted 38 times · replica-1 led after 10.2 s',
    );
  });

  it('says when a restarted server accepted connections again', () => {
    expect(faultSummary(RESTART, RESTART_OUTAGE, START)).toBe(
      'restart of the primary at +5.0 s · no transaction for 1.5 s · the load restarted once · accepted connections again after 1.2 s',
    );
  });

  it('says an outage lasted to the end of the window when no transaction completed again', () => {
    const open = { ...KILLED.result!.outage!, first_after_ms: null, seconds: 17.0, load_restarts: 0 };
    expect(faultSummary({ kind: 'kill', at_ms: START + 3000 }, open, START)).toBe(
      'kill of the primary at +3.0 s · no transaction for 17.0 s, to the end of the window · the load did not restart',
    );
  });

  it('leaves out what it does not know: the time without the window, the outage without one', () => {
    // The report's environments: the fault and the outage, no window.
    expect(faultSummary(KILLED.fault!, KILLED.result!.outage)).toBe(
      'kill of the primary · no transaction for 11.4 s · the load restarted 38 times · replica-1 led after 10.2 s',
    );
    expect(faultSummary({ kind: 'kill', at_ms: START + 3000, new_leader: 'replica-2' }, null, START)).toBe('kill of the primary at +3.0 s · replica-2 led next');
  });

  it('labels the chart marker by the kind', () => {
    expect(faultLabel(KILLED.fault!)).toBe('kill primary');
    expect(faultLabel(RESTART)).toBe('restart primary');
  });
});

describe('faultMarks', () => {
  it("places the fault and the outage on the load's clock (seconds since its window began)", () => {
    expect(faultMarks(KILLED.fault, KILLED.result)).toEqual({ at: 3, label: 'kill primary', outage: [2.98, 14.38] });
    expect(faultMarks(RESTART, { windows: KILLED.result!.windows!, outage: RESTART_OUTAGE })).toEqual({
      at: 5,
      label: 'restart primary',
      outage: [4.99, 6.49],
    });
  });

  it('spans the seconds in which no transaction completed', () => {
    const [from, to] = faultMarks(KILLED.fault, KILLED.result)!.outage!;
    // pgbench reports each second at its end: the points wholly inside the outage are at 0 TPS, those around it not.
    const inside = KILLED.result!.series.filter((p) => p.t_s - 1 >= from && p.t_s <= to);
    expect(inside.map((p) => p.t_s)).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(inside.every((p) => p.tps === 0)).toBe(true);
    for (const t of [3, 15]) expect(KILLED.result!.series.find((p) => p.t_s === t)!.tps).toBeGreaterThan(0);
  });

  it("runs the outage to the window's end when the load never came back, within the window", () => {
    const open = { ...KILLED.result!, outage: { ...KILLED.result!.outage!, first_after_ms: null } };
    expect(faultMarks(KILLED.fault, open)!.outage).toEqual([2.98, 20]);
    const early = { ...KILLED.result!, outage: { ...KILLED.result!.outage!, last_before_ms: START - 500 } };
    expect(faultMarks(KILLED.fault, early)!.outage).toEqual([0, 14.38]);
  });

  it('is null without the fault or the window that places it', () => {
    expect(faultMarks(null, KILLED.result)).toBeNull();
    expect(faultMarks(KILLED.fault, { ...KILLED.result!, windows: [] })).toBeNull();
    expect(faultMarks(KILLED.fault, null)).toBeNull();
    // No outage measured: the fault's line alone.
    expect(faultMarks(KILLED.fault, { ...KILLED.result!, outage: null })).toEqual({ at: 3, label: 'kill primary', outage: null });
  });
});

describe('faultOverlay', () => {
  it("is the chart's labelled line and shaded band", () => {
    expect(faultOverlay(faultMarks(KILLED.fault, KILLED.result))).toEqual({
      events: [{ x: 3, label: 'kill primary' }],
      bands: [{ from: 2.98, to: 14.38 }],
    });
    expect(faultOverlay(null)).toEqual({ events: [], bands: [] });
  });
});
