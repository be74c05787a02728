/** Small shared pieces: status badge, error box, live clock, JSON view, empty state, trace link. */
import { useEffect, useState, type ReactNode } from 'react';
import { errorMessage } from '../api/problem.ts';
import { formatAgo, formatDateTime, webUrl } from '../lib/format.ts';
import { statusStyle } from '../lib/status.ts';

export function StatusBadge({ status, small = false }: { status: string | null | undefined; small?: boolean }) {
  const s = statusStyle(status);
  return (
    <span className={`badge tone-${s.tone}${small ? ' badge-small' : ''}`} title={status ?? ''}>
      <span className="dot" aria-hidden="true" />
      {s.label}
    </span>
  );
}

export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  return (
    <div className="error-box" role="alert">
      {title && <strong>{title}: </strong>}
      {errorMessage(error)}
    </div>
  );
}

/** Milliseconds now, refreshed every `everyMs` (for ages and running durations). */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

export function Ago({ at }: { at: number | null | undefined }) {
  const now = useNow();
  return <time title={formatDateTime(at)}>{formatAgo(at, now)}</time>;
}

export function JsonView({ value, maxHeight = 360 }: { value: unknown; maxHeight?: number }) {
  if (value === undefined || value === null) return <p className="muted">None.</p>;
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  return (
    <pre className="json" style={{ maxHeight }}>
      {text}
    </pre>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty-state">
      <p className="empty-title">{title}</p>
      {children && <div className="empty-body">{children}</div>}
    </div>
  );
}

export function Panel({
  title,
  actions,
  children,
  className,
}: {
  title?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
}) {
  return (
    <section className={`panel${className ? ` ${className}` : ''}`}>
      {(title || actions) && (
        <div className="panel-head">
          {title && <h2>{title}</h2>}
          {actions && <div className="panel-meta">{actions}</div>}
        </div>
      )}
      {children}
    </section>
  );
}

export function Loading({ what }: { what: string }) {
  return <p className="muted loading">Loading {what}…</p>;
}

/** Segmented progress: done / total. */
export function ProgressBar({ done, total, tone = 'running' }: { done: number; total: number; tone?: string }) {
  const pct = total > 0 ? Math.min(100, (done / total) * 100) : 0;
  return (
    <span className="progress" title={`${done} / ${total}`}>
      <span className={`progress-fill tone-bg-${tone}`} style={{ width: `${pct}%` }} />
    </span>
  );
}

/** A `Trace` fact linking to the trace UI, when the server gives a (web) address. */
export function TraceFact({ url }: { url: string | undefined }) {
  const href = webUrl(url);
  if (!href) return null;
  return (
    <div>
      <dt>Trace</dt>
      <dd>
        <a href={href} target="_blank" rel="noopener noreferrer">
          open trace ↗
        </a>
      </dd>
    </div>
  );
}
