// How long the dashboard takes to show the sandbox list with 50 sandboxes, in Debian's chromium against a
// real control plane (served by it, over loopback). The 50 are rows in the real database in state
// `paused`, as a pause leaves them: the list reads only the database, and the reconciler leaves paused
// rows alone, so no VM is needed (50 real VMs would not fit this host's memory budget). Baseline: the
// API's own `GET /v1/sandboxes` for the same 50, which the page has to wait for anyway.
import { randomBytes } from 'node:crypto';
import { launchChromium } from './lib/chromium.js';
import { startBenchControlPlane } from './lib/control-plane.js';
import { median, progress, report } from './lib/report.js';

const SANDBOXES = 50;
const RUNS = 10;

const { cp, close } = await startBenchControlPlane('dashboard', undefined, { prepareBase: false });
const browser = await launchChromium();
try {
  const db = cp.db.db;
  const { team_id } = await db.selectFrom('api_keys').select('team_id').executeTakeFirstOrThrow();
  const { id: host_id } = await db.selectFrom('hosts').select('id').executeTakeFirstOrThrow();
  const now = Date.now();
  for (let i = 0; i < SANDBOXES; i++) {
    await db
      .insertInto('sandboxes')
      .values({
        id: randomBytes(10).toString('hex'),
        team_id,
        host_id,
        state: 'paused',
        template: 'base',
        vcpus: 1,
        memory_mb: 512,
        metadata: JSON.stringify({ bench: 'dashboard', n: String(i) }),
        envs: '{}',
        timeout_sec: 300,
        on_timeout: 'kill',
        created_at: now - (SANDBOXES - i) * 1000,
        expires_at: null,
        error: null,
        resume_on_start: 0,
        updated_at: now,
      })
      .execute();
  }

  const apiTimes: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const res = await fetch(`${cp.url}/v1/sandboxes`, { headers: { 'x-api-key': cp.apiKey } });
    const body = (await res.json()) as { sandboxes: unknown[] };
    if (body.sandboxes.length !== SANDBOXES) throw new Error(`the API listed ${body.sandboxes.length}`);
    apiTimes.push(performance.now() - started);
  }

  // Each run is a new browser context (empty cache and session storage), so each is a first visit.
  const pageTimes: number[] = [];
  const inPageTimes: number[] = [];
  const readyTimes: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    // Strings, not functions: they run in the page, and the bench is compiled without DOM types.
    await context.addInitScript({
      content: `sessionStorage.setItem('amber.apiKey', ${JSON.stringify(cp.apiKey)})`,
    });
    const page = await context.newPage();
    const started = performance.now();
    await page.goto(cp.url);
    // In the page: milliseconds from the navigation's start to the frame that shows all 50 rows.
    const shown = await page.waitForFunction(
      `document.querySelectorAll('tr[data-id]').length === ${SANDBOXES} && performance.now()`,
      undefined,
      { polling: 'raf' },
    );
    pageTimes.push(performance.now() - started);
    inPageTimes.push(Number(await shown.jsonValue()));
    // AMBER_BENCH_TIMING=1: each run's resource timings (start, end), to see where a slow load spends it.
    if (process.env.AMBER_BENCH_TIMING)
      progress(
        String(
          await page.evaluate(
            `JSON.stringify(performance.getEntriesByType('resource').map((e) => [e.name.replace(location.origin, ''), Math.round(e.startTime), Math.round(e.responseEnd)]))`,
          ),
        ),
      );
    // The part before the app's first API call: HTML, script and CSS loaded and parsed.
    readyTimes.push(
      Number(await page.evaluate(`performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd`)),
    );
    await context.close();
  }
  const pageMs = median(pageTimes);
  const inPageMs = median(inPageTimes);
  const apiMs = median(apiTimes);
  progress(
    `list of ${SANDBOXES} shown ${inPageMs.toFixed(0)} ms after the navigation started (p50, first visits; ` +
      `${pageMs.toFixed(0)} ms as the driver sees it); the API call alone ${apiMs.toFixed(1)} ms`,
  );
  report('dashboard_list_50_p50_ms', inPageMs, 'ms', { value: apiMs, ratio: apiMs / inPageMs });
  report('dashboard_list_50_max_ms', Math.max(...inPageTimes), 'ms');
  report('dashboard_list_50_driver_p50_ms', pageMs, 'ms');
  report('dashboard_dom_ready_p50_ms', median(readyTimes), 'ms');
} finally {
  await browser.close();
  await close();
}
