/**
 * The suite page's "Topology" panel: a diagram per test that runs more than a single server
 * (replicas, a pooler, a router, a Patroni cluster), so what each test measured is seen before
 * its numbers are compared; under it, the test's fault in a line, when it had one.
 * Nothing at all when every test is a single db and its load machine.
 */
import type { TestView } from '../api/types.ts';
import { faultSummary } from '../lib/fault.ts';
import { hasTopology } from '../lib/topology.ts';
import { Panel } from './common.tsx';
import { TopologyDiagram } from './TopologyDiagram.tsx';

export function Topologies({ tests }: { tests: readonly TestView[] }) {
  const shown = tests.filter((t) => hasTopology(t.nodes));
  if (!shown.length) return null;
  // Tests not placed yet have no nodes: only those placed on a single server are said so.
  const single = tests.filter((t) => t.nodes?.length && !hasTopology(t.nodes)).length;
  return (
    <Panel
      title="Topology"
      actions={
        <span className="muted small">
          each test's latest run · lag and a standby's commits over its last measured window{single ? ` · ${single} single-server test${single === 1 ? '' : 's'} not shown` : ''}
        </span>
      }
    >
      <div className="topologies">
        {shown.map((t) => (
          <figure key={t.name} className="topology-figure">
            <figcaption className="strong">{t.name}</figcaption>
            <TopologyDiagram nodes={t.nodes} name={t.name} servers={t.result?.servers} fault={t.fault} />
            {t.fault && (
              <p className="topology-fault small">
                <strong>Fault:</strong> {faultSummary(t.fault, t.result?.outage, t.result?.windows?.[0]?.start_ms)}
              </p>
            )}
          </figure>
        ))}
      </div>
    </Panel>
  );
}
