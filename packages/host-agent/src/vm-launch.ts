import { cpus } from 'node:os';
import { Vm, type VmSpec } from '@amber/vmm';
import type { Logger } from 'pino';
import { type CgroupHost, createVmCgroup, detectCgroups, removeVmCgroup, type VmCgroup } from './cgroups.js';
import type { AgentConfig } from './config.js';
import { namespacePrefix } from './network/network-slot.js';
import { qemuOverheadMib } from './qemu-overhead.js';

let host: CgroupHost | undefined;

/**
 * QEMU starts at most this many at once. A start is CPU-bound (exec, ~50 libraries to link, machine
 * setup); 20 at once on 2 loaded cores each took over 10 s to open QMP and failed, where queued they all
 * start. Not a lock on the hot path: up to this many proceed side by side.
 */
const PARALLEL_LAUNCHES = Math.max(2, cpus().length * 2);
/** Generous: a loaded host may take seconds to start one. */
const START_TIMEOUT_MS = 30_000;
let launching = 0;
const waiting: Array<() => void> = [];

async function launchSlot(): Promise<() => void> {
  if (launching >= PARALLEL_LAUNCHES) await new Promise<void>((resolve) => waiting.push(resolve));
  else launching++;
  // A waiter inherits the slot of the launch that woke it.
  return () => {
    const next = waiting.shift();
    if (next) next();
    else launching--;
  };
}

/** This host's cgroups, detected once (they do not change while the agent runs). */
export function hostCgroups(): CgroupHost {
  host ??= detectCgroups();
  return host;
}

/** QEMU launched in a cgroup of its own (when the host has cgroups and the config does not turn them off). */
export async function launchVm(
  config: AgentConfig,
  spec: VmSpec,
  log: Logger,
): Promise<{ vm: Vm; cgroup?: VmCgroup }> {
  const cgroup = config.cgroups
    ? await createVmCgroup(hostCgroups(), namespacePrefix(config.home), {
        vcpus: spec.vcpus,
        memoryMib: spec.memoryMib + qemuOverheadMib(config),
      }).catch((err: Error) => {
        // E.g. cgroup v2 where the agent's own cgroup cannot delegate controllers (it holds processes):
        // VMs still run, without limits, and `amber doctor` says why.
        host = { mode: 'none', problem: err.message, parents: [] };
        log.warn({ err }, 'cannot limit VMs with cgroups; running them without limits');
        return undefined;
      })
    : undefined;
  try {
    const done = await launchSlot();
    const vm = await Vm.launch(spec, {
      log,
      startTimeoutMs: START_TIMEOUT_MS,
      ...(cgroup && { cgroups: cgroup.dirs }),
    }).finally(done);
    return cgroup ? { vm, cgroup } : { vm };
  } catch (err) {
    await removeVmCgroup(cgroup).catch((rmErr) => log.warn({ err: rmErr }, 'cannot remove a cgroup'));
    throw err;
  }
}
