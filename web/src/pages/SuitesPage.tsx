import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { useApi } from '../auth.tsx';
import { errorMessage } from '../api/problem.ts';
import type { SuiteSummary, SuiteView } from '../api/types.ts';
import { useCanWrite, useSuites, useSuiteViews } from '../api/queries.ts';
import { Ago, Empty, ErrorBox, Loading, ProgressBar, StatusBadge, useNow } from '../components/common.tsx';
import { READ_ONLY_WHY } from '../lib/access.ts';
import { suiteProgress } from '../lib/comparison.ts';
import { DASH, elapsed, formatDuration, formatTps } from '../lib/format.ts';
import { isTerminal, statusStyle } from '../lib/status.ts';

const FILTERS = [
  { value: '', label: 'All' },
  { value: 'RUNNING', label: 'Running' },
  { value: 'QUEUED', label: 'Queued' },
  { value: 'COMPLETED', label: 'Completed' },
  { value: 'FAILED', label: 'Failed' },
  { value: 'CANCELLED', label: 'Cancelled' },
];

function CancelButton({ id, name }: { id: string; name: string }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const cancel = useMutation({
    mutationFn: () => api.cancelSuite(id),
    onSuccess: (view) => {
      queryClient.setQueryData(['suite', id], view);
      void queryClient.invalidateQueries({ queryKey: ['suites'] });
    },
    onError: (err) => window.alert(`Cannot cancel ${name}: ${errorMessage(err)}`),
  });
  return (
    <button
      type="button"
      className="button button-small button-danger"
      disabled={cancel.isPending}
      onClick={() => {
        if (window.confirm(`Cancel suite ${name}? Running tests stop and their machines are destroyed.`)) cancel.mutate();
      }}
    >
      {cancel.isPending ? 'Cancelling…' : 'Cancel'}
    </button>
  );
}

function SuiteRow({
  s,
  view,
  now,
  selected,
  onSelect,
  canWrite,
}: {
  s: SuiteSummary;
  view: SuiteView | undefined;
  now: number;
  /** The token may cancel (a read-only one gets no Cancel here: the suite's page says why). */
  canWrite: boolean;
  selected: boolean;
  onSelect: (on: boolean) => void;
}) {
  // The list knows only the number of tests; the live view (fetched for running suites) knows how
  // far their runs are (interleaved tests all end in the last round: runs tell more than tests).
  const live = view ? suiteProgress(view) : null;
  const progress = live
    ? { done: live.runsDone, total: live.runsTotal, unit: ' runs' }
    : isTerminal(s.status)
      ? { done: s.tests, total: s.tests, unit: '' }
      : null;
  const status = view?.status ?? s.status;
  const running = view?.tests.filter((t) => t.status === 'RUNNING').map((t) => t.name) ?? [];
  return (
    <tr className={selected ? 'row-selected' : undefined}>
      <td className="check-cell">
        <input type="checkbox" aria-label={`Select ${s.name} for comparison`} checked={selected} onChange={(e) => onSelect(e.target.checked)} />
      </td>
      <td>
        <Link to={`/suites/${s.id}`} className="strong">
          {s.name || '(unnamed)'}
        </Link>
        {running.length > 0 && <div className="small muted">running {running.join(', ')}</div>}
      </td>
      <td>
        <StatusBadge status={status} />
      </td>
      <td>
        {progress ? (
          <span className="progress-cell">
            <ProgressBar done={progress.done} total={progress.total} tone={statusStyle(status).tone} />
            <span className="small">
              {progress.done}/{progress.total}
              {progress.unit}
            </span>
          </span>
        ) : (
          <span className="small">{s.tests} tests</span>
        )}
      </td>
      <td>
        <Ago at={s.created_at} />
      </td>
      <td className="num">{formatDuration(elapsed(s.created_at, s.finished_at, now))}</td>
      <td className="num">
        {s.best ? (
          <>
            <span className="strong">{formatTps(s.best.tps)}</span> <span className="small muted">{s.best.name}</span>
          </>
        ) : (
          DASH
        )}
      </td>
      <td className="num">{canWrite && !isTerminal(status) && status !== 'CANCELLING' && <CancelButton id={s.id} name={s.name} />}</td>
    </tr>
  );
}

export function SuitesPage() {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  /** Suites picked for a comparison, in the order picked (the first is the baseline's suite). */
  const [selected, setSelected] = useState<string[]>([]);
  const status = params.get('status') ?? '';
  const q = useSuites(status);
  const canWrite = useCanWrite();
  const now = useNow();
  const suites = q.data?.pages.flatMap((p) => p.suites) ?? [];
  const liveIds = suites.filter((s) => !isTerminal(s.status)).map((s) => s.id);
  const views = useSuiteViews(liveIds);
  const viewById = new Map<string, SuiteView>();
  views.forEach((v, i) => v.data && viewById.set(liveIds[i]!, v.data));

  return (
    <div className="page">
      <header className="page-head row">
        <div>
          <h1>Suites</h1>
          <p className="muted">Benchmark suites, newest first.</p>
        </div>
        <div className="actions">
          <button
            type="button"
            className="button"
            disabled={selected.length === 0}
            title="Compare the tests of the selected suites side by side"
            onClick={() => void navigate(`/compare?suites=${selected.join(',')}`)}
          >
            Compare{selected.length ? ` (${selected.length})` : ''}
          </button>
          {canWrite ? (
            <Link to="/suites/new" className="button button-primary">
              New suite
            </Link>
          ) : (
            <button type="button" className="button button-primary" disabled title={READ_ONLY_WHY}>
              New suite
            </button>
          )}
        </div>
      </header>
      <div className="tabs" role="tablist" aria-label="Filter by status">
        {FILTERS.map((f) => (
          <button
            key={f.value}
            type="button"
            role="tab"
            aria-selected={status === f.value}
            className={status === f.value ? 'tab active' : 'tab'}
            onClick={() => setParams(f.value ? { status: f.value } : {})}
          >
            {f.label}
          </button>
        ))}
      </div>
      <ErrorBox error={q.error} />
      {q.isPending ? (
        <Loading what="suites" />
      ) : suites.length === 0 ? (
        <Empty title={status ? `No ${status.toLowerCase()} suites` : 'No suites yet'}>
          <p>
            Submit one from the <Link to="/suites/new">editor</Link>, or with <code>ratchet run -f suite.yaml</code>.
          </p>
        </Empty>
      ) : (
        <section className="panel flush">
          <table className="table" aria-label="Suites">
            <thead>
              <tr>
                <th className="check-cell" aria-label="Select" />
                <th>Suite</th>
                <th>Status</th>
                <th>Tests</th>
                <th>Created</th>
                <th className="num">Duration</th>
                <th className="num">Best TPS</th>
                <th className="num" aria-label="Actions" />
              </tr>
            </thead>
            <tbody>
              {suites.map((s) => (
                <SuiteRow
                  key={s.id}
                  s={s}
                  view={viewById.get(s.id)}
                  now={now}
                  canWrite={canWrite}
                  selected={selected.includes(s.id)}
                  onSelect={(on) => setSelected((prev) => (on ? [...prev, s.id].slice(-20) : prev.filter((x) => x !== s.id)))}
                />
              ))}
            </tbody>
          </table>
          {q.hasNextPage && (
            <div className="panel-foot">
              <button type="button" className="button" onClick={() => void q.fetchNextPage()} disabled={q.isFetchingNextPage}>
                {q.isFetchingNextPage ? 'Loading…' : 'Older suites'}
              </button>
            </div>
          )}
        </section>
      )}
    </div>
  );
}
