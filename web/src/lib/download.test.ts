import { describe, expect, it } from 'vitest';
import { REPORT_FILES, reportFilename } from './download.ts';

describe('reportFilename', () => {
  it('names the file after the suite', () => {
    expect(reportFilename('pg15-local-tuning', 'markdown')).toBe('pg15-local-tuning-report.md');
    expect(reportFilename('pg15-local-tuning', 'junit')).toBe('pg15-local-tuning-junit.xml');
  });

  it('keeps a file name out of odd characters', () => {
    expect(reportFilename('../a b/c', 'markdown')).toBe('a-b-c-report.md');
    expect(reportFilename('', 'junit')).toBe('suite-junit.xml');
  });

  it('saves each format with its type', () => {
    expect(REPORT_FILES.markdown.type).toBe('text/markdown');
    expect(REPORT_FILES.junit.type).toBe('application/xml');
  });
});
