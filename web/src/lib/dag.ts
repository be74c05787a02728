/**
 * The run graph: task nodes and their edges (from the workflow definition), live states
 * (from the run), and the child runs each task spawned, drawn as groups right under that
 * task. Layout with dagre (left to right); pure, so it is tested without a DOM and the React
 * Flow view only renders what this computes.
 */
import { graphlib, layout as dagreLayout } from '@dagrejs/dagre';
import type { RunDetail, RunState, TaskDef, TaskState, WorkflowDef } from '../api/types.ts';
import { parseWaiting, waitingReason, type Waiting } from './waiting.ts';

export const TASK_W = 176;
export const TASK_H = 54;
export const GROUP_W = 236;
const GROUP_HEADER_H = 46;
const CHIP_H = 22;
const CHIPS_PER_ROW = 2;
const GROUP_PAD = 10;
/** Vertical gap between a task and the first child group under it. */
export const CHILD_GAP = 40;
const STACK_GAP = 14;
/** Child groups drawn per task; the rest are summarised by one "+N more" node. */
export const MAX_CHILD_GROUPS = 6;

export interface TaskNodeData {
  kind: 'task';
  name: string;
  action: string;
  /** The run's task, when it exists (undefined for a bare definition). */
  task: TaskState | undefined;
  status: string;
  onFailure: boolean;
  /** Number of child runs this task spawned. */
  children: number;
  /** Why the QUEUED task has not started (the server's reason), else null. */
  waiting: Waiting | null;
}

export interface ChildNodeData {
  kind: 'child';
  run: RunState;
  /** The spawning task's id and name. */
  parentTaskId: string;
  parentTaskName: string;
  /** The child's tasks, when its detail was loaded (for the status chips). */
  tasks: TaskState[] | undefined;
  /** Why its QUEUED tasks wait, by task id (from its detail). */
  waiting: Record<string, Waiting> | undefined;
}

export interface MoreNodeData {
  kind: 'more';
  parentTaskId: string;
  count: number;
}

export type DagNodeData = TaskNodeData | ChildNodeData | MoreNodeData;

export interface DagNode {
  id: string;
  /** Top-left corner, as React Flow wants it. */
  x: number;
  y: number;
  width: number;
  height: number;
  data: DagNodeData;
}

export interface DagEdge {
  id: string;
  source: string;
  target: string;
  kind: 'dependency' | 'spawn';
  /** The source has finished (COMPLETED/SKIPPED): draw the edge solid. */
  satisfied: boolean;
  /** The target is running now: animate the edge. */
  active: boolean;
}

export interface DagModel {
  nodes: DagNode[];
  edges: DagEdge[];
  width: number;
  height: number;
  /** False when no definition was available: nodes only, without edges. */
  hasEdges: boolean;
}

export function taskNodeId(name: string): string {
  return `task:${name}`;
}
export function childNodeId(runId: string): string {
  return `child:${runId}`;
}

/** Height of a child group for a child run with `taskCount` tasks (0 = not loaded yet). */
export function childGroupHeight(taskCount: number): number {
  const rows = Math.max(1, Math.ceil(taskCount / CHIPS_PER_ROW));
  return GROUP_HEADER_H + rows * CHIP_H + GROUP_PAD;
}

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

function overlaps(a: Box, b: Box, margin = 8): boolean {
  return (
    a.x < b.x + b.width + margin &&
    b.x < a.x + a.width + margin &&
    a.y < b.y + b.height + margin &&
    b.y < a.y + a.height + margin
  );
}

const DONE = new Set(['COMPLETED', 'SKIPPED']);

/**
 * A definition rebuilt from a run detail's `edges` (`[parent, child]` names): enough to draw
 * the graph before (or without) the workflow definition. Null when the run has no edges.
 */
export function defFromRun(run: RunDetail): WorkflowDef | null {
  if (!run.edges?.length) return null;
  const parents = new Map<string, string[]>();
  for (const [p, c] of run.edges) parents.set(c, [...(parents.get(c) ?? []), p]);
  const onFailure = run.tasks.find((t) => t.is_on_failure);
  return {
    name: run.workflow,
    version: run.version,
    tasks: run.tasks
      .filter((t) => !t.is_on_failure)
      .map((t) => {
        const ps = parents.get(t.name);
        return ps ? { name: t.name, action: t.action, parents: ps } : { name: t.name, action: t.action };
      }),
    on_failure: onFailure ? { name: onFailure.name, action: onFailure.action } : null,
  };
}

export interface BuildOptions {
  /** Details of child runs, by id (their tasks fill the group's chips). */
  childDetails?: ReadonlyMap<string, RunDetail | undefined>;
}

/** A child run's waits by task id, parsed (either form the server sends); undefined without a detail. */
function waitingById(detail: RunDetail | undefined): Record<string, Waiting> | undefined {
  if (!detail?.waiting) return undefined;
  const out: Record<string, Waiting> = {};
  for (const [id, raw] of Object.entries(detail.waiting)) {
    const w = parseWaiting(raw);
    if (w) out[id] = w;
  }
  return out;
}

/**
 * Build the graph of a run (or of a bare definition when `run` is null).
 * - Nodes: the definition's tasks, matched to the run's tasks by name; run tasks missing from
 *   the definition are added without edges. With no definition, the run's tasks only.
 * - Edges: `parents` from the definition.
 * - The on-failure task is drawn apart (below the graph, at its right end), with no edges.
 * - Each child run is a group node under the task that spawned it (`parent.task_id`), linked
 *   by a dashed "spawn" edge.
 */
export function buildDag(def: WorkflowDef | null | undefined, run: RunDetail | null | undefined, opts: BuildOptions = {}): DagModel {
  const runTasks = run?.tasks ?? [];
  const byName = new Map<string, TaskState>();
  for (const t of runTasks) byName.set(t.name, t);

  // 1. The tasks to draw, in definition order.
  const main: { def: TaskDef | undefined; task: TaskState | undefined; name: string }[] = [];
  const seen = new Set<string>();
  for (const d of def?.tasks ?? []) {
    main.push({ def: d, task: byName.get(d.name), name: d.name });
    seen.add(d.name);
  }
  const onFailureName = def?.on_failure?.name ?? runTasks.find((t) => t.is_on_failure)?.name;
  for (const t of runTasks) {
    if (seen.has(t.name) || t.is_on_failure || t.name === onFailureName) continue;
    main.push({ def: undefined, task: t, name: t.name });
    seen.add(t.name);
  }

  const childrenByTask = new Map<string, RunState[]>();
  for (const c of run?.children ?? []) {
    const tid = c.parent?.task_id;
    if (!tid) continue;
    const list = childrenByTask.get(tid) ?? [];
    list.push(c);
    childrenByTask.set(tid, list);
  }
  for (const list of childrenByTask.values()) list.sort((a, b) => (a.parent?.index ?? 0) - (b.parent?.index ?? 0));

  // 2. Lay out the main graph.
  const g = new graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 22, ranksep: 46, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const m of main) g.setNode(taskNodeId(m.name), { width: TASK_W, height: TASK_H });
  const edges: DagEdge[] = [];
  const statusOf = (name: string) => byName.get(name)?.status ?? 'PENDING';
  for (const m of main) {
    for (const p of m.def?.parents ?? []) {
      if (!seen.has(p)) continue;
      g.setEdge(taskNodeId(p), taskNodeId(m.name));
      edges.push({
        id: `dep:${p}->${m.name}`,
        source: taskNodeId(p),
        target: taskNodeId(m.name),
        kind: 'dependency',
        satisfied: DONE.has(statusOf(p)),
        active: statusOf(m.name) === 'RUNNING',
      });
    }
  }
  // Without a definition there are no edges to rank by: lay the tasks out in a row, in the
  // order the run lists them (the definition's order), so the child groups still go under.
  if (def) {
    if (main.length) dagreLayout(g);
  } else {
    main.forEach((m, i) => g.setNode(taskNodeId(m.name), { width: TASK_W, height: TASK_H, x: 12 + TASK_W / 2 + i * (TASK_W + 46), y: 12 + TASK_H / 2 }));
  }

  const nodes: DagNode[] = [];
  for (const m of main) {
    const pos = g.node(taskNodeId(m.name)) as { x: number; y: number } | undefined;
    const cx = pos?.x ?? TASK_W / 2;
    const cy = pos?.y ?? TASK_H / 2;
    nodes.push({
      id: taskNodeId(m.name),
      x: cx - TASK_W / 2,
      y: cy - TASK_H / 2,
      width: TASK_W,
      height: TASK_H,
      data: {
        kind: 'task',
        name: m.name,
        action: m.def?.action ?? m.task?.action ?? '',
        task: m.task,
        status: m.task?.status ?? 'PENDING',
        onFailure: false,
        children: m.task ? (childrenByTask.get(m.task.id)?.length ?? 0) : 0,
        waiting: m.task ? waitingReason(run ?? undefined, m.task) : null,
      },
    });
  }

  // 3. Child groups right under their task, pushed down past anything in the way.
  const placed: Box[] = nodes.map((n) => ({ x: n.x, y: n.y, width: n.width, height: n.height }));
  const taskNodes = [...nodes].sort((a, b) => a.x - b.x || a.y - b.y);
  for (const tn of taskNodes) {
    const data = tn.data as TaskNodeData;
    const kids = data.task ? childrenByTask.get(data.task.id) : undefined;
    if (!kids?.length) continue;
    let y = tn.y + tn.height + CHILD_GAP;
    const shown = kids.slice(0, MAX_CHILD_GROUPS);
    const groups: DagNode[] = shown.map((c) => {
      const detail = opts.childDetails?.get(c.id);
      const tasks = detail?.tasks;
      return {
        id: childNodeId(c.id),
        x: tn.x + tn.width / 2 - GROUP_W / 2,
        y: 0,
        width: GROUP_W,
        height: childGroupHeight(tasks?.length ?? 0),
        data: { kind: 'child', run: c, parentTaskId: data.task!.id, parentTaskName: data.name, tasks, waiting: waitingById(detail) },
      };
    });
    if (kids.length > shown.length) {
      groups.push({
        id: `more:${data.task!.id}`,
        x: tn.x + tn.width / 2 - GROUP_W / 2,
        y: 0,
        width: GROUP_W,
        height: 34,
        data: { kind: 'more', parentTaskId: data.task!.id, count: kids.length - shown.length },
      });
    }
    const stackHeight = groups.reduce((h, n) => h + n.height, 0) + STACK_GAP * (groups.length - 1);
    // Find the first y where the whole stack fits without touching another node.
    for (let guard = 0; guard < 200; guard++) {
      const stack: Box = { x: groups[0]!.x, y, width: GROUP_W, height: stackHeight };
      const hit = placed.find((b) => overlaps(stack, b));
      if (!hit) break;
      y = hit.y + hit.height + STACK_GAP;
    }
    for (const gnode of groups) {
      gnode.y = y;
      y += gnode.height + STACK_GAP;
      nodes.push(gnode);
      placed.push({ x: gnode.x, y: gnode.y, width: gnode.width, height: gnode.height });
      if (gnode.data.kind === 'child') {
        edges.push({
          id: `spawn:${data.name}->${gnode.data.run.id}`,
          source: tn.id,
          target: gnode.id,
          kind: 'spawn',
          satisfied: true,
          active: gnode.data.run.status === 'RUNNING',
        });
      }
    }
  }

  // 4. The on-failure task, apart: under everything, at the right end.
  const onFailureTask = onFailureName ? byName.get(onFailureName) : undefined;
  if (onFailureName) {
    const right = placed.reduce((m, b) => Math.max(m, b.x + b.width), TASK_W);
    const bottom = placed.reduce((m, b) => Math.max(m, b.y + b.height), 0);
    const node: DagNode = {
      id: taskNodeId(onFailureName),
      x: right - TASK_W,
      y: bottom + CHILD_GAP,
      width: TASK_W,
      height: TASK_H,
      data: {
        kind: 'task',
        name: onFailureName,
        action: def?.on_failure?.action ?? onFailureTask?.action ?? '',
        task: onFailureTask,
        status: onFailureTask?.status ?? 'PENDING',
        onFailure: true,
        children: onFailureTask ? (childrenByTask.get(onFailureTask.id)?.length ?? 0) : 0,
        waiting: onFailureTask ? waitingReason(run ?? undefined, onFailureTask) : null,
      },
    };
    nodes.push(node);
    placed.push(node);
  }

  const width = placed.reduce((m, b) => Math.max(m, b.x + b.width), 0);
  const height = placed.reduce((m, b) => Math.max(m, b.y + b.height), 0);
  return { nodes, edges, width, height, hasEdges: Boolean(def) };
}
