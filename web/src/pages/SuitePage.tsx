import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useMemo } from 'react';
import { Link, useParams } from 'react-router';
import { useApi } from '../auth.tsx';
import { useCanWrite, useProgressPoints, useRun, useSuite } from '../api/queries.ts';
import type { SuiteView } from '../api/types.ts';
import { ComparisonChart } from '../components/ComparisonChart.tsx';
import { READ_ONLY_WHY } from '../lib/access.ts';
import { Ago, ErrorBox, JsonView, Loading, Panel, ProgressBar, StatusBadge, useNow } from '../components/common.tsx';
import { LineChart } from '../components/LineChart.tsx';
import { buildComparison, suiteProgress, type ComparisonRow } from '../lib/comparison.ts';
import { DASH, elapsed, formatDelta, formatDuration, formatLatency, formatNumber, formatTps, shortId } from '../lib/format.ts';
import { alignSeries, LOAD_TASK, seriesFromProgress, seriesFromResult } from '../lib/series.ts';
import { isTerminal, statusStyle } from '../lib/status.ts';

/** Distinct, colour-blind-friendly line colours (Okabe-Ito). */
export const PALETTE = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#f0e442', '#000000'];

function Delta({ pct, higherIsBetter }: { pct: number | null; higherIsBetter: boolean }) {
  const d = formatDelta(pct, higherIsBetter);
  return <span className={`delta delta-${d.tone}`}>{d.text}</span>;
}

function TestsTable({ rows }: { rows: ComparisonRow[] }) {
  return (
    <table className="table tests-table" aria-label="Tests">
      <thead>
        <tr>
          <th>Test</th>
          <th>Status</th>
          <th>Steps</th>
          <th className="num">TPS</th>
          <th className="num">Δ TPS</th>
          <th className="num">p50</th>
          <th className="num">p95</th>
          <th className="num">Δ p95</th>
          <th className="num">p99</th>
          <th className="num">Errors</th>
          <th>Run</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.name} className={r.status === 'FAILED' ? 'row-failed' : undefined}>
            <td>
              <span className="strong">{r.name}</span>
              {r.isBaseline && <span className="tag">baseline</span>}
              {r.isBest && <span className="tag tag-good">best</span>}
              {r.isWorst && <span className="tag tag-bad">worst</span>}
              {r.error && (
                <div className="small error-text" title={r.error}>
                  {r.error}
                </div>
              )}
            </td>
            <td>
              <StatusBadge status={r.status} />
            </td>
            <td className="steps-cell">
              {r.stepsTotal > 0 ? (
                <>
                  <span className="progress-cell">
                    <ProgressBar done={r.stepsDone} total={r.stepsTotal} tone={statusStyle(r.status).tone} />
                    <span className="small">
                      {r.stepsDone}/{r.stepsTotal}
                    </span>
                  </span>
                  {r.steps.length > 0 && <div className="small mono">{r.steps.join(', ')}</div>}
                </>
              ) : (
                <span className="muted small">{r.status === 'PENDING' ? 'waiting its turn' : DASH}</span>
              )}
            </td>
            <td className="num strong">{formatTps(r.tps)}</td>
            <td className="num">{r.isBaseline ? <span className="muted small">base</span> : <Delta pct={r.tpsDeltaPct} higherIsBetter />}</td>
            <td className="num">{formatLatency(r.latency?.p50)}</td>
            <td className="num">{formatLatency(r.latency?.p95)}</td>
            <td className="num">
              {r.isBaseline ? <span className="muted small">base</span> : <Delta pct={r.p95DeltaPct} higherIsBetter={false} />}
            </td>
            <td className="num">{formatLatency(r.latency?.p99)}</td>
            <td className={`num${r.errors ? ' error-text' : ''}`}>{formatNumber(r.errors, 0)}</td>
            <td className="mono small">{r.runId ? <Link to={`/runs/${r.runId}`}>{shortId(r.runId)}</Link> : DASH}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The load of the test running now, from its live progress points (tests run one at a time). */
function useLiveTest(suite: SuiteView) {
  const running = suite.tests.find((t) => t.status === 'RUNNING' && t.run_id && !t.result && t.steps.includes(LOAD_TASK));
  const run = useRun(running?.run_id ?? undefined);
  const task = run.data?.tasks.find((t) => t.name === LOAD_TASK);
  const { points } = useProgressPoints(running?.run_id ?? '', task?.status === 'RUNNING' ? task.id : undefined, true);
  return useMemo(() => (running && task ? { name: running.name, series: seriesFromProgress(points, task.id) } : null), [running, task, points]);
}

function TpsOverTime({ suite }: { suite: SuiteView }) {
  const live = useLiveTest(suite);
  const chart = useMemo(() => {
    const measured = suite.tests.filter((t) => t.result && t.result.series.length);
    const series = measured.map((t) => seriesFromResult(t.result!));
    const all = live && live.series.t.length ? [...series, live.series] : series;
    const names = [...measured.map((t) => t.name), ...(all.length > series.length ? [`${live!.name} (live)`] : [])];
    const aligned = alignSeries(all.map((s) => ({ t: s.t, values: s.tps })));
    return {
      x: aligned.x,
      series: names.map((name, i) => ({
        label: name,
        values: aligned.ys[i]!,
        color: PALETTE[suite.tests.findIndex((t) => name.startsWith(t.name)) % PALETTE.length]!,
        unit: 'tps',
        dash: name.endsWith('(live)'),
      })),
    };
  }, [suite, live]);
  if (!chart.series.length) return null;
  return (
    <Panel title="TPS over time, per test">
      <LineChart x={chart.x} series={chart.series} height={240} yLabel="TPS" />
    </Panel>
  );
}

export default function SuitePage() {
  const { id = '' } = useParams();
  const q = useSuite(id);
  const api = useApi();
  const queryClient = useQueryClient();
  const canWrite = useCanWrite();
  const now = useNow();
  const cancel = useMutation({
    mutationFn: () => api.cancelSuite(id),
    onSuccess: (view) => queryClient.setQueryData(['suite', id], view),
  });
  const suite = q.data;
  const comparison = useMemo(() => (suite ? buildComparison(suite) : null), [suite]);

  if (q.isPending) return <Loading what="suite" />;
  if (!suite || !comparison) return <ErrorBox error={q.error} title="Cannot load the suite" />;
  const progress = suiteProgress(suite);
  const spec = suite.spec as { description?: string } | null;
  const canCancel = !isTerminal(suite.status) && suite.status !== 'CANCELLING';

  return (
    <div className="page">
      <nav className="crumbs">
        <Link to="/suites">Suites</Link> / {suite.name}
      </nav>
      <header className="page-head row">
        <div>
          <h1>
            {suite.name} <StatusBadge status={suite.status} />
          </h1>
          {spec?.description && <p className="muted">{spec.description}</p>}
          <dl className="facts">
            <div>
              <dt>Target</dt>
              <dd>{suite.target}</dd>
            </div>
            <div>
              <dt>Created</dt>
              <dd>
                <Ago at={suite.created_at} />
              </dd>
            </div>
            <div>
              <dt>Duration</dt>
              <dd>{formatDuration(elapsed(suite.created_at, suite.finished_at, now))}</dd>
            </div>
            <div>
              <dt>Tests</dt>
              <dd>
                {progress.done}/{progress.total} ended
                {suite.result ? ` · ${suite.result.completed} completed, ${suite.result.failed} failed` : ''}
              </dd>
            </div>
            <div>
              <dt>Baseline</dt>
              <dd>{comparison.baseline ?? DASH}</dd>
            </div>
            <div>
              <dt>Suite run</dt>
              <dd className="mono">
                <Link to={`/runs/${suite.id}`}>{shortId(suite.id)}</Link>
              </dd>
            </div>
          </dl>
        </div>
        <div className="actions">
          {canCancel && (
            <button
              type="button"
              className="button button-danger"
              disabled={cancel.isPending || !canWrite}
              title={canWrite ? undefined : READ_ONLY_WHY}
              onClick={() => {
                if (window.confirm(`Cancel suite ${suite.name}? Running tests stop and their machines are destroyed.`)) cancel.mutate();
              }}
            >
              {cancel.isPending ? 'Cancelling…' : 'Cancel suite'}
            </button>
          )}
        </div>
      </header>
      <ErrorBox error={cancel.error} title="Cancel failed" />
      <ErrorBox error={q.error} title="Refresh failed" />
      {suite.error && <div className="error-box">Suite error: {suite.error}</div>}

      <Panel title="Tests" actions={!comparison.final && !isTerminal(suite.status) ? <span className="muted small">deltas so far; final numbers when every test has ended</span> : undefined} className="flush">
        <TestsTable rows={comparison.rows} />
      </Panel>

      <Panel title="Comparison">
        <ComparisonChart rows={comparison.rows} />
      </Panel>

      <TpsOverTime suite={suite} />

      <details className="panel">
        <summary>Specification (as submitted)</summary>
        <JsonView value={suite.spec} maxHeight={500} />
      </details>
    </div>
  );
}
