/**
 * A test's database topology as a left-to-right diagram: the load machine, the pooler (if
 * any), the primary, its standbys, each a box, and the connections between them as arrows.
 * A load on the replicas goes through the router instead, which spreads it over the
 * standbys: load → router → standbys, and the primary, feeding them its WAL, on their
 * right (no arrow then crosses another or a box). A Patroni cluster: load → router (HAProxy,
 * and the cluster's etcd) → the member that leads, the members one above the other in a
 * "Patroni cluster" frame (who streams to whom is Patroni's business: no arrows between
 * them); after a failover, the router's arrow to the first leader is dashed and another goes to
 * the new one. Only the geometry and the words are here (pure; tested in topology.test.ts);
 * the SVG is components/TopologyDiagram.tsx.
 */
import type { DatabasePoint, FaultInjected, NodeView } from '../api/types.ts';
import { formatBytes, formatLatency, formatNumber } from './format.ts';

/** Where a machine goes: a column each, in the order a transaction travels. */
export type NodeKind = 'load' | 'pooler' | 'router' | 'database' | 'standby' | 'member';

/** A line of a box: truncated to fit, the whole of it in the box's tooltip. */
export interface BoxLine {
  text: string;
  /** The role line (bold), an address (monospace), a figure (muted), a mark to see at once (a leader after failover). */
  style: 'title' | 'mono' | 'plain' | 'flag';
}

export interface TopologyBox {
  role: string;
  kind: NodeKind;
  x: number;
  y: number;
  w: number;
  h: number;
  lines: BoxLine[];
  /** Every line untruncated, for the tooltip. */
  title: string;
  /** A Patroni member that leads at the end: the first leader, or the one elected after a failover. */
  leads: boolean;
}

/** A box around a group of boxes, its label at its top left: a Patroni cluster's members. */
export interface TopologyFrame {
  label: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface TopologyEdge {
  from: string;
  to: string;
  /** A client's connection (load → pooler → primary, load → router → standbys) or a standby's stream of WAL. */
  kind: 'client' | 'replication';
  /**
   * The standby's `sync_state` (or "WAL" before the primary reported it); "reads" on a routed
   * load's connections (read-only: standbys take no writes); none for other client connections.
   */
  label: string | null;
  /** The primary's commits wait for this standby (sync, quorum): drawn solid, the others dashed. */
  waits: boolean;
  /** A connection that was, not is: the router's to a Patroni leader lost to a failover (dashed). */
  past: boolean;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  /** The arrowhead at (x2, y2), as SVG polygon points. */
  head: string;
  labelX: number;
  labelY: number;
}

export interface TopologyLayout {
  width: number;
  height: number;
  boxes: TopologyBox[];
  edges: TopologyEdge[];
  frames: TopologyFrame[];
}

export const BOX_W = 224;
export const LINE_H = 16;
export const PAD_Y = 8;
const COL_GAP = 84;
const ROW_GAP = 14;
/** Characters that fit a box's width at the diagram's font size. */
const MAX_CHARS = 30;
const ARROW = 7;
/** A frame's padding around its boxes, and the room at its top for its label. */
export const FRAME_PAD = 10;
export const FRAME_HEAD = 24;
const FRAME_GAP = 36;

function kindOf(n: NodeView): NodeKind {
  if (n.serves === 'load' || n.role === 'loader') return 'load';
  if (n.serves === 'pgbouncer' || n.role === 'pooler') return 'pooler';
  if (n.serves === 'haproxy' || n.serves === 'haproxy+etcd' || n.role === 'router') return 'router';
  if (n.serves === 'patroni') return 'member';
  if (n.serves === 'standby' || n.role.startsWith('replica-')) return 'standby';
  // The db, and whatever a newer server adds: beside the primary, unconnected.
  return 'database';
}

/** The diagram is worth drawing: more than a single db and its load machine. */
export function hasTopology(nodes: readonly NodeView[] | null | undefined): boolean {
  return (nodes ?? []).some((n) => n.serves !== 'single' && n.serves !== 'load');
}

function fit(text: string): string {
  return text.length > MAX_CHARS ? `${text.slice(0, MAX_CHARS - 1)}…` : text;
}

/** A line as drawn, and as the tooltip says it when that is longer. */
type Line = BoxLine & { full?: string };

/**
 * `SHOW server_version` ("15.4 (Debian 15.4-1)") is PostgreSQL's, its build in the tooltip;
 * PgBouncer names itself; HAProxy too, at length ("HAProxy version 2.6.12-1+deb12u3
 * 2025/10/03 - https://haproxy.org/"): its release alone, the rest in the tooltip.
 */
function versionLine(n: NodeView): Line | null {
  if (!n.version) return null;
  const haproxy = /^HAProxy version (\d+(?:\.\d+)*)/i.exec(n.version);
  if (haproxy) return { text: `HAProxy ${haproxy[1]}`, style: 'plain', full: n.version };
  const pg = /^(\d[\w.]*)\s*(.*)$/.exec(n.version);
  if (!pg || n.serves === 'pgbouncer') return { text: n.version, style: 'plain' };
  return { text: `PostgreSQL ${pg[1]}`, style: 'plain', full: `PostgreSQL ${n.version}` };
}

/** The mean of a server's commits/s over its samples; null without samples. */
function meanCommits(points: readonly DatabasePoint[] | undefined): number | null {
  const v = (Array.isArray(points) ? points : []).map((p) => p?.commits_ps).filter((c): c is number => typeof c === 'number' && Number.isFinite(c));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}

/** What the diagram says besides the nodes: the test's result's per-server samples, how many standbys a router spreads over, a Patroni cluster's members and its fault. */
interface Extra {
  servers: Readonly<Record<string, readonly DatabasePoint[]>> | null | undefined;
  standbys: number;
  members: number;
  fault: FaultInjected | null | undefined;
}

/** The first leader of a Patroni cluster: the db machine. */
const FIRST_LEADER = 'db';

/** What the fault did to the first leader, in a word. */
function faultedWord(kind: string): string {
  return kind === 'kill' ? 'killed' : kind === 'restart' ? 'restarted' : kind.replaceAll('_', ' ');
}

/** The member that leads at the end: the one elected after the fault, or the first. */
function leaderOf(nodes: readonly NodeView[], fault: FaultInjected | null | undefined): string {
  const elected = fault?.new_leader;
  return elected && nodes.some((n) => n.role === elected && kindOf(n) === 'member') ? elected : FIRST_LEADER;
}

function linesOf(n: NodeView, kind: NodeKind, extra: Extra): Line[] {
  const lines: Line[] = [
    { text: `${n.role} · ${n.serves}`, style: 'title' },
    { text: n.endpoint ?? n.address, style: 'mono' },
  ];
  const version = versionLine(n);
  if (version) lines.push(version);
  if (kind === 'router' && extra.members) {
    lines.push({ text: `to the leader of ${extra.members} member${extra.members === 1 ? '' : 's'}`, style: 'plain', full: `HAProxy to the leader of ${extra.members} Patroni members` });
    lines.push({ text: "etcd: the cluster's state", style: 'plain', full: "etcd: the Patroni cluster's state (who leads)" });
  } else if (kind === 'router') lines.push({ text: `round-robin over ${extra.standbys} standby${extra.standbys === 1 ? '' : 's'}`, style: 'plain' });
  if (kind === 'member') {
    const fault = extra.fault;
    const elected = fault?.new_leader ?? null;
    if (n.role === FIRST_LEADER) {
      lines.push({ text: fault ? `first leader · ${faultedWord(fault.kind)}` : 'leader', style: 'plain' });
      if (elected === FIRST_LEADER) lines.push({ text: 'leader again after the fault', style: 'flag' });
    } else if (n.role === elected) lines.push({ text: 'leader after failover', style: 'flag' });
  }
  if (kind === 'standby') {
    const commits = meanCommits(extra.servers?.[n.role]);
    if (commits !== null) {
      const text = `${formatNumber(commits, 0)} commits/s`;
      lines.push({ text, style: 'plain', full: `${text} (mean over the measured window)` });
    }
    const r = n.replication;
    if (!r) lines.push({ text: 'lag: not measured yet', style: 'plain' });
    else {
      lines.push({ text: `lag max ${formatBytes(r.max_lag_bytes)} · mean ${formatBytes(r.mean_lag_bytes)}`, style: 'plain' });
      lines.push({
        text: r.max_replay_lag_ms === null || r.max_replay_lag_ms === undefined ? 'replay lag: none sampled' : `replay lag max ${formatLatency(r.max_replay_lag_ms)}`,
        style: 'plain',
      });
    }
  }
  return lines;
}

function edge(from: TopologyBox, to: TopologyBox, kind: TopologyEdge['kind'], label: string | null, waits: boolean, past = false): TopologyEdge {
  // From the side of one box that faces the other: its right side to the next column's left
  // side, or (the primary, right of its standbys when a router feeds them) its left side to
  // their right sides.
  const rightward = to.x >= from.x;
  const x1 = rightward ? from.x + from.w : from.x;
  const y1 = from.y + from.h / 2;
  const x2 = rightward ? to.x : to.x + to.w;
  const y2 = to.y + to.h / 2;
  const a = Math.atan2(y2 - y1, x2 - x1);
  const p = (angle: number) => `${+(x2 - ARROW * Math.cos(angle)).toFixed(1)},${+(y2 - ARROW * Math.sin(angle)).toFixed(1)}`;
  // Labels sit half way, clear of the arrowheads, a little above their line.
  return {
    from: from.role,
    to: to.role,
    kind,
    label,
    waits,
    past,
    x1,
    y1,
    x2,
    y2,
    head: `${x2},${y2} ${p(a - 0.45)} ${p(a + 0.45)}`,
    labelX: +((x1 + x2) / 2).toFixed(1),
    labelY: +((y1 + y2) / 2 - 4).toFixed(1),
  };
}

/**
 * The diagram's boxes and arrows; null when there is no topology to show (see hasTopology).
 * `servers`: the test's result's per-server samples (LoadResult.servers), for the
 * standbys' commits; `fault`: the test's fault (TestView.fault), for a Patroni cluster's
 * leader after it.
 */
export function topologyLayout(
  nodes: readonly NodeView[] | null | undefined,
  servers?: Readonly<Record<string, readonly DatabasePoint[]>> | null | undefined,
  fault?: FaultInjected | null | undefined,
): TopologyLayout | null {
  if (!nodes || !hasTopology(nodes)) return null;
  const routed = nodes.some((n) => kindOf(n) === 'router');
  const members = nodes.filter((n) => kindOf(n) === 'member').length;
  const order: NodeKind[] = members
    ? ['load', 'pooler', 'router', 'member', 'database', 'standby']
    : routed
      ? ['load', 'pooler', 'router', 'standby', 'database']
      : ['load', 'pooler', 'database', 'standby'];
  const extra: Extra = { servers, standbys: nodes.filter((n) => kindOf(n) === 'standby').length, members, fault };
  const leader = members ? leaderOf(nodes, fault) : null;
  const columns = order
    .map((kind) => ({
      kind,
      nodes: nodes.filter((n) => kindOf(n) === kind).sort((a, b) => a.role.localeCompare(b.role, 'en', { numeric: true })),
    }))
    .filter((c) => c.nodes.length);
  const sized = columns.map((c) =>
    c.nodes.map((n) => {
      const lines = linesOf(n, c.kind, extra);
      return { n, lines, h: PAD_Y * 2 + lines.length * LINE_H };
    }),
  );
  const columnHeight = (col: { h: number }[]) => col.reduce((s, b) => s + b.h, 0) + ROW_GAP * (col.length - 1);
  // A Patroni cluster's members in a frame: its padding around them, its label above them.
  const framed = columns.map((c) => c.kind === 'member');
  const outerHeight = (i: number) => columnHeight(sized[i]!) + (framed[i] ? FRAME_HEAD + FRAME_PAD : 0);
  const outerWidth = (i: number) => BOX_W + (framed[i] ? 2 * FRAME_PAD : 0);
  const height = Math.max(...sized.map((_, i) => outerHeight(i)));
  const boxes: TopologyBox[] = [];
  const frames: TopologyFrame[] = [];
  let left = 0;
  sized.forEach((col, i) => {
    // Room before a frame for the labels of the arrows into it ("until the fault").
    if (framed[i] && i > 0) left += FRAME_GAP;
    // Each column centred on the tallest one.
    const top = (height - outerHeight(i)) / 2;
    if (framed[i]) frames.push({ label: 'Patroni cluster', x: left, y: top, w: outerWidth(i), h: outerHeight(i) });
    let y = top + (framed[i] ? FRAME_HEAD : 0);
    for (const b of col) {
      boxes.push({
        role: b.n.role,
        kind: columns[i]!.kind,
        x: left + (framed[i] ? FRAME_PAD : 0),
        y,
        w: BOX_W,
        h: b.h,
        lines: b.lines.map((l) => ({ text: fit(l.text), style: l.style })),
        title: b.lines.map((l) => l.full ?? l.text).join('\n'),
        leads: b.n.role === leader,
      });
      y += b.h + ROW_GAP;
    }
    left += outerWidth(i) + COL_GAP;
  });

  const first = (kind: NodeKind) => boxes.find((b) => b.kind === kind);
  const load = first('load');
  const pooler = first('pooler');
  const router = first('router');
  const primary = boxes.find((b) => b.role === 'db') ?? first('database');
  const standbys = boxes.filter((b) => b.kind === 'standby');
  const edges: TopologyEdge[] = [];
  if (members) {
    // The load goes (through the pooler, if any) to the router, which sends it to whoever leads.
    const chain = [load, pooler, router].filter((b): b is TopologyBox => b !== undefined);
    for (let i = 1; i < chain.length; i += 1) edges.push(edge(chain[i - 1]!, chain[i]!, 'client', null, false));
    const entry = chain[chain.length - 1];
    const before = boxes.find((b) => b.role === FIRST_LEADER && b.kind === 'member');
    const now = boxes.find((b) => b.role === leader && b.kind === 'member');
    if (entry && before && now && now !== before) {
      edges.push(edge(entry, before, 'client', 'until the fault', false, true));
      edges.push(edge(entry, now, 'client', 'after failover', false));
    } else if (entry && now) edges.push(edge(entry, now, 'client', 'leader', false));
    return { width: left - COL_GAP, height, boxes, edges, frames };
  }
  if (router) {
    // A load on the replicas: to the router, which hands each new connection to the next standby.
    if (load) edges.push(edge(load, router, 'client', 'reads', false));
    for (const s of standbys) edges.push(edge(router, s, 'client', 'reads', false));
  } else {
    // The load connects to the pooler, which connects to the primary; without one, straight to it.
    const chain = [load, pooler, primary].filter((b): b is TopologyBox => b !== undefined);
    for (let i = 1; i < chain.length; i += 1) edges.push(edge(chain[i - 1]!, chain[i]!, 'client', null, false));
  }
  if (primary) {
    for (const s of standbys) {
      const sync = nodes.find((n) => n.role === s.role)?.replication?.sync_state ?? null;
      edges.push(edge(primary, s, 'replication', sync ?? 'WAL', sync === 'sync' || sync === 'quorum'));
    }
  }
  return { width: left - COL_GAP, height, boxes, edges, frames };
}
