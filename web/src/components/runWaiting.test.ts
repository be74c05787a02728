/**
 * The run page's new pieces rendered to static HTML (no DOM needed): the waiting reason (in
 * the task panel, the timing table and the stuck banner) and the replay control's states.
 */
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { MemoryRouter } from 'react-router';
import { describe, expect, it } from 'vitest';
import type { RunDetail } from '../api/types.ts';
import testRun from '../fixtures/test-run.json';
import { buildWaterfall } from '../lib/waterfall.ts';
import { ReplayControl, type ReplayControlProps } from './ReplayControl.tsx';
import { StuckBanner, WaitingReason } from './Waiting.tsx';
import { WaterfallView } from './WaterfallView.tsx';

const RUN = testRun as unknown as RunDetail;
const NO_WORKER = { kind: 'no_worker', message: "no live worker implements 'shell'" } as const;

describe('WaitingReason', () => {
  it('shows the reason in amber', () => {
    const html = renderToStaticMarkup(createElement(WaitingReason, { reason: { kind: 'concurrency_slot', message: "waiting for a concurrency slot (key 'pg16')" } }));
    expect(html).toContain('class="waiting-reason"');
    expect(html).toContain('waiting: waiting for a concurrency slot (key &#x27;pg16&#x27;)');
    expect(html).not.toContain('⚠');
  });

  it('is louder when no live worker can take the task', () => {
    const html = renderToStaticMarkup(createElement(WaitingReason, { reason: NO_WORKER, block: true }));
    expect(html).toMatch(/^<p class="waiting-reason waiting-stuck waiting-block"/);
    expect(html).toContain('⚠');
    expect(html).toContain('waiting: no live worker implements');
  });

  it('is louder for missing labels too, and for an older server\'s "no live worker" sentence', () => {
    const labels = { kind: 'missing_labels', message: "no live worker that implements 'bench' has the required labels: gpu = true" };
    expect(renderToStaticMarkup(createElement(WaitingReason, { reason: labels }))).toContain('waiting-stuck');
    const old = { kind: 'unknown', message: NO_WORKER.message };
    expect(renderToStaticMarkup(createElement(WaitingReason, { reason: old }))).toContain('waiting-stuck');
  });

  it('shows the message, not the kind', () => {
    const html = renderToStaticMarkup(createElement(WaitingReason, { reason: { kind: 'not_before', message: 'backing off until 10:00' } }));
    expect(html).toContain('waiting: backing off until 10:00');
    expect(html).not.toContain('not_before');
    expect(html).not.toContain('waiting-stuck');
  });

  it('renders nothing without a reason', () => {
    expect(renderToStaticMarkup(createElement(WaitingReason, { reason: null }))).toBe('');
  });
});

describe("the timing table's row of a queued task", () => {
  it('shows why it waits, and marks a stuck one', () => {
    const load = RUN.tasks.find((t) => t.name === 'run-stroppy-test')!;
    const run: RunDetail = {
      ...RUN,
      status: 'RUNNING',
      finished_at: null,
      tasks: RUN.tasks.map((t) => (t.id === load.id ? { ...t, status: 'QUEUED', started_at: null, finished_at: null } : t)),
      waiting: { [load.id]: NO_WORKER },
    };
    const waterfall = buildWaterfall(run, load.queued_at! + 30_000);
    const html = renderToStaticMarkup(createElement(MemoryRouter, null, createElement(WaterfallView, { waterfall })));
    expect(html).toContain('wf-row depth-0 wf-stuck');
    expect(html).toMatch(/class="wf-waiting waiting-stuck"[^>]*>⚠ waiting: no live worker implements &#x27;shell&#x27;</);
    // The wait so far is drawn too.
    expect(html).toContain('title="waiting 30 s"');
    expect(html.match(/wf-waiting/g)).toHaveLength(1);
  });
});

describe('StuckBanner', () => {
  it('counts the stuck tasks and lists them by reason', () => {
    const html = renderToStaticMarkup(
      createElement(
        MemoryRouter,
        null,
        createElement(StuckBanner, {
          groups: [
            {
              reason: NO_WORKER.message,
              kind: NO_WORKER.kind,
              tasks: [
                { runId: 'r', name: 'a', child: null },
                { runId: 'c', name: 'b', child: 'cloud-provision · provision' },
              ],
            },
          ],
        }),
      ),
    );
    expect(html).toContain('2 tasks cannot start');
    expect(html).toContain('<code>a</code>, <code>b</code>');
    expect(html).toContain('(child run cloud-provision · provision)');
  });

  it('renders nothing when nothing is stuck', () => {
    expect(renderToStaticMarkup(createElement(StuckBanner, { groups: [] }))).toBe('');
  });
});

describe('ReplayControl', () => {
  const base: ReplayControlProps = {
    label: 'Replay run',
    question: 'Run every task of this run again?',
    availability: { show: true, enabled: true, why: null },
    pending: false,
    onReplay: () => {},
  };
  const render = (p: Partial<ReplayControlProps>) => renderToStaticMarkup(createElement(ReplayControl, { ...base, ...p }));

  it('is a button for an ended run, the question as its tooltip', () => {
    const html = render({});
    expect(html).toBe('<button type="button" class="button" title="Run every task of this run again?">Replay run</button>');
  });

  it('is hidden for a live run', () => {
    expect(render({ availability: { show: false, enabled: false, why: null } })).toBe('');
  });

  it('is disabled, saying why, while a child run runs, and while a replay is on its way', () => {
    expect(render({ availability: { show: true, enabled: false, why: 'a child run of this run is still running' } })).toContain(
      'disabled="" title="a child run of this run is still running"',
    );
    const pending = render({ pending: true });
    expect(pending).toContain('disabled=""');
    expect(pending).toContain('Replaying…');
  });

  it('is disabled, saying why, for a token that can only read, and never asks', () => {
    const html = render({ canWrite: false });
    expect(html).toBe('<button type="button" class="button" disabled="" title="your token can only read">Replay run</button>');
    expect(render({ canWrite: false, initiallyConfirming: true })).not.toContain('role="group"');
    // Still hidden where there is nothing to replay.
    expect(render({ canWrite: false, availability: { show: false, enabled: false, why: null } })).toBe('');
  });

  it('asks before sending', () => {
    const html = render({ initiallyConfirming: true });
    expect(html).toContain('role="group" aria-label="Replay run: confirm"');
    expect(html).toContain('<span>Run every task of this run again?</span>');
    expect(html).toContain('>Replay</button>');
    expect(html).toContain('>Don&#x27;t replay</button>');
    // Never a confirm for a replay that cannot be sent.
    expect(render({ initiallyConfirming: true, pending: true })).not.toContain('role="group"');
  });
});
