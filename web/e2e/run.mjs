// End-to-end test of the dashboard against a real Ratchet server, driven with playwright-core
// and Debian's Chromium (never a downloaded browser build).
//
//   npm run e2e                      # builds dist/, then runs this
//   RATCHET_BIN=/path/to/ratchet CHROMIUM=/usr/bin/chromium node e2e/run.mjs
//
// It starts its own server (temp data dir, admin token, free port), then as a person would:
// logs in, submits a broken suite (errors at their lines), submits the example suite (3 tests × 3
// runs, about four minutes), watches a test run's DAG turn green, opens a task's logs, checks
// its CPU and database panels, opens the comparison (medians, runs, intervals, verdicts) and
// what was measured, downloads the Markdown
// report, replays the last task of the ended test run, cancels a second suite, and checks that
// nothing is left provisioned. It
// also loads 100k log lines into the log view (served by a mocked route), measures the run
// page's first meaningful paint, and opens the API reference (api-docs.html), which must reach
// no host but the server.
// Screenshots go to e2e/artifacts/. The last line is "N passed, N failed".

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const webDir = resolve(here, '..');
const BIN = resolve(webDir, process.env.RATCHET_BIN ?? '../target/debug/ratchet');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(here, 'artifacts');
const TOKEN = 'rat_e2e_token_0123456789abcdef';
const EXAMPLE = readFileSync(join(webDir, 'src/examples/suite-local.yaml'), 'utf8');

const results = [];
const timings = {};
let shotNo = 0;

function fail(message) {
  throw new Error(message);
}

async function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

async function waitFor(what, fn, timeoutMs = 30_000, everyMs = 250) {
  const start = Date.now();
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() - start > timeoutMs) fail(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true, ms: Date.now() - t0 });
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push({ name, ok: false, ms: Date.now() - t0, error: e });
    console.log(`FAIL ${name}: ${e.message}`);
    if (page) await shot(`failed-${name}`).catch(() => {});
  }
}

let page;
async function shot(name, { fullPage = true } = {}) {
  shotNo += 1;
  const file = join(ARTIFACTS, `${String(shotNo).padStart(2, '0')}-${name.replace(/[^a-z0-9-]+/gi, '-').toLowerCase()}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}

// ---- the server -----------------------------------------------------------------------------

if (!existsSync(BIN)) {
  console.error(`no ratchet binary at ${BIN}: build it (cargo build) or set RATCHET_BIN`);
  process.exit(2);
}
if (!existsSync(CHROMIUM)) {
  console.error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium, or set CHROMIUM`);
  process.exit(2);
}
if (!existsSync(join(webDir, 'dist/index.html'))) {
  console.error('web/dist is not built: npm run build (npm run e2e does it)');
  process.exit(2);
}
rmSync(ARTIFACTS, { recursive: true, force: true });
mkdirSync(ARTIFACTS, { recursive: true });
const dataDir = mkdtempSync(join(tmpdir(), 'ratchet-e2e-'));
chmodSync(dataDir, 0o755);
const port = await freePort();
const BASE = `http://127.0.0.1:${port}`;
const server = spawn(BIN, ['serve'], {
  env: {
    ...process.env,
    RATCHET_DATA_DIR: dataDir,
    RATCHET_LISTEN: `127.0.0.1:${port}`,
    RATCHET_ADMIN_TOKEN: TOKEN,
    RUST_LOG: process.env.RUST_LOG ?? 'warn',
  },
  stdio: ['ignore', 'pipe', 'pipe'],
  detached: true,
});
let serverLog = '';
server.stdout.on('data', (d) => (serverLog += d));
server.stderr.on('data', (d) => (serverLog += d));
let serverExited = false;
server.on('exit', () => (serverExited = true));

function stopServer() {
  if (!serverExited) {
    try {
      process.kill(-server.pid, 'SIGTERM'); // the server and the agents it spawned
    } catch {
      // already gone
    }
  }
}
process.on('exit', stopServer);
process.on('SIGINT', () => process.exit(130));

async function api(method, path, body, contentType = 'application/json') {
  const res = await fetch(`${BASE}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, ...(body ? { 'Content-Type': contentType } : {}) },
    ...(body ? { body } : {}),
  });
  const text = await res.text();
  if (!res.ok) fail(`${method} ${path}: HTTP ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const browser = await (async () => {
  await waitFor('the server to be ready', async () => {
    if (serverExited) fail(`the server exited:\n${serverLog}`);
    const r = await fetch(`${BASE}/readyz`);
    return r.ok;
  }, 60_000);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
})();

const context = await browser.newContext({ viewport: { width: 1440, height: 960 } });
page = await context.newPage();
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(e.message));
page.on('dialog', (d) => void d.accept());

let suiteId = '';
let runId = '';
let cancelId = '';

try {
  await step('login: a wrong token is refused, the right one lets in', async () => {
    await page.goto(`${BASE}/suites`);
    await page.getByLabel('API token').fill('rat_wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('unknown token').waitFor({ timeout: 10_000 });
    await shot('login-refused');
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Suites' }).waitFor();
    await page.getByText('No suites yet').waitFor();
    await shot('suites-empty');
  });

  await step('new suite: the server errors show at their lines', async () => {
    await page.getByRole('link', { name: 'New suite' }).click();
    await page.locator('.cm-content').waitFor();
    await page.locator('.cm-content').click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText('name: e2e-broken\ntarget: local\nbogus: 1\ntests:\n  - name: a\n');
    await page.getByRole('button', { name: 'Submit suite' }).click();
    await page.locator('.cm-lintRange-error').first().waitFor({ timeout: 10_000 });
    const underlined = await page.locator('.cm-lintRange-error').first().innerText();
    if (underlined !== 'bogus') fail(`underlined "${underlined}", expected "bogus"`);
    await page.getByText('line 3, column 1').waitFor();
    await shot('editor-errors');
  });

  await step('new suite: submit the example', async () => {
    await page.getByLabel('Load an example').selectOption('local');
    await waitFor('the example in the editor', async () => (await page.locator('.cm-content').innerText()).includes('pg15-local-tuning'));
    await page.getByRole('button', { name: 'Submit suite' }).click();
    await page.waitForURL(/\/suites\/[0-9a-f-]{36}$/, { timeout: 15_000 });
    suiteId = page.url().split('/').pop();
    await page.getByRole('heading', { name: /pg15-local-tuning/ }).waitFor();
    await shot('suite-submitted');
  });

  await step("a test's run: the DAG turns green", async () => {
    // The first test's first run (the Runs cell links each repetition's run).
    const link = page.locator('table[aria-label="Tests"] tbody tr').first().locator('td').last().locator('a').first();
    await link.waitFor({ timeout: 30_000 });
    await link.click();
    await page.waitForURL(/\/runs\/[0-9a-f-]{36}/);
    runId = new URL(page.url()).pathname.split('/').pop();
    await page.locator('.dag-task').first().waitFor();
    await page.locator('.dag-task.tone-running').first().waitFor({ timeout: 60_000 }).catch(() => {});
    await shot('run-in-progress');
    // Live progress of the load, if we catch it running.
    await page.getByText('live progress').waitFor({ timeout: 30_000 }).then(() => shot('run-live-load')).catch(() => {});
    await waitFor(
      'every task to complete or be skipped',
      async () => {
        const tones = await page.locator('.dag-task:not(.on-failure)').evaluateAll((els) => els.map((e) => e.className));
        return tones.length >= 12 && tones.every((c) => /tone-(success|skipped)/.test(c));
      },
      120_000,
      500,
    );
    // The child run sits under deploy-plan and links to its run.
    await page.locator('.dag-child a', { hasText: 'cloud-provision' }).waitFor();
    await page.getByRole('table', { name: 'Task timings' }).waitFor();
    await shot('run-green');
  });

  await step("a task's logs", async () => {
    // Through the timing table: every task has a row there, whatever part of the DAG the
    // viewport shows.
    await page.locator('.wf-row', { hasText: 'run-stroppy-test' }).first().click();
    await page.waitForURL(/task=run-stroppy-test/);
    await page.getByRole('tab', { name: 'Logs' }).click();
    await page.locator('.log-row', { hasText: 'tps' }).first().waitFor({ timeout: 15_000 });
    await page.getByLabel('Search the log').fill('latency average');
    await waitFor('one search hit', async () => (await page.locator('.log-row mark').count()) >= 1, 10_000);
    await shot('task-logs');
    await page.getByRole('tab', { name: 'Events' }).click();
    await page.locator('.tl-item').first().waitFor();
    await page.getByRole('tab', { name: /Task:/ }).click();
    await page.getByText('Output').first().waitFor();
    await shot('task-detail');
  });

  await step('run page: time to first meaningful paint', async () => {
    const t0 = Date.now();
    await page.goto(`${BASE}/runs/${runId}`);
    await page.locator('.dag-task').first().waitFor();
    await page.locator('.wf-row').nth(3).waitFor();
    timings.runPageWallMs = Date.now() - t0;
    timings.runPagePaintMs = Math.round(await page.evaluate(() => performance.now()));
    const fcp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null);
    timings.firstContentfulPaintMs = fcp === null ? null : Math.round(fcp);
    console.log(`     run page: DAG and timings drawn ${timings.runPagePaintMs} ms after navigation (FCP ${timings.firstContentfulPaintMs} ms)`);
  });

  await step('run page: the machine and the database under the load chart', async () => {
    // The finished run's load result carries per-second samples of the load machine and the
    // database, drawn as panels on the TPS chart's time axis.
    for (const name of ['CPU', 'Database machine', 'Database']) {
      const panel = page.locator(`section.metric[aria-label="${name}"]`);
      await panel.locator('canvas').first().waitFor({ timeout: 15_000 });
      const heading = await panel.locator('h3').innerText();
      if (!heading.startsWith(name)) fail(`the ${name} panel is headed "${heading}"`);
    }
    await page.locator('section.metric[aria-label="CPU"]').scrollIntoViewIfNeeded();
    await shot('run-machine-and-database');
  });

  await step('the comparison once the suite has ended', async () => {
    await page.goto(`${BASE}/suites/${suiteId}`);
    // 3 tests × 3 runs of 10 s after a 3 s warm-up, each on a fresh database: about 4 minutes.
    // Real numbers: a test may regress against the baseline.
    await waitFor(
      'the suite to end (completed or regressed)',
      async () => /Completed|Regressed/.test(await page.locator('.page-head h1 .badge').innerText()),
      480_000,
      1000,
    );
    const tps = page.locator('.bars').first();
    const bars = await tps.locator('.bar').count();
    if (bars !== 3) fail(`expected 3 TPS bars, found ${bars}`);
    const dots = await tps.locator('.rep-dot').count();
    if (dots !== 9) fail(`expected 9 run dots (3 tests × 3 runs), found ${dots}`);
    // The two tests other than the baseline: a verdict each, and its interval's whisker.
    const verdicts = await tps.locator('.verdict').allInnerTexts();
    if (verdicts.length !== 2) fail(`expected 2 TPS verdicts, found ${JSON.stringify(verdicts)}`);
    const whiskers = await tps.locator('.whisker').count();
    if (whiskers !== 2) fail(`expected 2 whiskers, found ${whiskers}`);
    const runs = await page.locator('table[aria-label="Tests"] .rep-count').allInnerTexts();
    if (runs.join(' ') !== '3/3 3/3 3/3') fail(`expected every test at 3/3 runs, found ${runs.join(' ')}`);
    await page.locator('.tag', { hasText: 'best' }).first().waitFor();
    await page.getByText(/a difference counts beyond ±\d/).waitFor();
    console.log(`     verdicts on TPS: ${verdicts.join(', ')}`);
    await shot('suite-comparison');
  });

  await step('what was measured, and the Markdown report', async () => {
    const measured = page.locator('section.panel', { has: page.getByRole('heading', { name: 'What was measured' }) });
    await measured.getByText(/PostgreSQL 15/).first().waitFor({ timeout: 15_000 });
    await measured.locator('.command').first().waitFor();
    // tuned's settings against the baseline's: shared_buffers at 256 MB.
    const diff = measured.getByRole('table', { name: 'Settings of tuned against the baseline' });
    await diff.getByRole('row', { name: /shared_buffers/ }).getByText('256 MB').waitFor();
    await measured.locator('.changed-settings summary').first().click();
    await measured.getByRole('table', { name: 'Settings not at their built-in default' }).first().waitFor();
    await shot('suite-measured');
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 15_000 }),
      page.getByRole('button', { name: 'Markdown report' }).click(),
    ]);
    if (download.suggestedFilename() !== 'pg15-local-tuning-report.md') fail(`downloaded ${download.suggestedFilename()}`);
    // Fetched with the token in a header and saved from a Blob: no token in any URL.
    if (!download.url().startsWith('blob:')) fail(`the download came from ${download.url()}`);
    const text = readFileSync(await download.path(), 'utf8');
    if (!text.startsWith('# Suite `pg15-local-tuning`') || !text.includes('| tuned |')) fail(`unexpected report:\n${text.slice(0, 400)}`);
  });

  await step('replay the last task of an ended test run: live again, then completed again', async () => {
    // destroy-plan is idempotent ("nothing left to destroy") and quick: replaying it provisions
    // nothing, so the steps after this one see the same infrastructure.
    await page.goto(`${BASE}/runs/${runId}?task=destroy-plan&tab=task`);
    await page.locator('.page-head h1 .badge', { hasText: 'Completed' }).waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Replay from this task' }).click();
    const confirm = page.getByRole('group', { name: 'Replay from this task: confirm' });
    await confirm.getByText('Run destroy-plan again').waitFor();
    await shot('replay-confirm');
    await confirm.getByRole('button', { name: 'Replay', exact: true }).click();
    await page.getByRole('tab', { name: 'Events' }).click();
    await page.locator('.tl-kind', { hasText: 'REPLAYED' }).first().waitFor({ timeout: 15_000 });
    await waitFor(
      'the replayed run to complete again',
      async () => {
        const events = await api('GET', `/runs/${runId}/events`);
        const replayed = events.findIndex((e) => e.kind === 'REPLAYED');
        return replayed >= 0 && events.slice(replayed).some((e) => e.kind === 'RUN_COMPLETED');
      },
      60_000,
      500,
    );
    await page.locator('.page-head h1 .badge', { hasText: 'Completed' }).waitFor({ timeout: 15_000 });
    await page.getByRole('tab', { name: /Task:/ }).click();
    await page.getByRole('button', { name: 'Replay from this task' }).waitFor();
    await shot('replay-completed');
  });

  await step('cancel a running suite; nothing is left provisioned', async () => {
    const view = await api('POST', '/suites', EXAMPLE.replace('name: pg15-local-tuning', 'name: e2e-cancel'), 'application/yaml');
    cancelId = view.id;
    await page.goto(`${BASE}/suites/${view.id}`);
    await page.getByRole('button', { name: 'Cancel suite' }).waitFor();
    // Let the first test get as far as holding machines.
    await waitFor('the first test to run', async () => (await page.locator('.badge', { hasText: 'Running' }).count()) >= 2, 60_000);
    await page.getByRole('button', { name: 'Cancel suite' }).click();
    await waitFor(
      'the suite to be cancelled',
      async () => /Cancelled|Cancelling/.test(await page.locator('.page-head h1 .badge').innerText()),
      30_000,
    );
    await shot('suite-cancelling');
    await waitFor('the suite to end', async () => (await page.locator('.page-head h1 .badge').innerText()).includes('Cancelled'), 120_000, 1000);
    await shot('suite-cancelled');
    await page.getByRole('link', { name: 'Infrastructure' }).click();
    await page.getByText('Nothing is provisioned').waitFor({ timeout: 60_000 });
    await shot('infrastructure-empty');
    await page.getByRole('link', { name: 'Agents' }).click();
    await page.getByRole('heading', { name: 'Agents', exact: true }).waitFor();
    await page.getByLabel(/Show stopped/).check();
    await page.locator('table tbody tr').first().waitFor();
    await shot('agents');
  });

  await step('compare the two suites side by side', async () => {
    await page.goto(`${BASE}/suites`);
    const boxes = page.getByRole('checkbox', { name: /for comparison/ });
    await boxes.nth(1).waitFor();
    await boxes.nth(1).check(); // the first suite (oldest first picked: the baseline's suite)
    await boxes.nth(0).check();
    await page.getByRole('button', { name: 'Compare (2)' }).click();
    await page.waitForURL(/\/compare\?suites=/);
    const table = page.getByRole('table', { name: 'Comparison' });
    // Every test of the first suite; of the cancelled one, the tests that started a run (the
    // server leaves out those that never ran).
    const started = (await api('GET', `/suites/${cancelId}`)).tests.filter((t) => t.repetitions.length > 0).length;
    const expected = 3 + started;
    await waitFor(`${expected} rows`, async () => (await table.locator('tbody tr').count()) === expected, 15_000);
    await table.locator('.tag', { hasText: 'baseline' }).waitFor();
    await shot('compare');
  });

  await step('the log view holds 100k lines and stays responsive', async () => {
    const N = 100_000;
    const PAGE = 10_000;
    const taskId = '00000000-0000-7000-8000-000000000001';
    const isLogs = (url) => url.pathname === `/api/v1/runs/${runId}/logs`;
    await page.route(isLogs, async (route) => {
      const url = new URL(route.request().url());
      const after = Number(url.searchParams.get('after') ?? 0);
      const limit = Number(url.searchParams.get('limit') ?? PAGE);
      const lines = [];
      for (let id = after + 1; id <= Math.min(N, after + limit); id++) {
        lines.push({
          id,
          run_id: runId,
          task_id: taskId,
          task_name: 'synthetic',
          attempt: 1,
          seq: id,
          at: 1_700_000_000_000 + id,
          line: `progress: ${id / 10} s, ${1000 + (id % 997)} tps, lat ${(id % 50) / 10} ms stddev 1.0, 0 failed${id % 1000 === 0 ? ' NEEDLE' : ''}`,
        });
      }
      await route.fulfill({ json: { lines, next_after: lines.length ? lines[lines.length - 1].id : after } });
    });
    const t0 = Date.now();
    await page.goto(`${BASE}/runs/${runId}?tab=logs`);
    await page.getByText('100,000 lines').waitFor({ timeout: 60_000 });
    timings.log100kLoadMs = Date.now() - t0;
    const rows = await page.locator('.log-row').count();
    if (rows > 200) fail(`${rows} rows in the DOM: the list is not virtualized`);
    const t1 = Date.now();
    await page.getByLabel('Search the log').fill('needle');
    await page.getByText('100 of 100,000 lines').waitFor({ timeout: 10_000 });
    timings.log100kSearchMs = Date.now() - t1;
    await page.getByLabel('Search the log').fill('');
    // Scroll from the bottom to the top in steps and measure frames.
    const scroll = await page.evaluate(async () => {
      const el = document.querySelector('.log-scroller');
      const frames = [];
      let last = performance.now();
      for (let i = 0; i < 60; i++) {
        el.scrollTop = el.scrollHeight * (1 - i / 60);
        await new Promise((r) => requestAnimationFrame(() => r(undefined)));
        const now = performance.now();
        frames.push(now - last);
        last = now;
      }
      frames.sort((a, b) => a - b);
      return { median: frames[30], worst: frames[frames.length - 1] };
    });
    timings.log100kScrollFrameMedianMs = Math.round(scroll.median);
    timings.log100kScrollFrameWorstMs = Math.round(scroll.worst);
    await shot('logs-100k');
    await page.unroute(isLogs);
    console.log(
      `     100k lines: loaded in ${timings.log100kLoadMs} ms, searched in ${timings.log100kSearchMs} ms, scroll frames median ${timings.log100kScrollFrameMedianMs} ms / worst ${timings.log100kScrollFrameWorstMs} ms`,
    );
  });

  await step('workflows: the definition DAG', async () => {
    await page.goto(`${BASE}/workflows`);
    await page.getByRole('link', { name: 'stroppy-test-run' }).click();
    await page.locator('.dag-task').first().waitFor({ timeout: 15_000 }).catch(async () => {
      await page.getByText('No definition').waitFor();
    });
    await shot('workflow');
  });

  await step('the API reference: rendered offline, from the server alone', async () => {
    // Every request from the dashboard's link on: the page, the Redoc bundle, the document, and
    // whatever Redoc asks for itself (its search worker, images, fonts).
    const requests = [];
    const record = (r) => requests.push(r.url());
    page.on('request', record);
    try {
      await page.goto(`${BASE}/suites`);
      await page.getByRole('link', { name: 'API', exact: true }).click();
      await page.waitForURL(`${BASE}/api-docs.html`);
      // The suites' submit operation, drawn from /api/v1/openapi.json.
      const submit = page.locator('[data-section-id="operation/submit_suite"]');
      await submit.waitFor({ timeout: 30_000 });
      await submit.getByText('/api/v1/suites', { exact: true }).first().waitFor();
      await shot('api-reference', { fullPage: false }); // the whole reference is a very long page
      // The search index (built in a worker) finds the operation, and its result leads there.
      // Operations are titled by their summary (the handler's doc comment).
      await page.getByRole('textbox', { name: 'Search' }).fill('Submit a suite');
      const hit = page.locator('[data-role="search:results"]').getByRole('menuitem', { name: /Submit a suite/ });
      await hit.waitFor({ timeout: 10_000 });
      await hit.click();
      await page.waitForURL(/#tag\/suites\/operation\/submit_suite$/);
      await shot('api-reference-submit-suite', { fullPage: false });
      // Anything Redoc asks for late (an image, a font) counts too.
      await page.waitForTimeout(1000);
    } finally {
      page.off('request', record);
    }
    // blob: URLs (the search worker) carry the page's origin; data: URLs reach no host.
    const origins = [...new Set(requests.filter((u) => !u.startsWith('data:')).map((u) => new URL(u).origin))];
    console.log(`     API reference: ${requests.length} requests, origins ${origins.join(', ')}`);
    const elsewhere = requests.filter((u) => !u.startsWith('data:') && new URL(u).origin !== BASE);
    if (elsewhere.length) fail(`requests to another host than ${BASE}:\n${elsewhere.join('\n')}`);
    if (!requests.some((u) => u === `${BASE}/api/v1/openapi.json`)) fail(`no request for the OpenAPI document: ${requests.join(', ')}`);
  });

  await step('no uncaught errors in the page', async () => {
    if (pageErrors.length) fail(pageErrors.join('\n'));
  });
} finally {
  await browser.close().catch(() => {});
  stopServer();
  await new Promise((r) => setTimeout(r, 500));
  rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
}

const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
console.log(`timings: ${JSON.stringify(timings)}`);
console.log(`screenshots: ${ARTIFACTS}`);
if (failed) {
  for (const r of results.filter((x) => !x.ok)) console.log(`failed: ${r.name}\n  ${r.error?.stack ?? r.error}`);
  console.log(`server log (tail):\n${serverLog.split('\n').slice(-30).join('\n')}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
