/**
 * A run, as Hatchet and Temporal show one: header, the DAG with live task states and the
 * child runs under the tasks that spawned them, the waterfall, the load chart (for a
 * benchmark run), and tabs for the selected task, its events, the log and the run's I/O.
 * Everything selected is in the URL (?task=name&tab=logs), so every view is a deep link.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useRef, useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import { useApi } from '../auth.tsx';
import { runEnded, useCanWrite, useChildRuns, useProgressPoints, useRun, useRunEvents, useWorkflowDef } from '../api/queries.ts';
import type { RunDetail, SystemPoint, TaskState, WorkflowDef } from '../api/types.ts';
import { DagView } from '../components/DagView.tsx';
import { EventsTimeline } from '../components/EventsTimeline.tsx';
import { FaultSummary } from '../components/FaultSummary.tsx';
import { LineChart } from '../components/LineChart.tsx';
import { LoadMetricsStack } from '../components/LoadMetrics.tsx';
import { LogView } from '../components/LogView.tsx';
import { ReplayControl } from '../components/ReplayControl.tsx';
import { StuckBanner, WaitingReason } from '../components/Waiting.tsx';
import { WaterfallView } from '../components/WaterfallView.tsx';
import { Ago, ErrorBox, JsonView, Loading, Panel, StatusBadge, TraceFact, useNow } from '../components/common.tsx';
import { READ_ONLY_WHY } from '../lib/access.ts';
import { buildDag, defFromRun } from '../lib/dag.ts';
import { DASH, elapsed, formatDateTime, formatDuration, formatLatency, formatNumber, formatTps, shortId } from '../lib/format.ts';
import { LogBuffer } from '../lib/logBuffer.ts';
import { LogFeed, type FeedState } from '../lib/logFeed.ts';
import { replayQuestion, replayRequest, runReplay, taskReplay } from '../lib/replay.ts';
import { asFault, faultMarks, faultOverlay, FAULT_TASK } from '../lib/fault.ts';
import { loadMetrics, padToRange, xExtent } from '../lib/metrics.ts';
import { asLoadResult, loadSeries, LOAD_TASK } from '../lib/series.ts';
import { isTerminal, TONE_COLOR } from '../lib/status.ts';
import { deriveTaskInput } from '../lib/taskInput.ts';
import { buildWaterfall } from '../lib/waterfall.ts';
import { runWaitingReason, stuckTasks, waitingReason } from '../lib/waiting.ts';

const SUITE_WORKFLOW = 'stroppy-test-suite';
const TEST_WORKFLOW = 'stroppy-test-run';

type Tab = 'task' | 'events' | 'logs' | 'io';

/** Keep one LogBuffer per run and feed it (history + SSE + polling). */
function useLogFeed(runId: string, live: boolean) {
  const api = useApi();
  const [buffer] = useState(() => new LogBuffer());
  const [state, setState] = useState<FeedState>('loading');
  const [error, setError] = useState<unknown>(null);
  const liveRef = useRef(live);
  liveRef.current = live;
  const ended = !live;

  useEffect(() => {
    buffer.clear();
    setState('loading');
    const feed = new LogFeed(buffer, {
      fetchPage: (after, limit, signal) => api.runLogs(runId, { after, limit }, signal),
      streamUrl: (after) => api.streamUrl(`/runs/${encodeURIComponent(runId)}/logs/stream`, { after }),
      isLive: () => liveRef.current,
      onState: (s, err) => {
        setState(s);
        setError(err ?? null);
      },
    });
    feed.start();
    return () => feed.stop();
    // Restart once when the run ends, for the final page and to stop polling.
  }, [api, buffer, runId, ended]);

  return { buffer, state, error };
}

/** Replaying the run (or part of it): the request on its way, and which tasks it named. */
interface ReplayProps {
  def: WorkflowDef | null | undefined;
  pending: boolean;
  onReplay: (taskName: string | null) => void;
  /** The token may write (cancel, replay): see lib/access.ts. */
  canWrite: boolean;
}

function RunHeader({
  run,
  onCancel,
  cancelling,
  replay,
}: {
  run: RunDetail;
  onCancel: () => void;
  cancelling: boolean;
  replay: ReplayProps;
}) {
  const now = useNow();
  const canCancel = !isTerminal(run.status) && !run.cancel_requested;
  const slot = runWaitingReason(run);
  return (
    <header className="page-head row">
      <div>
        <h1>
          {run.workflow} <span className="muted small mono">v{run.version}</span> <StatusBadge status={run.status} />
          {run.cancel_requested && !isTerminal(run.status) && <span className="tag tag-bad">cancel requested</span>}
        </h1>
        {slot && <WaitingReason reason={slot} block />}
        <dl className="facts">
          <div>
            <dt>Run</dt>
            <dd className="mono" title={run.id}>
              {run.id}
            </dd>
          </div>
          <div>
            <dt>Created</dt>
            <dd>
              <Ago at={run.created_at} />
            </dd>
          </div>
          <div>
            <dt>Duration</dt>
            <dd>{formatDuration(elapsed(run.created_at, run.finished_at, now))}</dd>
          </div>
          <TraceFact url={run.trace_url} />
          {run.concurrency_key && (
            <div>
              <dt>Concurrency key</dt>
              <dd className="mono">{run.concurrency_key}</dd>
            </div>
          )}
          {run.parent && (
            <div>
              <dt>Spawned by</dt>
              <dd>
                <Link to={`/runs/${run.parent.run_id}`} className="mono">
                  {shortId(run.parent.run_id)}
                </Link>{' '}
                · key <code>{run.parent.key}</code>
              </dd>
            </div>
          )}
          {run.workflow === TEST_WORKFLOW && run.parent && (
            <div>
              <dt>Suite</dt>
              <dd>
                <Link to={`/suites/${run.parent.run_id}`}>open the suite</Link>
              </dd>
            </div>
          )}
          {run.workflow === SUITE_WORKFLOW && (
            <div>
              <dt>Suite</dt>
              <dd>
                <Link to={`/suites/${run.id}`}>results and comparison</Link>
              </dd>
            </div>
          )}
          <div>
            <dt>Workflow</dt>
            <dd>
              <Link to={`/workflows/${encodeURIComponent(run.workflow)}/${encodeURIComponent(run.version)}`}>definition</Link>
            </dd>
          </div>
        </dl>
      </div>
      <div className="actions">
        <ReplayControl
          label="Replay run"
          question={replayQuestion(replay.def)}
          availability={runReplay(run)}
          pending={replay.pending}
          onReplay={() => replay.onReplay(null)}
          canWrite={replay.canWrite}
        />
        {canCancel && (
          <button
            type="button"
            className="button button-danger"
            disabled={cancelling || !replay.canWrite}
            title={replay.canWrite ? undefined : READ_ONLY_WHY}
            onClick={() => {
              if (window.confirm('Cancel this run? Its running tasks stop; cleanup tasks still run.')) onCancel();
            }}
          >
            {cancelling ? 'Cancelling…' : 'Cancel run'}
          </button>
        )}
      </div>
    </header>
  );
}

function TaskDetail({
  run,
  task,
  def,
  replay,
  replayError,
}: {
  run: RunDetail;
  task: TaskState;
  def: WorkflowDef | undefined;
  replay: ReplayProps;
  replayError: unknown;
}) {
  const now = useNow();
  const tdef = def ? [...def.tasks, ...(def.on_failure ? [def.on_failure] : [])].find((t) => t.name === task.name) : undefined;
  const input = deriveTaskInput(run, tdef);
  const wait = task.queued_at !== null ? elapsed(task.queued_at, task.started_at ?? task.finished_at, now) : null;
  const children = run.children.filter((c) => c.parent?.task_id === task.id);
  return (
    <div className="task-detail">
      <div className="task-detail-head">
        <h3>
          {task.name} <StatusBadge status={task.status} />
        </h3>
        <span className="mono small muted">{task.action}</span>
        <span className="task-detail-actions">
          <ReplayControl
            key={task.name}
            label="Replay from this task"
            question={replayQuestion(replay.def, task.name)}
            availability={taskReplay(run, task)}
            pending={replay.pending}
            onReplay={() => replay.onReplay(task.name)}
            canWrite={replay.canWrite}
            small
          />
        </span>
      </div>
      <ErrorBox error={replayError} title="Replay failed" />
      <WaitingReason reason={waitingReason(run, task)} block />
      {task.error && <div className="error-box">{task.error}</div>}
      <dl className="facts facts-grid">
        <div>
          <dt>Attempt</dt>
          <dd>
            {task.attempt}
            {task.retry_count > 0 ? ` (${task.retry_count} retries)` : ''}
          </dd>
        </div>
        <div>
          <dt>Worker</dt>
          <dd className="mono">{task.worker_id ? <Link to="/agents">{shortId(task.worker_id)}</Link> : DASH}</dd>
        </div>
        <div>
          <dt>Queued</dt>
          <dd>{formatDateTime(task.queued_at)}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{formatDateTime(task.started_at)}</dd>
        </div>
        <div>
          <dt>Finished</dt>
          <dd>{formatDateTime(task.finished_at)}</dd>
        </div>
        <div>
          <dt>Waited / ran</dt>
          <dd>
            {formatDuration(wait)} / {formatDuration(elapsed(task.started_at, task.finished_at, now))}
          </dd>
        </div>
        {task.concurrency_key && (
          <div>
            <dt>Concurrency key</dt>
            <dd className="mono">{task.concurrency_key}</dd>
          </div>
        )}
        {task.deadline !== null && !isTerminal(task.status) && (
          <div>
            <dt>Deadline</dt>
            <dd>{formatDateTime(task.deadline)}</dd>
          </div>
        )}
        {tdef?.parents && tdef.parents.length > 0 && (
          <div>
            <dt>Parents</dt>
            <dd>{tdef.parents.join(', ')}</dd>
          </div>
        )}
      </dl>
      {children.length > 0 && (
        <p>
          Spawned:{' '}
          {children.map((c) => (
            <Link key={c.id} to={`/runs/${c.id}`} className="chip">
              {c.workflow} · {c.parent?.key} <StatusBadge status={c.status} small />
            </Link>
          ))}
        </p>
      )}
      <div className="io-grid">
        <div>
          <h4>Input {input && <span className="muted small">({input.source})</span>}</h4>
          {input ? <JsonView value={input.value} /> : <p className="muted small">The workflow definition is not available, so the input cannot be shown.</p>}
        </div>
        <div>
          <h4>Output</h4>
          <JsonView value={task.output} />
        </div>
      </div>
    </div>
  );
}

const NO_MARKERS: readonly number[] = [];

function LoadPanel({ run, task }: { run: RunDetail; task: TaskState }) {
  const live = task.status === 'RUNNING';
  const result = useMemo(() => asLoadResult(task.output), [task.output]);
  const wantProgress = !(result && result.series.length) && task.started_at !== null;
  const { points } = useProgressPoints(run.id, wantProgress ? task.id : undefined, live);
  const series = useMemo(() => loadSeries(task, points), [task, points]);
  // The machine and the database over the same seconds (results only: live progress has none).
  // The database machine's agent answers for the load's windows in a later step.
  const dbMachine = run.tasks.find((t) => t.name === 'collect-database-machine')?.output as { windows?: SystemPoint[][] } | null | undefined;
  const metrics = useMemo(
    () => loadMetrics(series.source === 'result' ? asLoadResult(task.output) : null, dbMachine?.windows?.[0]),
    [series.source, task.output, dbMachine],
  );
  // A scheduled fault (the step beside the load), placed on the load's clock by its window.
  const faultOutput = run.tasks.find((t) => t.name === FAULT_TASK)?.output;
  const fault = useMemo(() => asFault(faultOutput), [faultOutput]);
  const marks = useMemo(() => (series.source === 'result' ? faultMarks(fault, result) : null), [fault, result, series.source]);
  const overlay = useMemo(() => faultOverlay(marks), [marks]);
  // The stack's charts draw the same line, unlabelled (the TPS chart names it).
  const stackEvents = useMemo(() => overlay.events.map((e) => ({ x: e.x })), [overlay]);
  const range = useMemo(
    () =>
      xExtent(
        series.t,
        metrics.system?.t ?? [],
        metrics.database?.t ?? [],
        metrics.databaseMachine?.t ?? [],
        metrics.servers?.t ?? [],
        marks ? [marks.at, ...(marks.outage ?? [])] : [],
      ),
    [series.t, metrics, marks],
  );
  const tps = useMemo(() => {
    const padded = padToRange(series.t, [series.tps, series.latency], range);
    return {
      x: padded.x,
      lines: [
        { label: 'TPS', values: padded.ys[0]!, color: TONE_COLOR.running, unit: 'tps' },
        { label: 'latency', values: padded.ys[1]!, color: '#dd6b20', scale: 'y2' as const, unit: 'ms' },
      ],
    };
  }, [series, range]);
  const sync = `load-${run.id}`;
  const hasMetrics = series.source === 'result';
  if (!series.t.length && !result) {
    return (
      <Panel title="Load">
        <p className="muted">{task.status === 'PENDING' || task.status === 'QUEUED' ? 'The load has not started yet.' : task.status === 'SKIPPED' ? 'The load was skipped.' : 'Waiting for the first progress point…'}</p>
      </Panel>
    );
  }
  return (
    <Panel
      title={
        <>
          Load over time <span className="muted small">({series.source === 'progress' ? 'live progress' : 'measured result'})</span>
        </>
      }
    >
      {result && (
        <dl className="facts stat-row">
          <div>
            <dt>TPS</dt>
            <dd className="stat">{formatTps(result.tps)}</dd>
          </div>
          <div>
            <dt>p50</dt>
            <dd className="stat">{formatLatency(result.latency_ms.p50)}</dd>
          </div>
          <div>
            <dt>p95</dt>
            <dd className="stat">{formatLatency(result.latency_ms.p95)}</dd>
          </div>
          <div>
            <dt>p99</dt>
            <dd className="stat">{formatLatency(result.latency_ms.p99)}</dd>
          </div>
          <div>
            <dt>Transactions</dt>
            <dd className="stat">{formatNumber(result.transactions, 0)}</dd>
          </div>
          <div>
            <dt>Errors</dt>
            <dd className={`stat${result.errors ? ' error-text' : ''}`}>{formatNumber(result.errors, 0)}</dd>
          </div>
          <div>
            <dt>Tool</dt>
            <dd>{result.tool}</dd>
          </div>
        </dl>
      )}
      {/* Above the chart rather than beside it: the TPS chart keeps the stack's width, so their time axes line up. */}
      {fault && <FaultSummary fault={fault} outage={result?.outage} windowStartMs={result?.windows?.[0]?.start_ms} chart={marks !== null} />}
      {series.t.length > 0 && (
        <LineChart
          x={tps.x}
          series={tps.lines}
          height={220}
          yLabel="TPS"
          y2Label="latency ms"
          sync={sync}
          gutter
          markers={metrics.database?.checkpointsAt ?? NO_MARKERS}
          events={overlay.events}
          bands={overlay.bands}
        />
      )}
      {hasMetrics && (
        <LoadMetricsStack
          metrics={metrics}
          range={range}
          sync={sync}
          markers={metrics.database?.checkpointsAt ?? NO_MARKERS}
          events={stackEvents}
          bands={overlay.bands}
        />
      )}
      {result?.summary && (
        <details>
          <summary>Raw {result.tool} summary</summary>
          <pre className="json">{result.summary}</pre>
        </details>
      )}
    </Panel>
  );
}

function ChildrenTable({ run }: { run: RunDetail }) {
  if (!run.children.length) return null;
  const taskName = new Map(run.tasks.map((t) => [t.id, t.name]));
  return (
    <Panel title={`Child runs (${run.children.length})`} className="flush">
      <table className="table">
        <thead>
          <tr>
            <th>Run</th>
            <th>Workflow</th>
            <th>Key</th>
            <th>Spawned by</th>
            <th>Status</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {run.children.map((c) => (
            <tr key={c.id}>
              <td className="mono">
                <Link to={`/runs/${c.id}`}>{shortId(c.id)}</Link>
              </td>
              <td>{c.workflow}</td>
              <td>
                <code>{c.parent?.key}</code>
              </td>
              <td>{taskName.get(c.parent?.task_id ?? '') ?? DASH}</td>
              <td>
                <StatusBadge status={c.status} />
              </td>
              <td>
                <Ago at={c.created_at} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Panel>
  );
}

/** The waterfall ticks every second while tasks run; kept apart so the rest of the page does not. */
function Timing({
  run,
  childDetails,
  selectedTaskId,
  onSelect,
}: {
  run: RunDetail;
  childDetails: ReadonlyMap<string, RunDetail | undefined>;
  selectedTaskId: string | null;
  onSelect: (runId: string, name: string) => void;
}) {
  const now = useNow(runEnded(run) ? 3_600_000 : 1000);
  const waterfall = useMemo(() => buildWaterfall(run, now, childDetails), [run, now, childDetails]);
  return <WaterfallView waterfall={waterfall} selectedTaskId={selectedTaskId} onSelect={(_t, runId, name) => onSelect(runId, name)} />;
}

export default function RunPage() {
  const { id = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const api = useApi();
  const queryClient = useQueryClient();
  const canWrite = useCanWrite();

  const runQ = useRun(id);
  const run = runQ.data;
  const live = run ? !runEnded(run) : true;
  const defQ = useWorkflowDef(run?.workflow, run?.version);
  const def = defQ.data;
  const childDetails = useChildRuns(run);
  const eventsQ = useRunEvents(id, live);
  const logs = useLogFeed(id, live);

  const cancel = useMutation({
    mutationFn: () => api.cancelRun(id),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: ['run', id] }),
  });
  // Replay: the run (and the child runs it reruns) goes live again, so every run query refetches
  // and polls again; the returned state flips the status at once.
  const replay = useMutation({
    mutationFn: (taskName: string | null) => api.replayRun(id, replayRequest(taskName).tasks),
    onSuccess: (state) => {
      queryClient.setQueryData<RunDetail>(['run', id], (old) => (old ? { ...old, ...state } : old));
      void queryClient.invalidateQueries({ queryKey: ['run'] });
      void queryClient.invalidateQueries({ queryKey: ['suite'] });
      void queryClient.invalidateQueries({ queryKey: ['suites'] });
    },
  });

  const taskName = params.get('task');
  const tab = (params.get('tab') as Tab | null) ?? (taskName ? 'task' : 'logs');
  const setSelection = (next: { task?: string | null; tab?: Tab }) => {
    const p = new URLSearchParams(params);
    if (next.task !== undefined) {
      if (next.task) p.set('task', next.task);
      else p.delete('task');
    }
    if (next.tab) p.set('tab', next.tab);
    setParams(p, { replace: true });
  };

  // The run detail carries the DAG's edges; the definition (fetched too, for task inputs) is the fallback.
  const graphDef = useMemo(() => (run ? (defFromRun(run) ?? def) : def), [def, run]);
  const dag = useMemo(() => (run ? buildDag(graphDef, run, { childDetails }) : null), [graphDef, run, childDetails]);
  const stuck = useMemo(() => (run ? stuckTasks(run, childDetails) : []), [run, childDetails]);
  const taskNames = useMemo(() => (run?.tasks ?? []).map((t) => ({ id: t.id, name: t.name })), [run?.tasks]);

  if (runQ.isPending) return <Loading what="run" />;
  if (!run || !dag) return <ErrorBox error={runQ.error} title="Cannot load the run" />;

  const task = taskName ? run.tasks.find((t) => t.name === taskName) : undefined;
  const replayProps: ReplayProps = {
    def: graphDef,
    pending: replay.isPending,
    onReplay: (name) => {
      replay.reset();
      replay.mutate(name);
    },
    canWrite,
  };
  const loadTask = run.tasks.find((t) => t.name === LOAD_TASK);

  return (
    <div className="page">
      <nav className="crumbs">
        {run.workflow === TEST_WORKFLOW && run.parent ? (
          <>
            <Link to="/suites">Suites</Link> / <Link to={`/suites/${run.parent.run_id}`}>suite</Link> / {run.parent.key}
          </>
        ) : (
          <>
            <Link to="/workflows">Workflows</Link> / {run.workflow} / {shortId(run.id)}
          </>
        )}
      </nav>
      <RunHeader run={run} onCancel={() => cancel.mutate()} cancelling={cancel.isPending} replay={replayProps} />
      <ErrorBox error={cancel.error} title="Cancel failed" />
      {replay.variables === null && <ErrorBox error={replay.error} title="Replay failed" />}
      <StuckBanner groups={stuck} />
      <ErrorBox error={runQ.error} title="Refresh failed" />
      {run.error && <div className="error-box">Run error: {run.error}</div>}

      <Panel
        title="Graph"
        actions={
          !dag.hasEdges ? (
            <span className="muted small" title={defQ.error ? String(defQ.error) : ''}>
              {defQ.isPending ? 'loading the definition…' : 'no workflow definition from the server: tasks shown without edges'}
            </span>
          ) : (
            <span className="muted small">click a task for its details; a child run to open it</span>
          )
        }
        className="flush"
      >
        <DagView
          model={dag}
          selectedTask={taskName}
          onSelectTask={(name) => setSelection({ task: name, tab: tab === 'logs' || tab === 'events' ? tab : 'task' })}
          onOpenRun={(rid) => void navigate(`/runs/${rid}`)}
          height={Math.min(560, Math.max(240, dag.height * 0.75 + 50))}
        />
      </Panel>

      <Panel title="Timing">
        <Timing
          run={run}
          childDetails={childDetails}
          selectedTaskId={task?.id ?? null}
          onSelect={(runId, name) => {
            if (runId === run.id) setSelection({ task: name, tab: 'task' });
            else void navigate(`/runs/${runId}?task=${encodeURIComponent(name)}&tab=task`);
          }}
        />
      </Panel>

      {loadTask && <LoadPanel run={run} task={loadTask} />}

      <section className="panel">
        <div className="tabs" role="tablist">
          {(
            [
              ['task', task ? `Task: ${task.name}` : 'Task'],
              ['events', 'Events'],
              ['logs', 'Logs'],
              ['io', 'Run input & output'],
            ] as [Tab, string][]
          ).map(([key, label]) => (
            <button
              key={key}
              type="button"
              role="tab"
              aria-selected={tab === key}
              className={tab === key ? 'tab active' : 'tab'}
              onClick={() => setSelection({ tab: key })}
            >
              {label}
            </button>
          ))}
          {task && (
            <button type="button" className="link-button tab-clear" onClick={() => setSelection({ task: null })}>
              clear task selection
            </button>
          )}
        </div>
        {tab === 'task' &&
          (task ? (
            <TaskDetail
              run={run}
              task={task}
              def={def}
              replay={replayProps}
              replayError={replay.variables === task.name ? replay.error : null}
            />
          ) : (
            <p className="muted">Select a task in the graph or the timing chart.</p>
          ))}
        {tab === 'events' && (
          <>
            <ErrorBox error={eventsQ.error} />
            <EventsTimeline events={eventsQ.data ?? []} taskId={task?.id ?? null} onSelectTask={(name) => setSelection({ task: name })} />
          </>
        )}
        {tab === 'logs' && (
          <LogView
            buffer={logs.buffer}
            feedState={logs.state}
            feedError={logs.error}
            taskId={task?.id ?? null}
            onTaskChange={(tid) => setSelection({ task: run.tasks.find((t) => t.id === tid)?.name ?? null })}
            taskNames={taskNames}
          />
        )}
        {tab === 'io' && (
          <div className="io-grid">
            <div>
              <h4>Input</h4>
              <JsonView value={run.input} maxHeight={500} />
            </div>
            <div>
              <h4>Output</h4>
              <JsonView value={run.output} maxHeight={500} />
            </div>
          </div>
        )}
      </section>

      <ChildrenTable run={run} />
    </div>
  );
}
