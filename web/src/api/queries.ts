/**
 * TanStack Query hooks for every resource. Each live resource refetches on its own
 * (fast while the status stream is unavailable, slow while it works — see live.tsx) and
 * stops once it has ended.
 */
import { keepPreviousData, queryOptions, useInfiniteQuery, useQueries, useQuery } from '@tanstack/react-query';
import { useCallback, useEffect, useRef, useState } from 'react';
import { useApi, useAuth } from '../auth.tsx';
import { FAST_POLL_MS, SLOW_POLL_MS, useStreamState } from '../live.tsx';
import { canAdminFrom, canWriteFrom } from '../lib/access.ts';
import { isTerminal } from '../lib/status.ts';
import type { ApiClient } from './client.ts';
import { ApiError } from './problem.ts';
import type { ProgressPoint, RunDetail } from './types.ts';

/**
 * `GET /me`, once per sign-in: a token's scopes do not change while it is used, so it is never
 * stale and not refetched on focus. Keyed by the token, so signing in with another asks again.
 * A 401 signs out as every call does (the client's onUnauthorized); other errors are not
 * retried (canWriteFrom then assumes the token may write).
 */
export function meQuery(api: ApiClient, token: string) {
  return queryOptions({
    queryKey: ['me', token],
    queryFn: ({ signal }) => api.me(signal),
    enabled: Boolean(token),
    staleTime: Infinity,
    retry: false,
    refetchOnWindowFocus: false,
  });
}

export function useMe() {
  const { api, token } = useAuth();
  return useQuery(meQuery(api, token));
}

/** Whether the signed-in token may submit, cancel and replay (see lib/access.ts). */
export function useCanWrite(): boolean {
  return canWriteFrom(useMe().data);
}

/** Whether the signed-in token may destroy deployments (the admin scope; see lib/access.ts). */
export function useCanAdmin(): boolean {
  return canAdminFrom(useMe().data);
}

function useLiveInterval(): number {
  return useStreamState() === 'open' ? SLOW_POLL_MS : FAST_POLL_MS;
}

export function useSuites(status: string) {
  const api = useApi();
  const interval = useLiveInterval();
  return useInfiniteQuery({
    queryKey: ['suites', status],
    queryFn: ({ pageParam, signal }) => api.listSuites({ status, before: pageParam, limit: 50 }, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_before,
    refetchInterval: interval,
    placeholderData: keepPreviousData,
  });
}

export function useSuite(id: string) {
  const api = useApi();
  const interval = useLiveInterval();
  return useQuery({
    queryKey: ['suite', id],
    queryFn: ({ signal }) => api.getSuite(id, signal),
    refetchInterval: (q) => (q.state.data && isTerminal(q.state.data.status) ? false : interval),
  });
}

/**
 * A suite's report (verdicts, environments, settings against the baseline), once the suite has
 * ended: it does not change after that, so it is fetched once.
 */
export function useSuiteReport(id: string, ended: boolean) {
  const api = useApi();
  return useQuery({
    // Not under ['suite']: the status stream invalidates that on every event.
    queryKey: ['suite-report', id],
    queryFn: ({ signal }) => api.suiteReport(id, signal),
    enabled: Boolean(id) && ended,
    staleTime: Infinity,
    refetchOnWindowFocus: false,
  });
}

/** Suite views of several suites (the list shows progress of the running ones). */
export function useSuiteViews(ids: string[]) {
  const api = useApi();
  const interval = useLiveInterval();
  return useQueries({
    queries: ids.map((id) => ({
      queryKey: ['suite', id],
      queryFn: ({ signal }: { signal: AbortSignal }) => api.getSuite(id, signal),
      refetchInterval: interval,
    })),
  });
}

export function useCompare(ids: string[], baseline: string | null) {
  const api = useApi();
  return useQuery({
    queryKey: ['compare', ids.join(','), baseline],
    queryFn: () => api.compareSuites(ids, baseline),
    enabled: ids.length > 0,
    placeholderData: keepPreviousData,
  });
}

export function useRun(id: string | undefined) {
  const api = useApi();
  const interval = useLiveInterval();
  return useQuery({
    queryKey: ['run', id],
    queryFn: ({ signal }) => api.getRun(id!, signal),
    enabled: Boolean(id),
    refetchInterval: (q) => (q.state.data && runEnded(q.state.data) ? false : interval),
  });
}

/** A run has ended when it and every child it spawned have. */
export function runEnded(run: RunDetail): boolean {
  return isTerminal(run.status) && run.children.every((c) => isTerminal(c.status));
}

export function useChildRuns(run: RunDetail | undefined) {
  const api = useApi();
  const interval = useLiveInterval();
  const ids = (run?.children ?? []).slice(0, 24).map((c) => c.id);
  const key = ids.join(',');
  // A stable combine keeps the Map (and what is computed from it) the same between renders.
  const combine = useCallback(
    (results: { data?: RunDetail | undefined }[]) => {
      const list = key ? key.split(',') : [];
      const map = new Map<string, RunDetail | undefined>();
      results.forEach((r, i) => map.set(list[i]!, r.data));
      return map;
    },
    [key],
  );
  return useQueries({
    queries: ids.map((id) => ({
      queryKey: ['run', id],
      queryFn: ({ signal }: { signal: AbortSignal }) => api.getRun(id, signal),
      refetchInterval: (q: { state: { data?: RunDetail | undefined } }) =>
        q.state.data && runEnded(q.state.data) ? false : interval,
    })),
    combine,
  });
}

export function useRunEvents(id: string, live: boolean) {
  const api = useApi();
  const interval = useLiveInterval();
  return useQuery({
    queryKey: ['run', id, 'events'],
    queryFn: ({ signal }) => api.runEvents(id, signal),
    refetchInterval: live ? interval : false,
  });
}

/** A workflow definition (immutable per version). Retried now and then while it is missing. */
export function useWorkflowDef(name: string | undefined, version: string | undefined) {
  const api = useApi();
  return useQuery({
    queryKey: ['workflow', name, version],
    queryFn: () => api.getWorkflow(name!, version!),
    enabled: Boolean(name && version),
    staleTime: Infinity,
    retry: false,
    refetchInterval: (q) => (q.state.error ? 60_000 : false),
  });
}

export function useWorkflows() {
  const api = useApi();
  return useQuery({ queryKey: ['workflows'], queryFn: () => api.listWorkflows(), retry: false });
}

export function useWorkflowRuns(workflow: string) {
  const api = useApi();
  const interval = useLiveInterval();
  return useQuery({
    queryKey: ['runs', workflow],
    queryFn: () => api.listRuns({ workflow, limit: 20 }),
    refetchInterval: interval * 2,
  });
}

export function useAgents() {
  const api = useApi();
  const interval = useLiveInterval();
  return useQuery({ queryKey: ['agents'], queryFn: () => api.listAgents(), refetchInterval: Math.min(interval, 5000) });
}

export function useInfrastructure() {
  const api = useApi();
  const interval = useLiveInterval();
  return useQuery({ queryKey: ['infrastructure'], queryFn: () => api.infrastructure(), refetchInterval: interval });
}

/**
 * Live progress points of one task (TPS and latency each second), read incrementally
 * (`after` cursor) while `live`, once otherwise.
 */
export function useProgressPoints(runId: string, taskId: string | undefined, live: boolean) {
  const api = useApi();
  const interval = useLiveInterval();
  const [points, setPoints] = useState<ProgressPoint[]>([]);
  const [error, setError] = useState<unknown>(null);
  const cursor = useRef(0);

  useEffect(() => {
    setPoints([]);
    cursor.current = 0;
    if (!taskId) return;
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        for (;;) {
          const page = await api.runProgress(runId, { task: taskId, after: cursor.current, limit: 5000 }, abort.signal);
          if (abort.signal.aborted) return;
          if (page.points.length) setPoints((prev) => prev.concat(page.points));
          if (page.next_after > cursor.current) cursor.current = page.next_after;
          if (page.points.length < 5000) break;
        }
        setError(null);
      } catch (err) {
        if (abort.signal.aborted) return;
        if (!(err instanceof ApiError && err.notFound)) setError(err);
      }
      if (live) timer = setTimeout(() => void tick(), Math.min(interval, 2000));
    };
    void tick();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [api, runId, taskId, live, interval]);

  return { points, error };
}

/** The server's static rate limits (they change only by an API call: no polling). */
export function useRateLimits() {
  const api = useApi();
  return useQuery({ queryKey: ['rate-limits'], queryFn: () => api.rateLimits(), retry: false });
}
