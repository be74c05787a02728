/**
 * The API reference page (api-docs.html) works offline: its Content-Security-Policy lets the
 * browser load nothing from any host but the server itself. (The E2E test opens the page and
 * checks every request it makes.)
 */
import { describe, expect, it } from 'vitest';
import html from '../../api-docs.html?raw';

function policy(): Map<string, string[]> {
  const meta = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html);
  if (!meta?.[1]) throw new Error('api-docs.html has no Content-Security-Policy <meta>');
  return new Map(
    meta[1]
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0])
      .map(([name, ...sources]) => [name!, sources]),
  );
}

describe('api-docs.html Content-Security-Policy', () => {
  it('falls back to the server itself', () => {
    expect(policy().get('default-src')).toEqual(["'self'"]);
  });

  it('names no other host, and no scheme that reaches one', () => {
    // data: and blob: are made in the page (Redoc's worker, inline images); they fetch nothing.
    const allowed = new Set(["'self'", "'none'", "'unsafe-inline'", 'data:', 'blob:']);
    for (const [name, sources] of policy()) {
      for (const source of sources) expect(allowed, `${name} ${source}`).toContain(source);
    }
  });

  it('runs only scripts served by the server and fetches only from it', () => {
    const p = policy();
    expect(p.get('script-src')).toEqual(["'self'"]);
    expect(p.get('connect-src')).toEqual(["'self'"]);
  });
});
