import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AgentConfig } from './config.js';
import { destroyNetworkSlot, listNetworkSlots, netnsName } from './network/network-slot.js';
import { type SandboxRecord, sandboxPaths } from './sandbox.js';

/** True if `pid` is a live QEMU of this sandbox (guards against pid reuse by checking its command line). */
export async function isSandboxQemu(pid: number | undefined, runDir: string): Promise<boolean> {
  if (!pid) return false;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes('qemu-system') && cmdline.includes(runDir);
}

/**
 * Left over from an agent that died: sandboxes whose runtime state cannot be trusted. Their QEMU (if any)
 * is killed and every resource removed, so nothing is left as an orphan.
 */
export async function cleanUpAfterCrash(config: AgentConfig, log: Logger): Promise<void> {
  const root = join(config.home, 'sandboxes');
  const ids = await readdir(root).catch(() => [] as string[]);
  for (const id of ids) {
    const paths = sandboxPaths(config.home, config.shmDir, id);
    const record = await readFile(paths.record, 'utf8')
      .then((text) => JSON.parse(text) as SandboxRecord)
      .catch(() => undefined);
    if (record?.qemuPid && (await isSandboxQemu(record.qemuPid, paths.run))) {
      process.kill(record.qemuPid, 'SIGKILL');
    }
    await destroyNetworkSlot(netnsName(id));
    await rm(paths.memory, { force: true });
    await rm(paths.dir, { recursive: true, force: true });
    log.warn({ sandbox: id, state: record?.state }, 'removed a sandbox left by a previous agent');
  }
  const known = new Set(ids.map(netnsName));
  for (const netns of await listNetworkSlots()) {
    if (!known.has(netns)) await destroyNetworkSlot(netns);
  }
  for (const name of await readdir(config.shmDir).catch(() => [] as string[])) {
    if (/^amber-[a-z0-9]{20}\.mem$/.test(name)) await rm(join(config.shmDir, name), { force: true });
  }
}
