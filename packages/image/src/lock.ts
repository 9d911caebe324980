import { open, readFile, rm } from 'node:fs/promises';

/**
 * A cross-process lock file holding the owner's pid; a lock whose owner is gone (crashed build) is taken
 * over. Good enough for "two `amber image build` at once on one machine".
 */
export async function withLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
      if (!Number.isFinite(owner) || !isAlive(owner)) {
        await rm(path, { force: true });
        continue;
      }
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * (attempt + 1))));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
