// Each sandbox's QEMU runs in a cgroup of its own: a CPU quota of its vcpus, a memory cap of its guest RAM
// plus QEMU's own overhead, and a bound on its threads. cgroup v2 where its controllers are available (a
// unified hierarchy), v1's `cpu`, `memory` and `pids` otherwise (a hybrid host like this one: the v2 mount
// there has no controllers). The cgroups nest under the agent's own, so whatever limits the agent has
// (a systemd unit's, a container's) bound its VMs too.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';
const CPU_PERIOD_US = 100_000;
/** QEMU's threads (vCPUs, I/O, RCU, workers) stay well under this; it stops a runaway, not a guest. */
const PIDS_MAX = 512;

export type CgroupMode = 'v2' | 'v1' | 'none';

export interface CgroupLimits {
  vcpus: number;
  /** Guest RAM plus QEMU's own overhead. */
  memoryMib: number;
}

/** What a QEMU joins at launch (`cgroup.procs` of each directory) and what is removed after it exits. */
export interface VmCgroup {
  name: string;
  /** One directory per hierarchy (v2: one; v1: cpu, memory, pids). */
  dirs: string[];
  memoryDir: string;
  mode: Exclude<CgroupMode, 'none'>;
}

export interface CgroupHost {
  mode: CgroupMode;
  /** Why cgroups are not used, when mode is 'none'. */
  problem?: string;
  /** The parent directories (v1: the agent's own cgroups; v2: `amber` under its own), per hierarchy. */
  parents: string[];
}

/** The agent's own cgroup in a v1 hierarchy `controller`, or in v2 ('' key), from /proc/self/cgroup. */
function ownCgroup(controller: string): string {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controllers === undefined || path === undefined) continue;
    if (controllers.split(',').includes(controller)) return path;
  }
  return '/';
}

/** How this host can limit a VM; no cgroup is created. */
export function detectCgroups(): CgroupHost {
  const wanted = ['cpu', 'memory', 'pids'];
  if (existsSync(join(ROOT, 'cgroup.controllers'))) {
    const available = readFileSync(join(ROOT, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
    const missing = wanted.filter((c) => !available.includes(c));
    if (missing.length === 0) return { mode: 'v2', parents: [join(ROOT, ownCgroup(''), 'amber')] };
    return { mode: 'none', problem: `cgroup v2 lacks the ${missing.join(', ')} controllers`, parents: [] };
  }
  const missing = wanted.filter((c) => !existsSync(join(ROOT, c, 'cgroup.procs')));
  if (missing.length === 0)
    // Directly in the agent's own cgroup, not in a shared `amber` group: under CFS a group is one entity,
    // so all VMs in one group together got the CPU share of a single process next to the host's other
    // tasks (boots took > 90 s on a busy host). One group per VM weighs like one process.
    return { mode: 'v1', parents: wanted.map((c) => join(ROOT, c, ownCgroup(c))) };
  return { mode: 'none', problem: `no cgroup v1 hierarchy for ${missing.join(', ')}`, parents: [] };
}

/**
 * Creates the cgroup for one VM, named `<prefix><random>` (prefix: the agent's namespace prefix, so an agent
 * only ever cleans up its own), with its limits set. Undefined when the host has no usable cgroups.
 */
export async function createVmCgroup(
  host: CgroupHost,
  prefix: string,
  limits: CgroupLimits,
): Promise<VmCgroup | undefined> {
  if (host.mode === 'none') return undefined;
  const name = `${prefix}${randomBytes(6).toString('hex')}`;
  const dirs = host.parents.map((parent) => join(parent, name));
  const memoryBytes = String(Math.ceil(limits.memoryMib) * 1024 * 1024);
  const cpuQuota = String(limits.vcpus * CPU_PERIOD_US);
  try {
    if (host.mode === 'v2') {
      const [parent] = host.parents as [string];
      await mkdir(parent, { recursive: true });
      // Controllers reach a child only if every ancestor delegates them.
      await writeFile(join(parent, '..', 'cgroup.subtree_control'), '+cpu +memory +pids').catch(
        () => undefined,
      );
      await writeFile(join(parent, 'cgroup.subtree_control'), '+cpu +memory +pids');
      const [dir] = dirs as [string];
      await mkdir(dir);
      await writeFile(join(dir, 'cpu.max'), `${cpuQuota} ${CPU_PERIOD_US}`);
      await writeFile(join(dir, 'memory.max'), memoryBytes);
      await writeFile(join(dir, 'pids.max'), String(PIDS_MAX));
      return { name, dirs, memoryDir: dir, mode: 'v2' };
    }
    const [cpu, memory, pids] = dirs as [string, string, string];
    for (const dir of dirs) await mkdir(dir);
    await writeFile(join(cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
    await writeFile(join(cpu, 'cpu.cfs_quota_us'), cpuQuota);
    await writeFile(join(memory, 'memory.limit_in_bytes'), memoryBytes);
    await writeFile(join(pids, 'pids.max'), String(PIDS_MAX));
    return { name, dirs, memoryDir: memory, mode: 'v1' };
  } catch (err) {
    await removeCgroupDirs(dirs);
    throw new Error(`cannot set up the cgroup ${name}: ${(err as Error).message}`, { cause: err });
  }
}

/** How many times the kernel's OOM killer acted in the cgroup (0 if unknown). */
export async function oomKills(cgroup: VmCgroup): Promise<number> {
  const file = cgroup.mode === 'v2' ? 'memory.events' : 'memory.oom_control';
  const text = await readFile(join(cgroup.memoryDir, file), 'utf8').catch(() => '');
  const match = /^oom_kill (\d+)$/m.exec(text);
  return match ? Number(match[1]) : 0;
}

/** The cgroup's peak memory use in MiB (v1: max_usage_in_bytes; v2: memory.peak where the kernel has it). */
export async function peakMemoryMib(cgroup: VmCgroup): Promise<number | undefined> {
  const file = cgroup.mode === 'v2' ? 'memory.peak' : 'memory.max_usage_in_bytes';
  const text = await readFile(join(cgroup.memoryDir, file), 'utf8').catch(() => '');
  return text ? Number(text.trim()) / 1024 / 1024 : undefined;
}

/** Removes the VM's cgroup once its process has exited (a moment after, its last task may still be leaving). */
export async function removeVmCgroup(cgroup: VmCgroup | undefined): Promise<void> {
  if (cgroup) await removeCgroupDirs(cgroup.dirs);
}

async function removeCgroupDirs(dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    for (let attempt = 0; ; attempt++) {
      try {
        await rmdir(dir);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY' || attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
}

/** At agent start: removes every cgroup under its prefix but those of adopted VMs (`keep`, by name). */
export async function removeStaleCgroups(
  host: CgroupHost,
  prefix: string,
  keep: ReadonlySet<string> = new Set(),
): Promise<string[]> {
  const removed: string[] = [];
  for (const parent of host.parents) {
    for (const name of await readdir(parent).catch(() => [] as string[])) {
      if (!name.startsWith(prefix) || keep.has(name)) continue;
      await removeCgroupDirs([join(parent, name)]);
      removed.push(join(parent, name));
    }
  }
  return removed;
}
