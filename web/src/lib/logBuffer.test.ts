import { describe, expect, it, vi } from 'vitest';
import type { LogLine } from '../api/types.ts';
import { filterLines, highlightParts, lineMatcher, LogBuffer } from './logBuffer.ts';

function line(id: number, text = `line ${id}`, task = 'a'): LogLine {
  return { id, run_id: 'r', task_id: `task-${task}`, task_name: task, attempt: 1, seq: id, at: 1000 + id, line: text };
}
const range = (from: number, to: number, task = 'a') => Array.from({ length: to - from + 1 }, (_, i) => line(from + i, undefined, task));
const ids = (b: LogBuffer) => b.all().map((l) => l.id);

describe('LogBuffer', () => {
  it('appends pages in order', () => {
    const b = new LogBuffer();
    expect(b.add(range(1, 3))).toBe(3);
    expect(b.add(range(4, 6))).toBe(3);
    expect(ids(b)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(b.lastId).toBe(6);
  });

  it('keeps each line once when a page and the stream overlap', () => {
    const b = new LogBuffer();
    b.add(range(1, 5)); // REST page
    expect(b.add([line(4), line(5), line(6)])).toBe(1); // SSE replays 4 and 5
    expect(b.add(range(1, 6))).toBe(0); // the same page again (a poll)
    expect(ids(b)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('puts lines that arrive late into their place (stream first, history after)', () => {
    const b = new LogBuffer();
    b.add([line(10), line(11)]); // the stream started before the history page came back
    b.add(range(1, 10));
    expect(ids(b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    b.add([line(13), line(12)]);
    expect(ids(b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  });

  it('caps memory by dropping the oldest lines, and ignores lines older than those kept', () => {
    const b = new LogBuffer(5);
    b.add(range(1, 8));
    expect(ids(b)).toEqual([4, 5, 6, 7, 8]);
    expect(b.dropped).toBe(3);
    expect(b.add([line(2)])).toBe(0); // a late duplicate of something evicted
    b.add([line(9)]);
    expect(ids(b)).toEqual([5, 6, 7, 8, 9]);
    expect(b.dropped).toBe(4);
    expect(b.length).toBe(5);
  });

  it('bumps its version and notifies only on change', () => {
    const b = new LogBuffer();
    const listener = vi.fn();
    const unsubscribe = b.subscribe(listener);
    b.add(range(1, 2));
    const v = b.getVersion();
    b.add(range(1, 2));
    expect(b.getVersion()).toBe(v);
    expect(listener).toHaveBeenCalledTimes(1);
    unsubscribe();
    b.add([line(3)]);
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it('interns task ids and names', () => {
    const b = new LogBuffer();
    b.add([line(1, 'x', 'build'), line(2, 'y', 'build')]);
    const [l1, l2] = b.all();
    expect(l1!.taskId).toBe('task-build');
    expect(Object.is(l1!.taskName, l2!.taskName)).toBe(true);
    expect(b.tasks()).toEqual([{ id: 'task-build', name: 'build', lines: 2 }]);
  });

  it('holds 100k lines and keeps taking streamed lines at the end', () => {
    const b = new LogBuffer();
    for (let p = 0; p < 20; p++) b.add(range(p * 5000 + 1, (p + 1) * 5000));
    expect(b.length).toBe(100_000);
    for (let i = 1; i <= 1000; i++) b.add([line(100_000 + i)]);
    expect(b.length).toBe(101_000);
    expect(b.at(b.length - 1)!.id).toBe(101_000);
  });

  it('clears', () => {
    const b = new LogBuffer(3);
    b.add(range(1, 5));
    b.clear();
    expect(b.length).toBe(0);
    expect(b.dropped).toBe(0);
    b.add([line(1)]);
    expect(ids(b)).toEqual([1]);
  });
});

describe('search and filter', () => {
  const b = new LogBuffer();
  b.add([
    line(1, 'initdb: done', 'db'),
    line(2, 'pgbench: progress 5.0 s, 604.0 tps', 'load'),
    line(3, 'ERROR: could not connect', 'db'),
    line(4, 'pgbench: progress 6.0 s, 610.2 tps', 'load'),
  ]);

  it('returns null when nothing filters', () => {
    expect(filterLines(b.all(), {})).toBeNull();
    expect(filterLines(b.all(), { query: '  ' })).toBeNull();
  });

  it('finds text case-insensitively', () => {
    expect(filterLines(b.all(), { query: 'error' })).toEqual([2]);
    expect(filterLines(b.all(), { query: 'TPS' })).toEqual([1, 3]);
  });

  it('filters by task, and by task and text', () => {
    expect(filterLines(b.all(), { taskId: 'task-db' })).toEqual([0, 2]);
    expect(filterLines(b.all(), { taskId: 'task-load', query: '610' })).toEqual([3]);
  });

  it('takes /regex/, and searches an invalid one literally', () => {
    expect(filterLines(b.all(), { query: '/6\\d\\d\\.\\d tps/' })).toEqual([1, 3]);
    expect(lineMatcher('/(/')!('see /(/ here')).toBe(true);
    expect(lineMatcher('/(/')!('a ( b')).toBe(false);
  });

  it('splits a line around its matches for highlighting', () => {
    expect(highlightParts('tps 604 TPS', 'tps')).toEqual([
      { text: 'tps', hit: true },
      { text: ' 604 ', hit: false },
      { text: 'TPS', hit: true },
    ]);
    expect(highlightParts('abc', '')).toEqual([{ text: 'abc', hit: false }]);
    expect(highlightParts('abc', 'zzz')).toEqual([{ text: 'abc', hit: false }]);
  });
});
