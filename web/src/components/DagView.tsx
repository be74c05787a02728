/**
 * The run's DAG in React Flow: task nodes coloured by live state, dependency edges, and
 * child runs as groups under the task that spawned them (click one to open that run).
 * Positions come from lib/dag.ts; this component only draws.
 */
import {
  Background,
  Controls,
  Handle,
  Position,
  ReactFlow,
  useReactFlow,
  useStore,
  MiniMap,
  type Edge,
  type Node,
  type NodeProps,
  ReactFlowProvider,
} from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { memo, useEffect, useMemo, useRef } from 'react';
import { Link } from 'react-router';
import type { DagModel, DagNodeData } from '../lib/dag.ts';
import { elapsed, formatDuration, shortId } from '../lib/format.ts';
import { statusStyle, TONE_COLOR } from '../lib/status.ts';
import { isStuck } from '../lib/waiting.ts';
import { useNow } from './common.tsx';

type FlowData = { node: DagNodeData; selected: boolean };
type FlowNode = Node<FlowData>;

function TaskDuration({ started, finished }: { started: number | null; finished: number | null }) {
  const now = useNow(finished === null ? 1000 : 3_600_000);
  if (started === null) return null;
  return <span>{formatDuration(elapsed(started, finished, now))}</span>;
}

const TaskNode = memo(function TaskNode({ data }: NodeProps<FlowNode>) {
  const n = data.node;
  if (n.kind !== 'task') return null;
  const s = statusStyle(n.status);
  const t = n.task;
  const stuck = isStuck(n.waiting);
  return (
    <div
      className={`dag-task tone-${s.tone}${data.selected ? ' selected' : ''}${n.onFailure ? ' on-failure' : ''}${stuck ? ' stuck' : ''}`}
      title={`${n.name}\n${n.action}\n${s.label}${n.waiting ? `\nwaiting: ${n.waiting.message}` : ''}${t?.error ? `\n${t.error}` : ''}`}
    >
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <div className="dag-task-name">
        <span className="dot" aria-hidden="true" />
        {n.name}
      </div>
      <div className={`dag-task-meta${n.waiting ? ` dag-task-waiting${stuck ? ' waiting-stuck' : ''}` : ''}`}>
        {n.onFailure ? 'on failure · ' : ''}
        {n.waiting ? `${stuck ? '⚠ ' : ''}${n.waiting.message}` : s.label}
        {t && t.attempt > 1 ? ` · attempt ${t.attempt}` : ''}
        {t && t.started_at !== null && (
          <>
            {' · '}
            <TaskDuration started={t.started_at} finished={t.finished_at} />
          </>
        )}
        {n.children > 0 ? ` · ${n.children} child run${n.children > 1 ? 's' : ''}` : ''}
      </div>
      <Handle type="source" position={Position.Right} isConnectable={false} />
      <Handle type="source" id="spawn" position={Position.Bottom} isConnectable={false} />
    </div>
  );
});

const ChildNode = memo(function ChildNode({ data }: NodeProps<FlowNode>) {
  const n = data.node;
  if (n.kind !== 'child') return null;
  const s = statusStyle(n.run.status);
  return (
    <div className={`dag-child tone-${s.tone}`}>
      <Handle type="target" id="top" position={Position.Top} isConnectable={false} />
      <div className="dag-child-head">
        <Link to={`/runs/${n.run.id}`} className="nodrag">
          {n.run.workflow}
        </Link>
        <span className="muted"> · {n.run.parent?.key ?? shortId(n.run.id)}</span>
        <span className={`badge badge-small tone-${s.tone}`}>
          <span className="dot" />
          {s.label}
        </span>
      </div>
      <div className="dag-child-tasks">
        {n.tasks ? (
          n.tasks.map((t) => (
            <span
              key={t.id}
              className={`dag-chip tone-${statusStyle(t.status).tone}`}
              title={`${t.name}: ${statusStyle(t.status).label}${n.waiting?.[t.id] ? `\nwaiting: ${n.waiting[t.id]!.message}` : ''}`}
            >
              <span className="dot" />
              {t.name}
            </span>
          ))
        ) : (
          <span className="muted small">loading tasks…</span>
        )}
      </div>
    </div>
  );
});

const MoreNode = memo(function MoreNode({ data }: NodeProps<FlowNode>) {
  const n = data.node;
  if (n.kind !== 'more') return null;
  return <div className="dag-more">+ {n.count} more child runs (see the list below)</div>;
});

function miniColor(node: Node): string {
  const d = (node.data as FlowData).node;
  if (d.kind === 'task') return TONE_COLOR[statusStyle(d.status).tone];
  if (d.kind === 'child') return '#bcccdc';
  return '#e4e7eb';
}

const nodeTypes = { task: TaskNode, child: ChildNode, more: MoreNode };

export interface DagViewProps {
  model: DagModel;
  selectedTask?: string | null;
  onSelectTask?: (name: string) => void;
  onOpenRun?: (runId: string) => void;
  height?: number;
}

/** Below this zoom the labels are unreadable: show part of the graph instead, around the focus. */
const MIN_READABLE_ZOOM = 0.7;

/**
 * The initial viewport: the whole graph when it fits readably; otherwise a readable zoom
 * centred on what matters now (the selected task, else the running one, else a failed one,
 * else the start).
 * Follows the focus as the run advances until the user pans or zooms.
 */
function Viewport({
  model,
  userMoved,
  selectedTask,
}: {
  model: DagModel;
  userMoved: { current: boolean };
  selectedTask: string | null | undefined;
}) {
  const rf = useReactFlow();
  const width = useStore((s) => s.width);
  const height = useStore((s) => s.height);
  const focus = useMemo(() => {
    const tasks = model.nodes.filter((n) => n.data.kind === 'task' && !n.data.onFailure);
    const by = (status: string) => tasks.find((n) => n.data.kind === 'task' && n.data.status === status);
    const selected = selectedTask ? model.nodes.find((n) => n.data.kind === 'task' && n.data.name === selectedTask) : undefined;
    return selected ?? by('RUNNING') ?? by('FAILED') ?? by('QUEUED') ?? null;
  }, [model, selectedTask]);
  const focusId = focus?.id ?? '';

  useEffect(() => {
    if (!width || !height || userMoved.current) return;
    const zoomToFit = Math.min(width / (model.width + 24), height / (model.height + 24), 1);
    if (zoomToFit >= MIN_READABLE_ZOOM) {
      void rf.fitView({ padding: 0.06, maxZoom: 1 });
      return;
    }
    const zoom = MIN_READABLE_ZOOM;
    const target = focus ?? model.nodes[0];
    if (!target) return;
    // Keep the graph's left edge from leaving the view when the focus is near the start.
    const cx = Math.max(target.x + target.width / 2, width / 2 / zoom - 12);
    const cy = Math.min(Math.max(target.y + target.height / 2, height / 2 / zoom - 12), model.height);
    void rf.setCenter(cx, cy, { zoom });
    // eslint-disable-next-line react-hooks/exhaustive-deps -- refocus when the focus or the size changes
  }, [rf, width, height, focusId, model.nodes.length, model.width, model.height]);
  return null;
}

function DagInner({ model, selectedTask, onSelectTask, onOpenRun, height = 380 }: DagViewProps) {
  const userMoved = useRef(false);
  const nodes: FlowNode[] = useMemo(
    () =>
      model.nodes.map((n) => ({
        id: n.id,
        type: n.data.kind,
        position: { x: n.x, y: n.y },
        width: n.width,
        height: n.height,
        data: { node: n.data, selected: n.data.kind === 'task' && n.data.name === selectedTask },
        draggable: false,
        connectable: false,
      })),
    [model, selectedTask],
  );
  const edges: Edge[] = useMemo(
    () =>
      model.edges.map((e) => {
        const color = e.kind === 'spawn' ? TONE_COLOR.running : e.satisfied ? '#7b8794' : '#cbd2d9';
        return {
          id: e.id,
          source: e.source,
          target: e.target,
          ...(e.kind === 'spawn' ? { sourceHandle: 'spawn', targetHandle: 'top', type: 'smoothstep' } : {}),
          animated: e.active,
          style: {
            stroke: color,
            strokeWidth: 1.5,
            ...(e.kind === 'spawn' || !e.satisfied ? { strokeDasharray: '5 4' } : {}),
          },
        };
      }),
    [model],
  );
  return (
    <div className="dag" style={{ height }}>
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        nodesDraggable={false}
        nodesConnectable={false}
        edgesFocusable={false}
        zoomOnScroll={false}
        preventScrolling={false}
        zoomOnDoubleClick
        minZoom={0.2}
        maxZoom={1.5}
        proOptions={{ hideAttribution: true }}
        onMoveStart={(event) => {
          // Programmatic moves have no event; a person panning or zooming has one.
          if (event) userMoved.current = true;
        }}
        onNodeClick={(_e, node) => {
          const d = (node.data as FlowData).node;
          if (d.kind === 'task') onSelectTask?.(d.name);
          else if (d.kind === 'child') onOpenRun?.(d.run.id);
        }}
      >
        <Background gap={16} color="#e4e7eb" />
        <Controls showInteractive={false} />
        {model.width * MIN_READABLE_ZOOM > 1000 && (
          <MiniMap
            pannable
            zoomable
            nodeColor={miniColor}
            nodeStrokeWidth={0}
            maskColor="rgba(240,242,245,0.65)"
            style={{ width: 150, height: 56 }}
            ariaLabel="Overview of the whole graph"
          />
        )}
        <Viewport model={model} userMoved={userMoved} selectedTask={selectedTask} />
      </ReactFlow>
    </div>
  );
}

export function DagView(props: DagViewProps) {
  return (
    <ReactFlowProvider>
      <DagInner {...props} />
    </ReactFlowProvider>
  );
}
