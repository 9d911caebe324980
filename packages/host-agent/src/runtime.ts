import { mkdir, rename, rm } from 'node:fs/promises';
import type { Image } from '@amber/image';
import { Pager, type PrefetchOption } from '@amber/pager';
import { loadStateFile, type Vm, type VmSpec } from '@amber/vmm';
import type { Logger } from 'pino';
import { removeVmCgroup } from './cgroups.js';
import type { AgentConfig } from './config.js';
import { EnvdClient } from './envd/envd-client.js';
import { resumeHeldConnection } from './envd/resumed-connection.js';
import { AgentError } from './errors.js';
import { newGuestMachine, type VmShape, vmSpec } from './guest-vm.js';
import type { Egress } from './network/egress.js';
import { GUEST_NET } from './network/guest-net.js';
import { destroyNetworkSlot, type NetworkSlot } from './network/network-slot.js';
import type { NetworkSlotPool } from './network/slot-pool.js';
import { PhaseTimer } from './phase-timer.js';
import { goneController, type SandboxPaths, type SandboxRuntime } from './sandbox.js';
import { createOverlay } from './snapshot/disk-chain.js';
import { type CommittedSnapshot, newLiveDisk, removeLiveDisks } from './snapshot/layout.js';
import { launchVm } from './vm-launch.js';
import { discardPooled, type PooledVm, type VmPool } from './vm-pool.js';

export interface BootRequest {
  id: string;
  vcpus: number;
  memoryMib: number;
  image: Image;
  paths: SandboxPaths;
  /**
   * Gives the slot the way out the sandbox asked for (or takes it away) and returns it; called before the
   * guest runs, so no packet leaves on a slot's default (a resumed guest's processes run from the first
   * instruction).
   */
  network: (slot: NetworkSlot) => Promise<Egress | undefined>;
}

/**
 * Cold boot: overlay disk, network slot, QEMU, then wait for envd and hand it the host's time. Whatever was
 * set up is torn down again if a step fails.
 */
export async function bootSandbox(
  config: AgentConfig,
  slots: NetworkSlotPool,
  req: BootRequest,
  log: Logger,
): Promise<SandboxRuntime> {
  await mkdir(req.paths.snapshot, { recursive: true });
  await removeLiveDisks(req.paths.snapshot);
  const disk = newLiveDisk(req.paths.snapshot);
  await createOverlay(disk, req.image.rootfs, 'raw');
  const slot = await slots.take();
  let vm: Vm | undefined;
  let cgroup: SandboxRuntime['cgroup'];
  try {
    const egress = await req.network(slot);
    const place = { runDir: req.paths.run, memoryFile: req.paths.memory };
    ({ vm, cgroup } = await launchVm(
      config,
      vmSpec(config, { ...req, ...newGuestMachine(config) }, place, slot, { path: disk, format: 'qcow2' }),
      log,
    ));
    const envd = await connectEnvd(vm, slot, config.bootTimeoutMs);
    // The guest read the host's clock from its RTC; the timestamp sets it below a second.
    await envd.init({ timestamp: Date.now() });
    // Then the calls of a capture and a restore, once: it opens the control channel every snapshot of this
    // guest keeps. envd's addon answers both in a thread of its own, so no JS is left to warm up (three
    // rounds did, when envd's JS answered: a template's first answer ran V8's parser and settling inline
    // caches through the translator).
    const warmUpStarted = performance.now();
    await envd.rehearseRestore();
    log.info({ ms: Math.round(performance.now() - warmUpStarted) }, 'restore path warmed up');
    return {
      vm,
      slot,
      envd,
      disk,
      ...(egress && { egress }),
      expectedExit: false,
      gone: goneController(),
      ...(cgroup && { cgroup }),
    };
  } catch (err) {
    await vm?.kill();
    await removeVmCgroup(cgroup);
    await destroyNetworkSlot(slot.netns);
    await rm(req.paths.memory, { force: true });
    await rm(disk, { force: true });
    throw err;
  }
}

async function connectEnvd(vm: Vm, slot: NetworkSlot, timeoutMs: number): Promise<EnvdClient> {
  const envd = new EnvdClient(slot.nsPath, GUEST_NET.guestIp);
  await envd
    .waitHealthy(timeoutMs, () => vm.running)
    .catch(async (err: AgentError) => {
      throw new AgentError(
        err.code,
        `${err.message}\n--- guest console (tail) ---\n${await vm.consoleTail()}`,
      );
    });
  return envd;
}

export interface RestoreRequest extends BootRequest {
  snapshot: CommittedSnapshot;
  prefetch: PrefetchOption;
  /** Single-page faults until the caller ends them (`pager.endExactFaults()`): its recording is exact. */
  exactFaults: boolean;
}

/**
 * Lazy restore: a fresh overlay on the snapshot's frozen disk, QEMU with the shim on an empty RAM file (a
 * pooled one if there is one: vm-pool.ts), the pager serving its faults from the header chain, the device
 * state loaded, then envd told the time on the connection the snapshot kept open.
 */
export async function restoreSandbox(
  config: AgentConfig,
  slots: NetworkSlotPool,
  pool: VmPool,
  req: RestoreRequest,
  log: Logger,
): Promise<SandboxRuntime> {
  const phases = new PhaseTimer();
  await Promise.all([rm(req.paths.memory, { force: true }), removeLiveDisks(req.paths.snapshot)]);
  const disk = newLiveDisk(req.paths.snapshot);
  const shape: VmShape = {
    vcpus: req.vcpus,
    memoryMib: req.memoryMib,
    image: req.image,
    ...req.snapshot.machine,
  };
  const pooled = await pool.take(shape);
  const parts: Partial<PooledVm> = {};
  try {
    const { vm, pager, slot, cgroup } = pooled
      ? await usePooled(pooled, req, disk, phases)
      : await launchForRestore(config, slots, req, shape, disk, phases, log, parts);
    // Both settle before anything is torn down: the catch below must not pull the VM from under QMP.
    const [devices, network] = await Promise.allSettled([
      loadStateFile(vm, req.snapshot.devicesPath, { ignoreShared: true }),
      req.network(slot),
    ]);
    for (const step of [devices, network]) if (step.status === 'rejected') throw step.reason;
    const egress = network.status === 'fulfilled' ? network.value : undefined;
    phases.mark('devices');
    // Before `cont`: what the socket sends waits in the tap until the guest runs.
    const held = await resumeHeldConnection(req.snapshot.connectionPath, slot.nsPath, log);
    await vm.resume();
    const envd = new EnvdClient(slot.nsPath, GUEST_NET.guestIp);
    const guest = { alive: () => vm.running, idle: () => vm.waitIdle({ quietMs: 200, maxMs: 300 }) };
    const ready = await envd.initWhenReady(config.bootTimeoutMs, guest, held);
    phases.mark('ready');
    if (ready.connection === 'new' && ready.resumeError)
      log.warn({ err: ready.resumeError }, 'the resumed envd connection did not answer; a new one did');
    const stats = pager.stats();
    log.info(
      {
        phases: phases.done(),
        pooledVm: pooled !== undefined,
        envdConnection: ready.connection,
        faults: stats.faults,
        faultP50Us: stats.latencyP50Us,
        faultP99Us: stats.latencyP99Us,
      },
      'restore phases',
    );
    return {
      vm,
      slot,
      envd,
      pager,
      disk,
      ...(egress && { egress }),
      expectedExit: false,
      gone: goneController(),
      envdConnection: ready.connection,
      ...(cgroup && { cgroup }),
    };
  } catch (err) {
    if (pooled) await discardPooled(pooled);
    else {
      await parts.vm?.kill();
      await removeVmCgroup(parts.cgroup);
      await parts.pager?.close();
      if (parts.slot) await destroyNetworkSlot(parts.slot.netns);
    }
    await rm(req.paths.memory, { force: true });
    await rm(disk, { force: true });
    throw err;
  } finally {
    pool.restored(shape);
  }
}

/** A pooled VM takes the restore: its pager is told the snapshot, its RAM file renamed, its disk attached. */
async function usePooled(pooled: PooledVm, req: RestoreRequest, disk: string, phases: PhaseTimer) {
  const steps = await Promise.allSettled([
    createOverlay(disk, req.snapshot.diskPath, 'qcow2').then(() =>
      pooled.vm.attachDisk({ path: disk, format: 'qcow2' }),
    ),
    pooled.pager.serve({
      snapshotDir: req.snapshot.dir,
      prefetch: req.prefetch,
      recordWorkingSet: true,
      exactFaults: req.exactFaults,
    }),
    rename(pooled.memoryFile, req.paths.memory),
  ]);
  phases.mark('attach');
  for (const step of steps) if (step.status === 'rejected') throw step.reason;
  return pooled;
}

/** A QEMU of its own for the restore; what it sets up is recorded in `parts` for the caller's cleanup. */
async function launchForRestore(
  config: AgentConfig,
  slots: NetworkSlotPool,
  req: RestoreRequest,
  shape: VmShape,
  disk: string,
  phases: PhaseTimer,
  log: Logger,
  parts: Partial<PooledVm>,
): Promise<Omit<PooledVm, 'name'>> {
  // Independent setup, side by side: overlay, network namespace, pager (opens the snapshot's files).
  const [overlay, slotResult, pagerResult] = await Promise.allSettled([
    createOverlay(disk, req.snapshot.diskPath, 'qcow2'),
    slots.take(),
    mkdir(req.paths.run, { recursive: true }).then(() =>
      Pager.listen({
        socketPath: req.paths.pagerSocket,
        snapshotDir: req.snapshot.dir,
        logger: log.child({ component: 'pager' }),
        trackDirty: true,
        prefetch: req.prefetch,
        recordWorkingSet: true,
        exactFaults: req.exactFaults,
      }),
    ),
  ]);
  phases.mark('setup');
  if (pagerResult.status === 'fulfilled') parts.pager = pagerResult.value;
  if (slotResult.status === 'fulfilled') parts.slot = slotResult.value;
  for (const step of [overlay, slotResult, pagerResult]) if (step.status === 'rejected') throw step.reason;
  const { pager, slot } = parts as PooledVm;
  const place = { runDir: req.paths.run, memoryFile: req.paths.memory };
  const spec: VmSpec = {
    ...vmSpec(config, shape, place, slot, { path: disk, format: 'qcow2' }),
    incoming: true,
    uffd: { socketPath: req.paths.pagerSocket, trackDirty: true, reconnectMs: config.pagerReconnectMs },
  };
  const { vm, cgroup } = await launchVm(config, spec, log);
  parts.vm = vm;
  if (cgroup) parts.cgroup = cgroup;
  phases.mark('launch');
  await Promise.race([
    pager.attached,
    vm.exited.then(async (exit) => {
      throw new AgentError(
        'internal',
        `QEMU exited before handing its memory to the pager (code ${exit.code})\n${await vm.consoleTail()}`,
      );
    }),
  ]);
  phases.mark('handoff');
  return { vm, pager, slot, memoryFile: req.paths.memory, ...(cgroup && { cgroup }) };
}

/** Stops QEMU and frees the namespace and guest RAM. Safe to call on a VM that already died. */
export async function teardownRuntime(runtime: SandboxRuntime, paths: SandboxPaths): Promise<void> {
  runtime.expectedExit = true;
  runtime.envd.close();
  await runtime.vm.kill();
  await removeVmCgroup(runtime.cgroup);
  await runtime.pager?.close();
  await destroyNetworkSlot(runtime.slot.netns);
  await rm(paths.memory, { force: true });
  // A VM that came from the pool keeps the run directory it was launched in.
  if (runtime.vm.spec.runDir !== paths.run)
    await rm(runtime.vm.spec.runDir, { recursive: true, force: true });
}
