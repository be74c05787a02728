import { describe, expect, it } from 'vitest';
import { checkServer, interpretReadyz, type FetchFn } from './health.ts';

const FIXED = new Date('2025-01-02T03:04:05Z');
const now = () => FIXED;

const READY_BODY = {
  status: 'ready',
  store: 'sqlite',
  bus: 'in-process',
  installation_id: '0b6c1f0e-3f0a-4c1e-9a51-7d3c2b1a0e9f',
  version: '0.1.0',
};

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  });
}

type Route = (url: string) => Response | Promise<Response>;

/** A fake fetch that answers by path and records the URLs it was asked for. */
function fakeFetch(routes: Record<string, Route>): FetchFn & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (input: string): Promise<Response> => {
    calls.push(input);
    const path = new URL(input, 'http://dashboard.test').pathname;
    const route = routes[path];
    if (!route) return new Response('not found', { status: 404 });
    return route(input);
  };
  return Object.assign(fn, { calls });
}

describe('checkServer', () => {
  it('reports ready with store, bus, version and installation id', async () => {
    const fetchFn = fakeFetch({
      '/healthz': () => json(200, { status: 'ok' }),
      '/readyz': () => json(200, { ...READY_BODY, store: 'postgres', bus: 'valkey' }),
    });

    const result = await checkServer(fetchFn, { now });

    expect(result).toEqual({
      state: 'ready',
      status: 'ready',
      store: 'postgres',
      bus: 'valkey',
      version: '0.1.0',
      installationId: READY_BODY.installation_id,
      checkedAt: FIXED,
    });
    expect(fetchFn.calls.sort()).toEqual(['/healthz', '/readyz']);
  });

  it('reports not-ready with the server error on HTTP 503', async () => {
    const fetchFn = fakeFetch({
      '/healthz': () => json(200, { status: 'ok' }),
      '/readyz': () => json(503, { status: 'not ready', error: 'store: connection refused' }),
    });

    const result = await checkServer(fetchFn, { now });

    expect(result).toEqual({
      state: 'not-ready',
      status: 'not ready',
      httpStatus: 503,
      error: 'store: connection refused',
      checkedAt: FIXED,
    });
  });

  it('reports unreachable when fetch rejects (network error)', async () => {
    const fetchFn: FetchFn = () => Promise.reject(new TypeError('Failed to fetch'));

    const result = await checkServer(fetchFn, { now });

    expect(result.state).toBe('unreachable');
    expect(result.checkedAt).toBe(FIXED);
    if (result.state === 'unreachable') {
      expect(result.error).toContain('Failed to fetch');
      expect(result.error).toMatch(/\/(healthz|readyz)/);
    }
  });

  it('includes the cause of a Node-style "fetch failed" error', async () => {
    const err = new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:8080') });
    const result = await checkServer(() => Promise.reject(err), { now });

    expect(result.state).toBe('unreachable');
    if (result.state === 'unreachable') {
      expect(result.error).toContain('ECONNREFUSED');
    }
  });

  it('reports unreachable when the dev proxy answers 5xx for /healthz', async () => {
    const fetchFn = fakeFetch({
      '/healthz': () => new Response('', { status: 500 }),
      '/readyz': () => new Response('', { status: 500 }),
    });

    const result = await checkServer(fetchFn, { now });

    expect(result).toEqual({
      state: 'unreachable',
      error: '/healthz returned HTTP 500',
      checkedAt: FIXED,
    });
  });

  it('reports unreachable when a probe times out', async () => {
    const hang: FetchFn = (_url, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () =>
          reject(new DOMException('The operation was aborted.', 'AbortError')),
        );
      });

    const result = await checkServer(hang, { now, timeoutMs: 20 });

    expect(result.state).toBe('unreachable');
    if (result.state === 'unreachable') {
      expect(result.error).toMatch(/timed out after 20 ms/);
    }
  });

  it('prefixes probe URLs with baseUrl', async () => {
    const fetchFn = fakeFetch({
      '/healthz': () => json(200, { status: 'ok' }),
      '/readyz': () => json(200, READY_BODY),
    });

    await checkServer(fetchFn, { now, baseUrl: 'http://127.0.0.1:8080' });

    expect(fetchFn.calls.sort()).toEqual([
      'http://127.0.0.1:8080/healthz',
      'http://127.0.0.1:8080/readyz',
    ]);
  });
});

describe('interpretReadyz', () => {
  it('flags a 200 "ready" body that lacks fields as not-ready', () => {
    const result = interpretReadyz(200, { status: 'ready', store: 'sqlite' }, FIXED);

    expect(result.state).toBe('not-ready');
    if (result.state === 'not-ready') {
      expect(result.error).toBe('malformed /readyz response: missing bus, version, installation_id');
    }
  });

  it('describes a non-JSON error response', () => {
    const result = interpretReadyz(502, undefined, FIXED);

    expect(result).toEqual({
      state: 'not-ready',
      status: 'not ready',
      httpStatus: 502,
      error: '/readyz returned HTTP 502 without a JSON body',
      checkedAt: FIXED,
    });
  });

  it('reads a degraded server (no bus) as ready, with the bus error', () => {
    const body = { ...READY_BODY, status: 'degraded', bus_error: 'bus: reconnecting' };
    const result = interpretReadyz(200, body, FIXED);

    expect(result.state).toBe('ready');
    if (result.state === 'ready') {
      expect(result.status).toBe('degraded');
      expect(result.busError).toBe('bus: reconnecting');
    }
    const ready = interpretReadyz(200, READY_BODY, FIXED);
    expect(ready.state).toBe('ready');
    if (ready.state === 'ready') expect(ready.busError).toBeUndefined();
  });

  it('keeps an unknown store or bus kind from a newer server', () => {
    const result = interpretReadyz(200, { ...READY_BODY, store: 'cockroach' }, FIXED);

    expect(result.state).toBe('ready');
    if (result.state === 'ready') expect(result.store).toBe('cockroach');
  });
});
