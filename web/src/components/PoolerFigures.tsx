/** The load's pooler over the measured window, under the load's charts (components/LoadMetrics.tsx). */
import type { PoolerStats } from '../api/types.ts';
import { formatBytes, formatLatency, formatNumber } from '../lib/format.ts';

/** What PgBouncer counted over the window: a few figures, no chart (it reports totals). */
export function PoolerFigures({ pooler }: { pooler: PoolerStats }) {
  const perTx = pooler.transactions > 0 ? pooler.wait_ms / pooler.transactions : null;
  return (
    <dl className="facts pooler-facts">
      <div>
        <dt>Transactions</dt>
        <dd>{formatNumber(pooler.transactions, 0)}</dd>
      </div>
      <div>
        <dt>Queries</dt>
        <dd>{formatNumber(pooler.queries, 0)}</dd>
      </div>
      <div>
        <dt>Client wait, in all</dt>
        <dd title="Time clients waited for a server connection, summed">
          {formatLatency(pooler.wait_ms)}
          {perTx !== null && <span className="muted small"> · {formatLatency(perTx)} per transaction</span>}
        </dd>
      </div>
      <div>
        <dt>From clients / to them</dt>
        <dd>
          {formatBytes(pooler.received_bytes)} / {formatBytes(pooler.sent_bytes)}
        </dd>
      </div>
    </dl>
  );
}
