/**
 * A run's log: virtualized (only the visible rows exist in the DOM, so 100k lines scroll
 * smoothly), follow mode (sticks to the bottom until you scroll up), search with
 * highlighting, and a per-task filter.
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useDeferredValue, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { filterLines, highlightParts, type BufferedLine, type LogBuffer } from '../lib/logBuffer.ts';
import type { FeedState } from '../lib/logFeed.ts';
import { formatClock, formatNumber } from '../lib/format.ts';

const ROW_H = 19;

export interface LogViewProps {
  buffer: LogBuffer;
  feedState: FeedState;
  feedError?: unknown;
  /** Task filter (task id) and its setter; the options come from the tasks that logged. */
  taskId: string | null;
  onTaskChange: (taskId: string | null) => void;
  /** Names of the run's tasks by id, for the filter's options (tasks without lines too). */
  taskNames?: { id: string; name: string }[];
  height?: number;
}

const Row = memo(function Row({ l, query, showTask }: { l: BufferedLine; query: string; showTask: boolean }) {
  return (
    <>
      <span className="log-time">{formatClock(l.at)}</span>
      {showTask && (
        <span className="log-task" title={`${l.taskName} (attempt ${l.attempt})`}>
          {l.taskName}
        </span>
      )}
      <span className="log-text">
        {highlightParts(l.line, query).map((p, i) => (p.hit ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))}
      </span>
    </>
  );
});

const FEED_LABEL: Record<FeedState, string> = {
  loading: 'loading…',
  live: 'live',
  polling: 'polling',
  ended: 'complete',
  error: 'error, retrying',
};

export function LogView({ buffer, feedState, feedError, taskId, onTaskChange, taskNames, height = 460 }: LogViewProps) {
  const version = useSyncExternalStore(buffer.subscribe, buffer.getVersion);
  const [query, setQuery] = useState('');
  const deferredQuery = useDeferredValue(query);
  const [follow, setFollow] = useState(true);
  const scroller = useRef<HTMLDivElement>(null);

  const lines = buffer.all();
  const filtered = useMemo(
    () => filterLines(lines, { taskId, query: deferredQuery }),
    // `lines` is the same (mutable) array; `version` says it changed.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [version, taskId, deferredQuery, lines],
  );
  const count = filtered ? filtered.length : lines.length;

  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_H,
    overscan: 30,
  });

  useEffect(() => {
    if (follow && count > 0) virtualizer.scrollToIndex(count - 1, { align: 'end' });
  }, [follow, count, virtualizer]);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW_H * 1.5;
    if (atBottom !== follow) setFollow(atBottom);
  };

  const options = useMemo(() => {
    const seen = new Map<string, string>();
    for (const t of taskNames ?? []) seen.set(t.id, t.name);
    for (const t of buffer.tasks()) if (!seen.has(t.id)) seen.set(t.id, t.name);
    return [...seen];
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [taskNames, version, buffer]);

  return (
    <div className="logview">
      <div className="log-toolbar">
        <select aria-label="Task" value={taskId ?? ''} onChange={(e) => onTaskChange(e.target.value || null)}>
          <option value="">All tasks</option>
          {options.map(([id, name]) => (
            <option key={id} value={id}>
              {name}
            </option>
          ))}
        </select>
        <input
          type="search"
          aria-label="Search the log"
          placeholder="Search (text, or /regex/)"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
        <span className="small muted log-count">
          {filtered ? `${formatNumber(count, 0)} of ${formatNumber(lines.length, 0)} lines` : `${formatNumber(lines.length, 0)} lines`}
          {buffer.dropped > 0 && ` (${formatNumber(buffer.dropped, 0)} oldest dropped)`}
        </span>
        <span className={`feed feed-${feedState}`} title={feedError ? String(feedError) : undefined}>
          {FEED_LABEL[feedState]}
        </span>
        <button
          type="button"
          className={`button button-small${follow ? ' active' : ''}`}
          aria-pressed={follow}
          onClick={() => setFollow((f) => !f)}
        >
          {follow ? 'Following' : 'Follow'}
        </button>
      </div>
      <div className="log-scroller" ref={scroller} onScroll={onScroll} style={{ height }} tabIndex={0} aria-label="Log lines">
        {count === 0 ? (
          <p className="muted log-empty">
            {feedState === 'loading' ? 'Loading the log…' : lines.length ? 'No line matches.' : 'No log lines yet.'}
          </p>
        ) : (
          <div className="log-inner" style={{ height: virtualizer.getTotalSize() }}>
            {virtualizer.getVirtualItems().map((item) => {
              const l = lines[filtered ? filtered[item.index]! : item.index]!;
              return (
                <div key={l.id} className="log-row" style={{ transform: `translateY(${item.start}px)`, height: ROW_H }}>
                  <Row l={l} query={deferredQuery} showTask={!taskId} />
                </div>
              );
            })}
          </div>
        )}
      </div>
    </div>
  );
}
