import { Link } from 'react-router';
import { useInfrastructure } from '../api/queries.ts';
import { Empty, ErrorBox, Loading, Panel } from '../components/common.tsx';
import { formatNumber, shortId } from '../lib/format.ts';

/** What is provisioned right now: after a suite, nothing of it should be left here. */
export function InfrastructurePage() {
  const q = useInfrastructure();
  const leases = q.data?.leases ?? [];
  const kinds = new Map<string, number>();
  for (const l of leases) kinds.set(l.kind, (kinds.get(l.kind) ?? 0) + 1);

  return (
    <div className="page">
      <header className="page-head">
        <h1>Infrastructure</h1>
        <p className="muted">
          Machines, network blocks and quota shares held right now, each with the run that holds it. After a suite
          ends, nothing of it should be left: anything here without a running holder is a leak.
        </p>
      </header>
      <ErrorBox error={q.error} />
      {q.isPending ? (
        <Loading what="leases" />
      ) : leases.length === 0 ? (
        <Empty title="Nothing is provisioned">No machines, networks or quota shares are held.</Empty>
      ) : (
        <Panel
          title={`Leases (${leases.length})`}
          actions={[...kinds].map(([k, n]) => (
            <span key={k} className="chip">
              {k}: {n}
            </span>
          ))}
        >
          <table className="table">
            <thead>
              <tr>
                <th>Kind</th>
                <th>Key</th>
                <th>Holder (run)</th>
                <th className="num">Amount</th>
                <th>Data</th>
              </tr>
            </thead>
            <tbody>
              {leases.map((l) => (
                <tr key={`${l.kind}:${l.key}:${l.holder}`}>
                  <td>
                    <span className="chip">{l.kind}</span>
                  </td>
                  <td className="mono">{l.key}</td>
                  <td className="mono">
                    <Link to={`/runs/${l.holder}`}>{shortId(l.holder)}</Link>
                  </td>
                  <td className="num">{formatNumber(l.amount, 0)}</td>
                  <td className="mono small data-cell">{l.data == null ? '' : JSON.stringify(l.data)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Panel>
      )}
    </div>
  );
}
