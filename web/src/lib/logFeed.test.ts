import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LogLine, LogPage } from '../api/types.ts';
import { LogBuffer } from './logBuffer.ts';
import { LogFeed, type FeedState } from './logFeed.ts';
import { CLOSED, type EventSourceLike } from './sse.ts';

function line(id: number): LogLine {
  return { id, run_id: 'r', task_id: 't', task_name: 'task', attempt: 1, seq: id, at: id, line: `line ${id}` };
}

/** A fake server log: pages of `limit` after `after`. */
function fakeLog(total: number) {
  const lines = Array.from({ length: total }, (_, i) => line(i + 1));
  const calls: number[] = [];
  return {
    lines,
    calls,
    fetchPage: async (after: number, limit: number): Promise<LogPage> => {
      calls.push(after);
      const page = lines.filter((l) => l.id > after).slice(0, limit);
      return { lines: page, next_after: page.length ? page[page.length - 1]!.id : after };
    },
  };
}

class FakeEventSource implements EventSourceLike {
  static last: FakeEventSource | null = null;
  readyState = 0;
  onopen: ((ev: Event) => unknown) | null = null;
  onerror: ((ev: Event) => unknown) | null = null;
  listeners = new Map<string, ((ev: MessageEvent) => void)[]>();
  closed = false;
  constructor(public url: string) {
    FakeEventSource.last = this;
  }
  addEventListener(type: string, l: (ev: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), l]);
  }
  close() {
    this.closed = true;
    this.readyState = CLOSED;
  }
  open() {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  emit(type: string, data: unknown, id = '') {
    const text = typeof data === 'string' ? data : JSON.stringify(data);
    for (const l of this.listeners.get(type) ?? []) l(new MessageEvent(type, { data: text, lastEventId: id }));
  }
  fail() {
    this.readyState = CLOSED;
    this.onerror?.(new Event('error'));
  }
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeEventSource.last = null;
});
afterEach(() => vi.useRealTimers());

describe('LogFeed', () => {
  it('reads the whole history page by page, then stops when the run has ended', async () => {
    const log = fakeLog(12);
    const buffer = new LogBuffer();
    const states: FeedState[] = [];
    const feed = new LogFeed(buffer, {
      fetchPage: log.fetchPage,
      streamUrl: () => 'http://x/stream',
      isLive: () => false,
      pageSize: 5,
      eventSourceFactory: (url) => new FakeEventSource(url),
      onState: (s) => states.push(s),
    });
    feed.start();
    await vi.runAllTimersAsync();
    expect(buffer.length).toBe(12);
    expect(log.calls).toEqual([0, 5, 10]);
    expect(states.at(-1)).toBe('ended');
    expect(FakeEventSource.last).toBeNull(); // no stream for an ended run
    feed.stop();
  });

  it('opens the stream where the history ends, and merges without duplicates', async () => {
    const log = fakeLog(6);
    const buffer = new LogBuffer();
    let live = true;
    const feed = new LogFeed(buffer, {
      fetchPage: log.fetchPage,
      streamUrl: (after) => `http://x/stream?after=${after}`,
      isLive: () => live,
      pageSize: 100,
      flushMs: 10,
      eventSourceFactory: (url) => new FakeEventSource(url),
    });
    feed.start();
    await vi.advanceTimersByTimeAsync(0);
    const es = FakeEventSource.last!;
    expect(es.url).toBe('http://x/stream?after=6');
    es.open();
    es.emit('log', line(5), '5'); // overlaps the history
    es.emit('log', line(7), '7'); // new
    await vi.advanceTimersByTimeAsync(20);
    expect(buffer.all().map((l) => l.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(feed.state).toBe('live');
    live = false;
    feed.stop();
    expect(es.closed).toBe(true);
  });

  it("stops at the stream's end event, after a last read", async () => {
    const log = fakeLog(3);
    const buffer = new LogBuffer();
    const feed = new LogFeed(buffer, {
      fetchPage: log.fetchPage,
      streamUrl: (after) => `s?after=${after}`,
      isLive: () => true,
      flushMs: 10,
      slowPollMs: 60_000,
      eventSourceFactory: (url) => new FakeEventSource(url),
    });
    feed.start();
    await vi.advanceTimersByTimeAsync(0);
    const es = FakeEventSource.last!;
    es.open();
    log.lines.push(line(4)); // written, but the stream's event for it is lost
    es.emit('end', '');
    await vi.advanceTimersByTimeAsync(0);
    expect(es.closed).toBe(true);
    expect(feed.state).toBe('ended');
    expect(buffer.all().map((l) => l.id)).toEqual([1, 2, 3, 4]);
    feed.stop();
  });

  it('falls back to polling when the stream endpoint is missing', async () => {
    const log = fakeLog(3);
    const buffer = new LogBuffer();
    const feed = new LogFeed(buffer, {
      fetchPage: log.fetchPage,
      streamUrl: () => 'http://x/stream',
      isLive: () => true,
      pollMs: 1000,
      eventSourceFactory: (url) => new FakeEventSource(url),
    });
    feed.start();
    await vi.advanceTimersByTimeAsync(0);
    FakeEventSource.last!.fail(); // 404: EventSource gives up
    await vi.advanceTimersByTimeAsync(0);
    expect(feed.state).toBe('polling');
    log.lines.push(line(4), line(5));
    await vi.advanceTimersByTimeAsync(1000);
    expect(buffer.all().map((l) => l.id)).toEqual([1, 2, 3, 4, 5]);
    expect(log.calls.at(-1)).toBe(3); // polls from the cursor, not from 0
    feed.stop();
  });

  it('reports an error and retries', async () => {
    const buffer = new LogBuffer();
    let fail = true;
    const log = fakeLog(2);
    const states: FeedState[] = [];
    const feed = new LogFeed(buffer, {
      fetchPage: (a, l) => (fail ? Promise.reject(new Error('boom')) : log.fetchPage(a, l)),
      streamUrl: null,
      isLive: () => true,
      pollMs: 100,
      onState: (s) => states.push(s),
    });
    feed.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(feed.state).toBe('error');
    fail = false;
    await vi.advanceTimersByTimeAsync(250);
    expect(buffer.length).toBe(2);
    expect(feed.state).toBe('polling');
    feed.stop();
  });
});
