/**
 * Saving a report as a file. The report is fetched with the bearer token (a link would have to
 * carry the token in its URL, where it ends up in history and logs), then handed to the browser
 * as a Blob.
 */
import type { ReportFormat } from '../api/types.ts';

export const REPORT_FILES: Record<ReportFormat, { suffix: string; type: string; label: string }> = {
  markdown: { suffix: '-report.md', type: 'text/markdown', label: 'Markdown report' },
  junit: { suffix: '-junit.xml', type: 'application/xml', label: 'JUnit XML' },
};

/** "pg15-local-tuning-report.md"; anything a file name should not hold becomes '-'. */
export function reportFilename(suite: string, format: ReportFormat): string {
  const base = suite.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '') || 'suite';
  return `${base}${REPORT_FILES[format].suffix}`;
}

/** Let the browser save `text` as `filename` (a Blob URL, released right after). */
export function saveText(text: string, filename: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
  // Chromium reads the Blob asynchronously after the click: revoke on the next turn.
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
