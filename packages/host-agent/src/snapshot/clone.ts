import { link, mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { cloneSnapshotDir } from '@amber/memsnap';
import { localChain } from './disk-chain.js';
import { fsyncDir } from './fsync.js';
import { type CommittedSnapshot, linkIfPresent } from './layout.js';

/**
 * Makes `dest` a snapshot directory with the same committed state, sharing every file by hard link: all of
 * them are immutable once committed (new generations get new names), and a link count is the reference
 * count that keeps a template's files alive while a sandbox spawned from it still uses them.
 */
export async function cloneCommitted(src: CommittedSnapshot, dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  await link(src.devicesPath, join(dest, basename(src.devicesPath)));
  await linkIfPresent(src.connectionPath, join(dest, basename(src.connectionPath)));
  for (const layer of await localChain(src.diskPath)) await link(layer, join(dest, basename(layer)));
  await fsyncDir(dest);
  // Last: the header is what makes the clone a snapshot.
  await cloneSnapshotDir(src.dir, dest);
}
