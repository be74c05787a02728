import { useState } from 'react';
import { Link } from 'react-router';
import type { Agent } from '../api/types.ts';
import { useAgents } from '../api/queries.ts';
import { Empty, ErrorBox, Loading, Panel, StatusBadge, useNow } from '../components/common.tsx';
import { formatAgo, formatDateTime, formatMemoryMb, shortId } from '../lib/format.ts';

function labelText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Heartbeat older than this on an ACTIVE agent is worth a warning colour. */
const STALE_MS = 45_000;

function AgentRow({ a, now }: { a: Agent; now: number }) {
  const facts = a.host?.facts;
  const age = now - a.last_heartbeat;
  return (
    <tr>
      <td>
        <div className="strong">{a.name}</div>
        <div className="mono small muted" title={a.id}>
          {shortId(a.id)}
          {a.host?.version ? ` · v${a.host.version}` : ''}
        </div>
      </td>
      <td>
        <StatusBadge status={a.status} />
      </td>
      <td className={a.status === 'ACTIVE' && age > STALE_MS ? 'warn' : undefined} title={formatDateTime(a.last_heartbeat)}>
        {formatAgo(a.last_heartbeat, now)}
      </td>
      <td>
        <div className="chips">
          {Object.entries(a.labels).map(([k, v]) => (
            <span key={k} className="chip">
              {k}={labelText(v)}
            </span>
          ))}
        </div>
      </td>
      <td className="small">
        {facts ? (
          <>
            {facts.hostname} · {facts.os}/{facts.arch}
            <div className="muted">
              {facts.cpus} CPU · {formatMemoryMb(facts.memory_mb)}
            </div>
          </>
        ) : (
          '—'
        )}
      </td>
      <td className="num">
        {a.running.length}/{a.slots}
      </td>
      <td className="small mono">
        {a.running.map((r) => (
          <div key={`${r.task_id}:${r.attempt}`} title={r.task_id}>
            task {shortId(r.task_id)} #{r.attempt}
          </div>
        ))}
      </td>
      <td className="small mono">{a.run_scope ? <Link to={`/runs/${a.run_scope}`}>{shortId(a.run_scope)}</Link> : 'any'}</td>
    </tr>
  );
}

export function AgentsPage() {
  const q = useAgents();
  const now = useNow();
  const [showStopped, setShowStopped] = useState(false);
  const agents = q.data ?? [];
  const stopped = agents.filter((a) => a.status === 'STOPPED').length;
  const shown = showStopped ? agents : agents.filter((a) => a.status !== 'STOPPED');

  return (
    <div className="page">
      <header className="page-head">
        <h1>Agents</h1>
        <p className="muted">Edge agents on the machines Ratchet provisioned: what they can run and what they run now.</p>
      </header>
      <ErrorBox error={q.error} />
      {q.isPending ? (
        <Loading what="agents" />
      ) : (
        <Panel
          title={`Agents (${shown.length})`}
          actions={
            <label className="toggle">
              <input type="checkbox" checked={showStopped} onChange={(e) => setShowStopped(e.target.checked)} /> Show
              stopped ({stopped})
            </label>
          }
        >
          {shown.length === 0 ? (
            <Empty title="No active agents">
              Agents connect when a suite provisions its machines{stopped ? `; ${stopped} stopped agents are hidden` : ''}.
            </Empty>
          ) : (
            <table className="table">
              <thead>
                <tr>
                  <th>Agent</th>
                  <th>Status</th>
                  <th>Heartbeat</th>
                  <th>Labels</th>
                  <th>Host</th>
                  <th className="num">Slots</th>
                  <th>Running</th>
                  <th>Run scope</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((a) => (
                  <AgentRow key={a.id} a={a} now={now} />
                ))}
              </tbody>
            </table>
          )}
        </Panel>
      )}
    </div>
  );
}
