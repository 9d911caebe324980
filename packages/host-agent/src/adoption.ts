// A restarted agent (after a crash, a SIGKILL, an upgrade) takes over the VMs the previous one left running,
// instead of killing them: QEMU is not the agent's child for its life (own process group), its namespace,
// cgroup and RAM file have names in the record, and a lazily restored VM waits for a new pager (the shim
// holds its userfaultfd and reconnects: AMBER_UFFD_RECONNECT_MS), which serves on from the pages its RAM
// file already holds. Why not finish loading memory and detach instead: it would make every resumed
// sandbox's RSS its full RAM and end dirty tracking, so each later pause would write all of memory; the
// wait costs nothing until an agent dies, and then only a stall of the guest's faults for the restart.
import { existsSync } from 'node:fs';
import { Pager } from '@amber/pager';
import { Vm } from '@amber/vmm';
import type { Logger } from 'pino';
import { EnvdClient } from './envd/envd-client.js';
import { AgentError } from './errors.js';
import { GUEST_NET } from './network/guest-net.js';
import type { NetworkSlot } from './network/network-slot.js';
import { goneController, type SandboxPaths, type SandboxRecord, type SandboxRuntime } from './sandbox.js';
import { readCommitted } from './snapshot/layout.js';

/** How long a waiting shim may take to hand its memory over again (it retries every 10 ms). */
const HANDOFF_TIMEOUT_MS = 10_000;

/**
 * The runtime of `record`'s VM, still running under QEMU `record.qemuPid`; throws an AgentError when it
 * cannot be adopted as it is (the caller then ends it and falls back to the last snapshot).
 */
export async function adoptSandbox(
  record: SandboxRecord,
  paths: SandboxPaths,
  log: Logger,
): Promise<SandboxRuntime> {
  const { live, qemuPid } = record;
  if (!live || !qemuPid) throw new AgentError('failed_precondition', 'the record names no running VM');
  const nsPath = `/run/netns/${live.netns}`;
  if (!existsSync(nsPath)) throw new AgentError('failed_precondition', `its namespace ${live.netns} is gone`);
  let pager: Pager | undefined;
  let vm: Vm | undefined;
  try {
    // First the memory: until a pager serves it, QEMU's main loop may itself be waiting on a page fault,
    // and QMP with it.
    if (live.pagerSocket) {
      const snapshot = await readCommitted(paths.snapshot);
      if (!snapshot) throw new AgentError('failed_precondition', 'its memory has no snapshot to come from');
      pager = await Pager.listen({
        socketPath: live.pagerSocket,
        snapshotDir: snapshot.dir,
        logger: log.child({ component: 'pager' }),
        trackDirty: true,
        adoptMemoryFile: paths.memory,
        handoffTimeoutMs: HANDOFF_TIMEOUT_MS,
      });
      const attachment = await pager.attached;
      if (attachment.pid !== qemuPid)
        throw new AgentError(
          'internal',
          `the memory handed over came from pid ${attachment.pid}, not ${qemuPid}`,
        );
    }
    vm = await Vm.adopt(live.vm, qemuPid, { log });
    const status = await vm.status();
    // Stopped: it was in the middle of a pause or a capture, whose end the old agent never wrote.
    if (status !== 'running') throw new AgentError('failed_precondition', `its VM is ${status}, not running`);
    const disk = 'path' in vm.spec.disk ? vm.spec.disk.path : '';
    if (disk !== live.disk)
      throw new AgentError(
        'failed_precondition',
        `its disk moved on (${disk}) from the record's (${live.disk})`,
      );
    const slot: NetworkSlot = {
      netns: live.netns,
      nsPath,
      tap: GUEST_NET.tap,
      mac: GUEST_NET.mac,
      guestIp: GUEST_NET.guestIp,
      ...(live.egress && { egress: live.egress }),
    };
    log.info({ pid: qemuPid, lazyMemory: pager !== undefined }, 'sandbox VM adopted');
    return {
      vm,
      slot,
      envd: new EnvdClient(nsPath, GUEST_NET.guestIp),
      disk: live.disk,
      gone: goneController(),
      expectedExit: false,
      ...(pager && { pager }),
      ...(live.egress && { egress: live.egress }),
      ...(live.cgroup && { cgroup: live.cgroup }),
    };
  } catch (err) {
    vm?.qmp.close();
    await pager?.close();
    throw err instanceof AgentError
      ? err
      : new AgentError('internal', `cannot adopt: ${(err as Error).message}`, { cause: err });
  }
}
