import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Image } from '@amber/image';
import { Vm, type VmSpec } from '@amber/vmm';
import type { Logger } from 'pino';
import type { AgentConfig } from './config.js';
import { EnvdClient } from './envd/envd-client.js';
import { AgentError } from './errors.js';
import {
  createNetworkSlot,
  destroyNetworkSlot,
  GUEST_NET,
  kernelNetArgs,
  type NetworkSlot,
} from './network/network-slot.js';
import type { SandboxPaths, SandboxRuntime } from './sandbox.js';

const execFileAsync = promisify(execFile);

/** How long a cold boot may take to reach a healthy guest agent (TCG is slow; KVM is ~10x faster). */
const BOOT_TIMEOUT_MS = 90_000;

// The boot-time trims (crypto self-tests, extra UARTs, entropy wait) took ~0.5 s off a TCG boot.
export const GUEST_CMDLINE = [
  'console=ttyS0 quiet mitigations=off tsc=reliable no_timer_check panic=-1',
  'cryptomgr.notests 8250.nr_uarts=1 random.trust_cpu=on amber.hostname=amber',
].join(' ');

export interface BootRequest {
  id: string;
  vcpus: number;
  memoryMib: number;
  image: Image;
  paths: SandboxPaths;
}

export function vmSpec(config: AgentConfig, req: BootRequest, slot: NetworkSlot): VmSpec {
  return {
    runDir: req.paths.run,
    vcpus: req.vcpus,
    memoryMib: req.memoryMib,
    kernel: req.image.kernel,
    initrd: req.image.initrd,
    cmdline: `${GUEST_CMDLINE} ${kernelNetArgs()}`,
    disk: { path: req.paths.disk, format: 'qcow2' },
    memoryFile: req.paths.memory,
    network: { netns: slot.netns, tap: slot.tap, mac: slot.mac },
    accel: config.accel,
  };
}

export async function createOverlay(
  backing: string,
  backingFormat: 'raw' | 'qcow2',
  path: string,
): Promise<void> {
  try {
    await execFileAsync('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-b',
      backing,
      '-F',
      backingFormat,
      path,
    ]);
  } catch (err) {
    throw new AgentError(
      'internal',
      `qemu-img create ${path} failed: ${(err as { stderr?: string }).stderr ?? err}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * Cold boot: overlay disk, network slot, QEMU, then wait for envd and hand it the host's time. Whatever was
 * set up is torn down again if a step fails.
 */
export async function bootSandbox(
  config: AgentConfig,
  req: BootRequest,
  log: Logger,
): Promise<SandboxRuntime> {
  await createOverlay(req.image.rootfs, 'raw', req.paths.disk);
  const slot = await createNetworkSlot(req.id);
  let vm: Vm | undefined;
  try {
    vm = await Vm.launch(vmSpec(config, req, slot), { log });
    const envd = new EnvdClient(slot.nsPath, GUEST_NET.guestIp);
    const running = vm;
    await envd
      .waitHealthy(BOOT_TIMEOUT_MS, () => running.running)
      .catch(async (err: AgentError) => {
        throw new AgentError(
          err.code,
          `${err.message}\n--- guest console (tail) ---\n${await running.consoleTail()}`,
        );
      });
    // A cold-booted guest read the host's clock through its RTC; only restores need /init's timestamp.
    return { vm, slot, envd, expectedExit: false };
  } catch (err) {
    await vm?.kill();
    await destroyNetworkSlot(slot.netns);
    await rm(req.paths.memory, { force: true });
    throw err;
  }
}

/** Stops QEMU and frees the namespace and guest RAM. Safe to call on a VM that already died. */
export async function teardownRuntime(runtime: SandboxRuntime, paths: SandboxPaths): Promise<void> {
  runtime.expectedExit = true;
  await runtime.vm.kill();
  await destroyNetworkSlot(runtime.slot.netns);
  await rm(paths.memory, { force: true });
}
