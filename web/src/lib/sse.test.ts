import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CLOSED, openStream, type EventSourceLike, type StreamState } from './sse.ts';

class FakeES implements EventSourceLike {
  static all: FakeES[] = [];
  readyState = 0;
  onopen: ((ev: Event) => unknown) | null = null;
  onerror: ((ev: Event) => unknown) | null = null;
  listeners = new Map<string, (ev: MessageEvent) => void>();
  closed = false;
  constructor(public url: string) {
    FakeES.all.push(this);
  }
  addEventListener(type: string, l: (ev: MessageEvent) => void) {
    this.listeners.set(type, l);
  }
  close() {
    this.closed = true;
  }
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeES.all = [];
});
afterEach(() => vi.useRealTimers());

describe('openStream', () => {
  it('passes parsed named events on, and reports open', () => {
    const events: unknown[] = [];
    const states: StreamState[] = [];
    const close = openStream({
      url: () => '/api/v1/stream?access_token=t',
      events: ['status'],
      onEvent: (name, data, id) => events.push([name, data, id]),
      onState: (s) => states.push(s),
      factory: (u) => new FakeES(u),
    });
    const es = FakeES.all[0]!;
    expect(es.url).toBe('/api/v1/stream?access_token=t');
    es.onopen?.(new Event('open'));
    es.listeners.get('status')!(new MessageEvent('status', { data: '{"run_id":"r"}', lastEventId: '7' }));
    es.listeners.get('status')!(new MessageEvent('status', { data: '' }));
    expect(events).toEqual([
      ['status', { run_id: 'r' }, '7'],
      ['status', '', ''],
    ]);
    expect(states).toEqual(['connecting', 'open']);
    close();
    expect(es.closed).toBe(true);
  });

  it('lets EventSource reconnect by itself after a dropped connection', () => {
    const states: StreamState[] = [];
    openStream({ url: () => 'u', events: [], onEvent: () => {}, onState: (s) => states.push(s), factory: (u) => new FakeES(u) });
    const es = FakeES.all[0]!;
    es.onopen?.(new Event('open'));
    es.readyState = 0; // CONNECTING: the browser retries
    es.onerror?.(new Event('error'));
    expect(states.at(-1)).toBe('connecting');
    expect(FakeES.all).toHaveLength(1);
  });

  it('reports unavailable when the endpoint is missing, and tries again later', () => {
    const states: StreamState[] = [];
    const close = openStream({
      url: () => 'u',
      events: [],
      onEvent: () => {},
      onState: (s) => states.push(s),
      factory: (u) => new FakeES(u),
      retryMs: 1000,
    });
    const es = FakeES.all[0]!;
    es.readyState = CLOSED; // 404: not an event stream
    es.onerror?.(new Event('error'));
    expect(states.at(-1)).toBe('unavailable');
    expect(es.closed).toBe(true);
    vi.advanceTimersByTime(1000);
    expect(FakeES.all).toHaveLength(2);
    close();
    vi.advanceTimersByTime(5000);
    expect(FakeES.all).toHaveLength(2);
  });

  it('is unavailable where there is no EventSource', () => {
    const states: StreamState[] = [];
    const original = globalThis.EventSource;
    // @ts-expect-error -- simulate an environment without EventSource
    delete globalThis.EventSource;
    try {
      openStream({ url: () => 'u', events: [], onEvent: () => {}, onState: (s) => states.push(s) });
    } finally {
      if (original) globalThis.EventSource = original;
    }
    expect(states).toEqual(['unavailable']);
  });
});
