import { Vm, type VmSpec } from '@amber/vmm';
import type { Logger } from 'pino';
import { type CgroupHost, createVmCgroup, detectCgroups, removeVmCgroup, type VmCgroup } from './cgroups.js';
import type { AgentConfig } from './config.js';
import { namespacePrefix } from './network/network-slot.js';
import { qemuOverheadMib } from './qemu-overhead.js';

let host: CgroupHost | undefined;

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
      })
    : undefined;
  try {
    const vm = await Vm.launch(spec, { log, ...(cgroup && { cgroups: cgroup.dirs }) });
    return cgroup ? { vm, cgroup } : { vm };
  } catch (err) {
    await removeVmCgroup(cgroup).catch((rmErr) => log.warn({ err: rmErr }, 'cannot remove a cgroup'));
    throw err;
  }
}
