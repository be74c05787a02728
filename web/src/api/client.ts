/**
 * The REST client: every `/api/v1` call the dashboard makes, with the bearer token, and
 * errors turned into ApiError (the problem document's `detail` is the message).
 */
import type { FetchFn } from './health.ts';
import { ApiError, parseProblem } from './problem.ts';
import type {
  Agent,
  DestroyedDeployment,
  Infrastructure,
  LogPage,
  Me,
  ProgressPage,
  RateLimit,
  ReplayRequest,
  Report,
  ReportFormat,
  RunDetail,
  RunPage,
  RunState,
  SuitePage,
  SuiteResult,
  SuiteView,
  TaskEvent,
  WorkflowDef,
  WorkflowSummary,
} from './types.ts';

export interface ClientOptions {
  /** Returns the current token ('' when logged out). */
  token: () => string;
  fetchFn?: FetchFn;
  baseUrl?: string;
  /** Called on any 401 with the server's explanation. */
  onUnauthorized?: (detail: string) => void;
}

export type Query = Record<string, string | number | null | undefined>;

export function buildQuery(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    params.set(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

export class ApiClient {
  private readonly opts: ClientOptions;
  private readonly fetchFn: FetchFn;

  constructor(opts: ClientOptions) {
    this.opts = opts;
    this.fetchFn = opts.fetchFn ?? ((input, init) => fetch(input, init));
  }

  get baseUrl(): string {
    return this.opts.baseUrl ?? '';
  }

  get token(): string {
    return this.opts.token();
  }

  /** URL for an EventSource (which cannot send headers): the token goes in the query. */
  streamUrl(path: string, query: Query = {}): string {
    return `${this.baseUrl}/api/v1${path}${buildQuery({ ...query, access_token: this.token })}`;
  }

  /** Send a request; errors thrown as ApiError (a 401 reported first). */
  private async send(
    method: string,
    path: string,
    opts: { query?: Query; body?: string; contentType?: string; accept?: string; signal?: AbortSignal },
  ): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = { Accept: opts.accept ?? 'application/json' };
    const token = this.token;
    if (token) headers['Authorization'] = `Bearer ${token}`;
    if (opts.contentType) headers['Content-Type'] = opts.contentType;
    const init: RequestInit = { method, headers, cache: 'no-store' };
    if (opts.body !== undefined) init.body = opts.body;
    if (opts.signal) init.signal = opts.signal;
    const res = await this.fetchFn(`${this.baseUrl}/api/v1${path}${buildQuery(opts.query)}`, init);
    const text = await res.text();
    if (!res.ok) {
      const problem = parseProblem(res.status, text, res.statusText);
      if (res.status === 401) this.opts.onUnauthorized?.(problem.detail);
      throw new ApiError(problem);
    }
    return { status: res.status, text };
  }

  /** The answer's body as text: for the formats that are not JSON (`accept` says which). */
  async requestText(method: string, path: string, opts: { query?: Query; accept?: string; signal?: AbortSignal } = {}): Promise<string> {
    return (await this.send(method, path, opts)).text;
  }

  async request<T>(
    method: string,
    path: string,
    opts: { query?: Query; body?: string; contentType?: string; signal?: AbortSignal } = {},
  ): Promise<T> {
    const { status, text } = await this.send(method, path, opts);
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError({
        type: 'about:blank',
        title: 'Bad response',
        status,
        detail: `${method} ${path} returned something that is not JSON (is this a Ratchet server?)`,
        errors: [],
      });
    }
  }

  // ---- the caller ----
  /** The signed-in token: its name, scopes and whether it may write. */
  me(signal?: AbortSignal) {
    return this.request<Me>('GET', '/me', signal ? { signal } : {});
  }

  // ---- suites ----
  listSuites(q: { status?: string; before?: string | null; limit?: number } = {}, signal?: AbortSignal) {
    return this.request<SuitePage>('GET', '/suites', { query: q, ...(signal ? { signal } : {}) });
  }
  getSuite(id: string, signal?: AbortSignal) {
    return this.request<SuiteView>('GET', `/suites/${enc(id)}`, signal ? { signal } : {});
  }
  submitSuite(text: string, format: 'yaml' | 'json' = 'yaml') {
    return this.request<SuiteView>('POST', '/suites', {
      body: text,
      contentType: format === 'json' ? 'application/json' : 'application/yaml',
    });
  }
  /** Tests of several suites side by side, with deltas against `baseline` (`suite/test`). */
  compareSuites(ids: string[], baseline?: string | null) {
    return this.request<SuiteResult>('GET', '/results/compare', { query: { suites: ids.join(','), baseline } });
  }
  cancelSuite(id: string) {
    return this.request<SuiteView>('POST', `/suites/${enc(id)}/cancel`);
  }
  /** Verdicts with intervals, and what each test was measured on (machines, tool, settings). */
  suiteReport(id: string, signal?: AbortSignal) {
    return this.request<Report>('GET', `/suites/${enc(id)}/report`, signal ? { signal } : {});
  }
  /** The report as Markdown or JUnit XML, as text (to save as a file). */
  suiteReportText(id: string, format: ReportFormat) {
    return this.requestText('GET', `/suites/${enc(id)}/report`, {
      query: { format },
      accept: format === 'junit' ? 'application/xml' : 'text/markdown',
    });
  }

  // ---- runs ----
  listRuns(q: { workflow?: string; status?: string; before?: string | null; limit?: number } = {}) {
    return this.request<RunPage>('GET', '/runs', { query: q });
  }
  getRun(id: string, signal?: AbortSignal) {
    return this.request<RunDetail>('GET', `/runs/${enc(id)}`, signal ? { signal } : {});
  }
  runEvents(id: string, signal?: AbortSignal) {
    return this.request<TaskEvent[]>('GET', `/runs/${enc(id)}/events`, signal ? { signal } : {});
  }
  runLogs(id: string, q: { task?: string; after?: number; limit?: number } = {}, signal?: AbortSignal) {
    return this.request<LogPage>('GET', `/runs/${enc(id)}/logs`, { query: q, ...(signal ? { signal } : {}) });
  }
  runProgress(id: string, q: { task?: string; after?: number; limit?: number } = {}, signal?: AbortSignal) {
    return this.request<ProgressPage>('GET', `/runs/${enc(id)}/progress`, {
      query: q,
      ...(signal ? { signal } : {}),
    });
  }
  cancelRun(id: string) {
    return this.request<RunState>('POST', `/runs/${enc(id)}/cancel`);
  }
  /**
   * Run `tasks` of an ended run again, with their descendants and the child runs they
   * spawned (none named: every task). Answers the run, live again; 409 while it has not ended.
   */
  replayRun(id: string, tasks: string[] = []) {
    const body: ReplayRequest = { tasks };
    return this.request<RunState>('POST', `/runs/${enc(id)}/replay`, {
      body: JSON.stringify(body),
      contentType: 'application/json',
    });
  }

  // ---- workflows ----
  listWorkflows() {
    return this.request<WorkflowSummary[]>('GET', '/workflows');
  }
  getWorkflow(name: string, version: string) {
    return this.request<WorkflowDef>('GET', `/workflows/${enc(name)}/versions/${enc(version)}`);
  }

  // ---- fleet ----
  listAgents() {
    return this.request<Agent[]>('GET', '/agents');
  }
  infrastructure() {
    return this.request<Infrastructure>('GET', '/infrastructure');
  }
  /**
   * Destroy a deployment now (admin): cancels its test run if it is still going, destroys its
   * machines on every provider and gives back their leases. 404 when nothing is provisioned
   * for the run, 502 when the provider failed (the leases stay; the leak guard tries again).
   */
  destroyDeployment(runId: string) {
    return this.request<DestroyedDeployment>('POST', `/infrastructure/${enc(runId)}/destroy`, {
      body: '{}',
      contentType: 'application/json',
    });
  }
  rateLimits() {
    return this.request<RateLimit[]>('GET', '/rate-limits');
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}
