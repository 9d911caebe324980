import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Debian's chromium (scripts/install.sh), driven by playwright-core; no browser download. */
export function launchChromium(): Promise<Browser> {
  const path =
    process.env.AMBER_CHROMIUM ??
    ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p)) ??
    '/usr/bin/chromium';
  return chromium.launch({
    executablePath: path,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}
