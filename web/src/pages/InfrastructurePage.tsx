import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { useApi } from '../auth.tsx';
import { useCanAdmin, useInfrastructure } from '../api/queries.ts';
import type { DeploymentView, Lease } from '../api/types.ts';
import { Empty, ErrorBox, Loading, Panel, StatusBadge, useNow } from '../components/common.tsx';
import { ADMIN_ONLY_WHY } from '../lib/access.ts';
import { DASH, formatDateTime, formatNumber, shortId } from '../lib/format.ts';
import {
  deploymentTotals,
  destroyedSummary,
  destroyFailure,
  formatAge,
  leakReason,
  ttlLeft,
} from '../lib/infrastructure.ts';
import { isTerminal } from '../lib/status.ts';

/** What the last Destroy did: a sentence, good or bad. */
interface Outcome {
  ok: boolean;
  text: string;
}

function plural(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}

function confirmText(d: DeploymentView): string {
  const names = d.machines.map((m) => m.name).join(', ');
  const live = d.run_status !== null && !isTerminal(d.run_status);
  return [
    `Destroy ${plural(d.machines.length, 'machine')} of run ${shortId(d.run_id)} on ${d.provider} now?`,
    names,
    live ? `The run is ${d.run_status!.toLowerCase()}: it is cancelled first.` : '',
    'This cannot be undone.',
  ]
    .filter(Boolean)
    .join('\n\n');
}

function DestroyButton({
  d,
  canAdmin,
  onOutcome,
}: {
  d: DeploymentView;
  /** The token has the admin scope (the server refuses the others with a 403). */
  canAdmin: boolean;
  onOutcome: (o: Outcome) => void;
}) {
  const api = useApi();
  const queryClient = useQueryClient();
  const destroy = useMutation({
    mutationFn: () => api.destroyDeployment(d.run_id),
    onSuccess: (r) => onOutcome({ ok: true, text: destroyedSummary(r, shortId(d.run_id)) }),
    onError: (err) => onOutcome({ ok: false, text: `Cannot destroy run ${shortId(d.run_id)}: ${destroyFailure(err)}` }),
    onSettled: () => {
      // A failed destroy may still have taken some machines (or the run's cancel) with it.
      void queryClient.invalidateQueries({ queryKey: ['infrastructure'] });
      void queryClient.invalidateQueries({ queryKey: ['run', d.run_id] });
      if (d.suite_id) void queryClient.invalidateQueries({ queryKey: ['suite', d.suite_id] });
      void queryClient.invalidateQueries({ queryKey: ['suites'] });
    },
  });
  return (
    <button
      type="button"
      className="button button-small button-danger"
      disabled={destroy.isPending || !canAdmin}
      title={
        canAdmin
          ? 'Cancel the run if it is still going, destroy its machines and give back their leases (what the leak guard does at the TTL)'
          : ADMIN_ONLY_WHY
      }
      onClick={() => {
        if (window.confirm(confirmText(d))) destroy.mutate();
      }}
    >
      {destroy.isPending ? 'Destroying…' : 'Destroy'}
    </button>
  );
}

function DeploymentRow({
  d,
  now,
  canAdmin,
  onOutcome,
}: {
  d: DeploymentView;
  now: number;
  canAdmin: boolean;
  onOutcome: (o: Outcome) => void;
}) {
  const leak = leakReason(d, now);
  const ttl = ttlLeft(d.expires_at, now);
  return (
    <tr className={leak ? 'row-failed' : undefined}>
      <td className="mono">
        <Link to={`/runs/${d.run_id}`} title={d.run_id}>
          {shortId(d.run_id)}
        </Link>
      </td>
      <td className="mono">
        {d.suite_id ? (
          <Link to={`/suites/${d.suite_id}`} title={d.suite_id}>
            {shortId(d.suite_id)}
          </Link>
        ) : (
          DASH
        )}
      </td>
      <td>
        <span className="chip">{d.provider}</span>
      </td>
      <td>
        {d.run_status === null ? (
          <span className="tag tag-bad tag-first" title="The run no longer exists: the leak guard destroys its machines">
            gone
          </span>
        ) : (
          <StatusBadge status={d.run_status} />
        )}
        {d.destroy_error ? (
          <div
            className="small error-text"
            title={`Failed ${plural(d.destroy_attempts ?? 1, 'time')}, last at ${formatDateTime(d.destroy_failed_at)}. The machines, their network block and leases stay; the leak guard tries again, waiting longer each time.`}
          >
            {d.destroy_error}
          </div>
        ) : (
          leak && (
            <div className="small error-text" title="The leak guard destroys these machines at its next pass; Destroy does it now">
              Leak: {leak}
            </div>
          )
        )}
      </td>
      <td title={formatDateTime(d.created_at)}>{formatAge(d.created_at, now)}</td>
      <td
        className={ttl.tone === 'expired' ? 'error-text strong' : ttl.tone === 'soon' ? 'warn' : undefined}
        title={
          d.expires_at === null
            ? 'No TTL known (the run is gone): the leak guard destroys the machines at its next pass'
            : `The leak guard cancels the run and destroys the machines at ${formatDateTime(d.expires_at)}, whatever the run does`
        }
      >
        {ttl.text}
      </td>
      <td className="mono small">{d.network ?? DASH}</td>
      <td className="small">
        {d.machines.map((m) => (
          <div key={m.name} className="machine-line">
            <span className="mono strong">{m.name}</span>
            <span className="mono">{m.address ?? DASH}</span>
            <span>{plural(m.cores, 'core')}</span>
            {m.cloud_id && (
              <span className="mono muted" title="The cloud's id of the VM">
                {m.cloud_id}
              </span>
            )}
            {!m.created && (
              <span className="tag" title="Only its quota share is reserved: the machine is not made yet">
                reserved
              </span>
            )}
          </div>
        ))}
      </td>
      <td className="num">
        <DestroyButton d={d} canAdmin={canAdmin} onOutcome={onOutcome} />
      </td>
    </tr>
  );
}

function DeploymentsPanel({
  deployments,
  leases,
  now,
  canAdmin,
  onOutcome,
}: {
  deployments: DeploymentView[];
  leases: Lease[];
  now: number;
  canAdmin: boolean;
  onOutcome: (o: Outcome) => void;
}) {
  const totals = deploymentTotals(deployments, now);
  return (
    <Panel
      title={`Deployments (${deployments.length})`}
      actions={
        deployments.length > 0 && (
          <>
            <span className="chip">machines: {totals.machines}</span>
            <span className="chip">cores: {totals.cores}</span>
            {totals.leaks > 0 && (
              <span className="tag tag-bad" title="Machines no running run uses: the leak guard destroys them">
                {totals.leaks} leaking
              </span>
            )}
          </>
        )
      }
    >
      {deployments.length === 0 ? (
        <Empty title="No deployments">
          No run holds machines; the {plural(leases.length, 'lease')} below {leases.length === 1 ? 'is' : 'are'} network
          blocks or quota shares.
        </Empty>
      ) : (
        <table className="table" aria-label="Deployments">
          <thead>
            <tr>
              <th>Run</th>
              <th>Suite</th>
              <th>Provider</th>
              <th>Run status</th>
              <th title="Since the run was created">Age</th>
              <th title="Until the leak guard destroys the machines, whatever the run does">TTL left</th>
              <th>Network</th>
              <th>Machines</th>
              <th aria-label="Actions" />
            </tr>
          </thead>
          <tbody>
            {deployments.map((d) => (
              <DeploymentRow key={`${d.provider}:${d.run_id}`} d={d} now={now} canAdmin={canAdmin} onOutcome={onOutcome} />
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}

function LeasesPanel({ leases }: { leases: Lease[] }) {
  const kinds = new Map<string, number>();
  for (const l of leases) kinds.set(l.kind, (kinds.get(l.kind) ?? 0) + 1);
  return (
    <Panel
      title={`Leases (${leases.length})`}
      actions={[...kinds].map(([k, n]) => (
        <span key={k} className="chip">
          {k}: {n}
        </span>
      ))}
    >
      {leases.length === 0 ? (
        <Empty title="No leases">No machines, networks or quota shares are held.</Empty>
      ) : (
        <table className="table" aria-label="Leases">
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
      )}
    </Panel>
  );
}

/** What is provisioned right now: after a suite, nothing of it should be left here. */
export function InfrastructurePage() {
  const q = useInfrastructure();
  const now = useNow();
  const canAdmin = useCanAdmin();
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const deployments = q.data?.deployments ?? [];
  const leases = q.data?.leases ?? [];

  return (
    <div className="page">
      <header className="page-head">
        <h1>Infrastructure</h1>
        <p className="muted">
          Machines, network blocks and quota shares held right now, each with the run that holds it. After a suite
          ends, nothing of it should be left: machines whose run is gone or has ended are a leak, and the leak guard
          destroys every deployment at its TTL whatever its run does. Destroy does it now.
        </p>
      </header>
      <ErrorBox error={q.error} />
      {outcome &&
        (outcome.ok ? (
          <div className="ok-box" role="status">
            {outcome.text}{' '}
            <button type="button" className="link-button" onClick={() => setOutcome(null)}>
              Dismiss
            </button>
          </div>
        ) : (
          <div className="error-box" role="alert">
            {outcome.text}{' '}
            <button type="button" className="link-button" onClick={() => setOutcome(null)}>
              Dismiss
            </button>
          </div>
        ))}
      {q.isPending ? (
        <Loading what="infrastructure" />
      ) : !q.data ? null : deployments.length === 0 && leases.length === 0 ? (
        <Empty title="Nothing is provisioned">No machines, networks or quota shares are held.</Empty>
      ) : (
        <>
          <DeploymentsPanel
            deployments={deployments}
            leases={leases}
            now={now}
            canAdmin={canAdmin}
            onOutcome={setOutcome}
          />
          <LeasesPanel leases={leases} />
        </>
      )}
    </div>
  );
}
