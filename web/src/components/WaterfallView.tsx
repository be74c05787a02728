/** Task timings as a waterfall: waiting (light) then running (solid), on the run's time axis. */
import { Link } from 'react-router';
import { formatDuration } from '../lib/format.ts';
import { statusStyle } from '../lib/status.ts';
import { isStuck } from '../lib/waiting.ts';
import { axisTicks, type Waterfall } from '../lib/waterfall.ts';

export interface WaterfallViewProps {
  waterfall: Waterfall;
  selectedTaskId?: string | null;
  onSelect?: (taskId: string, runId: string, name: string) => void;
}

export function WaterfallView({ waterfall, selectedTaskId, onSelect }: WaterfallViewProps) {
  const { span, rows } = waterfall;
  const pct = (v: number) => `${Math.max(0, Math.min(100, (v / span) * 100))}%`;
  const ticks = axisTicks(span);
  return (
    <div className="waterfall" role="table" aria-label="Task timings">
      <div className="wf-row wf-axis" role="row">
        <span className="wf-name" role="columnheader">
          Task
        </span>
        <span className="wf-track" role="columnheader">
          {ticks.map((t) => (
            <span key={t} className="wf-tick" style={{ left: pct(t) }}>
              {formatDuration(t)}
            </span>
          ))}
        </span>
        <span className="wf-dur" role="columnheader">
          Wait / run
        </span>
      </div>
      {rows.map((r) => {
        const s = statusStyle(r.status);
        const selected = r.taskId !== '' && r.taskId === selectedTaskId;
        const waitStart = r.queued;
        const runStart = r.started;
        const runEnd = r.started !== null && r.runMs !== null ? r.started + r.runMs : null;
        // A task still queued waits until now: draw that wait too, with the server's reason.
        const queuedNow = r.status === 'QUEUED' && runStart === null && waitStart !== null && r.waitMs !== null;
        return (
          <div
            key={r.key}
            role="row"
            className={`wf-row depth-${r.depth}${r.header ? ' wf-header' : ''}${selected ? ' selected' : ''}${isStuck(r.waiting) ? ' wf-stuck' : ''}`}
            onClick={() => !r.header && onSelect?.(r.taskId, r.runId, r.name)}
          >
            <span className="wf-name" role="cell" title={r.name}>
              <span className={`dot tone-dot-${s.tone}`} aria-hidden="true" />
              {r.header ? <Link to={`/runs/${r.runId}`}>{r.name}</Link> : r.name}
            </span>
            <span className="wf-track" role="cell">
              {ticks.map((t) => (
                <span key={t} className="wf-grid" style={{ left: pct(t) }} />
              ))}
              {waitStart !== null && (runStart ?? runEnd) !== null && (runStart ?? 0) > waitStart && (
                <span
                  className={`wf-bar wf-wait tone-bg-${s.tone}`}
                  style={{ left: pct(waitStart), width: pct((runStart ?? waitStart) - waitStart) }}
                  title={`waiting ${formatDuration(r.waitMs)}`}
                />
              )}
              {queuedNow && r.waitMs! > 0 && (
                <span
                  className={`wf-bar wf-wait tone-bg-${s.tone}`}
                  style={{ left: pct(waitStart), width: pct(r.waitMs!) }}
                  title={`waiting ${formatDuration(r.waitMs)}`}
                />
              )}
              {r.waiting && (
                <span
                  className={`wf-waiting${isStuck(r.waiting) ? ' waiting-stuck' : ''}`}
                  style={{ left: `min(${pct(waitStart ?? 0)}, 45%)` }}
                  title={`waiting: ${r.waiting.message}`}
                >
                  {isStuck(r.waiting) ? '⚠ ' : ''}waiting: {r.waiting.message}
                </span>
              )}
              {runStart !== null && runEnd !== null && (
                <span
                  className={`wf-bar wf-run tone-bg-${s.tone}${s.tone === 'running' ? ' pulse' : ''}`}
                  style={{ left: pct(runStart), width: `max(2px, ${pct(runEnd - runStart)})` }}
                  title={`running ${formatDuration(r.runMs)}`}
                />
              )}
              {r.status === 'SKIPPED' && r.finished !== null && (
                <span className="wf-skip" style={{ left: pct(r.finished) }} title="skipped" />
              )}
            </span>
            <span className="wf-dur small" role="cell">
              {r.header ? formatDuration(r.runMs) : r.runMs !== null ? `${formatDuration(r.waitMs)} / ${formatDuration(r.runMs)}` : s.label}
            </span>
          </div>
        );
      })}
    </div>
  );
}
