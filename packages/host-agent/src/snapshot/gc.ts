import { access, readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { SnapshotDir } from '@amber/memsnap';
import { localChain } from './disk-chain.js';
import { connectionFile, devicesFile, diskFile, liveDisks } from './layout.js';

const OURS = /^(devices\..+\.state|disk\..+\.qcow2|envd-connection\..+\.json|\.tmp-.*)$/;

/**
 * Removes what no committed state needs: memory generations the header no longer references, device states
 * and envd connections of other generations, and disk layers outside the chains of the committed top and
 * of the live overlay.
 * Runs only under the sandbox's lock, so no write is in flight.
 */
export async function collectSnapshotGarbage(dir: string): Promise<void> {
  const snapshot = await SnapshotDir.open(dir);
  await snapshot.collectGarbage();
  const keep = new Set<string>();
  const header = await snapshot.header();
  if (header) {
    keep.add(devicesFile(header.buildId));
    keep.add(connectionFile(header.buildId));
    const top = join(dir, diskFile(header.buildId));
    if (await exists(top)) for (const layer of await localChain(top)) keep.add(basename(layer));
  }
  for (const live of await liveDisks(dir))
    for (const layer of await localChain(live)) keep.add(basename(layer));
  for (const name of await readdir(dir)) {
    if (OURS.test(name) && !keep.has(name)) await rm(join(dir, name), { force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
