// The dashboard in Debian's chromium against a real Amber (control plane, host agent, real VMs): one
// sandbox and one spawn carry every check, in order. Screenshots of each page at 1280x800 and 390 px go to
// $AMBER_SCREENSHOTS (default <tmpdir>/amber-screenshots).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Harness, startHarness } from '@amber/control-plane/test-support';
import type { Browser, Page } from 'playwright-core';
import { templateSize } from '../src/format.js';
import { DESKTOP, launchChromium, PHONE, screenshotDir, signedInPage } from './browser.js';

const VM_MS = 180_000;

/** The terminal's text, one line per row. */
async function terminalText(page: Page): Promise<string> {
  // Rendered text: one line per terminal row.
  // biome-ignore lint/performance/useDomNodeTextContent: the rows' line breaks exist only as rendered layout
  return page.locator('.xterm-rows').innerText();
}

async function typeInTerminal(page: Page, text: string): Promise<void> {
  await page.locator('[data-testid=terminal] .xterm-helper-textarea').focus();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

/** Polls the rendered rows until `find` returns something, or throws with the screen after `timeout`. */
async function waitForScreen<T>(
  page: Page,
  what: string,
  find: (lines: string[]) => T | undefined,
  timeout = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const lines = (await terminalText(page)).split('\n').map((l) => l.replace(/\u00a0/g, ' ').trim());
    const found = find(lines);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`${what}; screen:\n${lines.join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits for a line that is exactly `line` (not the echo of the command that printed it). */
function waitForLine(page: Page, line: RegExp, timeout?: number): Promise<string> {
  return waitForScreen(page, `no terminal line ${line}`, (lines) => lines.find((l) => line.test(l)), timeout);
}

describe('dashboard in a real browser against a real Amber', { timeout: 10 * 60_000 }, () => {
  let h: Harness;
  let browser: Browser;
  let page: Page;
  let shots: string;
  let sandboxId = '';
  let spawnId = '';

  /** Later steps need the sandbox the create step made: fail at once instead of waiting on a page. */
  const needSandbox = () => assert.ok(sandboxId, 'no sandbox: the create step failed');
  const shoot = async (p: Page, name: string) => {
    await p.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  };
  /** Navigates and waits for the page's heading: until it renders, locators still see the last page. */
  const openPage = async (link: string, heading: string) => {
    await page.locator('nav a', { hasText: link }).click();
    await page.getByRole('heading', { name: heading, exact: true }).waitFor();
  };

  before(async () => {
    [h, browser, shots] = await Promise.all([startHarness(), launchChromium(), screenshotDir()]);
    page = await browser.newPage({ viewport: DESKTOP });
  });

  after(async () => {
    await browser?.close();
    await h?.stop();
  });

  it('a wrong key shows the API’s message; the right one signs in', async () => {
    await page.goto(h.cp.url);
    assert.equal(await page.title(), 'Sign in · Amber');
    assert.ok(await page.locator('link[rel=icon]').getAttribute('href'));
    await page.getByLabel('API key').fill(`e2b_${'0'.repeat(40)}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /^unauthenticated: .+/);
    await shoot(page, 'sign-in-error-desktop');
    await page.getByLabel('API key').fill(h.cp.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Sandboxes' }).waitFor();
    assert.equal(await page.title(), 'Sandboxes · Amber');
  });

  it('creates a sandbox from the form and lists it running', { timeout: VM_MS }, async () => {
    await page.getByLabel('Timeout (s)').fill('900');
    await page.locator('input[name=metadata]').fill('suite=dashboard');
    await page.getByRole('button', { name: 'Create sandbox' }).click();
    const row = page.locator('tr[data-state=running]');
    await row.waitFor({ timeout: VM_MS });
    sandboxId = (await row.getAttribute('data-id')) ?? '';
    assert.match(sandboxId, /^[a-z0-9]+$/);
    assert.match((await row.textContent()) ?? '', /suite=dashboard/);
    // The metadata filter finds it; another value does not.
    await page.locator('input[name=metadata-filter]').fill('suite=other');
    await page.getByText('No sandboxes match these filters').waitFor();
    await page.locator('input[name=metadata-filter]').fill('suite=dashboard');
    await page.locator(`tr[data-id="${sandboxId}"]`).waitFor();
  });

  it('the terminal runs `echo hi` typed before its shell is there, and `tput cols` follows a resize', {
    timeout: VM_MS,
  }, async () => {
    needSandbox();
    await page.locator(`a[href="#/sandboxes/${sandboxId}"]`).click();
    // As soon as the terminal is on the page, while it still connects: the keys wait for the prompt.
    await typeInTerminal(page, 'echo h$((0))i');
    await waitForLine(page, /^h0i$/);
    await page.getByTestId('terminal-status').getByText('Connected').waitFor({ timeout: 60_000 });
    const terminal = page.getByTestId('terminal');
    const before = Number(await terminal.getAttribute('data-cols'));
    await page.setViewportSize({ width: 900, height: 800 });
    await page.waitForFunction(
      (cols) => Number(document.querySelector('[data-testid=terminal]')?.getAttribute('data-cols')) !== cols,
      before,
    );
    const after = Number(await terminal.getAttribute('data-cols'));
    assert.ok(after < before, `${after} columns after narrowing from ${before}`);
    await typeInTerminal(page, 'clear; tput cols');
    await waitForLine(page, new RegExp(`^${after}$`));
    await page.setViewportSize(DESKTOP);
  });

  it('uploads a file by the file input and lists it with its size', { timeout: VM_MS }, async () => {
    needSandbox();
    const body = Buffer.alloc(777, 'a');
    await page.getByTestId('upload-input').setInputFiles({
      name: 'upload-test.txt',
      mimeType: 'text/plain',
      buffer: body,
    });
    const row = page.locator('tr[data-name="upload-test.txt"]');
    await row.waitFor({ timeout: 30_000 });
    assert.match((await row.textContent()) ?? '', /777 B/);
    const listed = await h.call('GET', `/v1/sandboxes/${sandboxId}/files/list?path=/home/user`);
    const entry = listed.json.entries.find((e: { name: string }) => e.name === 'upload-test.txt');
    assert.equal(entry?.size, 777);
    await page.locator('[aria-label="Event history"] li').first().waitFor();
  });

  it('pauses and resumes from the list without a reload; the open terminal works after it', {
    timeout: VM_MS,
  }, async () => {
    needSandbox();
    // A second tab keeps the sandbox's terminal open through the pause.
    const termTab = await signedInPage(browser, h.cp.apiKey);
    await termTab.goto(`${h.cp.url}/#/sandboxes/${sandboxId}`);
    await termTab.getByTestId('terminal-status').getByText('Connected').waitFor({ timeout: 60_000 });

    await page.locator('nav a', { hasText: 'Sandboxes' }).click();
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    const row = page.locator(`tr[data-id="${sandboxId}"]`);
    await row.getByRole('button', { name: `Pause ${sandboxId}` }).click();
    await page.locator(`tr[data-id="${sandboxId}"][data-state=paused]`).waitFor({ timeout: VM_MS });
    await termTab
      .getByTestId('terminal-status')
      .getByText(/is paused/)
      .waitFor({ timeout: 30_000 });
    await row.getByRole('button', { name: `Resume ${sandboxId}` }).click();
    await page.locator(`tr[data-id="${sandboxId}"][data-state=running]`).waitFor({ timeout: VM_MS });
    assert.equal(
      await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded),
      true,
    );

    // The old stream died with the VM under it: the terminal says so and opens a new shell.
    await waitForLine(termTab, /the sandbox was paused: a new shell/);
    await termTab.getByTestId('terminal-status').getByText('Connected').waitFor({ timeout: 60_000 });
    // At once, before the new bash has drawn its prompt: the terminal holds the keys until it has.
    await typeInTerminal(termTab, 'echo back-$((40+2))');
    await waitForLine(termTab, /^back-42$/);
    await termTab.close();
  });

  it('makes a template from the sandbox and spawns from it', { timeout: VM_MS }, async () => {
    needSandbox();
    await openPage('Templates', 'Templates');
    // Scoped to the form: the select's accessible name is its label's text and its options' text.
    const form = page.getByRole('form', { name: 'Create a template' });
    await form.getByLabel('Sandbox').selectOption(sandboxId);
    await form.getByLabel('Name').fill('dash-tpl');
    await page.getByRole('button', { name: 'Create template' }).click();
    const row = page.locator('tr[data-name="dash-tpl"]');
    await row.waitFor({ timeout: VM_MS });
    assert.match((await row.textContent()) ?? '', new RegExp(sandboxId));
    // Its size on the host, memory and disk as the API has them (both measured: > 0).
    const { json: tpl } = await h.call('GET', '/v1/snapshots/dash-tpl');
    assert.ok(tpl.memoryBytes > 0 && tpl.diskBytes > 0, JSON.stringify(tpl));
    const size = templateSize(tpl);
    const cell = row.getByTestId('template-size');
    assert.equal(await cell.getAttribute('title'), size.detail);
    assert.equal(await cell.textContent(), `${size.total}${size.detail}`);
    assert.ok(await cell.getByText(size.detail, { exact: true }).isVisible(), 'the second line shows');
    assert.match(size.detail, /^memory [\d.]+ [KMG]iB · disk [\d.]+ [KMG]iB$/);
    await row.getByRole('button', { name: 'Spawn from dash-tpl' }).click();
    const notice = page.getByRole('status').filter({ hasText: 'Spawned' });
    await notice.waitFor({ timeout: VM_MS });
    spawnId = /Spawned (\S+) from dash-tpl/.exec((await notice.textContent()) ?? '')?.[1] ?? '';
    const spawned = await h.call('GET', `/v1/sandboxes/${spawnId}`);
    assert.equal(spawned.json.state, 'running');
    assert.equal(spawned.json.template, 'dash-tpl');
    // The spawn has the file the source had when it was frozen.
    const read = await h.call('GET', `/v1/sandboxes/${spawnId}/files?path=/home/user/upload-test.txt`);
    assert.equal(read.text.length, 777);
  });

  it('creates a key shown once, then revokes it', async () => {
    await openPage('Keys', 'API keys');
    await page.getByLabel('Name').fill('browser-test');
    await page.getByRole('button', { name: 'Create key' }).click();
    const shown = page.getByTestId('new-key');
    await shown.waitFor();
    const key = await shown.inputValue();
    assert.match(key, /^e2b_[0-9a-f]{40}$/);
    assert.equal((await h.call('GET', '/v1/api-keys', { key })).status, 200);
    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    await shoot(page, 'keys-new-desktop');
    await page.getByRole('button', { name: 'Done' }).click();
    assert.equal(await page.getByTestId('new-key').count(), 0, 'the key is not shown again');
    const row = page.locator('tr[data-name="browser-test"]');
    await row.getByRole('button', { name: 'Revoke browser-test' }).click();
    await row.getByRole('button', { name: 'Really revoke' }).click();
    await row.waitFor({ state: 'detached' });
    assert.equal((await h.call('GET', '/v1/api-keys', { key })).status, 401);
  });

  it('the host page shows the budget, states and the pause/resume chart', async () => {
    await openPage('Host', 'Host');
    await page.getByRole('heading', { name: 'Memory budget' }).waitFor();
    assert.match((await page.getByTestId('states').textContent()) ?? '', /running\s*2/);
    assert.ok((await page.locator('rect.bar-pause').count()) >= 1);
    assert.ok((await page.locator('rect.bar-resume').count()) >= 1);
  });

  it('every page renders at 1280x800 and on a 390-px phone (screenshots)', { timeout: 120_000 }, async () => {
    needSandbox();
    const pages: Array<[string, string, string]> = [
      ['sandboxes', '#/sandboxes', 'Sandboxes'],
      ['sandbox', `#/sandboxes/${sandboxId}`, 'Terminal'],
      ['templates', '#/templates', 'Templates'],
      ['keys', '#/keys', 'API keys'],
      ['host', '#/host', 'Memory budget'],
    ];
    for (const [size, viewport] of [
      ['desktop', DESKTOP],
      ['phone', PHONE],
    ] as const) {
      await page.setViewportSize(viewport);
      for (const [name, hash, heading] of pages) {
        await page.goto(`${h.cp.url}/${hash}`);
        await page.getByRole('heading', { name: heading, exact: true }).waitFor();
        await page.locator('.loading').first().waitFor({ state: 'detached', timeout: 30_000 });
        if (name === 'sandbox') {
          await page.getByTestId('terminal-status').getByText('Connected').waitFor({ timeout: 60_000 });
          await waitForLine(page, /\$$/);
        }
        // Nothing wider than the window: no sideways scrolling on a phone.
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 1, `${name} at ${size} is ${overflow}px wider than the window`);
        await shoot(page, `${name}-${size}`);
      }
      const signIn = await browser.newPage({ viewport });
      await signIn.goto(h.cp.url);
      await signIn.getByLabel('API key').waitFor();
      await shoot(signIn, `sign-in-${size}`);
      await signIn.close();
    }
  });
});
