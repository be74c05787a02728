import { describe, expect, it } from 'vitest';
import {
  byteUnit,
  DASH,
  formatBytes,
  elapsed,
  formatAgo,
  formatDelta,
  formatDuration,
  formatLatency,
  formatMemoryMb,
  formatNumber,
  formatTps,
  shortId,
  webUrl,
} from './format.ts';

describe('formatDelta', () => {
  it('colours a TPS gain green and a loss red', () => {
    expect(formatDelta(12.345, true)).toEqual({ text: '+12.3%', tone: 'better' });
    expect(formatDelta(-7.06, true)).toEqual({ text: '−7.1%', tone: 'worse' });
  });

  it('colours a latency drop green and a rise red', () => {
    expect(formatDelta(-75.4696, false)).toEqual({ text: '−75.5%', tone: 'better' });
    expect(formatDelta(3.2, false)).toEqual({ text: '+3.2%', tone: 'worse' });
  });

  it('rounds large changes to whole percent', () => {
    expect(formatDelta(250.2676, true)).toEqual({ text: '+250%', tone: 'better' });
    expect(formatDelta(-100, false)).toEqual({ text: '−100%', tone: 'better' });
  });

  it('treats changes within the noise band as the same', () => {
    expect(formatDelta(0, true)).toEqual({ text: '±0.0%', tone: 'same' });
    expect(formatDelta(0.3, true)).toEqual({ text: '+0.3%', tone: 'same' });
    expect(formatDelta(-0.04, false)).toEqual({ text: '±0.0%', tone: 'same' });
    expect(formatDelta(0.8, true, 1)).toMatchObject({ tone: 'same' });
  });

  it('shows a dash when nothing was measured', () => {
    expect(formatDelta(null, true)).toEqual({ text: DASH, tone: 'none' });
    expect(formatDelta(undefined, false)).toEqual({ text: DASH, tone: 'none' });
    expect(formatDelta(Number.NaN, true)).toEqual({ text: DASH, tone: 'none' });
  });
});

describe('numbers', () => {
  it('formats TPS and latency', () => {
    expect(formatTps(1640.369088)).toBe('1,640');
    expect(formatTps(42.37)).toBe('42.4');
    expect(formatTps(null)).toBe(DASH);
    expect(formatLatency(21.455)).toBe('21.5 ms');
    expect(formatLatency(2.008)).toBe('2.01 ms');
    expect(formatLatency(1204.2)).toBe('1,204 ms');
    expect(formatNumber(7016, 0)).toBe('7,016');
    expect(formatMemoryMb(24105)).toBe('24 GB');
    expect(formatMemoryMb(512)).toBe('512 MB');
  });
});

describe('durations', () => {
  it('picks a unit by size', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(4_321)).toBe('4.3 s');
    expect(formatDuration(15_000)).toBe('15 s');
    expect(formatDuration(245_000)).toBe('4m 05s');
    expect(formatDuration(2 * 3600_000 + 3 * 60_000)).toBe('2h 03m');
    expect(formatDuration(3 * 86400_000 + 4 * 3600_000)).toBe('3d 4h');
    expect(formatDuration(null)).toBe(DASH);
    expect(formatDuration(-5)).toBe(DASH);
  });

  it('measures open intervals until now', () => {
    expect(elapsed(1000, null, 4000)).toBe(3000);
    expect(elapsed(1000, 2500, 4000)).toBe(1500);
    expect(elapsed(null, 2500, 4000)).toBeNull();
  });

  it('says how long ago', () => {
    const now = 1_000_000_000;
    expect(formatAgo(now - 500, now)).toBe('just now');
    expect(formatAgo(now - 12_000, now)).toBe('12 s ago');
    expect(formatAgo(now - 5 * 60_000, now)).toBe('5 min ago');
    expect(formatAgo(now - 3 * 3600_000, now)).toBe('3 h ago');
    expect(formatAgo(now - 72 * 3600_000, now)).toBe('3 d ago');
  });
});

describe('shortId', () => {
  it('shows the random tail of a UUIDv7 (its head is a timestamp shared by neighbours)', () => {
    expect(shortId('01a21bf7-ca06-761f-a0e1-09de930dd651')).toBe('930dd651');
    expect(shortId(null)).toBe(DASH);
  });
});

describe('bytes', () => {
  it('reads in SI units, one decimal below 100', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(12_345)).toBe('12.3 kB');
    expect(formatBytes(123_456)).toBe('123 kB');
    expect(formatBytes(1_234_567)).toBe('1.2 MB');
    expect(formatBytes(null)).toBe(DASH);
  });

  it('picks one unit for an axis from its largest value', () => {
    expect(byteUnit(999)).toEqual({ unit: 'B', size: 1 });
    expect(byteUnit(48_000)).toEqual({ unit: 'kB', size: 1000 });
    expect(byteUnit(2e9)).toEqual({ unit: 'GB', size: 1e9 });
  });
});

describe('webUrl', () => {
  it('keeps http and https addresses and refuses anything else', () => {
    expect(webUrl('http://jaeger:16686/trace/0af7651916cd43dd8448eb211c80319c')).toBe(
      'http://jaeger:16686/trace/0af7651916cd43dd8448eb211c80319c',
    );
    expect(webUrl('https://tempo.example/explore?trace=1')).toBe('https://tempo.example/explore?trace=1');
    expect(webUrl('javascript:alert(1)')).toBeNull();
    expect(webUrl('not a url')).toBeNull();
    expect(webUrl(undefined)).toBeNull();
  });
});
