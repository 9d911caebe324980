import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { adoptSandbox } from './adoption.js';
import { writeFileAtomic } from './atomic-file.js';
import { removeStaleCgroups } from './cgroups.js';
import type { AgentConfig } from './config.js';
import { commandLine, pidsByCommandLine } from './host-processes.js';
import {
  destroyNetworkSlot,
  listNetworkSlots,
  namespacePrefix,
  settleSlotScripts,
} from './network/network-slot.js';
import { type SandboxRecord, type SandboxRuntime, sandboxPaths } from './sandbox.js';
import { collectSnapshotGarbage } from './snapshot/gc.js';
import { readCommitted, removeLiveDisks, removeWorkingSetLeftovers } from './snapshot/layout.js';
import { TemplateStore } from './templates.js';
import { hostCgroups } from './vm-launch.js';
import { poolPaths } from './vm-pool.js';

function isQemuNaming(cmdline: string, path: string): boolean {
  return cmdline.includes('qemu-system') && cmdline.includes(path);
}

/** True if `pid` is a live QEMU of this sandbox (guards against pid reuse by checking its command line). */
export async function isSandboxQemu(pid: number | undefined, runDir: string): Promise<boolean> {
  return pid !== undefined && pid > 0 && isQemuNaming(await commandLine(pid), runDir);
}

/** Live QEMU processes whose command line names a path under `dir`. */
export function qemuPidsUnder(dir: string): Promise<number[]> {
  return pidsByCommandLine((cmdline) => isQemuNaming(cmdline, `${dir}/`));
}

/**
 * SIGKILL, then wait until the process is gone (or a zombie for its new parent to reap): freeing a big
 * guest's memory takes a moment, and its resources must not be reused while it still holds them.
 */
async function killAndWait(pid: number, timeoutMs = 10_000): Promise<void> {
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (!stat || /^\d+ \(.*\) [ZX]/.test(stat)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A sandbox the previous agent left: its record, and its runtime if its VM was adopted still running. */
export interface Recovered {
  record: SandboxRecord;
  runtime?: SandboxRuntime;
}

/** What adopted VMs hold, which the sweep of the previous agent's leftovers must spare. */
interface Kept {
  pids: Set<number>;
  runDirs: Set<string>;
  netns: Set<string>;
  memoryFiles: Set<string>;
  cgroups: Set<string>;
}

/**
 * After an agent restart (crash or not): a sandbox whose VM still runs as recorded is adopted (adoption.ts)
 * and keeps running. Any other VM of the previous agent is not trusted — it could be mid-pause — so its QEMU
 * is killed and its resources freed; a sandbox with a committed snapshot comes back paused at that snapshot
 * (its last good state), the rest are removed, so nothing is left as an orphan. Returns the sandboxes that
 * survive.
 */
export async function recoverSandboxes(config: AgentConfig, log: Logger): Promise<Recovered[]> {
  const root = join(config.home, 'sandboxes');
  const ids = await readdir(root).catch(() => [] as string[]);
  const survivors: Recovered[] = [];
  const kept: Kept = {
    pids: new Set(),
    runDirs: new Set(),
    netns: new Set(),
    memoryFiles: new Set(),
    cgroups: new Set(),
  };
  for (const id of ids) {
    const paths = sandboxPaths(config.home, config.shmDir, id);
    const record = await readFile(paths.record, 'utf8')
      .then((text) => JSON.parse(text) as SandboxRecord)
      .catch(() => undefined);
    const runDir = record?.live?.vm.runDir ?? paths.run;
    const alive = record?.qemuPid !== undefined && (await isSandboxQemu(record.qemuPid, runDir));
    if (record?.state === 'running' && alive) {
      const runtime = await adoptSandbox(record, paths, log.child({ sandbox: id })).catch((err) => {
        log.warn({ sandbox: id, err }, 'cannot adopt the running sandbox; it goes back to its last snapshot');
        return undefined;
      });
      if (runtime) {
        kept.pids.add(runtime.vm.pid);
        kept.runDirs.add(runtime.vm.spec.runDir);
        kept.netns.add(runtime.slot.netns);
        kept.memoryFiles.add(paths.memory);
        if (runtime.cgroup) kept.cgroups.add(runtime.cgroup.name);
        survivors.push({ record, runtime });
        continue;
      }
    }
    if (record?.qemuPid && alive) await killAndWait(record.qemuPid);
    await rm(paths.memory, { force: true });
    await rm(paths.run, { recursive: true, force: true });
    const committed = record && (await readCommitted(paths.snapshot).catch(() => undefined));
    if (record && committed && record.state !== 'stopping') {
      await removeLiveDisks(paths.snapshot);
      await removeWorkingSetLeftovers(paths.snapshot);
      await collectSnapshotGarbage(paths.snapshot);
      const paused: SandboxRecord = {
        ...record,
        state: 'paused',
        lazyMemory: false,
        generations: committed.header.generation + 1,
      };
      delete paused.qemuPid;
      delete paused.live;
      await writeFileAtomic(paths.record, `${JSON.stringify(paused, null, 2)}\n`);
      survivors.push({ record: paused });
      log.warn({ sandbox: id, was: record.state }, 'sandbox recovered as paused at its last snapshot');
      continue;
    }
    await rm(paths.dir, { recursive: true, force: true });
    log.warn({ sandbox: id, state: record?.state }, 'removed a sandbox left by a previous agent');
  }
  // QEMUs launched ahead (vm-pool.ts), idle or serving a sandbox: their shim ends them when the agent's
  // pager goes, but nothing is left to chance.
  // Any other QEMU of a sandbox (one mid-restore, say, not in its record yet) must go too: waiting for a
  // pager, its shim would hand its memory to the next pager on that sandbox's socket.
  for (const pid of await qemuPidsUnder(root)) if (!kept.pids.has(pid)) await killAndWait(pid);
  // (A sandbox's VM that came from the pool keeps its run directory there.)
  const pool = poolPaths(config);
  for (const pid of await qemuPidsUnder(pool.dir)) if (!kept.pids.has(pid)) await killAndWait(pid);
  for (const name of await readdir(pool.dir).catch(() => [] as string[])) {
    if (!kept.runDirs.has(join(pool.dir, name)))
      await rm(join(pool.dir, name), { recursive: true, force: true });
  }
  // Only adopted VMs are left, so no other namespace is in use: the killed VMs' and the old pooled ones,
  // and those the previous agent's last slot scripts are still adding.
  await settleSlotScripts(namespacePrefix(config.home));
  for (const netns of await listNetworkSlots(namespacePrefix(config.home)))
    if (!kept.netns.has(netns)) await destroyNetworkSlot(netns);
  // Only this agent's: another agent on the host (another home) has its running guests' RAM here too.
  const ours = namespacePrefix(config.home);
  for (const name of await readdir(config.shmDir).catch(() => [] as string[])) {
    const path = join(config.shmDir, name);
    if (name.startsWith(ours) && name.endsWith('.mem') && !kept.memoryFiles.has(path))
      await rm(path, { force: true });
  }
  await rm(join(config.home, 'staging'), { recursive: true, force: true });
  // The other QEMUs of the previous agent are gone, so are the tasks of their cgroups.
  const staleCgroups = await removeStaleCgroups(hostCgroups(), namespacePrefix(config.home), kept.cgroups);
  if (staleCgroups.length)
    log.info({ cgroups: staleCgroups.length }, 'removed the cgroups of a previous agent');
  await new TemplateStore(config.home).cleanUp();
  return survivors;
}
