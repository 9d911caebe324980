import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fsyncDir } from './snapshot/fsync.js';

/**
 * Writes via a temp name, fsync, rename, then fsyncs the directory: readers see the old or the new file
 * whole. `syncDir: false` when a later step fsyncs the directory anyway (a snapshot's header commit). Temp
 * names start with `.tmp-`, which snapshot garbage collection removes after a crash.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: { syncDir?: boolean } = {},
): Promise<void> {
  const tmp = join(dirname(path), `.tmp-${basename(path)}.${process.pid}`);
  const handle = await open(tmp, 'w', 0o644);
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    // A full disk must not also keep the half-written temp file.
    await rm(tmp, { force: true });
    throw err;
  }
  if (options.syncDir ?? true) await fsyncDir(dirname(path));
}
