// Debian's chromium driven by playwright-core: no browser is ever downloaded (scripts/install.sh installs
// the `chromium` package). Shared by the browser tests and bench/dashboard.ts.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function chromiumPath(): string {
  const given = process.env.AMBER_CHROMIUM;
  const found = given ? [given] : CANDIDATES.filter((p) => existsSync(p));
  if (!found[0]) throw new Error("no chromium: scripts/install.sh installs Debian's `chromium` package");
  return found[0];
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Root cannot use Chromium's sandbox; /dev/shm may be small in containers.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

/** Where the screenshots go: $AMBER_SCREENSHOTS, else <tmpdir>/amber-screenshots (outside the clone). */
export async function screenshotDir(): Promise<string> {
  const dir = process.env.AMBER_SCREENSHOTS || join(tmpdir(), 'amber-screenshots');
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Puts the key in the tab's session storage before any script runs: a signed-in tab. */
export async function signedInPage(browser: Browser, apiKey: string, size = DESKTOP): Promise<Page> {
  const page = await browser.newPage({ viewport: size });
  await page.addInitScript((key) => sessionStorage.setItem('amber.apiKey', key), apiKey);
  return page;
}
