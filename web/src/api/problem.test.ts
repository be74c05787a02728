import { describe, expect, it } from 'vitest';
import { ApiError, errorMessage, lineStarts, parseProblem, specErrorPosition, specErrorsToDiagnostics } from './problem.ts';

describe('parseProblem', () => {
  it('reads a problem+json document', () => {
    const p = parseProblem(
      409,
      JSON.stringify({ type: 'about:blank', title: 'Conflict', status: 409, detail: 'suite x has already ended (COMPLETED)' }),
    );
    expect(p).toEqual({
      type: 'about:blank',
      title: 'Conflict',
      status: 409,
      detail: 'suite x has already ended (COMPLETED)',
      errors: [],
    });
  });

  it('reads the spec errors of a refused suite', () => {
    // As the server answered for a suite with an unknown key.
    const body =
      '{"detail":"at bogus (line 3, column 1): unknown field `bogus`, expected one of name, description, target, baseline, defaults, tests, matrix","errors":[{"column":1,"line":3,"message":"unknown field `bogus`, expected one of name","path":"bogus"},{"path":"tests[0].database.version","message":"must be 12 to 18"}],"status":400,"title":"Invalid suite specification","type":"about:blank"}';
    const p = parseProblem(400, body);
    expect(p.title).toBe('Invalid suite specification');
    expect(p.errors).toEqual([
      { path: 'bogus', message: 'unknown field `bogus`, expected one of name', line: 3, column: 1 },
      { path: 'tests[0].database.version', message: 'must be 12 to 18' },
    ]);
  });

  it('drops malformed entries in errors', () => {
    const p = parseProblem(400, JSON.stringify({ detail: 'x', errors: [null, 3, { path: 'a' }, { message: 'm', line: 'two' }] }));
    expect(p.errors).toEqual([{ path: '', message: 'm' }]);
  });

  it('reads a plain JSON error without problem fields', () => {
    expect(parseProblem(503, '{"status":"not ready","error":"store down"}')).toMatchObject({
      status: 503,
      detail: 'store down',
      title: 'Service Unavailable',
    });
  });

  it('has a sentence for an empty or HTML body (a proxy in the way)', () => {
    expect(parseProblem(502, '', 'Bad Gateway').detail).toBe('Bad Gateway (HTTP 502)');
    expect(parseProblem(500, '<html>oops</html>').detail).toBe('Server Error (HTTP 500)');
    expect(parseProblem(404, 'no route').detail).toBe('no route');
  });
});

describe('ApiError', () => {
  it('uses the detail as its message', () => {
    const err = new ApiError(parseProblem(401, '{"title":"Unauthorized","status":401,"detail":"unknown token"}'));
    expect(err.message).toBe('unknown token');
    expect(err.unauthorized).toBe(true);
    expect(errorMessage(err)).toBe('unknown token');
  });

  it('explains a network failure', () => {
    expect(errorMessage(new TypeError('Failed to fetch'))).toMatch(/cannot reach the Ratchet server/);
    expect(errorMessage('x')).toBe('x');
  });
});

describe('specErrorsToDiagnostics', () => {
  const text = 'name: x\ntarget: local\nbogus: 1\ntests:\n  - name: a\n    database:\n      version: 99\n';
  const starts = lineStarts(text);

  it('marks the token at the error line and column', () => {
    const [d] = specErrorsToDiagnostics(text, [{ path: 'bogus', message: 'unknown field `bogus`', line: 3, column: 1 }]);
    expect(text.slice(d!.from, d!.to)).toBe('bogus');
    expect(d).toMatchObject({ severity: 'error', message: 'bogus: unknown field `bogus`' });
  });

  it('marks a value in the middle of a line', () => {
    const [d] = specErrorsToDiagnostics(text, [{ path: 'tests[0].database.version', message: 'must be 12 to 18', line: 7, column: 16 }]);
    expect(text.slice(d!.from, d!.to)).toBe('99');
  });

  it('marks the line from its first non-blank character when the column is unknown', () => {
    const [d] = specErrorsToDiagnostics(text, [{ path: 'tests[0].database', message: 'x', line: 6 }]);
    expect(text.slice(d!.from, d!.to)).toBe('database');
  });

  it('puts an error without a line (or past the end) on the first line', () => {
    const ds = specErrorsToDiagnostics(text, [
      { path: '', message: 'the document is empty' },
      { path: 'a', message: 'b', line: 99, column: 1 },
    ]);
    for (const d of ds) {
      expect(d.from).toBe(0);
      expect(d.to).toBe(starts[1]! - 1);
    }
    expect(ds[0]!.message).toBe('the document is empty');
  });

  it('stays inside a short last line without a newline', () => {
    const [d] = specErrorsToDiagnostics('a: 1\nb:', [{ path: 'b', message: 'missing', line: 2, column: 3 }]);
    expect(d!.from).toBeLessThanOrEqual(d!.to);
    expect(d!.to).toBeLessThanOrEqual(7);
  });

  it('formats the position for the error list', () => {
    expect(specErrorPosition({ path: 'a', message: 'b', line: 3, column: 1 })).toBe('line 3, column 1');
    expect(specErrorPosition({ path: 'a', message: 'b', line: 3 })).toBe('line 3');
    expect(specErrorPosition({ path: 'a', message: 'b' })).toBe('');
  });
});
