import type { ServerStatus } from '../api/health.ts';
import { REFRESH_INTERVAL_MS, useServerStatus } from '../useServerStatus.ts';

const STATE_LABEL: Record<ServerStatus['state'], string> = {
  ready: 'Ready',
  'not-ready': 'Not ready',
  unreachable: 'Unreachable',
};

function formatTime(date: Date): string {
  return date.toLocaleTimeString(undefined, { hour12: false });
}

interface FieldProps {
  label: string;
  value: string;
  mono?: boolean;
  /** Take a full row (for long values such as the installation id). */
  wide?: boolean;
}

function Field({ label, value, mono = false, wide = false }: FieldProps) {
  return (
    <div className={wide ? 'field field-wide' : 'field'}>
      <dt>{label}</dt>
      <dd className={mono ? 'mono' : undefined}>{value}</dd>
    </div>
  );
}

export function ServerPanel() {
  const { status, checking, refresh } = useServerStatus();
  const ready = status?.state === 'ready' ? status : undefined;
  const dash = '—';

  return (
    <section className="panel" aria-labelledby="server-heading">
      <div className="panel-head">
        <h2 id="server-heading">Server</h2>
        <div className="panel-meta">
          <span>
            {status
              ? `Checked ${formatTime(status.checkedAt)} · every ${REFRESH_INTERVAL_MS / 1000}s`
              : 'Checking…'}
          </span>
          <button type="button" className="button" onClick={refresh} disabled={checking}>
            {checking ? 'Checking…' : 'Refresh'}
          </button>
        </div>
      </div>

      <div className="status-line" role="status" aria-live="polite">
        <span className={`badge badge-${status?.state ?? 'pending'}`}>
          <span className="dot" aria-hidden="true" />
          {status ? STATE_LABEL[status.state] : 'Checking'}
        </span>
      </div>

      {status?.state === 'unreachable' && (
        <p className="error-line" role="alert">
          Cannot reach the Ratchet server: {status.error}
        </p>
      )}
      {ready?.busError && (
        <p className="error-line" role="alert">
          Serving without its bus (live updates from other replicas are slower): {ready.busError}
        </p>
      )}
      {status?.state === 'not-ready' && (
        <p className="error-line" role="alert">
          Server is up but not ready (HTTP {status.httpStatus}): {status.error}
        </p>
      )}

      <dl className="fields">
        <Field label="Status" value={status && status.state !== 'unreachable' ? status.status : dash} />
        <Field label="Store" value={ready?.store ?? dash} />
        <Field label="Bus" value={ready?.bus ?? dash} />
        <Field label="Version" value={ready?.version ?? dash} mono={ready !== undefined} />
        <Field label="Installation ID" value={ready?.installationId ?? dash} mono={ready !== undefined} wide />
      </dl>
    </section>
  );
}
