import { useCallback, useEffect, useRef, useState } from 'react';
import { checkServer, type FetchFn, type ServerStatus } from './api/health.ts';

export const REFRESH_INTERVAL_MS = 5000;

const browserFetch: FetchFn = (input, init) => fetch(input, init);

export interface ServerStatusState {
  /** undefined until the first check completes. */
  status: ServerStatus | undefined;
  checking: boolean;
  refresh: () => void;
}

/**
 * Polls the server's health probes every `intervalMs`. The next check is
 * scheduled only after the previous one finishes, so slow responses never
 * pile up.
 */
export function useServerStatus(
  intervalMs: number = REFRESH_INTERVAL_MS,
  fetchFn: FetchFn = browserFetch,
): ServerStatusState {
  const [status, setStatus] = useState<ServerStatus | undefined>(undefined);
  const [checking, setChecking] = useState(false);
  const runRef = useRef<() => void>(() => {});

  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let inFlight = false;

    const run = async () => {
      if (inFlight) return;
      inFlight = true;
      clearTimeout(timer);
      setChecking(true);
      const next = await checkServer(fetchFn);
      inFlight = false;
      if (cancelled) return;
      setStatus(next);
      setChecking(false);
      timer = setTimeout(() => void run(), intervalMs);
    };

    runRef.current = () => void run();
    void run();

    return () => {
      cancelled = true;
      clearTimeout(timer);
      runRef.current = () => {};
    };
  }, [intervalMs, fetchFn]);

  const refresh = useCallback(() => runRef.current(), []);
  return { status, checking, refresh };
}
