/**
 * A scheduled fault on the charts and in words: where the TPS chart's marker and outage band
 * go (LineChart's overlay geometry, with a plot of known scale), the Fault block beside the
 * chart, and the report's line. Rendered to static HTML (no DOM: the canvas draws in effects).
 */
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { Report, SuiteView } from '../api/types.ts';
import reportFixture from '../fixtures/report.json';
import suiteFixture from '../fixtures/suite-topology.json';
import { faultMarks, faultOverlay } from '../lib/fault.ts';
import { loadMetrics } from '../lib/metrics.ts';
import { FaultSummary } from './FaultSummary.tsx';
import { overlayGeometry, type PlotArea } from './LineChart.tsx';
import { LoadMetricsStack } from './LoadMetrics.tsx';
import { Measured } from './Measured.tsx';

const SUITE = suiteFixture as unknown as SuiteView;
const KILLED = SUITE.tests.find((t) => t.name === 'leader-killed')!;
const SUMMARY = 'kill of the primary at +3.0 s · no transaction for 11.4 s · the load restarted 38 times · replica-1 led after 10.2 s';

/** A plot 800 px wide from x = 60 px, 0 to 20 s on its x axis: 40 px a second. */
const PLOT: PlotArea = {
  bbox: { left: 60, top: 10, width: 800, height: 200 },
  valToPos: (v: number) => 60 + v * 40,
} as unknown as PlotArea;

describe("the TPS chart's fault marker and outage band", () => {
  const overlay = faultOverlay(faultMarks(KILLED.fault, KILLED.result));

  it('puts the marker at the fault, labelled, and shades the outage, on the plot', () => {
    const g = overlayGeometry(PLOT, overlay.bands, overlay.events);
    // The kill at +3.0 s; no transaction from 2.98 s to 14.38 s.
    expect(g.lines).toEqual([{ x: 60 + 3 * 40, y0: 10, y1: 210, label: 'kill primary' }]);
    expect(g.rects).toEqual([{ x: Math.round(60 + 2.98 * 40), y: 10, w: Math.round(60 + 14.38 * 40) - Math.round(60 + 2.98 * 40), h: 200 }]);
    expect(g.rects[0]).toMatchObject({ x: 179, w: 456 });
    // The marker is inside the band, near its start.
    expect(g.lines[0]!.x).toBeGreaterThan(g.rects[0]!.x);
    expect(g.lines[0]!.x).toBeLessThan(g.rects[0]!.x + g.rects[0]!.w);
  });

  it('cuts a band at the plot area and leaves out a marker outside it (zoomed in)', () => {
    const zoomed = { ...PLOT, valToPos: (v: number) => 60 + (v - 10) * 100 } as unknown as PlotArea;
    const g = overlayGeometry(zoomed, overlay.bands, overlay.events);
    // 10 s to 18 s shown: the band from the left edge to 14.38 s; the kill at 3 s off the plot.
    expect(g.rects).toEqual([{ x: 60, y: 10, w: Math.round(60 + 4.38 * 100) - 60, h: 200 }]);
    expect(g.lines).toEqual([]);
    expect(overlayGeometry(PLOT, [{ from: 30, to: 40 }], [{ x: Number.NaN }])).toEqual({ rects: [], lines: [] });
    expect(overlayGeometry(PLOT, [{ from: 5, to: 2 }], [{ x: 2 }])).toEqual({
      rects: [{ x: 140, y: 10, w: 120, h: 200 }],
      lines: [{ x: 140, y0: 10, y1: 210, label: null }],
    });
  });

  it("takes the fault on the load's other charts too (drawn on their canvas: the markup is the same)", () => {
    const metrics = loadMetrics(KILLED.result);
    const plain = renderToStaticMarkup(createElement(LoadMetricsStack, { metrics, range: [0, 20], sync: 's', markers: [] }));
    const faulted = renderToStaticMarkup(
      createElement(LoadMetricsStack, { metrics, range: [0, 20], sync: 's', markers: [], events: [{ x: 3 }], bands: overlay.bands }),
    );
    expect(faulted).toBe(plain);
  });
});

describe('the Fault block', () => {
  it('says the fault in a line, and the keys of the chart that draws it', () => {
    const html = renderToStaticMarkup(
      createElement(FaultSummary, { fault: KILLED.fault!, outage: KILLED.result!.outage, windowStartMs: KILLED.result!.windows![0]!.start_ms, chart: true }),
    );
    expect(html).toMatch(/^<section class="fault-summary" aria-label="Fault"><h3>Fault<\/h3>/);
    expect(html).toContain(`<p>${SUMMARY}</p>`);
    expect(html).toContain('fault-key-line');
    expect(html).toContain('fault-key-band');
    expect(html).toContain('no transaction completed');
  });

  it('has no keys without a chart, and no band key without an outage', () => {
    const bare = renderToStaticMarkup(createElement(FaultSummary, { fault: KILLED.fault! }));
    expect(bare).toContain('<p>kill of the primary · replica-1 led after 10.2 s</p>');
    expect(bare).not.toContain('fault-key');
    const restart = renderToStaticMarkup(
      createElement(FaultSummary, { fault: { kind: 'restart', at_ms: 5000, recovered_at_ms: 6200 }, windowStartMs: 0, chart: true }),
    );
    expect(restart).toContain('<p>restart of the primary at +5.0 s · accepted connections again after 1.2 s</p>');
    expect(restart).toContain('fault-key-line');
    expect(restart).not.toContain('fault-key-band');
  });
});

describe("the report's environments", () => {
  it("say a test's fault and its outage", () => {
    const report = reportFixture as unknown as Report;
    const [first, ...rest] = report.environments;
    const withFault: Report = { ...report, environments: [{ ...first!, fault: KILLED.fault!, outage: KILLED.result!.outage! }, ...rest] };
    const html = renderToStaticMarkup(createElement(Measured, { report: withFault, baseline: null }));
    expect(html).toContain(
      '<p class="small env-fault"><strong>Fault:</strong> kill of the primary · no transaction for 11.4 s · the load restarted 38 times · replica-1 led after 10.2 s</p>',
    );
    expect(html.match(/env-fault/g)).toHaveLength(1);
    expect(renderToStaticMarkup(createElement(Measured, { report, baseline: null }))).not.toContain('env-fault');
  });
});
