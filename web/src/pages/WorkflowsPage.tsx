import { Link } from 'react-router';
import { useWorkflows } from '../api/queries.ts';
import { ApiError } from '../api/problem.ts';
import { Ago, Empty, ErrorBox, Loading, Panel } from '../components/common.tsx';

/** The workflows Ratchet runs a suite with (the server registers them at start). */
export const KNOWN_WORKFLOWS = [
  { name: 'stroppy-test-suite', version: '1', what: 'a suite: validate, one test run per test, aggregate the results' },
  { name: 'stroppy-test-run', version: '1', what: 'one benchmark test: network, placement, machines, PostgreSQL, load, teardown' },
  { name: 'cloud-provision', version: '1', what: 'machines for a test: logical plan, quotas, create, wait for their agents' },
];

export function WorkflowsPage() {
  const q = useWorkflows();
  // An older server has no list endpoint (405/404): fall back to the workflows every server registers.
  const unsupported = q.error instanceof ApiError && (q.error.status === 404 || q.error.status === 405);
  const rows = q.data ?? (unsupported ? KNOWN_WORKFLOWS : []);
  const what = new Map(KNOWN_WORKFLOWS.map((w) => [w.name, w.what]));

  return (
    <div className="page">
      <header className="page-head">
        <h1>Workflows</h1>
        <p className="muted">Workflow definitions registered on the server; open one for its DAG and its recent runs.</p>
      </header>
      {!unsupported && <ErrorBox error={q.error} />}
      {unsupported && <p className="muted small">This server does not list workflows yet; showing the built-in ones.</p>}
      {q.isPending ? (
        <Loading what="workflows" />
      ) : rows.length === 0 ? (
        <Empty title="No workflows registered" />
      ) : (
        <Panel className="flush">
          <table className="table">
            <thead>
              <tr>
                <th>Workflow</th>
                <th>Version</th>
                <th>Registered</th>
                <th>What it does</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((w) => (
                <tr key={`${w.name}@${w.version}`}>
                  <td>
                    <Link className="strong" to={`/workflows/${encodeURIComponent(w.name)}/${encodeURIComponent(w.version)}`}>
                      {w.name}
                    </Link>
                  </td>
                  <td className="mono">{w.version}</td>
                  <td>{'registered_at' in w && typeof w.registered_at === 'number' ? <Ago at={w.registered_at} /> : '—'}</td>
                  <td className="small muted">{what.get(w.name) ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Panel>
      )}
    </div>
  );
}
