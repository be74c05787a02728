/** A uPlot line chart that follows its container's width and updates in place. */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface LineSeries {
  label: string;
  /**
   * At each x: null is a gap in the line; undefined is no sample of this series there (the
   * line goes on across: series sampled at other times than the x of the others).
   */
  values: (number | null | undefined)[];
  color: string;
  /** 'y' (left axis) or 'y2' (right axis). */
  scale?: 'y' | 'y2';
  unit?: string;
  dash?: boolean;
  /** Decimals in the legend (by magnitude when unset): a hit ratio needs 99.97, not 100. */
  digits?: number;
}

export interface LineChartProps {
  x: number[];
  series: LineSeries[];
  height?: number;
  xUnit?: string;
  yLabel?: string;
  y2Label?: string;
  /** Fixed y limits (a null end stays automatic): 0–100 for percentages, one maximum for small multiples. */
  yRange?: [number | null, number | null];
  y2Range?: [number | null, number | null];
  /**
   * Charts with the same key move one cursor and zoom together (uPlot's cursor sync): a
   * Grafana-like stack on one time axis.
   */
  sync?: string;
  /** Keep room for a right axis when there is none, so the plot areas of stacked charts line up. */
  gutter?: boolean;
  /** x values to mark with a dashed vertical line (checkpoints). */
  markers?: readonly number[];
  /** Moments to mark with a solid vertical line, labelled at its top (a fault: "kill primary"). */
  events?: readonly ChartEvent[] | undefined;
  /** Spans to shade behind the lines (an outage: no transaction completed). */
  bands?: readonly ChartBand[] | undefined;
}

/** A moment on the x axis; the label is drawn beside the line's top (none: a bare line). */
export interface ChartEvent {
  x: number;
  label?: string;
}

/** A span of the x axis, [from, to]. */
export interface ChartBand {
  from: number;
  to: number;
}

/** Fixed widths of the axes, so charts stacked on one time axis have the same plot area. */
const AXIS_SIZE = 60;
const MARKER_COLOR = '#9a6700';
/** A fault and its outage: Okabe-Ito's vermillion, as the error colour of the charts. */
export const EVENT_COLOR = '#d55e00';
export const BAND_COLOR = 'rgba(213, 94, 0, 0.12)';

const pixelRatio = () => (typeof devicePixelRatio === 'number' && devicePixelRatio > 0 ? devicePixelRatio : 1);

/** What the overlays need of a plot: its plot area and its x scale, both in canvas pixels. */
export type PlotArea = Pick<uPlot, 'bbox' | 'valToPos'>;

/** Shaded spans and labelled lines, in canvas pixels, inside the plot area (what is outside it is cut or left out). */
export interface OverlayGeometry {
  rects: { x: number; y: number; w: number; h: number }[];
  lines: { x: number; y0: number; y1: number; label: string | null }[];
}

export function overlayGeometry(u: PlotArea, bands: readonly ChartBand[] | undefined, events: readonly ChartEvent[] | undefined): OverlayGeometry {
  const { left, top, width, height } = u.bbox;
  const right = left + width;
  const rects: OverlayGeometry['rects'] = [];
  for (const b of bands ?? []) {
    if (!Number.isFinite(b.from) || !Number.isFinite(b.to)) continue;
    const a = Math.max(left, Math.min(u.valToPos(b.from, 'x', true), u.valToPos(b.to, 'x', true)));
    const z = Math.min(right, Math.max(u.valToPos(b.from, 'x', true), u.valToPos(b.to, 'x', true)));
    if (z > a) rects.push({ x: Math.round(a), y: top, w: Math.round(z) - Math.round(a), h: height });
  }
  const lines: OverlayGeometry['lines'] = [];
  for (const e of events ?? []) {
    if (!Number.isFinite(e.x)) continue;
    const px = Math.round(u.valToPos(e.x, 'x', true));
    if (px < left || px > right) continue;
    lines.push({ x: px, y0: top, y1: top + height, label: e.label ?? null });
  }
  return { rects, lines };
}

/** The shaded spans, under the grid and the lines (uPlot's drawClear hook). */
function drawBands(u: uPlot, bands: readonly ChartBand[] | undefined) {
  const { rects } = overlayGeometry(u, bands, undefined);
  if (!rects.length) return;
  const ctx = u.ctx;
  ctx.save();
  ctx.fillStyle = BAND_COLOR;
  for (const r of rects) ctx.fillRect(r.x, r.y, r.w, r.h);
  ctx.restore();
}

/** The labelled lines, over everything; a label that would leave the plot goes on the line's left. */
function drawEvents(u: uPlot, events: readonly ChartEvent[] | undefined) {
  const { lines } = overlayGeometry(u, undefined, events);
  if (!lines.length) return;
  const ratio = pixelRatio();
  const ctx = u.ctx;
  ctx.save();
  ctx.strokeStyle = EVENT_COLOR;
  ctx.fillStyle = EVENT_COLOR;
  ctx.lineWidth = 1.5 * ratio;
  ctx.font = `600 ${11 * ratio}px system-ui, sans-serif`;
  ctx.textBaseline = 'top';
  for (const l of lines) {
    ctx.beginPath();
    ctx.moveTo(l.x, l.y0);
    ctx.lineTo(l.x, l.y1);
    ctx.stroke();
    if (!l.label) continue;
    const w = ctx.measureText(l.label).width;
    const gap = 4 * ratio;
    const fits = l.x + gap + w <= u.bbox.left + u.bbox.width;
    ctx.textAlign = fits ? 'left' : 'right';
    ctx.fillText(l.label, fits ? l.x + gap : l.x - gap, l.y0 + 2 * ratio);
  }
  ctx.restore();
}

function fmt(v: number | null | undefined, unit = '', digits?: number): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const d = digits ?? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2);
  return `${v.toLocaleString('en-US', { maximumFractionDigits: d })}${unit ? ` ${unit}` : ''}`;
}

/** Dashed verticals at the marker times, inside the plot area. */
function drawMarkers(u: uPlot, xs: readonly number[] | undefined) {
  if (!xs?.length) return;
  const { left, top, width, height } = u.bbox;
  const ctx = u.ctx;
  ctx.save();
  ctx.strokeStyle = MARKER_COLOR;
  const ratio = pixelRatio();
  ctx.lineWidth = Math.max(1, ratio);
  ctx.setLineDash([4 * ratio, 3 * ratio]);
  for (const v of xs) {
    const px = Math.round(u.valToPos(v, 'x', true));
    if (px < left || px > left + width) continue;
    ctx.beginPath();
    ctx.moveTo(px, top);
    ctx.lineTo(px, top + height);
    ctx.stroke();
  }
  ctx.restore();
}

/** An axis tick: as many decimals as the tick spacing needs (99.94, 99.96 — not 99.9 twice). */
function tick(v: number, incr: number): string {
  const d = Number.isFinite(incr) && incr > 0 ? Math.min(6, String(+incr.toPrecision(6)).split('.')[1]?.length ?? 0) : 0;
  return v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

export function LineChart({ x, series, height = 220, xUnit = 's', yLabel, y2Label, yRange, y2Range, sync, gutter, markers, events, bands }: LineChartProps) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const markerRef = useRef(markers);
  markerRef.current = markers;
  const eventRef = useRef(events);
  eventRef.current = events;
  const bandRef = useRef(bands);
  bandRef.current = bands;
  // Rebuild only when the set of series (or the axes) changes; data updates go through setData.
  const shape =
    series.map((s) => `${s.label}|${s.color}|${s.scale ?? 'y'}|${s.dash ? 1 : 0}`).join(',') +
    `|${height}|${String(yRange)}|${String(y2Range)}|${sync ?? ''}|${gutter ? 1 : 0}|${yLabel ?? ''}|${y2Label ?? ''}`;

  useEffect(() => {
    const host = el.current;
    if (!host) return;
    const hasY2 = series.some((s) => s.scale === 'y2');
    const opts: uPlot.Options = {
      width: Math.max(200, host.clientWidth),
      height,
      // Synced charts share the time only: a horizontal crosshair would mean nothing on the others.
      cursor: { drag: { x: true, y: false }, ...(sync ? { y: false, sync: { key: sync, scales: ['x', null] as [string, null] } } : {}) },
      legend: { live: true },
      scales: {
        x: { time: false },
        ...(yRange ? { y: { range: yRange } } : {}),
        ...(y2Range ? { y2: { range: y2Range } } : {}),
      },
      hooks: {
        drawClear: [(u) => drawBands(u, bandRef.current)],
        draw: [(u) => drawMarkers(u, markerRef.current), (u) => drawEvents(u, eventRef.current)],
      },
      series: [
        { label: xUnit === 's' ? 't' : 'x', value: (_u, v) => fmt(v, xUnit) },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 1.6,
          scale: s.scale ?? 'y',
          spanGaps: false,
          points: { show: false },
          ...(s.dash ? { dash: [6, 4] } : {}),
          value: (_u: uPlot, v: number | null) => fmt(v, s.unit, s.digits),
        })),
      ],
      axes: [
        { stroke: '#52606d', grid: { stroke: '#eef1f4' }, values: (_u, vals) => vals.map((v) => `${v}${xUnit}`) },
        {
          stroke: '#52606d',
          grid: { stroke: '#eef1f4' },
          size: AXIS_SIZE,
          ...(yLabel ? { label: yLabel } : {}),
          values: (_u, vals, _axis, _space, incr) => vals.map((v) => tick(v, incr)),
        },
        ...(hasY2
          ? [
              {
                scale: 'y2',
                side: 1 as const,
                stroke: '#52606d',
                grid: { show: false },
                size: AXIS_SIZE,
                ...(y2Label ? { label: y2Label } : {}),
                values: (_u: uPlot, vals: number[], _axis: number, _space: number, incr: number) => vals.map((v) => tick(v, incr)),
              },
            ]
          : gutter
            ? [
                {
                  scale: 'y',
                  side: 1 as const,
                  stroke: 'transparent',
                  grid: { show: false },
                  ticks: { show: false },
                  size: AXIS_SIZE,
                  label: '',
                  values: (_u: uPlot, vals: number[]) => vals.map(() => ''),
                },
              ]
            : []),
      ],
    };
    const data = [x, ...series.map((s) => s.values)] as uPlot.AlignedData;
    const u = new uPlot(opts, data, host);
    plot.current = u;
    const ro = new ResizeObserver(() => {
      const w = host.clientWidth;
      if (w > 0 && Math.abs(w - u.width) > 2) u.setSize({ width: w, height });
    });
    ro.observe(host);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- rebuilt on shape change only
  }, [shape]);

  useEffect(() => {
    plot.current?.setData([x, ...series.map((s) => s.values)] as uPlot.AlignedData);
  }, [x, series]);

  useEffect(() => {
    plot.current?.redraw(false);
  }, [markers, events, bands]);

  return <div className="chart" ref={el} />;
}
