/**
 * A run's log in memory: lines from REST pages and from the SSE stream arrive in any order
 * and may overlap; the buffer keeps each line once (by its id), in id order, and at most
 * `cap` lines (the oldest go first; `dropped` counts them). It is mutable on purpose —
 * copying 100k lines per SSE message would not keep the view smooth — and bumps `version`
 * on every change so React can subscribe (useSyncExternalStore).
 */
import type { LogLine } from '../api/types.ts';

/** What the view needs of a line; task ids and names are interned (shared strings). */
export interface BufferedLine {
  id: number;
  taskId: string;
  taskName: string;
  attempt: number;
  at: number;
  line: string;
}

export const DEFAULT_LOG_CAP = 200_000;

export class LogBuffer {
  readonly cap: number;
  private lines: BufferedLine[] = [];
  private readonly interned = new Map<string, string>();
  private listeners = new Set<() => void>();
  /** Lines evicted to respect the cap. */
  dropped = 0;
  /** Highest id ever accepted (also after eviction): where the next page starts. */
  lastId = 0;
  /** Bumped on every change. */
  version = 0;

  constructor(cap: number = DEFAULT_LOG_CAP) {
    if (cap < 1) throw new Error('cap must be at least 1');
    this.cap = cap;
  }

  get length(): number {
    return this.lines.length;
  }

  at(index: number): BufferedLine | undefined {
    return this.lines[index];
  }

  /** The retained lines, oldest first (do not mutate). */
  all(): readonly BufferedLine[] {
    return this.lines;
  }

  private intern(s: string): string {
    const known = this.interned.get(s);
    if (known !== undefined) return known;
    this.interned.set(s, s);
    return s;
  }

  private compact(l: LogLine): BufferedLine {
    return {
      id: l.id,
      taskId: this.intern(l.task_id),
      taskName: this.intern(l.task_name),
      attempt: l.attempt,
      at: l.at,
      line: l.line,
    };
  }

  /** Index of the first retained line with id >= `id`. */
  private lowerBound(id: number): number {
    let lo = 0;
    let hi = this.lines.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.lines[mid]!.id < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Add lines (a REST page, one SSE line, a batch of them). Returns how many were new.
   * Lines older than what the cap already evicted are ignored.
   */
  add(incoming: readonly LogLine[]): number {
    if (incoming.length === 0) return 0;
    const floor = this.dropped > 0 ? (this.lines[0]?.id ?? this.lastId + 1) : -Infinity;
    let added = 0;
    let tail = this.lines.length ? this.lines[this.lines.length - 1]!.id : -Infinity;
    for (const l of incoming) {
      if (typeof l.id !== 'number' || l.id < floor) continue;
      if (l.id > tail) {
        // The common case: newer than everything held.
        this.lines.push(this.compact(l));
        tail = l.id;
        added++;
        continue;
      }
      const i = this.lowerBound(l.id);
      if (this.lines[i]?.id === l.id) continue; // duplicate
      this.lines.splice(i, 0, this.compact(l));
      added++;
    }
    if (added === 0) return 0;
    if (tail > this.lastId) this.lastId = tail;
    const excess = this.lines.length - this.cap;
    if (excess > 0) {
      this.lines.splice(0, excess);
      this.dropped += excess;
    }
    this.version++;
    this.emit();
    return added;
  }

  clear(): void {
    this.lines = [];
    this.dropped = 0;
    this.lastId = 0;
    this.interned.clear();
    this.version++;
    this.emit();
  }

  /** Tasks seen in the log, in order of first appearance: for the per-task filter. */
  tasks(): { id: string; name: string; lines: number }[] {
    const seen = new Map<string, { id: string; name: string; lines: number }>();
    for (const l of this.lines) {
      const t = seen.get(l.taskId);
      if (t) t.lines++;
      else seen.set(l.taskId, { id: l.taskId, name: l.taskName, lines: 1 });
    }
    return [...seen.values()];
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getVersion = (): number => this.version;

  private emit(): void {
    for (const l of this.listeners) l();
  }
}

export interface LogFilter {
  /** Only this task's lines. */
  taskId?: string | null;
  /** Substring, case-insensitive; `/regex/flags` for a regular expression. */
  query?: string;
}

/** A predicate for a search query; an invalid /regex/ is searched for literally. */
export function lineMatcher(query: string | undefined): ((line: string) => boolean) | null {
  const q = (query ?? '').trim();
  if (!q) return null;
  const re = /^\/(.+)\/([a-z]*)$/.exec(q);
  if (re) {
    try {
      const flags = re[2]!.replace(/[gy]/g, '');
      const rx = new RegExp(re[1]!, flags || 'i');
      return (line) => rx.test(line);
    } catch {
      // fall through to a literal search
    }
  }
  const needle = q.toLowerCase();
  return (line) => line.toLowerCase().includes(needle);
}

/**
 * Indices (into `lines`) of the lines that pass the filter, or null when nothing filters
 * (the view then uses every line without building a 100k-entry array).
 */
export function filterLines(lines: readonly BufferedLine[], filter: LogFilter): number[] | null {
  const match = lineMatcher(filter.query);
  const taskId = filter.taskId || null;
  if (!match && !taskId) return null;
  const out: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (taskId && l.taskId !== taskId) continue;
    if (match && !match(l.line)) continue;
    out.push(i);
  }
  return out;
}

/** Split a line around the matches of a plain query, for highlighting. */
export function highlightParts(line: string, query: string | undefined): { text: string; hit: boolean }[] {
  const q = (query ?? '').trim();
  if (!q || /^\/.+\/[a-z]*$/.test(q)) return [{ text: line, hit: false }];
  const lower = line.toLowerCase();
  const needle = q.toLowerCase();
  const parts: { text: string; hit: boolean }[] = [];
  let from = 0;
  for (;;) {
    const i = lower.indexOf(needle, from);
    if (i < 0) break;
    if (i > from) parts.push({ text: line.slice(from, i), hit: false });
    parts.push({ text: line.slice(i, i + needle.length), hit: true });
    from = i + needle.length;
  }
  if (from < line.length) parts.push({ text: line.slice(from), hit: false });
  return parts.length ? parts : [{ text: line, hit: false }];
}
