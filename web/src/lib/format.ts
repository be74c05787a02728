/** Number, time and delta formatting. Pure; tested in format.test.ts. */

export const DASH = '—';

/** 1234.5 → "1,234.5"; digits after the point by magnitude (TPS, counts). */
export function formatNumber(value: number | null | undefined, digits?: number): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  const d = digits ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);
  return value.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

export function formatTps(tps: number | null | undefined): string {
  return formatNumber(tps, tps !== null && tps !== undefined && Math.abs(tps) < 100 ? 1 : 0);
}

/** Latency in ms: "0.84 ms", "21.5 ms", "1,204 ms". */
export function formatLatency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return DASH;
  return `${formatNumber(ms)} ms`;
}

/**
 * A duration in ms: "850 ms", "12.3 s", "4m 05s", "2h 03m", "3d 4h".
 */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return DASH;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.floor(s)} s`;
  const totalS = Math.floor(s);
  const m = Math.floor(totalS / 60);
  if (m < 60) return `${m}m ${String(totalS % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** Elapsed between two instants; an open end means "until now". */
export function elapsed(start: number | null | undefined, end: number | null | undefined, now: number): number | null {
  if (start === null || start === undefined) return null;
  return Math.max(0, (end ?? now) - start);
}

/** "just now", "12 s ago", "5 min ago", "3 h ago", "2 d ago". */
export function formatAgo(at: number | null | undefined, now: number): string {
  if (at === null || at === undefined) return DASH;
  const s = Math.round((now - at) / 1000);
  if (s < 2) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

/** "2026-11-27 07:45:53" in local time (sortable, unambiguous). */
export function formatDateTime(at: number | null | undefined): string {
  if (at === null || at === undefined) return DASH;
  const d = new Date(at);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** "07:45:53.123" for log lines and events. */
export function formatClock(at: number, withMs = true): string {
  const d = new Date(at);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const base = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return withMs ? `${base}.${p(d.getMilliseconds(), 3)}` : base;
}

/** First 8 characters of a UUIDv7 are its timestamp: show the random tail instead. */
export function shortId(id: string | null | undefined): string {
  if (!id) return DASH;
  const hex = id.replace(/-/g, '');
  return hex.length > 8 ? hex.slice(-8) : hex;
}

export type DeltaTone = 'better' | 'worse' | 'same' | 'none';

export interface Delta {
  text: string;
  tone: DeltaTone;
}

/**
 * A change against the baseline, in percent. `higherIsBetter` for TPS, not for latency.
 * Changes within ±`noisePct` are "same" (grey); null (not measured) is "none".
 */
export function formatDelta(
  pct: number | null | undefined,
  higherIsBetter: boolean,
  noisePct = 0.5,
): Delta {
  if (pct === null || pct === undefined || !Number.isFinite(pct)) return { text: DASH, tone: 'none' };
  const rounded = Math.abs(pct) >= 100 ? Math.round(pct) : Math.round(pct * 10) / 10;
  const magnitude = Math.abs(pct) >= 100 ? Math.abs(rounded).toFixed(0) : Math.abs(rounded).toFixed(1);
  if (Math.abs(pct) < noisePct) {
    return { text: rounded === 0 ? '±0.0%' : `${rounded > 0 ? '+' : '−'}${magnitude}%`, tone: 'same' };
  }
  const sign = pct > 0 ? '+' : '−';
  const good = higherIsBetter ? pct > 0 : pct < 0;
  return { text: `${sign}${magnitude}%`, tone: good ? 'better' : 'worse' };
}

/** Bytes of memory in MB → "24 GB" / "512 MB". */
export function formatMemoryMb(mb: number | null | undefined): string {
  if (mb === null || mb === undefined || !Number.isFinite(mb)) return DASH;
  return mb >= 1024 ? `${formatNumber(mb / 1024, mb >= 10240 ? 0 : 1)} GB` : `${Math.round(mb)} MB`;
}

/** SI byte units (kB = 1000 B), as the server's report and disk/network charts count. */
const BYTE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB'] as const;

/** The unit a byte count reads best in, and its size: one unit for a whole chart axis. */
export function byteUnit(bytes: number): { unit: (typeof BYTE_UNITS)[number]; size: number } {
  let i = 0;
  while (i < BYTE_UNITS.length - 1 && Math.abs(bytes) >= 1000 ** (i + 1)) i += 1;
  return { unit: BYTE_UNITS[i]!, size: 1000 ** i };
}

/** Bytes for people: "512 B", "12.3 kB", "123 kB", "1.2 MB". */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return DASH;
  const { unit, size } = byteUnit(bytes);
  const v = bytes / size;
  return `${formatNumber(v, unit === 'B' || Math.abs(v) >= 100 ? 0 : 1)} ${unit}`;
}

/** `url` if it is an http(s) address (a link the page may open), else null. */
export function webUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
  } catch {
    return null;
  }
}
