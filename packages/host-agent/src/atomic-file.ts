import { open, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fsyncDir } from './snapshot/fsync.js';

/** Writes via a temp name, fsync, rename, then fsyncs the directory: readers see the old or the new file whole. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const handle = await open(tmp, 'w', 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}
