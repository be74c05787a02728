import { describe, expect, it, vi } from 'vitest';
import { ApiClient, buildQuery } from './client.ts';
import { ApiError } from './problem.ts';

function fake(status: number, body: unknown, contentType = 'application/json') {
  const calls: { url: string; init: RequestInit | undefined }[] = [];
  const fetchFn = async (url: string, init?: RequestInit) => {
    calls.push({ url, init });
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), {
      status,
      headers: { 'Content-Type': contentType },
    });
  };
  return { calls, fetchFn };
}

describe('ApiClient', () => {
  it('sends the bearer token and builds the query', async () => {
    const f = fake(200, { suites: [], next_before: null });
    const api = new ApiClient({ token: () => 'rat_x', fetchFn: f.fetchFn });
    await api.listSuites({ status: 'RUNNING', before: null, limit: 50 });
    expect(f.calls[0]!.url).toBe('/api/v1/suites?status=RUNNING&limit=50');
    expect((f.calls[0]!.init!.headers as Record<string, string>)['Authorization']).toBe('Bearer rat_x');
  });

  it('fetches a report as text with the token in the header, never in the URL', async () => {
    const f = fake(200, '# Suite `x`: COMPLETED\n', 'text/markdown; charset=utf-8');
    const api = new ApiClient({ token: () => 'rat_x', fetchFn: f.fetchFn });
    expect(await api.suiteReportText('s1', 'markdown')).toBe('# Suite `x`: COMPLETED\n');
    expect(f.calls[0]!.url).toBe('/api/v1/suites/s1/report?format=markdown');
    const headers = f.calls[0]!.init!.headers as Record<string, string>;
    expect(headers['Authorization']).toBe('Bearer rat_x');
    expect(headers['Accept']).toBe('text/markdown');
    await api.suiteReportText('s1', 'junit');
    expect(f.calls[1]!.url).toBe('/api/v1/suites/s1/report?format=junit');
    expect((f.calls[1]!.init!.headers as Record<string, string>)['Accept']).toBe('application/xml');
  });

  it('reads the JSON report', async () => {
    const f = fake(200, { id: 's1', environments: [] });
    const api = new ApiClient({ token: () => 't', fetchFn: f.fetchFn });
    expect((await api.suiteReport('s1')).environments).toEqual([]);
    expect(f.calls[0]!.url).toBe('/api/v1/suites/s1/report');
  });

  it('posts a suite as YAML', async () => {
    const f = fake(201, { id: 's1' });
    const api = new ApiClient({ token: () => 't', fetchFn: f.fetchFn });
    await api.submitSuite('name: x\n');
    const init = f.calls[0]!.init!;
    expect(init.method).toBe('POST');
    expect(init.body).toBe('name: x\n');
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/yaml');
  });

  it('throws ApiError with the problem detail and the spec errors', async () => {
    const f = fake(
      400,
      { type: 'about:blank', title: 'Invalid suite specification', status: 400, detail: 'd', errors: [{ path: 'p', message: 'm', line: 1, column: 2 }] },
      'application/problem+json',
    );
    const api = new ApiClient({ token: () => 't', fetchFn: f.fetchFn });
    const err = await api.submitSuite('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).message).toBe('d');
    expect((err as ApiError).problem.errors).toEqual([{ path: 'p', message: 'm', line: 1, column: 2 }]);
  });

  it('reports a 401 to onUnauthorized', async () => {
    const onUnauthorized = vi.fn();
    const f = fake(401, { title: 'Unauthorized', status: 401, detail: 'unknown token' }, 'application/problem+json');
    const api = new ApiClient({ token: () => 'bad', fetchFn: f.fetchFn, onUnauthorized });
    await expect(api.listAgents()).rejects.toThrow('unknown token');
    expect(onUnauthorized).toHaveBeenCalledWith('unknown token');
  });

  it('says so when the answer is not JSON (the SPA fallback answering an API path)', async () => {
    const f = fake(200, '<!doctype html><html></html>', 'text/html');
    const api = new ApiClient({ token: () => 't', fetchFn: f.fetchFn });
    await expect(api.getRun('r')).rejects.toThrow(/not JSON/);
  });

  it('puts the token in the query of stream URLs (EventSource cannot send headers)', () => {
    const api = new ApiClient({ token: () => 'rat_ab', baseUrl: 'http://h' });
    expect(api.streamUrl('/runs/r1/logs/stream', { task: 't1' })).toBe(
      'http://h/api/v1/runs/r1/logs/stream?task=t1&access_token=rat_ab',
    );
  });

  it('replays a run: POST with the tasks as JSON, an empty list for every task', async () => {
    const f = fake(202, { id: 'r1', status: 'QUEUED' });
    const api = new ApiClient({ token: () => 't', fetchFn: f.fetchFn });
    const state = await api.replayRun('r1', ['build-placement']);
    expect(state).toEqual({ id: 'r1', status: 'QUEUED' });
    const init = f.calls[0]!.init!;
    expect(f.calls[0]!.url).toBe('/api/v1/runs/r1/replay');
    expect(init.method).toBe('POST');
    expect(JSON.parse(init.body as string)).toEqual({ tasks: ['build-placement'] });
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect((init.headers as Record<string, string>)['Authorization']).toBe('Bearer t');
    await api.replayRun('r1');
    expect(JSON.parse(f.calls[1]!.init!.body as string)).toEqual({ tasks: [] });
  });

  it("says why a replay is refused (the problem's detail)", async () => {
    const detail = 'run r1 is RUNNING: only an ended run can be replayed (cancel it first)';
    const f = fake(409, { type: 'about:blank', title: 'Conflict', status: 409, detail }, 'application/problem+json');
    const api = new ApiClient({ token: () => 't', fetchFn: f.fetchFn });
    await expect(api.replayRun('r1')).rejects.toThrow(detail);
  });

  it("destroys a deployment: POST {} to the run's destroy path", async () => {
    const answer = { run_id: 'r1', cancelled: true, destroyed: ['db-1', 'loader-1'] };
    const f = fake(200, answer);
    const api = new ApiClient({ token: () => 'rat_admin', fetchFn: f.fetchFn });
    expect(await api.destroyDeployment('r1')).toEqual(answer);
    const init = f.calls[0]!.init!;
    expect(f.calls[0]!.url).toBe('/api/v1/infrastructure/r1/destroy');
    expect(init.method).toBe('POST');
    expect(JSON.parse(init.body as string)).toEqual({});
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect((init.headers as Record<string, string>)['Authorization']).toBe('Bearer rat_admin');
  });

  it("says why a destroy is refused (the problem's detail)", async () => {
    const detail = 'nothing is provisioned for run r1';
    const f = fake(404, { type: 'about:blank', title: 'Not Found', status: 404, detail }, 'application/problem+json');
    const api = new ApiClient({ token: () => 't', fetchFn: f.fetchFn });
    const err = await api.destroyDeployment('r1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(404);
    expect((err as ApiError).message).toBe(detail);
  });

  it('escapes path segments', async () => {
    const f = fake(200, {});
    const api = new ApiClient({ token: () => 't', fetchFn: f.fetchFn });
    await api.getWorkflow('a/b', '1 2');
    expect(f.calls[0]!.url).toBe('/api/v1/workflows/a%2Fb/versions/1%202');
  });
});

describe('buildQuery', () => {
  it('skips empty values', () => {
    expect(buildQuery({ a: 1, b: '', c: null, d: undefined, e: 'x y' })).toBe('?a=1&e=x+y');
    expect(buildQuery({})).toBe('');
    expect(buildQuery(undefined)).toBe('');
  });
});
