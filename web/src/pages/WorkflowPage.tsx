import { useMemo } from 'react';
import { Link, useParams } from 'react-router';
import { useWorkflowDef, useWorkflowRuns } from '../api/queries.ts';
import type { TaskDef } from '../api/types.ts';
import { DagView } from '../components/DagView.tsx';
import { Ago, ErrorBox, Loading, Panel, StatusBadge } from '../components/common.tsx';
import { buildDag } from '../lib/dag.ts';
import { shortId } from '../lib/format.ts';

function timeout(v: unknown): string {
  if (v === undefined || v === null) return '—';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return `${v} s`;
  return JSON.stringify(v);
}

function TaskRow({ t, onFailure = false }: { t: TaskDef; onFailure?: boolean }) {
  return (
    <tr>
      <td>
        <span className="strong">{t.name}</span>
        {onFailure && <span className="tag tag-bad">on failure</span>}
      </td>
      <td className="mono small">{t.action}</td>
      <td className="small">{t.parents?.length ? t.parents.join(', ') : '—'}</td>
      <td className="num">{t.retries ?? 0}</td>
      <td className="small">{timeout(t.execution_timeout)}</td>
      <td className="small mono">{typeof t['input_from'] === 'string' ? t['input_from'] : ''}</td>
    </tr>
  );
}

export default function WorkflowPage() {
  const { name = '', version = '' } = useParams();
  const q = useWorkflowDef(name, version);
  const runs = useWorkflowRuns(name);
  const def = q.data;
  const dag = useMemo(() => (def ? buildDag(def, null) : null), [def]);

  return (
    <div className="page">
      <nav className="crumbs">
        <Link to="/workflows">Workflows</Link> / {name} / v{version}
      </nav>
      <header className="page-head">
        <h1>
          {name} <span className="muted small mono">v{version}</span>
        </h1>
        {def?.description && <p className="muted">{def.description}</p>}
      </header>
      {q.isPending ? (
        <Loading what="definition" />
      ) : !def || !dag ? (
        <ErrorBox error={q.error} title="No definition" />
      ) : (
        <>
          <Panel title="Graph" className="flush">
            <DagView model={dag} height={Math.min(480, Math.max(220, dag.height * 0.8 + 60))} />
          </Panel>
          <Panel title={`Tasks (${def.tasks.length}${def.on_failure ? ' + on failure' : ''})`} className="flush">
            <table className="table">
              <thead>
                <tr>
                  <th>Task</th>
                  <th>Action</th>
                  <th>Parents</th>
                  <th className="num">Retries</th>
                  <th>Timeout</th>
                  <th>Input from</th>
                </tr>
              </thead>
              <tbody>
                {def.tasks.map((t) => (
                  <TaskRow key={t.name} t={t} />
                ))}
                {def.on_failure && <TaskRow t={def.on_failure} onFailure />}
              </tbody>
            </table>
          </Panel>
        </>
      )}
      <Panel title="Recent runs" className="flush">
        <ErrorBox error={runs.error} />
        {runs.data && runs.data.runs.length === 0 && <p className="muted pad">No runs yet.</p>}
        {runs.data && runs.data.runs.length > 0 && (
          <table className="table">
            <thead>
              <tr>
                <th>Run</th>
                <th>Status</th>
                <th>Created</th>
                <th>Parent</th>
              </tr>
            </thead>
            <tbody>
              {runs.data.runs.map((r) => (
                <tr key={r.id}>
                  <td className="mono">
                    <Link to={`/runs/${r.id}`}>{shortId(r.id)}</Link>
                  </td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td>
                    <Ago at={r.created_at} />
                  </td>
                  <td className="mono small">
                    {r.parent ? (
                      <>
                        <Link to={`/runs/${r.parent.run_id}`}>{shortId(r.parent.run_id)}</Link> · {r.parent.key}
                      </>
                    ) : (
                      '—'
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
    </div>
  );
}
