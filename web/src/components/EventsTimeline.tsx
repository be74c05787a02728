/** A run's (or one task's) events, oldest first, with the time since the previous one. */
import type { TaskEvent } from '../api/types.ts';
import { formatClock, formatDuration } from '../lib/format.ts';
import { statusStyle } from '../lib/status.ts';

export function EventsTimeline({
  events,
  taskId,
  onSelectTask,
}: {
  events: TaskEvent[];
  taskId: string | null;
  onSelectTask?: (name: string) => void;
}) {
  const shown = taskId ? events.filter((e) => e.task_id === taskId) : events;
  if (!shown.length) return <p className="muted">No events{taskId ? ' for this task' : ''} yet.</p>;
  return (
    <ol className="timeline">
      {shown.map((e, i) => {
        const s = statusStyle(e.kind);
        const prev = shown[i - 1];
        return (
          <li key={e.id} className={`tl-item tone-${s.tone}`}>
            <span className="tl-dot" aria-hidden="true" />
            <span className="tl-time mono small" title={new Date(e.at).toISOString()}>
              {formatClock(e.at)}
              {prev && <span className="muted"> +{formatDuration(e.at - prev.at)}</span>}
            </span>
            <span className={`tl-kind tone-text-${s.tone}`}>{e.kind}</span>
            {!taskId && e.task_name && (
              <button type="button" className="link-button tl-task" onClick={() => onSelectTask?.(e.task_name!)}>
                {e.task_name}
              </button>
            )}
            {e.attempt !== null && e.attempt > 1 && <span className="tag">attempt {e.attempt}</span>}
            {e.message && <span className="tl-msg">{e.message}</span>}
            {e.data !== null && e.data !== undefined && (
              <details className="tl-data">
                <summary>data</summary>
                <pre className="json">{JSON.stringify(e.data, null, 2)}</pre>
              </details>
            )}
          </li>
        );
      })}
    </ol>
  );
}
