/** Why a queued task waits (amber), louder when no live worker can take it (see lib/waiting.ts). */
import { Fragment } from 'react';
import { Link } from 'react-router';
import { isStuck, type StuckGroup, type Waiting } from '../lib/waiting.ts';

export function WaitingReason({ reason, block = false }: { reason: Waiting | null | undefined; block?: boolean }) {
  if (!reason) return null;
  const stuck = isStuck(reason);
  const Tag = block ? 'p' : 'span';
  return (
    <Tag className={`waiting-reason${stuck ? ' waiting-stuck' : ''}${block ? ' waiting-block' : ''}`} title={`waiting: ${reason.message}`}>
      {stuck && (
        <span className="waiting-icon" aria-hidden="true">
          ⚠{' '}
        </span>
      )}
      waiting: {reason.message}
    </Tag>
  );
}

/** The run's tasks that no live worker can take, by reason: they wait for a person to act. */
export function StuckBanner({ groups }: { groups: StuckGroup[] }) {
  if (!groups.length) return null;
  const count = groups.reduce((n, g) => n + g.tasks.length, 0);
  return (
    <div className="warn-box" role="status">
      <strong>
        {count === 1 ? '1 task cannot start' : `${count} tasks cannot start`}: no live worker can take{' '}
        {count === 1 ? 'it' : 'them'}.
      </strong>{' '}
      {count === 1 ? 'It waits' : 'They wait'} until a fitting worker connects (see <Link to="/agents">Agents</Link>).
      <ul>
        {groups.map((g) => (
          <li key={g.reason}>
            {g.reason}:{' '}
            {g.tasks.map((t, i) => (
              <Fragment key={`${t.runId}:${t.name}`}>
                {i > 0 && ', '}
                <code>{t.name}</code>
                {t.child && <span className="muted"> (child run {t.child})</span>}
              </Fragment>
            ))}
          </li>
        ))}
      </ul>
    </div>
  );
}
