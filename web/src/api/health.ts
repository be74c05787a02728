/**
 * Server health for the dashboard's "Server" panel.
 *
 * The Ratchet server exposes two probes:
 *   GET /healthz -> 200 {"status":"ok"}                     (process is up)
 *   GET /readyz  -> 200 {"status":"ready","store":...,"bus":...,
 *                        "installation_id":...,"version":...}
 *                or 200 {"status":"degraded",...,"bus_error":"..."} (serving
 *                        without its Valkey bus, from the database)
 *                or 503 {"status":"not ready","error":"..."}
 *
 * `checkServer` calls both through an injected fetch function and turns the
 * outcome into a `ServerStatus` view model, so the logic is testable without
 * a server or a DOM.
 */

/** The subset of `fetch` this module needs; inject a fake one in tests. */
export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

export type StoreKind = 'sqlite' | 'postgres';
export type BusKind = 'in-process' | 'valkey';

export interface ReadyStatus {
  state: 'ready';
  /** `status` field of /readyz: "ready", or "degraded" when the bus does not answer. */
  status: string;
  /** Why the bus does not answer (a degraded server still serves). */
  busError?: string;
  /** Known kinds are typed; an unknown value from a newer server is kept as-is. */
  store: StoreKind | (string & {});
  bus: BusKind | (string & {});
  version: string;
  installationId: string;
  checkedAt: Date;
}

export interface NotReadyStatus {
  state: 'not-ready';
  /** `status` field of /readyz, normally "not ready". */
  status: string;
  /** HTTP status of /readyz (503 when the server reports itself not ready). */
  httpStatus: number;
  error: string;
  checkedAt: Date;
}

export interface UnreachableStatus {
  state: 'unreachable';
  error: string;
  checkedAt: Date;
}

export type ServerStatus = ReadyStatus | NotReadyStatus | UnreachableStatus;

export interface CheckOptions {
  /** Prefix for the probe URLs; '' means same origin as the page. */
  baseUrl?: string;
  /** Abort a probe that takes longer than this. Default 4000 ms. */
  timeoutMs?: number;
  /** Clock, injectable for tests. */
  now?: () => Date;
}

export const DEFAULT_TIMEOUT_MS = 4000;

class ProbeError extends Error {}

function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    // fetch() rejects with a bare "TypeError: Failed to fetch" in browsers and
    // "fetch failed" (with a cause) in Node; include the cause when there is one.
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error && cause.message && cause.message !== err.message) {
      return `${err.message}: ${cause.message}`;
    }
    return err.message || err.name;
  }
  return String(err);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringField(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  return typeof value === 'string' ? value : undefined;
}

async function readJson(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** GET `url` with a timeout; network failures and timeouts become ProbeError. */
async function probe(fetchFn: FetchFn, url: string, timeoutMs: number): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    return await fetchFn(url, {
      method: 'GET',
      headers: { Accept: 'application/json' },
      cache: 'no-store',
      signal: controller.signal,
    });
  } catch (err) {
    if (controller.signal.aborted) {
      throw new ProbeError(`${url} timed out after ${timeoutMs} ms`);
    }
    throw new ProbeError(`${url}: ${errorMessage(err)}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Interpret a /readyz response (HTTP status + parsed JSON body, or undefined
 * when the body was not JSON). Pure; exported for tests.
 */
export function interpretReadyz(
  httpStatus: number,
  body: unknown,
  checkedAt: Date,
): ReadyStatus | NotReadyStatus {
  const obj = isRecord(body) ? body : undefined;
  const status = (obj && stringField(obj, 'status')) ?? '';

  if (httpStatus === 200 && obj && (status === 'ready' || status === 'degraded')) {
    const store = stringField(obj, 'store');
    const bus = stringField(obj, 'bus');
    const version = stringField(obj, 'version');
    const installationId = stringField(obj, 'installation_id');
    const missing = [
      store === undefined && 'store',
      bus === undefined && 'bus',
      version === undefined && 'version',
      installationId === undefined && 'installation_id',
    ].filter((k): k is string => typeof k === 'string');
    if (
      store !== undefined &&
      bus !== undefined &&
      version !== undefined &&
      installationId !== undefined
    ) {
      const busError = stringField(obj, 'bus_error');
      return {
        state: 'ready',
        status,
        store,
        bus,
        version,
        installationId,
        checkedAt,
        ...(busError !== undefined && { busError }),
      };
    }
    return {
      state: 'not-ready',
      status,
      httpStatus,
      error: `malformed /readyz response: missing ${missing.join(', ')}`,
      checkedAt,
    };
  }

  let error: string;
  if (obj && stringField(obj, 'error')) {
    error = stringField(obj, 'error') as string;
  } else if (obj === undefined) {
    error = `/readyz returned HTTP ${httpStatus} without a JSON body`;
  } else {
    error = `/readyz returned HTTP ${httpStatus} with status "${status || 'missing'}"`;
  }
  return { state: 'not-ready', status: status || 'not ready', httpStatus, error, checkedAt };
}

/**
 * Probe /healthz and /readyz and build the view model.
 *
 * - /healthz fails (network error, timeout, non-200 or not {"status":"ok"})
 *   -> 'unreachable': the dashboard cannot talk to a live Ratchet server.
 *   (The Vite dev proxy answers 5xx when the server is down, so a non-200
 *   /healthz counts as unreachable too.)
 * - /healthz ok, /readyz 200 {"status":"ready",...} -> 'ready'.
 * - /healthz ok, /readyz anything else (503, malformed) -> 'not-ready'.
 * - /readyz network error after a good /healthz -> 'unreachable'.
 */
export async function checkServer(
  fetchFn: FetchFn,
  options: CheckOptions = {},
): Promise<ServerStatus> {
  const baseUrl = options.baseUrl ?? '';
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const now = options.now ?? (() => new Date());

  try {
    const [health, ready] = await Promise.all([
      probe(fetchFn, `${baseUrl}/healthz`, timeoutMs),
      probe(fetchFn, `${baseUrl}/readyz`, timeoutMs),
    ]);

    const healthBody = await readJson(health);
    if (!health.ok) {
      throw new ProbeError(`/healthz returned HTTP ${health.status}`);
    }
    if (!isRecord(healthBody) || healthBody['status'] !== 'ok') {
      throw new ProbeError('/healthz did not return {"status":"ok"}');
    }

    return interpretReadyz(ready.status, await readJson(ready), now());
  } catch (err) {
    const error = err instanceof ProbeError ? err.message : errorMessage(err);
    return { state: 'unreachable', error, checkedAt: now() };
  }
}
