import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useMemo } from 'react';
import { Link, useParams } from 'react-router';
import { useApi } from '../auth.tsx';
import { errorMessage } from '../api/problem.ts';
import { useCanWrite, useProgressPoints, useRun, useSuite, useSuiteReport } from '../api/queries.ts';
import type { ReportFormat, SuiteView } from '../api/types.ts';
import { ComparisonChart, UnsteadyRuns } from '../components/ComparisonChart.tsx';
import { Measured } from '../components/Measured.tsx';
import { VerdictDelta } from '../components/Verdict.tsx';
import { READ_ONLY_WHY } from '../lib/access.ts';
import { Ago, ErrorBox, JsonView, Loading, Panel, ProgressBar, StatusBadge, TraceFact, useNow } from '../components/common.tsx';
import { LineChart } from '../components/LineChart.tsx';
import { Topologies } from '../components/Topologies.tsx';
import { buildComparison, repetitionsText, suiteProgress, type ComparisonRow } from '../lib/comparison.ts';
import { REPORT_FILES, reportFilename, saveText } from '../lib/download.ts';
import { DASH, elapsed, formatDuration, formatLatency, formatNumber, formatTps, shortId } from '../lib/format.ts';
import { niceCeil, padToRange, smallMultiples, type MultiplesRow } from '../lib/metrics.ts';
import { alignSeries, LOAD_TASK, seriesFromProgress, seriesFromResult } from '../lib/series.ts';
import { isTerminal, statusStyle } from '../lib/status.ts';
import { parseUnsteady, significanceText } from '../lib/verdict.ts';

/** Distinct, colour-blind-friendly line colours (Okabe-Ito). */
export const PALETTE = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#f0e442', '#000000'];

/** A test's runs: how many completed of those planned, and a link to each (its status as a dot). */
function RunLinks({ row }: { row: ComparisonRow }) {
  if (!row.repetitions.length) return <span className="muted small">{row.repeat > 1 ? `0/${row.repeat}` : DASH}</span>;
  // A single-run test keeps its run's id as the link, as before repetitions.
  const single = row.repeat <= 1 && row.repetitions.length === 1;
  return (
    <span className="rep-links">
      {!single && <span className="small rep-count">{repetitionsText(row)}</span>}
      {row.repetitions.map((p) => {
        const s = statusStyle(p.status);
        const shaky = p.steadiness !== null && !p.steadiness.steady;
        return (
          <Link
            key={p.repetition}
            to={`/runs/${p.runId}`}
            className="rep-link mono small"
            title={`Run ${p.repetition} of ${row.name}: ${s.label} · ${shortId(p.runId)}${shaky ? ` · not steady: ${p.steadiness?.note ?? ''}` : ''}`}
          >
            <span className={`dot tone-dot-${s.tone}${s.tone === 'running' ? ' pulse' : ''}`} aria-hidden="true" />
            {single ? shortId(p.runId) : `#${p.repetition}`}
            {shaky && <span className="warn" aria-label="not steady">!</span>}
          </Link>
        );
      })}
    </span>
  );
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
          <th>Runs</th>
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
            <td className="num">
              {r.isBaseline ? <span className="muted small">base</span> : <VerdictDelta pct={r.tpsDeltaPct} comparison={r.comparison?.tps} higherIsBetter />}
            </td>
            <td className="num">{formatLatency(r.latency?.p50)}</td>
            <td className="num">{formatLatency(r.latency?.p95)}</td>
            <td className="num">
              {r.isBaseline ? (
                <span className="muted small">base</span>
              ) : (
                <VerdictDelta pct={r.p95DeltaPct} comparison={r.comparison?.p95} higherIsBetter={false} />
              )}
            </td>
            <td className="num">{formatLatency(r.latency?.p99)}</td>
            <td className={`num${r.errors ? ' error-text' : ''}`}>{formatNumber(r.errors, 0)}</td>
            <td>
              <RunLinks row={r} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * The load running now, from its live progress points (runs go one at a time): the repetition
 * of a test that is running and has measured nothing yet.
 */
function useLiveTest(suite: SuiteView) {
  const test = suite.tests.find((t) => t.status === 'RUNNING' && t.steps.includes(LOAD_TASK));
  const rep = test?.repetitions.find((r) => (r.status === 'RUNNING' || r.status === 'QUEUED') && !r.result);
  const run = useRun(rep?.run_id);
  const task = run.data?.tasks.find((t) => t.name === LOAD_TASK);
  const { points } = useProgressPoints(rep?.run_id ?? '', task?.status === 'RUNNING' ? task.id : undefined, true);
  return useMemo(
    () => (test && rep && task ? { name: test.repeat > 1 ? `${test.name} #${rep.repetition}` : test.name, series: seriesFromProgress(points, task.id) } : null),
    [test, rep, task, points],
  );
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
    <Panel title="TPS over time, per test" actions={<span className="muted small">each test's last run</span>}>
      <LineChart x={chart.x} series={chart.series} height={240} yLabel="TPS" />
    </Panel>
  );
}

const MULTIPLE_HEIGHT = 130;
const NO_MARKERS: readonly number[] = [];
/** iowait in every test's CPU chart: a neutral grey under the test's own colour. */
const IOWAIT_COLOR = '#9aa5b1';

/**
 * The load machine and the database during each test's last run, as small multiples: one row
 * per test, the same time range, cursor and y maximum in every column, so tests compare by eye.
 */
function MachineDuringLoad({ suite }: { suite: SuiteView }) {
  const m = useMemo(() => smallMultiples(suite.tests), [suite.tests]);
  if (!m.rows.some((r) => r.measured)) return null;
  const sync = `suite-${suite.id}-machine`;
  // Round maxima: the top of each column's axis gets a tick, so its scale reads at a glance.
  const writeRange: [number, number | null] = [0, m.writeMax === null ? null : niceCeil(m.writeMax)];
  const commitsRange: [number, number | null] = [0, m.commitsMax === null ? null : niceCeil(m.commitsMax)];
  return (
    <Panel title="Machine and database during the load" actions={<span className="muted small">each test's last run · same scales in each column</span>}>
      {!m.anySamples ? (
        <p className="muted">No system samples in these results.</p>
      ) : (
        <div className="multiples">
          <div className="multiples-head">Test</div>
          <div className="multiples-head">
            CPU % <span className="muted">(user, system dashed, iowait grey)</span>
          </div>
          <div className="multiples-head">Disk write MB/s</div>
          <div className="multiples-head">Commits/s</div>
          {m.rows.map((r, i) => (
            <MultiplesRowView key={r.name} row={r} color={PALETTE[i % PALETTE.length]!} range={m.range} sync={sync} writeRange={writeRange} commitsRange={commitsRange} />
          ))}
        </div>
      )}
    </Panel>
  );
}

function MultiplesRowView({
  row,
  color,
  range,
  sync,
  writeRange,
  commitsRange,
}: {
  row: MultiplesRow;
  color: string;
  range: [number, number] | null;
  sync: string;
  writeRange: [number, number | null];
  commitsRange: [number, number | null];
}) {
  const charts = useMemo(() => {
    const sys = row.system;
    const db = row.database;
    const cpu = sys && padToRange(sys.t, [sys.user, sys.system, sys.iowait], range);
    const write = sys && padToRange(sys.t, [sys.writeMb], range);
    const commits = db && padToRange(db.t, [db.commits], range);
    return {
      cpu: cpu && {
        x: cpu.x,
        series: [
          { label: 'user', values: cpu.ys[0]!, color, unit: '%' },
          { label: 'system', values: cpu.ys[1]!, color, unit: '%', dash: true },
          { label: 'iowait', values: cpu.ys[2]!, color: IOWAIT_COLOR, unit: '%' },
        ],
      },
      write: write && { x: write.x, series: [{ label: 'write', values: write.ys[0]!, color, unit: 'MB/s' }] },
      commits: commits && { x: commits.x, series: [{ label: 'commits', values: commits.ys[0]!, color, unit: '/s' }] },
    };
  }, [row, color, range]);
  const common = { height: MULTIPLE_HEIGHT, sync, markers: row.database?.checkpointsAt ?? NO_MARKERS };
  // The columns' headings carry the units: no axis labels, more room for the lines.
  return (
    <div className="multiples-row" role="group" aria-label={`Machine and database of ${row.name}`}>
      <div className="multiples-name">{row.name}</div>
      {!row.measured || (!row.system && !row.database) ? (
        <div className="multiples-none muted small">{row.measured ? 'No system samples in this result.' : 'Not measured yet.'}</div>
      ) : (
        <>
          <div>{charts.cpu ? <LineChart {...charts.cpu} {...common} yRange={[0, 100]} /> : <p className="muted small">No system samples.</p>}</div>
          <div>{charts.write ? <LineChart {...charts.write} {...common} yRange={writeRange} /> : <p className="muted small">No system samples.</p>}</div>
          <div>{charts.commits ? <LineChart {...charts.commits} {...common} yRange={commitsRange} /> : <p className="muted small">No database samples.</p>}</div>
        </>
      )}
    </div>
  );
}

/** The report as a file: fetched with the token (never put in a URL), saved as a Blob. */
function ReportDownloads({ suite }: { suite: SuiteView }) {
  const api = useApi();
  const ended = isTerminal(suite.status);
  const download = useMutation({
    mutationFn: async (format: ReportFormat) => {
      const text = await api.suiteReportText(suite.id, format);
      saveText(text, reportFilename(suite.name, format), REPORT_FILES[format].type);
    },
    onError: (err) => window.alert(`Cannot download the report: ${errorMessage(err)}`),
  });
  return (
    <>
      {(['markdown', 'junit'] as const).map((f) => (
        <button
          key={f}
          type="button"
          className="button"
          disabled={!ended || download.isPending}
          title={ended ? `Save ${reportFilename(suite.name, f)}` : 'Once the suite has ended'}
          onClick={() => download.mutate(f)}
        >
          {REPORT_FILES[f].label}
        </button>
      ))}
    </>
  );
}

/** What each test ran on, from the report (fetched once the suite has ended). */
function MeasuredPanel({ suite, baseline }: { suite: SuiteView; baseline: string | null }) {
  const ended = isTerminal(suite.status);
  const report = useSuiteReport(suite.id, ended);
  if (!ended) return null;
  const order = report.data?.order;
  return (
    <Panel title="What was measured" actions={order ? <span className="muted small">order: {order}</span> : undefined}>
      {report.isPending ? <Loading what="the report" /> : report.data ? <Measured report={report.data} baseline={baseline} /> : null}
      <ErrorBox error={report.error} title="Cannot load the report" />
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
  const spec = suite.spec as { description?: string; order?: string } | null;
  const canCancel = !isTerminal(suite.status) && suite.status !== 'CANCELLING';
  const significance = suite.result?.significance;
  const unsteady = parseUnsteady(suite.result?.unsteady);

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
              <dt>Runs</dt>
              <dd>
                {progress.runsDone}/{progress.runsTotal} ended · {spec?.order ?? 'interleaved'}
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
            <TraceFact url={suite.trace_url} />
          </dl>
        </div>
        <div className="actions">
          <ReportDownloads suite={suite} />
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
      {suite.error &&
        (suite.status === 'REGRESSED' ? (
          <div className="warn-box" role="status">
            <strong>Regressed</strong>: {suite.error}
          </div>
        ) : (
          <div className="error-box">Suite error: {suite.error}</div>
        ))}

      <Panel
        title="Tests"
        actions={
          <span className="muted small">
            {!comparison.final && !isTerminal(suite.status)
              ? 'medians of the runs so far; verdicts when every test has ended'
              : 'TPS and latencies: medians of the runs'}
          </span>
        }
        className="flush"
      >
        <TestsTable rows={comparison.rows} />
      </Panel>

      <Panel
        title="Comparison"
        actions={
          <span className="muted small">
            {significance ? `Against ${comparison.baseline}: ${significanceText(significance)}` : 'verdicts when every test has ended'}
          </span>
        }
      >
        <ComparisonChart rows={comparison.rows} confidence={significance?.confidence} />
        <UnsteadyRuns rows={comparison.rows} unsteady={unsteady} />
      </Panel>

      <Topologies tests={suite.tests} />

      <MeasuredPanel suite={suite} baseline={comparison.baseline} />

      <TpsOverTime suite={suite} />

      <MachineDuringLoad suite={suite} />

      <details className="panel">
        <summary>Specification (as submitted)</summary>
        <JsonView value={suite.spec} maxHeight={500} />
      </details>
    </div>
  );
}
