/** A uPlot line chart that follows its container's width and updates in place. */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface LineSeries {
  label: string;
  values: (number | null)[];
  color: string;
  /** 'y' (left axis) or 'y2' (right axis). */
  scale?: 'y' | 'y2';
  unit?: string;
  dash?: boolean;
}

export interface LineChartProps {
  x: number[];
  series: LineSeries[];
  height?: number;
  xUnit?: string;
  yLabel?: string;
  y2Label?: string;
}

function fmt(v: number | null | undefined, unit = ''): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const d = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return `${v.toLocaleString('en-US', { maximumFractionDigits: d })}${unit ? ` ${unit}` : ''}`;
}

export function LineChart({ x, series, height = 220, xUnit = 's', yLabel, y2Label }: LineChartProps) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  // Rebuild only when the set of series changes; data updates go through setData.
  const shape = series.map((s) => `${s.label}|${s.color}|${s.scale ?? 'y'}|${s.dash ? 1 : 0}`).join(',') + `|${height}`;

  useEffect(() => {
    const host = el.current;
    if (!host) return;
    const hasY2 = series.some((s) => s.scale === 'y2');
    const opts: uPlot.Options = {
      width: Math.max(200, host.clientWidth),
      height,
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      scales: { x: { time: false } },
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
          value: (_u: uPlot, v: number | null) => fmt(v, s.unit),
        })),
      ],
      axes: [
        { stroke: '#52606d', grid: { stroke: '#eef1f4' }, values: (_u, vals) => vals.map((v) => `${v}${xUnit}`) },
        {
          stroke: '#52606d',
          grid: { stroke: '#eef1f4' },
          size: 60,
          ...(yLabel ? { label: yLabel } : {}),
          values: (_u, vals) => vals.map((v) => fmt(v)),
        },
        ...(hasY2
          ? [
              {
                scale: 'y2',
                side: 1 as const,
                stroke: '#52606d',
                grid: { show: false },
                size: 60,
                ...(y2Label ? { label: y2Label } : {}),
                values: (_u: uPlot, vals: number[]) => vals.map((v) => fmt(v)),
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

  return <div className="chart" ref={el} />;
}
