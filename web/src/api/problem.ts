/**
 * Errors from the API: `application/problem+json` (RFC 9457) documents
 * `{type, title, status, detail}`, plus `errors: [{path, message, line?, column?}]` when a
 * suite specification is refused. Pure functions, tested without a DOM.
 */

export interface SpecError {
  /** Dotted path of the offending key or value (`tests[1].database.version`); '' = the whole document. */
  path: string;
  message: string;
  /** 1-based line and column in the submitted text, when known. */
  line?: number | null;
  column?: number | null;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors: SpecError[];
}

/** An API call that did not succeed; `message` is what a person should read. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail || problem.title || `HTTP ${problem.status}`);
    this.name = 'ApiError';
    this.status = problem.status;
    this.problem = problem;
  }

  get unauthorized(): boolean {
    return this.status === 401;
  }

  get notFound(): boolean {
    return this.status === 404;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseSpecErrors(value: unknown): SpecError[] {
  if (!Array.isArray(value)) return [];
  const out: SpecError[] = [];
  for (const item of value) {
    if (!isRecord(item)) continue;
    const message = typeof item['message'] === 'string' ? item['message'] : undefined;
    if (message === undefined) continue;
    const e: SpecError = { path: typeof item['path'] === 'string' ? item['path'] : '', message };
    if (typeof item['line'] === 'number') e.line = item['line'];
    if (typeof item['column'] === 'number') e.column = item['column'];
    out.push(e);
  }
  return out;
}

/**
 * Turn an HTTP status and a response body (text) into a Problem. Works for proper
 * problem+json, for plain JSON errors, for text bodies and for empty bodies (a proxy's 502),
 * so the dashboard always has a sentence to show.
 */
export function parseProblem(status: number, bodyText: string, statusText = ''): Problem {
  let body: unknown;
  try {
    body = bodyText ? (JSON.parse(bodyText) as unknown) : undefined;
  } catch {
    body = undefined;
  }
  const fallbackTitle = statusText || defaultTitle(status);
  if (isRecord(body)) {
    const title = typeof body['title'] === 'string' ? body['title'] : fallbackTitle;
    const detail =
      typeof body['detail'] === 'string'
        ? body['detail']
        : typeof body['error'] === 'string'
          ? body['error']
          : typeof body['message'] === 'string'
            ? body['message']
            : `${title} (HTTP ${status})`;
    return {
      type: typeof body['type'] === 'string' ? body['type'] : 'about:blank',
      title,
      status: typeof body['status'] === 'number' ? body['status'] : status,
      detail,
      errors: parseSpecErrors(body['errors']),
    };
  }
  const text = bodyText.trim();
  return {
    type: 'about:blank',
    title: fallbackTitle,
    status,
    detail: text && text.length < 500 && !text.startsWith('<') ? text : `${fallbackTitle} (HTTP ${status})`,
    errors: [],
  };
}

function defaultTitle(status: number): string {
  switch (status) {
    case 400:
      return 'Bad Request';
    case 401:
      return 'Unauthorized';
    case 403:
      return 'Forbidden';
    case 404:
      return 'Not Found';
    case 409:
      return 'Conflict';
    case 502:
      return 'Bad Gateway';
    case 503:
      return 'Service Unavailable';
    default:
      return status >= 500 ? 'Server Error' : 'Error';
  }
}

/** The sentence to show for any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) {
    if (err.name === 'TypeError' && /fetch/i.test(err.message)) {
      return `cannot reach the Ratchet server (${err.message})`;
    }
    return err.message || err.name;
  }
  return String(err);
}

// ---- spec errors -> editor diagnostics ---------------------------------------------------

/** A CodeMirror-compatible diagnostic (offsets into the document). */
export interface EditorDiagnostic {
  from: number;
  to: number;
  severity: 'error';
  message: string;
}

/** Offsets of each line's first character (index 0 = line 1). */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) === 10) starts.push(i + 1);
  }
  return starts;
}

/**
 * Place each spec error in the text: from its line and column to the end of the token there
 * (a key, a scalar), or the whole line when the column is unknown. An error without a line
 * (or with a line past the end) marks the first line, so it still shows in the editor.
 */
export function specErrorsToDiagnostics(text: string, errors: SpecError[]): EditorDiagnostic[] {
  const starts = lineStarts(text);
  return errors.map((e) => {
    const message = e.path ? `${e.path}: ${e.message}` : e.message;
    const lineNo = e.line && e.line >= 1 && e.line <= starts.length ? e.line : 1;
    const lineStart = starts[lineNo - 1] ?? 0;
    const nextStart = starts[lineNo];
    const lineEnd = nextStart === undefined ? text.length : nextStart - 1;
    if (!e.line || e.line > starts.length) {
      return { from: lineStart, to: lineEnd, severity: 'error', message };
    }
    let from = lineStart;
    if (e.column && e.column >= 1) from = Math.min(lineStart + e.column - 1, lineEnd);
    else {
      // No column: skip indentation.
      while (from < lineEnd && (text[from] === ' ' || text[from] === '\t')) from++;
    }
    let to = from;
    while (to < lineEnd && !/[\s:,\]}]/.test(text[to] ?? '')) to++;
    if (to === from) to = lineEnd;
    if (to === from && from > lineStart) from--; // an empty line end: mark the char before
    return { from, to, severity: 'error', message };
  });
}

/** "line 3, column 1" / "line 3" / '' for a spec error. */
export function specErrorPosition(e: SpecError): string {
  if (e.line && e.column) return `line ${e.line}, column ${e.column}`;
  if (e.line) return `line ${e.line}`;
  return '';
}
