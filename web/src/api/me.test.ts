/**
 * `GET /me` and what the dashboard makes of it: the query (once per sign-in, 401 = sign out as
 * for any call, other errors not retried) and whether writes are offered.
 */
import { QueryClient } from '@tanstack/react-query';
import { describe, expect, it, vi } from 'vitest';
import { canAdminFrom, canWriteFrom, READ_ONLY_WHY, tokenScope } from '../lib/access.ts';
import { ApiClient } from './client.ts';
import { meQuery } from './queries.ts';
import type { Me } from './types.ts';

const READER: Me = { id: 'a0f1', name: 'grafana', scopes: ['read'], can_write: false, expires_at: null };
const ADMIN: Me = { id: 'b2c3', name: 'ops', scopes: ['read', 'write', 'admin'], can_write: true, expires_at: 1_900_000_000_000 };

function server(status: number, body: unknown) {
  const calls: string[] = [];
  const fetchFn = vi.fn(async (url: string) => {
    calls.push(url);
    return new Response(JSON.stringify(body), {
      status,
      headers: { 'Content-Type': status < 400 ? 'application/json' : 'application/problem+json' },
    });
  });
  return { calls, fetchFn };
}

describe('the /me query', () => {
  it('asks once per token, and again for another token', async () => {
    const s = server(200, READER);
    let token = 'rat_reader';
    const api = new ApiClient({ token: () => token, fetchFn: s.fetchFn });
    const qc = new QueryClient();
    expect(await qc.fetchQuery(meQuery(api, token))).toEqual(READER);
    expect(await qc.fetchQuery(meQuery(api, token))).toEqual(READER); // never stale
    expect(s.calls).toEqual(['/api/v1/me']);
    token = 'rat_other';
    await qc.fetchQuery(meQuery(api, token));
    expect(s.calls).toHaveLength(2);
  });

  it('signs out on a 401, as every call does', async () => {
    const s = server(401, { title: 'Unauthorized', status: 401, detail: 'token expired' });
    const onUnauthorized = vi.fn();
    const api = new ApiClient({ token: () => 't', fetchFn: s.fetchFn, onUnauthorized });
    await expect(new QueryClient().fetchQuery(meQuery(api, 't'))).rejects.toThrow('token expired');
    expect(onUnauthorized).toHaveBeenCalledWith('token expired');
  });

  it('does not retry another failure (an older server without /me)', async () => {
    const s = server(404, { title: 'Not Found', status: 404, detail: 'no route' });
    const api = new ApiClient({ token: () => 't', fetchFn: s.fetchFn });
    await expect(new QueryClient().fetchQuery(meQuery(api, 't'))).rejects.toThrow();
    expect(s.calls).toHaveLength(1);
  });
});

describe('canWriteFrom', () => {
  it("is the token's can_write", () => {
    expect(canWriteFrom(READER)).toBe(false);
    expect(canWriteFrom(ADMIN)).toBe(true);
  });

  it('assumes yes while /me is on its way or when it failed (the server still enforces it)', () => {
    expect(canWriteFrom(undefined)).toBe(true);
  });

  it('has one tooltip for every control it turns off', () => {
    expect(READ_ONLY_WHY).toBe('your token can only read');
  });
});

describe('canAdminFrom', () => {
  it('is whether the token has the admin scope (write alone is not enough)', () => {
    expect(canAdminFrom(ADMIN)).toBe(true);
    expect(canAdminFrom(READER)).toBe(false);
    expect(canAdminFrom({ ...READER, scopes: ['read', 'write'], can_write: true })).toBe(false);
  });

  it('assumes yes while /me is on its way or when it failed (the server still enforces it)', () => {
    expect(canAdminFrom(undefined)).toBe(true);
  });
});

describe('tokenScope', () => {
  it("is the token's broadest scope", () => {
    expect(tokenScope(READER)).toBe('read');
    expect(tokenScope(ADMIN)).toBe('admin');
    expect(tokenScope({ ...READER, scopes: ['write', 'read'], can_write: true })).toBe('write');
    expect(tokenScope({ ...READER, scopes: ['metrics'] })).toBe('metrics');
  });
});
