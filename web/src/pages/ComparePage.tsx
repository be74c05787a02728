import { useMemo } from 'react';
import { Link, useSearchParams } from 'react-router';
import { useCompare, useSuiteViews } from '../api/queries.ts';
import { ComparisonChart } from '../components/ComparisonChart.tsx';
import { Empty, ErrorBox, Loading, Panel, StatusBadge } from '../components/common.tsx';
import { VerdictDelta } from '../components/Verdict.tsx';
import { repetitionsText, rowsFromResult } from '../lib/comparison.ts';
import { DASH, formatLatency, formatNumber, formatTps, shortId } from '../lib/format.ts';
import { significanceText } from '../lib/verdict.ts';

/** Tests of several suites side by side (`/compare?suites=a,b&baseline=suite/test`). */
export default function ComparePage() {
  const [params, setParams] = useSearchParams();
  const ids = useMemo(() => (params.get('suites') ?? '').split(',').filter(Boolean), [params]);
  const baseline = params.get('baseline');
  const q = useCompare(ids, baseline);
  const views = useSuiteViews(ids);
  const suites = views.every((v) => v.data)
    ? views.map((v) => ({ id: v.data!.id, name: v.data!.name, tests: v.data!.tests.filter((t) => (t.repetitions ?? []).length > 0).length }))
    : [];
  const suitesKey = JSON.stringify(suites);
  // eslint-disable-next-line react-hooks/exhaustive-deps -- suitesKey stands for suites
  const rows = useMemo(() => (q.data ? rowsFromResult(q.data, suites) : []), [q.data, suitesKey]);

  if (!ids.length) {
    return (
      <Empty title="Nothing to compare">
        Pick suites on the <Link to="/suites">suites page</Link> and press Compare.
      </Empty>
    );
  }
  return (
    <div className="page">
      <nav className="crumbs">
        <Link to="/suites">Suites</Link> / Compare
      </nav>
      <header className="page-head row">
        <div>
          <h1>Compare {ids.length} suites</h1>
          <p className="muted">Every test of each suite: medians of its runs, with deltas against the baseline test (green or red: a significant change).</p>
        </div>
        <div className="actions">
          <label className="inline-label">
            Baseline{' '}
            <select
              aria-label="Baseline"
              value={q.data?.baseline ?? ''}
              onChange={(e) => {
                const p = new URLSearchParams(params);
                p.set('baseline', e.target.value);
                setParams(p, { replace: true });
              }}
            >
              {[...new Set(rows.map((r) => r.name))].map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </label>
        </div>
      </header>
      <ErrorBox error={q.error} title="Cannot compare" />
      {q.isPending ? (
        <Loading what="the comparison" />
      ) : (
        rows.length > 0 && (
          <>
            <Panel className="flush">
              <table className="table" aria-label="Comparison">
                <thead>
                  <tr>
                    <th>Suite</th>
                    <th>Test</th>
                    <th>Status</th>
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
                  {rows.map((r) => {
                    return (
                      <tr key={r.key}>
                        <td>{r.suiteId ? <Link to={`/suites/${r.suiteId}`}>{r.suite}</Link> : r.suite}</td>
                        <td>
                          <span className="strong">{r.test}</span>
                          {r.isBaseline && <span className="tag">baseline</span>}
                          {r.isBest && <span className="tag tag-good">best</span>}
                          {r.isWorst && <span className="tag tag-bad">worst</span>}
                        </td>
                        <td>
                          <StatusBadge status={r.status} />
                        </td>
                        <td className="num strong">{formatTps(r.tps)}</td>
                        <td className="num">
                          {r.isBaseline ? (
                            <span className="muted small">base</span>
                          ) : (
                            <VerdictDelta pct={r.tpsDeltaPct} comparison={r.comparison?.tps} higherIsBetter />
                          )}
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
                        <td className="num">{formatNumber(r.errors, 0)}</td>
                        <td className="mono small" style={{ whiteSpace: 'nowrap' }}>
                          {r.runId ? <Link to={`/runs/${r.runId}`}>{shortId(r.runId)}</Link> : DASH}
                          {r.repetitions.length > 1 && <span className="muted"> · {repetitionsText(r)} runs</span>}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </Panel>
            <Panel title="Comparison" actions={q.data?.significance ? <span className="muted small">{significanceText(q.data.significance)}</span> : undefined}>
              <ComparisonChart rows={rows} confidence={q.data?.significance?.confidence} />
            </Panel>
          </>
        )
      )}
    </div>
  );
}
