import { mkdir, rm } from 'node:fs/promises';
import type { Image } from '@amber/image';
import { Pager, type PrefetchOption } from '@amber/pager';
import { loadStateFile, Vm, type VmSpec } from '@amber/vmm';
import type { Logger } from 'pino';
import type { AgentConfig } from './config.js';
import { EnvdClient } from './envd/envd-client.js';
import { resumeHeldConnection } from './envd/resumed-connection.js';
import { AgentError } from './errors.js';
import { destroyNetworkSlot, GUEST_NET, kernelNetArgs, type NetworkSlot } from './network/network-slot.js';
import type { NetworkSlotPool } from './network/slot-pool.js';
import { PhaseTimer } from './phase-timer.js';
import type { SandboxPaths, SandboxRuntime } from './sandbox.js';
import { createOverlay } from './snapshot/disk-chain.js';
import { type CommittedSnapshot, newLiveDisk, removeLiveDisks } from './snapshot/layout.js';

const WARM_UP_ROUNDS = 3;

/** How long a cold boot may take to reach a healthy guest agent (TCG is slow; KVM is ~10x faster). */
const BOOT_TIMEOUT_MS = 90_000;

// The boot-time trims (crypto self-tests, extra UARTs, entropy wait) took ~0.5 s off a TCG boot. psi=0:
// pressure accounting runs on every context switch, ~150 more translation blocks after each restore.
export const GUEST_CMDLINE = [
  'console=ttyS0 quiet mitigations=off tsc=reliable no_timer_check panic=-1 psi=0',
  'cryptomgr.notests 8250.nr_uarts=1 random.trust_cpu=on amber.hostname=amber',
].join(' ');

export interface BootRequest {
  id: string;
  vcpus: number;
  memoryMib: number;
  image: Image;
  paths: SandboxPaths;
}

export function vmSpec(config: AgentConfig, req: BootRequest, slot: NetworkSlot, disk: string): VmSpec {
  return {
    runDir: req.paths.run,
    vcpus: req.vcpus,
    memoryMib: req.memoryMib,
    kernel: req.image.kernel,
    initrd: req.image.initrd,
    cmdline: `${GUEST_CMDLINE} ${kernelNetArgs()}`,
    disk: { path: disk, format: 'qcow2' },
    memoryFile: req.paths.memory,
    network: { netns: slot.netns, tap: slot.tap, mac: slot.mac },
    accel: config.accel,
    tcgCacheMib: config.tcgCacheMib,
  };
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
  try {
    vm = await Vm.launch(vmSpec(config, req, slot, disk), { log });
    const envd = await connectEnvd(vm, slot, BOOT_TIMEOUT_MS);
    // The guest read the host's clock from its RTC; the timestamp sets it below a second.
    await envd.init({ timestamp: Date.now() });
    // Then the calls of a capture and a restore (/sync on a held connection, /init on it), a few times: on
    // an emulated CPU, code a restored guest runs for the first time is slow. One lazy compile drags V8's
    // parser through the translator (~40 ms), and inline caches still settling ran ~2,500 more translation
    // blocks of V8's runtime in a template's first answer than in a guest resumed a few times.
    const warmUpStarted = performance.now();
    for (let i = 0; i < WARM_UP_ROUNDS; i++) {
      const held = await envd.sync();
      await envd.init({ timestamp: Date.now() }, 30_000, held.socket);
    }
    log.info({ ms: Math.round(performance.now() - warmUpStarted) }, 'restore path warmed up');
    return { vm, slot, envd, disk, expectedExit: false };
  } catch (err) {
    await vm?.kill();
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
}

/**
 * Lazy restore: a fresh overlay on the snapshot's frozen disk, QEMU with the shim on an empty RAM file,
 * the pager serving its faults from the header chain, the device state loaded, then envd told the time.
 */
export async function restoreSandbox(
  config: AgentConfig,
  slots: NetworkSlotPool,
  req: RestoreRequest,
  log: Logger,
): Promise<SandboxRuntime> {
  const phases = new PhaseTimer();
  await Promise.all([rm(req.paths.memory, { force: true }), removeLiveDisks(req.paths.snapshot)]);
  const disk = newLiveDisk(req.paths.snapshot);
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
      }),
    ),
  ]);
  phases.mark('setup');
  let vm: Vm | undefined;
  const pager = pagerResult.status === 'fulfilled' ? pagerResult.value : undefined;
  const slot = slotResult.status === 'fulfilled' ? slotResult.value : undefined;
  try {
    for (const step of [overlay, slotResult, pagerResult]) if (step.status === 'rejected') throw step.reason;
    if (!pager || !slot) throw new AgentError('internal', 'restore setup incomplete');
    const spec: VmSpec = {
      ...vmSpec(config, req, slot, disk),
      incoming: true,
      uffd: { socketPath: req.paths.pagerSocket, trackDirty: true },
    };
    vm = await Vm.launch(spec, { log });
    phases.mark('launch');
    const launched = vm;
    await Promise.race([
      pager.attached,
      launched.exited.then(async (exit) => {
        throw new AgentError(
          'internal',
          `QEMU exited before handing its memory to the pager (code ${exit.code})\n${await launched.consoleTail()}`,
        );
      }),
    ]);
    phases.mark('handoff');
    await loadStateFile(vm, req.snapshot.devicesPath, { ignoreShared: true });
    phases.mark('devices');
    // Before `cont`: what the socket sends waits in the tap until the guest runs.
    const held = await resumeHeldConnection(req.snapshot.connectionPath, slot.nsPath, log);
    await vm.resume();
    const envd = new EnvdClient(slot.nsPath, GUEST_NET.guestIp);
    const running = vm;
    const ready = await envd.initWhenReady(BOOT_TIMEOUT_MS, () => running.running, held);
    phases.mark('ready');
    if (ready.connection === 'new' && ready.resumeError)
      log.warn({ err: ready.resumeError }, 'the resumed envd connection did not answer; a new one did');
    const stats = pager.stats();
    log.info(
      {
        phases: phases.done(),
        envdConnection: ready.connection,
        faults: stats.faults,
        faultP50Us: stats.latencyP50Us,
        faultP99Us: stats.latencyP99Us,
      },
      'restore phases',
    );
    return { vm, slot, envd, pager, disk, expectedExit: false, envdConnection: ready.connection };
  } catch (err) {
    await vm?.kill();
    await pager?.close();
    if (slot) await destroyNetworkSlot(slot.netns);
    await rm(req.paths.memory, { force: true });
    await rm(disk, { force: true });
    throw err;
  }
}

/** Stops QEMU and frees the namespace and guest RAM. Safe to call on a VM that already died. */
export async function teardownRuntime(runtime: SandboxRuntime, paths: SandboxPaths): Promise<void> {
  runtime.expectedExit = true;
  await runtime.vm.kill();
  await runtime.pager?.close();
  await destroyNetworkSlot(runtime.slot.netns);
  await rm(paths.memory, { force: true });
}
