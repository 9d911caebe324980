import type { Image } from '@amber/image';
import type { DiskSpec, SavedMachine, VmSpec } from '@amber/vmm';
import type { AgentConfig } from './config.js';
import { kernelNetArgs, type NetworkSlot } from './network/network-slot.js';

// The boot-time trims (crypto self-tests, extra UARTs, entropy wait) took ~0.5 s off a TCG boot. psi=0:
// pressure accounting runs on every context switch, ~150 more translation blocks after each restore.
// nowatchdog: the soft-lockup detector wakes the stopper thread every 4 s, most of an idle guest's CPU
// (idle QEMU 0.55 -> 0.17 ms/s measured), and on an emulated CPU of a loaded host it only warns falsely.
export const GUEST_CMDLINE = [
  'console=ttyS0 quiet mitigations=off tsc=reliable no_timer_check panic=-1 psi=0 nowatchdog',
  'cryptomgr.notests 8250.nr_uarts=1 random.trust_cpu=on amber.hostname=amber',
].join(' ');

/**
 * What a VM must match to serve a snapshot: size, image, and the machine its device state was saved with
 * (a new guest's for a boot, the snapshot's own for a restore).
 */
export interface VmShape extends SavedMachine {
  vcpus: number;
  memoryMib: number;
  image: Image;
}

/** The machine a new guest gets; its snapshots then carry it (`savedMachine`). */
export function newGuestMachine(config: AgentConfig): SavedMachine {
  return { machine: config.machine, hpet: config.guestHpet };
}

export function vmSpec(
  config: AgentConfig,
  shape: VmShape,
  place: { runDir: string; memoryFile: string },
  slot: NetworkSlot,
  disk: DiskSpec,
): VmSpec {
  return {
    runDir: place.runDir,
    vcpus: shape.vcpus,
    memoryMib: shape.memoryMib,
    kernel: shape.image.kernel,
    initrd: shape.image.initrd,
    cmdline: `${GUEST_CMDLINE} ${kernelNetArgs()}`,
    disk,
    memoryFile: place.memoryFile,
    network: { netns: slot.netns, tap: slot.tap, mac: slot.mac },
    accel: config.accel,
    tcgCacheMib: config.tcgCacheMib,
    machine: shape.machine,
    ...(shape.hpet && { hpet: true }),
  };
}
