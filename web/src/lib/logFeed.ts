/**
 * Fills a LogBuffer for one run: the whole history page by page (REST, 10k lines a page),
 * then the new lines live (SSE `log` events from where the history ended; the stream says
 * `end` once the run has ended and every line was sent), with REST polling as the fallback
 * whenever the stream is unavailable (and, slowly, as a safety net while it works). The
 * buffer removes any overlap.
 */
import type { LogLine, LogPage } from '../api/types.ts';
import type { LogBuffer } from './logBuffer.ts';
import { openStream, type EventSourceFactory, type StreamOptions, type StreamState } from './sse.ts';

export type FeedState = 'loading' | 'live' | 'polling' | 'ended' | 'error';

export interface LogFeedDeps {
  fetchPage: (after: number, limit: number, signal: AbortSignal) => Promise<LogPage>;
  /** URL of the SSE stream starting after a line id, or null to poll only. */
  streamUrl: ((after: number) => string) | null;
  /** Is the run still going? When it has ended, one last page and the feed stops. */
  isLive: () => boolean;
  eventSourceFactory?: EventSourceFactory;
  pageSize?: number;
  /** Poll period without a stream, and with one (safety net). */
  pollMs?: number;
  slowPollMs?: number;
  /** Flush SSE lines into the buffer at most this often. */
  flushMs?: number;
  onState?: (state: FeedState, error?: unknown) => void;
}

export class LogFeed {
  private readonly buffer: LogBuffer;
  private readonly deps: LogFeedDeps;
  private readonly abort = new AbortController();
  private closeStream: (() => void) | null = null;
  private streamState: StreamState = 'unavailable';
  private pending: LogLine[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  /** REST cursor (`next_after` of the last page read). */
  private cursor = 0;
  private stopped = false;
  state: FeedState = 'loading';

  constructor(buffer: LogBuffer, deps: LogFeedDeps) {
    this.buffer = buffer;
    this.deps = deps;
  }

  private setState(s: FeedState, error?: unknown) {
    if (this.state === s && error === undefined) return;
    this.state = s;
    this.deps.onState?.(s, error);
  }

  start(): void {
    void this.catchUp(true);
  }

  /** Open the stream after the history has been read (so it does not resend it). */
  private openLiveStream(): void {
    if (this.closeStream || this.stopped || !this.deps.streamUrl) return;
    const makeUrl = this.deps.streamUrl;
    const opts: StreamOptions = {
      // On a reconnect EventSource sends Last-Event-ID, which the server prefers to `after`.
      url: () => makeUrl(Math.max(this.cursor, this.buffer.lastId)),
      events: ['log', 'end'],
      onState: (s) => {
        this.streamState = s;
        if (this.state !== 'loading' && this.state !== 'ended') this.setState(s === 'open' ? 'live' : 'polling');
      },
      onEvent: (name, data) => {
        if (name === 'end') {
          // Every line is out and the run has ended: no reconnecting.
          this.closeStream?.();
          this.closeStream = null;
          this.streamState = 'unavailable';
          this.flush();
          clearTimeout(this.pollTimer);
          void this.catchUp(false, true);
          return;
        }
        if (data && typeof data === 'object' && typeof (data as LogLine).id === 'number') {
          this.pending.push(data as LogLine);
          this.scheduleFlush();
        }
      },
    };
    if (this.deps.eventSourceFactory) opts.factory = this.deps.eventSourceFactory;
    this.closeStream = openStream(opts);
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
    this.closeStream?.();
    this.closeStream = null;
    clearTimeout(this.flushTimer);
    clearTimeout(this.pollTimer);
  }

  private scheduleFlush() {
    if (this.flushTimer !== undefined) return;
    this.flushTimer = setTimeout(() => this.flush(), this.deps.flushMs ?? 60);
  }

  /** Move SSE lines into the buffer (one version bump per batch). */
  flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (!this.pending.length) return;
    const batch = this.pending;
    this.pending = [];
    this.buffer.add(batch);
  }

  /**
   * Read pages from the cursor until a short page; then open the stream (first time) and
   * schedule the next poll. `final`: the run has ended, this read is the last.
   */
  private async catchUp(initial: boolean, final = false): Promise<void> {
    const limit = this.deps.pageSize ?? 10_000;
    const liveBefore = !final && this.deps.isLive();
    // Lines the stream delivered need not be read again (it sends them in id order).
    this.flush();
    if (this.buffer.lastId > this.cursor) this.cursor = this.buffer.lastId;
    try {
      for (;;) {
        if (this.stopped) return;
        const page = await this.deps.fetchPage(this.cursor, limit, this.abort.signal);
        if (this.stopped) return;
        this.buffer.add(page.lines);
        if (page.next_after > this.cursor) this.cursor = page.next_after;
        if (page.lines.length < limit) break;
      }
    } catch (err) {
      if (this.stopped) return;
      this.setState('error', err);
      this.pollTimer = setTimeout(() => void this.catchUp(false, final), (this.deps.pollMs ?? 1500) * 2);
      return;
    }
    if (!liveBefore) {
      // The run had ended before this read began: that read was the last.
      this.flush();
      this.closeStream?.();
      this.closeStream = null;
      this.setState('ended');
      return;
    }
    if (initial) this.openLiveStream();
    if (initial || this.state === 'error' || this.state === 'loading') {
      this.setState(this.streamState === 'open' ? 'live' : 'polling');
    }
    const period = this.streamState === 'open' ? (this.deps.slowPollMs ?? 5000) : (this.deps.pollMs ?? 1500);
    this.pollTimer = setTimeout(() => void this.catchUp(false), period);
  }
}
