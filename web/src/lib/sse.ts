/**
 * Server-sent events with a way out: EventSource reconnects by itself after a dropped
 * connection (sending Last-Event-ID), but when the endpoint answers with something that is
 * not an event stream (404 on a server that has no such endpoint yet, 401) it gives up
 * (readyState CLOSED). Then the caller falls back to polling, and we try the stream again
 * after `retryMs` in case the server gained it.
 */

export type StreamState = 'connecting' | 'open' | 'unavailable';

/** The subset of EventSource used here (injectable in tests). */
export interface EventSourceLike {
  readyState: number;
  onopen: ((ev: Event) => unknown) | null;
  onerror: ((ev: Event) => unknown) | null;
  addEventListener(type: string, listener: (ev: MessageEvent) => void): void;
  close(): void;
}

export type EventSourceFactory = (url: string) => EventSourceLike;

export const CLOSED = 2;

export interface StreamOptions {
  url: () => string;
  /** Event names to listen for (named events, `event: log`). */
  events: string[];
  onEvent: (name: string, data: unknown, lastEventId: string) => void;
  onState?: (state: StreamState) => void;
  factory?: EventSourceFactory;
  /** Try again this long after the stream turned out unavailable. */
  retryMs?: number;
}

function defaultFactory(): EventSourceFactory | null {
  if (typeof globalThis.EventSource !== 'function') return null;
  return (url) => new globalThis.EventSource(url) as unknown as EventSourceLike;
}

/** Open the stream; returns a function that closes it for good. */
export function openStream(opts: StreamOptions): () => void {
  const factory = opts.factory ?? defaultFactory();
  const retryMs = opts.retryMs ?? 30_000;
  let closed = false;
  let source: EventSourceLike | null = null;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let state: StreamState | null = null;
  const setState = (s: StreamState) => {
    if (s !== state) {
      state = s;
      opts.onState?.(s);
    }
  };

  const connect = () => {
    if (closed) return;
    if (!factory) {
      setState('unavailable');
      return;
    }
    setState('connecting');
    let es: EventSourceLike;
    try {
      es = factory(opts.url());
    } catch {
      setState('unavailable');
      return;
    }
    source = es;
    es.onopen = () => setState('open');
    es.onerror = () => {
      if (closed) return;
      if (es.readyState === CLOSED) {
        es.close();
        source = null;
        setState('unavailable');
        retry = setTimeout(connect, retryMs);
      } else {
        setState('connecting'); // EventSource retries by itself
      }
    };
    for (const name of opts.events) {
      es.addEventListener(name, (ev: MessageEvent) => {
        setState('open');
        // JSON when it is JSON; otherwise the raw text (`end` and `resync` carry none).
        const raw = String(ev.data ?? '');
        let data: unknown = raw;
        try {
          if (raw) data = JSON.parse(raw);
        } catch {
          data = raw;
        }
        opts.onEvent(name, data, ev.lastEventId);
      });
    }
  };

  connect();
  return () => {
    closed = true;
    clearTimeout(retry);
    source?.close();
    source = null;
  };
}
