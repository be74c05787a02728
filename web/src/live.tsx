/**
 * Live pages: one SSE connection to `/api/v1/stream` (status changes of runs and tasks)
 * invalidates the queries it affects, so pages refresh the moment something changes.
 * Polling always stays on as the fallback: fast (1.5 s) while the stream is unavailable,
 * slow (10 s) while it works, off for things that have ended.
 */
import { useQueryClient } from '@tanstack/react-query';
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { useAuth } from './auth.tsx';
import type { StatusEvent } from './api/types.ts';
import { openStream, type StreamState } from './lib/sse.ts';
import { isTerminal } from './lib/status.ts';

export const FAST_POLL_MS = 1500;
export const SLOW_POLL_MS = 10_000;

const LiveContext = createContext<StreamState>('unavailable');

export function LiveProvider({ children }: { children: ReactNode }) {
  const { token, api } = useAuth();
  const queryClient = useQueryClient();
  const [state, setState] = useState<StreamState>('unavailable');

  useEffect(() => {
    if (!token) return;
    const runs = new Set<string>();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flush = () => {
      timer = undefined;
      for (const id of runs) void queryClient.invalidateQueries({ queryKey: ['run', id] });
      runs.clear();
      // Suites are views over their runs and child runs: refresh the ones on screen.
      void queryClient.invalidateQueries({ queryKey: ['suite'] });
      void queryClient.invalidateQueries({ queryKey: ['suites'] });
      void queryClient.invalidateQueries({ queryKey: ['agents'] });
      void queryClient.invalidateQueries({ queryKey: ['infrastructure'] });
    };
    const close = openStream({
      url: () => api.streamUrl('/stream'),
      events: ['status', 'resync'],
      onState: setState,
      onEvent: (name, data) => {
        if (name === 'resync') {
          // The server dropped events for us: re-read everything on screen.
          void queryClient.invalidateQueries();
          return;
        }
        const ev = (data ?? {}) as Partial<StatusEvent>;
        if (typeof ev.run_id === 'string') runs.add(ev.run_id);
        // Coalesce bursts (a task finishing changes several things at once).
        if (timer === undefined) timer = setTimeout(flush, 200);
      },
    });
    return () => {
      close();
      clearTimeout(timer);
      setState('unavailable');
    };
  }, [token, api, queryClient]);

  return <LiveContext.Provider value={state}>{children}</LiveContext.Provider>;
}

export function useStreamState(): StreamState {
  return useContext(LiveContext);
}

/**
 * The refetch interval for something whose status is `status` (undefined = not loaded):
 * false once it has ended, else fast or slow depending on the status stream.
 */
export function usePollInterval(status: string | undefined | null, alwaysLive = false): number | false {
  const stream = useStreamState();
  if (!alwaysLive && status && isTerminal(status)) return false;
  return stream === 'open' ? SLOW_POLL_MS : FAST_POLL_MS;
}
