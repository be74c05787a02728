/**
 * A test's machines and how they connect, read at a glance: load → pooler → primary →
 * standbys, each standby's arrow labelled with its sync state (or, for a load on the
 * replicas, load → router → standbys, with the primary feeding them; for a Patroni cluster,
 * load → router → its leader, the members framed together). Plain SVG from
 * lib/topology.ts's layout (no graph library: the shape is always these few columns).
 */
import type { DatabasePoint, FaultInjected, NodeView } from '../api/types.ts';
import { LINE_H, PAD_Y, topologyLayout } from '../lib/topology.ts';

/** Room for the boxes' borders, which straddle the layout's edges. */
const MARGIN = 2;

export function TopologyDiagram({
  nodes,
  name,
  servers,
  fault,
}: {
  nodes: readonly NodeView[] | null | undefined;
  name: string;
  /** The test's result's per-server samples (LoadResult.servers): each standby's commits/s. */
  servers?: Readonly<Record<string, readonly DatabasePoint[]>> | null | undefined;
  /** The test's fault (TestView.fault): a Patroni cluster's leader after it. */
  fault?: FaultInjected | null | undefined;
}) {
  const layout = topologyLayout(nodes, servers, fault);
  if (!layout) return null;
  const { width, height } = layout;
  return (
    <svg
      className="topology"
      role="group"
      aria-label={`Topology of ${name}`}
      width={width + 2 * MARGIN}
      height={height + 2 * MARGIN}
      viewBox={`${-MARGIN} ${-MARGIN} ${width + 2 * MARGIN} ${height + 2 * MARGIN}`}
    >
      {layout.frames.map((f) => (
        <g key={f.label} className="topo-frame">
          <rect x={f.x} y={f.y} width={f.w} height={f.h} rx={8} />
          <text x={f.x + 10} y={f.y + 16} className="topo-frame-label">
            {f.label}
          </text>
        </g>
      ))}
      {layout.edges.map((e) => (
        <g
          key={`${e.from}->${e.to}`}
          className={`topo-edge topo-edge-${e.kind}${e.waits ? ' topo-edge-waits' : ''}${e.past ? ' topo-edge-past' : ''}`}
          data-edge={`${e.from}->${e.to}`}
        >
          <line x1={e.x1} y1={e.y1} x2={e.x2} y2={e.y2} />
          <polygon points={e.head} />
          {e.label && (
            <text x={e.labelX} y={e.labelY} textAnchor="middle" className="topo-edge-label">
              {e.label}
            </text>
          )}
        </g>
      ))}
      {layout.boxes.map((b) => (
        <g key={b.role} className={`topo-node topo-${b.kind}${b.leads ? ' topo-leads' : ''}`} data-role={b.role}>
          {/* Its accessible name, and the tooltip with what the box had to cut. */}
          <title>{b.title}</title>
          <rect x={b.x} y={b.y} width={b.w} height={b.h} rx={5} />
          {b.lines.map((l, i) => (
            <text key={i} x={b.x + 10} y={b.y + PAD_Y + LINE_H * (i + 1) - 4} className={`topo-${l.style}`}>
              {l.text}
            </text>
          ))}
        </g>
      ))}
    </svg>
  );
}
