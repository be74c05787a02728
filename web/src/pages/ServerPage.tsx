import { useRateLimits } from '../api/queries.ts';
import { Empty, ErrorBox, Loading, Panel } from '../components/common.tsx';
import { ServerPanel } from '../components/ServerPanel.tsx';
import { formatNumber } from '../lib/format.ts';

/** The static rate limits tasks draw on (read-only here; `PUT /api/v1/rate-limits/{key}` sets one). */
function RateLimitsPanel() {
  const q = useRateLimits();
  const limits = [...(q.data ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  return (
    <Panel title="Rate limits" actions={<span>tasks name them in their rate_limits; a claim over the limit waits</span>}>
      <ErrorBox error={q.error} title="Cannot load the rate limits" />
      {q.isPending ? (
        <Loading what="rate limits" />
      ) : q.data && limits.length === 0 ? (
        <Empty title="No rate limits">None is set: PUT /api/v1/rate-limits/&#123;key&#125; sets one.</Empty>
      ) : (
        limits.length > 0 && (
          <table className="table" aria-label="Rate limits">
            <thead>
              <tr>
                <th>Key</th>
                <th className="num">Limit</th>
                <th>Per</th>
              </tr>
            </thead>
            <tbody>
              {limits.map((l) => (
                <tr key={l.key}>
                  <td className="mono">{l.key}</td>
                  <td className="num">{formatNumber(l.limit, 0)}</td>
                  <td className="mono">{l.duration}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      )}
    </Panel>
  );
}

export function ServerPage() {
  return (
    <div className="page">
      <header className="page-head">
        <h1>Server</h1>
      </header>
      <ServerPanel />
      <RateLimitsPanel />
    </div>
  );
}
